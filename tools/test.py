"""Test a video instance segmentation model: YouTube-VIS AP or a submission.

    python tools/test.py CONFIG CHECKPOINT [--data-root DIR] [--format-only]

With annotations in the split, prints AP, AP50, AP75, AR1 and AR10 and writes
them to WORK_DIR/metrics.json; always writes WORK_DIR/results.json and
WORK_DIR/results.zip (the file the YouTube-VIS evaluation server takes).
"""
import argparse
import json
import os
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import vis  # noqa: E402,F401  (registers the project's modules)
from vis.compat import set_checkpoint_trust  # noqa: E402
from vis.config_utils import apply_data_root  # noqa: E402
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
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow full (code-running) unpickling of a '
                        'checkpoint that is not plain weights')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        apply_data_root(cfg, args.data_root, train=False,
                        test_split=args.split)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    cfg.test_evaluator['output_dir'] = cfg.work_dir
    if args.format_only:
        cfg.test_evaluator['format_only'] = True
    if cfg.launcher != 'none' and cfg.get('env_cfg'):
        import torch
        if not torch.cuda.is_available():
            cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if args.trust_checkpoint:
        set_checkpoint_trust(True)
    cfg = build_config(args)
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
    return stats


if __name__ == '__main__':
    main()
