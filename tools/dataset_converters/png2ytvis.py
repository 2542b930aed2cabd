"""Convert PNG instance masks (DAVIS / YouTube-VOS, or MOTS) to YouTube-VIS.

    python tools/dataset_converters/png2ytvis.py SRC OUT_ROOT \\
        [--format davis|mots] [--categories FILE | --category NAME] \\
        [--resolution 480p|Full-Resolution] [--category-order NAMES|FILE] \\
        [--valid-fraction F] [--seed S] [--link copy|hardlink|symlink] \\
        [--overwrite] [--no-progress] [--no-check]

``--format davis`` (default) reads ``SRC/JPEGImages[/480p]/<video>/*.jpg``
and the palette / 8-bit index PNGs ``SRC/Annotations[/480p]/<video>/*.png``
(value = instance index, 0 background, 255 void; DAVIS 2016 0/255 binary
masks are one object). PNGs hold no category names: give ``--categories
FILE`` (json ``{video: {"<index>": "<name>"}}`` or a YouTube-VOS
``meta.json``) or ``--category NAME`` for all instances.

``--format mots`` reads a CVAT/Datumaro "MOTS PNG" export
(``SRC/<subset>/images/*.jpg``, ``SRC/<subset>/instances/*.png`` 16-bit
``class_id * 1000 + instance_id``, ``instances/labels.txt``; a subset is a
video) or KITTI-MOTS (``SRC/instances/<seq>/*.png``,
``SRC/image_02/<seq>/*.png``; car / pedestrian, 10000 ignored).

Category ids are 1..N of the sorted names unless ``--category-order`` gives
the order. Example::

    # DAVIS 2017 trainval, one category for every object, 10% held out:
    python tools/dataset_converters/png2ytvis.py data/DAVIS data/davis_vis \\
        --category object --valid-fraction 0.1
    # YouTube-VOS train with its meta.json names:
    python tools/dataset_converters/png2ytvis.py data/ytvos/train \\
        data/ytvos_vis --categories data/ytvos/train/meta.json
    # a CVAT "MOTS PNG" export (unzipped):
    python tools/dataset_converters/png2ytvis.py task_mots data/mots_vis \\
        --format mots
    # then: python tools/check_dataset.py data/davis_vis, and train with
    # --data-root data/davis_vis

Exit status: 0 when written, 2 on bad input (``error: ...`` on stderr;
nothing is written then).
"""
import argparse
import importlib.util
import os
import sys

if importlib.util.find_spec('vis') is None:  # run from a checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
from vis.datasets.converters import cli  # noqa: E402
from vis.datasets.converters.davis import (RESOLUTIONS,  # noqa: E402
                                           load_davis_categories, read_davis)
from vis.datasets.converters.mots import read_mots  # noqa: E402
from vis.datasets.converters.writer import (ConversionError,  # noqa: E402
                                            parse_category_names)

FORMATS = ('davis', 'mots')


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Convert PNG instance masks (DAVIS / YouTube-VOS index '
        'PNGs, or CVAT/Datumaro/KITTI MOTS PNGs) to a YouTube-VIS 2019 data '
        'root.', epilog='See the module docstring of this script for the '
        'layouts read and worked examples.')
    parser.add_argument(
        'src', metavar='SRC',
        help='davis: the folder holding JPEGImages/ and Annotations/; mots: '
        'the export folder (holding <subset>/instances/), one subset, or a '
        'KITTI-MOTS folder (holding instances/ and image_02/)')
    cli.add_output_arguments(parser)
    parser.add_argument(
        '--format', choices=FORMATS, default='davis',
        help='davis (default): palette/8-bit index PNGs; mots: 16-bit '
        'class_id * 1000 + instance_id PNGs')
    names = parser.add_mutually_exclusive_group()
    names.add_argument(
        '--categories', metavar='FILE',
        help='davis: json mapping {video: {"<instance index>": "<category '
        'name>"}} or a YouTube-VOS meta.json (detected); an instance index '
        'without a name is an error. This is a mapping, not the id order '
        '(see --category-order)')
    names.add_argument(
        '--category', metavar='NAME',
        help='davis: give every instance this category (e.g. object)')
    parser.add_argument(
        '--resolution', choices=RESOLUTIONS,
        help='davis: the DAVIS resolution level to read (default: 480p when '
        'SRC/Annotations/480p exists, else Full-Resolution when it exists, '
        'else none, as in YouTube-VOS)')
    parser.add_argument(
        '--category-order', metavar='NAMES|FILE',
        help='category names in id order (ids 1..N): a comma list or a file '
        'with one name per line; default: the sorted names found')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the converter; return the exit status (0 ok, 2 bad input)."""
    args = parse_args(argv)
    args.categories_is_mapping = True  # --categories is not the id order
    try:
        category_names = parse_category_names(args.category_order) \
            if args.category_order else None
        if args.format == 'mots':
            given = [opt for opt, value in (
                ('--categories', args.categories),
                ('--category', args.category),
                ('--resolution', args.resolution)) if value is not None]
            if given:
                raise ConversionError(
                    f'{", ".join(given)}: only for --format davis; MOTS '
                    f'names its classes in instances/labels.txt')
    except ConversionError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    if args.format == 'mots':
        def read():
            return read_mots(args.src, progress=args.progress)
    else:
        def read():
            categories = load_davis_categories(args.categories) \
                if args.categories else None
            return read_davis(args.src, categories=categories,
                              category=args.category,
                              resolution=args.resolution,
                              progress=args.progress)
    return cli.run(args, read, sources=[args.src],
                   category_names=category_names)


if __name__ == '__main__':
    sys.exit(main())
