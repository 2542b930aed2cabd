"""Which ground-truth objects an RPN's anchors can learn.

An RPN anchor is trained as positive for an object when its IoU with the
object's box reaches ``pos_iou_thr`` or, for the object's best anchors, at
least ``min_pos_iou`` (mmdet's ``MaxIoUAssigner`` with
``match_low_quality``). An object whose best anchor stays under
``min_pos_iou`` gets no positive anchor at all: the RPN never learns to
propose it, however long the model trains. :func:`anchor_coverage`
measures, for every annotated box of a YouTube-VIS json resized as the
pipeline resizes it, the best IoU any anchor of the config reaches.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import bbox_overlaps

__all__ = ['anchor_coverage', 'best_anchor_ious', 'format_coverage_table']


def _resized_size(height: int, width: int,
                  scale: Tuple[int, int]) -> Tuple[float, int, int]:
    """mmcv's keep-ratio resize of a (height, width) frame to fit ``scale``
    = (long, short) edge bounds. Returns (factor, new_height, new_width)."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(height, width),
                 short_edge / min(height, width))
    return factor, int(height * factor + 0.5), int(width * factor + 0.5)


def best_anchor_ious(boxes: torch.Tensor, anchors: torch.Tensor,
                     chunk: int = 2048) -> torch.Tensor:
    """The best IoU of every box with any anchor.

    Args:
        boxes (Tensor): (N, 4) x1, y1, x2, y2.
        anchors (Tensor): (A, 4) x1, y1, x2, y2.

    Returns:
        Tensor: (N,) best IoU (0 where there are no anchors).
    """
    if len(boxes) == 0 or len(anchors) == 0:
        return boxes.new_zeros(len(boxes))
    best = []
    for start in range(0, len(boxes), chunk):
        ious = bbox_overlaps(boxes[start:start + chunk], anchors)  # (n, A)
        best.append(ious.max(dim=1).values)
    return torch.cat(best)


def anchor_coverage(gt: dict, anchor_generator: dict,
                    img_scale: Tuple[int, int], pad_size_divisor: int = 32,
                    thresholds: Sequence[float] = (0.3, 0.5, 0.7)
                    ) -> Dict[str, dict]:
    """Per category: how well the anchors fit the annotated boxes.

    Args:
        gt: a YouTube-VIS annotation dict (``videos`` with height/width,
            ``annotations`` with per-frame ``bboxes`` as x, y, w, h or None).
        anchor_generator: the config of the RPN's anchor generator
            (``model.detector.rpn_head.anchor_generator``).
        img_scale: the (long, short) keep-ratio resize of the pipeline.
        pad_size_divisor: the data preprocessor's padding.
        thresholds: IoU levels reported as "share of boxes below".

    Returns:
        category name (and ``'all'``) -> dict with ``boxes`` (count),
        ``median_side`` (median of max(w, h) in resized pixels),
        ``median_iou`` (of the best anchor IoUs) and ``below_<t>`` (share
        of boxes whose best anchor IoU is under t).

    Raises:
        ValueError: an annotation naming a video or category not in ``gt``.
    """
    generator = TASK_UTILS.build(anchor_generator)
    strides = [s[0] if isinstance(s, (tuple, list)) else s
               for s in generator.strides]
    videos = {v['id']: v for v in gt['videos']}
    names = {c['id']: c['name'] for c in gt['categories']}
    anchors_by_size: Dict[Tuple[int, int], torch.Tensor] = {}
    per_class: Dict[str, Tuple[List[float], List[float]]] = {}
    for ann in gt.get('annotations', []):
        video = videos.get(ann['video_id'])
        if video is None:
            raise ValueError(f'annotation {ann.get("id")} names video '
                             f'{ann["video_id"]}, which is not in videos')
        if ann['category_id'] not in names:
            raise ValueError(f'annotation {ann.get("id")} names category '
                             f'{ann["category_id"]}, not in categories')
        factor, new_h, new_w = _resized_size(video['height'], video['width'],
                                             img_scale)
        pad_h = -(-new_h // pad_size_divisor) * pad_size_divisor
        pad_w = -(-new_w // pad_size_divisor) * pad_size_divisor
        if (pad_h, pad_w) not in anchors_by_size:
            sizes = [(-(-pad_h // s), -(-pad_w // s)) for s in strides]
            anchors_by_size[(pad_h, pad_w)] = torch.cat(
                generator.grid_priors(sizes, device='cpu'))  # (A, 4)
        boxes = np.array([b for b in ann.get('bboxes') or [] if b],
                         np.float32).reshape(-1, 4) * factor  # (n, 4) xywh
        if not len(boxes):
            continue
        xyxy = torch.from_numpy(np.concatenate(
            [boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1))  # (n, 4)
        best = best_anchor_ious(xyxy, anchors_by_size[(pad_h, pad_w)])
        sides, ious = per_class.setdefault(names[ann['category_id']],
                                           ([], []))
        sides += boxes[:, 2:].max(axis=1).tolist()
        ious += best.tolist()
    report: Dict[str, dict] = {}
    every = ([], [])
    for name in [names[k] for k in sorted(names)]:
        if name not in per_class:
            continue
        report[name] = _summary(*per_class[name], thresholds)
        every[0].extend(per_class[name][0])
        every[1].extend(per_class[name][1])
    if every[0]:
        report['all'] = _summary(*every, thresholds)
    return report


def _summary(sides: List[float], ious: List[float],
             thresholds: Sequence[float]) -> dict:
    ious_arr = np.asarray(ious)
    out = dict(boxes=len(ious), median_side=float(np.median(sides)),
               median_iou=float(np.median(ious_arr)))
    for t in thresholds:
        out[f'below_{t:g}'] = float((ious_arr < t).mean())
    return out


def format_coverage_table(report: Dict[str, dict],
                          title: Optional[str] = None) -> str:
    """A text table of :func:`anchor_coverage`'s answer (shares in %)."""
    if not report:
        return 'no annotated boxes'
    below = [k for k in next(iter(report.values())) if k.startswith('below')]
    header = ['category', 'boxes', 'median side px', 'median best IoU'] + [
        f'best IoU < {k[6:]}' for k in below]
    rows = [[name, str(r['boxes']), f'{r["median_side"]:.1f}',
             f'{r["median_iou"]:.2f}'] + [f'{100 * r[k]:.1f}%' for k in below]
            for name, r in report.items()]
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    lines = [title] if title else []
    for i, row in enumerate([header] + rows):
        lines.append('  '.join(c.ljust(w) if j == 0 else c.rjust(w)
                               for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines)
