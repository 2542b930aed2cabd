"""An FPN RoI extractor that applies Temporal RoI Align with support frames."""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdet.registry import MODELS

from ..ops import TemporalRoIAlign
from .channels_last_roi_extractor import ChannelsLastRoIExtractor


@MODELS.register_module()
class TemporalRoIExtractor(ChannelsLastRoIExtractor):
    """:class:`ChannelsLastRoIExtractor` + Temporal RoI Align.

    RoIAlign runs as in the parent (mmdet's ``SingleRoIExtractor``, whose
    ``roi_layer`` config is looked up in ``mmcv.ops``, or the native
    kernel at inference); then, while support features are set (see
    :func:`temporal_support`), each RoI's features are enriched with the most
    similar features of the support frames **at the FPN level the RoI is
    assigned to** and aggregated by temporal attention. Without support
    frames the output is plain RoIAlign, exactly.

    The Temporal RoI Align module is built here explicitly, not through
    ``roi_layer``, because mmdet resolves ``roi_layer`` types in ``mmcv.ops``
    by name.

    The search costs O(RoI cells x support pixels), so RoIs larger than
    ``temporal_size`` (the mask branch's 14x14) are searched at
    ``temporal_size`` cells: the features are average-pooled to it, aligned,
    and the change the alignment makes is upsampled (bilinear) and added
    back, keeping the full-resolution detail.

    Args:
        temporal (dict): arguments of :class:`vis.ops.TemporalRoIAlign`
            (``topk``, ``num_heads``, ``num_attention_blocks``...);
            ``in_channels`` defaults to ``out_channels``.
        temporal_size (int, optional): cells per side of the temporal
            search (None: the RoI output size).
        gate_init (float, optional): if set, the output is
            ``x + g * (TRoI(x) - x)`` with a learnable per-channel gate ``g``
            starting at this value; 0 starts training from plain RoIAlign
            (the baseline) and lets the model learn how much of the other
            frames to take. None: the op's output as it is.
        **kwargs: passed to :class:`ChannelsLastRoIExtractor`
            (``roi_layer``, ``out_channels``, ``featmap_strides``,
            ``channels_last_output``...).
    """

    def __init__(self, *, temporal: Optional[dict] = None,
                 temporal_size: Optional[int] = None,
                 gate_init: Optional[float] = None, **kwargs):
        super().__init__(**kwargs)
        temporal = dict(temporal or {})
        temporal.setdefault('in_channels', self.out_channels)
        self.temporal_align = TemporalRoIAlign(**temporal)
        self.temporal_size = temporal_size
        self.temporal_gate = None
        if gate_init is not None:
            self.temporal_gate = nn.Parameter(
                torch.full((self.out_channels, 1, 1), float(gate_init)))
        # per FPN level: (N, T, C, H_l, W_l) support features, or None
        self.support_feats: Optional[List[Tensor]] = None

    def forward(self, feats: Sequence[Tensor], rois: Tensor,
                roi_scale_factor: Optional[float] = None) -> Tensor:
        """Extract RoI features.

        Args:
            feats (Sequence[Tensor]): key-frame FPN features, level l of
                shape (N, C, H_l, W_l).
            rois (Tensor): (K, 5) as (batch_idx, x1, y1, x2, y2).

        Returns:
            Tensor: (K, C, S, S) RoI features.
        """
        roi_feats = super().forward(feats, rois, roi_scale_factor)
        support = self.support_feats
        if support is None or len(rois) == 0 or support[0].shape[1] == 0:
            return roi_feats
        num_levels = len(feats)
        levels = self.map_roi_levels(rois, num_levels)  # (K,)
        batch_ids = rois[:, 0].long()  # (K,)
        out = roi_feats.clone()
        for lvl in range(num_levels):
            for b in torch.unique(batch_ids[levels == lvl]).tolist():
                sel = ((levels == lvl) & (batch_ids == b)).nonzero()[:, 0]
                out[sel] = self.align(roi_feats[sel], support[lvl][b])
        return out

    def align(self, roi_feats: Tensor, support_feats: Tensor) -> Tensor:
        """Temporal RoI Align of (k, C, S, S) RoI features with one image's
        (T, C, H, W) support maps, at ``temporal_size`` cells."""
        size = roi_feats.shape[-1]
        if self.temporal_size is None or self.temporal_size == size:
            small = roi_feats
        else:
            small = F.adaptive_avg_pool2d(roi_feats, self.temporal_size)
        # (k, C, s, s)
        delta = self.temporal_align(small, support_feats) - small
        if self.temporal_gate is not None:
            delta = delta * self.temporal_gate
        if small is not roi_feats:
            delta = F.interpolate(delta, size=roi_feats.shape[-2:],
                                  mode='bilinear', align_corners=False)
        return roi_feats + delta


def temporal_extractors(module: nn.Module) -> List[TemporalRoIExtractor]:
    """All :class:`TemporalRoIExtractor` submodules of ``module``."""
    return [m for m in module.modules() if isinstance(m, TemporalRoIExtractor)]


@contextmanager
def temporal_support(module: nn.Module,
                     support_feats: Optional[Sequence[Tensor]]
                     ) -> Iterator[None]:
    """Let every :class:`TemporalRoIExtractor` in ``module`` use
    ``support_feats`` (per level (N, T, C, H_l, W_l)) inside the block."""
    extractors = temporal_extractors(module)
    for ex in extractors:
        ex.support_feats = list(support_feats) if support_feats else None
    try:
        yield
    finally:
        for ex in extractors:
            ex.support_feats = None
