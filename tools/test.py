"""Test a video instance segmentation model: YouTube-VIS AP or a submission.

    python tools/test.py CONFIG CHECKPOINT [--data-root DIR]
        [--split valid|test|train] [--format-only]
        [--metrics ap hota frame boundary]
        [--track-score-thr 0.5] [--class-map FILE]

Always writes WORK_DIR/results.json and WORK_DIR/results.zip (the file the
YouTube-VIS evaluation server takes), before any metric is computed. With
annotations in the split, prints the metrics (``ap``: video AP, AP50, AP75,
APs/m/l, AR1/10/100, ARs/m/l; ``hota``: HOTA, DetA, AssA, IDF1, MOTA;
``frame``: per-frame detection AP of masks and boxes, frame_mask_AP ...
frame_box_AR100, which tells detection failures from tracking failures;
``boundary``: Boundary AP, boundary_AP, boundary_AP50, boundary_AP75, the
video AP with tracks matched by min(mask IoU, boundary IoU), which needs
the outlines right), then a table per category (AP, AP50, AP75, AR100;
boundary_AP; frame_mask_AP, frame_box_AP; HOTA ... MOTA; whichever were
computed), and writes them to WORK_DIR/metrics.json: the metrics as ``name:
value`` and, under ``per_class``, ``{category: {metric: value}}``.
``--split train`` tests the training videos (can the model fit them?),
next to the held-out ones.

CONFIG may also be a plain mmdet instance-segmentation config, a file or a
scoped name (``mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py``), with its
checkpoint and ``--data-root``: its detector is then tracked without
training (vis/detector_config.py; tracks confirmed after a few frames keep
their first frames, tracks never confirmed are dropped).

The model's classes are the names stored in the checkpoint (else the
config's); the split's categories are matched to them by name, before any
inference: a category the model lacks is an error naming both lists, and
model classes the data lacks are left out of the results.
"""
import argparse
import json
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from mmengine.config import Config  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import vis  # noqa: E402,F401  (registers the project's modules)
from vis.config_utils import (add_common_arguments,  # noqa: E402
                              apply_data_root, apply_model_classes,
                              check_checkpoint_fits,
                              close_distributed, config_classes,
                              load_tool_config, plain_checkpoint_error,
                              read_checkpoint_info, resolve_model_classes,
                              run_tool)
from vis.datasets.classes import ClassMismatchError  # noqa: E402
from vis.engine import write_text_atomic  # noqa: E402
from vis.evaluation import check_metric_names  # noqa: E402
from vis.evaluation import format_metrics_table  # noqa: E402
from vis.evaluation import format_per_class_table  # noqa: E402
from vis.evaluation.ytvis_metric import PER_CLASS_KEY  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.strip().split('\n')[0])
    parser.add_argument('config', help='test config file')
    parser.add_argument('checkpoint', help='checkpoint file or URL')
    parser.add_argument('--data-root', help='a YouTube-VIS-layout directory; '
                        'its --split is tested')
    parser.add_argument('--split', default='valid',
                        choices=['valid', 'test', 'train'],
                        help='split of --data-root to run on: valid '
                        '(default), test, or train (can the model fit its '
                        'own training videos?)')
    parser.add_argument('--work-dir', help='where metrics.json and '
                        'results.json/zip go (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--format-only', action='store_true',
                        help='only write results.json and results.zip')
    parser.add_argument('--metrics', nargs='+', default=['ap'],
                        metavar='NAME', help='metrics to compute: ap '
                        '(video AP/AR), hota (HOTA, DetA, AssA, IDF1, MOTA), '
                        'frame (per-frame detection AP/AR of masks and '
                        'boxes: detection failures apart from tracking '
                        'ones), boundary (Boundary AP: boundary_AP, '
                        'boundary_AP50, boundary_AP75, matching by min(mask '
                        'IoU, boundary IoU)); default: ap. Per-category '
                        'values come with each'),
    parser.add_argument('--track-score-thr', type=float, default=0.5,
                        help='score threshold of the tracking metrics '
                        '(default 0.5)')
    parser.add_argument('--class-map', metavar='FILE',
                        help='json {"data class": "model class" or null} '
                        'renaming the split\'s categories to the model\'s '
                        '(see configs/class_maps/)')
    parser.add_argument('--show-videos', type=int, metavar='N',
                        help='draw the predictions of the first N videos '
                        '(PNG frames + MP4) into --show-dir')
    parser.add_argument('--show-dir', help='where --show-videos draws, in '
                        'DIR/test/<video>/ (default: WORK_DIR/vis)')
    add_common_arguments(parser)
    return parser.parse_args(argv)


