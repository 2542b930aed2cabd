"""Plain mmdet detector configs, turned into training-free video trackers.

Every tool that takes a CONFIG (``tools/test.py``, ``tools/demo_video.py``,
:class:`vis.apis.VideoPredictor`) also takes a plain mmdet
instance-segmentation config: a file of one's own, or a scoped name such as
``mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py`` (a config shipped inside
the installed mmdet package, resolved as mmengine's ``mmengine.hub.
get_config`` does). :func:`video_config_from_detector` wraps it:

* the model becomes a :class:`vis.models.TrackedDetector` holding the
  detector unchanged, with its own data preprocessor (as a
  ``TrackDataPreprocessor``) and a tracker that needs no training
  (``configs/_base_/detector_tracking.py``: ``AssignmentTracker``);
* the video test pipeline applies the detector's own test transforms (its
  ``Resize``, ``Pad``, ...) to every frame;
* the detector's score floor is raised to the tracker's ``match_score``
  (detections below it are never tracked, so their masks are not pasted);
* data loaders, evaluator, hooks and runtime are the project's
  (YouTube-VIS layout, ``--data-root`` points them at a split);
* ``model_classes`` records the class names of the detector's config (its
  test dataset's ``metainfo.classes``, else the ``METAINFO`` of its dataset
  type, e.g. mmdet's ``CocoDataset``), the fallback when the checkpoint
  stores none.
"""
import copy
import os.path as osp
from typing import Optional, Tuple

from mmengine.config import Config, ConfigDict

#: the project's data, runtime and tracker for a wrapped detector
TEMPLATE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                    'configs', '_base_', 'detector_tracking.py')

#: test transforms of a detector's pipeline that are not applied per frame
#: (the video pipeline loads and packs frames itself)
_SKIPPED_TRANSFORMS = ('LoadImageFromFile', 'LoadImageFromNDArray',
                       'LoadAnnotations', 'LoadPanopticAnnotations',
                       'PackDetInputs')


def load_config(name: str) -> Config:
    """Read a config file, or a scoped config name ``PACKAGE::PATH`` (e.g.
    ``mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py``) from the installed
    package's configs."""
    if '::' in name:
        from mmengine.hub import get_config
        try:
            return get_config(name)
        except (FileNotFoundError, ValueError, ImportError) as err:
            raise FileNotFoundError(
                f'config {name}: {err} (a scoped name is PACKAGE::PATH '
                'relative to the package\'s configs, e.g. mmdet::mask_rcnn/'
                'mask-rcnn_r50_fpn_1x_coco.py)') from None
    if not osp.isfile(name):
        raise FileNotFoundError(f'config {name} does not exist')
    return Config.fromfile(name)


def is_plain_detector_config(cfg: Config) -> bool:
    """Whether ``cfg`` is a plain mmdet detector config (its model is an
    mmdet detector, not a video model holding one under ``detector``)."""
    model = cfg.get('model')
    if not isinstance(model, dict) or 'detector' in model:
        return False
    from mmdet.models.detectors import BaseDetector
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    try:
        cls = MODELS.get(model.get('type'))
    except (KeyError, TypeError):
        return False
    return isinstance(cls, type) and issubclass(cls, BaseDetector)


def detector_config_classes(cfg: Config) -> Optional[Tuple[str, ...]]:
    """Class names a plain detector config names: its test (else val,
    train) dataset's ``metainfo.classes``, else its dataset type's
    ``METAINFO`` (mmdet's ``CocoDataset`` for COCO configs); None if
    neither."""
    from mmdet.registry import DATASETS
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset')
        while isinstance(dataset, dict) and 'dataset' in dataset:
            dataset = dataset['dataset']  # RepeatDataset and similar
        if not isinstance(dataset, dict):
            continue
        classes = (dataset.get('metainfo') or {}).get('classes')
        if classes:
            return tuple(classes)
        try:
            dataset_cls = DATASETS.get(dataset.get('type'))
        except (KeyError, TypeError):
            dataset_cls = None
        classes = (getattr(dataset_cls, 'METAINFO', None) or {}).get(
            'classes')
        if classes:
            return tuple(classes)
    return None


def detector_frame_transforms(cfg: Config) -> list:
    """The detector's test transforms that act on one frame (``Resize``,
    ``Pad``, ...), without loading, annotations and packing."""
    pipeline = cfg.get('test_pipeline') or \
        cfg.test_dataloader.dataset.pipeline
    out = []
    for t in pipeline:
        name = str(t['type']).split('.')[-1]
        if name not in _SKIPPED_TRANSFORMS:
            out.append(copy.deepcopy(dict(t)))
    return out


def _raise_score_floor(test_cfg: dict, floor: float) -> None:
    """Raise the score threshold of a detector's test config to ``floor``."""
    if not isinstance(test_cfg, dict):
        return
    target = test_cfg.get('rcnn', test_cfg)
    if isinstance(target, dict) and 'score_thr' in target:
        target['score_thr'] = max(float(target['score_thr']), floor)


def video_config_from_detector(det_cfg: Config,
                               name: Optional[str] = None) -> Config:
    """A video config tracking the detector of ``det_cfg`` without
    training (module docstring). ``name`` is the config's name for logs."""
    cfg = Config.fromfile(TEMPLATE)
    detector = copy.deepcopy(det_cfg.model.to_dict()
                             if hasattr(det_cfg.model, 'to_dict')
                             else dict(det_cfg.model))
    preprocessor = dict(detector.pop('data_preprocessor', None) or {})
    preprocessor.pop('batch_augments', None)
    preprocessor['type'] = 'TrackDataPreprocessor'
    tracker = copy.deepcopy(cfg.tracker.to_dict())
    _raise_score_floor(detector.get('test_cfg'),
                       float(tracker.get('match_score', 0.0)))
    cfg.model = ConfigDict(type='TrackedDetector', detector=detector,
                           tracker=tracker, data_preprocessor=preprocessor)
    frame_transforms = [dict(type='LoadImageFromFile')] + \
        detector_frame_transforms(det_cfg)
    pipeline = [dict(type='TransformBroadcaster',
                     transforms=frame_transforms),
                dict(type='PackTrackInputs')]
    cfg.test_pipeline = pipeline
    for key in ('val_dataloader', 'test_dataloader'):
        cfg[key].dataset.pipeline = copy.deepcopy(pipeline)
    cfg.model_classes = detector_config_classes(det_cfg)
    cfg.detector_config = name or det_cfg.filename
    return cfg


def load_video_config(name: str) -> Config:
    """:func:`load_config`, with a plain detector config wrapped by
    :func:`video_config_from_detector`."""
    cfg = load_config(name)
    if is_plain_detector_config(cfg):
        cfg = video_config_from_detector(cfg, name)
    return cfg
