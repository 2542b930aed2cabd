"""Boundary bands of masks and the boundary IoU (Cheng et al., CVPR 2021,
"Boundary IoU: Improving Object-Centric Image Segmentation Evaluation").

The boundary band of a binary mask ``M`` (H x W) is ``M`` minus its
erosion::

    d = max(1, round(dilation_ratio * sqrt(H^2 + W^2)))   (ratio 0.02)
    band = M & ~erode(pad(M, 1 zero pixel), 3x3 square, d times)[1:-1, 1:-1]

so a pixel of ``M`` is in the band iff some pixel within Chebyshev distance
``d`` is 0, pixels outside the image counting as 0 (the image border is
contour).  ``d`` times a 3x3 erosion is one (2d+1) x (2d+1) square erosion,
which is separable: two 1-D minimum filters (columns, then rows) with
zeros outside, here on the mask's bounding box only (outside it every
pixel is 0 anyway, so cropping changes nothing).

The boundary IoU of two masks of a frame is ``|band_a & band_b| /
|band_a | band_b|`` and of two tracks ``sum_f |band_d & band_g| / sum_f
|band_d | band_g|`` (the video IoU of :mod:`.video_iou` on the bands).
Bands are computed once per mask and kept as compressed RLE, the same
string as ``pycocotools.mask.encode`` of the band, so their sizes and
intersections are those of masks (native kernel or pycocotools).  They
come from the native band kernel (:mod:`vis.evaluation.band_native`, on
the masks' runs) or, without it, from the decoded masks (pycocotools,
scipy, numpy, below), the same strings either way.
:func:`boundary_tracks` turns :class:`~.rle._MaskTracks` into the
:class:`~.rle._MaskTracks` of their bands, and :class:`BoundaryIoU` is the
``'boundary'`` :class:`~.frame_iou.FrameIoU`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from .. import band_native
from ..rle_native import MalformedRLE
from .frame_iou import FrameIoU, register_frame_iou
from .rle import _MaskTracks, _measure, _same_frame_intersections

__all__ = ['DILATION_RATIO', 'BoundaryIoU', 'boundary_band',
           'boundary_dilation', 'boundary_rles', 'boundary_tracks']

#: The band width as a fraction of the image diagonal (the paper's 0.02).
DILATION_RATIO = 0.02
_CHUNK_PIXELS = 1 << 24  # decode at most this many pixels at once


def boundary_dilation(height: int, width: int,
                      dilation_ratio: float = DILATION_RATIO) -> int:
    """The band width ``d = max(1, round(ratio * sqrt(H^2 + W^2)))`` in
    pixels (Python's ``round``, as the reference code)."""
    diagonal = math.sqrt(height * height + width * width)
    return max(1, int(round(dilation_ratio * diagonal)))


def _erode(mask: np.ndarray, d: int) -> np.ndarray:
    """(h, w) uint8 erosion by a (2d+1) x (2d+1) square, zeros outside."""
    from scipy.ndimage import minimum_filter1d  # only here: import time
    size = 2 * d + 1
    vertical = minimum_filter1d(mask, size, axis=0, mode='constant', cval=0)
    return minimum_filter1d(vertical, size, axis=1, mode='constant', cval=0)


def boundary_band(mask: np.ndarray,
                  dilation_ratio: float = DILATION_RATIO) -> np.ndarray:
    """The boundary band of one binary mask (module docstring).

    Args:
        mask: (H, W) bool or integer (non-zero = inside) mask; ``d`` comes
            from its H and W (the frame's diagonal).
        dilation_ratio: band width as a fraction of the diagonal.

    Returns:
        (H, W) bool band.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'a mask must be (H, W), got shape {mask.shape}')
    mask = (mask != 0).view(np.uint8)
    d = boundary_dilation(*mask.shape, dilation_ratio)
    return (mask & (1 - _erode(mask, d))).astype(bool)


def _band_counts(band: np.ndarray, x0: int, y0: int, height: int,
                 width: int) -> List[int]:
    """Uncompressed RLE counts (column-major, as pycocotools) of an
    ``height`` x ``width`` mask that is 0 outside the (h, w) crop ``band``
    at column ``x0``, row ``y0``."""
    h, w = band.shape
    columns = np.zeros((w, h + 2), dtype=np.int8)  # image columns, padded
    columns[:, 1:-1] = band.T
    col, row = np.nonzero(np.diff(columns, axis=1))  # (E,) starts and ends
    edges = (x0 + col) * height + (y0 + row)  # sorted pixel indices
    # A run ending at the foot of a column that goes on at the top of the
    # next one: the end and the start coincide and cancel.
    same = np.flatnonzero(edges[1:] == edges[:-1])
    if same.size:
        edges = np.delete(edges, np.concatenate([same, same + 1]))
    counts = np.diff(edges, prepend=0, append=height * width)
    if counts.size > 1 and counts[-1] == 0:  # the band ends the image
        counts = counts[:-1]
    return counts.tolist()


def _counts_total(counts) -> int:
    """Pixels a compressed RLE counts string describes (the sum of its
    runs), -1 if it is not well-formed (bad character, truncated, or a
    run outside [0, 2^32)).  Each run is 5-bit groups, least significant
    first, in characters ``'0' + group``, bit 0x20 meaning "more", bit 0x10
    of the last group the sign; runs after the third are deltas to the run
    two before."""
    if isinstance(counts, str):
        try:
            counts = counts.encode('ascii')
        except UnicodeEncodeError:
            return -1
    runs: List[int] = []
    value = shift = 0
    for char in counts:
        group = char - 48
        if not 0 <= group < 64:
            return -1
        value |= (group & 0x1f) << shift
        shift += 5
        if group & 0x20:
            continue
        if group & 0x10:
            value -= 1 << shift
        if len(runs) > 2:
            value += runs[-2]
        if not 0 <= value < 1 << 32:  # pycocotools keeps uint32 runs
            return -1
        runs.append(value)
        value = shift = 0
    return -1 if shift else sum(runs)


class _BadCounts(ValueError):
    """Counts of mask ``index`` that are malformed (``total`` -1) or
    describe ``total`` pixels instead of ``pixels``."""

    def __init__(self, index: int, total: int, pixels: int):
        self.index, self.total, self.pixels = index, total, pixels
        super().__init__(f'mask {index} has {self.described()}, its frame '
                         f'has {pixels}')

    def described(self) -> str:
        if self.total < 0:
            return 'malformed compressed RLE counts'
        return f'compressed RLE counts for {self.total} pixels'


def _numpy_bands(counts: Sequence, height: int, width: int,
                 d: int) -> List[bytes]:
    """:func:`boundary_rles` of masks of one size with pycocotools (decode,
    bounding boxes), scipy (erosion of each box) and numpy.  Raises
    :class:`_BadCounts` (index into ``counts``) first: pycocotools' decoder
    trusts the counts."""
    for k, c in enumerate(counts):
        total = _counts_total(c)
        if total != height * width:
            raise _BadCounts(k, total, height * width)
    out: List[bytes] = []
    chunk = max(1, _CHUNK_PIXELS // max(1, height * width))
    for start in range(0, len(counts), chunk):
        group = [{'size': [height, width], 'counts': c}
                 for c in counts[start:start + chunk]]
        boxes = mask_utils.toBbox(group).astype(np.int64).tolist()
        masks = mask_utils.decode(group)  # (H, W, N) uint8
        bands = []
        for k, (x0, y0, w, h) in enumerate(boxes):
            if w == 0 or h == 0:
                bands.append({'size': [height, width],
                              'counts': [height * width]})
                continue
            crop = masks[y0:y0 + h, x0:x0 + w, k]
            band = crop & (1 - _erode(crop, d))
            bands.append({'size': [height, width], 'counts':
                          _band_counts(band, x0, y0, height, width)})
        out += [rle['counts']
                for rle in mask_utils.frPyObjects(bands, height, width)]
    return out


def boundary_rles(rles: Sequence[dict],
                  dilation_ratio: float = DILATION_RATIO,
                  native: Optional[bool] = None) -> List[bytes]:
    """Compressed RLE counts of the boundary bands of M masks.

    Args:
        rles: compressed RLE dicts (``size`` [H, W], ``counts`` str or
            bytes).
        dilation_ratio: band width as a fraction of each frame's diagonal.
        native: use the native kernel (:mod:`vis.evaluation.band_native`)
            when it is available (None, True) or never (False).

    Returns:
        M counts (bytes), each that of ``pycocotools.mask.encode`` of the
        band.

    Raises:
        ValueError: counts that are not well-formed compressed RLE of
            H * W pixels (naming the mask's index).
    """
    out: List[Optional[bytes]] = [None] * len(rles)
    by_size = defaultdict(list)
    for i, rle in enumerate(rles):
        by_size[tuple(rle['size'])].append(i)
    kernel = band_native.load() if native is not False else None
    for size, indices in by_size.items():
        height, width = (int(s) for s in size)
        d = boundary_dilation(height, width, dilation_ratio)
        counts = [rles[i]['counts'] for i in indices]
        try:
            bands = None
            if kernel is not None:
                try:
                    bands = kernel.bands(counts, height, width, d)
                except MalformedRLE as error:  # which one, and why
                    raise _BadCounts(error.index,
                                     _counts_total(counts[error.index]),
                                     height * width) from None
                except UnicodeEncodeError:
                    pass  # non-ASCII str: numpy says which
            if bands is None:
                bands = _numpy_bands(counts, height, width, d)
        except _BadCounts as error:
            raise _BadCounts(indices[error.index], error.total,
                             error.pixels) from None
        for i, band in zip(indices, bands):
            out[i] = band
    return out


def boundary_tracks(masks: _MaskTracks,
                    dilation_ratio: float = DILATION_RATIO,
                    tracks: Optional[np.ndarray] = None) -> _MaskTracks:
    """The boundary bands of mask tracks, as mask tracks.

    Args:
        masks: T tracks whose ``rles`` (the masks' RLE dicts, for their
            frame sizes) are set.
        dilation_ratio: band width as a fraction of the frame diagonal.
        tracks: (T',) int64 increasing indices of the tracks to take (all
            by default).

    Returns:
        T' tracks of the same frames and lengths whose masks are the bands
        (compressed RLE, areas measured, packed for the native kernel).

    Raises:
        ValueError: ``masks`` have no ``rles``; a mask whose counts are
            malformed or describe another number of pixels than its frame
            has (as mask AP says it; the track named with
            ``masks.cache['describe'](track)`` when set).
    """
    if masks.rles is None:
        raise ValueError('boundary bands need the masks\' RLE dicts '
                         '(_MaskTracks.rles) for their frame sizes')
    ends = np.cumsum(masks.per_track)  # (T,)
    if tracks is None:
        tracks = np.arange(masks.per_track.size)
    tracks = np.asarray(tracks, dtype=np.int64)
    per_track = masks.per_track[tracks]  # (T',)
    select = (np.arange(int(per_track.sum())) -
              np.repeat(np.cumsum(per_track) - per_track, per_track) +
              np.repeat(ends[tracks] - per_track, per_track))  # (M',)
    rles = [masks.rles[i] for i in select.tolist()]
    try:
        counts = boundary_rles(rles, dilation_ratio)
    except _BadCounts as error:
        i = int(select[error.index])
        track = int(np.searchsorted(ends, i, 'right'))
        describe = masks.cache.get('describe')
        what = f'{describe(track)}: a mask' if describe else 'a mask'
        raise ValueError(f'{what} of frame {int(masks.frames[i])} has '
                         f'{error.described()}, its video has '
                         f'{error.pixels}') from None
    band_rles = [{'size': r['size'], 'counts': c}
                 for r, c in zip(rles, counts)]
    areas, packed = _measure(counts, band_rles)
    return _MaskTracks(counts, masks.frames[select], areas, per_track,
                       masks.length[tracks], packed, rles=band_rles)


@register_frame_iou('boundary')
class BoundaryIoU(FrameIoU):
    """Boundary IoU: sizes and intersections are pixel counts of the masks'
    boundary bands (computed once per mask set, kept in its ``cache``).

    Args:
        dilation_ratio: band width as a fraction of the frame diagonal.
    """

    def __init__(self, dilation_ratio: float = DILATION_RATIO):
        self.dilation_ratio = float(dilation_ratio)

    def bands(self, masks: _MaskTracks) -> _MaskTracks:
        """The bands of all of ``masks``' tracks (:func:`boundary_tracks`),
        cached in ``masks.cache``."""
        key = (self.name, self.dilation_ratio)
        if key not in masks.cache:
            masks.cache[key] = boundary_tracks(masks, self.dilation_ratio)
        return masks.cache[key]

    def sizes(self, masks: _MaskTracks) -> np.ndarray:
        return self.bands(masks).areas

    def intersections(self, dets, gts, pf_det, pf_gt, pf_block,
                      block_sizes: Sequence[Tuple[int, int]]) -> np.ndarray:
        return _same_frame_intersections(self.bands(dets), self.bands(gts),
                                         pf_det, pf_gt, pf_block, block_sizes)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(name={self.name!r}, '
                f'dilation_ratio={self.dilation_ratio})')
