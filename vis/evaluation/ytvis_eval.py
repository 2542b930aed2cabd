"""Exact YouTube-VIS evaluation (video AP / AR), written from scratch.

This module reproduces the numbers of the official YouTube-VIS evaluation API
(``youtubevos/cocoapi``: ``YTVOS`` + ``YTVOSeval``, also shipped by MMDetection
3.x as ``YTVIS`` / ``YTVISeval``) without depending on it, and without its
``np.float`` usage that breaks with numpy >= 1.24.

Definitions reproduced exactly
------------------------------
* A *track* (ground truth annotation or detection) is a list with one entry
  per video frame: a mask (polygons, uncompressed RLE or compressed RLE) or a
  falsy value (``None``) when the object is absent from that frame.
* Video IoU of a detection ``d`` and a ground truth ``g``::

      sum_f |d_f & g_f| / sum_f |d_f | g_f|

  over the frames ``f`` present in both lists (a frame where only one of the
  two is present adds that one's area to the union); 0 when the union is 0.
  Intersections and unions are integer pixel counts, so the ratio is the same
  float64 as the official one.
* Ground truth average area = mean of the truthy entries of ``ann['areas']``
  (0 if none); detection average area = mean of its non-zero frame areas.
  ``iscrowd`` ground truths are ignored (and can be matched repeatedly).
* Per (video, category): detections are stably sorted by descending score and
  truncated to ``max(max_dets)``; greedy COCO matching at the 10 IoU
  thresholds ``linspace(.5, .95, 10)`` for each of the 4 area ranges (all
  ``[0, 1e10]``, small ``[0, 128^2]``, medium ``[128^2, 256^2]``, large
  ``[256^2, 1e10]``, bounds inclusive); then the COCO accumulation (101
  recall thresholds, interpolated precision) and the 12-number summary, with
  -1 for settings without any non-ignored ground truth.
* Results whose category is not among ``gt['categories']`` are dropped, and
  so are annotations of unlisted videos or categories.

Quirks of the official code that are kept on purpose (so numbers agree):

* A detection matched to a ground truth whose annotation ``id`` is 0 counts as
  unmatched (the official code stores the matched gt id and tests it for
  truthiness).  A warning is emitted when the ground truth has such an id.
* ``AP`` (the first statistic) is read at ``maxDets == 100`` literally, so with
  custom ``max_dets`` that do not contain 100 it is -1, as in the official
  ``summarize()``.  The other statistics use ``sorted(max_dets)[0..2]``.
* If a result's mask list and a ground truth's mask list have different
  lengths, only their common leading frames are compared (``zip``).

Deliberate differences (where the official code crashes or misbehaves):

* An empty result list gives 0 for every statistic that has ground truth
  (-1 for the others) instead of crashing.
* Results naming a video that is not in the ground truth raise ``ValueError``
  (the official code fails an ``assert``).  A compressed RLE whose ``size``
  differs from its video's size raises ``ValueError`` when the mask is to be
  intersected with a ground truth of its (video, category) (the official
  merge silently yields an empty mask); a detection that is compared with no
  ground truth only needs its area, which, as officially, comes from its
  ``counts`` alone.
* Result masks may also be polygons or uncompressed RLE (converted like
  ground truth ones); the official code needs compressed RLE there.
* A ground truth without ``areas`` gets them from its masks (official:
  ``KeyError``); a missing ``iscrowd`` means 0.
* ``iou_type='bbox'`` (broken in the official code) uses the same video IoU
  on boxes ``[x, y, w, h]``; detection areas are box areas ``w * h``, ground
  truth areas come from ``ann['areas']`` (or from the boxes if missing).

Like the official code, the ``counts`` of a compressed RLE are trusted to
describe ``height * width`` pixels when only its area is needed.  A mask
that is intersected with a ground truth and whose runs add up to another
number raises ``ValueError`` with the native kernel; without it (pycocotools
alone) the merge loops forever, as officially (only ``size`` is checked).

Implementation notes
--------------------
Everything is computed for all videos and categories at once with numpy;
per-mask work is done in C, by the native kernel when it is available
(``rle_kernel.c``, see :mod:`vis.evaluation.rle_native`), otherwise by
pycocotools (``area`` and ``iou``; ``VIS_RLE_NATIVE=0`` forces this).  Both
give the same integers, hence the same numbers.  The time goes into reading
RLE strings, so the work is organised to read as few as possible:

* Detections that share a (video, category) with ground truths get their
  per-frame areas, and so do those ground truths.  A pair whose IoU cannot
  reach the lowest threshold even if every intersection were
  ``min(|d_f|, |g_f|)`` is not intersected and gets IoU 0 (its IoU only
  enters comparisons with the thresholds).
* The other pairs' same-frame intersections are exact integer pixel counts.
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
* Strings the kernel cannot parse (not well-formed compressed RLE) are left
  to pycocotools, which gives its own numbers for them.
* Detections compared with no ground truth are never matched; their area
  only decides whether they are false positives or ignored in the small /
  medium / large ranges, which matters only if they rank before the last
  true positive of their category (see ``_ranked_before_last_tp``), so only
  those are measured.
* Matching runs the greedy COCO loop for all (video, category) pairs, area
  ranges and IoU thresholds at once, one detection rank at a time.
  Accumulation works on the true-positive events of each (category, area,
  max_dets, threshold) list: the interpolated precision at a recall level is
  the largest precision at this or a later true positive.
* The cyclic garbage collector is paused while evaluating (restored after).
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections import defaultdict
from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from . import rle_native

__all__ = [
    'STAT_NAMES',
    'YTVISEvaluator',
    'evaluate_ytvis',
    'format_stats_table',
]

STAT_NAMES = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10',
              'AR100', 'ARs', 'ARm', 'ARl')

#: (label, (min_area, max_area)) of the four area ranges, bounds inclusive.
AREA_RANGES = (
    ('all', (0.0, 1e10)),
    ('small', (0.0, 128.0**2)),
    ('medium', (128.0**2, 256.0**2)),
    ('large', (256.0**2, 1e10)),
)
AREA_LABELS = tuple(label for label, _ in AREA_RANGES)

#: The 10 IoU thresholds .50:.05:.95 (bit-identical to the official ones).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
#: The 101 recall thresholds 0:.01:1.
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)

_IOU_TYPES = ('segm', 'bbox')
_AREA_CHUNK = 255  # masks per pycocotools.mask.area() call
_COUNTS_TYPES = {str, bytes}


@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector (restored afterwards).

    Evaluation allocates hundreds of thousands of short-lived dicts and
    lists (a few per mask) but no reference cycles; with large result lists
    alive, the collector's repeated passes would cost more than the rest.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# ---------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------
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
    not); packed: the counts packed for the native kernel (None without it).
    """
    counts: list
    frames: np.ndarray
    areas: np.ndarray
    per_track: np.ndarray
    length: np.ndarray
    packed: Optional[rle_native.PackedMasks] = None

    def tables(self, num_frames: int):
        """(T, F) int64 mask index (-1 where absent) and area (0 where
        absent) of each track and frame."""
        num_tracks = self.per_track.size
        owner = np.repeat(np.arange(num_tracks), self.per_track)  # (M,)
        pos = np.full((num_tracks, num_frames), -1, dtype=np.int64)
        pos[owner, self.frames] = np.arange(self.frames.size)
        areas = np.zeros((num_tracks, num_frames), dtype=np.int64)
        areas[owner, self.frames] = self.areas
        return pos, areas


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
    in the module notes.
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


