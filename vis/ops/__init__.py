"""Tensor ops (torchvision style: functions plus thin module wrappers)."""
from .temporal_roi_align import (DEFAULT_MAX_CHUNK_ELEMS, TemporalAttention,
                                 TemporalRoIAlign, most_similar_roi_align,
                                 temporal_roi_align)

__all__ = [
    'DEFAULT_MAX_CHUNK_ELEMS', 'TemporalAttention', 'TemporalRoIAlign',
    'most_similar_roi_align', 'temporal_roi_align'
]
