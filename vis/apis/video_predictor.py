"""Streaming inference: feed a video one frame at a time, get tracked
instances back.

    predictor = VideoPredictor('configs/quickstart_synthetic.py',
                               'work_dirs/quickstart_synthetic/iter_1400.pth')
    for image in frames:              # (H, W, 3) uint8 BGR
        instances = predictor.predict_frame(image)
        instances.track_ids, instances.masks, ...
    predictor.reset()                 # next video

Memory stays bounded whatever the video length: nothing per frame is kept
except the tracker's memory of the tracks seen within its retain window and,
for TRoI models, the FPN features of the last few frames.
"""
import time
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict

from mmdet.registry import MODELS

from ..config_utils import (checkpoint_classes, config_classes,
                            plain_checkpoint_error, resolve_model_classes,
                            set_num_classes, weights_num_classes)
from ..detector_config import (is_plain_detector_config, load_config,
                               video_config_from_detector)
from ..models.detector_init import is_plain_detector_state
from ..structures import dense_masks
from .frame_instances import FrameInstances
from .track_filter import TrackOutputFilter


def _frame_pipeline(cfg: Config) -> Compose:
    """The config's test pipeline, reading frames from arrays instead of
    files (``LoadImageFromFile`` -> ``LoadImageFromNDArray``)."""
    def swap(transforms):
        out = []
        for t in transforms:
            t = dict(t)
            if t['type'] in ('LoadImageFromFile', 'mmdet.LoadImageFromFile'):
                t['type'] = 'mmdet.LoadImageFromNDArray'
            if 'transforms' in t:
                t['transforms'] = swap(t['transforms'])
            out.append(t)
        return out

    pipeline = cfg.get('test_pipeline') or \
        cfg.test_dataloader.dataset.pipeline
    return Compose(swap(pipeline))


