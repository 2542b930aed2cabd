"""Data structures for predictions."""
from .rle_masks import RLEMasks, dense_masks, mask_rles

__all__ = ['RLEMasks', 'dense_masks', 'mask_rles']
