"""Exact YouTube-VIS evaluation (video AP / AR), written from scratch.

This package reproduces the numbers of the official YouTube-VIS evaluation API
(``youtubevos/cocoapi``: ``YTVOS`` + ``YTVOSeval``, also shipped by MMDetection
3.x as ``YTVIS`` / ``YTVISeval``) without depending on it, and without its
``np.float`` usage that breaks with numpy >= 1.24.

Definitions reproduced exactly
------------------------------
* A *track* (ground truth annotation or detection) is a list with one entry
  per video frame: a mask (polygons, uncompressed RLE or compressed RLE) or a
  falsy value (``None``) when the object is absent from that frame.
* Video IoU of a detection ``d`` and a ground truth ``g``::

      sum_f |d_f & g_f| / sum_f |d_f | g_f|

  over the frames ``f`` present in both lists (a frame where only one of the
  two is present adds that one's area to the union); 0 when the union is 0.
  Intersections and unions are integer pixel counts, so the ratio is the same
  float64 as the official one.
* Ground truth average area = mean of the truthy entries of ``ann['areas']``
  (0 if none); detection average area = mean of its non-zero frame areas.
  ``iscrowd`` ground truths are ignored (and can be matched repeatedly).
* Per (video, category): detections are stably sorted by descending score and
  truncated to ``max(max_dets)``; greedy COCO matching at the 10 IoU
  thresholds ``linspace(.5, .95, 10)`` for each of the 4 area ranges (all
  ``[0, 1e10]``, small ``[0, 128^2]``, medium ``[128^2, 256^2]``, large
  ``[256^2, 1e10]``, bounds inclusive); then the COCO accumulation (101
  recall thresholds, interpolated precision) and the 12-number summary, with
  -1 for settings without any non-ignored ground truth.
* Results whose category is not among ``gt['categories']`` are dropped, and
  so are annotations of unlisted videos or categories.

Quirks of the official code that are kept on purpose (so numbers agree):

* A detection matched to a ground truth whose annotation ``id`` is 0 counts as
  unmatched (the official code stores the matched gt id and tests it for
  truthiness).  A warning is emitted when the ground truth has such an id.
* ``AP`` (the first statistic) is read at ``maxDets == 100`` literally, so with
  custom ``max_dets`` that do not contain 100 it is -1, as in the official
  ``summarize()``.  The other statistics use ``sorted(max_dets)[0..2]``.
* If a result's mask list and a ground truth's mask list have different
  lengths, only their common leading frames are compared (``zip``).

Deliberate differences (where the official code crashes or misbehaves):

* An empty result list gives 0 for every statistic that has ground truth
  (-1 for the others) instead of crashing.
* Results naming a video that is not in the ground truth raise ``ValueError``
  (the official code fails an ``assert``).  A compressed RLE whose ``size``
  differs from its video's size raises ``ValueError`` when the mask is to be
  intersected with a ground truth of its (video, category) (the official
  merge silently yields an empty mask); a detection that is compared with no
  ground truth only needs its area, which, as officially, comes from its
  ``counts`` alone.
* Result masks may also be polygons or uncompressed RLE (converted like
  ground truth ones); the official code needs compressed RLE there.
* A ground truth without ``areas`` gets them from its masks (official:
  ``KeyError``); a missing ``iscrowd`` means 0.
* Video and category ids may be of any json type, even mixed (1 and '1'
  are two videos): they are ordered by ``(type name, value)``, which for
  ids of one type is the official ``sorted()`` order (that fails on mixed
  types).
* ``iou_type='bbox'`` (broken in the official code) uses the same video IoU
  on boxes ``[x, y, w, h]``; detection areas are box areas ``w * h``, ground
  truth areas come from ``ann['areas']`` (or from the boxes if missing).

Like the official code, the ``counts`` of a compressed RLE are trusted to
describe ``height * width`` pixels when only its area is needed.  A mask
that is intersected with a ground truth and whose runs add up to another
number raises ``ValueError`` with the native kernel; without it (pycocotools
alone) the merge loops forever, as officially (only ``size`` is checked).


Modules
-------
``params`` (thresholds, area ranges, statistic names), ``rle`` (masks:
conversion, areas, same-frame intersections, native kernel or
pycocotools), ``frame_iou`` (the pluggable per-frame IoU, ``mask`` and
``boundary``; the video IoU, hence the matching, and the tracking metrics
compare masks through it), ``boundary`` (boundary bands as compressed RLE
and the ``boundary`` IoU; Boundary AP: :mod:`vis.evaluation.boundary_eval`),
``tracks`` (track containers), ``video_iou`` / ``box_iou``
(video IoUs), ``matching`` (greedy COCO matching), ``accumulate``
(precision / recall), ``summary`` (the 12 numbers, per-category AP and
precision curves), ``evaluator`` (:class:`YTVISEvaluator`,
:func:`evaluate_ytvis`) and ``table`` (:func:`format_stats_table`).
"""

from .boundary import (DILATION_RATIO, BoundaryIoU, boundary_band,
                       boundary_dilation)
from .box_iou import box_video_ious
from .evaluator import YTVISEvaluator, evaluate_ytvis, id_sort_key
from .frame_iou import (FRAME_IOUS, FrameIoU, MaskIoU, get_frame_iou,
                        register_frame_iou)
from .matching import greedy_match
from .params import (AREA_LABELS, AREA_RANGES, IOU_THRESHOLDS,
                     RECALL_THRESHOLDS, STAT_NAMES)
from .rle import _dict_areas  # noqa: F401  (tests use it)
from .summary import PER_CLASS_STAT_NAMES
from .table import format_stats_table
from .tracks import _Track, mask_track_areas  # noqa: F401  (_Track: tests)
from .video_iou import mask_video_ious

__all__ = [
    'AREA_LABELS', 'AREA_RANGES', 'BoundaryIoU', 'DILATION_RATIO',
    'FRAME_IOUS', 'FrameIoU', 'IOU_THRESHOLDS', 'MaskIoU',
    'PER_CLASS_STAT_NAMES', 'RECALL_THRESHOLDS', 'STAT_NAMES',
    'YTVISEvaluator', 'boundary_band', 'boundary_dilation',
    'box_video_ious', 'evaluate_ytvis', 'format_stats_table',
    'get_frame_iou', 'greedy_match', 'id_sort_key', 'mask_track_areas',
    'mask_video_ious', 'register_frame_iou',
]
