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
  (the official code fails an ``assert``); a compressed RLE whose ``size``
  differs from its video's size raises ``ValueError`` (the official merge
  silently yields an empty mask).
* Result masks may also be polygons or uncompressed RLE (converted like
  ground truth ones); the official code needs compressed RLE there.
* A ground truth without ``areas`` gets them from its masks (official:
  ``KeyError``); a missing ``iscrowd`` means 0.
* ``iou_type='bbox'`` (broken in the official code) uses the same video IoU
  on boxes ``[x, y, w, h]``; detection areas are box areas ``w * h``, ground
  truth areas come from ``ann['areas']`` (or from the boxes if missing).

Implementation notes
--------------------
Masks are never decoded to pixels.  Per-frame areas and pixel boxes come
from ``pycocotools.mask.area`` / ``toBbox`` (exact integers).  Masks whose
boxes meet a mask of the other side in the same frame are parsed with numpy
from their compressed RLE strings into *foreground runs* ``[start, end)`` of
the column-major flattened frame.  The intersection of a detection run with
a ground-truth mask is ``C(end) - C(start)``, where ``C(x)`` counts the
ground-truth pixels before ``x``; ``C`` is evaluated for all runs at once with
``np.searchsorted`` over the concatenated ground-truth runs.  All counts are
int64, so intersections and unions are exact and the IoU is the same float64
as the official ``i / u``.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

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


# ---------------------------------------------------------------------------
# Compressed RLE parsing
# ---------------------------------------------------------------------------
def _parse_rle_strings(strings: Sequence[bytes]):
    """Decode many COCO compressed-RLE ``counts`` strings at once.

    The format (pycocotools ``rleFrString``): each count is written as
    little-endian groups of 5 bits in chars ``48 + group``, bit 0x20 meaning
    "more groups follow", bit 0x10 of the last group being the sign; from the
    fourth count on, counts are stored as the difference to the count two
    places earlier.

    Args:
        strings: N byte strings.

    Returns:
        counts: (V,) int64, the run lengths of all strings back to back
            (background first, then alternating).
        owner: (V,) int64, index of the string each count belongs to.
        first: (V,) int64, index (into counts) of the first count of the
            same string.
        odd: (V,) bool, whether the count is at an odd place in its string
            (a foreground run).
    """
    num_strings = len(strings)
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64,
                          count=num_strings)  # (N,)
    chars = np.frombuffer(b''.join(strings), dtype=np.uint8) - np.uint8(48)
    if chars.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0, dtype=bool)
    string_starts = np.cumsum(lengths) - lengths  # (N,) first char
    nonempty = np.flatnonzero(lengths)  # (N',)

    ends_value = (chars & 0x20) == 0  # (C,) char closes a count
    if not ends_value[string_starts[nonempty] + lengths[nonempty] - 1].all():
        raise ValueError('malformed compressed RLE string (truncated count)')
    value_last = np.flatnonzero(ends_value)  # (V,)
    num_values = value_last.size
    value_first = np.empty_like(value_last)  # (V,)
    value_first[0] = 0
    value_first[1:] = value_last[:-1] + 1
    chars_per_value = value_last - value_first + 1  # (V,)

    # Assemble each count from its 5-bit groups, least significant first;
    # a set sign bit in the last group means value - 2 ** (5 * groups).
    raw = (chars[value_first] & 0x1F).astype(np.int64)  # (V,)
    for k in range(1, int(chars_per_value.max())):
        longer = np.flatnonzero(chars_per_value > k)  # (V_k,)
        group = chars[value_first[longer] + k] & 0x1F
        raw[longer] |= group.astype(np.int64) << (5 * k)
    negative = ((chars[value_last] >> 4) & 1).astype(np.int64)  # (V,) 0/1
    raw -= negative << (5 * chars_per_value)

    # Which string each count belongs to, and its place in that string.
    starts_string = np.zeros(chars.size, dtype=bool)  # (C,)
    starts_string[string_starts[nonempty]] = True
    is_first = starts_string[value_first]  # (V,)
    owner = nonempty[np.cumsum(is_first) - 1]  # (V,)
    index = np.arange(num_values)
    first = np.maximum.accumulate(np.where(is_first, index, 0))  # (V,)
    place = index - first  # (V,)
    odd = (place & 1) == 1  # (V,)

    # Undo the delta coding: counts[m] = raw[m] + counts[m - 2] for m >= 3,
    # i.e. running sums within the string over odd places (from 1) and over
    # even places (from 2).  Place 0 is zeroed in both sums.
    odd_sums = np.cumsum(np.where(odd, raw, 0))  # (V,)
    even_sums = np.cumsum(np.where(odd | is_first, 0, raw))  # (V,)
    counts = np.where(odd, odd_sums - odd_sums[first],
                      even_sums - even_sums[first])
    counts[is_first] = raw[is_first]
    if (counts < 0).any():
        raise ValueError('malformed compressed RLE string (negative count)')
    return counts, owner, first, odd


