"""Paste RoI mask probabilities into the image, straight to compressed RLE.

Mask R-CNN predicts each instance's mask on a small grid (28 x 28) inside
its box; to output it, the grid is resampled bilinearly into the box's
pixels of the full image and thresholded. MMDetection does this on the CPU
one instance at a time (``grid_sample`` over the box's region), fills an
``(N, H, W)`` bool tensor, and its metric then re-reads every full-frame mask
to RLE-encode it.

Here the resampling is separable: with ``align_corners=False`` bilinear
sampling on an axis-aligned grid, the pasted region of an instance is
``R_y @ M @ R_x^T``, where ``M`` is its (h, w) probability grid and ``R_y``
(rows x h), ``R_x`` (cols x w) hold the bilinear weights of each image row /
column (at most two non-zero per row, zero outside the grid, as
``grid_sample``'s zero padding). All instances go through two batched
matrix products, sorted by region size so that little is padded, and each
thresholded region is written once into a column-major frame buffer from
which pycocotools encodes all the RLEs in one call. The products sum the
same four weighted neighbours as ``grid_sample``, in another order, so a
value can differ in its last float32 bits: a pixel whose probability is
within ~1e-7 of the threshold can flip.

:func:`paste_masks_to_rle_by_region` gives the same RLEs without the frame
buffer: each thresholded region is run-length encoded on its own
(:func:`region_rle`), for masks on fine grids (PointRend's refined masks)
or many instances on large frames.
"""
from typing import Iterator, List, Tuple

import numpy as np
import pycocotools.mask as mask_utils
import torch
from torch import Tensor

__all__ = [
    'bilinear_weights', 'paste_masks_to_rle', 'paste_masks_to_rle_by_region',
    'paste_regions', 'pasted_regions', 'region_rle'
]

#: masks resampled per batched matrix product
DEFAULT_CHUNK = 16


def paste_regions(boxes: Tensor, height: int, width: int) -> Tensor:
    """The image region each box's mask is pasted into, as MMDetection's
    CPU paste chooses it: the box grown by one pixel, clipped to the image.

    Args:
        boxes (Tensor): (N, 4) as (x1, y1, x2, y2) in image pixels.

    Returns:
        Tensor: (N, 4) int64 as (col0, row0, col1, row1), half-open.
    """
    x0y0 = (boxes[:, :2].floor() - 1).clamp(min=0)  # (N, 2)
    x1 = (boxes[:, 2].ceil() + 1).clamp(max=width)  # (N,)
    y1 = (boxes[:, 3].ceil() + 1).clamp(max=height)
    # truncation toward zero, as the int32 cast of the reference
    return torch.stack([x0y0[:, 0], x0y0[:, 1], x1, y1], 1).to(torch.int64)


def bilinear_weights(start: Tensor, stop: Tensor, lo: Tensor, hi: Tensor,
                     length: int, grid: int) -> Tensor:
    """Weights of a 1-D ``grid_sample`` (bilinear, ``align_corners=False``,
    zero padding) from a grid of ``grid`` cells spanning ``[start, stop]``
    to the pixel centres ``lo + i + 0.5``, ``i < length``.

    Args:
        start, stop (Tensor): (K,) float32 box extent along the axis.
        lo, hi (Tensor): (K,) int64 pixel range of each region (half-open);
            pixels at or past ``hi`` get zero weights (padding).
        length (int): pixels per region row, >= max(hi - lo).
        grid (int): cells of the mask grid.

    Returns:
        Tensor: (K, length, grid) float32.
    """
    num = start.numel()
    steps = torch.arange(length, device=lo.device)  # (L,)
    pixel = lo[:, None] + steps[None]  # (K, L)
    # normalised coordinate in [-1, 1], computed as the reference does
    coord = (pixel.to(torch.float32) + 0.5 - start[:, None]) / (
        stop - start)[:, None] * 2 - 1
    coord = torch.where(torch.isinf(coord), torch.zeros_like(coord), coord)
    src = ((coord + 1) * grid - 1) / 2  # (K, L) position on the grid
    left = src.floor()
    frac = src - left
    left = left.to(torch.int64)
    inside = pixel < hi[:, None]  # (K, L)
    weights = torch.zeros(num, length, grid + 2,
                          device=start.device)  # (K, L, grid + 2)
    # grid cell c sits at column c + 1; columns 0 and grid + 1 catch the
    # neighbours outside the grid (zero padding) and are dropped
    for cell, weight in ((left, 1 - frac), (left + 1, frac)):
        col = (cell + 1).clamp(0, grid + 1)
        weights.scatter_add_(2, col[..., None],
                             torch.where(inside, weight, 0.0)[..., None])
    return weights[:, :, 1:grid + 1]


