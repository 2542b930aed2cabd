"""Stop training at the first non-finite loss, keeping the last good
checkpoint."""
import math
from typing import Dict, Optional

import torch
from mmengine.dist import all_gather_object, all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import HOOKS


class NonFiniteLossError(RuntimeError):
    """A loss (or the gradient norm) became NaN or infinite in training."""


def _value(value) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean())
    return float(value)


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when a loss term is NaN or infinite.

    After every training iteration the loss terms the model returned (the
    ``loss*`` entries of the iteration's outputs, the total ``loss``
    included) are checked, and so is the gradient norm when gradients are
    clipped (a finite loss can still give non-finite gradients, which make
    the weights NaN). The error names the iteration and every non-finite term
    with its value. The hook runs before the ``CheckpointHook`` of the same
    iteration, so no checkpoint of the broken state is written and
    ``last_checkpoint`` keeps naming the last good one.

    In distributed training the processes agree (one small all-reduce per
    iteration): all of them stop at the same iteration, and the message lists
    the terms of every process that saw a non-finite value.

    Args:
        check_grad_norm (bool): also stop on a non-finite gradient norm.
            Ignored with ``AmpOptimWrapper``, whose loss scaler skips such
            steps by design.
    """
    priority = 'VERY_HIGH'

    def __init__(self, check_grad_norm: bool = True) -> None:
        self.check_grad_norm = check_grad_norm

    def _bad_terms(self, runner, outputs: Optional[dict]) -> Dict[str, float]:
        bad = {}
        for name, value in (outputs or {}).items():
            if 'loss' not in name:
                continue
            value = _value(value)
            if not math.isfinite(value):
                bad[name] = value
        if (self.check_grad_norm
                and not isinstance(runner.optim_wrapper, AmpOptimWrapper)):
            buffer = runner.message_hub.log_scalars.get('train/grad_norm')
            if buffer is not None and len(buffer.data[0]):
                grad_norm = float(buffer.current())
                if not math.isfinite(grad_norm):
                    bad['grad_norm'] = grad_norm
        return bad

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        bad = self._bad_terms(runner, outputs)
        reports = {0: bad}
        if get_world_size() > 1:
            flag = torch.tensor([float(bool(bad))])
            all_reduce(flag)
            if flag.item() == 0:
                return
            reports = {rank: terms for rank, terms in
                       enumerate(all_gather_object(bad)) if terms}
        elif not bad:
            return
        raise self._error(runner, batch_idx, reports)

    @staticmethod
    def _error(runner, batch_idx: int,
               reports: Dict[int, Dict[str, float]]) -> NonFiniteLossError:
        parts = []
        for rank, terms in reports.items():
            listed = ', '.join(f'{k}={v}' for k, v in terms.items())
            parts.append(f'{listed} (process {rank})'
                         if len(reports) > 1 or rank else listed)
        where = (f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, '
                 f'batch {batch_idx + 1})')
        last = runner.message_hub.get_info('last_ckpt')
        kept = (f'the last checkpoint, {last}, was written before it and is '
                'kept' if last else 'no checkpoint had been written yet')
        message = (f'non-finite loss at {where}: {"; ".join(parts)}. '
                   f'Training stopped without saving this state; {kept}. '
                   'Common causes: a learning rate too high for the batch '
                   'size, or a broken annotation in this batch.')
        runner.logger.error(message)
        return NonFiniteLossError(message)
