"""COCO accumulation: precision / recall of every (IoU threshold, category,
area range, max_dets) cell from the matched detections.

Works on the true-positive events of each (category, area, max_dets,
threshold) list: the interpolated precision at a recall level is the largest
precision at this or a later true positive.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .params import RECALL_THRESHOLDS


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
            # (T, K', R) -> (T, R, K')
            precision[:, :, defined, a, m] = q.transpose(0, 2, 1)
    return precision, recall
