"""Convert a COCO instance-segmentation set (still images) to YouTube-VIS.

Every image becomes a one-frame video; COCO's category ids and names are
kept, polygons and RLE kept exactly, crowd annotations kept with
``iscrowd=1``. The train pipeline warps a one-frame video's reference frame
on its own (``KeyFrameReferenceWarp``), so the result trains the tracker
too.

Example::

    python tools/dataset_converters/coco2ytvis.py \\
        data/coco/annotations/instances_train2017.json \\
        data/coco/train2017 data/coco_ytvis --link symlink \\
        --valid-fraction 0.02
    python tools/train.py configs/masktrack_r50.py --data-root data/coco_ytvis

The summary lists videos (= images), instances per class and what was
skipped (annotations without a usable segmentation, polygon parts with
fewer than 3 points; with ``--skip-empty`` the images without annotations).
"""
import argparse
import importlib.util
import os
import sys

if importlib.util.find_spec('vis') is None:  # run from a checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
from vis.datasets.converters import cli  # noqa: E402
from vis.datasets.converters.coco import read_coco  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a COCO instance-segmentation json + image folder '
        'to a YouTube-VIS 2019 data root of one-frame videos.')
    parser.add_argument('coco_json', metavar='COCO_JSON',
                        help='COCO instances json')
    parser.add_argument('image_dir', metavar='IMAGE_DIR',
                        help="folder the images' file_name is relative to")
    cli.add_output_arguments(parser)
    parser.add_argument(
        '--skip-empty', action='store_true',
        help='leave out images without annotations (default: keep them as '
        'videos without instances, i.e. background examples)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return cli.run(
        args, lambda: read_coco(args.coco_json, args.image_dir,
                                skip_empty=args.skip_empty,
                                progress=args.progress),
        sources=[args.coco_json, args.image_dir])


if __name__ == '__main__':
    sys.exit(main())
