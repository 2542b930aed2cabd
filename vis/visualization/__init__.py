from .draw import draw_instances, title_panels, track_colour
from .hook import VideoVisualizationHook

__all__ = [
    'VideoVisualizationHook', 'draw_instances', 'title_panels', 'track_colour'
]