def build_config(args) -> Config:
    cfg = load_tool_config(args)
    metrics = check_metric_names(args.metrics)
    configured = config_classes(cfg)  # before --data-root replaces the data
    tracks_plain_detector = bool(cfg.get('detector_config'))
    if tracks_plain_detector and not args.data_root:
        raise ValueError(f'{args.config} is a plain detector config, with no '
                         'videos to test on: pass --data-root DIR (a '
                         'YouTube-VIS-layout directory)')
    if args.data_root:
        apply_data_root(cfg, args.data_root, train=False,
                        test_split=args.split)
    # the model's classes, matched to the data's before any inference
    trained, weights_count, plain = read_checkpoint_info(args.checkpoint)
    if plain and not tracks_plain_detector:
        raise ValueError(plain_checkpoint_error(args.checkpoint, args.config))
    if tracks_plain_detector:
        print_log(f'{args.config}: a plain detector, tracked without '
                  f'training by {cfg.model.tracker.type}', 'current')
    classes, source = resolve_model_classes(
        trained, weights_count, configured, checkpoint=args.checkpoint,
        config_name=args.config)
    print_log(f'model classes ({len(classes)}, from {source}): '
              f'{", ".join(classes)}', 'current')
    apply_model_classes(cfg, classes, class_map=args.class_map,
                        evaluators=('test', ))
    cfg.load_from = args.checkpoint
    cfg.resume = False
    cfg.test_evaluator['output_dir'] = cfg.work_dir
    cfg.test_evaluator['metric'] = list(metrics)
    cfg.test_evaluator['track_score_thr'] = args.track_score_thr
    cfg.test_evaluator['per_class'] = True  # nested, for metrics.json
    if args.format_only:
        cfg.test_evaluator['format_only'] = True
    if args.show_videos or args.show_dir:
        hook = cfg.default_hooks.setdefault(
            'visualization', dict(type='VideoVisualizationHook'))
        hook['num_videos'] = args.show_videos or 2
        if args.show_dir:
            hook['out_dir'] = args.show_dir
    return cfg


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = build_config(args)
    except (ClassMismatchError, FileNotFoundError, ValueError) as err:
        raise SystemExit(f'error: {err}') from None
    runner = Runner.from_cfg(cfg)
    try:  # before any inference: a checkpoint of another architecture
        check_checkpoint_fits(runner.model, args.checkpoint)
    except ValueError as err:
        raise SystemExit(f'error: {err}') from None
    metrics = runner.test()
    stats = {k.split('/')[-1]: v for k, v in (metrics or {}).items()}
    per_class = stats.pop(PER_CLASS_KEY, None)
    if per_class is not None:  # nested, last in metrics.json
        stats[PER_CLASS_KEY] = per_class
    if runner.rank == 0 and stats:
        path = osp.join(cfg.work_dir, 'metrics.json')
        write_text_atomic(path, json.dumps(stats, indent=2) + '\n')
        print(format_metrics_table({k: v for k, v in stats.items()
                                    if k != PER_CLASS_KEY}))
        if per_class is not None:
            print()
            print(format_per_class_table(per_class))
        print(f'metrics written to {path}')
    close_distributed()
    return stats


if __name__ == '__main__':
    run_tool(main)
