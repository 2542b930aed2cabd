"""Config edits and arguments shared by the command-line tools."""
import argparse
import datetime
import gc
import json
import logging
import multiprocessing
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.logging import print_log

from .compat import set_checkpoint_trust
from .detector_config import load_video_config
from .datasets.classes import (ClassMismatchError,
                               checkpoint_classes, match_classes)
from .datasets.layout import find_split


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments every tool takes: trust, config overrides, launcher."""
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow full (code-running) unpickling of '
                        'checkpoints that are not plain weights; only for '
                        'files you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. '
                        'train_cfg.max_epochs=2')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_tool_config(args: argparse.Namespace) -> Config:
    """Read ``args.config`` and apply the common arguments: trust, launcher
    (without CUDA: gloo, started by :func:`setup_cpu_distributed`),
    ``--cfg-options`` and the work dir
    (``--work-dir``, else the config's, else ``work_dirs/<config name>``)."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.trust_checkpoint:
        set_checkpoint_trust(True)
    # a plain mmdet detector config (a file or a scoped mmdet:: name) is
    # wrapped into a training-free video tracker (vis.detector_config)
    cfg = load_video_config(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.launcher != 'none' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg)
    config_file = args.config.split('::')[-1]  # a scoped name's path
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(config_file))[0])
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """Distributed processes without CUDA: gloo, set up here.

    mmengine's launchers call ``torch.cuda.set_device``, which fails on a
    machine without CUDA, and its DDP wrapper passes the process's GPU as
    ``device_ids``. So the process group is started here, over gloo, from
    the launcher's environment (torchrun's ``RANK``/``WORLD_SIZE``/
    ``MASTER_ADDR``/``MASTER_PORT``, slurm's ``SLURM_*``, Open MPI's
    ``OMPI_COMM_WORLD_*``), which the runner then uses as it is, and the
    model is wrapped for CPU.
    """
    env_cfg = cfg.get('env_cfg') or ConfigDict()
    dist_cfg = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
    cfg.env_cfg = dict(env_cfg, dist_cfg=dist_cfg)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if torch.distributed.is_initialized():
        return
    env = os.environ
    if cfg.launcher == 'slurm':
        env['RANK'] = env['SLURM_PROCID']
        env['WORLD_SIZE'] = env['SLURM_NTASKS']
        env['LOCAL_RANK'] = env.get('SLURM_LOCALID', '0')
        if 'MASTER_ADDR' not in env:
            env['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {env["SLURM_NODELIST"]} | head -n1')
    elif cfg.launcher == 'mpi':
        env['RANK'] = env['OMPI_COMM_WORLD_RANK']
        env['WORLD_SIZE'] = env['OMPI_COMM_WORLD_SIZE']
        env['LOCAL_RANK'] = env['OMPI_COMM_WORLD_LOCAL_RANK']
        if 'MASTER_ADDR' not in env:
            raise KeyError('--launcher mpi needs MASTER_ADDR (the address '
                           'of the rank-0 machine) in the environment')
    if dist_cfg.get('port') is not None:
        env['MASTER_PORT'] = str(dist_cfg['port'])
    env.setdefault('MASTER_PORT', '29500')
    kwargs = {}
    if dist_cfg.get('timeout') is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    torch.distributed.init_process_group(backend='gloo', **kwargs)


# set by close_distributed: this process ran distributed and must end
# through run_tool's hard exit
_closed_distributed = False


def close_distributed() -> None:
    """Wait for every process, then shut the process group down.

    The tools call this when their work is done, then end the process
    through :func:`run_tool`.
    """
    global _closed_distributed
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        _closed_distributed = True


