"""Per-frame detection AP of YouTube-VIS results (``--metrics frame``).

Video AP matches whole tracks: a track that finds its object on every frame
but switches identity half way (two half tracks) loses video AP, and so does
a track that is missed on a few frames.  Scoring every frame as a still
image tells the two failures apart: frame AP only sees detection, so a model
with high frame AP and low video AP fails at tracking, one with low frame AP
fails at detection already.

What is computed, from the same ground truth and results as video AP:

* Images: one per frame of every ground-truth video (``len(file_names)``,
  else ``length``), numbered video after video (videos in id order, see
  :func:`~vis.evaluation.ytvis_eval.id_sort_key`), frame after frame.
  Frames are matched by the video's frame index: entry ``f`` of a result's
  (or an annotation's) ``segmentations`` is frame ``f`` of its video.
* Detections: every present frame of every result track (an entry that is a
  mask; None, or any falsy entry, is an absent frame and ignored) is one
  detection on its frame's image.  Its category and score are the track's,
  its mask the frame's mask (compressed RLE; polygons and uncompressed RLE
  are converted), its box the mask's bounding box (``[x, y, w, h]``,
  pycocotools ``toBbox``; ``[0, 0, 0, 0]`` for an empty mask, which is
  still a detection, a false positive).  Results of categories not in the
  ground truth are dropped, as by video AP.
* Ground truth: likewise every present frame of every annotation of a listed
  video and category, with the annotation's ``iscrowd`` (crowd regions are
  ignored: a detection matched to one is neither a true nor a false
  positive), its area the mask's pixel count and its box the mask's
  bounding box.  Entries beyond the video's length are ignored (as by the
  tracking metrics).
* pycocotools ``COCOeval`` on these images, once with ``iouType='segm'``
  (mask IoU) and once with ``iouType='bbox'`` (box IoU): greedy matching
  per (image, category) by descending score, up to 100 detections per
  (image, category), area range ``all``, the IoU thresholds .50:.05:.95 and
  the 101 recall thresholds; precision and recall are accumulated per
  category over all images (equal scores in the order of the images, so
  earlier frames first).
* Statistics (fractions, -1 where undefined, i.e. without non-crowd ground
  truth), with ``KIND`` ``mask`` or ``box``: ``frame_KIND_AP`` (the COCO AP
  at .50:.95), ``frame_KIND_AP50``, ``frame_KIND_AP75`` and
  ``frame_KIND_AR100`` (recall at 100 detections averaged over the 10 IoU
  thresholds), each the mean over the categories with ground truth; per
  category ``frame_mask_AP`` and ``frame_box_AP``.

The COCO objects are built in memory (no file is written) and pycocotools'
prints are silenced.  Inputs are not modified.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .results_file import video_num_frames
from .ytvis_eval.evaluator import _unique_names, id_sort_key
from .ytvis_eval.rle import _present_masks, _rle_areas

__all__ = ['FRAME_PER_CLASS_STAT_NAMES', 'FRAME_STAT_NAMES', 'MAX_DETS',
           'evaluate_frames']

#: Detections per (image, category) at most (COCO's ``maxDets``).
MAX_DETS = 100
#: The two evaluations: key infix -> pycocotools ``iouType``.
FRAME_KINDS = (('mask', 'segm'), ('box', 'bbox'))
_STATS = ('AP', 'AP50', 'AP75', f'AR{MAX_DETS}')
#: The statistics of :func:`evaluate_frames`, in this order.
FRAME_STAT_NAMES = tuple(f'frame_{kind}_{stat}' for kind, _ in FRAME_KINDS
                         for stat in _STATS)
#: The per-category statistics of :func:`evaluate_frames`.
FRAME_PER_CLASS_STAT_NAMES = tuple(f'frame_{kind}_AP'
                                   for kind, _ in FRAME_KINDS)


@contextlib.contextmanager
def _quiet():
    """Swallow what pycocotools prints (index creation, timings)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _mean_defined(values: np.ndarray) -> float:
    """Mean of the entries > -1 of ``values``, -1 if there is none."""
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else -1.0


