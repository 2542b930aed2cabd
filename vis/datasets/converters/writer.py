"""Write what a format reader returns as a YouTube-VIS 2019 data root.

Every reader in this package (``labelme``, ``png``, ``coco``) returns a
*conversion*: plain dicts, no classes, so that a reader is easy to test and a
new one easy to add::

    conversion = {
        'videos': [video, ...],
        # optional: fixed categories (COCO keeps its ids); else ids are
        # 1..N in the order the caller gives, or of the sorted names
        'categories': [{'id': 3, 'name': 'dog'}, ...] or None,
        'skipped': {reason: count},     # what was left out, and why
        'warnings': [str, ...],         # counted oddities (clipped shapes..)
    }
    video = {
        'name': 'bear',                 # folder name under JPEGImages/
        'frames': [frame, ...],         # in time order
        'instances': [instance, ...],
    }
    frame = {
        'file_name': '00010.jpg',       # stem and extension of the source
        'source': '/abs/path/00010.jpg',  # copied byte for byte, or
        'data': None,                   # the bytes, when only embedded
        'height': 480, 'width': 854,
    }
    instance = {
        'category': 'bear',             # a name
        'segmentations': [seg or None for each frame],
        # seg: an RLE {'size': [h, w], 'counts': str} or a COCO polygon
        # list [[x0, y0, x1, y1, ...], ...], kept as given
        'iscrowd': 0,
        'where': 'SRC/bear/00010.json shape 2',  # for error messages
    }

:func:`write_conversion` turns it into::

    OUT_ROOT/train.json, OUT_ROOT/train/JPEGImages/<video>/<frame>
    OUT_ROOT/valid.json, OUT_ROOT/valid/JPEGImages/<video>/<frame>  (F > 0)
    OUT_ROOT/categories.txt                      (one name per line, id order)

built in a staging folder next to ``OUT_ROOT`` and moved into place at the
end, so an error (or Ctrl-C) leaves no half-written data root behind.
"""
import os
import os.path as osp
import re
import shutil
import tempfile
from collections import Counter
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils

from ..split import choose_held_out, write_json_atomic

#: How frame files get into ``OUT_ROOT``: ``copy`` (byte for byte, default),
#: ``hardlink`` (same file system only) or ``symlink`` (absolute links).
LINK_MODES = ('copy', 'hardlink', 'symlink')


class ConversionError(ValueError):
    """Bad input for a converter; the message names the file and field."""


# ---------------------------------------------------------------- helpers
def natural_key(name: str) -> Tuple:
    """Sort key that orders ``frame_2`` before ``frame_10``."""
    return tuple((0, int(part), '') if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r'(\d+)', name) if part != '')