def run_tool(main: Callable[[], object]) -> None:
    """Run a tool's ``main`` and end the process with its exit status.

    A process that ran distributed (:func:`close_distributed` shut its group
    down) ends with :func:`os._exit` once its output is flushed, its
    collectable objects freed and its data-loader workers stopped. The
    interpreter's own exit is not safe there: a DDP model keeps the gloo
    process group alive after ``destroy_process_group``, and its worker
    threads may still be releasing a finished collective whose tensors
    belong to Python. A thread that takes the GIL while the interpreter
    finalizes is ended by the interpreter, and the unwinding through a C++
    destructor aborts the process ("terminate called without an active
    exception", SIGABRT), with the work already done. Measured here: 3 of 57
    two-process runs of a stopped training aborted that way after
    ``destroy_process_group``.

    A ``SystemExit`` keeps its meaning: its message goes to stderr with
    status 1, an integer is the status. A single-process run, or one that
    fails before or during the distributed work, exits the normal way.
    """
    try:
        main()
    except SystemExit as stop:
        if not _closed_distributed:
            raise
        code = stop.code
    else:
        if not _closed_distributed:
            return
        code = 0
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    gc.collect()  # data loaders shut their worker processes down
    for child in multiprocessing.active_children():
        if child.daemon:  # what the interpreter's exit would do
            child.terminate()
            child.join()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def innermost_dataset(dataset_cfg: ConfigDict) -> ConfigDict:
    """The dataset config that holds ``ann_file`` (unwraps RepeatDataset
    and similar wrappers; of a ``JointVideoDataset``, its first source, the
    video set)."""
    while 'ann_file' not in dataset_cfg:
        if 'dataset' in dataset_cfg:
            dataset_cfg = dataset_cfg['dataset']
        elif dataset_cfg.get('datasets'):  # JointVideoDataset: the video set
            dataset_cfg = dataset_cfg['datasets'][0]
        else:
            break
    return dataset_cfg


def point_dataset_at(dataset_cfg: ConfigDict, split_info: dict) -> None:
    """Make a dataset config read ``split_info`` from :func:`find_split`."""
    ds = innermost_dataset(dataset_cfg)
    ds['data_root'] = ''
    ds['ann_file'] = split_info['ann_file']
    ds['data_prefix'] = dict(img_path=split_info['img_dir'])


def category_names(ann_file: str) -> Sequence[str]:
    """Category names of a YouTube-VIS json, sorted by category id."""
    with open(ann_file) as f:
        cats = json.load(f).get('categories')
    if not cats:
        raise ValueError(f"{ann_file}: no 'categories'")
    return tuple(c['name'] for c in sorted(cats, key=lambda c: c['id']))


def set_num_classes(cfg: Config, num_classes: int) -> None:
    """Set the class count of the detector's box and mask heads (a two-stage
    detector's RoI heads, every stage of a cascade, PointRend's
    ``point_head``, or a single-stage detector's ``bbox_head`` /
    ``mask_head``; heads that count classes otherwise, such as
    Mask2Former's, are left as configured)."""
    detector = cfg.model.get('detector', cfg.model)
    holders = [detector.get('roi_head'), detector]
    for holder in holders:
        if not holder:
            continue
        for key in ('bbox_head', 'mask_head', 'point_head'):
            heads = holder.get(key)
            for head in (heads if isinstance(heads, list) else [heads]):
                if isinstance(head, dict) and 'num_classes' in head:
                    head['num_classes'] = num_classes


def classes_for(cfg: Config, dataset_cfg: ConfigDict) -> Sequence[str]:
    """Classes a dataset config will use: its metainfo, else its json."""
    ds = innermost_dataset(dataset_cfg)
    named = (ds.get('metainfo') or {}).get('classes')
    if named:
        return tuple(named)
    ann_file = ds['ann_file']
    if ds.get('data_root') and not osp.isabs(ann_file):
        ann_file = osp.join(ds['data_root'], ann_file)
    return category_names(ann_file)


