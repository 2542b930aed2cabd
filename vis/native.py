"""Building and loading the project's small C libraries (ctypes, no headers).

Each library is one C99 source file next to the Python module that wraps it
(``vis/evaluation/rle_kernel.c``, ``vis/evaluation/band_kernel.c``,
``vis/ops/roi_align_kernel.c``). It is compiled into a ``.so`` beside the
source when that is missing or older than the source, through a temporary
file renamed into place, so concurrent processes never load a half-written
library. ``make install`` builds them
ahead; otherwise the first use does.
"""

from __future__ import annotations

import os
import os.path as osp
import shutil
import subprocess
import tempfile
import warnings
from typing import Callable, Generic, Optional, Sequence, TypeVar

__all__ = ['BuildError', 'KernelLoader', 'build_library', 'compiler',
           'env_enabled', 'load_library']

T = TypeVar('T')


class BuildError(RuntimeError):
    """A library could not be compiled."""


def compiler() -> Optional[str]:
    """Path of the C compiler (``$CC`` or ``cc``), None if there is none."""
    return shutil.which(os.environ.get('CC') or 'cc')


def env_enabled(env_var: str) -> bool:
    """False when the environment variable ``env_var`` is 0, no, false or
    off (any case); True when it is unset or anything else."""
    value = os.environ.get(env_var, '1').strip().lower()
    return value not in ('0', 'no', 'false', 'off')


def build_library(source: str, library: str, flags: Sequence[str],
                  force: bool = False) -> str:
    """Compile ``source`` into ``library`` unless it is up to date.

    Returns:
        the library's path.

    Raises:
        BuildError: no compiler, or the compilation failed.
    """
    if (not force and osp.exists(library)
            and osp.getmtime(library) >= osp.getmtime(source)):
        return library
    cc = compiler()
    if cc is None:
        raise BuildError('no C compiler found (tried $CC or cc)')
    stem = osp.splitext(osp.basename(library))[0]
    fd, tmp = tempfile.mkstemp(prefix=f'.{stem}.', suffix='.so',
                               dir=osp.dirname(library))
    os.close(fd)
    try:
        proc = subprocess.run([cc, *flags, '-o', tmp, source],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f'{cc} failed ({proc.returncode}) on {source}: '
                             f'{proc.stderr.strip()[-2000:]}')
        os.chmod(tmp, 0o755)  # mkstemp made it private
        os.replace(tmp, library)
    finally:
        if osp.exists(tmp):
            os.unlink(tmp)
    return library


def load_library(source: str, library: str, flags: Sequence[str],
                 open_library: Callable[[str], T]) -> T:
    """Build ``library`` if needed and open it with ``open_library(path)``.

    ``open_library`` raises ``OSError`` or ``AttributeError`` for a library
    of another ABI version (e.g. built from an older source with a newer
    time stamp); it is then rebuilt and opened through a temporary copy,
    since this process may hold the old one open under ``library``'s name.
    """
    try:
        return open_library(build_library(source, library, flags))
    except (OSError, AttributeError):
        build_library(source, library, flags, force=True)
    stem = osp.splitext(osp.basename(library))[0]
    fd, tmp = tempfile.mkstemp(prefix=f'.{stem}.load.', suffix='.so',
                               dir=osp.dirname(library))
    os.close(fd)
    try:
        shutil.copyfile(library, tmp)
        return open_library(tmp)
    finally:
        os.unlink(tmp)


class KernelLoader(Generic[T]):
    """A module's C library, loaded at most once per process.

    :meth:`load` returns None when the environment variable ``env_var`` is
    0 (:func:`env_enabled`). The first failure to build or load warns once,
    naming what the caller uses instead, and is remembered: later calls
    return None at once.

    Args:
        name (str): what the library is, for the warning
            (e.g. ``'RLE kernel'``).
        env_var (str): the environment variable that disables it.
        fallback (str): what is used without it, for the warning.
        open_library (callable): opens a built library (its path) as for
            :func:`load_library`.
    """

    def __init__(self, *, name: str, env_var: str, fallback: str,
                 open_library: Callable[[str], T]) -> None:
        self.name = name
        self.env_var = env_var
        self.fallback = fallback
        self.open_library = open_library
        self.reset()

    def enabled(self) -> bool:
        return env_enabled(self.env_var)

    def load(self, source: str, library: str,
             flags: Sequence[str]) -> Optional[T]:
        """The library built from ``source`` (as :func:`load_library`), or
        None if disabled or unavailable."""
        if not self.enabled():
            return None
        if not self._tried:
            self._tried = True
            try:
                self._kernel = load_library(source, library, flags,
                                            self.open_library)
            except (BuildError, OSError, AttributeError) as error:
                # stacklevel 3: the caller of the module's load()
                warnings.warn(
                    f'cannot build or load the native {self.name} ({error}); '
                    f'{self.fallback}. Set {self.env_var}=0 to silence this.',
                    RuntimeWarning, stacklevel=3)
        return self._kernel

    def reset(self) -> None:
        """Forget the loaded library and any failure (for tests)."""
        self._kernel: Optional[T] = None
        self._tried = False
