"""Compressed-RLE masks as the evaluator reads them: conversion, the
per-track layout (:class:`_MaskTracks`), areas and same-frame intersections.

Everything is an exact integer pixel count, computed by the native kernel
(``rle_kernel.c``, see :mod:`vis.evaluation.rle_native`) when it is
available, otherwise by pycocotools (``area`` and ``iou``;
``VIS_RLE_NATIVE=0`` forces this).  Both give the same integers.  Strings
the kernel cannot parse (not well-formed compressed RLE) are left to
pycocotools, which gives its own numbers for them.

Native kernel: the counts strings of each mask set are joined into one
buffer and measured in one call (areas, pixels described and where each
string starts); one more call intersects all same-frame pairs, grouped by
ground-truth mask (whose runs of 1s are decoded once), reading each
detection mask's runs against them.  pycocotools: one
``pycocotools.mask.iou`` call per (video, category) with the masks' sizes
given as ``[height, width + frame]``: pycocotools intersects only masks of
equal size (others get -1 right after the bounding-box test), so only
same-frame pairs are merged, and the width does not enter the bounding
boxes.  Ground truths are passed as crowds, which makes each value
``|d & g| / |d|``; multiplied by the known ``|d|`` and rounded it is the
exact integer (the float64 error is far below half a pixel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from .. import rle_native

_AREA_CHUNK = 255  # masks per pycocotools.mask.area() call
_COUNTS_TYPES = {str, bytes}


def _rle_areas(rles: Sequence[dict]) -> np.ndarray:
    """(N,) int64 pixel counts of N compressed RLE dicts (only ``counts``
    is read).

    pycocotools' ``area()`` breaks on > 255 masks under numpy 2 (it builds a
    uint8 array holding the count), hence the chunks.  Raises TypeError if a
    ``counts`` is neither str nor bytes.
    """
    if not rles:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([
        mask_utils.area(rles[i:i + _AREA_CHUNK])
        for i in range(0, len(rles), _AREA_CHUNK)
    ]).astype(np.int64)


def _measure(counts: list, rles: Sequence[dict]
             ) -> Tuple[np.ndarray, Optional[rle_native.PackedMasks]]:
    """Areas of M masks, with the native kernel when there is one.

    Args:
        counts: their compressed RLE counts; rles: the same masks as dicts
            with ``size`` and ``counts`` (for pycocotools).

    Returns:
        areas: (M,) int64; packed: the masks packed for
        :func:`_same_frame_intersections`, None without the kernel (or for
        strings the kernel cannot parse, left to pycocotools).

    Raises:
        TypeError: a counts that is neither str nor bytes.
    """
    kernel = rle_native.load()
    if kernel is not None:
        try:
            packed = kernel.measure(counts)
            return packed.areas, packed
        except (UnicodeEncodeError, rle_native.MalformedRLE):
            pass
    return _rle_areas(rles), None


def _present_frames(tracks: Sequence[Sequence]
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where T per-frame mask lists have a (truthy) mask.

    Returns:
        frames: (M,) int64 frame index of each present mask, track after
        track; per_track: (T,) int64 present masks per track; length: (T,)
        int64 list lengths.
    """
    length = np.fromiter(map(len, tracks), dtype=np.int64,
                         count=len(tracks))  # (T,)
    ends = np.cumsum(length)
    present = np.fromiter(map(bool, chain.from_iterable(tracks)),
                          dtype=bool, count=int(ends[-1]) if ends.size
                          else 0)  # (L,)
    starts = ends - length
    frame = np.arange(present.size) - np.repeat(starts, length)  # (L,)
    present_cum = np.concatenate([[0], np.cumsum(present)])  # (L + 1,)
    return (frame[present], present_cum[ends] - present_cum[starts],
            length)


def _dict_areas(rles: Sequence[dict]) -> np.ndarray:
    """(M,) int64 areas of compressed RLE dicts, from their ``counts``.

    Raises:
        TypeError, KeyError: an item is not such a dict.
    """
    return _measure(list(map(itemgetter('counts'), rles)), rles)[0]