def _first_of_each(items: Sequence[dict]) -> Dict[Any, dict]:
    """``{id: item}`` keeping the first item of each id."""
    out: Dict[Any, dict] = {}
    for item in items:
        out.setdefault(item['id'], item)
    return out


def _add_areas_and_boxes(anns: List[dict]) -> None:
    """Set ``area`` (mask pixels) and ``bbox`` (the mask's ``[x, y, w,
    h]``) of image-level annotations, in place."""
    if not anns:
        return
    rles = [a['segmentation'] for a in anns]
    areas = _rle_areas(rles).tolist()
    boxes = mask_utils.toBbox(rles).tolist()
    for ann, area, box in zip(anns, areas, boxes):
        ann['area'] = float(area)
        ann['bbox'] = box


def _frame_datasets(gt: dict, results: Sequence[dict]):
    """The COCO-style image-level ground truth and detections.

    Returns:
        gt_dataset, dt_dataset: COCO ``dataset`` dicts (``images``,
        ``categories``, ``annotations``; category ids 1..K in the order of
        ``names``, image and annotation ids from 1); names: the K category
        names.

    Raises:
        ValueError: results naming a video not in ``gt``, results whose
            ``segmentations`` length is not their video's, missing
            ``segmentations``, malformed masks.
    """
    videos = _first_of_each(gt.get('videos', []))
    video_ids = sorted(videos, key=id_sort_key)
    categories = _first_of_each(gt.get('categories', []))
    category_ids = sorted(categories, key=id_sort_key)
    names = _unique_names([(str(categories[c].get('name', c)), c)
                           for c in category_ids])
    coco_category = {c: k + 1 for k, c in enumerate(category_ids)}
    images: List[dict] = []
    first_image: Dict[Any, int] = {}  # video id -> image id of its frame 0
    frame_info: Dict[Any, Tuple[int, int, int]] = {}  # (height, width, n)
    for vid in video_ids:
        video = videos[vid]
        height, width = int(video['height']), int(video['width'])
        num_frames = video_num_frames(video)
        first_image[vid] = len(images) + 1
        frame_info[vid] = (height, width, num_frames)
        images += [dict(id=first_image[vid] + f, height=height, width=width)
                   for f in range(num_frames)]
    coco_categories = [dict(id=k, name=name) for k, name in
                       zip(range(1, len(names) + 1), names)]

    gt_anns: List[dict] = []
    for ann in gt.get('annotations', []):
        vid, cid = ann['video_id'], ann['category_id']
        if vid not in frame_info or cid not in coco_category:
            continue
        where = f'annotation {ann.get("id")!r} (video {vid!r})'
        if 'segmentations' not in ann:
            raise ValueError(f'{where} has no "segmentations"')
        height, width, num_frames = frame_info[vid]
        frames, _, rles = _present_masks(ann['segmentations'][:num_frames],
                                         height, width, where)
        crowd = int(bool(ann.get('iscrowd', 0)))
        for f, rle in zip(frames, rles):
            gt_anns.append(dict(id=len(gt_anns) + 1,
                                image_id=first_image[vid] + f,
                                category_id=coco_category[cid],
                                iscrowd=crowd, segmentation=rle))

    unknown = sorted({r['video_id'] for r in results} - set(frame_info),
                     key=repr)
    if unknown:
        shown = ', '.join(repr(v) for v in unknown[:10])
        more = ' ...' if len(unknown) > 10 else ''
        raise ValueError('results refer to video ids not in the ground '
                         f'truth: {shown}{more}')
    dt_anns: List[dict] = []
    for i, result in enumerate(results):
        vid = result['video_id']
        if result['category_id'] not in coco_category:
            continue
        where = f'result {i} (video {vid!r})'
        if 'segmentations' not in result:
            raise ValueError(f'{where} has no "segmentations"')
        segms = result['segmentations']
        height, width, num_frames = frame_info[vid]
        if len(segms) != num_frames:
            raise ValueError(f'{where}: "segmentations" has {len(segms)} '
                             f'frames, the video has {num_frames}')
        frames, _, rles = _present_masks(segms, height, width, where)
        score = float(result['score'])
        category = coco_category[result['category_id']]
        for f, rle in zip(frames, rles):
            dt_anns.append(dict(id=len(dt_anns) + 1,
                                image_id=first_image[vid] + f,
                                category_id=category, iscrowd=0,
                                score=score, segmentation=rle))
    _add_areas_and_boxes(gt_anns)
    _add_areas_and_boxes(dt_anns)
    return (dict(images=images, categories=coco_categories,
                 annotations=gt_anns),
            dict(images=images, categories=coco_categories,
                 annotations=dt_anns),
            names)