def _pair_mask_ious(dets: _MaskTracks, gts: _MaskTracks,
                    pair_det: np.ndarray, pair_gt: np.ndarray,
                    pair_block: np.ndarray,
                    block_sizes: Sequence[Tuple[int, int]],
                    lowest: Optional[float] = None) -> np.ndarray:
    """Exact video mask IoUs of Q (detection, ground truth) pairs.

    Args:
        dets: D detection tracks; gts: G ground-truth tracks.
        pair_det, pair_gt: (Q,) int64 track indices.
        pair_block: (Q,) int64 block (a (video, category) pair) of each pair.
        block_sizes: (height, width) of each block's frames.
        lowest: if given, pairs whose IoU is provably below it (from the
            areas alone: ``|d_f & g_f| <= min(|d_f|, |g_f|)``) are not
            intersected and get IoU 0.

    Returns:
        (Q,) float64 video IoUs.
    """
    num_frames = int(max(dets.length.max(initial=0),
                         gts.length.max(initial=0)))
    d_pos, d_areas = dets.tables(num_frames)  # (D, F) x 2
    g_pos, g_areas = gts.tables(num_frames)  # (G, F) x 2
    # zip() semantics: only the frames both lists have.
    common = np.minimum(dets.length[pair_det], gts.length[pair_gt])  # (Q,)
    in_common = np.arange(num_frames) < common[:, None]  # (Q, F)
    pair_d_areas = np.where(in_common, d_areas[pair_det], 0)  # (Q, F)
    pair_g_areas = np.where(in_common, g_areas[pair_gt], 0)
    total = (pair_d_areas + pair_g_areas).sum(axis=1)  # (Q,) |d| + |g|
    both = (pair_d_areas > 0) & (pair_g_areas > 0)  # (Q, F)
    if lowest is not None:
        bound = np.minimum(pair_d_areas, pair_g_areas).sum(axis=1)  # (Q,)
        both &= (bound >= lowest * (total - bound))[:, None]
    pf_pair, pf_frame = np.nonzero(both)  # (P,)
    pf_inter = _same_frame_intersections(
        dets, gts, d_pos[pair_det[pf_pair], pf_frame],
        g_pos[pair_gt[pf_pair], pf_frame], pair_block[pf_pair],
        block_sizes)  # (P,)
    inter = np.rint(np.bincount(pf_pair, weights=pf_inter,
                                minlength=pair_det.size)).astype(np.int64)
    return _ratio(inter, total - inter)


def _union_from_areas(inter, det_areas, gt_areas, pair_det, pair_gt,
                      det_len, gt_len) -> np.ndarray:
    """Video unions of pairs: both areas over common frames - intersection.

    Args:
        inter: (Q,) summed intersections of the pairs.
        det_areas: (D, F) per-frame areas; gt_areas: (G, F).
        pair_det, pair_gt: (Q,) track indices.
        det_len: (D,) frame list lengths; gt_len: (G,).

    Returns:
        (Q,) unions summed over the first min(det_len, gt_len) frames.
    """
    det_cum = np.zeros((det_areas.shape[0], det_areas.shape[1] + 1),
                       dtype=det_areas.dtype)  # (D, F + 1)
    np.cumsum(det_areas, axis=1, out=det_cum[:, 1:])
    gt_cum = np.zeros((gt_areas.shape[0], gt_areas.shape[1] + 1),
                      dtype=gt_areas.dtype)  # (G, F + 1)
    np.cumsum(gt_areas, axis=1, out=gt_cum[:, 1:])
    common = np.minimum(det_len[pair_det], gt_len[pair_gt])  # (Q,)
    return (det_cum[pair_det, common] + gt_cum[pair_gt, common]) - inter


