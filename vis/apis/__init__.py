"""High-level use of trained models."""
from .video_predictor import FrameInstances, VideoPredictor

__all__ = ['FrameInstances', 'VideoPredictor']
