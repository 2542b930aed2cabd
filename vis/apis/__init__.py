"""High-level use of trained models."""
from .frame_instances import FrameInstances
from .track_filter import TrackOutputFilter
from .video_predictor import VideoPredictor

__all__ = ['FrameInstances', 'TrackOutputFilter', 'VideoPredictor']
