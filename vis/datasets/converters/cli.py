"""What the three converter command lines share: the output options, the
order of work (check OUT_ROOT, read, write, check, print the summary) and
the error handling. ``tools/dataset_converters/*2ytvis.py`` add their own
input arguments and a reader call."""
import argparse
import sys
from typing import Callable, Iterable, List, Optional, Sequence

from .writer import (LINK_MODES, ConversionError, check_out_root,
                     format_summary, parse_category_names, write_conversion)


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``OUT_ROOT`` (positional, after the inputs) and the options every
    converter takes."""
    parser.add_argument(
        'out_root', metavar='OUT_ROOT',
        help='data root to write (YouTube-VIS 2019 layout: train.json, '
        'train/JPEGImages/<video>/, categories.txt, and valid.json + valid/ '
        'with --valid-fraction); must be empty or absent unless --overwrite')
    parser.add_argument(
        '--valid-fraction', type=float, default=0.0, metavar='F',
        help='hold out this fraction of whole videos as the valid split '
        '(at least one video when F > 0; default: no valid split)')
    parser.add_argument(
        '--seed', type=int, default=0,
        help='seed of the --valid-fraction choice (default: %(default)s)')
    parser.add_argument(
        '--link', choices=LINK_MODES, default='copy',
        help='how frame files get into OUT_ROOT: copied byte for byte '
        '(default), hard links (same file system) or absolute symlinks')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='replace a non-empty OUT_ROOT (only once the new one is fully '
        'written)')
    parser.add_argument(
        '--no-progress', dest='progress', action='store_false',
        help='no progress bars')
    parser.add_argument(
        '--no-check', dest='check', action='store_false',
        help='skip checking the written data root the way '
        'tools/check_dataset.py does')


def add_category_order_argument(parser: argparse.ArgumentParser) -> None:
    """``--categories``: the category order (ids 1..N)."""
    parser.add_argument(
        '--categories', metavar='NAMES|FILE',
        help='category names in id order (ids 1..N): a comma list, or a '
        'file with one name per line (e.g. the categories.txt of an earlier '
        'conversion); a label not in it is an error. Default: the sorted '
        'union of the labels found')


def check_written(out_root: str, splits: Sequence[str],
                  progress: bool) -> None:
    """Run the dataset checks of ``tools/check_dataset.py`` on a written
    (staged) data root; raise ConversionError on any problem."""
    import os.path as osp

    from ..checks import check_annotations, format_problems, load_json
    for split in splits:
        ann_file = osp.join(out_root, f'{split}.json')
        report = check_annotations(
            load_json(ann_file), ann_file,
            img_dir=osp.join(out_root, split, 'JPEGImages'),
            frames='header', progress=progress,
            progress_desc=f'checking {split} frames')
        if report.problems:
            raise ConversionError(
                f'the converted {split}.json fails the dataset checks '
                f'(nothing was written):\n' + format_problems(report.problems))


def run(args: argparse.Namespace, read: Callable[[], dict],
        sources: Iterable[str] = (),
        category_names: Optional[List[str]] = None) -> int:
    """Check OUT_ROOT, call ``read()`` for the conversion, write it, check
    it and print the summary. Returns the exit status (0 ok, 2 bad input);
    errors go to stderr as ``error: <message>``."""
    try:
        check_out_root(args.out_root, args.overwrite, sources)
        if category_names is None and getattr(args, 'categories', None) \
                and not getattr(args, 'categories_is_mapping', False):
            category_names = parse_category_names(args.categories)
        conversion = read()
        summary = write_conversion(
            conversion, args.out_root, category_names=category_names,
            valid_fraction=args.valid_fraction, seed=args.seed,
            link=args.link, overwrite=args.overwrite,
            progress=args.progress,
            check=(lambda root, splits: check_written(root, splits,
                                                      args.progress))
            if args.check else None)
    except (ConversionError, OSError) as err:  # OSError: unreadable, full disk..
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(format_summary(summary))
    return 0
