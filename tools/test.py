"""Test a video instance segmentation model: YouTube-VIS AP or a submission.

    python tools/test.py CONFIG CHECKPOINT [--data-root DIR] [--format-only]

With annotations in the split, prints AP, AP50, AP75, AR1 and AR10 and writes
them to WORK_DIR/metrics.json; always writes WORK_DIR/results.json and
WORK_DIR/results.zip (the file the YouTube-VIS evaluation server takes).
"""
import argparse
import json
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import vis  # noqa: E402,F401  (registers the project's modules)
from vis.config_utils import (add_common_arguments,  # noqa: E402
                              apply_data_root, close_distributed, run_tool,
                              load_tool_config)
from vis.evaluation import STAT_NAMES, format_stats_table  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('config', help='test config file')
    parser.add_argument('checkpoint', help='checkpoint file or URL')
    parser.add_argument('--data-root', help='a YouTube-VIS-layout directory; '
                        'its --split is tested')
    parser.add_argument('--split', default='valid', choices=['valid', 'test'],
                        help='split of --data-root to run on')
    parser.add_argument('--work-dir', help='where metrics.json and '
                        'results.json/zip go (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--format-only', action='store_true',
                        help='only write results.json and results.zip')
    parser.add_argument('--show-videos', type=int, metavar='N',
                        help='draw the predictions of the first N videos '
                        '(PNG frames + MP4) into --show-dir')
    parser.add_argument('--show-dir', help='where --show-videos draws, in '
                        'DIR/test/<video>/ (default: WORK_DIR/vis)')
    add_common_arguments(parser)
    return parser.parse_args(argv)


def build_config(args) -> Config:
    cfg = load_tool_config(args)
    if args.data_root:
        apply_data_root(cfg, args.data_root, train=False,
                        test_split=args.split)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    cfg.test_evaluator['output_dir'] = cfg.work_dir
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
    cfg = build_config(parse_args(argv))
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    stats = {k.split('/')[-1]: v for k, v in (metrics or {}).items()}
    if runner.rank == 0 and stats:
        path = osp.join(cfg.work_dir, 'metrics.json')
        with open(path, 'w') as f:
            json.dump({k: stats[k] for k in STAT_NAMES if k in stats}, f,
                      indent=2)
        print(format_stats_table(stats))
        print(f'metrics written to {path}')
    close_distributed()
    return stats


if __name__ == '__main__':
    run_tool(main)
