from .checks import CheckReport, Problem, check_annotations
from .layout import find_split
from .youtube_vis import (AnnotationError, BadVideosSkippedWarning,
                          YouTubeVISJsonDataset, segmentation_to_rle)

__all__ = [
    'AnnotationError', 'BadVideosSkippedWarning', 'CheckReport', 'Problem',
    'YouTubeVISJsonDataset', 'check_annotations', 'find_split',
    'segmentation_to_rle'
]
