"""MaskTrack R-CNN inference, one frame at a time, channels-last on CPU."""
from typing import List, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.models.vis import MaskTrackRCNN
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, TrackSampleList
from mmdet.utils import InstanceList

from ..ops import roi_align_native
from .channels_last_roi_extractor import ChannelsLastRoIExtractor
from .region_refine_roi_head import refine_frames


def class_agnostic_samples(
        data_samples: List[DetDataSample]) -> List[DetDataSample]:
    """The RPN's view of ``data_samples``: their metainfo and ground-truth
    boxes, every label 0 (its one class; a sigmoid loss over one channel
    reads labels >= 1 as background), and their ignored boxes. The masks
    are left out, nothing is copied."""
    agnostic = []
    for sample in data_samples:
        rpn_sample = DetDataSample(metainfo=sample.metainfo)
        gt = sample.gt_instances
        rpn_sample.gt_instances = InstanceData(
            bboxes=gt.bboxes, labels=torch.zeros_like(gt.labels))
        if 'ignored_instances' in sample:
            ignored = sample.ignored_instances
            rpn_sample.ignored_instances = InstanceData(
                bboxes=ignored.bboxes,
                labels=torch.zeros_like(ignored.labels))
        agnostic.append(rpn_sample)
    return agnostic


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

    Training is mmdet's, but for the RPN's targets (:meth:`loss`). At
    inference each frame goes through
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
        detect_ref_frames (bool): train the RPN and RoI heads on the
            reference frames too (their ground truth is loaded for the
            track head anyway): the key and reference frames go through the
            detector as one batch of 2N frames, so detection gets twice the
            frames per step for the cost of the heads on N more frames (the
            backbone already ran on the references). Off by default, as
            mmdet trains.
        ref_feature_grad (bool): backpropagate the track head's loss into
            the backbone through the reference frames' features too (as
            mmdet). False computes them without gradient: the track head
            still learns from them and the backbone from the key frames,
            and a step skips one backbone backward pass (about a fifth of
            the quickstart's step). Not with ``detect_ref_frames``.
        **kwargs: as :class:`mmdet.models.vis.MaskTrackRCNN`.
    """

    def __init__(self, *, channels_last: bool = True,
                 detect_ref_frames: bool = False,
                 ref_feature_grad: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        if detect_ref_frames and not ref_feature_grad:
            raise ValueError('detect_ref_frames trains the detector on the '
                             'reference frames: it needs ref_feature_grad')
        self.channels_last = channels_last
        self.detect_ref_frames = detect_ref_frames
        self.ref_feature_grad = ref_feature_grad

    def loss(self, inputs: Tensor, data_samples: TrackSampleList,
             **kwargs) -> dict:
        """MaskTrack R-CNN's losses: RPN and RoI heads on the key frames,
        the track head matching the key frames' RoIs to the reference
        frames' instances.

        mmdet's :meth:`MaskTrackRCNN.loss` hands the RPN the ground truth
        with its class labels, and the RPN's one-channel sigmoid loss takes
        every label but 0 for background: only the first class's objects
        were positives for the RPN's objectness (its boxes were still
        regressed). Here the RPN gets the boxes with label 0, as mmdet's
        two-stage detectors do (:func:`class_agnostic_samples`).

        Args:
            inputs (Tensor): (N, 2, C, H, W), a key and a reference frame per
                sample.
            data_samples (list[TrackDataSample]): with key/reference frame
                indices and ground truth.
        """
        if inputs.dim() != 5 or inputs.size(1) != 2:
            raise ValueError(f'{type(self).__name__} trains on (N, 2, C, H, '
                             'W) inputs (a key and a reference frame), got '
                             f'{tuple(inputs.shape)}')
        num = len(inputs)
        batch = torch.arange(num, device=inputs.device)  # (N,)
        key_inds = [s.key_frames_inds[0] for s in data_samples]
        ref_inds = [s.ref_frames_inds[0] for s in data_samples]
        key_data_samples = [s.get_key_frames()[0] for s in data_samples]
        key_imgs = inputs[batch, key_inds].contiguous()  # (N, C, H, W)
        ref_imgs = inputs[batch, ref_inds].contiguous()  # (N, C, H, W)
        if self.detect_ref_frames:
            # one detector batch: N key frames, then their N references
            det_imgs = torch.cat([key_imgs, ref_imgs])  # (2N, C, H, W)
            det_data_samples = key_data_samples + [
                s.get_ref_frames()[0] for s in data_samples]
            det_x = self.detector.extract_feat(det_imgs)
            x = tuple(level[:num] for level in det_x)  # (N, C, H_l, W_l)
            ref_x = tuple(level[num:] for level in det_x)
        else:
            det_imgs, det_data_samples = key_imgs, key_data_samples
            x = det_x = self.detector.extract_feat(key_imgs)
            ref_x = self.ref_features(ref_imgs)
        losses, rpn_results_list = self.rpn_loss(det_x, det_data_samples,
                                                 **kwargs)
        # a RLERegionRefineRoIHead reads the frames it detects on
        with refine_frames(self.detector, det_imgs):
            losses.update(self.detector.roi_head.loss(
                det_x, rpn_results_list, det_data_samples, **kwargs))
        # the track head matches the key frames' proposals
        losses.update(self.track_head.loss(x, ref_x, rpn_results_list[:num],
                                           data_samples, **kwargs))
        return losses

    def ref_features(self, ref_imgs: Tensor) -> Tuple[Tensor, ...]:
        """FPN maps of the (N, C, H, W) reference frames for the track
        head's loss, with gradient unless ``ref_feature_grad`` is False."""
        with torch.set_grad_enabled(self.ref_feature_grad
                                    and torch.is_grad_enabled()):
            return self.detector.extract_feat(ref_imgs)

    def rpn_loss(self, x: Tuple[Tensor, ...],
                 data_samples: List[DetDataSample],
                 **kwargs) -> Tuple[dict, InstanceList]:
        """The RPN's losses (``loss_rpn_cls``, ``loss_rpn_bbox``) on the
        class-agnostic ground truth of ``data_samples`` and its proposals
        for the RoI heads (``rpn_proposal`` of the detector's train_cfg,
        else its test-time ``rpn``)."""
        proposal_cfg = self.detector.train_cfg.get(
            'rpn_proposal', self.detector.test_cfg.rpn)
        rpn_losses, rpn_results_list = self.detector.rpn_head.loss_and_predict(
            x, class_agnostic_samples(data_samples),
            proposal_cfg=proposal_cfg, **kwargs)
        for key in list(rpn_losses):
            if 'loss' in key and 'rpn' not in key:
                rpn_losses[f'rpn_{key}'] = rpn_losses.pop(key)
        return rpn_losses, rpn_results_list

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
