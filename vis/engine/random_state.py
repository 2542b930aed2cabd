"""Random number generator state in checkpoints.

mmengine 0.10.7 saves the seed in a checkpoint, not the state the generators
reached: a resumed run re-seeds Python's ``random``, numpy and torch and so
replays the random stream of the start of training (augmentations, proposal
sampling) instead of continuing it. :class:`RandomStateHook` saves the
states with every checkpoint and restores them when training resumes.

The states are stored as tensors and plain numbers, so checkpoints still load
with ``torch.load(weights_only=True)`` (see :mod:`vis.compat`).
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

CHECKPOINT_KEY = 'random_state'


def get_random_state() -> dict:
    """The states of Python's, numpy's and torch's global generators (and
    of every CUDA device's, when CUDA is in use), as tensors and numbers."""
    version, internal, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = dict(
        python=dict(version=version,
                    internal=torch.tensor(internal, dtype=torch.int64),
                    gauss_next=gauss_next),
        numpy=dict(name=name,
                   keys=torch.from_numpy(keys.astype(np.int64)),
                   pos=int(pos), has_gauss=int(has_gauss),
                   cached_gaussian=float(cached_gaussian)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    """Restore states from :func:`get_random_state`. Tensors may have been
    loaded onto a GPU (``map_location``); they are moved back to the CPU."""
    py = state['python']
    random.setstate((py['version'], tuple(py['internal'].tolist()),
                     py['gauss_next']))
    npy = state['numpy']
    np.random.set_state((npy['name'],
                         npy['keys'].cpu().numpy().astype(np.uint32),
                         npy['pos'], npy['has_gauss'],
                         npy['cached_gaussian']))
    torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda')
    if cuda and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the generators' states with each checkpoint; restore them on
    ``--resume`` (not when a checkpoint is only loaded with ``load_from``).

    The main process writes the checkpoint, so its states are saved. On
    resume every process takes them, which matches mmengine's default of
    seeding all processes alike; with ``randomness.diff_rank_seed=True`` only
    the main process restores them and the others keep their own seeds.

    The states are applied in ``before_train``: after mmengine re-seeds from
    the checkpoint's seed, and right before the first resumed iteration.
    """
    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._loaded: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = get_random_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get(CHECKPOINT_KEY)

    def before_train(self, runner) -> None:
        state, self._loaded = self._loaded, None
        if not getattr(runner, '_resume', runner.iter > 0):
            return  # weights loaded to start from (load_from): new seed
        if state is None:
            if runner.iter > 0:
                runner.logger.warning(
                    'the checkpoint has no random generator states (written '
                    'without RandomStateHook): the resumed run re-seeds them')
            return
        randomness = getattr(runner, '_randomness_cfg', None) or {}
        if randomness.get('diff_rank_seed') and get_rank() != 0:
            return
        set_random_state(state)
        runner.logger.info('restored the random generator states (python, '
                           'numpy, torch) saved at iteration '
                           f'{runner.iter}')
