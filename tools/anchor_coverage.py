"""How well a config's RPN anchors fit a data set's objects.

    python tools/anchor_coverage.py CONFIG --data-root DIR [--split train]

For every annotated box of the split, resized as the config's pipeline
resizes frames, the best IoU any anchor reaches. A box whose best anchor is
under the RPN assigner's min_pos_iou (0.3 in the shipped configs) has no
positive anchor: the RPN cannot learn to propose it. Prints a table per
category; --json FILE also writes it.
"""
import argparse
import json
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from mmengine.config import Config  # noqa: E402

import vis  # noqa: E402,F401  (registers the project's modules)
from vis.apis.anchor_coverage import (anchor_coverage,  # noqa: E402
                                      format_coverage_table)
from vis.config_utils import run_tool  # noqa: E402
from vis.datasets.layout import find_split  # noqa: E402
from vis.engine import write_text_atomic  # noqa: E402


def _train_scale(cfg: Config):
    """The (long, short) resize of the train pipeline's frames."""
    for step in cfg.train_dataloader.dataset.pipeline:
        for t in [step] + list(step.get('transforms', [])):
            if t.get('type') in ('Resize', 'RandomResize') and 'scale' in t:
                return tuple(t['scale'])
    raise ValueError('no Resize/RandomResize with a scale in the config\'s '
                     'train pipeline: pass --img-scale LONG SHORT')


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.strip().split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--data-root', required=True,
                        help='a YouTube-VIS-layout directory')
    parser.add_argument('--split', default='train',
                        choices=['train', 'valid', 'test'])
    parser.add_argument('--img-scale', type=int, nargs=2,
                        metavar=('LONG', 'SHORT'),
                        help='resize bounds (default: the train pipeline\'s)')
    parser.add_argument('--json', metavar='FILE', help='also write the table '
                        'as json')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    info = find_split(args.data_root, args.split)
    with open(info['ann_file']) as f:
        gt = json.load(f)
    detector = cfg.model.get('detector', cfg.model)
    scale = tuple(args.img_scale) if args.img_scale else _train_scale(cfg)
    pad = (detector.get('data_preprocessor') or cfg.model.get(
        'data_preprocessor') or {}).get('pad_size_divisor', 32)
    report = anchor_coverage(gt, detector.rpn_head.anchor_generator,
                             img_scale=scale, pad_size_divisor=pad)
    print(format_coverage_table(
        report, title=f'{info["ann_file"]} at {scale[0]}x{scale[1]}, '
        f'anchors of {args.config}'))
    if args.json:
        write_text_atomic(args.json, json.dumps(report, indent=2) + '\n')
    return report


if __name__ == '__main__':
    run_tool(main)