def _coco(dataset: dict) -> COCO:
    """A pycocotools ``COCO`` holding ``dataset`` (no file read)."""
    coco = COCO()
    coco.dataset = dataset
    with _quiet():
        coco.createIndex()
    return coco


def _coco_eval(coco_gt: COCO, coco_dt: COCO, iou_type: str,
               num_categories: int) -> Tuple[np.ndarray, np.ndarray,
                                             np.ndarray]:
    """``COCOeval`` at area ``all`` and :data:`MAX_DETS` detections.

    Returns:
        precision (T, R, K), recall (T, K), -1 where a category has no
        non-crowd ground truth, and the (T,) IoU thresholds.
    """
    evaluator = COCOeval(coco_gt, coco_dt, iouType=iou_type)
    params = evaluator.params
    params.maxDets = [MAX_DETS]
    params.areaRng = [[0.0, 1e10]]
    params.areaRngLbl = ['all']
    num_thrs, num_recs = len(params.iouThrs), len(params.recThrs)
    if not params.imgIds or not num_categories:
        return (-np.ones((num_thrs, num_recs, num_categories)),
                -np.ones((num_thrs, num_categories)), params.iouThrs)
    with _quiet():
        evaluator.evaluate()
        evaluator.accumulate()
    return (evaluator.eval['precision'][:, :, :, 0, 0],
            evaluator.eval['recall'][:, :, 0, 0], params.iouThrs)


def evaluate_frames(gt: dict, results: Sequence[dict]
                    ) -> Tuple[Dict[str, float], Dict[str, Dict[str, float]]]:
    """Per-frame detection AP of YouTube-VIS results (see the module
    docstring for the definitions).

    Args:
        gt: a YouTube-VIS annotation dict (``videos`` with ``id``,
            ``height``, ``width`` and ``file_names`` or ``length``;
            ``categories``; ``annotations`` with per-frame
            ``segmentations``, None where absent, and ``iscrowd``).
        results: YouTube-VIS results (``video_id``, ``category_id``,
            ``score``, ``segmentations``: one entry per frame of the video,
            an RLE or None).  Not modified.

    Returns:
        values: ``{name: float}`` for :data:`FRAME_STAT_NAMES`
        (``frame_mask_AP``, ``frame_mask_AP50``, ``frame_mask_AP75``,
        ``frame_mask_AR100`` and the same with ``box``), fractions, -1
        where undefined; per_class: category name (as the video AP names
        them) -> ``{'frame_mask_AP', 'frame_box_AP'}``, -1 for a category
        without non-crowd ground truth, in category id order.

    Raises:
        ValueError: results naming a video not in ``gt``; a result whose
            ``segmentations`` has another length than its video (the
            message names the result and the video id); missing
            ``segmentations``; malformed masks.
    """
    gt_dataset, dt_dataset, names = _frame_datasets(gt, results)
    coco_gt, coco_dt = _coco(gt_dataset), _coco(dt_dataset)
    values: Dict[str, float] = {}
    per_class: Dict[str, Dict[str, float]] = {name: {} for name in names}
    for kind, iou_type in FRAME_KINDS:
        precision, recall, iou_thrs = _coco_eval(coco_gt, coco_dt, iou_type,
                                                 len(names))
        prefix = f'frame_{kind}_'
        values[prefix + 'AP'] = _mean_defined(precision)
        # the IoU thresholds compared as pycocotools' summarize() does
        values[prefix + 'AP50'] = _mean_defined(precision[iou_thrs == .5])
        values[prefix + 'AP75'] = _mean_defined(precision[iou_thrs == .75])
        values[prefix + f'AR{MAX_DETS}'] = _mean_defined(recall)
        for k, name in enumerate(names):
            per_class[name][prefix + 'AP'] = _mean_defined(
                precision[:, :, k])
    return values, per_class
