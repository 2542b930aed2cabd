"""PointRend RoI head for the VIS model: refined masks, output as RLE."""
from types import SimpleNamespace
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops import point_sample
from torch import Tensor

from mmdet.models.roi_heads import PointRendRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.utils import InstanceList


@MODELS.register_module()
class RLEPointRendRoIHead(PointRendRoIHead):
    """mmdet's :class:`~mmdet.models.roi_heads.PointRendRoIHead`
    (`PointRend <https://arxiv.org/abs/1912.08193>`_) for MaskTrack R-CNN.

    Training is mmdet's: the coarse mask head
    (:class:`RLECoarseMaskHead`) learns (classes, 7, 7) masks, and the
    point head (mmdet's ``MaskPointHead``) learns the mask at
    ``train_cfg.num_points`` points per positive RoI, chosen mostly where
    the coarse mask is uncertain, from the FPN features sampled at those
    points (one block of channels per level of ``point_feat_strides``) and
    the coarse logits there. The point loss is ``loss_point``.

    At inference the coarse logits are refined by ``subdivision_steps``
    steps: upsample 2x (bilinear), then re-predict the
    ``subdivision_num_points`` most uncertain cells with the point head, as
    mmdet does, but **for each RoI's own class only**: mmdet refines every
    class channel, a (K, classes, 224, 224) tensor at the 5th step (800 MB
    for 100 RoIs of 40 classes) of which only the label's channel is used;
    here it is (K, 1, 224, 224) and the values of that channel are the same.
    The refined logits go to the mask head's ``predict_by_feat``;
    :class:`RLECoarseMaskHead` pastes them region by region into RLE.

    Without positive RoIs in a training batch (frames without objects) the
    point loss is a zero that keeps the point head in the graph, where
    mmdet's head would fail on the empty RoIs.

    Args:
        point_head (dict): the point head (``MaskPointHead``); its
            ``in_channels`` is the FPN channels x the number of
            ``point_feat_strides``, and its ``num_classes`` the mask head's.
        point_feat_strides (list[int], optional): the FPN levels, by
            stride, whose features the point head reads at its points
            (among ``mask_roi_extractor.featmap_strides``). ``[4]`` reads
            the finest map only, as PointRend (and mmdet's PointRend
            configs, whose mask RoI extractor has that one level); None
            reads every level of ``mask_roi_extractor`` (mmdet's head as
            it is).
        **kwargs: as :class:`mmdet.models.roi_heads.StandardRoIHead`.
    """

    def __init__(self, *args, point_feat_strides: Optional[Sequence[int]] =
                 None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        strides = list(self.mask_roi_extractor.featmap_strides)
        if point_feat_strides is None:
            self.point_feat_levels = list(range(len(strides)))
        else:
            unknown = [s for s in point_feat_strides if s not in strides]
            if unknown or not point_feat_strides:
                raise ValueError(
                    f'point_feat_strides {list(point_feat_strides)} must be '
                    f'among the mask RoI extractor\'s strides {strides}')
            self.point_feat_levels = [strides.index(s)
                                      for s in point_feat_strides]

    def _get_fine_grained_point_feats(self, x: Tuple[Tensor], rois: Tensor,
                                      rel_roi_points: Tensor) -> Tensor:
        """The FPN features of ``point_feat_strides`` at the points.

        Args:
            x (tuple[Tensor]): FPN maps, level l (N, C, H_l, W_l).
            rois (Tensor): (K, 5) as (batch_idx, x1, y1, x2, y2).
            rel_roi_points (Tensor): (K, P, 2) points in [0, 1]^2 of each
                RoI.

        Returns:
            Tensor: (K, C x levels, P).
        """
        levels = self.point_feat_levels
        extractor = self.mask_roi_extractor
        if len(levels) == extractor.num_inputs:
            return super()._get_fine_grained_point_feats(x, rois,
                                                         rel_roi_points)
        # mmdet's sampling, over the chosen levels only: it reads nothing
        # of the head but these two attributes of its extractor
        chosen = SimpleNamespace(mask_roi_extractor=SimpleNamespace(
            num_inputs=len(levels),
            featmap_strides=[extractor.featmap_strides[i] for i in levels]))
        return PointRendRoIHead._get_fine_grained_point_feats(
            chosen, [x[i] for i in levels], rois, rel_roi_points)

    def _mask_point_loss(self, x: Tuple[Tensor],
                         sampling_results: List[SamplingResult],
                         mask_preds: Tensor,
                         batch_gt_instances: InstanceList) -> dict:
        """Point loss of the positive RoIs (``mask_preds`` (P, classes, 7,
        7) their coarse logits)."""
        if sum(len(res.pos_bboxes) for res in sampling_results) == 0:
            zero = mask_preds.sum() * 0 + sum(
                p.sum() for p in self.point_head.parameters()) * 0
            return dict(loss_point=zero)
        return super()._mask_point_loss(x, sampling_results, mask_preds,
                                        batch_gt_instances)

    def _mask_point_forward_test(self, x: Tuple[Tensor], rois: Tensor,
                                 label_preds: Tensor,
                                 mask_preds: Tensor) -> Tensor:
        """Refine one image's coarse mask logits of each RoI's class.

        Args:
            x (tuple[Tensor]): the image's FPN maps, level l (1, C, H_l,
                W_l).
            rois (Tensor): (K, 5) as (0, x1, y1, x2, y2) at the input scale.
            label_preds (Tensor): (K,) the RoIs' classes.
            mask_preds (Tensor): (K, classes, s, s) coarse logits (classes
                is 1 for a class-agnostic mask head).

        Returns:
            Tensor: (K, 1, S, S) refined logits of each RoI's class,
            ``S = s * scale_factor ** subdivision_steps``.
        """
        cfg = self.test_cfg
        num_rois = mask_preds.shape[0]
        if mask_preds.shape[1] == 1:
            own = mask_preds  # (K, 1, s, s)
        else:
            rows = torch.arange(num_rois, device=mask_preds.device)  # (K,)
            own = mask_preds[rows, label_preds][:, None]  # (K, 1, s, s)
        # the refined mask has one channel: channel 0 is every RoI's class
        channel = torch.zeros_like(label_preds)  # (K,)
        refined = own
        for step in range(cfg.subdivision_steps):
            refined = F.interpolate(
                refined, scale_factor=cfg.scale_factor, mode='bilinear',
                align_corners=False)  # (K, 1, S_t, S_t)
            size_h, size_w = refined.shape[2:]
            if num_rois == 0:
                continue
            # as mmdet: a step is skipped (except the last) when the next
            # one re-predicts at least as many points as this one has cells
            next_cells = cfg.scale_factor**2 * size_h * size_w
            if (cfg.subdivision_num_points >= next_cells
                    and step < cfg.subdivision_steps - 1):
                continue
            # cell indices into S_t * S_t: (K, P); their centres in the
            # RoI, in [0, 1]^2: (K, P, 2)
            cells, points = self.point_head.get_roi_rel_points_test(
                refined, channel, cfg=cfg)
            fine = self._get_fine_grained_point_feats(x, rois, points)
            coarse = point_sample(mask_preds, points)  # (K, classes, P)
            point_logits = self.point_head(fine, coarse)  # (K, classes, P)
            if point_logits.shape[1] > 1:
                rows = torch.arange(num_rois, device=point_logits.device)
                point_logits = point_logits[rows, label_preds]  # (K, P)
            else:
                point_logits = point_logits[:, 0]  # (K, P)
            # (K, 1, S_t, S_t) -> flatten the cells: (K, S_t * S_t); write
            # the P re-predicted cells; -> (K, 1, S_t, S_t)
            refined = refined.reshape(num_rois, size_h * size_w).scatter(
                1, cells, point_logits).view(num_rois, 1, size_h, size_w)
        return refined
