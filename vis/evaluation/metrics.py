"""The metrics a user can ask for (``--metrics ap hota frame boundary``),
computed from a YouTube-VIS ground truth and a results list, and their text
tables.

* ``ap``: the 12 YouTube-VIS statistics of
  :func:`vis.evaluation.ytvis_eval.evaluate_ytvis` (:data:`STAT_NAMES`:
  ``AP``, ``AP50``, ``AP75``, ``APs``, ``APm``, ``APl``, ``AR1``, ``AR10``,
  ``AR100``, ``ARs``, ``ARm``, ``ARl``), fractions, -1 where undefined;
  per category ``AP``, ``AP50``, ``AP75`` and the precision curves.
* ``hota``: the tracking statistics of :mod:`vis.evaluation.tracking`
  (``HOTA``, ``DetA``, ``AssA``, ``IDF1``, ``MOTA`` class-averaged, the same
  names with ``_detavg`` detection-averaged, and ``track_score_thr``),
  fractions too; per category the five statistics.
* ``frame``: per-frame detection AP of :mod:`vis.evaluation.frame_eval`
  (every frame of every track scored as a still image, pycocotools COCO AP:
  :data:`~vis.evaluation.frame_eval.FRAME_STAT_NAMES`, ``frame_mask_AP``,
  ``frame_mask_AP50``, ``frame_mask_AP75``, ``frame_mask_AR100`` and the
  same with ``box``), so that detection failures (low frame AP) are told
  apart from tracking failures (high frame AP, low video AP); per category
  ``frame_mask_AP`` and ``frame_box_AP``.
* ``boundary``: Boundary AP of :mod:`vis.evaluation.boundary_eval`
  (:data:`~vis.evaluation.boundary_eval.BOUNDARY_STAT_NAMES`:
  ``boundary_AP``, ``boundary_AP50``, ``boundary_AP75``): the video AP with
  tracks matched by min(video mask IoU, video boundary IoU), so that a
  match needs the outline right too; per category ``boundary_AP``.  With
  ``ap`` too, both come from one pass over the masks.

Per category, ``ap`` also gives ``AR100``, the statistic ``AR100`` of one
category (so that its mean over the categories with ground truth is the
overall ``AR100``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from .boundary_eval import (BOUNDARY_PER_CLASS_STAT_NAMES,
                            BoundaryAPEvaluator)
from .frame_eval import (FRAME_KINDS, FRAME_PER_CLASS_STAT_NAMES, MAX_DETS,
                         evaluate_frames)
from .tracking import DETAVG_SUFFIX, TRACKING_STAT_NAMES, evaluate_tracking
from .ytvis_eval import (AREA_LABELS, IOU_THRESHOLDS, PER_CLASS_STAT_NAMES,
                         RECALL_THRESHOLDS, STAT_NAMES, YTVISEvaluator)

__all__ = ['METRICS', 'EvaluationReport', 'check_metric_names',
           'evaluate_report', 'evaluate_results', 'format_metrics_table',
           'format_per_class_table']

#: Metric names a user may pass (``--metrics``).
METRICS = ('ap', 'hota', 'frame', 'boundary')

#: The per-category recall of ``ap`` (see :func:`_per_class_recall`).
PER_CLASS_RECALL_NAME = 'AR100'

_AP_ROWS = (STAT_NAMES[:6], STAT_NAMES[6:])  # AP..APl, AR1..ARl
_TRACKING_ROWS = (('class-averaged', ''), ('det-averaged', DETAVG_SUFFIX))
_FRAME_COLUMNS = ('AP', 'AP50', 'AP75', f'AR{MAX_DETS}')
_BOUNDARY_COLUMNS = ('AP', 'AP50', 'AP75')  # boundary_AP ... boundary_AP75
_PER_CLASS_COLUMNS = (PER_CLASS_STAT_NAMES + (PER_CLASS_RECALL_NAME, ) +
                      BOUNDARY_PER_CLASS_STAT_NAMES +
                      FRAME_PER_CLASS_STAT_NAMES + TRACKING_STAT_NAMES)
#: Per-category columns where -1 means undefined (shown ``n/a``).
_UNDEFINED_BELOW_ZERO = (PER_CLASS_STAT_NAMES + (PER_CLASS_RECALL_NAME, ) +
                         BOUNDARY_PER_CLASS_STAT_NAMES +
                         FRAME_PER_CLASS_STAT_NAMES)


def check_metric_names(names: Iterable[str]) -> tuple:
    """Lower-cased metric names without repeats (first order kept).

    Raises:
        ValueError: no name, or names not in :data:`METRICS`.
    """
    if isinstance(names, str):
        names = [names]
    checked: List[str] = []
    for name in names:
        name = str(name).lower()
        if name not in checked:
            checked.append(name)
    if not checked:
        raise ValueError(f'no metric given; known metrics: '
                         f'{", ".join(METRICS)}')
    unknown = [n for n in checked if n not in METRICS]
    if unknown:
        raise ValueError(f'unknown metric(s) {", ".join(map(repr, unknown))};'
                         f' known metrics: {", ".join(METRICS)}')
    return tuple(checked)


@dataclass
class EvaluationReport:
    """Everything one evaluation gives.

    values: metric name -> value (the keys of :func:`evaluate_results`).
    per_class: category name -> metric name -> value (AP, AP50, AP75, AR100
        with ``ap``; boundary_AP with ``boundary``; frame_mask_AP,
        frame_box_AP with ``frame``; HOTA, DetA, AssA, IDF1, MOTA with
        ``hota``, for categories with something to track).
    class_names: the K category names of ``precision``'s last axis.
    precision: (T, R, K) interpolated precision per IoU threshold
        (``iou_thresholds``, T = 10), recall threshold (``recall_thresholds``,
        R = 101) and category, area ``all``, 100 detections; -1 for a
        category without ground truth; None without ``ap``.
    """
    values: Dict[str, float]
    per_class: Dict[str, Dict[str, float]]
    class_names: List[str] = field(default_factory=list)
    precision: Optional[np.ndarray] = None
    iou_thresholds: np.ndarray = field(
        default_factory=lambda: IOU_THRESHOLDS.copy())
    recall_thresholds: np.ndarray = field(
        default_factory=lambda: RECALL_THRESHOLDS.copy())


def evaluate_report(gt: dict, results: list, metrics: Sequence[str] = ('ap',),
                    track_score_thr: float = 0.5,
                    progress: bool = False) -> EvaluationReport:
    """Compute ``metrics`` of ``results`` against ``gt``.

    Args:
        gt: a YouTube-VIS annotation dict (``videos``, ``categories``,
            ``annotations`` with per-frame ``segmentations``, None where
            absent, and ``iscrowd``).
        results: YouTube-VIS results (``video_id``, ``category_id``,
            ``score``, ``segmentations``: per frame an RLE or None).
        metrics: names from :data:`METRICS`.
        track_score_thr: score threshold of the tracking metrics.
        progress: show progress bars where the work is long.

    Returns:
        :class:`EvaluationReport`.

    Raises:
        ValueError: unknown metric names, results naming a video not in
            ``gt``, malformed masks; with ``frame``, a result whose
            ``segmentations`` has another length than its video.
    """
    metrics = check_metric_names(metrics)
    values: Dict[str, float] = {}
    per_class: Dict[str, Dict[str, float]] = {}
    report = EvaluationReport(values, per_class)
    if 'ap' in metrics or 'boundary' in metrics:
        # Boundary AP's evaluator gives mask AP too, from the same IoUs.
        evaluator = (BoundaryAPEvaluator(gt) if 'boundary' in metrics
                     else YTVISEvaluator(gt))
        ap_stats = evaluator.evaluate(results)
    if 'ap' in metrics:
        values.update(ap_stats)
        recall = _per_class_recall(evaluator)
        for name, stats in evaluator.per_class_ap().items():
            per_class.setdefault(name, {}).update(
                stats, **{PER_CLASS_RECALL_NAME: recall[name]})
        report.class_names = list(evaluator.category_names)
        report.precision = evaluator.precision_curves()
    if 'boundary' in metrics:
        values.update(evaluator.boundary_values())
        for name, stats in evaluator.boundary_per_class_ap().items():
            per_class.setdefault(name, {}).update(stats)
    if 'frame' in metrics:
        frame_values, frame_per_class = evaluate_frames(gt, results)
        values.update(frame_values)
        for name, stats in frame_per_class.items():
            per_class.setdefault(name, {}).update(stats)
    if 'hota' in metrics:
        tracking = evaluate_tracking(gt, results, track_score_thr,
                                     progress=progress)
        values.update(tracking.values)
        for name, stats in tracking.per_class.items():
            per_class.setdefault(name, {}).update(stats)
    return report


def _per_class_recall(evaluator: YTVISEvaluator) -> Dict[str, float]:
    """Per category name, its ``AR100`` after ``evaluator.evaluate()``.

    The overall ``AR100`` restricted to one category: the largest recall
    with the largest detection cap (100), area ``all``, averaged over the
    10 IoU thresholds (``evaluator.recall`` is (T, K, A, M), -1 for a
    category without non-ignored ground truth, which gets -1).  Every
    threshold of a category with ground truth is defined, so the mean over
    those categories is the overall ``AR100``.
    """
    recall = evaluator.recall  # (T, K, A, M)
    if recall is None:
        raise RuntimeError('per-class recall needs evaluate() to be run '
                           'first')
    area = AREA_LABELS.index('all')
    caps = [m for m, cap in enumerate(evaluator.max_dets)
            if cap == evaluator.max_dets[-1]]
    out = {}
    for k, name in enumerate(evaluator.category_names):
        values = recall[:, k, area][:, caps]  # (T, M')
        defined = values[values > -1]
        out[name] = float(np.mean(defined)) if defined.size else -1.0
    return out


def evaluate_results(gt: dict, results: list, metrics: Sequence[str] = ('ap',),
                     track_score_thr: float = 0.5) -> Dict[str, float]:
    """The values of :func:`evaluate_report`: ``{name: float}``, with
    :data:`STAT_NAMES` for ``ap``, ``HOTA``, ``DetA``, ``AssA``, ``IDF1``,
    ``MOTA``, their ``*_detavg`` and ``track_score_thr`` for ``hota``,
    :data:`~vis.evaluation.frame_eval.FRAME_STAT_NAMES` for ``frame`` and
    :data:`~vis.evaluation.boundary_eval.BOUNDARY_STAT_NAMES` for
    ``boundary``."""
    return evaluate_report(gt, results, metrics, track_score_thr).values


def _cell(value: Optional[float], undefined_below_zero: bool) -> str:
    """A value x100 with one decimal; ``n/a`` for -1 AP values, ``-`` for a
    missing one."""
    if value is None:
        return '-'
    value = float(value)
    if undefined_below_zero and value < 0:
        return 'n/a'
    return f'{100.0 * value:.1f}'


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]],
          first_left: bool = False) -> List[str]:
    """Right-aligned columns (the first one left-aligned if asked), a rule
    under the header."""
    table = [list(header)] + [list(r) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(cells):
        return '  '.join(
            c.ljust(w) if first_left and i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(table[0]), line(['-' * w for w in widths])] + [
        line(r) for r in table[1:]]


def format_metrics_table(values: Dict[str, float]) -> str:
    """A text table of whatever metrics ``values`` holds.

    An AP block (the :data:`STAT_NAMES` present, x100, ``n/a`` for -1), a
    Boundary AP block (``boundary_AP``, ``boundary_AP50``,
    ``boundary_AP75`` under AP, AP50, AP75), a per-frame detection block
    (``frame_*``: AP, AP50, AP75, AR100 of masks and boxes, x100, ``n/a``
    for -1), a tracking block (HOTA, DetA, AssA,
    IDF1, MOTA class- and detection-averaged, x100) with the score
    threshold it used, then any other key as ``name: value``.
    """
    lines: List[str] = []
    shown = set()
    ap_rows = [[n for n in row if n in values] for row in _AP_ROWS]
    if any(ap_rows):
        lines.append('YouTube-VIS video AP (values x100)')
        for row in filter(None, ap_rows):
            lines += _grid(row, [[_cell(values[n], True) for n in row]])
            shown.update(row)
    boundary = [n for n in (f'boundary_{c}' for c in _BOUNDARY_COLUMNS)
                if n in values]
    if boundary:
        if lines:
            lines.append('')
        lines.append('Boundary AP (values x100)')
        lines += _grid([n[len('boundary_'):] for n in boundary],
                       [[_cell(values[n], True) for n in boundary]])
        shown.update(boundary)
    frame_rows = [(kind, [f'frame_{kind}_{n}' for n in _FRAME_COLUMNS])
                  for kind, _ in FRAME_KINDS]
    frame_rows = [(kind, names) for kind, names in frame_rows
                  if any(n in values for n in names)]
    if frame_rows:
        if lines:
            lines.append('')
        lines.append('Per-frame detection AP (values x100)')
        lines += _grid([''] + list(_FRAME_COLUMNS), [
            [kind] + [_cell(values.get(n), True) for n in names]
            for kind, names in frame_rows], first_left=True)
        for _, names in frame_rows:
            shown.update(names)
    track_rows = [(label, [n + suffix for n in TRACKING_STAT_NAMES])
                  for label, suffix in _TRACKING_ROWS]
    track_rows = [(label, names) for label, names in track_rows
                  if any(n in values for n in names)]
    if track_rows:
        if lines:
            lines.append('')
        lines.append('Tracking (values x100)')
        if 'track_score_thr' in values:
            lines.append('tracking metrics on tracks with score >= '
                         f'{float(values["track_score_thr"]):g}')
            shown.add('track_score_thr')
        lines += _grid([''] + list(TRACKING_STAT_NAMES), [
            [label] + [_cell(values.get(n), False) for n in names]
            for label, names in track_rows], first_left=True)
        for _, names in track_rows:
            shown.update(names)
    others = [k for k in values if k not in shown]
    if others:
        if lines:
            lines.append('')
        lines += [f'{k}: {values[k]}' for k in others]
    return '\n'.join(lines)


def format_per_class_table(per_class: Dict[str, Dict[str, float]]) -> str:
    """A text table with one row per category and a column per metric
    present (AP, AP50, AP75, AR100, boundary_AP, frame_mask_AP,
    frame_box_AP, HOTA, DetA, AssA, IDF1, MOTA, then any other in name
    order; x100; ``n/a`` for an undefined AP or AR, ``-`` where a category
    has no value)."""
    present = {m for stats in per_class.values() for m in stats}
    columns = [m for m in _PER_CLASS_COLUMNS if m in present]
    columns += sorted(present - set(columns))
    if not per_class or not columns:
        return 'no per-category results'
    rows = [[name] + [_cell(stats.get(m), m in _UNDEFINED_BELOW_ZERO)
                      for m in columns]
            for name, stats in per_class.items()]
    return '\n'.join(['Per category (values x100)'] +
                     _grid(['category'] + columns, rows, first_left=True))
