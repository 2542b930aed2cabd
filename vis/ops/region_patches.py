"""Patches along a mask's boundary, and the band blend of a refined mask.

The regional refiner (:class:`vis.models.RegionRefineHead`) refines each
instance's mask on a patch grid laid over its box: ``size x size`` cells
covering the box, plus ``margin`` cells of the same size on each side for
context, ``size + 2 * margin`` cells a side in all. Cell ``(i, j)`` of a box
``(x1, y1, x2, y2)`` is centred at ``x1 + (j - margin + 0.5) * (x2 - x1) /
size`` (and likewise in y), the same convention as the mask grid of Mask
R-CNN and its paste (:mod:`vis.ops.mask_paste`): the ``size x size`` centre
of a refined patch pastes into the frame exactly as a 28 x 28 mask grid
does, only finer.

Pixel ``(r, c)`` of a map covers ``[c, c + 1) x [r, r + 1)``, its value sits
at its centre ``(c + 0.5, r + 0.5)``; a map is read by bilinear
interpolation, zero outside it (``grid_sample`` with ``align_corners=False``
and zero padding). A cell's value is the mean of ``samples x samples``
bilinear reads at the centres of its sub-cells: an average over the cell,
as RoIAlign's, so that a box much larger than the patch is not aliased.

All functions take their device and dtype from their inputs.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'band_and_blend', 'blend_in_band', 'blend_weight', 'boundary_band',
    'crop_patches', 'patch_boxes', 'resample_grid', 'split_patch',
    'window_sums'
]


def patch_boxes(boxes: Tensor, size: int, margin: int) -> Tensor:
    """The boxes grown by ``margin`` cells of ``1 / size`` of their extent
    on each side: the region a patch of ``size + 2 * margin`` cells covers.

    Args:
        boxes (Tensor): (K, 4) as (x1, y1, x2, y2).

    Returns:
        Tensor: (K, 4) in the same coordinates.
    """
    extent = boxes[:, 2:] - boxes[:, :2]  # (K, 2) width, height
    grow = extent * (margin / size)  # (K, 2)
    return torch.cat([boxes[:, :2] - grow, boxes[:, 2:] + grow], dim=1)


def crop_patches(maps: Tensor, rois: Tensor, size: int,
                 samples: int = 1) -> Tensor:
    """Read each RoI's region of its map onto a ``size x size`` grid.

    Args:
        maps (Tensor): (N, C, H, W) float maps (frames, or masks as
            (G, 1, H, W)).
        rois (Tensor): (K, 5) as (map index, x1, y1, x2, y2) in the maps'
            pixels.
        size (int): cells a side of the patch.
        samples (int): bilinear reads a side per cell, averaged.

    Returns:
        Tensor: (K, C, size, size) in the maps' dtype; cell ``(i, j)`` is
        the mean of the map at the ``samples x samples`` sub-cell centres
        of row ``i``, column ``j`` of the RoI's grid.
    """
    num_maps, channels, height, width = maps.shape
    num = rois.shape[0]
    out = maps.new_zeros(num, channels, size, size)  # (K, C, s, s)
    if num == 0:
        return out
    fine = size * samples  # sample points a side
    boxes = rois[:, 1:].to(maps.dtype)  # (K, 4)
    steps = (torch.arange(fine, device=maps.device, dtype=maps.dtype) +
             0.5) / fine  # (S,) fractions of the box's extent
    # sample point coordinates in pixels, then normalised to [-1, 1] as
    # grid_sample reads them (align_corners=False: -1 is the map's left
    # edge, +1 its right edge)
    xs = boxes[:, 0, None] + (boxes[:, 2] - boxes[:, 0])[:, None] * steps
    ys = boxes[:, 1, None] + (boxes[:, 3] - boxes[:, 1])[:, None] * steps
    xs = xs * (2.0 / width) - 1  # (K, S)
    ys = ys * (2.0 / height) - 1  # (K, S)
    grid = torch.stack([xs[:, None, :].expand(num, fine, fine),
                        ys[:, :, None].expand(num, fine, fine)],
                       dim=3)  # (K, S_y, S_x, 2) as (x, y)
    if num_maps == 1:
        groups = [(0, None)]  # every RoI reads map 0 (no device sync)
    else:
        index = rois[:, 0].to(torch.int64)  # (K,)
        order = torch.argsort(index, stable=True)  # (K,) grouped by map
        counts = torch.bincount(index, minlength=num_maps).tolist()
        groups = [(n, part) for n, part in enumerate(order.split(counts))
                  if len(part)]
    for n, part in groups:
        sub = grid if part is None else grid[part]  # (k, S, S, 2)
        k = sub.shape[0]
        # the k grids stacked along y, one grid_sample call per map:
        # (k, S, S, 2) -> (1, k * S, S, 2)
        read = F.grid_sample(maps[n:n + 1], sub.reshape(1, k * fine, fine, 2),
                             mode='bilinear', padding_mode='zeros',
                             align_corners=False)  # (1, C, k * S, S)
        # (1, C, k * S, S) -> (C, k, S, S) -> (k, C, S, S)
        read = read.reshape(channels, k, fine, fine).transpose(0, 1)
        if samples > 1:
            read = F.avg_pool2d(read, kernel_size=samples)  # (k, C, s, s)
        if part is None:
            out = read.contiguous()
        else:
            out[part] = read
    return out


def resample_grid(logits: Tensor, size: int, margin: int = 0) -> Tensor:
    """Mask-grid logits resampled onto the patch cells of the same box.

    Args:
        logits (Tensor): (K, C, h, w) on each box's mask grid (h x w cells
            covering the box).
        size (int): patch cells a side covering the box.
        margin (int): extra cells on each side; outside the box the grid's
            edge values are repeated (``grid_sample``'s border padding).

    Returns:
        Tensor: (K, C, size + 2 * margin, size + 2 * margin), bilinear;
        with ``margin=0``, ``F.interpolate(logits, size, mode='bilinear',
        align_corners=False)``.
    """
    num = logits.shape[0]
    cells = size + 2 * margin
    # patch cell centres relative to the box, normalised to [-1, 1] over
    # it: the same for every box
    steps = (torch.arange(cells, device=logits.device, dtype=logits.dtype)
             - margin + 0.5) * (2.0 / size) - 1  # (Q,)
    grid = torch.stack([steps[None, :].expand(cells, cells),
                        steps[:, None].expand(cells, cells)],
                       dim=2)  # (Q_y, Q_x, 2) as (x, y)
    return F.grid_sample(logits, grid.expand(num, cells, cells, 2),
                         mode='bilinear', padding_mode='border',
                         align_corners=False)  # (K, C, Q, Q)


def split_patch(patch: Tensor, margin: int) -> Tensor:
    """The ``size x size`` centre (the box's cells) of (K, C, Q, Q)
    patches, ``Q = size + 2 * margin``."""
    if margin == 0:
        return patch
    return patch[..., margin:-margin, margin:-margin]  # (K, C, s, s)


def window_sums(values: Tensor, width: int) -> Tensor:
    """Sum of each cell's ``(2 width + 1)`` square window, inside the grid.

    Args:
        values (Tensor): (K, C, h, w) integer or float values.

    Returns:
        Tensor: (K, C, h, w) in ``values``' dtype (exact for integers).
    """
    kernel = 2 * width + 1
    # summed-area table with a zero row and column in front: the window
    # of cell (i, j) is rows i - w .. i + w, cut to the grid by the zero
    # padding around it
    table = F.pad(values, (width + 1, width, width + 1, width))
    table = table.cumsum(dim=2).cumsum(dim=3)  # (K, C, h + 2w + 1, ...)
    return (table[..., kernel:, kernel:] - table[..., :-kernel, kernel:] -
            table[..., kernel:, :-kernel] + table[..., :-kernel, :-kernel])


def boundary_band(logits: Tensor, width: int) -> Tensor:
    """The band of width ``width`` around the 0.5 contour of masks.

    A cell is in the band where some cell within Chebyshev distance
    ``width`` (a ``(2 width + 1)`` square around it, inside the grid) has
    the other label, the label being ``logit >= 0`` (probability >= 0.5).
    The band is thus ``width`` cells deep on each side of the contour; a
    mask all on or all off has none.

    Args:
        logits (Tensor): (K, 1, s, s) mask logits.
        width (int): >= 1.

    Returns:
        Tensor: (K, 1, s, s) bool.
    """
    if width < 1:
        raise ValueError(f'band width must be >= 1, got {width}')
    on = (logits >= 0).to(torch.int32)  # (K, 1, s, s)
    near_on = window_sums(on, width)  # on cells in each window
    near = window_sums(torch.ones_like(on[:1]), width)  # (1, 1, s, s) cells
    return (near_on > 0) & (near_on < near)


def blend_weight(coarse_logits: Tensor) -> Tensor:
    """How much the refined mask may change the coarse one: ``4 p (1 -
    p)``, ``p`` the coarse probability, computed as ``1 - tanh(x / 2)^2``
    of the logit ``x`` (the same function). 1 on the 0.5 contour, exactly 0
    where the coarse mask is certain: where ``tanh(x / 2)`` rounds to +-1,
    that is ``|x| > 18.1`` in float32, ``|x| > 38.2`` in float64, for either
    sign (``sigmoid(-20)`` is not 0 in float32, but ``tanh(-10)`` is -1)."""
    return 1 - (coarse_logits / 2).tanh().square()


def blend_in_band(coarse_logits: Tensor, refined_logits: Tensor,
                  band: Tensor) -> Tensor:
    """Blend refined logits into coarse ones, in the band only.

    ``out = coarse + band * 4 p (1 - p) * (refined - coarse)``, ``p`` the
    coarse probability: outside the band the coarse logits pass unchanged
    (whatever the refined ones, NaN included); inside, the refined ones
    replace them in proportion to the coarse mask's uncertainty
    (:func:`blend_weight`). So the output equals the coarse logits exactly
    where the refiner agrees with them, or where the coarse mask is
    certain: a perfect, saturated coarse mask passes unchanged.

    Args:
        coarse_logits (Tensor): (K, 1, s, s).
        refined_logits (Tensor): (K, 1, s, s).
        band (Tensor): (K, 1, s, s) bool (:func:`boundary_band`).

    Returns:
        Tensor: (K, 1, s, s).
    """
    mixed = coarse_logits + blend_weight(coarse_logits) * (
        refined_logits - coarse_logits)
    return torch.where(band, mixed, coarse_logits)


def band_and_blend(coarse_logits: Tensor, refined_logits: Tensor,
                   width: int) -> Tuple[Tensor, Tensor]:
    """:func:`boundary_band` of the coarse logits and the blend in it.

    Returns:
        tuple: (K, 1, s, s) blended logits and (K, 1, s, s) bool band.
    """
    band = boundary_band(coarse_logits, width)
    return blend_in_band(coarse_logits, refined_logits, band), band