def enable_tensorboard(cfg: Config) -> None:
    """Log to TensorBoard too: add mmengine's ``TensorboardVisBackend`` to
    the visualizer (it writes event files next to the json log, under
    ``WORK_DIR/<timestamp>/vis_data``). Idempotent."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ValueError('TensorBoard logging needs the tensorboard package '
                         '(pip install tensorboard; pinned in '
                         'requirements.txt)') from None
    visualizer = cfg.get('visualizer')
    if visualizer is None:
        raise ValueError('the config has no visualizer to add TensorBoard to')
    backends = list(visualizer.get('vis_backends') or [])
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    visualizer['vis_backends'] = backends


def apply_data_root(cfg: Config, data_root: str, train: bool = True,
                    test_split: Optional[str] = 'valid') -> Optional[dict]:
    """Point train/val/test at a YouTube-VIS-layout directory.

    The heads get as many classes as the train (or test) json has
    categories, unless the config names its classes.

    Args:
        cfg (Config): the config, edited in place.
        data_root (str): the directory (2019 or 2021 layout).
        train (bool): set the train dataloader to ``data_root``'s train split.
        test_split (str, optional): split for val/test ('valid' or 'test');
            None leaves them alone. A missing split disables validation when
            training and raises when testing.

    Returns:
        dict or None: :func:`find_split`'s answer for the test split.
    """
    test_info = None
    if train:
        info = find_split(data_root, 'train')
        point_dataset_at(cfg.train_dataloader.dataset, info)
        print_log(f'train: {info["ann_file"]} ({info["version"]} layout)',
                  'current')
    if test_split is not None:
        try:
            test_info = find_split(data_root, test_split)
        except FileNotFoundError:
            if not train:
                raise
            print_log(f'no {test_split} split under {data_root}: training '
                      'without validation', 'current', level=30)
            cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
        if test_info is not None:
            print_log(f'{test_split}: {test_info["ann_file"]} '
                      f'({test_info["version"]} layout)', 'current')
            for key in ('val', 'test'):
                loader = cfg.get(f'{key}_dataloader')
                if loader:
                    point_dataset_at(loader.dataset, test_info)
                evaluator = cfg.get(f'{key}_evaluator')
                if evaluator:
                    evaluator['ann_file'] = test_info['ann_file']
                    if not test_info['has_annotations']:
                        evaluator['format_only'] = True
    source = (cfg.train_dataloader.dataset if train
              else cfg.test_dataloader.dataset)
    classes = classes_for(cfg, source)
    set_num_classes(cfg, len(classes))
    split = 'train' if train else test_split
    print_log(f'{len(classes)} classes in the {split} data: '
              f'{", ".join(classes)}', 'current')
    return test_info


# --------------------------------------------------------------------------
# Classes: one rule for train, test, demo and predictor
# (vis.datasets.classes): a new model takes its classes from its training
# data; a trained model's classes are the names in its checkpoint, else its
# config's; data categories are matched to them by name.
# --------------------------------------------------------------------------

#: state-dict key (suffix) whose rows are the box head's classes + background
BBOX_CLS_KEY = 'roi_head.bbox_head.fc_cls.weight'


def weights_num_classes(state_dict: dict) -> Optional[int]:
    """The class count of a MaskTrack R-CNN / Mask R-CNN state dict's box
    classifier (its rows minus background); None if it has none."""
    for key, value in state_dict.items():
        if key.endswith(BBOX_CLS_KEY) and hasattr(value, 'shape'):
            return int(value.shape[0]) - 1
    return None


def read_checkpoint_info(checkpoint: str
                         ) -> Tuple[Optional[Tuple[str, ...]],
                                    Optional[int], bool]:
    """``(class names stored in the checkpoint or None, class count of its
    box classifier or None, whether it is a plain mmdet detector's)`` of a
    checkpoint path or URL (loaded weights-only, see :mod:`vis.compat`)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from .models.detector_init import is_plain_detector_state
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu',
                                            logger='silent')
    if not isinstance(ckpt, dict):
        raise ValueError(f'{checkpoint} is not a checkpoint (a dict of '
                         'weights)')
    state = ckpt.get('state_dict', ckpt)
    return (checkpoint_classes(ckpt.get('meta')), weights_num_classes(state),
            is_plain_detector_state(state))


