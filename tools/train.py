"""Train a video instance segmentation model.

    python tools/train.py CONFIG [--data-root DIR] [--work-dir DIR] [--resume]
        [--class-map FILE] [--tensorboard] [--amp]

``--tensorboard`` (or ``tensorboard = True`` in the config) adds mmengine's
TensorboardVisBackend beside the local json log; ``tools/plot_logs.py
WORK_DIR`` draws the loss curves from the json log alone.
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import vis  # noqa: E402,F401  (registers the project's modules)
from vis.config_utils import (add_common_arguments,  # noqa: E402
                              apply_data_root, apply_training_classes,
                              close_distributed, enable_tensorboard,
                              load_tool_config, run_tool)
from vis.datasets.classes import ClassMismatchError  # noqa: E402
from vis.engine import NonFiniteLossError  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('config', help='train config file')
    parser.add_argument('--data-root', help='a YouTube-VIS-layout directory: '
                        'train on its train split, validate on its valid '
                        'split (2019 or 2021 layout)')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CHECKPOINT, or from the latest '
                        'checkpoint in the work dir when no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (needs a GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by total batch size / '
                        'auto_scale_lr.base_batch_size')
    parser.add_argument('--class-map', metavar='FILE',
                        help='json {"valid class": "train class" or null} '
                        'renaming the validation split\'s categories to the '
                        'training classes (see configs/class_maps/)')
    parser.add_argument('--tensorboard', action='store_true',
                        help='also log to TensorBoard (WORK_DIR/<timestamp>/'
                        'vis_data; view with tensorboard --logdir WORK_DIR)')
    add_common_arguments(parser)
    return parser.parse_args(argv)


def build_config(args) -> Config:
    cfg = load_tool_config(args)
    if args.data_root:
        apply_data_root(cfg, args.data_root, train=True, test_split='valid')
    # the model's classes are the training data's; the validation data is
    # matched to them by name now, not after hours of training
    apply_training_classes(cfg, class_map=args.class_map)
    if cfg.get('val_evaluator') and not cfg.val_evaluator.get('output_dir'):
        # results.json of the last validation, never in the current folder
        cfg.val_evaluator['output_dir'] = osp.join(cfg.work_dir, 'val')
    if args.tensorboard or cfg.get('tensorboard'):
        enable_tensorboard(cfg)
    if args.amp:
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a CUDA GPU; none is available')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def train(runner: Runner) -> None:
    """Train, then shut the process group down.

    A non-finite loss stops every process at the same iteration (the hook
    agrees on it with an all-reduce), so all of them reach the barrier in
    :func:`close_distributed` too, and then raise ``SystemExit`` with the
    hook's message, which :func:`run_tool` turns into exit status 1.
    """
    try:
        runner.train()
    except NonFiniteLossError as err:  # the message says it all
        close_distributed()
        raise SystemExit(f'error: {err}') from None
    close_distributed()


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = build_config(args)
    except (ClassMismatchError, FileNotFoundError, ValueError) as err:
        raise SystemExit(f'error: {err}') from None
    train(Runner.from_cfg(cfg))


if __name__ == '__main__':
    run_tool(main)
