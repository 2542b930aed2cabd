"""FPN RoI extractor whose inference RoIAlign is the native kernel."""
from typing import Optional, Sequence

import torch
from mmcv.ops import RoIAlign
from torch import Tensor

from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS

from ..ops import roi_align_native


@MODELS.register_module()
class ChannelsLastRoIExtractor(SingleRoIExtractor):
    """:class:`SingleRoIExtractor` with a fast, exact RoIAlign at inference.

    Training, and any call that needs gradients, is mmdet's (mmcv's
    ``RoIAlign`` level by level). Without gradients, on float32 CPU maps,
    all RoIs are pooled from their levels in one call of
    :func:`vis.ops.multilevel_roi_align`, which reads channels-last maps
    (what :class:`OnlineMaskTrackRCNN`'s channels-last convolutions produce)
    with the channel loop vectorised; its values are bit-identical to
    mmcv's. Other cases (another RoI layer, max pooling, ``roi_scale_factor``,
    a GPU, the kernel unavailable or disabled with
    ``VIS_ROI_ALIGN_NATIVE=0``) fall back to mmdet's path.

    Args:
        channels_last_output (bool): return the native path's
            (K, C, PH, PW) features in channels-last memory format (for a
            convolutional head in that format, e.g. the mask head); False
            returns them contiguous (for a head that flattens them).
        **kwargs: as :class:`SingleRoIExtractor` (``roi_layer``,
            ``out_channels``, ``featmap_strides``, ``finest_scale``).
    """

    def __init__(self, *, channels_last_output: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.channels_last_output = channels_last_output

    def uses_native(self, feats: Sequence[Tensor], rois: Tensor,
                    roi_scale_factor: Optional[float] = None) -> bool:
        """Whether :meth:`forward` takes the native path for these inputs."""
        layer = self.roi_layers[0]
        needs_grad = torch.is_grad_enabled() and (
            rois.requires_grad or any(f.requires_grad for f in feats))
        return (not needs_grad and roi_scale_factor is None
                and isinstance(layer, RoIAlign) and layer.pool_mode == 'avg'
                and not layer.use_torchvision
                and roi_align_native.can_pool(feats))

    def forward(self, feats: Sequence[Tensor], rois: Tensor,
                roi_scale_factor: Optional[float] = None) -> Tensor:
        """RoI features.

        Args:
            feats (list[Tensor]): L FPN maps, each (N, C, H_l, W_l).
            rois (Tensor): (K, 5) as (batch_idx, x1, y1, x2, y2).
            roi_scale_factor (float, optional): as the parent.

        Returns:
            Tensor: (K, C, PH, PW).
        """
        if not self.uses_native(feats, rois, roi_scale_factor):
            return super().forward(feats, rois, roi_scale_factor)
        num_levels = len(feats)
        if num_levels == 1:
            levels = rois.new_zeros(len(rois), dtype=torch.long)
        else:
            levels = self.map_roi_levels(rois, num_levels)  # (K,)
        layers = self.roi_layers[:num_levels]
        return roi_align_native.multilevel_roi_align(
            feats, rois, levels, layers[0].output_size,
            [layer.spatial_scale for layer in layers],
            sampling_ratio=layers[0].sampling_ratio,
            aligned=layers[0].aligned,
            channels_last_output=self.channels_last_output)