def _ratio(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    """inter / union as float64, 0 where the union is 0."""
    ious = np.zeros(inter.shape, dtype=np.float64)
    positive = union > 0
    ious[positive] = inter[positive] / union[positive]
    return ious


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


# ---------------------------------------------------------------------------
# Track containers (per-track API, used for single (video, category) pairs)
# ---------------------------------------------------------------------------
@dataclass
class _Track:
    """One ground-truth annotation or detection, ready for IoU computation.

    ``frames`` is, for ``segm``, a list (one entry per frame) of compressed
    RLE counts (bytes or str) or None; for ``bbox`` a (F, 4) float64 array of
    ``[x, y, w, h]`` with a (F,) bool ``present`` array.  ``masks`` may
    cache ``frames``' present entries as (frame indices, counts, RLE dicts).
    """
    frames: Any
    present: Optional[np.ndarray] = None
    score: float = 0.0
    ann_id: Any = None
    is_crowd: bool = False
    ignore: bool = False
    avg_area: float = 0.0
    masks: Optional[tuple] = None

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def present_masks(self, height: int, width: int) -> tuple:
        """(frame indices, counts, RLE dicts) of the present masks."""
        if self.masks is None:
            frames = [f for f, c in enumerate(self.frames) if c is not None]
            counts = [self.frames[f] for f in frames]
            size = [height, width]
            self.masks = (frames, counts,
                          [{'size': size, 'counts': c} for c in counts])
        return self.masks


def _pack_mask_tracks(masks: Sequence[tuple],
                      length: np.ndarray) -> _MaskTracks:
    """Tracks' present masks -> :class:`_MaskTracks` (areas measured).

    Args:
        masks: per track, ``_Track.present_masks``'s (frames, counts, rles).
        length: (T,) int64 frame-list length of each track.
    """
    per_track = np.fromiter((len(m[0]) for m in masks), dtype=np.int64,
                            count=len(masks))
    counts = list(chain.from_iterable(m[1] for m in masks))
    areas, packed = _measure(
        counts, list(chain.from_iterable(m[2] for m in masks)))
    return _MaskTracks(
        counts,
        np.fromiter(chain.from_iterable(m[0] for m in masks),
                    dtype=np.int64, count=int(per_track.sum())),
        areas, per_track, length, packed)


def _segm_track(segms: Sequence, height: int, width: int,
                where: str) -> _Track:
    """A mask track from its per-frame ``segmentations`` (absent frames
    falsy); its frames hold the present masks' counts, None elsewhere."""
    masks = _present_masks(segms, height, width, where)
    frames: List[Any] = [None] * len(segms)
    for f, counts in zip(masks[0], masks[1]):
        frames[f] = counts
    return _Track(frames, masks=masks)


def _mask_tracks(tracks: Sequence[_Track], height: int,
                 width: int) -> _MaskTracks:
    """Mask ``_Track`` objects -> :class:`_MaskTracks` (areas computed)."""
    return _pack_mask_tracks(
        [t.present_masks(height, width) for t in tracks],
        np.array([t.num_frames for t in tracks], dtype=np.int64))


def _mean_of_truthy(values) -> float:
    """Mean of the truthy entries of ``values`` (0 if none), as official
    (``np.array(kept).mean()``; for ints, the same correctly rounded
    quotient of the exact sum)."""
    kept = list(filter(None, values))
    if not kept:
        return 0
    if set(map(type, kept)) == {int} and abs(sum(kept)) < 2**53:
        return sum(kept) / len(kept)
    return np.array(kept).mean()


def _boxes_array(boxes, where: str) -> Tuple[np.ndarray, np.ndarray]:
    """Per-frame boxes -> ((F, 4) float64 [x, y, w, h], (F,) bool present)."""
    array = np.zeros((len(boxes), 4), dtype=np.float64)  # (F, 4)
    present = np.zeros(len(boxes), dtype=bool)  # (F,)
    for f, box in enumerate(boxes):
        if box is not None and len(box) > 0:
            if len(box) != 4:
                raise ValueError(
                    f'{where}: frame {f} box must be [x, y, w, h]')
            array[f] = box
            present[f] = True
    return array, present


def mask_track_areas(tracks: Sequence[_Track], height: int,
                     width: int) -> np.ndarray:
    """Per-track average area of mask tracks: (T,) mean of non-zero areas."""
    mask_tracks = _mask_tracks(tracks, height, width)
    return _mean_nonzero_segments(mask_tracks.areas, mask_tracks.per_track)


def mask_video_ious(dets: Sequence[_Track], gts: Sequence[_Track],
                    height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Exact video mask IoUs between detections and ground truths.

    Args:
        dets: D mask tracks; gts: G mask tracks of the same video.
        height, width: the video's frame size.

    Returns:
        ious: (D, G) float64 video IoUs.
        det_avg_areas: (D,) float64 average non-zero frame area per detection.
    """
    num_dets, num_gts = len(dets), len(gts)
    det_tracks = _mask_tracks(dets, height, width)
    det_avg = _mean_nonzero_segments(det_tracks.areas, det_tracks.per_track)
    if num_dets == 0 or num_gts == 0:
        return np.zeros((num_dets, num_gts)), det_avg
    pair_det = np.repeat(np.arange(num_dets), num_gts)  # (D * G,)
    pair_gt = np.tile(np.arange(num_gts), num_dets)
    ious = _pair_mask_ious(det_tracks, _mask_tracks(gts, height, width),
                           pair_det, pair_gt, np.zeros_like(pair_det),
                           [(height, width)])
    return ious.reshape(num_dets, num_gts), det_avg


def box_video_ious(dets: Sequence[_Track],
                   gts: Sequence[_Track]) -> Tuple[np.ndarray, np.ndarray]:
    """Video box IoUs (same definition as for masks, on [x, y, w, h] boxes).

    Returns:
        ious: (D, G) float64; det_avg_areas: (D,) mean non-zero box area.
    """
    num_frames = max([t.num_frames for t in list(dets) + list(gts)] or [0])

    def stack(tracks):
        boxes = np.zeros((len(tracks), num_frames, 4))  # (T, F, 4)
        present = np.zeros((len(tracks), num_frames), dtype=bool)  # (T, F)
        for i, t in enumerate(tracks):
            boxes[i, :t.num_frames] = t.frames
            present[i, :t.num_frames] = t.present
        areas = np.where(present, boxes[..., 2] * boxes[..., 3], 0.0)
        return boxes, present, areas

    d_boxes, d_present, d_areas = stack(dets)
    g_boxes, g_present, g_areas = stack(gts)
    det_avg = np.array([_mean_of_truthy(row) for row in d_areas.tolist()],
                       dtype=np.float64)  # (D,)
    if len(dets) == 0 or len(gts) == 0:
        return np.zeros((len(dets), len(gts))), det_avg

    d = d_boxes[:, None]  # (D, 1, F, 4)
    g = g_boxes[None, :]  # (1, G, F, 4)
    width = (np.minimum(d[..., 0] + d[..., 2], g[..., 0] + g[..., 2]) -
             np.maximum(d[..., 0], g[..., 0])).clip(min=0)  # (D, G, F)
    height = (np.minimum(d[..., 1] + d[..., 3], g[..., 1] + g[..., 3]) -
              np.maximum(d[..., 1], g[..., 1])).clip(min=0)  # (D, G, F)
    both = d_present[:, None] & g_present[None, :]  # (D, G, F)
    inter = np.where(both, width * height, 0.0).sum(-1).ravel()  # (D * G,)
    det_len = np.array([t.num_frames for t in dets], dtype=np.int64)
    gt_len = np.array([t.num_frames for t in gts], dtype=np.int64)
    pair_det = np.repeat(np.arange(len(dets)), len(gts))
    pair_gt = np.tile(np.arange(len(gts)), len(dets))
    union = _union_from_areas(inter, d_areas, g_areas, pair_det, pair_gt,
                              det_len, gt_len)
    return _ratio(inter, union).reshape(len(dets), len(gts)), det_avg


# ---------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------
def _greedy_match_batch(ious: np.ndarray, gt_ignore: np.ndarray,
                        gt_crowd: np.ndarray,
                        iou_thresholds: np.ndarray = IOU_THRESHOLDS
                        ) -> np.ndarray:
    """COCO greedy matching of many independent groups at once.

    Args:
        ious: (P, D, G) float64, for each group P its detections (sorted by
            descending score) against its ground truths (annotation order);
            padding entries (missing detections or ground truths) must be
            below every threshold, e.g. -1.
        gt_ignore: (A, P, G) bool, one ignore pattern per setting A (area
            range); gt_crowd: (P, G) bool.
        iou_thresholds: (T,).

    Returns:
        (A, P, T, D) int64 index of the matched ground truth, -1 if none.
    """
    num_groups, num_dets, num_gts = ious.shape
    num_settings = gt_ignore.shape[0]
    num_thrs = len(iou_thresholds)
    match = np.full((num_settings, num_groups, num_thrs, num_dets), -1,
                    dtype=np.int64)
    if num_groups == 0 or num_dets == 0 or num_gts == 0:
        return match
    thresholds = np.minimum(iou_thresholds, 1 - 1e-10)  # (T,)
    taken = np.zeros((num_settings, num_groups, num_thrs, num_gts),
                     dtype=bool)  # (A, P, T, G)
    regular = ~gt_ignore  # (A, P, G)
    best_iou = ious.max(axis=2)  # (P, D)
    for d in range(num_dets):
        # Groups whose detection d reaches the lowest threshold somewhere.
        groups = np.flatnonzero(best_iou[:, d] >= thresholds.min())  # (S,)
        if groups.size == 0:
            continue
        row = ious[groups, d]  # (S, G)
        above = row[:, None, :] >= thresholds[:, None]  # (S, T, G)
        free = ~taken[:, groups] | gt_crowd[None, groups, None, :]
        allowed = above[None] & free  # (A, S, T, G)
        allowed_regular = allowed & regular[:, groups, None, :]
        candidates = np.where(allowed_regular.any(axis=-1, keepdims=True),
                              allowed_regular, allowed)  # (A, S, T, G)
        values = np.where(candidates, row[None, :, None, :], -np.inf)
        # Among equal IoUs the later ground truth wins, as in the official
        # loop: argmax over the reversed axis.
        best = num_gts - 1 - np.argmax(values[..., ::-1], axis=-1)
        a_i, s_i, t_i = np.nonzero(candidates.any(axis=-1))  # (n,) x 3
        g_i = best[a_i, s_i, t_i]
        taken[a_i, groups[s_i], t_i, g_i] = True
        match[a_i, groups[s_i], t_i, d] = g_i
    return match


def greedy_match(ious: np.ndarray, gt_ignore: np.ndarray,
                 gt_crowd: np.ndarray,
                 iou_thresholds: np.ndarray = IOU_THRESHOLDS) -> np.ndarray:
    """COCO greedy matching at all IoU thresholds at once.

    Detections (rows of ``ious``) must be sorted by descending score, ground
    truths (columns) be in annotation order.  Each detection in turn takes,
    among the still free ground truths (crowd ones are never used up) with
    IoU >= threshold, the best non-ignored one; only if there is none, the
    best ignored one.  Among equal IoUs the later ground truth wins.  This is
    what the official loop does after stably moving ignored gts last.

    Args:
        ious: (D, G) float64.
        gt_ignore: (G,) bool; gt_crowd: (G,) bool.
        iou_thresholds: (T,).

    Returns:
        (T, D) int64 index of the matched ground truth, -1 if unmatched.
    """
    ious = np.asarray(ious, dtype=np.float64)
    return _greedy_match_batch(
        ious[None], np.asarray(gt_ignore, dtype=bool)[None, None],
        np.asarray(gt_crowd, dtype=bool)[None], iou_thresholds)[0, 0]


# ---------------------------------------------------------------------------
# Accumulation and summary
# ---------------------------------------------------------------------------
def _recall_targets(num_positives: np.ndarray,
                    rec_thresholds: np.ndarray) -> np.ndarray:
    """Smallest true-positive counts that reach each recall threshold.

    Recall is the float64 ``tp / num_positives``; it reaches ``r`` from the
    smallest integer ``tp`` with ``fl(tp / n) >= r`` on, which is within one
    of ``r * n``: the four candidates around it are tested exactly.

    Args:
        num_positives: (K,) positive integers (as float64).
        rec_thresholds: (R,).

    Returns:
        (K, R) int64.
    """
    n = num_positives[:, None, None]  # (K, 1, 1)
    base = np.floor(rec_thresholds[None, :] * num_positives[:, None])  # (K,R)
    candidates = base[..., None] + np.arange(-1, 3)  # (K, R, 4)
    reached = candidates / n >= rec_thresholds[None, :, None]
    return (base - 1 + (~reached).sum(-1)).astype(np.int64)


def _accumulate(det_cat: np.ndarray, det_rank: np.ndarray,
                det_score: np.ndarray, matched: np.ndarray,
                ignored: np.ndarray, num_positives: np.ndarray,
                max_dets: Sequence[int],
                rec_thresholds: np.ndarray = RECALL_THRESHOLDS):
    """COCO accumulation of every (category, area range, max_dets) cell.

    The official code concatenates, per cell, the detections of all videos,
    sorts them by score and reads precision and recall along the list.  The
    interpolated precision at a recall threshold is the largest precision
    at or after the first position reaching it; precision only rises at
    true positives, so only those positions ("events") are looked at: the
    v-th true positive is where the count reaches v, and the largest
    precision from there on is a running maximum over the later events.

    Args:
        det_cat, det_rank, det_score: (N,) category index, rank within its
            (video, category) pair and score of the kept detections, in
            (category, video, rank) order.
        matched, ignored: (A, T, N) bool per area range and IoU threshold.
        num_positives: (K, A) int64 non-ignored ground truths.
        max_dets: the M detection caps.

    Returns:
        precision (T, R, K, A, M) and recall (T, K, A, M), -1 where the
        official code leaves them (no non-ignored ground truth).
    """
    num_areas, num_thrs, _ = matched.shape
    num_cats = num_positives.shape[0]
    num_recs = len(rec_thresholds)
    shape = (num_cats, num_areas, len(max_dets))
    precision = -np.ones((num_thrs, num_recs) + shape)
    recall = -np.ones((num_thrs, ) + shape)
    # Official order within a category: descending score, ties by video then
    # rank (a stable sort of the per-video lists concatenated in video order).
    order = np.lexsort((-det_score, det_cat))  # (N,)
    for a in range(num_areas):
        defined = np.flatnonzero(num_positives[:, a] > 0)  # (K',)
        if defined.size == 0:
            continue
        positives = num_positives[defined, a].astype(np.float64)  # (K',)
        # Recall reaches threshold r at true positive number max(target, 1)
        # (target 0: the first position, whose interpolated precision is
        # that of the first event, precision being 0 before it).
        need = np.maximum(_recall_targets(positives, rec_thresholds),
                          1)[None]  # (1, K', R)
        for m, max_det in enumerate(max_dets):
            sel = order[det_rank[order] < max_det]  # (n,)
            if sel.size == 0:
                precision[:, :, defined, a, m] = 0.0
                recall[:, defined, a, m] = 0.0
                continue
            cats = det_cat[sel]  # (n,) non-decreasing
            hit = matched[a][:, sel]  # (T, n)
            counted = ~ignored[a][:, sel]
            true_pos = hit & counted
            tp_cum = np.cumsum(true_pos, axis=1)  # (T, n)
            fp_cum = np.cumsum(~hit & counted, axis=1)
            # Counts before each category's first detection (to subtract).
            starts = np.searchsorted(cats, np.arange(num_cats))  # (K,)
            before = np.maximum(starts - 1, 0)
            tp_base = np.where(starts > 0, tp_cum[:, before], 0)  # (T, K)
            fp_base = np.where(starts > 0, fp_cum[:, before], 0)
            # Events: (threshold, position), sorted by threshold, category.
            e_thr, e_pos = np.nonzero(true_pos)  # (E,)
            e_cat = cats[e_pos]
            e_tp = tp_cum[e_thr, e_pos] - tp_base[e_thr, e_cat]  # 1, 2, ...
            e_fp = (fp_cum[e_thr, e_pos] -
                    fp_base[e_thr, e_cat]).astype(np.float64)
            e_tp_f = e_tp.astype(np.float64)
            e_pr = e_tp_f / (e_fp + e_tp_f + np.spacing(1))  # as official
            # Largest precision at this or a later event of the same
            # (threshold, category): a running maximum from the right,
            # restarted per segment (complex numbers compare real part
            # first).
            segment = e_thr * num_cats + e_cat  # (E,) non-decreasing
            z = np.empty(e_pr.size, dtype=np.complex128)
            z.real = -segment
            z.imag = e_pr
            best = np.maximum.accumulate(z[::-1])[::-1].imag  # (E,)
            # Per (threshold, defined category): number of events and the
            # index of the first.
            seg_ids = (np.arange(num_thrs)[:, None] * num_cats +
                       defined[None, :])  # (T, K')
            ev_first = np.searchsorted(segment, seg_ids, 'left')
            ev_count = np.searchsorted(segment, seg_ids, 'right') - ev_first
            recall[:, defined, a, m] = ev_count / positives[None, :]
            reached = need <= ev_count[..., None]  # (T, K', R)
            index = ev_first[..., None] + need - 1
            values = best[np.minimum(index, max(best.size - 1, 0))] \
                if best.size else np.zeros(index.shape)
            q = np.where(reached, values, 0.0)  # (T, K', R)
            precision[:, :, defined, a, m] = q.transpose(0, 2, 1)
    return precision, recall


def _summarize(precision: np.ndarray, recall: np.ndarray,
               max_dets: Sequence[int]) -> Dict[str, float]:
    """The 12 official summary numbers from precision (T, R, K, A, M) and
    recall (T, K, A, M)."""

    def mean_of(ap: bool, iou_thr=None, area='all', max_det=100) -> float:
        a_idx = [i for i, label in enumerate(AREA_LABELS) if label == area]
        m_idx = [i for i, m in enumerate(max_dets) if m == max_det]
        values = precision if ap else recall
        if iou_thr is not None:
            values = values[np.where(iou_thr == IOU_THRESHOLDS)[0]]
        values = values[..., a_idx, m_idx]
        defined = values[values > -1]
        return float(np.mean(defined)) if defined.size else -1.0

    last = max_dets[2]
    stats = (
        mean_of(True),  # maxDets=100 literally, as the official summarize()
        mean_of(True, iou_thr=.5, max_det=last),
        mean_of(True, iou_thr=.75, max_det=last),
        mean_of(True, area='small', max_det=last),
        mean_of(True, area='medium', max_det=last),
        mean_of(True, area='large', max_det=last),
        mean_of(False, max_det=max_dets[0]),
        mean_of(False, max_det=max_dets[1]),
        mean_of(False, max_det=last),
        mean_of(False, area='small', max_det=last),
        mean_of(False, area='medium', max_det=last),
        mean_of(False, area='large', max_det=last),
    )
    return dict(zip(STAT_NAMES, stats))


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------
@dataclass
class _Detections:
    """Kept detections in (category, video, rank) order, all (N,) arrays."""
    result: np.ndarray  # index into the result list
    video: np.ndarray  # video index (into sorted video ids)
    category: np.ndarray  # category index
    rank: np.ndarray  # rank by descending score within (video, category)
    score: np.ndarray  # float64


@dataclass
class _GroundTruths:
    """Ground-truth tracks in (category, video, annotation) order."""
    tracks: List[_Track]
    key: np.ndarray  # (G,) category * num_videos + video
    video: np.ndarray  # (G,) video index
    category: np.ndarray  # (G,) category index
    crowd: np.ndarray  # (G,) bool
    ignore: np.ndarray  # (G,) bool
    counted: np.ndarray  # (G,) bool, id != 0 (official quirk)
    avg_area: np.ndarray  # (G,) float64
    length: np.ndarray  # (G,) int64 frame list lengths


class YTVISEvaluator:
    """YouTube-VIS evaluator bound to one ground truth.

    The ground truth is indexed (and polygons / uncompressed RLE converted)
    once, so :meth:`evaluate` can be called for several result lists.

    Args:
        gt: parsed YouTube-VIS annotation dict with keys ``videos``,
            ``annotations`` and ``categories``.
        iou_type: ``'segm'`` (masks in ``segmentations``) or ``'bbox'``
            (boxes in ``bboxes``).
        max_dets: three detection caps (sorted, as the official code does).

    After :meth:`evaluate`, ``precision`` (T, R, K, A, M), ``recall``
    (T, K, A, M) and ``stats`` hold the accumulated results, with -1 where
    undefined.
    """

    def __init__(self, gt: dict, iou_type: str = 'segm',
                 max_dets: Sequence[int] = (1, 10, 100)):
        if iou_type not in _IOU_TYPES:
            raise ValueError(f'iou_type must be one of {_IOU_TYPES}, '
                             f'got {iou_type!r}')
        max_dets = sorted(int(m) for m in max_dets)
        if len(max_dets) != 3 or max_dets[0] < 1:
            raise ValueError('max_dets must be three positive integers, got '
                             f'{max_dets}')
        self.iou_type = iou_type
        self.max_dets = max_dets
        self.videos = {v['id']: v for v in gt.get('videos', [])}
        self.video_ids = sorted(self.videos)
        self.category_ids = sorted({c['id'] for c in gt.get('categories',
                                                            [])})
        self._video_index = {v: i for i, v in enumerate(self.video_ids)}
        self._category_index = {c: i for i, c in enumerate(self.category_ids)}
        self._video_sizes = [self._video_size(v) for v in self.video_ids]
        self._size_lists = [list(s) for s in self._video_sizes]
        self.precision: Optional[np.ndarray] = None
        self.recall: Optional[np.ndarray] = None
        self.stats: Optional[Dict[str, float]] = None

        # (video_id, category_id) -> ground-truth tracks in annotation order.
        self._gts: Dict[Tuple[Any, Any], List[_Track]] = defaultdict(list)
        with _gc_paused():
            for ann in gt.get('annotations', []):
                key = (ann['video_id'], ann['category_id'])
                if key[0] in self.videos and key[1] in self._category_index:
                    self._gts[key].append(self._gt_track(ann))
        if any(t.ann_id == 0 for ts in self._gts.values() for t in ts):
            warnings.warn(
                'ground truth has an annotation with id 0: as in the official '
                'YouTube-VIS code, detections matched to it count as '
                'unmatched', stacklevel=2)
        self._gt_table: Optional[_GroundTruths] = None

    # -- conversion ---------------------------------------------------------
    def _video_size(self, video_id) -> Tuple[int, int]:
        video = self.videos[video_id]
        return int(video['height']), int(video['width'])

    def _gt_track(self, ann: dict) -> _Track:
        """Ground-truth annotation -> track (areas and ignore flags set)."""
        where = f'annotation {ann.get("id")}'
        is_crowd = bool(ann.get('iscrowd', 0))
        height, width = self._video_size(ann['video_id'])
        if self.iou_type == 'segm':
            track = _segm_track(ann['segmentations'], height, width, where)
        else:
            if 'bboxes' not in ann:
                raise ValueError(f'{where} has no "bboxes" (iou_type=bbox)')
            track = _Track(*_boxes_array(ann['bboxes'], where))
        track.ann_id = ann.get('id')
        track.is_crowd = is_crowd
        track.ignore = is_crowd
        if 'areas' in ann:
            track.avg_area = _mean_of_truthy(ann['areas'])
        elif self.iou_type == 'segm':
            track.avg_area = float(mask_track_areas([track], height,
                                                    width)[0])
        else:
            track.avg_area = _mean_of_truthy(
                (track.frames[:, 2] * track.frames[:, 3])[track.present])
        return track

    def _det_track(self, index: int, result: dict) -> _Track:
        """Result dict -> detection track (score set, area computed later)."""
        where = f'result {index} (video {result["video_id"]})'
        height, width = self._video_size(result['video_id'])
        if self.iou_type == 'segm':
            if 'segmentations' not in result:
                raise ValueError(f'{where} has no "segmentations"')
            track = _segm_track(result['segmentations'], height, width,
                                where)
        else:
            if 'bboxes' not in result:
                raise ValueError(f'{where} has no "bboxes"')
            track = _Track(*_boxes_array(result['bboxes'], where))
        track.score = float(result['score'])
        return track

    def _ground_truths(self) -> _GroundTruths:
        """All ground-truth tracks as arrays, (category, video) ordered."""
        if self._gt_table is not None:
            return self._gt_table
        num_videos = len(self.video_ids)
        keys = sorted(self._gts, key=lambda k: (self._category_index[k[1]],
                                                self._video_index[k[0]]))
        tracks, video, category = [], [], []
        for video_id, category_id in keys:
            group = self._gts[(video_id, category_id)]
            tracks += group
            video += [self._video_index[video_id]] * len(group)
            category += [self._category_index[category_id]] * len(group)
        video = np.array(video, dtype=np.int64)
        category = np.array(category, dtype=np.int64)
        self._gt_table = _GroundTruths(
            tracks=tracks, key=category * num_videos + video, video=video,
            category=category,
            crowd=np.array([t.is_crowd for t in tracks], dtype=bool),
            ignore=np.array([t.ignore for t in tracks], dtype=bool),
            counted=np.array([t.ann_id != 0 for t in tracks], dtype=bool),
            avg_area=np.array([t.avg_area for t in tracks], dtype=np.float64),
            length=np.array([t.num_frames for t in tracks], dtype=np.int64))
        return self._gt_table

    # -- evaluation ---------------------------------------------------------
    def _check_videos(self, results: Sequence[dict]) -> None:
        unknown = sorted({r['video_id'] for r in results} - set(self.videos),
                         key=repr)
        if unknown:
            shown = ', '.join(repr(v) for v in unknown[:10])
            more = ' ...' if len(unknown) > 10 else ''
            raise ValueError(
                f'results refer to video ids not in the ground truth: '
                f'{shown}{more}')

    def _detections(self, results: Sequence[dict]) -> _Detections:
        """Results of listed categories, ranked within (video, category) by
        descending score (stable), cut at ``max(max_dets)``."""
        num = len(results)
        video = np.fromiter(
            map(self._video_index.__getitem__,
                map(itemgetter('video_id'), results)),
            dtype=np.int64, count=num)
        category = np.fromiter(
            map(self._category_index.get,
                map(itemgetter('category_id'), results), repeat(-1)),
            dtype=np.int64, count=num)
        score = np.fromiter(map(float, map(itemgetter('score'), results)),
                            dtype=np.float64, count=num)
        kept = np.flatnonzero(category >= 0)
        kept = kept[np.lexsort((-score[kept], video[kept], category[kept]))]
        key = category[kept] * len(self.video_ids) + video[kept]  # sorted
        first = np.ones(kept.size, dtype=bool)
        first[1:] = key[1:] != key[:-1]
        index = np.arange(kept.size)
        rank = index - np.maximum.accumulate(np.where(first, index, 0))
        cut = rank < self.max_dets[-1]
        kept = kept[cut]
        return _Detections(kept, video[kept], category[kept], rank[cut],
                           score[kept])

    def evaluate(self, results: Sequence[dict]) -> Dict[str, float]:
        """Evaluate a result list; returns ``{name: value}`` for STAT_NAMES."""
        with _gc_paused():
            return self._evaluate(results)

    def _evaluate(self, results: Sequence[dict]) -> Dict[str, float]:
        self._check_videos(results)
        dets = self._detections(results)
        gts = self._ground_truths()
        num_videos = len(self.video_ids)

        # All (detection, ground truth) pairs of the same (video, category).
        det_key = dets.category * num_videos + dets.video  # (N,) sorted
        gt_lo = np.searchsorted(gts.key, det_key, 'left')  # (N,)
        gt_count = np.searchsorted(gts.key, det_key, 'right') - gt_lo
        pair_det = np.repeat(np.arange(det_key.size), gt_count)  # (Q,)
        pair_gt = (np.repeat(gt_lo - (np.cumsum(gt_count) - gt_count),
                             gt_count) + np.arange(pair_det.size))

        known = None
        if self.iou_type == 'segm':
            segms = self._result_segms(results, dets)
            det_avg, known, pair_iou = self._mask_ious(
                results, segms, dets, gts, pair_det, pair_gt)
        else:
            det_avg, pair_iou = self._box_ious(results, dets, gts, pair_det,
                                               pair_gt)

        bounds = np.array([r for _, r in AREA_RANGES])  # (A, 2)
        gt_out = (gts.ignore[None, :] |
                  (gts.avg_area[None, :] < bounds[:, :1]) |
                  (gts.avg_area[None, :] > bounds[:, 1:]))  # (A, G)
        matched, ignored_by_gt = self._match(dets, gts, gt_out, gt_lo,
                                             pair_det, pair_gt, pair_iou)
        if known is not None and not known.all():
            # The other detections have no gt in their (video, category):
            # only those ranked before a true positive can change a result.
            needed = np.flatnonzero(~known & self._ranked_before_last_tp(
                dets, matched & ~ignored_by_gt, bounds))
            det_avg[needed] = self._mask_avg_areas(results, segms, dets,
                                                   needed)
        det_out = ((det_avg[None, :] < bounds[:, :1]) |
                   (det_avg[None, :] > bounds[:, 1:]))  # (A, N)
        ignored = ignored_by_gt | (~matched & det_out[:, None, :])
        num_positives = np.stack([
            np.bincount(gts.category[~out], minlength=len(self.category_ids))
            for out in gt_out
        ], axis=1)  # (K, A)
        self.precision, self.recall = _accumulate(
            dets.category, dets.rank, dets.score, matched, ignored,
            num_positives, self.max_dets)
        self.stats = _summarize(self.precision, self.recall, self.max_dets)
        return dict(self.stats)

    def _ranked_before_last_tp(self, dets: _Detections, true_pos: np.ndarray,
                               bounds: np.ndarray) -> np.ndarray:
        """Detections whose average area can matter.

        An unmatched detection is a false positive or ignored depending on
        its area.  After the last true positive of its category (in the
        accumulation order) that changes neither recall nor interpolated
        precision: precision after that true positive never exceeds its
        value there, and no recall threshold is first reached later.  Only
        area ranges that some average area could fall out of count (not
        ``all``).

        Args:
            true_pos: (A, T, N) matched and not ignored by their gt.
            bounds: (A, 2) area ranges.

        Returns:
            (N,) bool.
        """
        max_area = max((h * w for h, w in self._video_sizes), default=0)
        sensitive = (bounds[:, 0] > 0) | (bounds[:, 1] < max_area)  # (A,)
        hit = true_pos[sensitive].any(axis=(0, 1))  # (N,)
        order = np.lexsort((-dets.score, dets.category))
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        last = np.full(len(self.category_ids), -1, dtype=np.int64)
        np.maximum.at(last, dets.category[hit], position[hit])
        return position < last[dets.category]

    def _result_segms(self, results, dets: _Detections) -> list:
        """The per-frame mask lists of the kept detections."""
        segms = []
        for i in dets.result.tolist():
            if 'segmentations' not in results[i]:
                raise ValueError(f'result {i} (video '
                                 f'{results[i]["video_id"]}) has no '
                                 '"segmentations"')
            segms.append(results[i]['segmentations'])
        return segms

    def _where(self, results, dets: _Detections, j: int):
        """(height, width, description) of kept detection ``j``."""
        index = int(dets.result[j])
        video_id = results[index]['video_id']
        return (*self._video_size(video_id),
                f'result {index} (video {video_id})')

    def _det_mask_tracks(self, results, segms: list, dets: _Detections,
                         ids: np.ndarray) -> _MaskTracks:
        """Detections ``ids`` as :class:`_MaskTracks`, masks checked.

        Result masks are used as they are when they all are compressed RLE
        dicts of their video's size; otherwise each track is converted and
        checked (polygons, uncompressed RLE; ValueError for bad masks).
        """
        ids_list = ids.tolist()
        frames, per_track, length = _present_frames([segms[j]
                                                     for j in ids_list])
        rles = list(chain.from_iterable(
            filter(None, segms[j]) for j in ids_list))
        try:
            sizes = [self._size_lists[v] for v in dets.video[ids].tolist()]
            expected = list(chain.from_iterable(map(repeat, sizes,
                                                    per_track.tolist())))
            if list(map(itemgetter('size'), rles)) != expected:
                raise TypeError
            counts = list(map(itemgetter('counts'), rles))
            # TypeError unless all counts are str or bytes.
            areas, packed = _measure(counts, rles)
        except (TypeError, KeyError, ValueError):
            masks = [_present_masks(segms[j], *self._where(results, dets, j))
                     for j in ids_list]
            counts = list(chain.from_iterable(m[1] for m in masks))
            areas, packed = _measure(
                counts, list(chain.from_iterable(m[2] for m in masks)))
        return _MaskTracks(counts, frames, areas, per_track, length, packed)

    def _gt_mask_tracks(self, gts: _GroundTruths,
                        ids: np.ndarray) -> _MaskTracks:
        """Ground truths ``ids`` as :class:`_MaskTracks`."""
        return _pack_mask_tracks(
            [gts.tracks[g].present_masks(*self._video_sizes[v])
             for g, v in zip(ids.tolist(), gts.video[ids].tolist())],
            gts.length[ids])

    def _mask_ious(self, results, segms: list, dets: _Detections,
                   gts: _GroundTruths, pair_det: np.ndarray,
                   pair_gt: np.ndarray):
        """IoUs of the (detection, gt) pairs and the detections' areas.

        Args:
            segms: N per-frame mask lists, from :meth:`_result_segms`.
            pair_det, pair_gt: (Q,) pairs of the same (video, category).

        Returns:
            det_avg: (N,) float64 average areas, set where ``known``;
            known: (N,) bool, the detections of some pair;
            ious: (Q,) float64, 0 for pairs provably below every threshold.
        """
        num = len(segms)
        det_avg = np.zeros(num, dtype=np.float64)
        known = np.zeros(num, dtype=bool)
        if pair_det.size == 0:
            return det_avg, known, np.zeros(0)
        # Detection tracks in result order and ground truths video by video
        # (roughly the order of their masks in memory).
        det_ids = np.unique(pair_det)
        det_ids = det_ids[np.argsort(dets.result[det_ids])]
        det_index = np.empty(num, dtype=np.int64)
        det_index[det_ids] = np.arange(det_ids.size)
        gt_ids = np.unique(pair_gt)
        gt_ids = gt_ids[np.argsort(gts.video[gt_ids], kind='stable')]
        gt_index = np.empty(gts.key.size, dtype=np.int64)
        gt_index[gt_ids] = np.arange(gt_ids.size)
        det_tracks = self._det_mask_tracks(results, segms, dets, det_ids)
        det_avg[det_ids] = _mean_nonzero_segments(det_tracks.areas,
                                                  det_tracks.per_track)
        known[det_ids] = True
        # Blocks = (video, category) pairs with detections and gts, video
        # after video (results usually lie in memory video by video).
        num_cats = len(self.category_ids)
        det_key = dets.video * num_cats + dets.category  # (N,)
        keys, pair_block = np.unique(det_key[pair_det], return_inverse=True)
        block_sizes = [self._video_sizes[k // num_cats]
                       for k in keys.tolist()]
        ious = _pair_mask_ious(det_tracks, self._gt_mask_tracks(gts, gt_ids),
                               det_index[pair_det], gt_index[pair_gt],
                               pair_block.ravel(), block_sizes,
                               lowest=float(IOU_THRESHOLDS.min()))
        return det_avg, known, ious

    def _mask_avg_areas(self, results, segms: list, dets: _Detections,
                        ids: np.ndarray) -> np.ndarray:
        """(len(ids),) average areas of detections ``ids``.

        Only ``counts`` matter here (as in the official code): compressed
        RLE dicts are measured as they are, other tracks are converted.
        """
        order = np.argsort(dets.result[ids])  # results in memory order
        ids_list = ids[order].tolist()
        tracks = [segms[j] for j in ids_list]
        per_track = _present_frames(tracks)[1]  # (T,)
        try:
            areas = _dict_areas(list(filter(None,
                                            chain.from_iterable(tracks))))
        except (TypeError, KeyError):
            areas = []
            for j in ids_list:
                rles = list(filter(None, segms[j]))
                try:
                    areas.append(_dict_areas(rles))
                except (TypeError, KeyError):
                    areas.append(_dict_areas(_present_masks(
                        segms[j], *self._where(results, dets, j))[2]))
            areas = np.concatenate(areas) if areas else np.zeros(0, np.int64)
        out = np.empty(ids.size, dtype=np.float64)
        out[order] = _mean_nonzero_segments(areas, per_track)
        return out

    def _box_ious(self, results, dets: _Detections, gts: _GroundTruths,
                  pair_det: np.ndarray, pair_gt: np.ndarray):
        """Average box areas (N,) of the detections and IoUs (Q,) of the
        pairs, one (video, category) at a time."""
        det_avg = np.zeros(dets.result.size, dtype=np.float64)
        pair_iou = np.zeros(pair_det.size, dtype=np.float64)
        key = dets.category * len(self.video_ids) + dets.video
        starts = np.flatnonzero(np.diff(key, prepend=-1))
        ends = np.append(starts[1:], key.size)
        pair_start = np.searchsorted(pair_det, starts)
        for s, e, p in zip(starts.tolist(), ends.tolist(),
                           pair_start.tolist()):
            tracks = [self._det_track(i, results[i])
                      for i in dets.result[s:e].tolist()]
            num_pairs = int(np.searchsorted(pair_det, e) - p)
            group_gts = [gts.tracks[g] for g in
                         sorted(set(pair_gt[p:p + num_pairs].tolist()))]
            ious, det_avg[s:e] = box_video_ious(tracks, group_gts)
            pair_iou[p:p + num_pairs] = ious.ravel()
        return det_avg, pair_iou

    def _match(self, dets: _Detections, gts: _GroundTruths,
               gt_out: np.ndarray, gt_lo: np.ndarray, pair_det: np.ndarray,
               pair_gt: np.ndarray, pair_iou: np.ndarray):
        """Greedy matching of every (video, category) pair.

        Args:
            gt_out: (A, G) ground truths ignored per area range.
            gt_lo: (N,) first ground truth of each detection's pair.
            pair_det, pair_gt, pair_iou: (Q,) detection-gt pairs, grouped by
                detection in (category, video, rank) order.

        Returns:
            matched: (A, T, N) bool, matched to a ground truth with an id
                other than 0; ignored_by_gt: (A, T, N) bool, matched to an
                ignored ground truth.
        """
        num_areas, num_thrs = gt_out.shape[0], len(IOU_THRESHOLDS)
        num = dets.result.size
        matched = np.zeros((num_areas, num_thrs, num), dtype=bool)
        ignored_by_gt = np.zeros((num_areas, num_thrs, num), dtype=bool)
        if pair_det.size == 0:
            return matched, ignored_by_gt
        first_gt = gt_lo[pair_det]  # (Q,)
        local_gt = pair_gt - first_gt
        # Groups = (video, category) pairs with detections and gts.
        group_first, group_of_pair = np.unique(first_gt, return_inverse=True)
        group_of_pair = group_of_pair.ravel()
        num_groups = group_first.size
        det_rank = dets.rank[pair_det]
        num_det_slots = int(det_rank.max()) + 1
        num_gt_slots = int(local_gt.max()) + 1
        ious = np.full((num_groups, num_det_slots, num_gt_slots), -1.0)
        ious[group_of_pair, det_rank, local_gt] = pair_iou
        gt_count = np.zeros(num_groups, dtype=np.int64)
        np.maximum.at(gt_count, group_of_pair, local_gt + 1)
        slots = np.arange(num_gt_slots)
        valid = slots[None, :] < gt_count[:, None]  # (P, Gs)
        gt_ids = np.where(valid, group_first[:, None] + slots, 0)  # (P, Gs)
        ignore = np.where(valid[None], gt_out[:, gt_ids], True)  # (A,P,Gs)
        crowd = valid & gts.crowd[gt_ids]  # (P, Gs)
        match = _greedy_match_batch(ious, ignore, crowd)  # (A, P, T, Ds)

        det_ids, first_pair = np.unique(pair_det, return_index=True)  # (R,)
        group = group_of_pair[first_pair]  # (R,)
        local = match[:, group, :, dets.rank[det_ids]]  # (R, A, T)
        local = np.moveaxis(local, 0, -1)  # (A, T, R)
        hit = local >= 0
        gt_id = group_first[group] + np.where(hit, local, 0)  # (A, T, R)
        matched[:, :, det_ids] = hit & gts.counted[gt_id]
        ignored_by_gt[:, :, det_ids] = hit & gt_out[
            np.arange(num_areas)[:, None, None], gt_id]
        return matched, ignored_by_gt


def evaluate_ytvis(gt: dict, results: list, iou_type: str = 'segm',
                   max_dets=(1, 10, 100)) -> dict:
    """Evaluate YouTube-VIS results against a ground truth.

    Args:
        gt: a parsed YouTube-VIS annotation json dict (keys ``videos``,
            ``annotations``, ``categories``).
        results: list of dicts ``{'video_id', 'category_id', 'score',
            'segmentations': [RLE dict or None per frame]}`` (for
            ``iou_type='bbox'``: ``'bboxes': [[x, y, w, h] or None per
            frame]``).  Not modified.
        iou_type: ``'segm'`` or ``'bbox'``.
        max_dets: the three detection caps.

    Returns:
        ``{name: float}`` for the 12 :data:`STAT_NAMES`, with the meaning and
        values of the official API's ``summarize()`` (-1 where undefined).

    Raises:
        ValueError: results for a video id that is not in ``gt``, or
            malformed inputs.
    """
    return YTVISEvaluator(gt, iou_type, max_dets).evaluate(results)


def format_stats_table(
        stats: Dict[str, float],
        columns: Sequence[str] = ('AP', 'AP50', 'AP75', 'AR1', 'AR10'),
) -> str:
    """Render selected stats as a small aligned text table.

    Values are shown x100 with one decimal; undefined values (-1) as ``n/a``.

    Example::

        YouTube-VIS (values x100)
          AP  AP50  AP75   AR1  AR10
        ----  ----  ----  ----  ----
        45.3  67.1  50.2  40.1  52.3
    """
    cells = []
    for name in columns:
        value = float(stats[name])
        cells.append('n/a' if value < 0 else f'{100.0 * value:.1f}')
    widths = [max(len(n), len(c)) for n, c in zip(columns, cells)]
    header = '  '.join(n.rjust(w) for n, w in zip(columns, widths))
    rule = '  '.join('-' * w for w in widths)
    row = '  '.join(c.rjust(w) for c, w in zip(cells, widths))
    return '\n'.join(['YouTube-VIS (values x100)', header, rule, row])
