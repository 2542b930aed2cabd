"""Check a YouTube-VIS data root (or one json) for problems before training.

    python tools/check_dataset.py DIR [--split train valid test] \\
        [--no-frames | --header-only] [--max-problems N]
    python tools/check_dataset.py FILE.json [--img-dir JPEGIMAGES_DIR] [...]

DIR is a data root in the YouTube-VIS 2019/2021/2022 or OVIS layout (see vis/datasets/layout.py):
every split found in it (train, valid, test; or those named by --split) is
checked. A json file is checked alone; with --img-dir its frame files are
checked too.

The checks are those run when ``YouTubeVISJsonDataset`` loads
(vis/datasets/checks.py): missing json keys, segmentation/bbox/area lists
whose length is not the video's, RLE sizes other than the frame size, boxes
outside the frame (1 px tolerance), null boxes on non-null masks and the
reverse, unknown category ids, empty videos, duplicate video/annotation
ids; plus, unless --no-frames, every frame file: it exists and decodes as an
image of the json's width x height (--header-only reads the image headers
only, much faster). Each problem names the json, the video (id and frame
folder), the annotation, the frame and the field.

Prints a summary per split (videos, annotations, frames checked) and the
problems (the first --max-problems of each split).

Exit status: 0 when every split is clean, 1 when a problem was found, 2 when
the input is unusable (no such path, no split found, a json that is not a
json object).
"""
import argparse
import importlib.util
import os
import sys

if importlib.util.find_spec('vis') is None:  # run from a checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
from vis.datasets import checks  # noqa: E402
from vis.datasets.layout import (SPLITS, locate_split,  # noqa: E402
                                 split_candidates)

#: Exit statuses.
CLEAN, PROBLEMS, UNUSABLE = 0, 1, 2


class UnusableInput(Exception):
    """The input cannot be checked at all (exit status 2)."""


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Check a YouTube-VIS data root (every split) or one '
        'json for problems: exit 0 when clean, 1 with the problems listed, '
        '2 when the input is unusable.')
    parser.add_argument(
        'path', metavar='DIR_OR_JSON',
        help='data root in the YouTube-VIS 2019/2021/2022 or OVIS layout, '
        'or one YouTube-VIS json')
    parser.add_argument(
        '--split', nargs='+', choices=SPLITS,
        help='with DIR: the splits to check; each must exist (default: '
        'every split found)')
    parser.add_argument(
        '--img-dir',
        help='with a json: the JPEGImages folder its file_names are '
        'relative to (default: do not check frame files)')
    frames = parser.add_mutually_exclusive_group()
    frames.add_argument(
        '--no-frames', action='store_true',
        help='check the json only, not the frame files')
    frames.add_argument(
        '--header-only', action='store_true',
        help='check that each frame file opens with the right size, without '
        'decoding it (much faster than the default full decode)')
    parser.add_argument(
        '--max-problems', type=int, default=50, metavar='N',
        help='print at most N problems per split, 0 for all '
        '(default: %(default)s)')
    parser.add_argument(
        '--no-progress', action='store_true',
        help='no progress bar on the frame checks')
    return parser.parse_args(argv)


def find_jobs(args: argparse.Namespace) -> list:
    """Return ``[(name, ann_file, img_dir or None, problems), ...]``; the
    problems are split-level (an image folder that is missing)."""
    path = args.path
    if not os.path.exists(path):
        raise UnusableInput(f'{path}: no such file or directory')
    if os.path.isfile(path):
        if args.split:
            raise UnusableInput('--split applies to a data root, not to a '
                                'json file')
        if args.img_dir is not None and not os.path.isdir(args.img_dir):
            raise UnusableInput(f'--img-dir {args.img_dir}: no such folder')
        return [(os.path.basename(path), path, args.img_dir, [])]
    if args.img_dir is not None:
        raise UnusableInput('--img-dir applies to a json file; a data root '
                            'has a JPEGImages folder per split')
    jobs = []
    for split in args.split or SPLITS:
        candidate, img_dir = locate_split(path, split)
        if candidate is None:
            if args.split:
                tried = '\n'.join(f'  {c.ann_file}' for c in
                                  split_candidates(path, split))
                raise UnusableInput(f'{path}: no annotation file for split '
                                    f'{split!r}; tried:\n{tried}')
            continue
        problems = []
        if img_dir is None and not args.no_frames:
            tried = ', '.join(candidate.img_dirs)
            problems.append(checks.Problem(
                candidate.ann_file, f'image folder not found (tried {tried}); '
                'use --no-frames to check the json only'))
        jobs.append((split, candidate.ann_file, img_dir, problems))
    if not jobs:
        raise UnusableInput(
            f'{path}: no YouTube-VIS split found; expected e.g. '
            f'{path}/train.json, {path}/train/instances.json or '
            f'{path}/annotations_train.json (OVIS) (see '
            'vis/datasets/layout.py)')
    return jobs


def check_one(name: str, ann_file: str, img_dir, problems: list,
              args: argparse.Namespace) -> checks.CheckReport:
    """Load and check one json; raise UnusableInput if it is not a json
    object."""
    try:
        ann = checks.load_json(ann_file)
    except (OSError, UnicodeDecodeError, checks.AnnotationError) as err:
        raise UnusableInput(str(err)) from err
    mode = 'decode'
    if args.no_frames or img_dir is None:
        mode = 'none'
    elif args.header_only:
        mode = 'header'
    report = checks.check_annotations(
        ann, ann_file, img_dir=img_dir, frames=mode,
        progress=not args.no_progress, progress_desc=f'{name} frames')
    report.problems[:0] = problems
    return report


def print_report(name: str, report: checks.CheckReport,
                 max_problems: int) -> None:
    """Print one split's summary line and problems."""
    frames = {'none': 'not checked', 'exists': 'checked (exist)',
              'header': 'checked (headers)', 'decode': 'checked (decoded)'}
    frame_note = (f'{report.frames_checked} {frames[report.frame_mode]}'
                  if report.frame_mode != 'none'
                  else f'frame files {frames["none"]}')
    print(f'{name}: {report.ann_file}')
    print(f'  {report.num_videos} videos, {report.num_annotations} '
          f'annotations, {report.num_frames} frames; {frame_note}')
    if report.ok:
        print('  OK')
        return
    print(f'  {len(report.problems)} problem(s), {len(report.bad_videos)} '
          f'bad video(s):')
    print(checks.format_problems(report.problems, max_problems, '    '))


def main(argv=None) -> int:
    """Run the tool; return the exit status."""
    args = parse_args(argv)
    try:
        jobs = find_jobs(args)
    except UnusableInput as err:
        print(f'error: {err}', file=sys.stderr)
        return UNUSABLE
    status = CLEAN
    total = 0
    for name, ann_file, img_dir, problems in jobs:
        try:
            report = check_one(name, ann_file, img_dir, problems, args)
        except UnusableInput as err:
            print(f'{name}: error: {err}', file=sys.stderr)
            status = UNUSABLE
            continue
        print_report(name, report, args.max_problems)
        total += len(report.problems)
        if report.problems and status == CLEAN:
            status = PROBLEMS
    if status == UNUSABLE:
        print('unusable input (see the errors above)', file=sys.stderr)
    elif total:
        print(f'{total} problem(s) found')
    else:
        print('no problems found')
    return status


if __name__ == '__main__':
    sys.exit(main())
