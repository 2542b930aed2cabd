"""A dataset that reads official YouTube-VIS json files directly.

No conversion step: the 2019 (``train.json``) and 2021
(``train/instances.json``) files are read as published. Per-frame
segmentations may be uncompressed RLE (``counts`` is a list, as in the
official train files), compressed RLE (``counts`` is a string), polygons, or
``None`` where the object is absent in that frame.
"""
import os.path as osp
import warnings
from collections import defaultdict
from typing import Dict, List, Union

import pycocotools.mask as mask_utils
from mmengine.fileio import get_local_path
from mmengine.logging import print_log

from mmdet.datasets import BaseVideoDataset
from mmdet.registry import DATASETS

from .checks import (AnnotationError, _is_id, check_annotations,
                     format_problems, frame_mode, load_json,
                     segmentation_problem)

#: How many problems a load-time AnnotationError lists (the rest are counted).
MAX_LISTED_PROBLEMS = 20
#: How many reasons the skip_bad_videos warning gives.
MAX_WARNED_PROBLEMS = 5


class BadVideosSkippedWarning(UserWarning):
    """``skip_bad_videos=True`` dropped videos with annotation problems."""


def segmentation_to_rle(seg, height: int, width: int, where: str) -> dict:
    """Convert one frame's segmentation to compressed RLE.

    Args:
        seg: polygons (list of flat ``[x, y, ...]`` lists), uncompressed RLE
            (``counts`` is a list) or compressed RLE (``counts`` is str).
        height, width: the frame size the mask must have.
        where: names the file, video, annotation and frame for errors.

    Returns:
        dict: ``{'size': [H, W], 'counts': str}``.

    Raises:
        AnnotationError: ``seg`` fails
            :func:`vis.datasets.checks.segmentation_problem`.
    """
    found = segmentation_problem(seg, height, width)
    if found is not None:
        raise AnnotationError(f'{where}: {found[1]}')
    if isinstance(seg, list):
        polys = [p for p in seg if len(p) >= 6 and len(p) % 2 == 0]
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
    elif isinstance(seg['counts'], list):
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = dict(size=seg['size'], counts=seg['counts'])
    counts = rle['counts']
    if isinstance(counts, bytes):
        counts = counts.decode('ascii')
    return {'size': [height, width], 'counts': counts}


