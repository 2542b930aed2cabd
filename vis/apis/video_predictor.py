"""Streaming inference: feed a video one frame at a time, get tracked
instances back.

    predictor = VideoPredictor('configs/quickstart_synthetic.py',
                               'work_dirs/quickstart_synthetic/epoch_5.pth')
    for image in frames:              # (H, W, 3) uint8 BGR
        instances = predictor.predict_frame(image)
        instances.track_ids, instances.masks, ...
    predictor.reset()                 # next video

Memory stays bounded whatever the video length: nothing per frame is kept
except the tracker's memory of the tracks seen within its retain window and,
for TRoI models, the FPN features of the last few frames.
"""
import os.path as osp
import time
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict

from mmdet.registry import MODELS

from ..config_utils import (checkpoint_classes, config_classes,
                            resolve_model_classes, set_num_classes,
                            weights_num_classes)
from ..structures import dense_masks


@dataclass
class FrameInstances:
    """Tracked instances of one frame, at the frame's own resolution.

    Attributes:
        boxes (ndarray): (N, 4) float32 as (x1, y1, x2, y2) in pixels.
        masks (ndarray): (N, H, W) bool.
        labels (ndarray): (N,) int64 class indices into ``class_names``.
        scores (ndarray): (N,) float32 detection scores.
        track_ids (ndarray): (N,) int64 track IDs, >= 1 and stable over the
            video (0 is left for background in ID masks).
        class_names (tuple[str]): names of the model's classes.
    """
    boxes: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray
    class_names: tuple

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: np.ndarray) -> 'FrameInstances':
        """The instances where ``keep`` (N,) bool (or an index array) is
        set."""
        return FrameInstances(self.boxes[keep], self.masks[keep],
                              self.labels[keep], self.scores[keep],
                              self.track_ids[keep], self.class_names)

    def label_names(self) -> list:
        return [self.class_names[i] for i in self.labels]


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
            output (the tracker still sees every detection).
        cfg_options (dict, optional): config keys to override.
        fps (float, optional): frame rate of the source video, given to the
            tracker (:meth:`~vis.models.retention.TrackRetention.
            set_frame_rate`); needed when the tracker's retain window is in
            seconds (``retain_seconds``) and its config names no ``fps``.
        frame_stride (int): every ``frame_stride``-th source frame is
            passed to :meth:`predict_frame` (the tracker's frames are then
            ``frame_stride / fps`` seconds apart).

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
    """

    def __init__(self, config: Union[str, Config, None], checkpoint: str,
                 device: str = 'cpu', score_thr: float = 0.0,
                 cfg_options: Optional[dict] = None,
                 fps: Optional[float] = None, frame_stride: int = 1) -> None:
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
            if not osp.isfile(config):
                raise FileNotFoundError(f'config {config} does not exist')
            cfg = Config.fromfile(config)
            config_name = config
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        state = _state_dict(ckpt, checkpoint)
        # the checkpoint is already loaded: read its names and class count
        # here (what read_checkpoint_classes would load it again for)
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

    def retention(self) -> str:
        """The tracker's retain window in words, e.g. ``'2.0 s (20 frames at
        30 fps / 3)'`` or ``'20 frames'``."""
        describe = getattr(self.tracker, 'retention_repr', None)
        return describe() if describe else f'{self.num_frames_retain} frames'

    def reset(self) -> None:
        """Start a new video: the next frame is frame 0 and every track and
        remembered feature is forgotten."""
        self.frame_index = 0

    @torch.no_grad()
    def predict_frame(self, image: np.ndarray) -> FrameInstances:
        """Detect, segment and track the next frame of the current video.

        Args:
            image (ndarray): (H, W, 3) uint8 BGR, as ``cv2.imread`` gives.

        Returns:
            FrameInstances: the frame's instances scoring at least
            ``score_thr``, highest score first. ``last_model_seconds`` is
            then the time the model took (network, tracking and copying the
            results to the host), without reading and resizing the frame.
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
        self.frame_index += 1
        return instances

    def _to_instances(self, pred) -> FrameInstances:
        keep = pred.scores >= self.score_thr
        order = torch.argsort(pred.scores[keep], descending=True)
        pred = pred[keep][order]
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

