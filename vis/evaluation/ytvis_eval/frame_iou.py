"""Per-frame IoU of two masks of the same frame, pluggable by name.

The video IoU (:mod:`.video_iou`), and through it the AP matching, and the
tracking metrics' per-frame similarities (:mod:`vis.evaluation.tracking`)
compare masks only through a :class:`FrameIoU`: the size of every mask and
the intersection of same-frame pairs, as integers, with

    IoU(a, b) = |a & b| / (|a| + |b| - |a & b|)   (0 where the union is 0)

per frame, and ``sum_f |a_f & b_f| / sum_f |a_f | b_f|`` per video.

``mask`` (:class:`MaskIoU`, pixels of the masks) and ``boundary``
(:class:`~.boundary.BoundaryIoU`, pixels of the masks' boundary bands, in
its own module) are registered.  Another one is one new module that
subclasses :class:`FrameIoU`, decorates it with
``@register_frame_iou(name)`` and is imported by this package's
``__init__``; evaluators then take ``frame_iou=name``.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple, Type, Union

import numpy as np

from .rle import _MaskTracks, _same_frame_intersections

__all__ = ['FRAME_IOUS', 'FrameIoU', 'MaskIoU', 'get_frame_iou',
           'register_frame_iou']

#: name -> FrameIoU class, filled by :func:`register_frame_iou`.
FRAME_IOUS: Dict[str, Type['FrameIoU']] = {}


def register_frame_iou(name: str):
    """Class decorator: register a :class:`FrameIoU` subclass as ``name``."""
    def register(cls):
        if name in FRAME_IOUS:
            raise ValueError(f'frame IoU {name!r} is already registered '
                             f'({FRAME_IOUS[name].__name__})')
        cls.name = name
        FRAME_IOUS[name] = cls
        return cls
    return register


def get_frame_iou(frame_iou: Union[str, 'FrameIoU'] = 'mask') -> 'FrameIoU':
    """A :class:`FrameIoU` instance from its registered name (or itself)."""
    if isinstance(frame_iou, FrameIoU):
        return frame_iou
    if frame_iou not in FRAME_IOUS:
        raise ValueError(f'unknown frame IoU {frame_iou!r}; known: '
                         f'{sorted(FRAME_IOUS)}')
    return FRAME_IOUS[frame_iou]()


class FrameIoU:
    """How two masks of one frame are compared, in integer counts.

    Subclasses implement :meth:`sizes` and :meth:`intersections`; both must
    be exact integers so that IoUs do not depend on the order of sums, and
    ``intersection <= min(size_a, size_b)`` must hold (the evaluator skips
    pairs that this bound proves below its lowest threshold).
    """
    name = ''

    def sizes(self, masks: _MaskTracks) -> np.ndarray:
        """(M,) int64 size ``|m|`` of each of the M masks."""
        raise NotImplementedError

    def intersections(self, dets: _MaskTracks, gts: _MaskTracks,
                      pf_det: np.ndarray, pf_gt: np.ndarray,
                      pf_block: np.ndarray,
                      block_sizes: Sequence[Tuple[int, int]]) -> np.ndarray:
        """Intersections ``|d & g|`` of P same-frame pairs of masks.

        Args:
            dets, gts: two mask sets.
            pf_det, pf_gt: (P,) int64 mask indices into them; both masks of
                a pair show the same frame.
            pf_block: (P,) int64 block of each pair, an index into
                ``block_sizes``.
            block_sizes: (height, width) of each block's frames.

        Returns:
            (P,) int64.
        """
        raise NotImplementedError

    def ious(self, dets: _MaskTracks, gts: _MaskTracks, pf_det: np.ndarray,
             pf_gt: np.ndarray, pf_block: np.ndarray,
             block_sizes: Sequence[Tuple[int, int]]) -> np.ndarray:
        """(P,) float64 per-frame IoUs of P same-frame pairs (arguments as
        :meth:`intersections`), 0 where the union is 0."""
        inter = self.intersections(dets, gts, pf_det, pf_gt, pf_block,
                                   block_sizes)  # (P,)
        return _ratio(inter, self.sizes(dets)[pf_det] +
                      self.sizes(gts)[pf_gt] - inter)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(name={self.name!r})'


def _ratio(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    """inter / union as float64, 0 where the union is 0 (same shapes)."""
    ious = np.zeros(inter.shape, dtype=np.float64)
    positive = union > 0
    ious[positive] = inter[positive] / union[positive]
    return ious


@register_frame_iou('mask')
class MaskIoU(FrameIoU):
    """Mask IoU: sizes are mask areas, intersections the pixels both masks
    cover (native RLE kernel, or pycocotools without it)."""

    def sizes(self, masks: _MaskTracks) -> np.ndarray:
        return masks.areas

    def intersections(self, dets, gts, pf_det, pf_gt, pf_block,
                      block_sizes) -> np.ndarray:
        return _same_frame_intersections(dets, gts, pf_det, pf_gt, pf_block,
                                         block_sizes)