def paste_masks_to_rle(mask_probs: Tensor, boxes: Tensor, height: int,
                       width: int, threshold: float = 0.5,
                       chunk: int = DEFAULT_CHUNK) -> List[dict]:
    """Paste N mask grids into an (height, width) image; compressed RLEs.

    Args:
        mask_probs (Tensor): (N, h, w) probabilities on each box's grid
            (after the sigmoid, for the instance's own class).
        boxes (Tensor): (N, 4) as (x1, y1, x2, y2) in image pixels.
        height, width (int): the image size.
        threshold (float): a pixel is on where its probability >= this.
        chunk (int): instances per batched product (bounds the memory to
            chunk x region rows x region cols floats).

    Returns:
        list[dict]: N RLEs ``{'size': [height, width], 'counts': bytes}``.
    """
    num = mask_probs.shape[0]
    if num == 0:
        return []
    frame = np.zeros((height, width, num), dtype=np.uint8, order='F')
    for i, row0, col0, on in pasted_regions(mask_probs, boxes, height, width,
                                            threshold, chunk):
        rows, cols = on.shape
        frame[row0:row0 + rows, col0:col0 + cols, i] = on
    return mask_utils.encode(frame)


def paste_masks_to_rle_by_region(mask_probs: Tensor, boxes: Tensor,
                                 height: int, width: int,
                                 threshold: float = 0.5,
                                 chunk: int = DEFAULT_CHUNK) -> List[dict]:
    """:func:`paste_masks_to_rle` without any full-frame buffer: each
    instance's thresholded region is run-length encoded on its own
    (:func:`region_rle`), so the memory is bounded by the chunk's regions
    whatever the image size and the number of instances. The RLEs are the
    same as :func:`paste_masks_to_rle`'s, byte for byte.

    Args:
        mask_probs (Tensor): (N, h, w) probabilities on each box's grid.
        boxes (Tensor): (N, 4) as (x1, y1, x2, y2) in image pixels.
        height, width (int): the image size.
        threshold (float): a pixel is on where its probability >= this.
        chunk (int): instances per batched product.

    Returns:
        list[dict]: N RLEs ``{'size': [height, width], 'counts': bytes}``.
    """
    rles: List[dict] = [{}] * mask_probs.shape[0]
    for i, row0, col0, on in pasted_regions(mask_probs, boxes, height, width,
                                            threshold, chunk):
        rles[i] = region_rle(on, row0, col0, height, width)
    return rles


def pasted_regions(mask_probs: Tensor, boxes: Tensor, height: int,
                   width: int, threshold: float = 0.5,
                   chunk: int = DEFAULT_CHUNK
                   ) -> Iterator[Tuple[int, int, int, np.ndarray]]:
    """The thresholded pasted region of each of N masks, in chunks of
    similar-sized regions (see the module docstring).

    Args:
        mask_probs (Tensor): (N, h, w) probabilities on each box's grid.
        boxes (Tensor): (N, 4) as (x1, y1, x2, y2) in image pixels.

    Yields:
        tuple: ``(i, row0, col0, on)`` once per instance ``i`` (in no
        particular order): ``on`` is the (rows, cols) bool mask of the image
        region whose top-left pixel is (row0, col0); the instance's mask is
        empty outside it.
    """
    num = mask_probs.shape[0]
    if num == 0:
        return
    probs = mask_probs.detach().to('cpu', torch.float32)  # (N, h, w)
    boxes = boxes.detach().to('cpu', torch.float32)  # (N, 4)
    grid_h, grid_w = probs.shape[1:]
    region = paste_regions(boxes, height, width)  # (N, 4)
    rows = (region[:, 3] - region[:, 1]).clamp(min=0)  # (N,)
    cols = (region[:, 2] - region[:, 0]).clamp(min=0)
    order = torch.argsort(rows * cols)  # similar sizes share a chunk
    for part in order.split(chunk):
        pasted, _ = _paste_chunk(probs[part], boxes[part], region[part],
                                 rows[part], cols[part], grid_h, grid_w)
        on = (pasted >= threshold).numpy()  # (k, max_rows, max_cols)
        for j, i in enumerate(part.tolist()):
            yield (i, int(region[i, 1]), int(region[i, 0]),
                   on[j, :int(rows[i]), :int(cols[i])])


