"""Evaluation plots from plain arrays: per-category bars and
precision-recall curves (PNG, matplotlib's Agg backend).

matplotlib is imported by the drawing functions only, so importing this
module (or :mod:`vis`) stays cheap.  Every PNG is written to a temporary
file next to its path and renamed into place.
"""
import math
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

__all__ = ['mean_pr_curves', 'plot_per_class_bars', 'plot_pr_curves',
           'plot_per_class_pr_curves']


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(fig, out_path: str) -> str:
    """Write ``fig`` to ``out_path`` (PNG) atomically and close it."""
    plt = _pyplot()
    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    tmp = f'{out_path}.tmp{os.getpid()}'
    try:
        fig.savefig(tmp, dpi=100, format='png')
        os.replace(tmp, out_path)
    finally:
        plt.close(fig)
        if osp.exists(tmp):
            os.remove(tmp)
    return out_path


def _mean_defined(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` of the entries > -1; NaN where none is."""
    defined = values > -1
    count = defined.sum(axis=axis)
    total = np.where(defined, values, 0.0).sum(axis=axis)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def mean_pr_curves(precision: np.ndarray,
                   iou_thresholds: Sequence[float]) -> Dict[str, np.ndarray]:
    """Category-averaged precision-recall curves.

    Args:
        precision: (T, R, K) interpolated precision per IoU threshold,
            recall threshold and category, -1 for undefined categories.
        iou_thresholds: (T,) the IoU thresholds.

    Returns:
        ``{'IoU 0.50': (R,), 'IoU 0.75': (R,), 'IoU 0.50:0.95': (R,)}``
        (the thresholds present), the mean over defined categories (and,
        for the last, over thresholds: the curve whose area is the AP);
        NaN where no category is defined.
    """
    precision = np.asarray(precision, dtype=np.float64)
    thresholds = np.asarray(iou_thresholds, dtype=np.float64)
    per_thr = _mean_defined(precision, axis=2)  # (T, R) mean over K
    curves = {}
    for thr in (0.5, 0.75):
        index = np.flatnonzero(np.isclose(thresholds, thr))
        if index.size:
            curves[f'IoU {thr:.2f}'] = per_thr[index[0]]
    # (T, R, K) -> (R, T * K): every (threshold, category) of a recall
    flat = precision.transpose(1, 0, 2).reshape(precision.shape[1], -1)
    curves[f'IoU {thresholds.min():.2f}:{thresholds.max():.2f}'] = \
        _mean_defined(flat, axis=1)
    return curves


def plot_pr_curves(recall: Sequence[float], curves: Dict[str, np.ndarray],
                   out_path: str, title: str = '') -> str:
    """Precision-recall curves into one PNG.

    Args:
        recall: (R,) recall thresholds.
        curves: label -> (R,) precision (NaN points are not drawn).
        out_path: the PNG to write.
        title: figure title.

    Returns:
        ``out_path``.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, values in curves.items():
        ax.plot(recall, values, label=label, linewidth=1.2)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel('recall')
    ax.set_ylabel('precision')
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=8, loc='lower left')
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out_path)


def plot_per_class_bars(names: Sequence[str], values: Sequence[float],
                        out_path: str, label: str = 'AP',
                        title: str = '') -> str:
    """One horizontal bar per category, values x100 written beside them.

    Args:
        names: K category names; values: K fractions (a negative or NaN
            value is undefined: no bar, ``n/a``).
        out_path: the PNG to write.
        label: what the values are (axis label).
        title: figure title.

    Returns:
        ``out_path``.
    """
    names = [str(n) for n in names]
    values = np.asarray(values, dtype=np.float64)  # (K,)
    if values.shape != (len(names),):
        raise ValueError(f'{len(names)} names but values of shape '
                         f'{values.shape}')
    plt = _pyplot()
    defined = np.isfinite(values) & (values >= 0)
    shown = np.where(defined, values * 100.0, 0.0)
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.28 * max(len(names), 1)))
    rows = np.arange(len(names))
    ax.barh(rows, shown, color='tab:blue')
    for row, ok, value in zip(rows.tolist(), defined.tolist(),
                              shown.tolist()):
        ax.text(value + 1, row, f'{value:.1f}' if ok else 'n/a',
                va='center', fontsize=7)
    ax.set_yticks(rows)
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()  # first category on top
    ax.set_xlim(0, 110)
    ax.set_xlabel(f'{label} (x100)')
    ax.grid(axis='x', alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out_path)


def plot_per_class_pr_curves(recall: Sequence[float], precision: np.ndarray,
                             names: Sequence[str],
                             iou_thresholds: Sequence[float],
                             out_path: str,
                             shown_thresholds: Sequence[float] = (0.5, 0.75)
                             ) -> str:
    """A grid of small precision-recall panels, one per category.

    Args:
        recall: (R,) recall thresholds.
        precision: (T, R, K) as in :func:`mean_pr_curves`.
        names: the K category names.
        iou_thresholds: (T,).
        out_path: the PNG to write.
        shown_thresholds: the IoU thresholds drawn in each panel.

    Returns:
        ``out_path``.
    """
    precision = np.asarray(precision, dtype=np.float64)
    if precision.ndim != 3 or precision.shape[2] != len(names):
        raise ValueError(f'precision must be (T, R, {len(names)}), got '
                         f'{precision.shape}')
    thresholds = np.asarray(iou_thresholds, dtype=np.float64)
    picks: List[int] = [int(np.flatnonzero(np.isclose(thresholds, t))[0])
                        for t in shown_thresholds
                        if np.isclose(thresholds, t).any()]
    plt = _pyplot()
    num = max(len(names), 1)
    cols = min(num, max(1, math.ceil(math.sqrt(num))))
    rows = math.ceil(num / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.2 * rows),
                             squeeze=False, sharex=True, sharey=True)
    for k, ax in enumerate(axes.ravel()):
        if k >= len(names):
            ax.axis('off')
            continue
        for t in picks:
            curve = precision[t, :, k]  # (R,)
            if (curve > -1).any():
                ax.plot(recall, curve, linewidth=1,
                        label=f'IoU {thresholds[t]:.2f}')
        ax.set_title(str(names[k]), fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    if picks and len(names):
        axes[0][0].legend(fontsize=6, loc='lower left')
    fig.supxlabel('recall', fontsize=8)
    fig.supylabel('precision', fontsize=8)
    fig.tight_layout()
    return _save(fig, out_path)