def check_checkpoint_fits(model: torch.nn.Module, checkpoint: str,
                          what: str = 'checkpoint') -> None:
    """Raise ``ValueError`` when a checkpoint does not fit ``model``: it
    matches none of its tensors, or tensors of the same name have other
    shapes (named, with both shapes). mmengine's non-strict load would skip
    them with a warning and run with random weights. A plain detector
    checkpoint is compared with a model's ``detector.`` tensors when the
    model loads it there (:class:`vis.models.TrackedDetector`)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from .models import (TrackedDetector, check_state_fits,
                         prefix_plain_detector_keys, strip_module_prefix)
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu',
                                            logger='silent')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
    state = strip_module_prefix(state)
    model = getattr(model, 'module', model)  # DDP
    if isinstance(model, TrackedDetector):  # loads a plain checkpoint too
        prefix_plain_detector_keys(state)
    check_state_fits(state, model.state_dict(), f'{what} {checkpoint}')


def plain_checkpoint_error(checkpoint: str, config_name: str) -> str:
    """Why a plain detector checkpoint cannot be used with a video model's
    config, and what to do instead."""
    return (f'{checkpoint} is a plain mmdet detector checkpoint (no '
            f'detector./track_head. keys), but {config_name} is a video '
            'model with a track head it does not hold. Track it without '
            'training by giving the detector\'s own mmdet config (e.g. '
            'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py) as CONFIG, or '
            'train a video model from it: tools/train.py CONFIG '
            '--load-detector CHECKPOINT')


def config_classes(cfg: Config) -> Optional[Tuple[str, ...]]:
    """Classes a config names for its model: a wrapped detector's config
    classes (``model_classes``, :mod:`vis.detector_config`), else its test
    dataset's ``metainfo.classes``, else the categories of its test json
    when that file exists; None otherwise."""
    if cfg.get('model_classes'):
        return tuple(cfg.model_classes)
    try:
        dataset = cfg.test_dataloader.dataset
    except (AttributeError, KeyError):
        return None
    try:
        return tuple(classes_for(cfg, dataset))
    except (OSError, KeyError, ValueError):
        return None


def resolve_model_classes(trained: Optional[Sequence[str]],
                          weights_count: Optional[int],
                          configured: Optional[Sequence[str]],
                          checkpoint: str, config_name: str
                          ) -> Tuple[Tuple[str, ...], str]:
    """A trained model's class names and where they come from.

    Args:
        trained: names stored in the checkpoint (:func:`checkpoint_classes`).
        weights_count: the checkpoint's box classifier class count
            (:func:`weights_num_classes`).
        configured: names the config gives (:func:`config_classes`).
        checkpoint, config_name: for messages.

    Returns:
        tuple: ``(class names, source)``.

    Raises:
        ClassMismatchError: no names anywhere, or names whose count is not
            the checkpoint's class count.
    """
    if trained:
        classes, source = tuple(trained), f'checkpoint {checkpoint}'
    elif configured:
        classes, source = tuple(configured), f'config {config_name}'
    else:
        raise ClassMismatchError(
            f'no class names for the model: checkpoint {checkpoint} stores '
            'none (meta.dataset_meta.classes) and config '
            f'{config_name} names none (a test dataset with '
            'metainfo=dict(classes=...) or an existing ann_file); give the '
            'config its classes')
    if weights_count is not None and weights_count != len(classes):
        raise ClassMismatchError(
            f'checkpoint {checkpoint} has {weights_count} classes in its '
            f'box head, but {source} names {len(classes)}: {list(classes)}')
    return classes, source


def apply_model_classes(cfg: Config, model_classes: Sequence[str],
                        class_map: Optional[str] = None,
                        evaluators: Sequence[str] = ('test', )) -> None:
    """Give a config a trained model's classes and match its evaluation
    data to them by name, before anything heavy runs.

    Sets the heads' class count, the evaluators' ``classes`` and
    ``class_map`` and the visualization hook's class names, and checks each
    evaluator's json: a data class the model lacks raises
    :class:`ClassMismatchError` naming both lists.
    """
    model_classes = tuple(model_classes)
    set_num_classes(cfg, len(model_classes))
    for key in evaluators:
        evaluator = cfg.get(f'{key}_evaluator')
        if not evaluator:
            continue
        ann_file = evaluator['ann_file']
        if osp.isfile(ann_file):
            match = match_classes(category_names(ann_file), model_classes,
                                  class_map, data_source=ann_file,
                                  model_source='the model')
            print_log(f'{key}: {match.summary()}', 'current')
        evaluator['classes'] = list(model_classes)
        if class_map:
            evaluator['class_map'] = class_map
    hook = (cfg.get('default_hooks') or {}).get('visualization')
    if hook and hook.get('type') == 'VideoVisualizationHook':
        hook['class_names'] = list(model_classes)


def apply_training_classes(cfg: Config,
                           class_map: Optional[str] = None) -> Tuple[str, ...]:
    """A new model's classes are its training data's categories (or the
    classes its train dataset config names); the validation data is matched
    to them by name (:func:`apply_model_classes`). Returns the classes."""
    classes = tuple(classes_for(cfg, cfg.train_dataloader.dataset))
    apply_model_classes(cfg, classes, class_map=class_map,
                        evaluators=('val', ))
    return classes
