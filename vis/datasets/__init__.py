from .layout import find_split
from .youtube_vis import (AnnotationError, YouTubeVISJsonDataset,
                          segmentation_to_rle)

__all__ = [
    'AnnotationError', 'YouTubeVISJsonDataset', 'find_split',
    'segmentation_to_rle'
]
