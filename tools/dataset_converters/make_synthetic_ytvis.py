"""Generate synthetic videos in the exact YouTube-VIS layout.

    python tools/dataset_converters/make_synthetic_ytvis.py --out data/synthetic_ytvis

writes OUT/train.json + OUT/train/JPEGImages/... and a held-out, annotated
OUT/valid.json + OUT/valid/JPEGImages/... (or the 2021 layout with
--layout 2021, or OVIS's with --layout ovis). Use OUT with --data-root
of tools/train.py and tools/test.py.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vis.datasets.synthetic import (CATEGORIES, SEG_FORMATS,  # noqa: E402
                                    make_synthetic_ytvis)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('--out', required=True, help='output data root')
    parser.add_argument('--train-videos', type=int, default=48)
    parser.add_argument('--valid-videos', type=int, default=12)
    parser.add_argument('--frames', type=int, default=12,
                        help='frames per video')
    parser.add_argument('--width', type=int, default=320)
    parser.add_argument('--height', type=int, default=192)
    parser.add_argument('--max-objects', type=int, default=3,
                        help='objects per video: 1..N')
    parser.add_argument('--categories', type=int, default=len(CATEGORIES),
                        help=f'number of categories, 1..{len(CATEGORIES)}')
    parser.add_argument('--seg-format', choices=SEG_FORMATS, default='rle',
                        help='rle: uncompressed RLE as in the official train '
                        'json; compressed_rle; polygon')
    parser.add_argument('--layout', choices=['2019', '2021', 'ovis'],
                        default='2019')
    parser.add_argument('--corrupt-prob', type=float, default=0.0,
                        help='probability that a frame is degraded (strong '
                        'blur, noise or occluding patches; annotations kept)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    paths = make_synthetic_ytvis(
        args.out, num_train=args.train_videos, num_valid=args.valid_videos,
        num_frames=args.frames, height=args.height, width=args.width,
        seed=args.seed, max_objects=args.max_objects,
        num_categories=args.categories, seg_format=args.seg_format,
        layout=args.layout, corrupt_prob=args.corrupt_prob, progress=True)
    for split, path in paths.items():
        print(f'{split}: {path}')


if __name__ == '__main__':
    main()
