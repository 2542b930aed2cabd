"""A dataset that reads official YouTube-VIS json files directly.

No conversion step: the 2019 (``train.json``) and 2021
(``train/instances.json``) files are read as published. Per-frame
segmentations may be uncompressed RLE (``counts`` is a list, as in the
official train files), compressed RLE (``counts`` is a string), polygons, or
``None`` where the object is absent in that frame.
"""
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List

import pycocotools.mask as mask_utils
from mmengine.fileio import get_local_path
from mmengine.logging import print_log

from mmdet.datasets import BaseVideoDataset
from mmdet.registry import DATASETS


class AnnotationError(ValueError):
    """A YouTube-VIS annotation file has a field that cannot be used."""


def segmentation_to_rle(seg, height: int, width: int, where: str) -> dict:
    """Convert one frame's segmentation to compressed RLE.

    Args:
        seg: polygons (list of flat ``[x, y, ...]`` lists), uncompressed RLE
            (``counts`` is a list) or compressed RLE (``counts`` is str).
        height, width: the frame size the mask must have.
        where: names the file, video, annotation and frame for errors.

    Returns:
        dict: ``{'size': [H, W], 'counts': str}``.
    """
    if isinstance(seg, list):
        polys = [p for p in seg if len(p) >= 6 and len(p) % 2 == 0]
        if not polys:
            raise AnnotationError(f'{where}: polygon segmentation has no '
                                  'polygon with at least 3 points')
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
    elif isinstance(seg, dict) and 'counts' in seg and 'size' in seg:
        if list(seg['size']) != [height, width]:
            raise AnnotationError(
                f'{where}: RLE size {list(seg["size"])} differs from the '
                f'video frame size [{height}, {width}]')
        if isinstance(seg['counts'], list):
            if sum(seg['counts']) != height * width:
                raise AnnotationError(
                    f'{where}: uncompressed RLE counts sum to '
                    f'{sum(seg["counts"])}, expected {height}*{width}')
            rle = mask_utils.frPyObjects(seg, height, width)
        else:
            rle = dict(size=seg['size'], counts=seg['counts'])
    else:
        raise AnnotationError(
            f'{where}: segmentation must be polygons, an RLE dict with '
            f"'size' and 'counts', or null; got {type(seg).__name__}")
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

    Args:
        ann_file (str): path of the YouTube-VIS json.
        data_prefix (dict): ``dict(img_path=...)``, the ``JPEGImages`` folder.
        filter_cfg (dict, optional): ``filter_empty_gt`` (default True) drops
            training frames without instances; ``min_size`` (default 32) drops
            smaller frames. Never applied in test mode.
        **kwargs: passed to :class:`mmdet.datasets.BaseVideoDataset`.
    """

    METAINFO = dict(classes=None)
    ANN_ID_UNIQUE = True

    def load_data_list(self) -> List[dict]:
        with get_local_path(self.ann_file) as local_path:
            try:
                with open(local_path) as f:
                    ann = json.load(f)
            except json.JSONDecodeError as err:
                raise AnnotationError(
                    f'{self.ann_file}: not valid json ({err})') from err
        for key in ('videos', 'categories'):
            if key not in ann:
                raise AnnotationError(
                    f"{self.ann_file}: missing top-level key '{key}'")
        cat_ids = self._select_categories(ann['categories'])
        self.cat_ids = cat_ids
        self.cat2label = {cat_id: i for i, cat_id in enumerate(cat_ids)}
        known_cats = {c['id'] for c in ann['categories']}

        anns_by_video: Dict[int, List[dict]] = defaultdict(list)
        seen_ann_ids = set()
        video_ids = {v['id'] for v in ann['videos']}
        for a in ann.get('annotations') or []:
            if a.get('video_id') not in video_ids:
                raise AnnotationError(
                    f'{self.ann_file}: annotation {a.get("id")} has video_id '
                    f'{a.get("video_id")} which is not in "videos"')
            if a.get('category_id') not in known_cats:
                raise AnnotationError(
                    f'{self.ann_file}: annotation {a.get("id")} of video '
                    f'{a["video_id"]} has unknown category_id '
                    f'{a.get("category_id")}')
            if self.ANN_ID_UNIQUE and a['id'] in seen_ann_ids:
                raise AnnotationError(
                    f'{self.ann_file}: annotation id {a["id"]} is not unique')
            seen_ann_ids.add(a['id'])
            anns_by_video[a['video_id']].append(a)

        data_list = []
        img_id = 0
        for video in ann['videos']:
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
        """Append annotation ``a`` to the instances of the frames it is in."""
        if a['category_id'] not in self.cat2label:
            return  # a category the config did not select
        where_video = f'{self.ann_file}: video {video["id"]} annotation {a["id"]}'
        segs = a.get('segmentations')
        if segs is None:
            raise AnnotationError(f"{where_video}: missing 'segmentations'")
        num_frames = len(frames)
        for field in ('segmentations', 'bboxes', 'areas'):
            if field in a and len(a[field]) != num_frames:
                raise AnnotationError(
                    f"{where_video}: '{field}' has {len(a[field])} entries "
                    f'but the video has {num_frames} frames')
        bboxes = a.get('bboxes') or [None] * num_frames
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

