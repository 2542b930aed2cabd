"""The native boundary-band kernel (``band_kernel.c``), built and loaded here.

``band_kernel.c`` is plain C (no Python or numpy headers) loaded with
:mod:`ctypes`: :meth:`BandKernel.bands` gives the compressed RLE of the
boundary bands (:mod:`vis.evaluation.ytvis_eval.boundary`) of many masks of
one frame size in one call, working on the masks' runs (no pixel is
decoded), the same strings as the numpy path.

Built like the RLE kernel (:mod:`vis.evaluation.rle_native`): into
``_band_kernel.so`` next to the source when missing or older, by ``make
install`` ahead or on first use.  Without a compiler, or if the build or
the load fails, :func:`load` warns once and returns None and the bands are
computed with numpy and scipy (same strings, slower).  ``VIS_BAND_NATIVE=0``
forces that fallback.
"""

from __future__ import annotations

import ctypes
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from ..native import KernelLoader, build_library
from .rle_native import MalformedRLE, _join

__all__ = ['ENV_VAR', 'BandKernel', 'build', 'load']

ENV_VAR = 'VIS_BAND_NATIVE'
_HERE = osp.dirname(osp.abspath(__file__))
#: The C source and the library built from it (module attributes so that
#: tests can point them elsewhere).
SOURCE = osp.join(_HERE, 'band_kernel.c')
LIBRARY = osp.join(_HERE, '_band_kernel.so')
ABI_VERSION = 1  # vis_band_abi_version() of band_kernel.c
_FLAGS = ('-O2', '-shared', '-fPIC', '-std=c99')
_OK, _NO_MEMORY, _FULL = -1, -2, -3

_INT64_P = np.ctypeslib.ndpointer(dtype=np.int64, flags='C_CONTIGUOUS')
_UINT8_P = np.ctypeslib.ndpointer(dtype=np.uint8, flags='C_CONTIGUOUS')


def build(force: bool = False) -> str:
    """Compile ``SOURCE`` into ``LIBRARY`` unless it is up to date.

    Raises:
        BuildError: no compiler, or the compilation failed.
    """
    return build_library(SOURCE, LIBRARY, _FLAGS, force=force)


class BandKernel:
    """The loaded library, with numpy arrays in and out."""

    def __init__(self, path: str):
        lib = ctypes.CDLL(path)
        if lib.vis_band_abi_version() != ABI_VERSION:
            raise OSError(f'{path} is an incompatible build')
        lib.vis_band.restype = ctypes.c_int64
        lib.vis_band.argtypes = [
            ctypes.c_char_p, _INT64_P, _INT64_P, ctypes.c_int64,
            ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, _UINT8_P,
            ctypes.c_int64, _INT64_P]
        self._lib = lib
        self.path = path

    def bands(self, counts: Sequence, height: int, width: int,
              d: int) -> List[bytes]:
        """Compressed RLE counts of the bands of M masks of one size.

        Args:
            counts: M compressed RLE counts strings (str or bytes) of
                ``height`` x ``width`` masks.
            d: band width in pixels (>= 1).

        Returns:
            M counts (bytes), those of ``pycocotools.mask.encode`` of the
            bands.

        Raises:
            TypeError, UnicodeEncodeError: counts that are not ASCII
                strings.
            MalformedRLE: a string that is not well-formed compressed RLE
                or does not describe ``height * width`` pixels.
            MemoryError: no memory for the runs.
        """
        num = len(counts)
        if num == 0:
            return []
        buf = _join(counts)
        lengths = np.fromiter(map(len, counts), dtype=np.int64, count=num)
        bounds = np.zeros(num + 1, dtype=np.int64)
        np.cumsum(lengths + 1, out=bounds[1:])
        index = np.arange(num, dtype=np.int64)
        out_bounds = np.empty(num + 1, dtype=np.int64)
        capacity = 4 * len(buf) + 16 * num + 1024
        while True:
            out = np.empty(capacity, dtype=np.uint8)  # not zeroed
            status = self._lib.vis_band(buf, bounds, index, num, int(height),
                                        int(width), int(d), out, capacity,
                                        out_bounds)
            if status != _FULL:
                break
            capacity *= 2
        if status == _NO_MEMORY:
            raise MemoryError('vis_band: out of memory')
        if status >= 0:
            raise MalformedRLE(int(status))
        return out[:int(out_bounds[num])].tobytes().split(b'\n')[:num]


_LOADER = KernelLoader(
    name='boundary band kernel', env_var=ENV_VAR, open_library=BandKernel,
    fallback='boundary bands are computed with numpy and scipy (same '
    'values, slower)')


def enabled() -> bool:
    """False when ``VIS_BAND_NATIVE`` is set to 0 (or no / false / off)."""
    return _LOADER.enabled()


def load() -> Optional[BandKernel]:
    """The kernel, built if needed; None if disabled or unavailable (the
    first failure warns, once per process)."""
    return _LOADER.load(SOURCE, LIBRARY, _FLAGS)


def reset() -> None:
    """Forget the loaded kernel and any failure (for tests)."""
    _LOADER.reset()
