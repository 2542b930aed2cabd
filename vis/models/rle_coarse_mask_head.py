"""PointRend's coarse mask head, its test-time masks pasted straight to RLE."""
from torch import Tensor

from mmdet.models.roi_heads.mask_heads import CoarseMaskHead
from mmdet.registry import MODELS

from ..ops.mask_paste import paste_masks_to_rle_by_region
from .fast_mask_head import rle_masks


@MODELS.register_module()
class RLECoarseMaskHead(CoarseMaskHead):
    """:class:`mmdet.models.roi_heads.mask_heads.CoarseMaskHead` whose
    test-time masks are :class:`vis.structures.RLEMasks`.

    Same layers, weights and training as mmdet's head (convolutions, a
    strided downsampling convolution and fully connected layers predicting a
    coarse (classes, 7, 7) mask per RoI). At inference
    :class:`RLEPointRendRoIHead` hands it the *refined* logits (a fine grid,
    224 x 224 after PointRend's 5 subdivision steps), and each instance's
    mask is pasted into its box region of the image and run-length encoded
    on its own (:func:`vis.ops.mask_paste.paste_masks_to_rle_by_region`): no
    ``(N, H, W)`` mask, nor any full-frame buffer, is allocated.

    The logits may have one channel per class or a single channel (the
    RoI's own class, which is what :class:`RLEPointRendRoIHead` refines).

    Args:
        rle_output (bool): return ``RLEMasks`` at test time; False gives
            mmdet's ``(N, H, W)`` bool tensor.
        **kwargs: as :class:`CoarseMaskHead` (``num_fcs``,
            ``fc_out_channels``, ``downsample_factor``, ``in_channels``,
            ``conv_out_channels``, ``roi_feat_size``, ``num_classes``...).
    """

    def __init__(self, *, rle_output: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rle_output = rle_output

    def _predict_by_feat_single(self, mask_preds: Tensor, bboxes: Tensor,
                                labels: Tensor, img_meta: dict,
                                rcnn_test_cfg, rescale: bool = False,
                                activate_map: bool = False):
        """Masks of one image's K detections.

        Args:
            mask_preds (Tensor): (K, classes or 1, S, S) logits on each
                box's grid (S = 7 coarse, or the refined size).
            bboxes (Tensor): (K, 4) at the network's input scale.
            labels (Tensor): (K,) classes.
        """
        threshold = rcnn_test_cfg.mask_thr_binary
        if not self.rle_output or activate_map or threshold < 0:
            if mask_preds.shape[1] == 1 and not self.class_agnostic:
                # one channel already holds each RoI's own class
                labels = labels.new_zeros(labels.shape)  # (K,)
            return super()._predict_by_feat_single(
                mask_preds, bboxes, labels, img_meta, rcnn_test_cfg,
                rescale=rescale, activate_map=activate_map)
        return rle_masks(mask_preds, bboxes, labels, img_meta, threshold,
                         rescale=rescale, class_agnostic=self.class_agnostic,
                         paste=paste_masks_to_rle_by_region)
