"""Tracking metrics of YouTube-VIS results: HOTA, DetA, AssA (HOTA), IDF1
(Identity) and MOTA (CLEAR), through ``trackeval`` 1.3.0's metric classes.

What trackeval's ``YouTubeVIS`` dataset and ``Evaluator`` do, on our data
structures (trackeval itself only reads folders of files):

* A sequence is a (video, category) pair; its frames are the video's
  (``len(file_names)``, else ``length``; frames beyond a track's list are
  absent, entries beyond the video are ignored).  Ground truths are the
  annotations of the category (``iscrowd`` ones count like the others, as in
  trackeval, which uses ``iscrowd`` for its TrackMAP only); tracker tracks
  are the results of the category with ``score >= track_score_thr`` (our
  addition: trackeval keeps every result, which suits AP but not tracking
  metrics, where every low-scoring track would count as false positives).
* A frame's detections are the tracks whose entry is truthy (a mask, even
  of 0 pixels); similarities are the per-frame IoUs of the registered
  :class:`~vis.evaluation.ytvis_eval.FrameIoU` (``mask``: the pycocotools
  mask IoU, exactly); ids are relabelled to 0..N-1 in trackeval's order
  (ground truths by annotation id, tracker tracks in result order).
* ``eval_sequence`` of each metric per sequence, ``combine_sequences`` per
  category over all videos, then ``combine_classes_class_averaged`` (the
  headline numbers) and ``combine_classes_det_averaged`` (``*_detavg``).
  HOTA, DetA and AssA are the means over HOTA's 19 localisation thresholds,
  as trackeval reports them.

One deliberate difference: the class average skips categories without any
ground-truth or tracked detection in any video (trackeval's own
``ignore_empty_classes=True`` option; ``ignore_empty_classes=False`` gives
trackeval's ``Evaluator`` default, which counts such a category as 0 for
every metric, so that a gt json listing a category with no instance caps
HOTA below 1 even for perfect results).  If no category has anything, all
are averaged (every value 0).

Values are fractions (HOTA 1.0 is perfect), like the AP statistics; MOTA
may be negative.  numpy 2 (2.4 tested): the trackeval code paths used here
(these three metrics' ``eval_sequence`` and ``combine_*``) need no
workaround.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np

from .results_file import video_num_frames
from .ytvis_eval import FrameIoU, get_frame_iou
from .ytvis_eval.evaluator import _unique_names, id_sort_key
from .ytvis_eval.rle import _present_masks
from .ytvis_eval.tracks import _pack_mask_tracks
from .ytvis_eval.video_iou import _pair_frame_ious

__all__ = ['TRACKING_STAT_NAMES', 'TrackingResult', 'evaluate_tracking']

#: The headline tracking statistics (class-averaged); each also comes
#: detection-averaged as ``<name>_detavg``.
TRACKING_STAT_NAMES = ('HOTA', 'DetA', 'AssA', 'IDF1', 'MOTA')
DETAVG_SUFFIX = '_detavg'
#: Similarity threshold of the CLEAR and Identity matches (trackeval's).
MATCH_THRESHOLD = 0.5


@dataclass
class TrackingResult:
    """values: the class-averaged :data:`TRACKING_STAT_NAMES`, the
    ``*_detavg`` ones and ``track_score_thr``; per_class: category name ->
    the five statistics of that category (categories with nothing to
    evaluate are left out); raw: category name (and ``'cls_comb_cls_av'``,
    ``'cls_comb_det_av'``) -> trackeval metric name -> its result dict."""
    values: Dict[str, float]
    per_class: Dict[str, Dict[str, float]]
    raw: Dict[str, Dict[str, dict]] = field(repr=False, default_factory=dict)


def _metrics():
    """trackeval's HOTA, CLEAR and Identity instances (imported here: the
    package is only needed for these metrics)."""
    try:
        from trackeval.metrics import CLEAR, HOTA, Identity
    except ImportError as err:
        raise ImportError(
            'the tracking metrics need trackeval 1.3.0: pip install '
            '--no-deps trackeval==1.3.0 (plus scipy, tabulate)') from err
    config = {'THRESHOLD': MATCH_THRESHOLD, 'PRINT_CONFIG': False}
    return {'HOTA': HOTA(), 'CLEAR': CLEAR(dict(config)),
            'Identity': Identity(dict(config))}


def _summary(res: Dict[str, dict]) -> Dict[str, float]:
    """The five statistics from one combined result of each metric."""
    hota, clear, identity = res['HOTA'], res['CLEAR'], res['Identity']
    return {'HOTA': float(np.mean(hota['HOTA'])),
            'DetA': float(np.mean(hota['DetA'])),
            'AssA': float(np.mean(hota['AssA'])),
            'IDF1': float(identity['IDF1']),
            'MOTA': float(clear['MOTA'])}


def _is_empty(res: Dict[str, dict]) -> bool:
    """No gt and no tracked detection (HOTA's TP + FN + FP is 0)."""
    hota = res['HOTA']
    return not np.any(hota['HOTA_TP'] + hota['HOTA_FN'] + hota['HOTA_FP'])


def _empty_data(num_timesteps: int = 0) -> dict:
    """A sequence without ground truth or tracked detections."""
    return {'num_timesteps': num_timesteps, 'num_gt_ids': 0,
            'num_tracker_ids': 0, 'num_gt_dets': 0, 'num_tracker_dets': 0,
            'gt_ids': [np.zeros(0, int)] * num_timesteps,
            'tracker_ids': [np.zeros(0, int)] * num_timesteps,
            'similarity_scores': [np.zeros((0, 0))] * num_timesteps,
            'seq': ''}


def _split_by_frame(present: np.ndarray, labels: np.ndarray) -> list:
    """Per frame, the labels of the tracks present, in track order.

    Args:
        present: (N, T) bool; labels: (N,) int64.

    Returns:
        T (n_t,) int64 arrays.
    """
    if present.shape[1] == 0:
        return []
    _, track = np.nonzero(present.T)  # (n,) frame-major: (T, N) order
    counts = present.sum(axis=0)  # (T,)
    return np.split(labels[track], np.cumsum(counts)[:-1])


def _sequence_data(gt_present: np.ndarray, det_present: np.ndarray,
                   gt_order: np.ndarray, pf_gt: np.ndarray,
                   pf_det: np.ndarray, pf_frame: np.ndarray,
                   pf_iou: np.ndarray, seq: str) -> dict:
    """trackeval's preprocessed data of one (video, category) sequence.

    Args:
        gt_present: (G, T) bool, the category's gt tracks of the video (in
            annotation order) per frame; det_present: (D, T) bool, its
            tracker tracks (in result order).
        gt_order: (G,) int64 the gts sorted by annotation id (trackeval
            relabels ids in sorted order).
        pf_gt, pf_det, pf_frame: (P,) int64 same-frame pairs of masks of
            non-zero size (indices into the G gts and D dets); pf_iou: (P,)
            float64 their IoUs (all other pairs: 0).
        seq: a name for messages.

    Returns:
        dict with the keys the metrics' ``eval_sequence`` reads:
        ``num_timesteps``, ``num_gt_ids``, ``num_tracker_ids``,
        ``num_gt_dets``, ``num_tracker_dets``, ``gt_ids`` and
        ``tracker_ids`` (T (n_t,) int arrays), ``similarity_scores``
        (T (gt n_t, tracker n_t) float64 arrays), ``seq``.
    """
    num_gts, num_frames = gt_present.shape
    gt_used = gt_present.any(axis=1)  # (G,)
    det_used = det_present.any(axis=1)  # (D,)
    gt_label = np.full(num_gts, -1, dtype=np.int64)
    used_in_order = gt_order[gt_used[gt_order]]
    gt_label[used_in_order] = np.arange(used_in_order.size)
    det_label = np.cumsum(det_used) - 1  # (D,) result order
    # Row of each track in each frame's similarity matrix.
    gt_row = np.cumsum(gt_present, axis=0) - 1  # (G, T)
    det_col = np.cumsum(det_present, axis=0) - 1  # (D, T)
    n_gt = gt_present.sum(axis=0)  # (T,)
    n_det = det_present.sum(axis=0)  # (T,)
    # All frames' (n_gt, n_det) matrices in one flat buffer, frame after
    # frame, each row-major.
    ends = np.cumsum(n_gt * n_det)  # (T,)
    starts = ends - n_gt * n_det
    flat = np.zeros(int(ends[-1]) if num_frames else 0)
    flat[starts[pf_frame] + gt_row[pf_gt, pf_frame] * n_det[pf_frame] +
         det_col[pf_det, pf_frame]] = pf_iou
    similarity = [flat[s:e].reshape(g, d)  # (n_gt, n_det) of frame t
                  for s, e, g, d in zip(starts.tolist(), ends.tolist(),
                                        n_gt.tolist(), n_det.tolist())]
    return {'num_timesteps': num_frames,
            'num_gt_ids': int(gt_used.sum()),
            'num_tracker_ids': int(det_used.sum()),
            'num_gt_dets': int(n_gt.sum()),
            'num_tracker_dets': int(n_det.sum()),
            'gt_ids': _split_by_frame(gt_present, gt_label),
            'tracker_ids': _split_by_frame(det_present, det_label),
            'similarity_scores': similarity,
            'seq': seq}


@dataclass
class _VideoTracks:
    """One video's tracks of listed categories: per track its category
    index, (frames, counts, rles) of present masks, and for gts the
    annotation id."""
    gt_cat: List[int] = field(default_factory=list)
    gt_masks: List[tuple] = field(default_factory=list)
    gt_ids: List[Any] = field(default_factory=list)
    det_cat: List[int] = field(default_factory=list)
    det_masks: List[tuple] = field(default_factory=list)


def _video_sequences(frame_iou: FrameIoU, tracks: _VideoTracks,
                     num_frames: int, size: Tuple[int, int],
                     seq: str) -> Dict[int, dict]:
    """trackeval data of every category of one video that has tracks.

    Returns:
        category index -> :func:`_sequence_data`'s dict.
    """
    gt_cat = np.array(tracks.gt_cat, dtype=np.int64)  # (G,)
    det_cat = np.array(tracks.det_cat, dtype=np.int64)  # (D,)
    gts = _pack_mask_tracks(tracks.gt_masks,
                            np.full(gt_cat.size, num_frames, np.int64))
    dets = _pack_mask_tracks(tracks.det_masks,
                             np.full(det_cat.size, num_frames, np.int64))
    gt_pos = gts.tables(num_frames)[0]  # (G, T) mask index or -1
    det_pos = dets.tables(num_frames)[0]  # (D, T)
    # All (det, gt) pairs of the same category, det-major.
    same = det_cat[:, None] == gt_cat[None, :]  # (D, G)
    pair_det, pair_gt = np.nonzero(same)  # (Q,)
    pf_pair, pf_frame, pf_iou = _pair_frame_ious(
        frame_iou, dets, gts, pair_det, pair_gt,
        np.zeros_like(pair_det), [size])  # (P,)
    pf_det, pf_gt = pair_det[pf_pair], pair_gt[pf_pair]
    pf_cat = gt_cat[pf_gt]
    gt_order = sorted(range(gt_cat.size),
                      key=lambda g: id_sort_key(tracks.gt_ids[g]))
    out = {}
    for k in np.unique(np.concatenate([gt_cat, det_cat])).tolist():
        g_sel = np.flatnonzero(gt_cat == k)  # (G_k,) annotation order
        d_sel = np.flatnonzero(det_cat == k)  # (D_k,) result order
        g_local = np.full(gt_cat.size, -1, dtype=np.int64)
        g_local[g_sel] = np.arange(g_sel.size)
        d_local = np.full(det_cat.size, -1, dtype=np.int64)
        d_local[d_sel] = np.arange(d_sel.size)
        in_k = pf_cat == k
        order = g_local[[g for g in gt_order if gt_cat[g] == k]]
        out[k] = _sequence_data(
            gt_pos[g_sel] >= 0, det_pos[d_sel] >= 0,
            np.asarray(order, dtype=np.int64), g_local[pf_gt[in_k]],
            d_local[pf_det[in_k]], pf_frame[in_k], pf_iou[in_k], seq)
    return out


def _collect_tracks(gt: dict, results: Sequence[dict],
                    track_score_thr: float):
    """Videos (json order) with their sizes, frame counts and tracks.

    Raises:
        ValueError: a result naming a video not in ``gt``; bad masks.
    """
    videos = list(gt.get('videos', []))
    video_index = {v['id']: i for i, v in enumerate(videos)}
    sizes = [(int(v['height']), int(v['width'])) for v in videos]
    lengths = [video_num_frames(v) for v in videos]
    cat_index = {}
    for c in gt.get('categories', []):
        cat_index.setdefault(c['id'], len(cat_index))
    per_video = defaultdict(_VideoTracks)
    for ann in gt.get('annotations', []):
        v = video_index.get(ann['video_id'])
        k = cat_index.get(ann['category_id'])
        if v is None or k is None:
            continue
        where = f'annotation {ann.get("id")} (video {ann["video_id"]!r})'
        track = per_video[v]
        track.gt_cat.append(k)
        track.gt_masks.append(_present_masks(
            ann['segmentations'][:lengths[v]], *sizes[v], where))
        track.gt_ids.append(ann.get('id'))
    unknown = sorted({r['video_id'] for r in results} - set(video_index),
                     key=id_sort_key)
    if unknown:
        raise ValueError('results refer to video ids not in the ground '
                         f'truth: {", ".join(map(repr, unknown[:10]))}'
                         f'{" ..." if len(unknown) > 10 else ""}')
    for i, r in enumerate(results):
        k = cat_index.get(r['category_id'])
        if k is None or not float(r['score']) >= track_score_thr:
            continue
        v = video_index[r['video_id']]
        where = f'result {i} (video {r["video_id"]!r})'
        if 'segmentations' not in r:
            raise ValueError(f'{where} has no "segmentations"')
        track = per_video[v]
        track.det_cat.append(k)
        track.det_masks.append(_present_masks(
            r['segmentations'][:lengths[v]], *sizes[v], where))
    return videos, sizes, lengths, cat_index, per_video


def evaluate_tracking(gt: dict, results: Sequence[dict],
                      track_score_thr: float = 0.5,
                      frame_iou: Union[str, FrameIoU] = 'mask',
                      ignore_empty_classes: bool = True,
                      progress: bool = False) -> TrackingResult:
    """HOTA, DetA, AssA, IDF1 and MOTA of YouTube-VIS results.

    Args:
        gt: a YouTube-VIS annotation dict (``videos`` with ``height``,
            ``width`` and ``file_names`` or ``length``; ``categories``;
            ``annotations`` with per-frame ``segmentations``, None where
            absent).
        results: YouTube-VIS results (``video_id``, ``category_id``,
            ``score``, ``segmentations``); results of categories not in
            ``gt`` are ignored.  Not modified.
        track_score_thr: results scoring below it are not tracks.
        frame_iou: the per-frame similarity (see :mod:`.ytvis_eval`).
        ignore_empty_classes: leave categories without any detection out of
            the class average (see the module docstring).
        progress: show a progress bar over the videos (tqdm).

    Returns:
        :class:`TrackingResult`.

    Raises:
        ValueError: a result naming a video not in ``gt``, bad masks.
        ImportError: trackeval is not installed.
    """
    frame_iou = get_frame_iou(frame_iou)
    metrics = _metrics()
    videos, sizes, lengths, cat_index, per_video = _collect_tracks(
        gt, results, track_score_thr)
    empty = {name: m.eval_sequence(_empty_data())
             for name, m in metrics.items()}
    # category index -> metric -> per-sequence results
    per_seq: Dict[int, Dict[str, list]] = {
        k: {name: [] for name in metrics} for k in cat_index.values()}
    iterator = range(len(videos))
    if progress:
        from tqdm import tqdm
        iterator = tqdm(iterator, desc='tracking metrics', unit='video')
    for v in iterator:
        sequences = {}
        if v in per_video:
            sequences = _video_sequences(
                frame_iou, per_video.pop(v), lengths[v], sizes[v],
                seq=f'video {videos[v]["id"]!r}')
        for k, lists in per_seq.items():
            for name, metric in metrics.items():
                lists[name].append(metric.eval_sequence(sequences[k])
                                   if k in sequences else empty[name])
    names = _unique_names([(str(c.get('name', c['id'])), c['id'])
                           for c in _first_of_each(gt)])
    per_class_raw = {
        names[k]: {name: metrics[name].combine_sequences(dict(enumerate(seqs)))
                   for name, seqs in lists.items()}
        for k, lists in per_seq.items()}
    return _combine_classes(metrics, per_class_raw, track_score_thr,
                            ignore_empty_classes)


def _first_of_each(gt: dict) -> List[dict]:
    """``gt['categories']`` without repeated ids (the first one kept)."""
    seen, out = set(), []
    for c in gt.get('categories', []):
        if c['id'] not in seen:
            seen.add(c['id'])
            out.append(c)
    return out


def _combine_classes(metrics: dict, per_class_raw: Dict[str, dict],
                     track_score_thr: float,
                     ignore_empty_classes: bool) -> TrackingResult:
    """Class-averaged and detection-averaged values from per-category
    results (category name -> metric name -> combined result)."""
    kept = {c: res for c, res in per_class_raw.items()
            if not (ignore_empty_classes and _is_empty(res))}
    if not kept:
        kept = per_class_raw
    values: Dict[str, float] = {}
    raw = dict(per_class_raw)
    if kept:
        class_avg = {name: m.combine_classes_class_averaged(
            {c: res[name] for c, res in kept.items()})
            for name, m in metrics.items()}
        det_avg = {name: m.combine_classes_det_averaged(
            {c: res[name] for c, res in per_class_raw.items()})
            for name, m in metrics.items()}
        raw.update(cls_comb_cls_av=class_avg, cls_comb_det_av=det_avg)
        values.update(_summary(class_avg))
        values.update({k + DETAVG_SUFFIX: v
                       for k, v in _summary(det_avg).items()})
    else:  # no category at all
        values.update({k: 0.0 for k in TRACKING_STAT_NAMES})
        values.update({k + DETAVG_SUFFIX: 0.0 for k in TRACKING_STAT_NAMES})
    values['track_score_thr'] = float(track_score_thr)
    per_class = {c: _summary(res) for c, res in per_class_raw.items()
                 if not _is_empty(res)}
    return TrackingResult(values, per_class, raw)
