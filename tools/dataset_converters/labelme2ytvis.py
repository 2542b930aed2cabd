"""Convert labelme annotations of video frames to a YouTube-VIS 2019 data root.

    python tools/dataset_converters/labelme2ytvis.py SRC OUT_ROOT \\
        [--categories NAMES|FILE] [--valid-fraction F] [--seed S] \\
        [--link copy|hardlink|symlink] [--overwrite] [--no-progress] \\
        [--no-check]

SRC holds one folder per video, with the frames and, for each annotated
frame, a labelme json of the same stem::

    SRC/bear/00000.jpg  SRC/bear/00000.json
    SRC/bear/00005.jpg  SRC/bear/00005.json
    SRC/bear/00010.jpg                        (no json: left out, counted)

Only frames with a json become frames of the video (natural order of the
stem). One instance per (label, group_id) in a video; the shapes of one
instance in one frame are merged. Polygon, rectangle, circle and mask shapes
are rasterised (polygons as COCO does, with pycocotools); lines and points
are not areas and are skipped. See vis/datasets/converters/labelme.py.

Worked example: two labelled videos, the category ids fixed, a quarter of
the videos held out as valid, then train on the result::

    python tools/dataset_converters/labelme2ytvis.py data/labelme_raw \\
        data/my_vis --categories person,dog,cat --valid-fraction 0.25
    # data/my_vis/train.json, data/my_vis/train/JPEGImages/<video>/...,
    # data/my_vis/valid.json, data/my_vis/valid/..., data/my_vis/categories.txt
    python tools/check_dataset.py data/my_vis
    python tools/train.py configs/ci_tiny.py --data-root data/my_vis

Exit status: 0 on success, 2 on bad input (``error: ...`` on stderr naming
the file and shape); nothing is written on error.
"""
import argparse
import importlib.util
import os
import sys

if importlib.util.find_spec('vis') is None:  # run from a checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
from vis.datasets.converters import cli  # noqa: E402
from vis.datasets.converters.labelme import read_labelme  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Convert labelme jsons (SRC/<video>/<frame>.json next to '
        'the frames) to a YouTube-VIS 2019 data root.',
        epilog='Example: labelme2ytvis.py data/labelme_raw data/my_vis '
        '--categories person,dog --valid-fraction 0.25 (see the module doc '
        'of tools/dataset_converters/labelme2ytvis.py)')
    parser.add_argument(
        'src', metavar='SRC',
        help='folder with one subfolder per video holding its frames '
        '(jpg/jpeg/png/bmp) and a labelme json per annotated frame')
    cli.add_output_arguments(parser)
    cli.add_category_order_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the conversion; return the exit status."""
    args = parse_args(argv)
    return cli.run(args, lambda: read_labelme(args.src,
                                              progress=args.progress),
                   sources=[args.src])


if __name__ == '__main__':
    sys.exit(main())