def mask_to_rle(mask: np.ndarray) -> dict:
    """Encode a (H, W) 0/1 (or bool) mask as a compressed RLE with a str
    ``counts``, the form YouTube-VIS json holds."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def parse_category_names(value: str,
                         option: str = '--categories') -> List[str]:
    """Read ``--categories``: a file with one name per line (blank lines and
    ``#`` comments skipped, e.g. a previous conversion's
    ``categories.txt``), or a comma-separated list. Raises ConversionError
    on an empty list or a repeated name."""
    if osp.isfile(value):
        with open(value, encoding='utf-8') as f:
            names = [line.strip() for line in f]
        names = [n for n in names if n and not n.startswith('#')]
        where = value
    else:
        names = [n.strip() for n in value.split(',') if n.strip()]
        where = f'{option} {value!r}'
    if not names:
        raise ConversionError(f'{where}: no category names')
    repeated = sorted(n for n, c in Counter(names).items() if c > 1)
    if repeated:
        raise ConversionError(f'{where}: repeated category names {repeated}')
    return names


def assign_categories(conversion: dict,
                      names: Optional[Sequence[str]] = None) -> List[dict]:
    """Return the categories ``[{'id', 'name', 'supercategory'}]`` to write.

    The conversion's own ``'categories'`` (ids kept) win; else ids 1..N in
    the order of ``names``; else of the sorted union of instance names. An
    instance whose name is not among them is a ConversionError naming where
    it came from."""
    if conversion.get('categories'):
        cats = [dict(id=int(c['id']), name=str(c['name']),
                     supercategory=c.get('supercategory') or '')
                for c in conversion['categories']]
    else:
        if names is None:
            names = sorted({inst['category'] for video in conversion['videos']
                            for inst in video['instances']})
        cats = [dict(id=i + 1, name=n, supercategory='')
                for i, n in enumerate(names)]
    known = {c['name'] for c in cats}
    for video in conversion['videos']:
        for inst in video['instances']:
            if inst['category'] not in known:
                raise ConversionError(
                    f"{inst.get('where', video['name'])}: label "
                    f"{inst['category']!r} is not among the categories "
                    f'{sorted(known)} (add it to --categories)')
    return cats


def split_videos(videos: List[dict], valid_fraction: float,
                 seed: int) -> Tuple[List[dict], List[dict]]:
    """Split whole videos into (train, valid), reproducibly in ``seed``.

    ``valid_fraction`` 0 keeps everything in train; > 0 holds out
    ``round(F * N)`` videos, at least one, and at least one stays in train
    (an empty train split is a ConversionError)."""
    if not 0 <= valid_fraction < 1:
        raise ConversionError(
            f'--valid-fraction must be in [0, 1), got {valid_fraction}')
    if not videos:
        raise ConversionError('no annotated video found: the train split '
                              'would be empty')
    if valid_fraction == 0:
        return list(videos), []
    if len(videos) < 2:
        raise ConversionError(
            f'--valid-fraction {valid_fraction}: only {len(videos)} video, '
            f'holding one out would leave the train split empty')
    held = set(choose_held_out([v['name'] for v in videos], valid_fraction,
                               seed))
    return ([v for v in videos if v['name'] not in held],
            [v for v in videos if v['name'] in held])


def _seg_area_box(seg, height: int, width: int, where: str):
    """Return (area, [x, y, w, h]) of one segmentation, or raise."""
    if isinstance(seg, dict):
        if list(seg.get('size', [])) != [height, width]:
            raise ConversionError(
                f"{where}: mask size {seg.get('size')} differs from the "
                f'frame size [{height}, {width}]')
        rle = seg
        if isinstance(rle['counts'], list):  # uncompressed COCO RLE
            rle = mask_utils.frPyObjects(rle, height, width)
    elif isinstance(seg, list):
        if not seg or any(len(p) < 6 or len(p) % 2 for p in seg):
            raise ConversionError(
                f'{where}: a polygon needs at least 3 points (x, y pairs)')
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    else:
        raise ConversionError(f'{where}: segmentation of type '
                              f'{type(seg).__name__} is neither RLE nor '
                              f'polygon')
    area = float(mask_utils.area(rle))
    box = [float(v) for v in mask_utils.toBbox(rle)]
    return area, box


def build_split(videos: List[dict], categories: List[dict],
                first_video_id: int = 1) -> Tuple[dict, Counter]:
    """Return (YouTube-VIS 2019 dict, instances per category name) for
    ``videos``. Frames of different sizes in one video are a
    ConversionError naming both; an instance without a mask in any frame is
    left out and counted under ``'skipped'`` of the returned counter as
    ``'(empty)'``."""
    cat_id = {c['name']: c['id'] for c in categories}
    out_videos, annotations = [], []
    per_class = Counter()
    for v_index, video in enumerate(videos):
        frames = video['frames']
        if not frames:
            raise ConversionError(f"video {video['name']!r} has no frames")
        first = frames[0]
        height, width = int(first['height']), int(first['width'])
        for frame in frames[1:]:
            if (int(frame['height']), int(frame['width'])) != (height, width):
                raise ConversionError(
                    f"video {video['name']!r}: frame {frame['file_name']} is "
                    f"{frame['width']}x{frame['height']} but frame "
                    f"{first['file_name']} is {width}x{height}; all frames "
                    f'of a video must have one size')
        video_id = first_video_id + v_index
        out_videos.append(dict(
            id=video_id, width=width, height=height, length=len(frames),
            file_names=[f"{video['name']}/{f['file_name']}" for f in frames]))
        for inst in video['instances']:
            segs = inst['segmentations']
            where = inst.get('where', video['name'])
            if len(segs) != len(frames):
                raise ConversionError(
                    f'{where}: {len(segs)} segmentations for '
                    f'{len(frames)} frames')
            areas, boxes = [], []
            for seg in segs:
                if seg is None:
                    areas.append(None)
                    boxes.append(None)
                    continue
                area, box = _seg_area_box(seg, height, width, where)
                areas.append(area)
                boxes.append(box)
            if not any(a for a in areas):
                per_class['(empty)'] += 1
                continue
            per_class[inst['category']] += 1
            annotations.append(dict(
                id=len(annotations) + 1, video_id=video_id,
                category_id=cat_id[inst['category']],
                segmentations=list(segs), bboxes=boxes, areas=areas,
                iscrowd=int(inst.get('iscrowd', 0)), height=height,
                width=width, length=len(frames)))
    ann = dict(info=dict(description='converted by vis '
                         'tools/dataset_converters'),
               licenses=[], videos=out_videos, annotations=annotations,
               categories=categories)
    return ann, per_class


# ------------------------------------------------------------ file system
def check_out_root(out_root: str, overwrite: bool,
                   sources: Iterable[str] = ()) -> None:
    """Refuse an ``OUT_ROOT`` that is a non-empty folder (unless
    ``overwrite``), a file, or overlaps a source (which ``--overwrite``
    would delete). Call it before reading anything."""
    out = osp.realpath(out_root)
    for source in sources:
        src = osp.realpath(source)
        if out == src or src.startswith(out + os.sep) or \
                out.startswith(src + os.sep):
            raise ConversionError(
                f'OUT_ROOT {out_root} overlaps the input {source}; write '
                f'the conversion somewhere else')
    if osp.exists(out_root) and not osp.isdir(out_root):
        raise ConversionError(f'OUT_ROOT {out_root} exists and is not a '
                              f'folder')
    if osp.isdir(out_root) and os.listdir(out_root) and not overwrite:
        raise ConversionError(
            f'OUT_ROOT {out_root} is not empty; pass --overwrite to replace '
            f'it, or choose another folder')


def _place_frame(frame: dict, target: str, link: str, where: str) -> None:
    """Put one frame file at ``target`` (copy, hard link or symlink)."""
    if frame.get('source') is None:
        with open(target, 'wb') as f:
            f.write(frame['data'])
        return
    source = frame['source']
    if not osp.isfile(source):
        raise ConversionError(f'{where}: image not found: {source}')
    if link == 'copy':
        shutil.copyfile(source, target)
    elif link == 'hardlink':
        try:
            os.link(source, target)
        except OSError as err:
            raise ConversionError(
                f'--link hardlink: cannot hard-link {source} into '
                f'{osp.dirname(target)} ({err.strerror}; hard links need one '
                f'file system): use --link symlink or copy') from err
    elif link == 'symlink':
        os.symlink(osp.abspath(source), target)
    else:
        raise ConversionError(f'--link must be one of {LINK_MODES}, got '
                              f'{link!r}')


def _write_frames(videos: List[dict], img_root: str, link: str,
                  bar=None) -> None:
    for video in videos:
        folder = osp.join(img_root, video['name'])
        os.makedirs(folder, exist_ok=True)
        for frame in video['frames']:
            _place_frame(frame, osp.join(folder, frame['file_name']), link,
                         f"video {video['name']!r} frame "
                         f"{frame['file_name']}")
            if bar is not None:
                bar.update(1)


def _check_videos(videos: List[dict]) -> None:
    """Names must be unique folder names, frame names unique per video."""
    seen = set()
    for video in videos:
        name = video['name']
        if not name or '/' in name or '\\' in name or name in ('.', '..'):
            raise ConversionError(f'video name {name!r} is not a folder name')
        if name in seen:
            raise ConversionError(f'two videos are named {name!r}')
        seen.add(name)
        files = [f['file_name'] for f in video['frames']]
        repeated = sorted(n for n, c in Counter(files).items() if c > 1)
        if repeated:
            raise ConversionError(f'video {name!r}: repeated frame file '
                                  f'names {repeated}')


def write_conversion(conversion: dict, out_root: str,
                     category_names: Optional[Sequence[str]] = None,
                     valid_fraction: float = 0.0, seed: int = 0,
                     link: str = 'copy', overwrite: bool = False,
                     progress: bool = False,
                     check: Optional[Callable[[str, List[str]], None]] = None
                     ) -> dict:
    """Write ``conversion`` (see the module doc) as a YouTube-VIS 2019 data
    root at ``out_root``; return the summary (see :func:`format_summary`).

    Args:
        conversion: what a reader returned.
        out_root: the data root to create; an existing non-empty one is
            replaced only with ``overwrite`` (and only once everything is
            written).
        category_names: the category order (ids 1..N); default the sorted
            names. Ignored when the conversion fixes its categories.
        valid_fraction: fraction of whole videos held out as ``valid``.
        seed: seed of the held-out choice.
        link: ``copy``, ``hardlink`` or ``symlink`` for the frame files.
        progress: show a tqdm bar over the frames written.
        check: called as ``check(staged_root, split names)`` once everything
            is written, before the staged root replaces ``out_root``; an
            exception it raises leaves ``out_root`` as it was.
    """
    if link not in LINK_MODES:
        raise ConversionError(f'--link must be one of {LINK_MODES}, got '
                              f'{link!r}')
    check_out_root(out_root, overwrite)
    videos = sorted(conversion['videos'], key=lambda v: natural_key(v['name']))
    _check_videos(videos)
    categories = assign_categories(conversion, category_names)
    train, valid = split_videos(videos, valid_fraction, seed)
    splits = {'train': train}
    if valid:
        splits['valid'] = valid
    anns, summary = {}, dict(out_root=out_root, categories=categories,
                             splits={}, skipped=Counter(conversion.get(
                                 'skipped') or {}),
                             warnings=list(conversion.get('warnings') or []))
    next_id = 1
    for split, split_videos_ in splits.items():
        ann, per_class = build_split(split_videos_, categories, next_id)
        next_id += len(split_videos_)
        empty = per_class.pop('(empty)', 0)
        if empty:
            summary['skipped']['instance with no mask in any frame'] += empty
        anns[split] = ann
        summary['splits'][split] = dict(
            videos=len(ann['videos']),
            frames=sum(v['length'] for v in ann['videos']),
            instances=sum(per_class.values()),
            masks=sum(sum(s is not None for s in a['segmentations'])
                      for a in ann['annotations']),
            per_class={c['name']: per_class.get(c['name'], 0)
                       for c in categories})

    parent = osp.dirname(osp.abspath(out_root))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=f'.{osp.basename(out_root)}.',
                               suffix='.tmp')
    try:
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=sum(s['frames'] for s in summary['splits'].values()),
                       desc='writing frames', unit='frame')
        try:
            for split, split_videos_ in splits.items():
                _write_frames(split_videos_,
                              osp.join(staging, split, 'JPEGImages'), link, bar)
                write_json_atomic(anns[split], osp.join(staging, f'{split}.json'))
        finally:
            if bar is not None:
                bar.close()
        with open(osp.join(staging, 'categories.txt'), 'w',
                  encoding='utf-8') as f:
            f.write(''.join(c['name'] + '\n' for c in categories))
        os.chmod(staging, 0o755)
        if check is not None:
            check(staging, list(splits))
        _move_into_place(staging, out_root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def _move_into_place(staging: str, out_root: str) -> None:
    """Replace ``out_root`` (absent, empty or --overwrite) by ``staging``."""
    if not osp.exists(out_root):
        os.replace(staging, out_root)
        return
    old = tempfile.mkdtemp(dir=osp.dirname(osp.abspath(out_root)),
                           prefix=f'.{osp.basename(out_root)}.old.',
                           suffix='.tmp')
    os.rmdir(old)
    os.replace(out_root, old)
    os.replace(staging, out_root)
    shutil.rmtree(old, ignore_errors=True)


def format_summary(summary: dict) -> str:
    """The summary a converter prints: per split videos, frames, instances
    and masks; instances per class; what was skipped and the warnings."""
    lines = [f"wrote {summary['out_root']} (YouTube-VIS 2019 layout, "
             f"{len(summary['categories'])} "
             f"{'category' if len(summary['categories']) == 1 else 'categories'})"]
    labels = [f"{c['id']} {c['name']}" for c in summary['categories']]
    width = max([len(label) + 2 for label in labels] + [9])
    splits = list(summary['splits'])
    lines.append(f"  {'':{width}}  " + '  '.join(f'{s:>8}' for s in splits))
    for key in ('videos', 'frames', 'instances', 'masks'):
        lines.append(f'  {key:{width}}  ' + '  '.join(
            f"{summary['splits'][s][key]:>8}" for s in splits))
    lines.append('  instances per class (id name):')
    for cat, label in zip(summary['categories'], labels):
        counts = '  '.join(f"{summary['splits'][s]['per_class'][cat['name']]:>8}"
                           for s in splits)
        lines.append(f'    {label:{width - 2}}  ' + counts)
    unused = [c['name'] for c in summary['categories']
              if not any(summary['splits'][s]['per_class'][c['name']]
                         for s in splits)]
    if unused:
        lines.append(f'  categories without any instance: {unused}')
    if summary['skipped']:
        lines.append('  skipped:')
        for reason, count in sorted(summary['skipped'].items()):
            lines.append(f'    {count:6d}  {reason}')
    else:
        lines.append('  skipped: nothing')
    if summary['warnings']:
        lines.append(f"  warnings ({len(summary['warnings'])}):")
        for message in summary['warnings'][:20]:
            lines.append(f'    {message}')
        if len(summary['warnings']) > 20:
            lines.append(f"    ... and {len(summary['warnings']) - 20} more")
    if 'valid' not in summary['splits']:
        lines.append('  no valid split: hold out videos with --valid-fraction '
                     'F, or later with tools/split_ytvis.py')
    return '\n'.join(lines)
