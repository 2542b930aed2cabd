"""Train a video instance segmentation model.

    python tools/train.py CONFIG [--data-root DIR] [--work-dir DIR] [--resume]
        [--load-detector CKPT] [--class-map FILE] [--val-class-map FILE]
        [--tensorboard] [--amp]

``--load-detector CKPT`` starts the video model's detector from a plain
mmdet detector checkpoint (mmdet's COCO Mask R-CNN, or one's own): every
tensor of the same name and shape is loaded; the class-specific rows of
``fc_cls`` (background kept last), ``fc_reg`` and ``conv_logits`` are
copied for every training class that matches a checkpoint class by name
(``--class-map FILE``: a json ``{"training class": "checkpoint class" or
null}``); other classes start fresh. A table of what was loaded is printed.
A plain detector checkpoint given as the config's ``load_from`` is loaded
the same way; any other ``load_from`` must match the model's tensors.
Precedence: ``--resume`` over ``--load-detector`` over ``load_from``.

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
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import vis  # noqa: E402,F401  (registers the project's modules)
from vis.config_utils import (add_common_arguments,  # noqa: E402
                              apply_data_root, apply_training_classes,
                              check_checkpoint_fits,
                              close_distributed, enable_tensorboard,
                              load_tool_config, read_checkpoint_info,
                              run_tool)
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
    parser.add_argument('--load-detector', metavar='CKPT',
                        help='initialise the detector from a plain mmdet '
                        'detector checkpoint (path or URL), class rows '
                        'mapped by name; overrides the config\'s load_from')
    parser.add_argument('--class-map', metavar='FILE',
                        help='json {"data class": "model class" or null}: '
                        'with --load-detector (or a plain detector '
                        'load_from / init checkpoint), training classes -> '
                        'the checkpoint\'s classes; otherwise the '
                        'validation split\'s categories -> the training '
                        'classes (see configs/class_maps/)')
    parser.add_argument('--val-class-map', metavar='FILE',
                        help='json renaming the validation split\'s '
                        'categories to the training classes, when '
                        '--class-map maps the detector\'s classes')
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
    detector_init = args.load_detector or (
        not args.resume and plain_load_from(cfg))
    val_map = args.val_class_map or (None if detector_init
                                     else args.class_map)
    classes = apply_training_classes(cfg, class_map=val_map)
    if not args.resume:
        init_detector_from(cfg, args.load_detector, classes,
                           class_map=args.class_map if detector_init else None,
                           plain_load_from=bool(detector_init))
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


def plain_load_from(cfg: Config) -> bool:
    """Whether the config's ``load_from`` is a plain detector checkpoint."""
    if not cfg.get('load_from'):
        return False
    return read_checkpoint_info(cfg.load_from)[2]


def init_detector_from(cfg: Config, load_detector, classes,
                       class_map=None, plain_load_from: bool = False) -> None:
    """Start the detector from a plain detector checkpoint, class rows
    mapped by name (``DetectorCheckpointInit`` as the detector's init_cfg):
    ``--load-detector``, else a plain checkpoint given as ``load_from``;
    an init_cfg of that type in the config gets the training classes."""
    source = load_detector
    if source is None and plain_load_from:
        source = cfg.load_from
        print_log(f'load_from {source} is a plain detector checkpoint: '
                  'loaded into the detector, class rows mapped by name',
                  'current')
        cfg.load_from = None
    elif source is not None and cfg.get('load_from'):
        print_log(f'--load-detector {source} replaces load_from '
                  f'{cfg.load_from}', 'current', level=30)
        cfg.load_from = None
    detector = cfg.model.get('detector')
    if detector is None:
        if source is not None:
            raise ValueError(f'{cfg.filename}: the model holds no detector '
                             'to load a detector checkpoint into')
        return
    if source is not None:
        detector['init_cfg'] = dict(type='DetectorCheckpointInit',
                                    checkpoint=source)
    init_cfg = detector.get('init_cfg') or {}
    if init_cfg.get('type') == 'DetectorCheckpointInit':
        init_cfg['classes'] = list(classes)
        if class_map:  # --class-map replaces the config's own
            init_cfg['class_map'] = class_map


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
    runner = Runner.from_cfg(cfg)
    if cfg.get('load_from') and not cfg.get('resume'):
        try:  # before any training step
            check_checkpoint_fits(runner.model, cfg.load_from, 'load_from')
        except ValueError as err:
            raise SystemExit(f'error: {err}') from None
    train(runner)


if __name__ == '__main__':
    run_tool(main)
