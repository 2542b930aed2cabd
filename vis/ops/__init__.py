"""Tensor ops (torchvision style: functions plus thin module wrappers)."""
from .roi_align_native import MultiLevelRoIAlign, multilevel_roi_align
from .temporal_roi_align import (DEFAULT_MAX_CHUNK_ELEMS, TemporalAttention,
                                 TemporalRoIAlign, most_similar_roi_align,
                                 temporal_roi_align)

__all__ = [
    'DEFAULT_MAX_CHUNK_ELEMS', 'MultiLevelRoIAlign', 'TemporalAttention',
    'TemporalRoIAlign', 'most_similar_roi_align', 'multilevel_roi_align',
    'temporal_roi_align'
]
