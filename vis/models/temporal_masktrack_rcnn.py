"""MaskTrack R-CNN whose RoI features borrow from other frames (TRoI)."""
from collections import deque
from typing import Deque, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmdet.registry import MODELS
from mmdet.structures import TrackSampleList

from .online_masktrack_rcnn import OnlineMaskTrackRCNN
from .region_refine_roi_head import refine_frames
from .temporal_roi_extractor import temporal_support


class FeatureMemory:
    """FIFO of the FPN features of the last ``size`` frames of one video.

    Holds at most ``size`` frames whatever the video length, so streaming
    inference over a long video keeps bounded memory. The frames stay on
    the device and in the dtype they were pushed with (the model's), and
    :meth:`support` builds its stacks there; every remembered frame must
    have the same levels, shapes, device and dtype (a frame that does not
    is refused with an error naming the level).
    """

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f'memory size must be >= 0, got {size}')
        self.size = size
        self.frames: Deque[Tuple[Tensor, ...]] = deque(maxlen=max(size, 1))

    def reset(self) -> None:
        self.frames.clear()

    def __len__(self) -> int:
        return len(self.frames) if self.size else 0

    def push(self, feats: Sequence[Tensor]) -> None:
        """Remember one frame's features.

        Args:
            feats (Sequence[Tensor]): level l of shape (1, C, H_l, W_l).

        Raises:
            ValueError: a level whose batch is not 1, or whose shape,
                device or dtype differs from the frames already held.
        """
        if not self.size:
            return
        for lvl, level in enumerate(feats):
            if level.dim() != 4 or level.shape[0] != 1:
                raise ValueError(
                    f'FeatureMemory.push: level {lvl} must be (1, C, H, W), '
                    f'got {tuple(level.shape)}')
        if self.frames:
            held = self.frames[-1]
            if len(held) != len(feats):
                raise ValueError(
                    f'FeatureMemory.push: {len(feats)} levels, the frames '
                    f'held have {len(held)}')
            for lvl, (old, level) in enumerate(zip(held, feats)):
                if (old.shape, old.device, old.dtype) != (
                        level.shape, level.device, level.dtype):
                    raise ValueError(
                        f'FeatureMemory.push: level {lvl} is '
                        f'{tuple(level.shape)} {level.dtype} on '
                        f'{level.device}, the frames held are '
                        f'{tuple(old.shape)} {old.dtype} on {old.device} '
                        '(reset the memory between videos of different '
                        'sizes)')
        self.frames.append(tuple(f.detach() for f in feats))

    def support(self) -> Optional[List[Tensor]]:
        """Per level (1, T, C, H_l, W_l), oldest frame first, on the frames'
        device; None if empty."""
        if not len(self):
            return None
        num_levels = len(self.frames[0])
        # frame t of level l: (1, C, H, W) -> stack of T (C, H, W) -> add
        # the batch axis: (1, T, C, H, W)
        return [
            torch.stack([frame[lvl][0] for frame in self.frames])[None]
            for lvl in range(num_levels)
        ]


