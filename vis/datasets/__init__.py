from .checks import CheckReport, Problem, check_annotations
from .class_mapped import ClassMappedYouTubeVISDataset
from .joint import JointTrackImgSampler, JointVideoDataset
from .layout import find_split
from .photometric import RandomGaussianNoise, SharedColourJitter
from .reference_warp import KeyFrameReferenceWarp
from .youtube_vis import (AnnotationError, BadVideosSkippedWarning,
                          YouTubeVISJsonDataset, segmentation_to_rle)

__all__ = [
    'AnnotationError', 'BadVideosSkippedWarning', 'CheckReport',
    'ClassMappedYouTubeVISDataset', 'JointTrackImgSampler',
    'JointVideoDataset', 'KeyFrameReferenceWarp', 'Problem',
    'RandomGaussianNoise', 'SharedColourJitter',
    'YouTubeVISJsonDataset', 'check_annotations', 'find_split',
    'segmentation_to_rle'
]
