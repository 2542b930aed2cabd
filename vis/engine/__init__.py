"""Training machinery: atomic checkpoints, random-state resume, mid-epoch
resume and a stop on non-finite losses (registered in mmengine's registries,
so configs name them by type)."""
from .checkpoint import AtomicCheckpointHook, write_text_atomic
from .loops import ResumableEpochBasedTrainLoop
from .nonfinite import NonFiniteLossError, NonFiniteLossHook
from .random_state import (RandomStateHook, get_random_state,
                           set_random_state)

__all__ = [
    'AtomicCheckpointHook', 'write_text_atomic',
    'ResumableEpochBasedTrainLoop', 'NonFiniteLossError', 'NonFiniteLossHook',
    'RandomStateHook', 'get_random_state', 'set_random_state'
]