def _foreground_runs(strings: Sequence[bytes], num_pixels: int):
    """Foreground runs of many compressed-RLE masks of one frame size.

    Args:
        strings: N compressed RLE ``counts`` byte strings.
        num_pixels: height * width of the frames.

    Returns:
        owner: (R,) int64 mask index of each foreground run.
        starts: (R,) int64 first pixel (column-major flat index) of each run.
        ends: (R,) int64 one past the last pixel of each run.
    """
    counts, owner, first, odd = _parse_rle_strings(strings)  # (V,) x 4
    sums = np.cumsum(counts)  # (V,)
    run_end = sums - (sums[first] - counts[first])  # (V,) within its string
    if run_end.size and run_end.max() > num_pixels:
        raise ValueError('RLE mask has more pixels than its frame '
                         f'({num_pixels})')
    is_foreground = np.flatnonzero(odd & (counts > 0))  # (R,)
    ends = run_end[is_foreground]
    return owner[is_foreground], ends - counts[is_foreground], ends


# ---------------------------------------------------------------------------
# Track containers and conversion
# ---------------------------------------------------------------------------
@dataclass
class _Track:
    """One ground-truth annotation or detection, ready for IoU computation.

    ``frames`` is, for ``segm``, a list (one entry per frame) of compressed
    RLE byte strings or None; for ``bbox`` a (F, 4) float64 array of
    ``[x, y, w, h]`` with a (F,) bool ``present`` array.
    """
    frames: Any
    present: Optional[np.ndarray] = None
    score: float = 0.0
    ann_id: Any = None
    is_crowd: bool = False
    ignore: bool = False
    avg_area: float = 0.0

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def _mean_of_truthy(values) -> float:
    """Mean of the truthy entries of ``values`` (0 if none), as official."""
    kept = [v for v in values if v]
    if not kept:
        return 0
    return np.array(kept).mean()


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


# ---------------------------------------------------------------------------
# Video IoU
# ---------------------------------------------------------------------------
def _flatten_tracks(tracks: Sequence[_Track]):
    """Present frames of mask tracks as flat lists.

    Returns:
        track_index: (N,) int64, frame_index: (N,) int64, strings: N bytes.
    """
    track_index, frame_index, strings = [], [], []
    for t, track in enumerate(tracks):
        for f, counts in enumerate(track.frames):
            if counts is not None:
                track_index.append(t)
                frame_index.append(f)
                strings.append(counts)
    return (np.asarray(track_index, dtype=np.int64),
            np.asarray(frame_index, dtype=np.int64), strings)


def _frame_areas(tracks: Sequence[_Track], height: int, width: int,
                 num_frames: int, with_boxes: bool = False):
    """Per-frame pixel counts (and pixel boxes) of mask tracks.

    Returns:
        areas: (T, F) int64 pixel count per track and frame (0 if absent).
        boxes (only if ``with_boxes``): (T, F, 4) float64 ``[x0, y0, x1, y1]``
            pixel extent, all 0 where absent or empty.
    """
    track_index, frame_index, strings = _flatten_tracks(tracks)  # (N,)
    areas = np.zeros((len(tracks), num_frames), dtype=np.int64)  # (T, F)
    boxes = np.zeros((len(tracks), num_frames, 4))  # (T, F, 4)
    if strings:
        rles = [{'size': [height, width], 'counts': c} for c in strings]
        # pycocotools' area() breaks on > 255 masks under numpy 2 (it builds
        # a uint8 array holding the count), hence the chunks.
        areas[track_index, frame_index] = np.concatenate([
            mask_utils.area(rles[i:i + _AREA_CHUNK])
            for i in range(0, len(rles), _AREA_CHUNK)
        ])
        if with_boxes:
            xywh = mask_utils.toBbox(rles)  # (N, 4)
            xywh[:, 2:] += xywh[:, :2]
            boxes[track_index, frame_index] = xywh
    return (areas, boxes) if with_boxes else areas


