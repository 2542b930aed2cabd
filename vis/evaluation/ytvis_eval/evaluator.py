"""The YouTube-VIS AP evaluator: :class:`YTVISEvaluator` and
:func:`evaluate_ytvis` (definitions and quirks: the package docstring).

Per (video, category): detections are stably sorted by descending score and
truncated to ``max(max_dets)``; their video IoUs with the ground truths
(:mod:`.video_iou`, :mod:`.box_iou`) are matched greedily at the 10 IoU
thresholds for each of the 4 area ranges (:mod:`.matching`), then
accumulated (:mod:`.accumulate`) and summarised (:mod:`.summary`).

The time goes into reading RLE strings, so the work is organised to read as
few as possible:

* Detections that share a (video, category) with ground truths get their
  per-frame areas, and so do those ground truths.  A pair whose IoU cannot
  reach the lowest threshold even if every intersection were
  ``min(|d_f|, |g_f|)`` is not intersected and gets IoU 0 (its IoU only
  enters comparisons with the thresholds).
* Detections compared with no ground truth are never matched; their area
  only decides whether they are false positives or ignored in the small /
  medium / large ranges, which matters only if they rank before the last
  true positive of their category (see ``_ranked_before_last_tp``), so only
  those are measured.
* The cyclic garbage collector is paused while evaluating (restored after).

Video (and category) ids may be of any json type, even mixed: they are
ordered by ``(type name, value)``, which for ids of one type is the
official ``sorted()`` order.
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections import defaultdict
from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .accumulate import _accumulate
from .box_iou import box_video_ious
from .frame_iou import FrameIoU, get_frame_iou
from .matching import _match_pairs
from .params import AREA_RANGES, IOU_THRESHOLDS
from .rle import (_dict_areas, _MaskTracks, _mean_nonzero_segments,
                  _measure, _present_frames, _present_masks)
from .summary import (PER_CLASS_STAT_NAMES, _per_class_ap,
                      _precision_curves, _summarize)
from .tracks import (_boxes_array, _mean_of_truthy, _pack_mask_tracks,
                     _segm_track, _Track, mask_track_areas)
from .video_iou import _pair_video_ious

__all__ = ['YTVISEvaluator', 'evaluate_ytvis', 'id_sort_key']

_IOU_TYPES = ('segm', 'bbox')


def id_sort_key(value) -> Tuple[str, Any]:
    """Sort key of a json id of any type: ``(type name, value)``, so that
    ids of mixed types (1 and '1') sort without comparing across types and
    ids of one type sort as themselves."""
    return type(value).__name__, value


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
        frame_iou: how two masks of one frame are compared (``segm``): a
            name registered in :mod:`.frame_iou` (``'mask'``) or an
            instance.

    ``video_ids``, ``category_ids`` and ``category_names`` list the videos
    and categories in evaluation order (K categories).  After
    :meth:`evaluate`, ``precision`` (T, R, K, A, M), ``recall``
    (T, K, A, M) and ``stats`` hold the accumulated results, with -1 where
    undefined; :meth:`per_class_ap` and :meth:`precision_curves` read them
    per category.
    """

    def __init__(self, gt: dict, iou_type: str = 'segm',
                 max_dets: Sequence[int] = (1, 10, 100),
                 frame_iou: Union[str, FrameIoU] = 'mask'):
        if iou_type not in _IOU_TYPES:
            raise ValueError(f'iou_type must be one of {_IOU_TYPES}, '
                             f'got {iou_type!r}')
        max_dets = sorted(int(m) for m in max_dets)
        if len(max_dets) != 3 or max_dets[0] < 1:
            raise ValueError('max_dets must be three positive integers, got '
                             f'{max_dets}')
        self.iou_type = iou_type
        self.max_dets = max_dets
        self.frame_iou = get_frame_iou(frame_iou)
        self.videos = {v['id']: v for v in gt.get('videos', [])}
        self.video_ids = sorted(self.videos, key=id_sort_key)
        names = {}
        for c in gt.get('categories', []):
            names.setdefault(c['id'], str(c.get('name', c['id'])))
        self.category_ids = sorted(names, key=id_sort_key)
        self.category_names = _unique_names(
            [(names[c], c) for c in self.category_ids])
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

    def per_class_ap(self) -> Dict[str, Dict[str, float]]:
        """Per category name, ``{'AP', 'AP50', 'AP75'}`` of the last
        :meth:`evaluate` (area ``all``, 100 detections; -1 for a category
        without non-ignored ground truth), in :attr:`category_names` order.
        """
        table = _per_class_ap(self._evaluated('per_class_ap'),
                              self.max_dets)  # (K, 3)
        return {name: dict(zip(PER_CLASS_STAT_NAMES, map(float, row)))
                for name, row in zip(self.category_names, table.tolist())}

    def precision_curves(self) -> np.ndarray:
        """(T, R, K) interpolated precision of the last :meth:`evaluate` at
        the IoU thresholds :data:`IOU_THRESHOLDS` (T), the recall thresholds
        :data:`RECALL_THRESHOLDS` (R) and per category (K, as
        :attr:`category_names`), for area ``all`` and 100 detections; -1 for
        a category without non-ignored ground truth."""
        return _precision_curves(self._evaluated('precision_curves'),
                                 self.max_dets)

    def _evaluated(self, what: str) -> np.ndarray:
        if self.precision is None:
            raise RuntimeError(f'{what}() needs evaluate() to be run first')
        return self.precision

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

        known = segms = None
        if self.iou_type == 'segm':
            segms = self._result_segms(results, dets)
            det_avg, known, pair_iou = self._mask_ious(
                results, segms, dets, gts, pair_det, pair_gt)
        else:
            det_avg, pair_iou = self._box_ious(results, dets, gts, pair_det,
                                               pair_gt)
        return self._score(results, segms, dets, gts, gt_lo, pair_det,
                           pair_gt, pair_iou, det_avg, known)

    def _score(self, results, segms, dets: _Detections, gts: _GroundTruths,
               gt_lo, pair_det, pair_gt, pair_iou, det_avg,
               known) -> Dict[str, float]:
        """Match the pairs by ``pair_iou``, accumulate and summarise (sets
        ``precision``, ``recall``, ``stats``); completes ``det_avg`` and
        ``known`` where areas were needed."""
        bounds = np.array([r for _, r in AREA_RANGES])  # (A, 2)
        gt_out = (gts.ignore[None, :] |
                  (gts.avg_area[None, :] < bounds[:, :1]) |
                  (gts.avg_area[None, :] > bounds[:, 1:]))  # (A, G)
        matched, ignored_by_gt = _match_pairs(
            dets.rank, gts.crowd, gts.counted, gt_out, gt_lo, pair_det,
            pair_gt, pair_iou)
        if known is not None and not known.all():
            # The other detections have no gt in their (video, category):
            # only those ranked before a true positive can change a result.
            needed = np.flatnonzero(~known & self._ranked_before_last_tp(
                dets, matched & ~ignored_by_gt, bounds))
            det_avg[needed] = self._mask_avg_areas(results, segms, dets,
                                                   needed)
            known[needed] = True
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
            rles = list(chain.from_iterable(m[2] for m in masks))
            areas, packed = _measure(counts, rles)
        return _MaskTracks(counts, frames, areas, per_track, length, packed,
                           rles=rles)

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
        ious = self._pair_ious(det_tracks, self._gt_mask_tracks(gts, gt_ids),
                               det_index[pair_det], gt_index[pair_gt],
                               pair_block.ravel(), block_sizes)
        return det_avg, known, ious

    def _pair_ious(self, dets: _MaskTracks, gts: _MaskTracks,
                   pair_det: np.ndarray, pair_gt: np.ndarray,
                   pair_block: np.ndarray, block_sizes: list) -> np.ndarray:
        """(Q,) matching IoUs of mask track pairs (arguments as
        :func:`~.video_iou._pair_video_ious`), 0 for pairs provably below
        the lowest threshold; a hook for subclasses (Boundary AP)."""
        return _pair_video_ious(self.frame_iou, dets, gts, pair_det, pair_gt,
                                pair_block, block_sizes,
                                lowest=float(IOU_THRESHOLDS.min()))

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


def evaluate_ytvis(gt: dict, results: list, iou_type: str = 'segm',
                   max_dets=(1, 10, 100),
                   frame_iou: Union[str, FrameIoU] = 'mask') -> dict:
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
        frame_iou: the per-frame mask IoU (``segm``), see
            :mod:`.frame_iou`.

    Returns:
        ``{name: float}`` for the 12 :data:`STAT_NAMES`, with the meaning and
        values of the official API's ``summarize()`` (-1 where undefined).

    Raises:
        ValueError: results for a video id that is not in ``gt``, or
            malformed inputs.
    """
    return YTVISEvaluator(gt, iou_type, max_dets,
                          frame_iou).evaluate(results)


def _unique_names(named: Sequence[Tuple[str, Any]]) -> List[str]:
    """Category names, made unique: a name shared by several ids becomes
    ``'name (id X)'`` for each of them."""
    count: Dict[str, int] = defaultdict(int)
    for name, _ in named:
        count[name] += 1
    return [name if count[name] == 1 else f'{name} (id {cid})'
            for name, cid in named]
