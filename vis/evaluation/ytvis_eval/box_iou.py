"""Video IoU of box tracks (``iou_type='bbox'``): the video IoU definition
of :mod:`.video_iou` on ``[x, y, w, h]`` boxes, areas ``w * h``."""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from .frame_iou import _ratio
from .tracks import _mean_of_truthy, _Track


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
    # (D * G,) det-major pairs -> (D, G)
    return _ratio(inter, union).reshape(len(dets), len(gts)), det_avg
