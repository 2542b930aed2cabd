"""A small U-Net refining each instance's mask on a patch of the frame."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet.registry import MODELS

from ..ops.region_patches import (band_and_blend, crop_patches, patch_boxes,
                                  resample_grid, split_patch)


def _conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride,
                     padding=1)


@MODELS.register_module()
class RegionRefineHead(BaseModule):
    """Regional refinement of instance masks: a small U-Net on a patch of
    the frame and of the coarse mask logits of each instance, blended back
    in a band around the coarse boundary.

    **Patches.** One patch per instance, laid over its box: the box is cut
    into ``patch_size x patch_size`` cells (P), and ``margin`` cells (m) of
    the same size are added on each side for context, so the U-Net sees
    ``Q = P + 2 m`` cells a side (:mod:`vis.ops.region_patches`). It reads
    the frame the detector reads (the normalised network input, at image
    resolution, not the FPN features nor the 28 x 28 RoI grid), averaging
    ``samples x samples`` bilinear reads per cell, and the coarse logits of
    the instance's class resampled onto the same cells. Why one box-aligned
    patch rather than fixed-size patches centred on boundary points: the
    cost is one U-Net pass over ``K x Q x Q`` cells for K kept detections,
    whatever the number of boundary points; every boundary point of the
    instance is refined with the same context; overlapping patches need no
    merging; and the refined ``P x P`` grid covers the box exactly as the
    mask head's grid does, so it pastes into the frame by the same
    region-by-region RLE paste (no full-frame mask). The price is the
    resolution of large boxes: a 48-cell patch reads a 48-pixel box at
    image resolution, a 150-pixel box at a third of it (still 1.7x finer
    than the 28 x 28 grid). The quickstart's objects, at its 320 x 192
    input, appear 30-80 pixels across (radius 0.09-0.2 of the short side,
    changing as they move): its 48-cell patches read them at 0.6-1.7
    pixels a cell, with ``samples=1``; the YouTube-VIS configs' 80-cell
    patches over boxes of up to 640 pixels average 2 x 2 reads a cell.

    **U-Net.** Channels ``(c0, c1, c2)`` at ``Q``, ``Q / 2`` and ``Q / 4``
    cells: one 3 x 3 convolution at ``Q`` (the stem), two at each coarser
    level (the first strided); decoded by 1 x 1 projection, bilinear 2x
    upsampling and an additive skip from the encoder level, with one 3 x 3
    convolution at ``Q / 2`` and the 3 x 3 output convolution at ``Q``. The
    full-resolution level is kept to the stem and the output (5 x 5 cells
    of fine detail over the coarser context) because its convolutions cost
    most on the CPU: with ``channels=(8, 16, 32)`` and ``Q = 56`` the U-Net
    took about 7 ms for 20 instances on one core (channels-last), 1.6x that
    with two more convolutions at ``Q``. The input is the 3 frame
    channels and ``2 p - 1`` of the coarse probability ``p``; the output is
    a *correction* added to the coarse logits, whose last convolution starts
    near zero (std 1e-3), so that an untrained refiner returns about the
    coarse mask.

    **Blend.** The refined logits replace the coarse ones only in the band
    of ``band_width`` cells around the coarse 0.5 contour, in proportion to
    the coarse mask's uncertainty ``4 p (1 - p)``
    (:func:`vis.ops.region_patches.blend_in_band`): outside the band, where
    the coarse mask is certain, or where the refiner agrees, the output is
    the coarse mask.

    **Loss.** Binary cross-entropy of the blended logits against the ground
    truth mask read onto the same ``P x P`` cells (the mean of the cell's
    sub-cell reads, a soft target), averaged over the band's cells (outside
    it the output is the coarse mask, which this loss leaves to the mask
    head: the coarse logits are detached). At most ``num_train_patches``
    positive RoIs a batch, drawn at random.

    Args:
        patch_size (int): P, cells a side over the box.
        margin (int): m, context cells on each side; ``P + 2 m`` must be a
            multiple of 4.
        samples (int): bilinear reads a side per cell of the frame.
        channels (sequence[int]): (c0, c1, c2) U-Net widths.
        band_width (int): band cells on each side of the contour.
        num_train_patches (int): positive RoIs refined per training batch.
        loss_weight (float): weight of ``loss_refine``.
        channels_last (bool): channels-last convolutions at test time.
        init_cfg (dict, optional): as mmengine's ``BaseModule``.
    """

    def __init__(self, *, patch_size: int = 48, margin: int = 4,
                 samples: int = 2, channels: Sequence[int] = (8, 16, 32),
                 band_width: int = 3, num_train_patches: int = 32,
                 loss_weight: float = 1.0, channels_last: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        cells = patch_size + 2 * margin
        if patch_size < 1 or margin < 0 or cells % 4:
            raise ValueError(
                f'patch_size + 2 * margin must be a positive multiple of 4, '
                f'got patch_size={patch_size}, margin={margin}')
        if len(channels) != 3:
            raise ValueError(f'channels must be (c0, c1, c2), got '
                             f'{tuple(channels)}')
        self.patch_size = patch_size
        self.margin = margin
        self.samples = samples
        self.band_width = band_width
        self.num_train_patches = num_train_patches
        self.loss_weight = loss_weight
        self.channels_last = channels_last
        c0, c1, c2 = channels
        self.stem = nn.Sequential(_conv(4, c0), nn.ReLU(inplace=True))
        self.enc1 = nn.Sequential(_conv(c0, c1, stride=2),
                                  nn.ReLU(inplace=True), _conv(c1, c1),
                                  nn.ReLU(inplace=True))
        self.enc2 = nn.Sequential(_conv(c1, c2, stride=2),
                                  nn.ReLU(inplace=True), _conv(c2, c2),
                                  nn.ReLU(inplace=True))
        self.lateral1 = nn.Conv2d(c2, c1, kernel_size=1)
        self.dec1 = nn.Sequential(_conv(c1, c1), nn.ReLU(inplace=True))
        self.lateral0 = nn.Conv2d(c1, c0, kernel_size=1)
        self.out = _conv(c0, 1)
        nn.init.normal_(self.out.weight, std=1e-3)
        nn.init.zeros_(self.out.bias)

    @property
    def cells(self) -> int:
        """Q, cells a side of the U-Net's input."""
        return self.patch_size + 2 * self.margin

    def forward(self, image_patches: Tensor, coarse_patches: Tensor
                ) -> Tensor:
        """Refined logits of the box's cells.

        Args:
            image_patches (Tensor): (K, 3, Q, Q) normalised frame patches.
            coarse_patches (Tensor): (K, 1, Q, Q) coarse logits on the same
                cells.

        Returns:
            Tensor: (K, 1, P, P) the coarse logits plus the U-Net's
            correction, on the box's ``P x P`` cells (before the blend).
        """
        x = torch.cat([image_patches, coarse_patches.sigmoid() * 2 - 1],
                      dim=1)  # (K, 4, Q, Q)
        if self.channels_last and not self.training:
            x = x.contiguous(memory_format=torch.channels_last)
        feat0 = self.stem(x)  # (K, c0, Q, Q)
        feat1 = self.enc1(feat0)  # (K, c1, Q/2, Q/2)
        feat2 = self.enc2(feat1)  # (K, c2, Q/4, Q/4)
        # 1 x 1 projection before the upsampling (they commute: both linear,
        # bilinear weights summing to 1), so it runs on 4x fewer cells
        up1 = F.interpolate(self.lateral1(feat2), scale_factor=2,
                            mode='bilinear', align_corners=False)
        dec1 = self.dec1(F.relu(up1 + feat1))  # (K, c1, Q/2, Q/2)
        up0 = F.interpolate(self.lateral0(dec1), scale_factor=2,
                            mode='bilinear', align_corners=False)
        dec0 = F.relu(up0 + feat0)  # (K, c0, Q, Q)
        delta = self.out(dec0).contiguous()  # (K, 1, Q, Q)
        return split_patch(coarse_patches + delta, self.margin)  # (K,1,P,P)

    def patches(self, frames: Tensor, rois: Tensor,
                coarse_logits: Tensor) -> Tuple[Tensor, Tensor]:
        """The U-Net's inputs.

        Args:
            frames (Tensor): (N, 3, H, W) the normalised network input.
            rois (Tensor): (K, 5) as (frame index, x1, y1, x2, y2) in the
                input's pixels.
            coarse_logits (Tensor): (K, 1, h, w) each RoI's mask grid.

        Returns:
            tuple: (K, 3, Q, Q) frame patches in the logits' dtype, and
            (K, 1, Q, Q) coarse logits on the same cells.
        """
        grown = torch.cat([rois[:, :1], patch_boxes(
            rois[:, 1:], self.patch_size, self.margin)], dim=1)  # (K, 5)
        image = crop_patches(frames, grown, self.cells,
                             samples=self.samples)  # (K, 3, Q, Q)
        coarse = resample_grid(coarse_logits, self.patch_size,
                               margin=self.margin)  # (K, 1, Q, Q)
        return image.to(coarse.dtype), coarse

    def refine(self, frames: Tensor, rois: Tensor, coarse_logits: Tensor
               ) -> Tuple[Tensor, Tensor, Tensor]:
        """Refine K instances' masks (arguments as :meth:`patches`).

        Returns:
            tuple: (K, 1, P, P) blended logits on each box's cells, the
            (K, 1, P, P) coarse logits on them and the (K, 1, P, P) bool
            band.
        """
        image, coarse = self.patches(frames, rois, coarse_logits)
        refined = self(image, coarse)  # (K, 1, P, P)
        coarse_box = split_patch(coarse, self.margin)  # (K, 1, P, P)
        blended, band = band_and_blend(coarse_box, refined, self.band_width)
        return blended, coarse_box, band

    def predict(self, frames: Tensor, rois: Tensor,
                coarse_logits: Tensor) -> Tensor:
        """(K, 1, P, P) refined logits on each box's cells (arguments as
        :meth:`patches`)."""
        return self.refine(frames, rois, coarse_logits)[0]

    def loss(self, frames: Tensor, rois: Tensor, coarse_logits: Tensor,
             targets: Optional[Tensor]) -> Tensor:
        """``loss_refine`` of K positive RoIs.

        Args:
            frames, rois, coarse_logits: as :meth:`patches` (the logits are
                detached here).
            targets (Tensor, optional): (K, 1, P, P) ground truth in
                [0, 1] on the box's cells (unused, may be None, with no
                RoI).

        Returns:
            Tensor: the band-averaged BCE times ``loss_weight``; with no
            RoI, a zero that keeps the U-Net in the graph.
        """
        if rois.shape[0] == 0:
            return sum(p.sum() for p in self.parameters()) * 0.0
        blended, _, band = self.refine(frames, rois, coarse_logits.detach())
        bce = F.binary_cross_entropy_with_logits(
            blended, targets.to(blended.dtype), reduction='none')
        weight = band.to(bce.dtype)  # (K, 1, P, P)
        return (bce * weight).sum() / weight.sum().clamp(min=1) * \
            self.loss_weight
