from .draw import draw_instances, track_colour

__all__ = ['draw_instances', 'track_colour']
