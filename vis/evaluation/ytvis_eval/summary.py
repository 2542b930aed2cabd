"""The summary statistics (the 12 official numbers) and the per-category
AP and precision curves, from the accumulated precision and recall."""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from .params import AREA_LABELS, IOU_THRESHOLDS, STAT_NAMES

#: The per-category statistics of :func:`_per_class_ap`.
PER_CLASS_STAT_NAMES = ('AP', 'AP50', 'AP75')


def _mean_defined(values: np.ndarray) -> float:
    """Mean of the entries > -1 of ``values``, -1 if there is none."""
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else -1.0


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
        return _mean_defined(values[..., a_idx, m_idx])

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


def _max_det_index(max_dets: Sequence[int]) -> int:
    """Index of the cap the AP is read at: 100 as in the official AP (which
    reads ``maxDets == 100`` literally), the largest cap without it."""
    max_dets = list(max_dets)
    return max_dets.index(100) if 100 in max_dets else len(max_dets) - 1


def _per_class_ap(precision: np.ndarray,
                  max_dets: Sequence[int]) -> np.ndarray:
    """AP, AP50 and AP75 of every category.

    The summary's first three numbers restricted to one category (area
    ``all``; all three at the cap of :func:`_max_det_index`), so that with
    one category they are the summary's, bit for bit.

    Args:
        precision: (T, R, K, A, M) accumulated precision, -1 where undefined.
        max_dets: the M caps.

    Returns:
        (K, 3) float64, columns :data:`PER_CLASS_STAT_NAMES`, -1 for a
        category without non-ignored ground truth.
    """
    a = AREA_LABELS.index('all')
    m = _max_det_index(max_dets)
    t50 = np.where(IOU_THRESHOLDS == .5)[0]
    t75 = np.where(IOU_THRESHOLDS == .75)[0]
    out = np.empty((precision.shape[2], len(PER_CLASS_STAT_NAMES)))
    for k in range(precision.shape[2]):
        values = precision[:, :, k, a, m]  # (T, R)
        out[k] = (_mean_defined(values), _mean_defined(values[t50]),
                  _mean_defined(values[t75]))
    return out


def _precision_curves(precision: np.ndarray,
                      max_dets: Sequence[int]) -> np.ndarray:
    """(T, R, K) interpolated precision per IoU threshold, recall threshold
    and category, for area ``all`` at the cap of :func:`_max_det_index`
    (-1 for categories without non-ignored ground truth)."""
    return precision[:, :, :, AREA_LABELS.index('all'),
                     _max_det_index(max_dets)].copy()