@MODELS.register_module()
class TemporalMaskTrackRCNN(OnlineMaskTrackRCNN):
    """MaskTrack R-CNN + Temporal RoI Align.

    Every :class:`~vis.models.TemporalRoIExtractor` of the detector's RoI
    head gets the support frames' features; the shipped configs use it on
    the **mask branch** only. The masks are what video mask AP measures, and
    the mask branch sees few RoIs (the positives when training, the final
    detections, at most ``max_per_img``, at inference), whereas the box
    branch sees every proposal (128 sampled RoIs a step, 200 proposals a
    frame): the most-similar search costs O(RoIs x support pixels), and on
    the box branch it made training steps 1.75x and inference frames 5.8x
    slower than the baseline (docs/benchmarks.md). The track head keeps
    plain RoIAlign: it compares instances across frames, where mixing frames
    would blur identities.

    Training: each sample is a key frame and R >= 1 reference frames. The
    first reference frame is the tracking reference (MaskTrack R-CNN's match
    loss) and every reference frame is a support frame; the features of the
    extra ones are computed without gradient, which keeps the step cost close
    to the baseline's (two backbone passes with gradient).

    Inference is online: the FPN features of the last ``memory_size`` frames
    are kept in a FIFO :class:`FeatureMemory` (reset at each video's first
    frame) and serve as support frames of the current one; the first frame of
    a video has no support and gets plain RoIAlign.

    Args:
        memory_size (int): support frames used at inference.
        **kwargs: as :class:`OnlineMaskTrackRCNN` (``channels_last``) and
            :class:`mmdet.models.vis.MaskTrackRCNN`.
    """

    def __init__(self, *, memory_size: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.detect_ref_frames:
            raise ValueError(
                'TemporalMaskTrackRCNN detects on key frames only (its '
                'references are their support frames): detect_ref_frames '
                'must be False')
        self.feature_memory = FeatureMemory(memory_size)

    def loss(self, inputs: Tensor, data_samples: TrackSampleList,
             **kwargs) -> dict:
        """Losses of a batch.

        Args:
            inputs (Tensor): (N, T, C, H, W), a key frame and T-1 reference
                frames per sample.
            data_samples (list[TrackDataSample]): with key/reference frame
                indices and ground truth.
        """
        if inputs.dim() != 5 or inputs.size(1) < 2:
            raise ValueError('TemporalMaskTrackRCNN needs (N, T>=2, C, H, W) '
                             f'inputs, got {tuple(inputs.shape)}')
        batch = torch.arange(len(inputs), device=inputs.device)  # (N,)
        key_inds = [s.key_frames_inds[0] for s in data_samples]
        ref_inds = [list(s.ref_frames_inds) for s in data_samples]
        if len({len(r) for r in ref_inds}) != 1:
            raise ValueError('every sample needs the same number of '
                             'reference frames')
        key_data_samples = [s.get_key_frames()[0] for s in data_samples]
        key_imgs = inputs[batch, key_inds].contiguous()  # (N, C, H, W)
        x = self.detector.extract_feat(key_imgs)
        ref_x = self.ref_features(
            inputs[batch, [r[0] for r in ref_inds]].contiguous())
        supports = [[f[:, None] for f in ref_x]]  # level l: (N, 1, C, H, W)
        with torch.no_grad():
            for j in range(1, len(ref_inds[0])):
                extra = self.detector.extract_feat(
                    inputs[batch, [r[j] for r in ref_inds]].contiguous())
                supports.append([f[:, None] for f in extra])
        support = [torch.cat(per_level, dim=1)  # (N, R, C, H_l, W_l)
                   for per_level in zip(*supports)]

        # the RPN on class-agnostic ground truth (OnlineMaskTrackRCNN)
        losses, rpn_results_list = self.rpn_loss(x, key_data_samples,
                                                 **kwargs)
        with temporal_support(self.detector.roi_head, support), \
                refine_frames(self.detector.roi_head, key_imgs):
            losses.update(self.detector.roi_head.loss(
                x, rpn_results_list, key_data_samples, **kwargs))
        losses.update(self.track_head.loss(x, ref_x, rpn_results_list,
                                           data_samples, **kwargs))
        return losses

    def reset_video(self) -> None:
        """Forget the previous video: its tracks and remembered features."""
        super().reset_video()
        self.feature_memory.reset()

    def roi_ops_read_channels_last(self, feats: Tuple[Tensor, ...]) -> bool:
        """False: the RoI maps, which are also remembered as TRoI support
        frames, keep the standard contiguous layout the TRoI op is tested
        in (its RoIAlign still runs natively, converting them)."""
        return False

    def detect(self, conv_x: Tuple[Tensor, ...], roi_x: Tuple[Tensor, ...],
               img_data_sample, rescale: bool = True):
        """Detections with the remembered frames as TRoI support; the
        frame's maps are then remembered for the next frames."""
        with temporal_support(self.detector.roi_head,
                              self.feature_memory.support()):
            det = super().detect(conv_x, roi_x, img_data_sample,
                                 rescale=rescale)
        self.feature_memory.push(roi_x)
        return det