@DATASETS.register_module()
class YouTubeVISJsonDataset(BaseVideoDataset):
    """YouTube-VIS videos read from the official json.

    Classes come from the json's ``categories`` (sorted by id) unless
    ``metainfo=dict(classes=(...))`` names a subset, so that custom data sets
    need no code. Each item is a video: ``{'video_id', 'video_length',
    'images': [frame info, ...]}``; a frame info has ``img_path``, ``img_id``
    (unique over the data set), ``frame_id``, ``height``, ``width`` and
    ``instances`` with ``bbox`` (x1, y1, x2, y2), ``bbox_label``, ``mask``
    (compressed RLE), ``instance_id`` (the annotation id) and
    ``ignore_flag`` (``iscrowd``).

    The json is checked on load by
    :func:`vis.datasets.checks.check_annotations` (the checks of
    ``tools/check_dataset.py``): missing keys, per-frame lists whose length
    is not the video's, RLE sizes other than the frame size, boxes outside
    the frame, null boxes on non-null masks (and the reverse), unknown
    category ids, empty videos and duplicate ids raise one
    :class:`AnnotationError` listing the problems found (the first
    :data:`MAX_LISTED_PROBLEMS`, then a count), each naming the file, video,
    annotation, frame and field.

    Args:
        ann_file (str): path of the YouTube-VIS json.
        data_prefix (dict): ``dict(img_path=...)``, the ``JPEGImages`` folder.
        filter_cfg (dict, optional): ``filter_empty_gt`` (default True) drops
            training frames without instances; ``min_size`` (default 32) drops
            smaller frames. Never applied in test mode.
        skip_bad_videos (bool): drop the videos with a problem, and their
            annotations, with one :class:`BadVideosSkippedWarning` giving the
            count and the first reasons, instead of raising. Problems tied
            to no video (the file's top level, the categories, an annotation
            whose ``video_id`` is no video) and a file whose every video is
            bad still raise. Default False.
        check_frames (bool | str): also check the frame files: ``False``
            (default) does not touch them, ``'exists'`` checks that each is
            there, ``True`` or ``'header'`` also that it opens as an image of
            the json's width x height (image header only), ``'decode'`` also
            decodes it. Off by default because the load would then cost a
            file system call per frame (the YouTube-VIS train splits list
            60k to 90k frames: seconds on a local disk, much longer on
            network storage), repeated by every process of every run, while the
            pipeline already fails with the frame's path if it cannot read
            it; check a new data root once with ``tools/check_dataset.py``,
            which decodes every frame.
        **kwargs: passed to :class:`mmdet.datasets.BaseVideoDataset`.
    """

    METAINFO = dict(classes=None)
    ANN_ID_UNIQUE = True

    def __init__(self, *args, skip_bad_videos: bool = False,
                 check_frames: Union[bool, str] = False, **kwargs):
        self.skip_bad_videos = skip_bad_videos
        self.check_frames = frame_mode(check_frames)
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        with get_local_path(self.ann_file) as local_path:
            ann = load_json(local_path, name=self.ann_file)
        img_dir = self.data_prefix.get('img_path') or ''
        report = check_annotations(ann, self.ann_file, img_dir=img_dir,
                                   frames=self.check_frames,
                                   unique_ann_ids=self.ANN_ID_UNIQUE)
        videos, annotations = self._drop_bad_videos(ann, report)

        self.cat2label = self._category_labels(ann['categories'])
        self.cat_ids = list(self.cat2label)
        anns_by_video: Dict[int, List[dict]] = defaultdict(list)
        for a in annotations:
            anns_by_video[a['video_id']].append(a)

        data_list = []
        img_id = 0
        for video in videos:
            frames = []
            for frame_id, file_name in enumerate(video['file_names']):
                img_path = file_name
                if self.data_prefix.get('img_path'):
                    img_path = osp.join(self.data_prefix['img_path'],
                                        file_name)
                frames.append(dict(
                    img_id=img_id, img_path=img_path, frame_id=frame_id,
                    video_id=video['id'], height=video['height'],
                    width=video['width'], instances=[]))
                img_id += 1
            for a in anns_by_video[video['id']]:
                self._add_instance(a, video, frames)
            data_list.append(dict(video_id=video['id'], images=frames,
                                  video_length=len(frames)))
        return data_list

    def _drop_bad_videos(self, ann: dict, report) -> tuple:
        """Raise on the report's problems, or with ``skip_bad_videos`` drop
        the bad videos. Returns the kept ``(videos, annotations)``."""
        problems = report.problems
        if not problems:
            return ann['videos'], ann.get('annotations') or []
        fatal, bad = report.fatal, report.bad_videos
        num_videos = len(ann['videos']) if isinstance(
            ann.get('videos'), list) else 0
        if fatal or not self.skip_bad_videos or len(bad) == num_videos:
            counts = []
            if fatal:
                counts.append(f'{len(fatal)} tied to no video')
                # listed first: they are why skipping videos cannot help
                problems = fatal + [p for p in problems
                                    if p.video_index is not None]
            if bad:
                counts.append(f'{len(bad)} of {num_videos} videos affected')
            if fatal:
                hint = 'skip_bad_videos cannot skip problems tied to no video'
            elif self.skip_bad_videos:
                hint = 'skip_bad_videos=True would leave no video'
            else:
                hint = 'skip_bad_videos=True drops the bad videos instead'
            raise AnnotationError(
                f'{self.ann_file}: {len(problems)} problem(s) '
                f'({", ".join(counts)}); {hint}; tools/check_dataset.py '
                'lists them all:\n'
                + format_problems(problems, MAX_LISTED_PROBLEMS),
                problems)
        bad_set = set(bad)
        videos = [v for i, v in enumerate(ann['videos']) if i not in bad_set]
        kept_ids = {v['id'] for v in videos}
        dropped_ids = {ann['videos'][i].get('id') for i in bad
                       if isinstance(ann['videos'][i], dict)
                       and _is_id(ann['videos'][i].get('id'))}
        # an annotation of a duplicate video id belongs to both copies, so it
        # goes whenever one of them is bad
        annotations = [a for a in ann.get('annotations') or []
                       if a['video_id'] in kept_ids
                       and a['video_id'] not in dropped_ids]
        warnings.warn(
            f'{self.ann_file}: skipping {len(bad)} of {num_videos} videos '
            f'with {len(problems)} problem(s) (skip_bad_videos=True); '
            f'{len(videos)} videos kept. First problems:\n'
            + format_problems(problems, MAX_WARNED_PROBLEMS),
            BadVideosSkippedWarning, stacklevel=2)
        return videos, annotations

    def _category_labels(self, categories: List[dict]) -> Dict[int, int]:
        """``{category id: label}`` of the categories trained/tested on;
        annotations of the other categories are not loaded."""
        return {cat_id: label for label, cat_id in
                enumerate(self._select_categories(categories))}

    def _select_categories(self, categories: List[dict]) -> List[int]:
        """Category ids in label order; fills ``classes`` if unset."""
        categories = sorted(categories, key=lambda c: c['id'])
        names = self._metainfo.get('classes')
        if names is None:
            self._metainfo['classes'] = tuple(c['name'] for c in categories)
            return [c['id'] for c in categories]
        by_name = {c['name']: c['id'] for c in categories}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise AnnotationError(
                f'{self.ann_file}: classes {missing} named by the config are '
                f'not in the file\'s categories {sorted(by_name)}')
        return [by_name[n] for n in names]

    def _add_instance(self, a: dict, video: dict, frames: List[dict]) -> None:
        """Append annotation ``a`` (already checked) to the instances of the
        frames it is in."""
        if a['category_id'] not in self.cat2label:
            return  # a category the config did not select
        where_video = f'{self.ann_file}: video {video["id"]} annotation {a["id"]}'
        segs = a['segmentations']
        bboxes = a.get('bboxes') or [None] * len(frames)
        height, width = video['height'], video['width']
        for t, seg in enumerate(segs):
            if seg is None:
                continue
            where = f'{where_video} frame {t}'
            rle = segmentation_to_rle(seg, height, width, where)
            box = bboxes[t]
            if box is None:
                box = mask_utils.toBbox(rle).tolist()
            x, y, w, h = box
            if w < 1 or h < 1:
                continue  # degenerate box: nothing a detector can learn
            frames[t]['instances'].append(dict(
                bbox=[x, y, x + w, y + h],
                bbox_label=self.cat2label[a['category_id']],
                mask=rle,
                instance_id=a['id'],
                ignore_flag=int(bool(a.get('iscrowd', 0)))))

    def filter_data(self) -> List[dict]:
        """Drop training frames without instances (``filter_empty_gt``) or
        smaller than ``min_size``, and videos left with no frame."""
        if self.test_mode:
            return self.data_list
        cfg = self.filter_cfg or {}
        filter_empty = cfg.get('filter_empty_gt', True)
        min_size = cfg.get('min_size', 32)
        before = sum(len(v['images']) for v in self.data_list)
        kept_videos = []
        for video in self.data_list:
            frames = [f for f in video['images']
                      if (f['instances'] or not filter_empty)
                      and min(f['width'], f['height']) >= min_size]
            if frames:
                kept_videos.append(dict(video, images=frames,
                                        video_length=len(frames)))
        after = sum(len(v['images']) for v in kept_videos)
        print_log(f'{osp.basename(self.ann_file)}: {len(kept_videos)} videos, '
                  f'{after} of {before} frames kept for training', 'current')
        return kept_videos

    def get_cat_ids(self, index) -> List[int]:
        """Labels present in a video, or in one frame for
        ``(video_idx, frame_idx)``."""
        if isinstance(index, tuple):
            video_idx, frame_idx = index
            frames = [self.get_data_info(video_idx)['images'][frame_idx]]
        else:
            frames = self.get_data_info(index)['images']
        return [i['bbox_label'] for f in frames for i in f['instances']]