def _frame_runs(tracks: Sequence[_Track], num_pixels: int,
                needed: np.ndarray):
    """Foreground runs of the selected masks of ``tracks``.

    Args:
        tracks: T mask tracks.
        num_pixels: height * width.
        needed: (T, F) bool, masks whose runs are wanted.

    Returns:
        run_track, run_frame, run_start, run_end: (R,) int64, sorted by
        (track, frame, start).
    """
    track_index, frame_index, strings = _flatten_tracks(tracks)  # (N,)
    if strings:
        keep = np.flatnonzero(needed[track_index, frame_index])
    else:
        keep = track_index
    strings = [strings[i] for i in keep]
    owner, starts, ends = _foreground_runs(strings, num_pixels)  # (R,) x 3
    track_index, frame_index = track_index[keep], frame_index[keep]
    return track_index[owner], frame_index[owner], starts, ends


def _mean_nonzero_rows(areas: np.ndarray) -> np.ndarray:
    """(T, F) integer areas -> (T,) float64 mean of the non-zero entries.

    Same value as ``np.array([a for a in row if a]).mean()`` (0 if none): the
    sums are exact integers, then one float64 division.
    """
    nonzero = np.count_nonzero(areas, axis=1)  # (T,)
    totals = areas.sum(axis=1)  # (T,)
    return np.where(nonzero > 0, totals / np.maximum(nonzero, 1), 0.0)


def mask_track_areas(tracks: Sequence[_Track], height: int,
                     width: int) -> np.ndarray:
    """Per-track average area of mask tracks: (T,) mean of non-zero areas."""
    num_frames = max((t.num_frames for t in tracks), default=0)
    areas = _frame_areas(tracks, height, width, num_frames)  # (T, F)
    return _mean_nonzero_rows(areas)


def _union_from_areas(inter, det_areas, gt_areas, det_len, gt_len):
    """Video union = sum of both areas over common frames - intersection.

    Args:
        inter: (D, G) summed intersections.
        det_areas: (D, F) per-frame areas; gt_areas: (G, F).
        det_len: (D,) number of frames of each detection; gt_len: (G,).

    Returns:
        (D, G) summed unions over the first min(det_len, gt_len) frames.
    """
    num_frames = det_areas.shape[1]
    zeros_d = np.zeros((det_areas.shape[0], 1), dtype=det_areas.dtype)
    zeros_g = np.zeros((gt_areas.shape[0], 1), dtype=gt_areas.dtype)
    det_cum = np.concatenate([zeros_d, np.cumsum(det_areas, 1)], 1)  # (D,F+1)
    gt_cum = np.concatenate([zeros_g, np.cumsum(gt_areas, 1)], 1)  # (G, F+1)
    common = np.minimum.outer(det_len, gt_len).clip(0, num_frames)  # (D, G)
    det_part = np.take_along_axis(det_cum, common, axis=1)  # (D, G)
    gt_part = np.take_along_axis(gt_cum, common.T, axis=1).T  # (D, G)
    return det_part + gt_part - inter


