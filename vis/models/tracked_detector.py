"""A plain mmdet instance-segmentation detector, tracked without training.

:class:`TrackedDetector` wraps any mmdet detector that predicts masks (Mask
R-CNN, Cascade Mask R-CNN, ... and single-stage ones such as SOLO or
RTMDet-Ins) and follows its detections through a video with a tracker that
needs no training (:class:`~vis.models.assignment_tracker.
AssignmentTracker`). It holds the detector unchanged under ``detector``, so
a plain mmdet checkpoint (keys ``backbone.*``, ``roi_head.*``) loads into it
as it is: keys without the ``detector.`` prefix are given it on load.

Appearance: for a two-stage detector each final detection gets the output
of its box head's shared fully connected layers (``shared_fcs``, 1024-d in
mmdet's Mask R-CNN), pooled from the detection's own box; the tracker
compares these by cosine similarity. Detectors without such a head are
tracked from masks, boxes and classes alone.
"""
from typing import Optional

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.mot import BaseMOTModel
from mmdet.registry import MODELS
from mmdet.structures import TrackSampleList
from mmdet.structures.bbox import bbox2roi

from ..structures import RLEMasks, dense_masks
from .online_masktrack_rcnn import predict_video_online
from .region_refine_roi_head import refine_frames


def shared_fc_features(bbox_head: torch.nn.Module, roi_feats: Tensor
                       ) -> Optional[Tensor]:
    """The shared-FC output of an mmdet ``ConvFCBBoxHead`` (e.g.
    ``Shared2FCBBoxHead``) for RoI features, or None for a head without
    shared layers.

    Args:
        bbox_head: the box head.
        roi_feats (Tensor): (K, C, S, S) pooled RoI features.

    Returns:
        Tensor or None: (K, D) features, the input of its classifier and
        box regressor (D = ``fc_out_channels``).
    """
    shared_convs = getattr(bbox_head, 'shared_convs', None)
    shared_fcs = getattr(bbox_head, 'shared_fcs', None)
    if shared_fcs is None or len(shared_fcs) == 0:
        return None
    x = roi_feats
    for conv in shared_convs or ():
        x = conv(x)
    if getattr(bbox_head, 'with_avg_pool', False):
        x = bbox_head.avg_pool(x)
    x = x.flatten(1)  # (K, C * S * S)
    for fc in shared_fcs:
        x = bbox_head.relu(fc(x))
    return x  # (K, D)


def prefix_plain_detector_keys(state_dict: dict, prefix: str = '') -> dict:
    """Rename, in place, the keys of a plain detector checkpoint (none
    under ``prefix + 'detector.'``) from ``prefix + KEY`` to ``prefix +
    'detector.' + KEY``, the names :class:`TrackedDetector` holds them
    under; a state dict with ``detector.`` keys is left as it is. Returns
    ``state_dict``."""
    detector_prefix = prefix + 'detector.'
    if not any(k.startswith(detector_prefix) for k in state_dict):
        for key in [k for k in state_dict if k.startswith(prefix)]:
            state_dict[detector_prefix + key[len(prefix):]] = \
                state_dict.pop(key)
    return state_dict


