"""A YouTube-VIS json whose categories are renamed to another set's classes.

Joint training (``configs/masktrack_r50_coco_joint.py``) adds an image set
(COCO, through ``tools/dataset_converters/coco2ytvis.py``) to a video set
(YouTube-VIS): the model's classes are the video set's, and each image
category is matched to one of them by name through a class map
(``configs/class_maps/coco_to_ytvis2019.json``), with the project's rule
(:mod:`vis.datasets.classes`: case, ``_`` and spaces ignored). Categories
the map sends to ``null``, or that match no class, are dropped with a
printed list; their annotations are not loaded, and frames left without
instances are filtered out like any empty frame.
"""
from typing import Dict, List, Optional, Union

from mmengine.logging import print_log

from mmdet.registry import DATASETS

from .classes import load_class_map, normalize_class_name
from .youtube_vis import AnnotationError, YouTubeVISJsonDataset


@DATASETS.register_module()
class ClassMappedYouTubeVISDataset(YouTubeVISJsonDataset):
    """:class:`YouTubeVISJsonDataset` with categories mapped to ``classes``.

    Args:
        class_map (str | dict, optional): ``{"data category": "class" or
            null}`` or the path of such a json. A category not in the map
            keeps its own name; a ``null`` drops it. Names compare as in
            :func:`vis.datasets.classes.normalize_class_name`.
        metainfo (dict): must name ``classes``, the target class list (the
            video set's), in label order.
        **kwargs: as for :class:`YouTubeVISJsonDataset`.
    """

    def __init__(self, *args, class_map: Optional[Union[str, Dict]] = None,
                 **kwargs):
        if isinstance(class_map, str):
            class_map = load_class_map(class_map)
        self.class_map = {normalize_class_name(k): v
                          for k, v in (class_map or {}).items()}
        self.dropped_categories: List[str] = []
        super().__init__(*args, **kwargs)

    def _category_labels(self, categories: List[dict]) -> Dict[int, int]:
        classes = self._metainfo.get('classes')
        if not classes:
            raise AnnotationError(
                f'{self.ann_file}: ClassMappedYouTubeVISDataset needs '
                f'metainfo=dict(classes=(...)), the classes to map to')
        label_of = {normalize_class_name(c): i for i, c in enumerate(classes)}
        labels, dropped = {}, []
        for cat in sorted(categories, key=lambda c: c['id']):
            key = normalize_class_name(cat['name'])
            target = self.class_map.get(key, cat['name'])
            if target is None or normalize_class_name(target) not in label_of:
                dropped.append(cat['name'])
                continue
            labels[cat['id']] = label_of[normalize_class_name(target)]
        if not labels:
            raise AnnotationError(
                f'{self.ann_file}: none of its {len(categories)} categories '
                f'maps to the classes {list(classes)}; check the class map')
        self.dropped_categories = dropped
        mapped = sorted({classes[label] for label in labels.values()})
        print_log(f'{self.ann_file}: {len(labels)} of {len(categories)} '
                  f'categories mapped onto {len(mapped)} of {len(classes)} '
                  f'classes; dropped (no class): '
                  f'{", ".join(dropped) if dropped else "none"}', 'current')
        return labels