def _ratio(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    """inter / union as float64, 0 where the union is 0."""
    ious = np.zeros(inter.shape, dtype=np.float64)
    positive = union > 0
    ious[positive] = inter[positive] / union[positive]
    return ious


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
    num_pixels = height * width
    num_frames = max([t.num_frames for t in list(dets) + list(gts)] or [0])
    det_areas, det_boxes = _frame_areas(dets, height, width, num_frames,
                                        with_boxes=True)  # (D, F), (D, F, 4)
    det_avg = _mean_nonzero_rows(det_areas)  # (D,)
    if num_dets == 0 or num_gts == 0:
        return np.zeros((num_dets, num_gts)), det_avg
    gt_areas, gt_boxes = _frame_areas(gts, height, width, num_frames,
                                      with_boxes=True)  # (G, F), (G, F, 4)
    # Masks can only intersect where their pixel boxes do: parse only those.
    lo = np.maximum(det_boxes[:, None, :, :2], gt_boxes[None, :, :, :2])
    hi = np.minimum(det_boxes[:, None, :, 2:], gt_boxes[None, :, :, 2:])
    boxes_meet = (lo < hi).all(-1)  # (D, G, F)
    d_track, d_frame, d_start, d_end = _frame_runs(
        dets, num_pixels, boxes_meet.any(1))  # (Rd,) x 4
    g_track, g_frame, g_start, g_end = _frame_runs(
        gts, num_pixels, boxes_meet.any(0))  # (Rg,) x 4
    if d_start.size == 0 or g_start.size == 0:
        inter = np.zeros((num_dets, num_gts), dtype=np.int64)
    else:
        inter = _run_intersections(d_track, d_frame, d_start, d_end, g_track,
                                   g_frame, g_start, g_end, num_dets,
                                   num_gts, num_frames, num_pixels)
    det_len = np.array([t.num_frames for t in dets], dtype=np.int64)
    gt_len = np.array([t.num_frames for t in gts], dtype=np.int64)
    union = _union_from_areas(inter, det_areas, gt_areas, det_len, gt_len)
    return _ratio(inter, union), det_avg


def _run_intersections(d_track, d_frame, d_start, d_end, g_track, g_frame,
                       g_start, g_end, num_dets, num_gts, num_frames,
                       num_pixels) -> np.ndarray:
    """Summed per-frame pixel intersections of detection and gt tracks.

    Args:
        d_*: (Rd,) int64 detection foreground runs (track, frame, [start,
            end)); g_*: (Rg,) the same for ground truths, sorted by (track,
            frame, start).

    Returns:
        (D, G) int64 intersections summed over frames.
    """
    # Place every ground-truth run on one number line: the mask of
    # (gt g, frame f) -- "cell" g * F + f -- occupies [c * L, c * L + HW)
    # with L = HW + 1, so masks never touch.  Runs are then already sorted.
    span = np.int64(num_pixels + 1)
    g_cell = g_track * num_frames + g_frame  # (Rg,) non-decreasing
    run_starts = g_cell * span + g_start  # (Rg,) sorted
    run_ends = g_cell * span + g_end  # (Rg,)
    pixels_before_run = np.cumsum(g_end - g_start) - (g_end - g_start)

    def pixels_before(keys: np.ndarray) -> np.ndarray:
        """Number of ground-truth pixels on the number line before ``keys``."""
        j = np.searchsorted(run_starts, keys, side='right') - 1  # same shape
        jc = np.maximum(j, 0)
        inside = np.minimum(keys, run_ends[jc]) - run_starts[jc]
        return np.where(j >= 0, pixels_before_run[jc] + inside, 0)

    # Pixel range [first, last) covered by each (gt, frame) mask; empty
    # (first > last) where the gt has no pixels in that frame.
    num_cells = num_gts * num_frames
    cell_first = np.full(num_cells, num_pixels + 1, dtype=np.int64)  # (G*F,)
    cell_last = np.zeros(num_cells, dtype=np.int64)  # (G*F,)
    is_new = np.ones(g_cell.size, dtype=bool)  # (Rg,) first run of its cell
    is_new[1:] = g_cell[1:] != g_cell[:-1]
    is_end = np.ones(g_cell.size, dtype=bool)  # (Rg,) last run of its cell
    is_end[:-1] = is_new[1:]
    cell_first[g_cell[is_new]] = g_start[is_new]
    cell_last[g_cell[is_end]] = g_end[is_end]

    # Detection runs that reach into the range of a gt mask of their frame:
    # only those (pairs) can intersect it.
    cells = (np.arange(num_gts, dtype=np.int64)[:, None] * num_frames +
             d_frame[None, :])  # (G, Rd)
    pair_gt, pair_run = np.nonzero((d_end[None, :] > cell_first[cells]) &
                                   (d_start[None, :] < cell_last[cells]))
    base = cells[pair_gt, pair_run] * span  # (P,)
    covered = (pixels_before(base + d_end[pair_run]) -
               pixels_before(base + d_start[pair_run]))  # (P,)
    inter = np.bincount(pair_gt * num_dets + d_track[pair_run],
                        weights=covered, minlength=num_gts * num_dets)
    return np.rint(inter).astype(np.int64).reshape(num_gts, num_dets).T


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
    inter = np.where(both, width * height, 0.0).sum(-1)  # (D, G)
    det_len = np.array([t.num_frames for t in dets], dtype=np.int64)
    gt_len = np.array([t.num_frames for t in gts], dtype=np.int64)
    union = _union_from_areas(inter, d_areas, g_areas, det_len, gt_len)
    return _ratio(inter, union), det_avg


# ---------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------
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
    num_dets, num_gts = ious.shape
    num_thrs = len(iou_thresholds)
    match = np.full((num_thrs, num_dets), -1, dtype=np.int64)  # (T, D)
    if num_dets == 0 or num_gts == 0:
        return match
    thresholds = np.minimum(iou_thresholds, 1 - 1e-10)[:, None]  # (T, 1)
    taken = np.zeros((num_thrs, num_gts), dtype=bool)  # (T, G)
    regular = ~gt_ignore  # (G,)
    thr_index = np.arange(num_thrs)
    # A detection below the lowest threshold with every gt matches nothing.
    for d in np.flatnonzero(ious.max(axis=1) >= thresholds.min()):
        row = ious[d]  # (G,)
        allowed = (row >= thresholds) & (~taken | gt_crowd)  # (T, G)
        allowed_regular = allowed & regular  # (T, G)
        candidates = np.where(allowed_regular.any(axis=1, keepdims=True),
                              allowed_regular, allowed)  # (T, G)
        found = candidates.any(axis=1)  # (T,)
        if not found.any():
            continue
        values = np.where(candidates, row, -1.0)  # (T, G)
        best = num_gts - 1 - np.argmax(values[:, ::-1], axis=1)  # last max
        match[found, d] = best[found]
        taken[thr_index[found], best[found]] = True
    return match


@dataclass
class _PairResult:
    """Evaluation of one (video, category) pair for one area range."""
    scores: np.ndarray  # (D,) float64, descending
    matched: np.ndarray  # (T, D) bool, true positive candidates
    ignored: np.ndarray  # (T, D) bool, detections to ignore
    num_positives: int  # number of non-ignored ground truths


def _evaluate_pair(ious, scores, det_areas, gts, area_range, cache):
    """Match one (video, category) pair for one area range.

    Args:
        ious: (D, G) with detections sorted by descending score.
        scores: (D,) sorted detection scores.
        det_areas: (D,) average detection areas.
        gts: G ground-truth tracks in annotation order.
        area_range: (min_area, max_area), inclusive.
        cache: dict reused across area ranges of the same pair.
    """
    lo, hi = area_range
    gt_out = np.array([g.ignore or g.avg_area < lo or g.avg_area > hi
                       for g in gts], dtype=bool)  # (G,)
    key = gt_out.tobytes()
    if key not in cache:
        crowd = np.array([g.is_crowd for g in gts], dtype=bool)  # (G,)
        # The official code marks a match by the gt id, so id 0 is "no match".
        counts = np.array([g.ann_id != 0 for g in gts], dtype=bool)  # (G,)
        match = greedy_match(ious, gt_out, crowd)  # (T, D)
        # Index -1 (no match) reads the appended False.
        matched = np.append(counts, False)[match]  # (T, D)
        ignored_by_gt = np.append(gt_out, False)[match]  # (T, D)
        cache[key] = (matched, ignored_by_gt)
    matched, ignored_by_gt = cache[key]
    det_out = (det_areas < lo) | (det_areas > hi)  # (D,)
    ignored = ignored_by_gt | (~matched & det_out[None, :])  # (T, D)
    return _PairResult(scores, matched, ignored, int((~gt_out).sum()))


# ---------------------------------------------------------------------------
# Accumulation and summary
# ---------------------------------------------------------------------------
def _precision_recall(pairs: List[_PairResult], max_det: int,
                      rec_thresholds: np.ndarray):
    """Precision (T, R) and recall (T,) of one (category, area, maxDet) cell.

    Returns None when the official code leaves the cell at -1 (no pair, or no
    non-ignored ground truth).
    """
    if not pairs:
        return None
    num_positives = sum(p.num_positives for p in pairs)
    if num_positives == 0:
        return None
    scores = np.concatenate([p.scores[:max_det] for p in pairs])  # (N,)
    order = np.argsort(-scores, kind='mergesort')
    matched = np.concatenate([p.matched[:, :max_det] for p in pairs],
                             axis=1)[:, order]  # (T, N)
    ignored = np.concatenate([p.ignored[:, :max_det] for p in pairs],
                             axis=1)[:, order]  # (T, N)
    tp = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)  # (T, N)
    fp = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)  # (T, N)
    num_thrs, num_dets = tp.shape
    recall_curve = tp / num_positives  # (T, N)
    precision_curve = tp / (fp + tp + np.spacing(1))  # (T, N)
    if num_dets:
        recall = recall_curve[:, -1].copy()  # (T,)
    else:
        recall = np.zeros(num_thrs)
    # Interpolate: precision at n is the max precision at any n' >= n.
    envelope = np.maximum.accumulate(precision_curve[:, ::-1], axis=1)[:, ::-1]
    precision = np.zeros((num_thrs, len(rec_thresholds)))  # (T, R)
    for t in range(num_thrs):
        idx = np.searchsorted(recall_curve[t], rec_thresholds, side='left')
        reached = idx < num_dets  # (R,)
        precision[t, reached] = envelope[t, idx[reached]]
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
        self.precision: Optional[np.ndarray] = None
        self.recall: Optional[np.ndarray] = None
        self.stats: Optional[Dict[str, float]] = None

        # (video_id, category_id) -> ground-truth tracks in annotation order.
        self._gts: Dict[Tuple[Any, Any], List[_Track]] = defaultdict(list)
        for ann in gt.get('annotations', []):
            key = (ann['video_id'], ann['category_id'])
            if key[0] in self.videos and key[1] in self._category_index:
                self._gts[key].append(self._gt_track(ann))
        if any(t.ann_id == 0 for ts in self._gts.values() for t in ts):
            warnings.warn(
                'ground truth has an annotation with id 0: as in the official '
                'YouTube-VIS code, detections matched to it count as '
                'unmatched', stacklevel=2)

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
            track = _Track([
                _to_rle_bytes(s, height, width, where)
                for s in ann['segmentations']
            ])
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
            track = _Track([
                _to_rle_bytes(s, height, width, where)
                for s in result['segmentations']
            ])
        else:
            if 'bboxes' not in result:
                raise ValueError(f'{where} has no "bboxes"')
            track = _Track(*_boxes_array(result['bboxes'], where))
        track.score = float(result['score'])
        return track

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

    def evaluate(self, results: Sequence[dict]) -> Dict[str, float]:
        """Evaluate a result list; returns ``{name: value}`` for STAT_NAMES."""
        self._check_videos(results)
        max_det = self.max_dets[-1]

        # (video_id, category_id) -> indices into results, in input order.
        grouped: Dict[Tuple[Any, Any], List[int]] = defaultdict(list)
        for index, result in enumerate(results):
            if result['category_id'] in self._category_index:
                grouped[(result['video_id'], result['category_id'])].append(
                    index)

        keys = sorted(set(self._gts) | set(grouped),
                      key=lambda k: (self._category_index[k[1]],
                                     self._video_index[k[0]]))
        num_areas = len(AREA_RANGES)
        # pairs[k][a]: per-video results of category k, area a, video order.
        pairs: List[List[List[_PairResult]]] = [
            [[] for _ in range(num_areas)] for _ in self.category_ids
        ]
        for video_id, category_id in keys:
            gts = self._gts.get((video_id, category_id), [])
            indices = grouped.get((video_id, category_id), [])
            scores = np.array([float(results[i]['score']) for i in indices],
                              dtype=np.float64)
            keep = np.argsort(-scores, kind='mergesort')[:max_det]
            dets = [self._det_track(indices[i], results[indices[i]])
                    for i in keep]
            if self.iou_type == 'segm':
                height, width = self._video_size(video_id)
                ious, det_areas = mask_video_ious(dets, gts, height, width)
            else:
                ious, det_areas = box_video_ious(dets, gts)
            sorted_scores = scores[keep]
            cache: dict = {}
            k = self._category_index[category_id]
            for a, (_, area_range) in enumerate(AREA_RANGES):
                pairs[k][a].append(
                    _evaluate_pair(ious, sorted_scores, det_areas, gts,
                                   area_range, cache))

        self.precision, self.recall = self._accumulate(pairs)
        self.stats = _summarize(self.precision, self.recall, self.max_dets)
        return dict(self.stats)

    def _accumulate(self, pairs):
        """Precision (T, R, K, A, M) and recall (T, K, A, M), -1 if absent."""
        num_thrs, num_recs = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS)
        shape = (len(self.category_ids), len(AREA_RANGES), len(self.max_dets))
        precision = -np.ones((num_thrs, num_recs) + shape)
        recall = -np.ones((num_thrs, ) + shape)
        for k, per_area in enumerate(pairs):
            for a, cell_pairs in enumerate(per_area):
                for m, max_det in enumerate(self.max_dets):
                    cell = _precision_recall(cell_pairs, max_det,
                                             RECALL_THRESHOLDS)
                    if cell is not None:
                        precision[:, :, k, a, m], recall[:, k, a, m] = cell
        return precision, recall


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