def region_rle(on: np.ndarray, row0: int, col0: int, height: int,
               width: int) -> dict:
    """Compressed RLE of an (height, width) mask that is ``on`` in the
    region whose top-left pixel is (row0, col0) and empty elsewhere,
    computed from the region alone.

    COCO's RLE runs over the pixels in column-major order (pixel (r, c) is
    number ``c * height + r``), alternating off and on runs, starting with
    an off run. Each region column holds the on runs of one image column;
    runs of consecutive columns join when the region spans every row.

    Args:
        on (ndarray): (rows, cols) bool, inside the image.

    Returns:
        dict: ``{'size': [height, width], 'counts': bytes}``, the same
        as ``pycocotools.mask.encode`` of the full mask.
    """
    rows, cols = on.shape
    # (cols, rows + 2): each region column, an off pixel above and below
    padded = np.zeros((cols, rows + 2), dtype=np.int8)
    padded[:, 1:-1] = on.T
    step = np.diff(padded, axis=1)  # (cols, rows + 1): +1 starts, -1 ends
    # nonzero walks (cols, rows + 1) column by column, rows ascending: the
    # runs come out in column-major pixel order
    start_col, start_row = np.nonzero(step == 1)
    end_col, end_row = np.nonzero(step == -1)
    starts = (col0 + start_col) * height + row0 + start_row  # (R,) int64
    ends = (col0 + end_col) * height + row0 + end_row  # (R,) exclusive
    if len(starts):
        apart = ends[:-1] != starts[1:]  # (R - 1,) False: the runs touch
        starts = starts[np.concatenate([[True], apart])]
        ends = ends[np.concatenate([apart, [True]])]
    # run boundaries 0, start_0, end_0, start_1, ..., height * width
    edges = np.empty(2 * len(starts) + 2, dtype=np.int64)
    edges[0], edges[-1] = 0, height * width
    edges[1:-1:2], edges[2:-1:2] = starts, ends
    counts = np.diff(edges)  # off, on, off, ..., off run lengths
    if len(counts) > 1 and counts[-1] == 0:
        counts = counts[:-1]  # the mask ends at the last pixel, as COCO's
    return mask_utils.frPyObjects(
        dict(size=[height, width], counts=counts.tolist()), height, width)


def _paste_chunk(probs: Tensor, boxes: Tensor, region: Tensor, rows: Tensor,
                 cols: Tensor, grid_h: int,
                 grid_w: int) -> Tuple[Tensor, Tuple[int, int]]:
    """Resample k masks into their regions, padded to the largest.

    Returns:
        Tensor: (k, max_rows, max_cols) float32; and (max_rows, max_cols).
    """
    max_rows, max_cols = int(rows.max()), int(cols.max())
    if max_rows == 0 or max_cols == 0:
        empty = probs.new_zeros(len(probs), max_rows, max_cols)  # (k, R, C)
        return empty, (max_rows, max_cols)
    weights_y = bilinear_weights(boxes[:, 1], boxes[:, 3], region[:, 1],
                                 region[:, 3], max_rows, grid_h)  # (k, R, h)
    weights_x = bilinear_weights(boxes[:, 0], boxes[:, 2], region[:, 0],
                                 region[:, 2], max_cols, grid_w)  # (k, C, w)
    if max_rows <= max_cols:  # the cheaper association
        pasted = (weights_y @ probs) @ weights_x.transpose(1, 2)
    else:
        pasted = weights_y @ (probs @ weights_x.transpose(1, 2))
    return pasted, (max_rows, max_cols)  # (k, R, C)
