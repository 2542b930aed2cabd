"""RoI head whose masks are refined on patches of the frame, output as RLE."""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

import torch
from torch import Tensor, nn

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList

from ..ops.region_patches import crop_patches
from .fast_mask_head import RLEFCNMaskHead
from .rle_coarse_mask_head import RLECoarseMaskHead


def own_class_logits(mask_preds: Tensor, labels: Tensor) -> Tensor:
    """Each RoI's channel of (K, classes or 1, h, w) mask logits: (K, 1, h,
    w) (a one-channel, class-agnostic grid as it is)."""
    if mask_preds.shape[1] == 1:
        return mask_preds
    rows = torch.arange(mask_preds.shape[0], device=mask_preds.device)
    return mask_preds[rows, labels][:, None]  # (K, 1, h, w)


@MODELS.register_module()
class RLERegionRefineRoIHead(StandardRoIHead):
    """mmdet's :class:`~mmdet.models.roi_heads.StandardRoIHead` whose masks
    are refined by a :class:`~vis.models.RegionRefineHead` (a small U-Net
    on a patch of the frame around each instance, blended back in a band
    around the coarse boundary).

    The box and mask branches are the base model's (its mask head, e.g.
    :class:`~vis.models.RLEFCNMaskHead` with its 28 x 28 grid, and its mask
    RoI extractor, TRoI included), trained as they are. The refiner reads
    the frames of the batch, which the model hands over with
    :func:`refine_frames` (:class:`~vis.models.OnlineMaskTrackRCNN`,
    :class:`~vis.models.TemporalMaskTrackRCNN` and
    :class:`~vis.models.TrackedDetector` do).

    Training: the refiner is trained jointly, ``loss_refine``, on the
    positive RoIs' coarse logits of their ground-truth class (detached),
    their proposal boxes and the ground-truth masks read onto the same
    cells. Without positive RoIs ``loss_refine`` is a zero that keeps the
    refiner in the graph.

    Inference: the coarse logits of each detection's class are refined on
    its box in the network input (before rescaling) and the refined
    (K, 1, P, P) grids go to the mask head's ``predict_by_feat``, which
    pastes them into the original frame, region by region to RLE for the
    project's mask heads: there is no (N, H, W) mask.

    Args:
        refine_head (dict): the refiner, e.g. ``dict(type=
            'RegionRefineHead', patch_size=48)``.
        **kwargs: as :class:`mmdet.models.roi_heads.StandardRoIHead`.
    """

    def __init__(self, *args, refine_head: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not (isinstance(self.mask_head, (RLEFCNMaskHead,
                                            RLECoarseMaskHead))
                or self.mask_head.class_agnostic):
            raise ValueError(
                'RLERegionRefineRoIHead hands its mask head one refined '
                'channel per RoI (its own class): use RLEFCNMaskHead or '
                'RLECoarseMaskHead, or a class-agnostic mask head, not '
                f'{type(self.mask_head).__name__}')
        self.refine_head = MODELS.build(refine_head)
        #: (N, 3, H, W) the batch's frames, set by :func:`refine_frames`
        self.frames: Optional[Tensor] = None

    def _batch_frames(self, num_images: int) -> Tensor:
        frames = self.frames
        if frames is None:
            raise RuntimeError(
                'RLERegionRefineRoIHead reads the frames: run it inside '
                'vis.models.refine_frames(model, frames) (the VIS models do)')
        if frames.dim() != 4 or frames.shape[0] != num_images:
            raise ValueError(
                f'refine_frames got frames of shape {tuple(frames.shape)} '
                f'for {num_images} images; expected ({num_images}, C, H, W)')
        return frames

    def mask_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult], bbox_feats: Tensor,
                  batch_gt_instances: InstanceList) -> dict:
        """mmdet's mask loss, plus ``loss_refine`` in ``loss_mask``."""
        mask_results = super().mask_loss(x, sampling_results, bbox_feats,
                                         batch_gt_instances)
        loss_refine = self.refine_loss(mask_results['mask_preds'],
                                       sampling_results, batch_gt_instances)
        mask_results['loss_mask'] = dict(mask_results['loss_mask'],
                                         loss_refine=loss_refine)
        return mask_results

    def refine_loss(self, mask_preds: Tensor,
                    sampling_results: List[SamplingResult],
                    batch_gt_instances: InstanceList) -> Tensor:
        """``loss_refine`` of the positive RoIs.

        Args:
            mask_preds (Tensor): (R, classes, h, w) the coarse logits of the
                R positive RoIs, image by image.
            sampling_results (list[SamplingResult]): one per image.
            batch_gt_instances (list[InstanceData]): with ``masks`` at the
                network input's scale (padded to the frames).
        """
        head = self.refine_head
        frames = self._batch_frames(len(sampling_results))
        rois = bbox2roi([res.pos_priors for res in sampling_results])
        labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        if rois.shape[0] == 0:
            return head.loss(frames, rois, mask_preds[:, :1], None)
        targets = []
        for res, gt in zip(sampling_results, batch_gt_instances):
            if len(res.pos_priors) == 0:
                continue
            masks = gt.masks.to_tensor(dtype=frames.dtype,
                                       device=frames.device)  # (G, H, W)
            gt_rois = torch.cat([
                res.pos_assigned_gt_inds[:, None].to(res.pos_priors.dtype),
                res.pos_priors
            ], dim=1)  # (k, 5) as (gt index, x1, y1, x2, y2)
            targets.append(crop_patches(masks[:, None], gt_rois,
                                        head.patch_size,
                                        samples=head.samples))  # (k,1,P,P)
        targets = torch.cat(targets)  # (R, 1, P, P)
        coarse = own_class_logits(mask_preds, labels)  # (R, 1, h, w)
        if rois.shape[0] > head.num_train_patches:
            keep = torch.randperm(rois.shape[0], device=rois.device)[
                :head.num_train_patches]  # (R',)
            rois, coarse, targets = rois[keep], coarse[keep], targets[keep]
        return head.loss(frames, rois, coarse, targets)

    def predict_mask(self, x: Tuple[Tensor], batch_img_metas: List[dict],
                     results_list: InstanceList,
                     rescale: bool = False) -> InstanceList:
        """Refined masks of the detections ``results_list`` (boxes at the
        network input's scale); as mmdet's, with the mask head's
        ``predict_by_feat`` given the (K, 1, P, P) refined logits."""
        bboxes = [res.bboxes for res in results_list]
        mask_rois = bbox2roi(bboxes)  # (K, 5)
        if mask_rois.shape[0] == 0:  # mmdet's empty instances
            return super().predict_mask(x, batch_img_metas, results_list,
                                        rescale=rescale)
        frames = self._batch_frames(len(batch_img_metas))
        mask_preds = self._mask_forward(x, mask_rois)['mask_preds']
        labels = torch.cat([res.labels for res in results_list])  # (K,)
        coarse = own_class_logits(mask_preds, labels)  # (K, 1, h, w)
        refined = self.refine_head.predict(frames, mask_rois, coarse)
        per_image = refined.split([len(res) for res in results_list], 0)
        return self.mask_head.predict_by_feat(
            mask_preds=per_image, results_list=results_list,
            batch_img_metas=batch_img_metas, rcnn_test_cfg=self.test_cfg,
            rescale=rescale)


def region_refine_heads(module: nn.Module) -> List[RLERegionRefineRoIHead]:
    """The :class:`RLERegionRefineRoIHead` modules of ``module``."""
    return [m for m in module.modules()
            if isinstance(m, RLERegionRefineRoIHead)]


@contextmanager
def refine_frames(module: nn.Module, frames: Tensor) -> Iterator[None]:
    """Let every :class:`RLERegionRefineRoIHead` of ``module`` read
    ``frames`` (N, 3, H, W), the batch's network input, inside the block."""
    heads = region_refine_heads(module)
    for head in heads:
        head.frames = frames
    try:
        yield
    finally:
        for head in heads:
            head.frames = None