@MODELS.register_module()
class TrackedDetector(BaseMOTModel):
    """An mmdet instance-segmentation detector followed by a tracker that
    needs no training, one frame at a time.

    Args:
        detector (dict): the mmdet detector's config (its ``model`` without
            ``data_preprocessor``).
        tracker (dict): the tracker's config, e.g.
            ``dict(type='AssignmentTracker')``.
        data_preprocessor (dict, optional): a ``TrackDataPreprocessor`` with
            the detector's normalisation and padding.
        init_cfg (dict, optional): as mmengine's ``BaseModule``.

    Training is not what this model is for: train a MaskTrack R-CNN from
    the detector instead (``tools/train.py CONFIG --load-detector CKPT``).
    """

    def __init__(self, detector: dict, tracker: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.detector = MODELS.build(detector)
        self.tracker = MODELS.build(tracker)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # renamed in place before the children load
        prefix_plain_detector_keys(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def loss(self, inputs, data_samples, **kwargs):
        raise RuntimeError(
            'TrackedDetector tracks a pretrained detector without training; '
            'to train on videos, start a MaskTrack R-CNN config from the '
            'detector: tools/train.py CONFIG --load-detector CHECKPOINT')

    def predict(self, inputs: Tensor, data_samples: TrackSampleList,
                rescale: bool = True, **kwargs) -> TrackSampleList:
        """Track the frames of one video (or one frame of it) online.

        Args:
            inputs (Tensor): (1, T, C, H, W) consecutive frames of a video.
            data_samples (list[TrackDataSample]): one video's samples.
        """
        return predict_video_online(self, inputs, data_samples,
                                    rescale=rescale)

    def predict_frame(self, img: Tensor, img_data_sample,
                      rescale: bool = True):
        """Detect, segment and track one frame; fills
        ``img_data_sample.pred_instances`` and ``pred_track_instances``
        (with ``instances_id`` and ``confirmed``).

        Args:
            img (Tensor): (1, C, H, W) the frame.
            img_data_sample (DetDataSample): its metainfo (``frame_id`` 0
                starts a new video).
        """
        if img_data_sample.frame_id == 0:
            self.tracker.reset()
        img_data_sample.pred_instances = self.detect(img, img_data_sample,
                                                     rescale=rescale)
        img_data_sample.pred_track_instances = self.tracker.track(
            model=self, feats=None, data_sample=img_data_sample)
        img_data_sample.pred_instances.pop('embeds', None)
        return img_data_sample

    def detect(self, img: Tensor, img_data_sample,
               rescale: bool = True) -> InstanceData:
        """The frame's detections: ``bboxes`` (K, 4), ``scores`` (K,),
        ``labels`` (K,), ``masks`` (K, H, W) bool and, for a two-stage
        detector with shared box-head layers, ``embeds`` (K, D)."""
        detector = self.detector
        roi_head = getattr(detector, 'roi_head', None)
        if roi_head is None or not getattr(detector, 'with_rpn', False):
            pred = detector.predict(img, [img_data_sample],
                                    rescale=rescale)[0].pred_instances
            return self._dense(pred)
        x = detector.extract_feat(img)
        rpn_results = detector.rpn_head.predict(x, [img_data_sample],
                                                rescale=False)
        # a RLERegionRefineRoIHead refines the masks on the frame
        with refine_frames(roi_head, img):
            pred = roi_head.predict(x, rpn_results, [img_data_sample],
                                    rescale=rescale)[0]
        pred = self._dense(pred)
        embeds = self.appearance(x, pred.bboxes, img_data_sample,
                                 rescaled=rescale)
        if embeds is not None:
            pred.embeds = embeds
        return pred

    def appearance(self, feats, bboxes: Tensor, img_data_sample,
                   rescaled: bool = True) -> Optional[Tensor]:
        """Shared-FC features (K, D) of the boxes ``bboxes`` (K, 4) (in the
        original image when ``rescaled``), or None when the box head has no
        shared layers."""
        roi_head = self.detector.roi_head
        bbox_head = roi_head.bbox_head
        extractor = roi_head.bbox_roi_extractor
        if isinstance(bbox_head, torch.nn.ModuleList):  # cascade: last stage
            bbox_head, extractor = bbox_head[-1], extractor[-1]
        if getattr(bbox_head, 'shared_fcs', None) is None:
            return None
        if len(bboxes) == 0:
            dim = bbox_head.shared_out_channels
            return bboxes.new_zeros(0, dim)  # (0, D)
        if rescaled:
            scale = bboxes.new_tensor(img_data_sample.metainfo['scale_factor'])
            bboxes = bboxes * scale.repeat(2)[None]  # back to input scale
        rois = bbox2roi([bboxes])  # (K, 5) as (batch_idx, x1, y1, x2, y2)
        roi_feats = extractor(feats[:extractor.num_inputs], rois)
        return shared_fc_features(bbox_head, roi_feats)  # (K, D)

    @staticmethod
    def _dense(pred: InstanceData) -> InstanceData:
        """``pred`` with its masks as a dense (K, H, W) bool tensor."""
        masks = pred.get('masks')
        if isinstance(masks, RLEMasks):
            pred.masks = torch.from_numpy(dense_masks(masks)).to(
                pred.bboxes.device)
        elif isinstance(masks, Tensor) and masks.dtype != torch.bool:
            pred.masks = masks > 0.5
        return pred