class VideoPredictor:
    """Online video instance segmentation: detect, segment and track one
    frame at a time.

    Args:
        config (str | Config | None): the model's config; None takes the
            config saved in the checkpoint.
        checkpoint (str): a checkpoint path or URL (loaded weights-only, see
            :mod:`vis.compat`).
        device (str): 'cpu', 'cuda', 'cuda:1', ...
        score_thr (float): instances scoring below are dropped from the
            output (the tracker, and the running track scores of
            ``output_filter``, still see every detection).
        cfg_options (dict, optional): config keys to override.
        fps (float, optional): frame rate of the source video, given to the
            tracker (:meth:`~vis.models.retention.TrackRetention.
            set_frame_rate`); needed when the tracker's retain window is in
            seconds (``retain_seconds``) and its config names no ``fps``.
        frame_stride (int): every ``frame_stride``-th source frame is
            passed to :meth:`predict_frame` (the tracker's frames are then
            ``frame_stride / fps`` seconds apart).
        classes (list[str], optional): names of the classes to output,
            matched to the model's ``class_names`` case-insensitively with
            ``_`` as a space (``'cell phone'`` = ``'Cell_Phone'``); None
            outputs every class. A name the model does not know raises
            ``ValueError`` here, before any frame.
        min_track_score (float): a track is output only while its running
            mean score (over every frame of it so far, this one included)
            is at least this: a causal decision, so a weak track stays
            hidden until its mean reaches the bar and is shown from then on.
        track_nms (bool): merge duplicate tracks, i.e. two tracks whose
            masks overlap (IoU >= 0.5) in at least half of the frames they
            share, after 3 shared frames: the weaker one then carries the
            stronger one's ID.

    The output goes through ``output_filter``, a
    :class:`~vis.apis.track_filter.TrackOutputFilter` (reset with the
    video); :meth:`track_summary` lists the tracks output so far.

    The class names follow the project's one rule
    (:func:`vis.config_utils.resolve_model_classes`): the names stored in
    the checkpoint (``meta.dataset_meta.classes``), else the config's (its
    test dataset's ``metainfo.classes`` or the categories of its test json);
    the heads get that many classes. A checkpoint whose box classifier has
    another class count, or names found nowhere, raise ``ValueError``.
    ``classes_source`` says where the names came from.

    Attributes:
        num_frames_retain (int): the tracker's retain window in frames
            (computed at construction, so a window in seconds without a
            frame rate is refused here, not at the first frame).
        output_filter (TrackOutputFilter): what :meth:`predict_frame`
            applies to the model's output (it holds ``score_thr``; the
            model's own output is not thresholded, so the filter's running
            track scores see every tracked detection).
    """

    def __init__(self, config: Union[str, Config, None], checkpoint: str,
                 device: str = 'cpu', score_thr: float = 0.0,
                 cfg_options: Optional[dict] = None,
                 fps: Optional[float] = None, frame_stride: int = 1,
                 classes: Optional[Sequence[str]] = None,
                 min_track_score: float = 0.0,
                 track_nms: bool = True) -> None:
        init_default_scope('mmdet')
        ckpt = CheckpointLoader.load_checkpoint(
            checkpoint, map_location='cpu', logger='silent')
        if not isinstance(ckpt, dict):
            raise ValueError(f'{checkpoint} is not a checkpoint (a dict of '
                             'weights)')
        meta = ckpt.get('meta') or {}
        if config is None:
            if 'cfg' not in meta:
                raise ValueError(f'{checkpoint} holds no config: pass one')
            cfg = Config.fromstring(meta['cfg'], '.py')
            config_name = f'{checkpoint} (its saved config)'
        elif isinstance(config, Config):
            cfg = config.copy()
            config_name = cfg.filename or 'the given Config'
        else:
            cfg = load_config(config)  # a file or a scoped mmdet:: name
            config_name = config
        if is_plain_detector_config(cfg):
            # a plain mmdet detector: tracked without training
            cfg = video_config_from_detector(cfg, config_name)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        state = _state_dict(ckpt, checkpoint)
        if is_plain_detector_state(state) and not cfg.get('detector_config'):
            raise ValueError(plain_checkpoint_error(checkpoint, config_name))
        # the checkpoint is already loaded: read its names and class count
        # here (what read_checkpoint_info would load it again for)
        trained = checkpoint_classes(meta)
        configured = None if trained else config_classes(cfg)
        self.class_names, self.classes_source = resolve_model_classes(
            trained, weights_num_classes(state), configured,
            checkpoint=checkpoint, config_name=config_name)
        set_num_classes(cfg, len(self.class_names))
        self.cfg = cfg
        self.device = torch.device(device)
        self.score_thr = score_thr
        self.model = MODELS.build(cfg.model)
        load_state_dict(self.model, state, strict=True, logger='current')
        del ckpt, state
        self.model.to(self.device).eval()
        self.tracker = self.model.tracker
        if fps is not None or frame_stride != 1:
            if not hasattr(self.tracker, 'set_frame_rate'):
                raise ValueError(
                    f'{type(self.tracker).__name__} takes no frame rate: '
                    'VideoPredictor(fps=..., frame_stride=...) needs a '
                    'tracker with set_frame_rate (vis.models.retention)')
            self.tracker.set_frame_rate(
                fps if fps is not None else self.tracker.fps, frame_stride)
        # a window in seconds without a frame rate fails here, by name
        self.num_frames_retain = self.tracker.num_frames_retain
        self.pipeline = _frame_pipeline(cfg)
        self.frame_index = 0
        self.last_model_seconds = 0.0
        # unknown class names fail here, before any frame
        self.output_filter = TrackOutputFilter(
            self.class_names, classes=classes, score_thr=score_thr,
            min_track_score=min_track_score,
            nms_iou=0.5 if track_nms else None)
        self.frame_stride = frame_stride

    def retention(self) -> str:
        """The tracker's retain window in words, e.g. ``'2.0 s (20 frames at
        30 fps / 3)'`` or ``'20 frames'``."""
        describe = getattr(self.tracker, 'retention_repr', None)
        return describe() if describe else f'{self.num_frames_retain} frames'

    def reset(self) -> None:
        """Start a new video: the next frame is frame 0 and every track and
        remembered feature is forgotten."""
        self.frame_index = 0
        self.output_filter.reset()

    def track_summary(self) -> list:
        """The tracks of the current video output so far (one dict each,
        see :meth:`~vis.apis.track_filter.TrackOutputFilter.summary`;
        ``first_frame`` / ``last_frame`` are source frame indices, i.e.
        processed frame index * ``frame_stride``)."""
        return self.output_filter.summary()

    @torch.no_grad()
    def predict_frame(self, image: np.ndarray) -> FrameInstances:
        """Detect, segment and track the next frame of the current video.

        Args:
            image (ndarray): (H, W, 3) uint8 BGR, as ``cv2.imread`` gives.

        Returns:
            FrameInstances: the frame's instances of the kept ``classes``
            scoring at least ``score_thr`` whose track's mean score so far
            reaches ``min_track_score`` (duplicate tracks merged, see
            ``output_filter``), highest score first.
            ``last_model_seconds`` is then the time the model took (network,
            tracking and copying the results to the host), without reading
            and resizing the frame or the output filter.
        """
        if not (isinstance(image, np.ndarray) and image.ndim == 3
                and image.shape[2] == 3):
            shape = getattr(image, 'shape', type(image).__name__)
            raise ValueError('predict_frame takes an (H, W, 3) BGR image, '
                             f'got {shape}')
        t = self.frame_index
        data = dict(img=[image], frame_id=[t], img_id=[t + 1],
                    ori_shape=[image.shape[:2]], video_id=[0],
                    video_length=[t + 1], ori_video_length=[t + 1])
        batch = default_collate([self.pipeline(data)])
        start = time.perf_counter()
        # the model resets its tracker (and feature memory) at frame_id 0
        sample = self.model.test_step(batch)[0][0]
        instances = self._to_instances(sample.pred_track_instances)
        self.last_model_seconds = time.perf_counter() - start
        if t == 0:
            self.output_filter.reset()
        instances = self.output_filter(t * self.frame_stride, instances)
        self.frame_index += 1
        return instances

    def _to_instances(self, pred) -> FrameInstances:
        """Every tracked instance of the frame (``score_thr`` is applied by
        ``output_filter``), highest score first; a tracker that confirms
        tracks after a few frames (``confirmed``) shows confirmed ones
        only."""
        if 'confirmed' in pred:
            pred = pred[pred.confirmed]
        order = torch.argsort(pred.scores, descending=True)
        pred = pred[order]
        return FrameInstances(
            boxes=pred.bboxes.float().cpu().numpy().reshape(-1, 4),
            masks=dense_masks(pred.masks),
            labels=pred.labels.cpu().numpy().astype(np.int64),
            scores=pred.scores.float().cpu().numpy(),
            track_ids=pred.instances_id.cpu().numpy().astype(np.int64) + 1,
            class_names=self.class_names)


def _state_dict(ckpt, name: str) -> dict:
    """The model weights of a loaded checkpoint, without the ``module.``
    prefix that distributed wrappers add."""
    if not isinstance(ckpt, dict):
        raise ValueError(f'{name} is not a checkpoint (a dict of weights)')
    state = ckpt.get('state_dict', ckpt)
    return {(k[7:] if k.startswith('module.') else k): v
            for k, v in state.items()}
