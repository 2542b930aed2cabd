"""Boundary AP of YouTube-VIS results (Cheng et al., CVPR 2021, "Boundary
IoU: Improving Object-Centric Image Segmentation Evaluation").

Boundary AP is the YouTube-VIS AP (:mod:`vis.evaluation.ytvis_eval`) where
a detection and a ground-truth track are matched by

    min(video mask IoU, video boundary IoU)

instead of the video mask IoU alone.  The video boundary IoU is
``sum_f |band(d_f) & band(g_f)| / sum_f |band(d_f) | band(g_f)|`` over the
frames both tracks' lists have, ``band`` being the mask minus its erosion
by ``d = max(1, round(0.02 * frame diagonal))`` pixels, the image border
counting as contour (:mod:`vis.evaluation.ytvis_eval.boundary`).  Mask IoU
rewards the interior of large objects; the boundary term makes a match
need an outline that follows the object's too.

:class:`BoundaryAPEvaluator` computes mask AP and Boundary AP in one pass:
the mask IoUs of all pairs first, then the boundary IoU of the pairs whose
mask IoU reaches the lowest threshold (0.5) only (below it the minimum is
below every threshold too), from bands computed once per mask of those
pairs' tracks.  Statistics (:data:`BOUNDARY_STAT_NAMES`) are the ``AP``,
``AP50`` and ``AP75`` of that matching (area ``all``, 100 detections), -1
where undefined; per category ``boundary_AP``.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np

from .ytvis_eval.boundary import DILATION_RATIO, boundary_tracks
from .ytvis_eval.evaluator import YTVISEvaluator
from .ytvis_eval.frame_iou import MaskIoU
from .ytvis_eval.params import IOU_THRESHOLDS
from .ytvis_eval.summary import _per_class_ap
from .ytvis_eval.video_iou import _pair_video_ious

__all__ = ['BOUNDARY_PER_CLASS_STAT_NAMES', 'BOUNDARY_STAT_NAMES',
           'BoundaryAPEvaluator', 'evaluate_boundary_ap']

#: The Boundary AP statistics (fractions, -1 where undefined).
BOUNDARY_STAT_NAMES = ('boundary_AP', 'boundary_AP50', 'boundary_AP75')
#: The per-category Boundary AP statistic.
BOUNDARY_PER_CLASS_STAT_NAMES = ('boundary_AP', )
_FROM_STATS = dict(zip(BOUNDARY_STAT_NAMES, ('AP', 'AP50', 'AP75')))


class BoundaryAPEvaluator(YTVISEvaluator):
    """Mask AP and Boundary AP of result lists against one ground truth.

    :meth:`evaluate` returns the 12 mask AP statistics, and ``precision``,
    ``recall``, ``stats``, :meth:`per_class_ap` and
    :meth:`precision_curves` are those of mask AP, exactly as
    :class:`~vis.evaluation.ytvis_eval.YTVISEvaluator` (``iou_type``
    ``segm``, ``frame_iou`` ``mask``); ``boundary_precision``,
    ``boundary_recall`` and ``boundary_stats`` hold the same for the
    min(mask, boundary) matching, read by :meth:`boundary_values` and
    :meth:`boundary_per_class_ap`.

    Args:
        gt: a parsed YouTube-VIS annotation dict.
        max_dets: three detection caps.
        dilation_ratio: boundary band width as a fraction of the frame
            diagonal (0.02).
    """

    def __init__(self, gt: dict, max_dets: Sequence[int] = (1, 10, 100),
                 dilation_ratio: float = DILATION_RATIO):
        super().__init__(gt, 'segm', max_dets, 'mask')
        self.dilation_ratio = float(dilation_ratio)
        self.boundary_precision = self.boundary_recall = None
        self.boundary_stats = None
        self._boundary_ious = None

    # -- hooks of YTVISEvaluator -------------------------------------------
    def _evaluate(self, results):
        self._boundary_ious = None
        try:
            return super()._evaluate(results)
        finally:
            self._boundary_ious = None

    def _det_mask_tracks(self, results, segms, dets, ids):
        tracks = super()._det_mask_tracks(results, segms, dets, ids)
        tracks.cache['describe'] = (
            lambda t: self._where(results, dets, int(ids[t]))[2])
        return tracks

    def _gt_mask_tracks(self, gts, ids):
        tracks = super()._gt_mask_tracks(gts, ids)

        def describe(t: int) -> str:
            g = int(ids[t])
            return (f'annotation {gts.tracks[g].ann_id} (video '
                    f'{self.video_ids[int(gts.video[g])]})')

        tracks.cache['describe'] = describe
        return tracks

    def _pair_ious(self, dets, gts, pair_det, pair_gt, pair_block,
                   block_sizes):
        """The mask IoUs (returned) and, kept for :meth:`_score`, the
        min(mask, boundary) IoUs, 0 where the mask IoU is below the lowest
        threshold."""
        ious = super()._pair_ious(dets, gts, pair_det, pair_gt, pair_block,
                                  block_sizes)  # (Q,)
        lowest = float(IOU_THRESHOLDS.min())
        keep = np.flatnonzero(ious >= lowest)  # (Q',)
        boundary = np.zeros_like(ious)
        if keep.size:
            det_ids, pair_d = np.unique(pair_det[keep], return_inverse=True)
            gt_ids, pair_g = np.unique(pair_gt[keep], return_inverse=True)
            # Mask IoU of the bands = boundary IoU.
            band_ious = _pair_video_ious(
                MaskIoU(), boundary_tracks(dets, self.dilation_ratio, det_ids),
                boundary_tracks(gts, self.dilation_ratio, gt_ids),
                pair_d.ravel(), pair_g.ravel(), pair_block[keep], block_sizes,
                lowest=lowest)  # (Q',)
            boundary[keep] = np.minimum(ious[keep], band_ious)
        self._boundary_ious = boundary
        return ious

    def _score(self, results, segms, dets, gts, gt_lo, pair_det, pair_gt,
               pair_iou, det_avg, known):
        boundary = (pair_iou if self._boundary_ious is None
                    else self._boundary_ious)  # None: no pairs
        super()._score(results, segms, dets, gts, gt_lo, pair_det, pair_gt,
                       boundary, det_avg, known)
        self.boundary_precision = self.precision
        self.boundary_recall = self.recall
        self.boundary_stats = self.stats
        return super()._score(results, segms, dets, gts, gt_lo, pair_det,
                              pair_gt, pair_iou, det_avg, known)

    # -- Boundary AP --------------------------------------------------------
    def boundary_values(self) -> Dict[str, float]:
        """:data:`BOUNDARY_STAT_NAMES` of the last :meth:`evaluate`."""
        if self.boundary_stats is None:
            raise RuntimeError('boundary_values() needs evaluate() to be '
                               'run first')
        return {name: float(self.boundary_stats[key])
                for name, key in _FROM_STATS.items()}

    def boundary_per_class_ap(self) -> Dict[str, Dict[str, float]]:
        """Per category name ``{'boundary_AP': value}`` of the last
        :meth:`evaluate` (area ``all``, 100 detections; -1 without
        non-ignored ground truth), in :attr:`category_names` order."""
        if self.boundary_precision is None:
            raise RuntimeError('boundary_per_class_ap() needs evaluate() to '
                               'be run first')
        table = _per_class_ap(self.boundary_precision, self.max_dets)
        return {name: {BOUNDARY_PER_CLASS_STAT_NAMES[0]: float(row[0])}
                for name, row in zip(self.category_names, table.tolist())}


def evaluate_boundary_ap(gt: dict, results: list,
                         dilation_ratio: float = DILATION_RATIO
                         ) -> Tuple[Dict[str, float],
                                    Dict[str, Dict[str, float]]]:
    """Boundary AP of ``results`` against ``gt``.

    Returns:
        values: ``{name: float}`` for :data:`BOUNDARY_STAT_NAMES`; per_class:
        category name -> ``{'boundary_AP': float}``.

    Raises:
        ValueError: results for a video not in ``gt``, malformed masks.
    """
    evaluator = BoundaryAPEvaluator(gt, dilation_ratio=dilation_ratio)
    evaluator.evaluate(results)
    return evaluator.boundary_values(), evaluator.boundary_per_class_ap()
