"""MaskTrack R-CNN inference, one frame at a time, channels-last on CPU."""
from typing import Tuple

import torch
from torch import Tensor

from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.models.vis import MaskTrackRCNN
from mmdet.registry import MODELS
from mmdet.structures import TrackSampleList

from ..ops import roi_align_native
from .channels_last_roi_extractor import ChannelsLastRoIExtractor
from .region_refine_roi_head import (key_frames, refine_frames,
                                     region_refine_heads)


def predict_video_online(model, inputs: Tensor,
                         data_samples: TrackSampleList, rescale: bool = True,
                         **kwargs) -> TrackSampleList:
    """Run ``model.predict_frame`` over the frames of one video in order.

    Args:
        inputs (Tensor): (1, T, C, H, W) consecutive frames of a video.
        data_samples (list[TrackDataSample]): one video's samples.
    """
    if len(data_samples) != 1:
        raise ValueError(f'{type(model).__name__} predicts one video at a '
                         'time (batch size 1)')
    track_data_sample = data_samples[0]
    for t in range(len(track_data_sample)):
        model.predict_frame(inputs[:, t], track_data_sample[t],
                            rescale=rescale, **kwargs)
    return [track_data_sample]


@MODELS.register_module()
class OnlineMaskTrackRCNN(MaskTrackRCNN):
    """:class:`mmdet.models.vis.MaskTrackRCNN` with a per-frame
    :meth:`predict_frame` and channels-last convolutions at test time.

    Training is mmdet's. At inference each frame goes through
    :meth:`predict_frame` (the tracker is reset at frame 0). With
    ``channels_last`` the frame enters the backbone in channels-last memory
    format, so the backbone, FPN and RPN convolutions run in it (measured
    1.1-1.2x per convolution on this project's CPU, values equal up to float
    rounding). The RoI heads and the tracker read the same channels-last
    maps when all their extractors are :class:`ChannelsLastRoIExtractor`
    (native RoIAlign, bit-identical to mmcv's); otherwise they get the maps
    in the standard contiguous layout, which mmcv's ``RoIAlign`` requires
    (it reads a channels-last map wrongly).

    Args:
        channels_last (bool): channels-last convolutions at test time.
        **kwargs: as :class:`mmdet.models.vis.MaskTrackRCNN`.
    """

    def __init__(self, *, channels_last: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.channels_last = channels_last

    def loss(self, inputs: Tensor, data_samples: TrackSampleList,
             **kwargs) -> dict:
        """mmdet's losses; a :class:`~vis.models.RLERegionRefineRoIHead`
        reads the key frames (``inputs`` (N, T, C, H, W))."""
        if not region_refine_heads(self.detector):
            return super().loss(inputs, data_samples, **kwargs)
        with refine_frames(self.detector, key_frames(inputs, data_samples)):
            return super().loss(inputs, data_samples, **kwargs)

    def predict(self, inputs: Tensor, data_samples: TrackSampleList,
                rescale: bool = True, **kwargs) -> TrackSampleList:
        """Track the frames of one video (or one frame of it) online.

        Args:
            inputs (Tensor): (1, T, C, H, W) consecutive frames of a video.
            data_samples (list[TrackDataSample]): one video's samples.
        """
        return predict_video_online(self, inputs, data_samples,
                                    rescale=rescale, **kwargs)

    def frame_features(self, img: Tensor) -> Tuple[Tuple[Tensor, ...],
                                                   Tuple[Tensor, ...]]:
        """FPN maps of one frame ``img`` (1, C, H, W): for the convolutional
        heads (channels-last when enabled) and for RoI ops (contiguous)."""
        if self.channels_last:
            img = img.contiguous(memory_format=torch.channels_last)
            x = self.detector.extract_feat(img)
            if self.roi_ops_read_channels_last(x):
                return x, x
            return x, tuple(level.contiguous() for level in x)
        x = self.detector.extract_feat(img.contiguous())
        return x, x

    def roi_ops_read_channels_last(self, feats: Tuple[Tensor, ...]) -> bool:
        """Whether every RoI extractor can read the maps ``feats`` in
        channels-last format at test time: all are
        :class:`ChannelsLastRoIExtractor`, the maps are float32 on the CPU
        and the native kernel is available (mmcv's CPU and CUDA RoIAlign
        need contiguous maps)."""
        extractors = [m for m in self.modules()
                      if isinstance(m, SingleRoIExtractor)]
        return (all(isinstance(m, ChannelsLastRoIExtractor)
                    for m in extractors)
                and roi_align_native.can_pool(feats))

    def predict_frame(self, img: Tensor, img_data_sample, rescale: bool = True,
                      **kwargs):
        """Detect, segment and track one frame; fills
        ``img_data_sample.pred_instances`` / ``pred_track_instances``.

        Args:
            img (Tensor): (1, C, H, W) the frame.
            img_data_sample (DetDataSample): its metainfo (``frame_id`` 0
                starts a new video: :meth:`reset_video`).
        """
        if img_data_sample.frame_id == 0:
            self.reset_video()
        conv_x, roi_x = self.frame_features(img)
        # a RLERegionRefineRoIHead refines the masks on the frame
        with refine_frames(self.detector, img):
            img_data_sample.pred_instances = self.detect(
                conv_x, roi_x, img_data_sample, rescale=rescale)
        img_data_sample.pred_track_instances = self.tracker.track(
            model=self, feats=roi_x, data_sample=img_data_sample, **kwargs)
        return img_data_sample

    def reset_video(self) -> None:
        """Forget the previous video (its tracks)."""
        self.tracker.reset()

    def detect(self, conv_x: Tuple[Tensor, ...], roi_x: Tuple[Tensor, ...],
               img_data_sample, rescale: bool = True):
        """The frame's detections (``InstanceData`` with boxes, scores,
        labels and masks) from its FPN maps (see :meth:`frame_features`)."""
        rpn_results = self.detector.rpn_head.predict(conv_x,
                                                     [img_data_sample])
        return self.detector.roi_head.predict(roi_x, rpn_results,
                                              [img_data_sample],
                                              rescale=rescale)[0]
