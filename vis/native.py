"""Building and loading the project's small C libraries (ctypes, no headers).

Each library is one C99 source file next to the Python module that wraps it
(``vis/evaluation/rle_kernel.c``, ``vis/ops/roi_align_kernel.c``). It is
compiled into a ``.so`` beside the source when that is missing or older than
the source, through a temporary file renamed into place, so concurrent
processes never load a half-written library. ``make install`` builds them
ahead; otherwise the first use does.
"""

from __future__ import annotations

import os
import os.path as osp
import shutil
import subprocess
import tempfile
from typing import Callable, Optional, Sequence, TypeVar

__all__ = ['BuildError', 'build_library', 'compiler', 'env_enabled',
           'load_library']

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
