"""Split a YouTube-VIS train json by video into a local train/valid pair.

The official YouTube-VIS valid split has no annotations; this tool holds out
a fraction of the *train* videos, with their annotations, as a local
validation set.  It writes a data root in the 2019 layout::

    OUT/train.json
    OUT/valid.json
    OUT/train/JPEGImages/<video> -> IMG_DIR/<video>   (with --img-dir)
    OUT/valid/JPEGImages/<video> -> IMG_DIR/<video>   (with --img-dir)

Example::

    python tools/split_ytvis.py --ann data/ytvis2019/train.json \\
        --img-dir data/ytvis2019/train/JPEGImages \\
        --out-dir data/ytvis2019_local --fraction 0.1 --seed 0
    # then train/evaluate with --data-root data/ytvis2019_local
"""

import argparse
import importlib.util
import os
import sys

if importlib.util.find_spec('vis') is None:  # run from a checkout, not installed
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from vis.datasets import split as vis_split  # noqa: E402

PARTS = ('train', 'valid')


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Split a YouTube-VIS train json BY VIDEO into '
        'OUT/train.json and OUT/valid.json; the held-out (valid) part keeps '
        'its annotations, giving a local validation set.')
    parser.add_argument(
        '--ann', required=True,
        help='YouTube-VIS json to split (e.g. DIR/train.json or '
        'DIR/train/instances.json)')
    parser.add_argument(
        '--out-dir', required=True,
        help='output data root; receives train.json and valid.json '
        '(created if missing, existing jsons are replaced)')
    parser.add_argument(
        '--fraction', type=float, default=0.1,
        help='fraction of the videos to hold out, in (0, 1); at least one '
        'video is held out and at least one kept (default: %(default)s)')
    parser.add_argument(
        '--seed', type=int, default=0,
        help='random seed; the same seed gives the same split '
        '(default: %(default)s)')
    parser.add_argument(
        '--img-dir',
        help='JPEGImages folder of --ann (holding one folder per video); if '
        'given, OUT/train/JPEGImages and OUT/valid/JPEGImages are created '
        'with one entry per video so that OUT is a complete data root')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        '--link', dest='copy', action='store_false',
        help='with --img-dir: symlink each video folder (the default)')
    mode.add_argument(
        '--copy', dest='copy', action='store_true',
        help='with --img-dir: copy each video folder instead of symlinking')
    parser.set_defaults(copy=False)
    return parser.parse_args(argv)


def check_fraction(fraction: float) -> None:
    """Validate --fraction before loading a (possibly huge) json."""
    try:
        vis_split.check_fraction(fraction)
    except ValueError as err:
        raise ValueError(f'--fraction: {err}') from err


def check_paths(args: argparse.Namespace) -> None:
    """Refuse outputs that would overwrite the input json or image folder."""
    ann = os.path.realpath(args.ann)
    for part in PARTS:
        out_json = os.path.realpath(os.path.join(args.out_dir, f'{part}.json'))
        if out_json == ann:
            raise ValueError(
                f'--out-dir {args.out_dir} would overwrite the input '
                f'{args.ann}; choose another --out-dir')
    if args.img_dir is not None and not os.path.isdir(args.img_dir):
        raise FileNotFoundError(f'--img-dir not found: {args.img_dir}')


def write_images(ann: dict, parts: dict, args: argparse.Namespace) -> dict:
    """Create OUT/<part>/JPEGImages for each part; return ``{part: n_folders}``.

    Every source frame folder is checked before anything is written.
    """
    try:
        by_video = vis_split.frame_folders_by_video(ann['videos'], args.img_dir)
    except (ValueError, FileNotFoundError) as err:
        raise type(err)(f'{args.ann}: {err}') from err
    counts = {}
    for part, part_ann in parts.items():
        folders = vis_split.folders_of(part_ann['videos'], by_video)
        vis_split.populate_image_dir(
            folders, args.img_dir,
            os.path.join(args.out_dir, part, 'JPEGImages'), copy=args.copy)
        counts[part] = len(folders)
    return counts


def print_summary(args, ann, parts, image_counts) -> None:
    """Print videos/annotations per part and where they were written."""
    total = vis_split.count_annotations(ann)
    print(f"{args.ann}: {total['videos']} videos, {total['annotations']} "
          f'annotations; fraction={args.fraction} seed={args.seed}')
    for part, part_ann in parts.items():
        counts = vis_split.count_annotations(part_ann)
        line = (f"  {part:5s}: {counts['videos']:6d} videos "
                f"{counts['annotations']:7d} annotations -> "
                f"{os.path.join(args.out_dir, part + '.json')}")
        if part in image_counts:
            kind = 'copied' if args.copy else 'linked'
            line += (f"; {image_counts[part]} video folders {kind} in "
                     f"{os.path.join(args.out_dir, part, 'JPEGImages')}")
        print(line)


def main(argv=None) -> int:
    """Run the tool; return the process exit status."""
    args = parse_args(argv)
    try:
        check_fraction(args.fraction)
        check_paths(args)
        ann = vis_split.load_json(args.ann)
        try:
            train_ann, valid_ann = vis_split.split_by_video(
                ann, args.fraction, args.seed)
        except ValueError as err:
            raise ValueError(f'{args.ann}: {err}') from err
        if not valid_ann['annotations']:
            print(f"warning: {args.ann} has no 'annotations'; the held-out "
                  f'part has none either', file=sys.stderr)
        parts = {'train': train_ann, 'valid': valid_ann}
        os.makedirs(args.out_dir, exist_ok=True)
        image_counts = {}
        if args.img_dir is not None:
            image_counts = write_images(ann, parts, args)
        for part, part_ann in parts.items():
            vis_split.write_json_atomic(
                part_ann, os.path.join(args.out_dir, f'{part}.json'))
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print_summary(args, ann, parts, image_counts)
    return 0


if __name__ == '__main__':
    sys.exit(main())
