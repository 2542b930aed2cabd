"""Checkpoint loading that works on torch >= 2.6 and never runs code.

mmengine 0.10.7 calls ``torch.load(filename, map_location)``. Since torch 2.6
that means ``weights_only=True``, and the checkpoints mmengine itself writes
hold numpy arrays and mmengine objects (the message hub's ``HistoryBuffer``),
so ``--resume`` and ``tools/test.py`` fail on a checkpoint that was just
trained. Passing ``weights_only=False`` everywhere would fix that and let any
downloaded file run arbitrary code while being unpickled.

This module re-registers mmengine's checkpoint loaders (local paths,
``http(s)://``, ``open-mmlab://``, ``torchvision://``) with one loader:

* **Default, every file** (our own checkpoints and files from outside alike):
  ``torch.load(..., weights_only=True)`` with an allow-list of data-only
  types that mmengine checkpoints contain (numpy arrays, dtypes and scalars,
  ``HistoryBuffer``, ``ConfigDict``). Tensors, containers and these types
  load; anything else in the pickle (a function call, an arbitrary class) is
  refused with an error naming the file, and nothing is executed.
* **What we write**: mmengine's ``HistoryBuffer`` pickles its class-level
  table of statistics *functions* (through ``getattr``), which no
  weights-only loader may accept. Importing this module makes it pickle only
  its data (the table is rebuilt from the class on load), so every checkpoint
  trained with ``vis`` imported loads weights-only.
* **Trusted legacy pickle**: a file that needs more (an old full pickle)
  loads with ``weights_only=False`` only when the user opts in, with
  ``--trust-checkpoint`` on the tools or ``VIS_TRUST_CHECKPOINT=1``. Do this
  only for files you made or trust.
"""
import os
import os.path as osp
from typing import Iterable, Optional

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.dist import get_dist_info
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner.checkpoint import (CheckpointLoader,
                                        get_deprecated_model_names,
                                        get_external_models)

TRUST_ENV = 'VIS_TRUST_CHECKPOINT'


class UntrustedCheckpointError(RuntimeError):
    """A checkpoint needs full unpickling, which was not allowed."""


def _numpy_safe_globals() -> list:
    """numpy types that appear in pickled arrays and scalars.

    A pickle names each by its module path: numpy 2 writes
    ``numpy._core.multiarray._reconstruct``, numpy 1 wrote
    ``numpy.core.multiarray._reconstruct`` (and ``...scalar``). Both names
    are allowed, bound to the same function of the installed numpy, so a
    checkpoint saved under either numpy loads weights-only.
    """
    core = getattr(np, '_core', None) or np.core
    found = [np.ndarray, np.dtype, core.multiarray._reconstruct,
             core.multiarray.scalar]
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        for name in ('_reconstruct', 'scalar'):
            found.append((getattr(core.multiarray, name), f'{module}.{name}'))
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:  # numpy >= 1.25 pickles dtypes by their class
        found += [getattr(dtypes, name) for name in dir(dtypes)
                  if name.endswith('DType')]
    return found


SAFE_GLOBALS = _numpy_safe_globals() + [HistoryBuffer, ConfigDict]


def checkpoint_trusted() -> bool:
    """Whether the user allowed full (code-running) unpickling."""
    return os.environ.get(TRUST_ENV, '0').lower() in ('1', 'true', 'yes')


def set_checkpoint_trust(trusted: bool) -> None:
    """Allow (True) or forbid (False) full unpickling in this process and in
    the processes it starts."""
    os.environ[TRUST_ENV] = '1' if trusted else '0'


def load_checkpoint_file(filename: str, map_location=None,
                         trusted: Optional[bool] = None):
    """Load a checkpoint file: weights-only unless ``trusted``.

    Args:
        filename (str): a local file.
        map_location: as in :func:`torch.load`.
        trusted (bool, optional): allow full unpickling; defaults to
            :func:`checkpoint_trusted`.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UntrustedCheckpointError: the file needs full unpickling and is not
            trusted.
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    if trusted is None:
        trusted = checkpoint_trusted()
    if trusted:
        return torch.load(filename, map_location=map_location,
                          weights_only=False)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    except Exception as err:  # torch raises UnpicklingError with details
        if 'weights_only' not in str(err) and 'Unsupported' not in str(err):
            raise
        raise UntrustedCheckpointError(
            f'{filename} holds objects other than tensors and plain data, '
            'so loading it could run code and was refused. If you made this '
            f'file or trust its source, pass --trust-checkpoint (or set '
            f'{TRUST_ENV}=1). Details: {str(err).splitlines()[0]}') from err


def _download(url: str) -> str:
    """Download ``url`` into torch's hub cache (local rank 0 first)."""
    cache_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(cache_dir, exist_ok=True)
    path = osp.join(cache_dir, osp.basename(url.split('?')[0]))
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.isfile(path):
        print_log(f'downloading {url} to {path}', 'current')
        _fetch(url, path)
    if world_size > 1:
        torch.distributed.barrier()
    if not osp.isfile(path):  # every rank without a shared file system
        _fetch(url, path)
    return path


def _fetch(url: str, path: str) -> None:
    try:
        torch.hub.download_url_to_file(url, path, progress=True)
    except Exception as err:
        raise RuntimeError(
            f'could not download checkpoint {url} ({err}). Without network '
            f'access, download it elsewhere and put it at {path}, or point '
            'the config (init_cfg.checkpoint / load_from) at a local copy.'
        ) from err


def _load_local(filename, map_location=None):
    return load_checkpoint_file(osp.expanduser(filename), map_location)


def _load_http(filename, map_location=None):
    return load_checkpoint_file(_download(filename), map_location)


def _load_openmmlab(filename, map_location=None):
    name = filename.split('://', 1)[1]
    name = get_deprecated_model_names().get(name, name)
    url = get_external_models().get(name)
    if url is None:
        raise KeyError(f'{filename}: unknown open-mmlab model name {name!r}')
    return _load_http(url, map_location)


def _load_torchvision(filename, map_location=None):
    raise RuntimeError(
        f'{filename}: torchvision:// checkpoints need torchvision, which this '
        'stack does not install; use an http(s) URL or a local file instead')


def _register(prefixes: Iterable[str], loader) -> None:
    CheckpointLoader.register_scheme(prefixes=list(prefixes), loader=loader,
                                     force=True)


def _history_buffer_state(self) -> dict:
    """``HistoryBuffer.__getstate__`` without the statistics functions."""
    return {k: v for k, v in self.__dict__.items()
            if k != 'statistics_methods'}


def install_checkpoint_loaders() -> None:
    """Route every mmengine checkpoint load through the loader above."""
    _register([''], _load_local)
    _register(['http://', 'https://'], _load_http)
    _register(['open-mmlab://', 'openmmlab://'], _load_openmmlab)
    _register(['modelzoo://', 'torchvision://'], _load_torchvision)


install_checkpoint_loaders()
HistoryBuffer.__getstate__ = _history_buffer_state
