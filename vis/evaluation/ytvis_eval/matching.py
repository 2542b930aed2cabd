"""COCO greedy matching of detections to ground truths, at all IoU
thresholds and for many independent groups at once.

Used by the AP evaluator for every (video, category) pair, area range and
IoU threshold in one batch (one detection rank at a time); any other caller
with a (D, G) IoU matrix can use :func:`greedy_match`.
"""

from __future__ import annotations

import numpy as np

from .params import IOU_THRESHOLDS


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


def _match_pairs(det_rank: np.ndarray, gt_crowd: np.ndarray,
                 gt_counted: np.ndarray, gt_out: np.ndarray,
                 gt_lo: np.ndarray, pair_det: np.ndarray,
                 pair_gt: np.ndarray, pair_iou: np.ndarray):
    """Greedy matching of every (video, category) pair of the evaluator.

    Args:
        det_rank: (N,) rank of each detection within its (video, category)
            pair (by descending score); detections are in (category, video,
            rank) order.
        gt_crowd: (G,) bool; gt_counted: (G,) bool, id other than 0 (the
            official quirk); ground truths in (category, video) order.
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
    num = det_rank.size
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
    pair_rank = det_rank[pair_det]
    num_det_slots = int(pair_rank.max()) + 1
    num_gt_slots = int(local_gt.max()) + 1
    ious = np.full((num_groups, num_det_slots, num_gt_slots), -1.0)
    ious[group_of_pair, pair_rank, local_gt] = pair_iou
    gt_count = np.zeros(num_groups, dtype=np.int64)
    np.maximum.at(gt_count, group_of_pair, local_gt + 1)
    slots = np.arange(num_gt_slots)
    valid = slots[None, :] < gt_count[:, None]  # (P, Gs)
    gt_ids = np.where(valid, group_first[:, None] + slots, 0)  # (P, Gs)
    ignore = np.where(valid[None], gt_out[:, gt_ids], True)  # (A,P,Gs)
    crowd = valid & gt_crowd[gt_ids]  # (P, Gs)
    match = _greedy_match_batch(ious, ignore, crowd)  # (A, P, T, Ds)

    det_ids, first_pair = np.unique(pair_det, return_index=True)  # (R,)
    group = group_of_pair[first_pair]  # (R,)
    local = match[:, group, :, det_rank[det_ids]]  # (R, A, T)
    local = np.moveaxis(local, 0, -1)  # (R, A, T) -> (A, T, R)
    hit = local >= 0
    gt_id = group_first[group] + np.where(hit, local, 0)  # (A, T, R)
    matched[:, :, det_ids] = hit & gt_counted[gt_id]
    ignored_by_gt[:, :, det_ids] = hit & gt_out[
        np.arange(num_areas)[:, None, None], gt_id]
    return matched, ignored_by_gt