def _to_rle_bytes(segm, height: int, width: int, where: str):
    """One frame's mask -> compressed RLE counts bytes (None if absent).

    Polygons (list of lists) are merged into one mask and uncompressed RLE
    (``counts`` is a list) is compressed, both with the video's height and
    width, exactly as the official ``annToRLE``.
    """
    if not segm:
        return None
    if isinstance(segm, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
    elif isinstance(segm, dict) and 'counts' in segm:
        if isinstance(segm['counts'], list):
            rle = mask_utils.frPyObjects(segm, height, width)
        else:
            rle = segm
            size = [int(s) for s in rle.get('size', (height, width))]
            if size != [height, width]:
                raise ValueError(
                    f'{where}: RLE size {size} does not match the video size '
                    f'[{height}, {width}]')
    else:
        raise ValueError(f'{where}: unsupported mask format {type(segm)}')
    counts = rle['counts']
    return counts.encode('ascii') if isinstance(counts, str) else counts


def _present_masks(segms: Sequence, height: int, width: int, where: str):
    """The present (truthy) masks of one track, as compressed RLE.

    Compressed RLE dicts of the video's size are used as they are; anything
    else goes through :func:`_to_rle_bytes` (which raises ValueError for bad
    masks).

    Returns:
        frames: their frame indices; counts: their compressed RLE counts
        (str or bytes); rles: dicts with ``size`` and ``counts``.
    """
    frames = [f for f, segm in enumerate(segms) if segm]
    rles = [segms[f] for f in frames]
    size = [height, width]
    try:
        if list(map(itemgetter('size'), rles)) == [size] * len(rles):
            counts = list(map(itemgetter('counts'), rles))
            if set(map(type, counts)) <= _COUNTS_TYPES:
                return frames, counts, rles
    except (TypeError, KeyError, ValueError):
        pass
    counts = [_to_rle_bytes(segms[f], height, width, where) for f in frames]
    return frames, counts, [{'size': size, 'counts': c} for c in counts]


@dataclass
class _MaskTracks:
    """Mask tracks as their present masks, track after track.

    counts: M compressed RLE counts; frames: (M,) int64 frame of each mask;
    areas: (M,) int64 pixel counts; per_track: (T,) int64 number of masks of
    each track; length: (T,) int64 length of each frame list (present or
    not); packed: the counts packed for the native kernel (None without it);
    cache: free for a :class:`~.frame_iou.FrameIoU` to keep what it derives
    from these masks (under its name); rles: the M masks as RLE dicts
    (``size`` and ``counts``; None where not kept), for what needs their
    frame sizes or pixels (boundary bands).
    """
    counts: list
    frames: np.ndarray
    areas: np.ndarray
    per_track: np.ndarray
    length: np.ndarray
    packed: Optional[rle_native.PackedMasks] = None
    cache: dict = field(default_factory=dict)
    rles: Optional[list] = None

    def tables(self, num_frames: int,
               sizes: Optional[np.ndarray] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Per track and frame: mask index and size.

        Args:
            num_frames: F, at least every track's length.
            sizes: (M,) int64 a size per mask (default: the areas).

        Returns:
            pos: (T, F) int64 mask index, -1 where absent; sizes: (T, F)
            int64, 0 where absent.
        """
        num_tracks = self.per_track.size
        owner = np.repeat(np.arange(num_tracks), self.per_track)  # (M,)
        pos = np.full((num_tracks, num_frames), -1, dtype=np.int64)
        pos[owner, self.frames] = np.arange(self.frames.size)
        table = np.zeros((num_tracks, num_frames), dtype=np.int64)
        table[owner, self.frames] = self.areas if sizes is None else sizes
        return pos, table


def _mean_nonzero_segments(areas: np.ndarray,
                           lengths: np.ndarray) -> np.ndarray:
    """Mean of the non-zero entries of consecutive segments of ``areas``.

    Same value as ``np.array([a for a in seg if a]).mean()`` (0 if none):
    the sums are exact integers, then one float64 division.

    Args:
        areas: (M,) int64; lengths: (T,) segment lengths summing to M.

    Returns:
        (T,) float64.
    """
    ends = np.cumsum(lengths)  # (T,)
    starts = ends - lengths
    area_cum = np.concatenate([[0], np.cumsum(areas)])  # (M + 1,)
    nonzero_cum = np.concatenate([[0], np.cumsum(areas != 0)])
    totals = area_cum[ends] - area_cum[starts]  # (T,)
    nonzero = nonzero_cum[ends] - nonzero_cum[starts]
    return np.where(nonzero > 0, totals / np.maximum(nonzero, 1), 0.0)


def _same_frame_intersections(dets: _MaskTracks, gts: _MaskTracks,
                              pf_det: np.ndarray, pf_gt: np.ndarray,
                              pf_block: np.ndarray,
                              block_sizes: Sequence[Tuple[int, int]]
                              ) -> np.ndarray:
    """Exact pixel intersections of P (detection mask, gt mask) pairs.

    With the native kernel (both mask sets packed) in one call, otherwise
    with pycocotools (:func:`_coco_intersections`).

    Args:
        dets, gts: the masks.
        pf_det, pf_gt: (P,) int64 mask indices of the pairs; both masks of a
            pair show the same frame.
        pf_block: (P,) int64 block (a (video, category) pair) of each pair.
        block_sizes: (height, width) of each block's frames.

    Returns:
        (P,) int64 intersections.

    Raises:
        ValueError: (native kernel only) a mask whose runs do not add up to
            its frame's height * width (pycocotools would loop forever).
    """
    if pf_det.size == 0:
        return np.zeros(0, dtype=np.int64)
    kernel = rle_native.load()
    if kernel is None or dets.packed is None or gts.packed is None:
        return _coco_intersections(dets, gts, pf_det, pf_gt, pf_block,
                                   block_sizes)
    pixels = np.array([h * w for h, w in block_sizes],
                      dtype=np.int64)[pf_block]  # (P,)
    for name, masks, index in (('result', dets, pf_det),
                               ('ground-truth', gts, pf_gt)):
        wrong = np.flatnonzero(masks.packed.totals[index] != pixels)
        if wrong.size:
            k = int(wrong[0])
            raise ValueError(
                f'a {name} mask of frame {int(masks.frames[index[k]])} has '
                f'compressed RLE counts for '
                f'{int(masks.packed.totals[index[k]])} pixels, its video has '
                f'{int(pixels[k])}')
    order = np.argsort(pf_gt, kind='stable')  # (P,) each gt mask once
    out = np.empty(pf_det.size, dtype=np.int64)
    out[order] = kernel.intersect(dets.packed, pf_det[order], gts.packed,
                                  pf_gt[order])
    return out


def _coco_intersections(dets: _MaskTracks, gts: _MaskTracks,
                        pf_det: np.ndarray, pf_gt: np.ndarray,
                        pf_block: np.ndarray,
                        block_sizes: Sequence[Tuple[int, int]]
                        ) -> np.ndarray:
    """:func:`_same_frame_intersections` with pycocotools.

    The masks of a block that take part in some pair go into one
    ``pycocotools.mask.iou`` call, with the sizes lied about as explained
    in the module docstring.
    """
    order = np.argsort(pf_block, kind='stable')  # (P,)
    block = pf_block[order]
    # The masks taking part, numbered block by block.
    num_det_masks, num_gt_masks = len(dets.counts), len(gts.counts)
    d_keys, rows = np.unique(block * num_det_masks + pf_det[order],
                             return_inverse=True)
    g_keys, cols = np.unique(block * num_gt_masks + pf_gt[order],
                             return_inverse=True)
    d_block, d_mask = np.divmod(d_keys, num_det_masks)  # (Md',)
    g_block, g_mask = np.divmod(g_keys, num_gt_masks)  # (Mg',)
    # Lied sizes: size s of frame f is lied[s * F + f] = [h, w + f].
    num_frames = int(max(dets.frames.max(), gts.frames.max())) + 1
    sizes = sorted(set(block_sizes))
    size_id = {size: k for k, size in enumerate(sizes)}
    lied = [[h, w + f] for h, w in sizes for f in range(num_frames)]
    block_base = np.array([size_id[size] * num_frames for size in block_sizes],
                          dtype=np.int64)  # (B,)
    dts = [{'size': lied[k], 'counts': dets.counts[i]} for k, i in zip(
        (block_base[d_block] + dets.frames[d_mask]).tolist(),
        d_mask.tolist())]
    gts_ = [{'size': lied[k], 'counts': gts.counts[i]} for k, i in zip(
        (block_base[g_block] + gts.frames[g_mask]).tolist(),
        g_mask.tolist())]
    crowd = np.ones(len(gts_), dtype=np.uint8)
    blocks = np.unique(block)
    bounds = np.stack([
        np.searchsorted(d_block, blocks, 'left'),
        np.searchsorted(d_block, blocks, 'right'),
        np.searchsorted(g_block, blocks, 'left'),
        np.searchsorted(g_block, blocks, 'right'),
        np.searchsorted(block, blocks, 'left'),
        np.searchsorted(block, blocks, 'right'),
    ], 1).tolist()
    rows, cols = rows.ravel(), cols.ravel()
    ratio = np.empty(pf_det.size)  # (P,) |d & g| / |d|, in block order
    for d0, d1, g0, g1, p0, p1 in bounds:
        values = mask_utils.iou(dts[d0:d1], gts_[g0:g1], crowd[:g1 - g0])
        ratio[p0:p1] = values[rows[p0:p1] - d0, cols[p0:p1] - g0]
    out = np.empty(pf_det.size, dtype=np.int64)
    out[order] = np.rint(ratio * dets.areas[d_mask[rows]])
    return out
