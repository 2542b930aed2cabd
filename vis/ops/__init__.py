"""Tensor ops (torchvision style: functions plus thin module wrappers)."""
from .region_patches import (band_and_blend, blend_in_band, blend_weight,
                             boundary_band, crop_patches, patch_boxes,
                             resample_grid, split_patch)
from .roi_align_native import MultiLevelRoIAlign, multilevel_roi_align
from .temporal_roi_align import (DEFAULT_MAX_CHUNK_ELEMS, TemporalAttention,
                                 TemporalRoIAlign, most_similar_roi_align,
                                 temporal_roi_align)

__all__ = [
    'DEFAULT_MAX_CHUNK_ELEMS', 'MultiLevelRoIAlign', 'TemporalAttention',
    'TemporalRoIAlign', 'band_and_blend', 'blend_in_band', 'blend_weight',
    'boundary_band', 'crop_patches', 'most_similar_roi_align',
    'multilevel_roi_align', 'patch_boxes', 'resample_grid', 'split_patch',
    'temporal_roi_align'
]
