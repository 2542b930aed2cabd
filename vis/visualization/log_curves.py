"""Training curves of a work dir: read mmengine's scalar logs, plot them.

mmengine's ``LocalVisBackend`` writes one json object per logged step to
``WORK_DIR/<timestamp>/vis_data/scalars.json``, e.g.::

    {"lr": 0.00125, "loss": 1.93, "loss_track": 0.41, "iter": 50,
     "epoch": 1, "step": 50, ...}
    {"youtube_vis/AP": 0.31, "step": 1}          # a validation, per epoch

A resumed training starts a new ``<timestamp>`` folder; :func:`read_scalars`
reads them all, oldest first, so the curves of a resumed run are one line
(a step logged again after a resume replaces the earlier value).
Validation entries (``step`` is the epoch) are kept apart from training
entries (``step`` is the iteration): a key whose name has a ``/`` is a
validation metric.
"""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['find_scalar_logs', 'read_scalars', 'loss_keys',
           'plot_log_curves']

#: keys of a training entry that are bookkeeping, not curves
NOT_CURVES = frozenset(('step', 'iter', 'epoch', 'data_time', 'time',
                        'memory', 'eta'))

Series = Dict[str, List[Tuple[int, float]]]


def find_scalar_logs(work_dir: str) -> List[str]:
    """The ``scalars.json`` files of ``work_dir``, oldest run first.

    Raises:
        FileNotFoundError: ``work_dir`` is missing or holds no log.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'{work_dir} is not a directory')
    paths = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not paths:
        raise FileNotFoundError(
            f'no training log under {work_dir} (looked for '
            f'{osp.join(work_dir, "<timestamp>", "vis_data", "scalars.json")}'
            ', written by mmengine\'s LocalVisBackend)')
    return paths


def read_scalars(work_dir: str) -> Tuple[Series, Series]:
    """Read every scalar log of ``work_dir``.

    Returns:
        tuple: ``(train, val)``, each ``{key: [(step, value), ...]}`` sorted
        by step; ``train`` steps are iterations, ``val`` steps epochs.

    Raises:
        FileNotFoundError: no log (see :func:`find_scalar_logs`).
        ValueError: a line that is not a json object, naming file and line.
    """
    train: Dict[str, Dict[int, float]] = {}
    val: Dict[str, Dict[int, float]] = {}
    for path in find_scalar_logs(work_dir):
        with open(path) as f:
            for line_no, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{path}:{line_no}: not json ({err})'
                                     ) from None
                if not isinstance(entry, dict) or 'step' not in entry:
                    raise ValueError(f'{path}:{line_no}: expected a json '
                                     'object with a "step"')
                step = int(entry['step'])
                for key, value in entry.items():
                    if key in NOT_CURVES or isinstance(value, bool) or \
                            not isinstance(value, (int, float)):
                        continue
                    target = val if '/' in key else train
                    target.setdefault(key, {})[step] = float(value)
    as_lists = lambda d: {k: sorted(v.items()) for k, v in d.items()}  # noqa
    return as_lists(train), as_lists(val)


def loss_keys(train: Series) -> List[str]:
    """The loss curves of a training log: ``loss`` first, then the parts
    (``loss_*``, sorted)."""
    parts = sorted(k for k in train if k.startswith('loss_'))
    return (['loss'] if 'loss' in train else []) + parts


def plot_log_curves(train: Series, val: Series, out_path: str,
                    keys: Optional[Sequence[str]] = None,
                    title: str = '') -> List[str]:
    """Draw the loss curves (and validation metrics, if any) into one PNG.

    Args:
        train, val: from :func:`read_scalars`.
        out_path (str): the PNG to write.
        keys (sequence[str], optional): training keys to draw (default: the
            losses, :func:`loss_keys`).
        title (str): figure title.

    Returns:
        list[str]: the keys drawn.

    Raises:
        KeyError: a requested key the log lacks (naming the ones it has).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    keys = list(keys) if keys else loss_keys(train)
    missing = [k for k in keys if k not in train]
    if missing:
        raise KeyError(f'not in the log: {missing}; it has '
                       f'{sorted(train)}')
    if not keys:
        raise KeyError(f'the log has no loss; it has {sorted(train)}')
    panels = 2 if val else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.5),
                             squeeze=False)
    ax = axes[0][0]
    for key in keys:
        steps, values = zip(*train[key])
        ax.plot(steps, values, label=key, linewidth=1.2 if key == 'loss'
                else 0.8)
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if val:
        ax = axes[0][1]
        for key in sorted(val):
            steps, values = zip(*val[key])
            ax.plot(steps, values, marker='o', label=key)
        ax.set_xlabel('epoch')
        ax.set_ylabel('validation')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return keys
