"""Generate synthetic videos in the exact YouTube-VIS layout.

    python tools/dataset_converters/make_synthetic_ytvis.py --out data/synthetic_ytvis
    python tools/dataset_converters/make_synthetic_ytvis.py --out data/hard_s1 \\
        --preset hard --seed 1

writes OUT/train.json + OUT/train/JPEGImages/... and a held-out, annotated
OUT/valid.json + OUT/valid/JPEGImages/... (or the 2021 layout with
--layout 2021, or OVIS's with --layout ovis). Use OUT with --data-root
of tools/train.py and tools/test.py.

--preset default (the quickstart data) or hard (small objects, colours
varying widely within a category, textured noisy backgrounds or plain ones,
some clutter, moving occluders that leave fragments, objects entering and
leaving, 6-12 frame videos with larger motion); each style option below
overrides the preset's value
(vis/datasets/synthetic_style.py).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vis.datasets.synthetic import (CATEGORIES, SEG_FORMATS,  # noqa: E402
                                    make_synthetic_ytvis)
from vis.datasets.synthetic_style import PRESETS, preset_style  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('--out', required=True, help='output data root')
    parser.add_argument('--train-videos', type=int, default=48)
    parser.add_argument('--valid-videos', type=int, default=12)
    parser.add_argument('--frames', type=int, default=12,
                        help='frames per video (the longest, with '
                        '--min-frames)')
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
    style = parser.add_argument_group(
        'style', 'how the videos look; unset options keep the preset\'s')
    style.add_argument('--preset', choices=sorted(PRESETS), default='default')
    style.add_argument('--radius-range', type=float, nargs=2,
                       metavar=('LOW', 'HIGH'),
                       help='object radius at its first frame, as fractions '
                       'of the short side (default 0.09 0.2; hard 0.025 '
                       '0.19)')
    style.add_argument('--colour-mode', choices=['class', 'instance'],
                       help='class: one colour family per category; '
                       'instance: a random colour per object')
    style.add_argument('--colour-jitter', type=float,
                       help='+- spread of an object\'s colour around its '
                       'category colour (colour mode class)')
    style.add_argument('--background-range', type=float, nargs=2,
                       metavar=('LOW', 'HIGH'),
                       help='range of the coarse background colours, 0-255')
    style.add_argument('--plain-background-prob', type=float,
                       help='share of videos on a flat background colour')
    style.add_argument('--texture', type=float, dest='stripe_amplitude',
                       help='amplitude of the background texture')
    style.add_argument('--grain', type=float, dest='grain_sigma',
                       help='static background noise sigma')
    style.add_argument('--frame-noise', type=float, dest='frame_noise_sigma',
                       help='per-frame noise sigma')
    style.add_argument('--clutter', type=int, nargs=2, metavar=('LOW', 'HIGH'),
                       help='static distractor strokes/ellipses per video')
    style.add_argument('--occluders', type=int, nargs=2,
                       metavar=('LOW', 'HIGH'),
                       help='moving bars per video drawn over the objects '
                       '(their masks keep the visible fragments)')
    style.add_argument('--enter-prob', type=float,
                       help='probability that an object enters late')
    style.add_argument('--leave-prob', type=float,
                       help='probability that an object leaves early')
    style.add_argument('--min-frames', type=int,
                       help='video lengths drawn from MIN..--frames')
    style.add_argument('--frame-step', type=int,
                       help='file-name step between annotated frames and '
                       'the motion between them (YouTube-VIS: 5)')
    return parser.parse_args(argv)


def style_from_args(args):
    """The SceneStyle that ``args`` asks for (a ValueError names the bad
    option)."""
    overrides = dict(
        radius_range=tuple(args.radius_range) if args.radius_range else None,
        class_colours=None if args.colour_mode is None
        else args.colour_mode == 'class',
        colour_jitter=args.colour_jitter,
        background_range=tuple(args.background_range)
        if args.background_range else None,
        plain_background_prob=args.plain_background_prob,
        stripe_amplitude=args.stripe_amplitude,
        grain_sigma=args.grain_sigma,
        frame_noise_sigma=args.frame_noise_sigma,
        clutter=tuple(args.clutter) if args.clutter else None,
        occluders=tuple(args.occluders) if args.occluders else None,
        enter_prob=args.enter_prob, leave_prob=args.leave_prob,
        min_frames=args.min_frames, frame_step=args.frame_step)
    return preset_style(args.preset, **overrides)


def main(argv=None):
    args = parse_args(argv)
    try:
        style = style_from_args(args)
    except ValueError as err:
        raise SystemExit(f'error: {err}') from None
    paths = make_synthetic_ytvis(
        args.out, num_train=args.train_videos, num_valid=args.valid_videos,
        num_frames=args.frames, height=args.height, width=args.width,
        seed=args.seed, max_objects=args.max_objects,
        num_categories=args.categories, seg_format=args.seg_format,
        layout=args.layout, corrupt_prob=args.corrupt_prob, progress=True,
        style=style)
    for split, path in paths.items():
        print(f'{split}: {path}')


if __name__ == '__main__':
    main()
