"""Multi-level average RoIAlign on channels-last maps (inference, float32).

:func:`multilevel_roi_align` pools each RoI from its own FPN level in one
call of the native kernel ``roi_align_kernel.c`` (plain C, loaded with
:mod:`ctypes`, built by ``make install`` or on first use; see
:mod:`vis.native`). Its values are **bit-identical** to mmcv's CPU
``RoIAlign`` (average mode, any ``sampling_ratio``, ``aligned`` or not): the
same float operations in the same order per channel, with the channel loop
innermost over contiguous memory, which the compiler vectorises.

It is forward only (no autograd): training keeps mmcv's op.
``VIS_ROI_ALIGN_NATIVE=0`` disables the kernel; :func:`load` then returns
None and callers use mmcv's op.
"""
from __future__ import annotations

import ctypes
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from ..native import KernelLoader, build_library

__all__ = ['ENV_VAR', 'MultiLevelRoIAlign', 'build', 'can_pool', 'load',
           'multilevel_roi_align']

ENV_VAR = 'VIS_ROI_ALIGN_NATIVE'
_HERE = osp.dirname(osp.abspath(__file__))
SOURCE = osp.join(_HERE, 'roi_align_kernel.c')
LIBRARY = osp.join(_HERE, '_roi_align_kernel.so')
ABI_VERSION = 1  # vis_roi_align_abi_version() of roi_align_kernel.c
# -O3 vectorises the channel loop; no fused multiply-adds, so that every
# value is rounded as in mmcv's build
_FLAGS = ('-O3', '-ffp-contract=off', '-shared', '-fPIC', '-std=gnu99')


class _Kernel:

    def __init__(self, path: str):
        lib = ctypes.CDLL(path)
        if lib.vis_roi_align_abi_version() != ABI_VERSION:
            raise OSError(f'{path} is an incompatible build')
        fn = lib.vis_roi_align_nhwc
        fn.restype = ctypes.c_int64
        p = ctypes.c_void_p
        i64 = ctypes.c_int64
        fn.argtypes = [p, p, p, p, i64, i64, i64, p, p, i64, i64, i64, i64,
                       ctypes.c_int, ctypes.c_int, p]
        self.fn = fn
        self.path = path


_LOADER = KernelLoader(
    name='RoIAlign kernel', env_var=ENV_VAR, open_library=_Kernel,
    fallback="inference uses mmcv's RoIAlign (same values, slower)")


def enabled() -> bool:
    """False when ``VIS_ROI_ALIGN_NATIVE`` is 0 (or no / false / off)."""
    return _LOADER.enabled()


def build(force: bool = False) -> str:
    """Compile the kernel unless it is up to date; returns its path.

    Raises:
        vis.native.BuildError: no compiler, or the compilation failed.
    """
    return build_library(SOURCE, LIBRARY, _FLAGS, force=force)


def load() -> Optional[_Kernel]:
    """The kernel, built if needed; None if disabled or unavailable (the
    first failure warns once per process)."""
    return _LOADER.load(SOURCE, LIBRARY, _FLAGS)


def reset() -> None:
    """Forget the loaded kernel and any failure (for tests)."""
    _LOADER.reset()


def can_pool(features: Sequence[Tensor]) -> bool:
    """Whether :func:`multilevel_roi_align` can pool from these maps: all
    float32 on the CPU, and the kernel is available."""
    return (all(f.dtype == torch.float32 and f.device.type == 'cpu'
                for f in features) and load() is not None)


