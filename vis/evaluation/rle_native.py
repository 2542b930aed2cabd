"""The native compressed-RLE kernel (``rle_kernel.c``), built and loaded here.

``rle_kernel.c`` is plain C (no Python or numpy headers) loaded with
:mod:`ctypes`.  It works on many masks per call:

* :meth:`Kernel.measure` joins M ``counts`` strings into one buffer and
  gives every mask's area and the number of pixels its runs describe, and
* :meth:`Kernel.intersect` gives the exact pixel intersections of pairs of
  masks of two such buffers,

in integers, from the strings' runs (nothing is decoded to pixels).

Building: :func:`load` compiles the library into ``_rle_kernel.so`` next to
the source (``cc -O2 -shared -fPIC``; ``$CC`` if set) when it is missing or
older than the source, writing a temporary file and renaming it into place
so that concurrent processes never load a half-written file.  ``make
install`` builds it ahead (:func:`build`).  Without a compiler, or if the
build or the load fails, :func:`load` warns once and returns None: the
evaluator then uses pycocotools alone (same numbers, slower).
``VIS_RLE_NATIVE=0`` forces that fallback.
"""

from __future__ import annotations

import ctypes
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..native import BuildError, KernelLoader, build_library

__all__ = ['ENV_VAR', 'Kernel', 'MalformedRLE', 'PackedMasks', 'build',
           'load']

ENV_VAR = 'VIS_RLE_NATIVE'
_HERE = osp.dirname(osp.abspath(__file__))
#: The C source and the library built from it (module attributes so that
#: tests can point them elsewhere).
SOURCE = osp.join(_HERE, 'rle_kernel.c')
LIBRARY = osp.join(_HERE, '_rle_kernel.so')
ABI_VERSION = 4  # vis_rle_abi_version() of rle_kernel.c
_FLAGS = ('-O2', '-shared', '-fPIC', '-std=c99')

_INT64_P = np.ctypeslib.ndpointer(dtype=np.int64, flags='C_CONTIGUOUS')


class MalformedRLE(ValueError):
    """A counts string the kernel cannot parse; ``index`` is the first bad
    mask (:meth:`Kernel.measure`) or pair (:meth:`Kernel.intersect`)."""

    def __init__(self, index: int):
        super().__init__(f'malformed compressed RLE counts at {index}')
        self.index = index


def build(force: bool = False) -> str:
    """Compile ``SOURCE`` into ``LIBRARY`` unless it is up to date.

    Returns:
        the library's path.

    Raises:
        BuildError: no compiler, or the compilation failed.
    """
    return build_library(SOURCE, LIBRARY, _FLAGS, force=force)


@dataclass
class PackedMasks:
    """M masks measured by :meth:`Kernel.measure`.

    buf: their counts strings, separated by newlines; bounds: (M + 1,)
    int64, mask i is ``buf[bounds[i]:bounds[i + 1] - 1]``; areas: (M,)
    int64 pixels set; totals: (M,) int64 pixels described (the sum of all
    run lengths: height * width for a well-formed mask).
    """
    buf: bytes
    bounds: np.ndarray
    areas: np.ndarray
    totals: np.ndarray


def _join(counts: Sequence) -> bytes:
    """The counts strings (str or bytes) joined by newlines, as bytes.

    Raises:
        TypeError: a counts that is neither str nor bytes (as pycocotools).
        UnicodeEncodeError: a str with non-ASCII characters.
    """
    try:
        return '\n'.join(counts).encode('ascii')  # the usual case: all str
    except TypeError:
        return b'\n'.join([c.encode('ascii') if isinstance(c, str) else c
                           for c in counts])


class Kernel:
    """The loaded library's functions, with numpy arrays in and out."""

    def __init__(self, path: str):
        lib = ctypes.CDLL(path)
        if lib.vis_rle_abi_version() != ABI_VERSION:
            raise OSError(f'{path} is an incompatible build')
        lib.vis_rle_measure.restype = ctypes.c_int64
        lib.vis_rle_measure.argtypes = [
            ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64, _INT64_P,
            _INT64_P, _INT64_P]
        lib.vis_rle_intersect.restype = ctypes.c_int64
        lib.vis_rle_intersect.argtypes = [
            ctypes.c_char_p, _INT64_P, _INT64_P, ctypes.c_char_p, _INT64_P,
            _INT64_P, ctypes.c_int64, _INT64_P]
        self._lib = lib
        self.path = path

    def measure(self, counts: Sequence) -> PackedMasks:
        """Areas and described pixels of M masks given by their counts.

        Args:
            counts: M compressed RLE counts strings, str or bytes.

        Returns:
            the masks packed for :meth:`intersect`, with their areas.

        Raises:
            TypeError: a counts that is neither str nor bytes.
            UnicodeEncodeError: a str with non-ASCII characters.
            MalformedRLE: a string is not well-formed compressed RLE (or
                contains a newline).
        """
        buf = _join(counts)
        num = len(counts)
        bounds = np.empty(num + 1, dtype=np.int64)
        bounds[0] = 0
        areas = np.empty(num, dtype=np.int64)
        totals = np.empty(num, dtype=np.int64)
        bad = self._lib.vis_rle_measure(buf, len(buf), num, bounds, areas,
                                        totals)
        if bad >= 0:
            raise MalformedRLE(bad)
        return PackedMasks(buf, bounds, areas, totals)

    def intersect(self, first: PackedMasks, first_index,
                  second: PackedMasks, second_index) -> np.ndarray:
        """Exact intersections of P pairs of masks.

        Args:
            first, second: measured masks (may be the same object).
            first_index, second_index: (P,) int64 mask indices into them;
                both masks of a pair must describe the same pixels (same
                size).  Pairs sharing a second mask should be consecutive
                (its runs are then decoded once).

        Returns:
            (P,) int64 pixels set in both masks of each pair.

        Raises:
            MemoryError: no memory for the decoded runs of a mask.
        """
        first_index = np.ascontiguousarray(first_index, dtype=np.int64)
        second_index = np.ascontiguousarray(second_index, dtype=np.int64)
        for index, masks in ((first_index, first), (second_index, second)):
            if index.size and not (0 <= index.min() and
                                   index.max() < masks.areas.size):
                raise IndexError('mask index out of range')
        out = np.empty(first_index.size, dtype=np.int64)
        status = self._lib.vis_rle_intersect(
            first.buf, first.bounds, first_index, second.buf, second.bounds,
            second_index, first_index.size, out)
        if status == -2:
            raise MemoryError('vis_rle_intersect: out of memory')
        if status >= 0:  # measured masks are well-formed
            raise MalformedRLE(status)
        return out


_LOADER = KernelLoader(
    name='RLE kernel', env_var=ENV_VAR, open_library=Kernel,
    fallback='the YouTube-VIS evaluator falls back to pycocotools alone '
    '(same numbers, slower)')


def enabled() -> bool:
    """False when ``VIS_RLE_NATIVE`` is set to 0 (or no / false / off)."""
    return _LOADER.enabled()


def load() -> Optional[Kernel]:
    """The kernel, built if needed; None if disabled or unavailable.

    The first failure warns (once per process) and is remembered: later
    calls return None at once.
    """
    return _LOADER.load(SOURCE, LIBRARY, _FLAGS)


def reset() -> None:
    """Forget the loaded kernel and any failure (for tests)."""
    _LOADER.reset()