def _pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def multilevel_roi_align(features: Sequence[Tensor], rois: Tensor,
                         roi_levels: Tensor,
                         output_size: Union[int, Sequence[int]],
                         spatial_scales: Sequence[float],
                         sampling_ratio: int = 0, aligned: bool = True,
                         channels_last_output: bool = False) -> Tensor:
    """Average RoIAlign of every RoI from its own feature level.

    Args:
        features (list[Tensor]): L maps, each (N, C, H_l, W_l) float32 on
            the CPU, any memory format (channels-last ones are used as they
            are, others are converted).
        rois (Tensor): (K, 5) as (batch_idx, x1, y1, x2, y2), image pixels.
        roi_levels (Tensor): (K,) the level each RoI is pooled from.
        output_size (int or (int, int)): (PH, PW) bins.
        spatial_scales (list[float]): L scales (1 / stride) of the levels.
        sampling_ratio (int): samples per bin side; 0 adapts to the RoI
            size (``ceil(roi side / bins)``), as mmcv.
        aligned (bool): shift by half a pixel (mmcv's ``aligned``).
        channels_last_output (bool): return the (K, C, PH, PW) result in
            channels-last memory format (what a following convolution in
            that format wants) rather than contiguous.

    Returns:
        Tensor: (K, C, PH, PW) float32, equal to mmcv's
        ``roi_align(features[l], rois[k:k+1], ...)`` for each RoI k at its
        level l.

    Raises:
        RuntimeError: the kernel is not available (see :func:`load`).
        ValueError: inputs of the wrong shape, dtype or device; a RoI with
            a negative (``aligned``) or non-finite size, a batch index or
            level out of range (the message names the RoI).
    """
    kernel = load()
    if kernel is None:
        raise RuntimeError('the native RoIAlign kernel is not available '
                           f'(see {ENV_VAR} and vis.ops.roi_align_native)')
    if len(features) == 0 or len(features) != len(spatial_scales):
        raise ValueError(f'{len(features)} feature levels but '
                         f'{len(spatial_scales)} spatial scales')
    batch, channels = features[0].shape[:2]
    for level, feat in enumerate(features):
        if (feat.dim() != 4 or feat.dtype != torch.float32
                or feat.device.type != 'cpu'
                or tuple(feat.shape[:2]) != (batch, channels)):
            raise ValueError(
                f'feature level {level}: expected a (N={batch}, C={channels}'
                f', H, W) float32 CPU tensor, got {tuple(feat.shape)} '
                f'{feat.dtype} on {feat.device}')
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f'rois must be (K, 5), got {tuple(rois.shape)}')
    if roi_levels.shape != (rois.shape[0], ):
        raise ValueError(f'roi_levels must be ({rois.shape[0]},), got '
                         f'{tuple(roi_levels.shape)}')
    pooled_h, pooled_w = _pair(output_size)
    num_rois = rois.shape[0]
    # (K, PH, PW, C) in memory, seen as (K, C, PH, PW)
    out = torch.empty(num_rois, channels, pooled_h, pooled_w,
                      memory_format=torch.channels_last
                      if channels_last_output else torch.contiguous_format)
    if num_rois == 0 or channels == 0:
        return out
    # (N, H, W, C) contiguous in memory, one per level
    maps = [feat.contiguous(memory_format=torch.channels_last)
            for feat in features]
    rois_c = rois.detach().to(torch.float32).contiguous()
    levels_c = roi_levels.detach().to(torch.int64).contiguous()
    pointers = (ctypes.c_void_p * len(maps))(*[m.data_ptr() for m in maps])
    heights = torch.tensor([m.shape[2] for m in maps], dtype=torch.int64)
    widths = torch.tensor([m.shape[3] for m in maps], dtype=torch.int64)
    scales = torch.tensor([float(s) for s in spatial_scales],
                          dtype=torch.float32)
    status = kernel.fn(
        ctypes.cast(pointers, ctypes.c_void_p), heights.data_ptr(),
        widths.data_ptr(), scales.data_ptr(), len(maps), batch, channels,
        rois_c.data_ptr(), levels_c.data_ptr(), num_rois, pooled_h,
        pooled_w, int(sampling_ratio), int(bool(aligned)),
        int(channels_last_output), out.data_ptr())
    if status == -2:
        raise MemoryError('vis_roi_align_nhwc: out of memory')
    if status >= 0:
        roi = rois_c[status].tolist()
        raise ValueError(
            f'RoI {status} = {roi} at level {int(levels_c[status])} cannot '
            'be pooled: negative (aligned) or non-finite size, or batch '
            f'index / level out of range ({batch} images, {len(maps)} '
            'levels)')
    return out


class MultiLevelRoIAlign(nn.Module):
    """Module form of :func:`multilevel_roi_align`.

    Args:
        output_size (int or (int, int)): (PH, PW) bins.
        spatial_scales (list[float]): 1 / stride of each level.
        sampling_ratio (int): samples per bin side, 0 adaptive.
        aligned (bool): half-pixel shift.
        channels_last_output (bool): channels-last result.
    """

    def __init__(self, *, output_size: Union[int, Sequence[int]],
                 spatial_scales: Sequence[float], sampling_ratio: int = 0,
                 aligned: bool = True,
                 channels_last_output: bool = False) -> None:
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scales = tuple(float(s) for s in spatial_scales)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)
        self.channels_last_output = bool(channels_last_output)

    def forward(self, features: Sequence[Tensor], rois: Tensor,
                roi_levels: Tensor) -> Tensor:
        """(K, C, PH, PW) features of ``rois`` (K, 5) pooled at
        ``roi_levels`` (K,) of ``features`` (L maps (N, C, H_l, W_l))."""
        return multilevel_roi_align(
            features, rois, roi_levels, self.output_size, self.spatial_scales,
            self.sampling_ratio, self.aligned, self.channels_last_output)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(output_size={self.output_size}, '
                f'spatial_scales={self.spatial_scales}, '
                f'sampling_ratio={self.sampling_ratio}, '
                f'aligned={self.aligned}, '
                f'channels_last_output={self.channels_last_output})')
