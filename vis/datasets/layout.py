"""Locate the splits of a YouTube-VIS or OVIS data root on disk.

The recognised directory layouts (``DIR`` is the data root)::

    2019:  DIR/<split>.json                              + DIR/<split>/JPEGImages/<video>/<frame>.jpg
           DIR/annotations/<split>.json                  (same image folder)
           DIR/annotations/youtube_vis_2019_<split>.json (mmdet's naming, same image folder)
    2021:  DIR/<split>/instances.json                    + DIR/<split>/JPEGImages/<video>/<frame>.jpg
           DIR/annotations/youtube_vis_2021_<split>.json (mmdet's naming, same image folder)
    2022:  as 2021 (its train split is the 2021 one; its valid split adds
           the long videos to the 2021 valid videos)
    OVIS:  DIR/annotations_<split>.json                  + DIR/<split>/<video>/<frame>.jpg
           (frames also found in DIR/Images/<split>/ or DIR/<split>/JPEGImages/)

``<split>`` is one of ``'train'``, ``'valid'`` or ``'test'``.  The first
existing annotation file in the order of :func:`split_candidates` wins; its
image folder is the first existing one of its candidates.  The json files of
all layouts share the YouTube-VIS 2019 schema (``videos`` with
``file_names`` relative to the image folder, ``annotations`` with
per-frame ``segmentations``, ``categories``).

Whether a split carries annotations (the official valid/test splits do not)
is decided by :func:`json_has_annotations`, which scans the file instead of
building the whole (possibly multi-GB) object tree.
"""

import json
import mmap
import os
import re
from typing import List, NamedTuple, Tuple

SPLITS = ('train', 'valid', 'test')

#: Folder, inside ``DIR/<split>``, holding one sub-folder of frames per video
#: (YouTube-VIS layouts).
IMAGE_FOLDER = 'JPEGImages'


class SplitCandidate(NamedTuple):
    """One place a split's annotation file may be, with its frame folders.

    Attributes:
        ann_file (str): absolute path of the json.
        version (str): ``'2019'``, ``'2021'`` or ``'ovis'`` (the layout).
        img_dirs (tuple[str]): absolute candidate frame folders, in
            priority order (the first existing one is used).
    """
    ann_file: str
    version: str
    img_dirs: Tuple[str, ...]


def split_candidates(data_root: str, split: str) -> List[SplitCandidate]:
    """Return the candidate annotation files of ``split``, in priority order.

    Paths are absolute; nothing is checked on disk.
    """
    root = os.path.abspath(data_root)
    ytvis_images = (os.path.join(root, split, IMAGE_FOLDER), )
    ovis_images = (os.path.join(root, split, IMAGE_FOLDER),
                   os.path.join(root, 'Images', split),
                   os.path.join(root, split))
    return [
        SplitCandidate(os.path.join(root, split, 'instances.json'), '2021',
                       ytvis_images),
        SplitCandidate(os.path.join(root, f'{split}.json'), '2019',
                       ytvis_images),
        SplitCandidate(os.path.join(root, 'annotations', f'{split}.json'),
                       '2019', ytvis_images),
        SplitCandidate(os.path.join(root, 'annotations',
                                    f'youtube_vis_2019_{split}.json'), '2019',
                       ytvis_images),
        SplitCandidate(os.path.join(root, 'annotations',
                                    f'youtube_vis_2021_{split}.json'), '2021',
                       ytvis_images),
        SplitCandidate(os.path.join(root, f'annotations_{split}.json'),
                       'ovis', ovis_images),
    ]


def candidate_ann_files(data_root: str, split: str) -> List[Tuple[str, str]]:
    """Return the ``(ann_file, version)`` candidates for ``split``, in
    priority order (see :func:`split_candidates`)."""
    return [(c.ann_file, c.version) for c in split_candidates(data_root,
                                                              split)]


def image_dir(data_root: str, split: str) -> str:
    """Return the absolute frame folder of ``split``'s YouTube-VIS layouts
    (``DIR/<split>/JPEGImages``)."""
    return os.path.join(os.path.abspath(data_root), split, IMAGE_FOLDER)


def locate_split(data_root: str, split: str):
    """The first existing annotation file of ``split`` and its frame folder.

    Returns:
        tuple: ``(candidate, img_dir)``: the :class:`SplitCandidate` whose
        json exists (None if none does) and the first of its image folders
        that exists (None if none does).
    """
    for candidate in split_candidates(data_root, split):
        if os.path.isfile(candidate.ann_file):
            found = [d for d in candidate.img_dirs if os.path.isdir(d)]
            return candidate, (found[0] if found else None)
    return None, None


def find_split(data_root: str, split: str) -> dict:
    """Locate a split ('train', 'valid' or 'test') of a YouTube-VIS or OVIS
    data root.

    Args:
        data_root: the data root ``DIR`` (see the module docstring for layouts).
        split: ``'train'``, ``'valid'`` or ``'test'``.

    Returns:
        ``{'ann_file': abs path to the json, 'img_dir': abs path to the
        frame folder (the ``file_names`` of the json are relative to it),
        'version': '2019', '2021' or 'ovis' (from the layout),
        'has_annotations': bool (the json has a non-empty 'annotations'
        list)}``.

    Raises:
        ValueError: ``split`` is not one of :data:`SPLITS`, or the json is
            not a JSON object.
        FileNotFoundError: no annotation file, or no image folder, was found;
            the message names ``data_root``, ``split`` and every path tried.
    """
    if split not in SPLITS:
        raise ValueError(
            f'unknown YouTube-VIS split {split!r}; expected one of {SPLITS}')
    candidate, img_dir = locate_split(data_root, split)
    if candidate is None or img_dir is None:
        raise FileNotFoundError(
            _not_found_message(data_root, split, candidate))
    return {
        'ann_file': candidate.ann_file,
        'img_dir': img_dir,
        'version': candidate.version,
        'has_annotations': json_has_annotations(candidate.ann_file),
    }


def _not_found_message(data_root, split, found) -> str:
    """Build the FileNotFoundError message of :func:`find_split`; ``found``
    is the candidate whose json exists, if any."""
    lines = [
        f'YouTube-VIS split {split!r} not found under data root '
        f'{data_root!r} ({os.path.abspath(data_root)}).',
    ]
    if found is not None:
        lines.append(f'The annotation file {found.ann_file} exists but none '
                     'of its image folders does:')
        lines += [f'  {path}' for path in found.img_dirs]
        return '\n'.join(lines)
    lines.append('None of the annotation files exists. Paths tried:')
    tried = []
    for candidate in split_candidates(data_root, split):
        tried.append(candidate.ann_file)
        tried += [d for d in candidate.img_dirs if d not in tried]
    lines += [f'  {path}' for path in tried]
    return '\n'.join(lines)


# --------------------------------------------------------------------------
# Cheap "does this json have a non-empty top-level 'annotations' list?" test.
#
# The scanner walks the JSON text with regular expressions, skipping string
# contents in C, and only decodes the keys of the top-level object.  It never
# builds the object tree, so it is fast and uses almost no memory on
# multi-GB files.  It returns as soon as the top-level 'annotations' value
# has been seen.
# --------------------------------------------------------------------------

_WHITESPACE = re.compile(rb'[ \t\r\n]*')
# Next structural character that changes nesting or starts a string.
_STRUCTURAL = re.compile(rb'["{}\[\]]')
# Rest of a string after its opening quote, up to and including the closing
# quote (unrolled-loop form: no backtracking blow-up on long strings).
_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_UTF8_BOM = b'\xef\xbb\xbf'


def json_has_annotations(path: str) -> bool:
    """Return whether the JSON object in ``path`` has a non-empty top-level
    ``'annotations'`` list.

    Equivalent to ``bool(json.load(f).get('annotations'))`` for a valid
    YouTube-VIS file (an ``'annotations'`` value that is missing, ``null`` or
    ``[]`` gives ``False``), but without parsing the whole file.  Keys named
    ``'annotations'`` nested deeper than the top level, or appearing inside
    string values, are ignored.

    Raises:
        ValueError: the file is empty, is not a JSON object, or ends before
            its top-level object is closed.
    """
    if os.path.getsize(path) == 0:
        raise ValueError(f'{path}: empty file, expected a JSON object')
    with open(path, 'rb') as f, \
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return _scan_for_annotations(buf, path)


def _skip_whitespace(buf, pos: int) -> int:
    """Return the index of the first non-whitespace byte at or after ``pos``."""
    return _WHITESPACE.match(buf, pos).end()


def _string_end(buf, start: int, path: str) -> int:
    """Return the index just past the string whose opening quote is at ``start``."""
    match = _STRING_REST.match(buf, start + 1)
    if match is None:
        raise ValueError(f'{path}: unterminated string at byte {start}')
    return match.end()


def _scan_for_annotations(buf, path: str) -> bool:
    """Scan ``buf`` (the bytes of a JSON document); see :func:`json_has_annotations`."""
    pos = len(_UTF8_BOM) if buf[:3] == _UTF8_BOM else 0
    pos = _skip_whitespace(buf, pos)
    if buf[pos:pos + 1] != b'{':
        raise ValueError(f'{path}: top-level JSON value is not an object')
    depth = 0
    while True:
        match = _STRUCTURAL.search(buf, pos)
        if match is None:
            raise ValueError(
                f'{path}: truncated JSON, top-level object never closed')
        char = buf[match.start():match.start() + 1]
        if char == b'"':
            end = _string_end(buf, match.start(), path)
            after = _skip_whitespace(buf, end)
            is_top_level_key = depth == 1 and buf[after:after + 1] == b':'
            if is_top_level_key and \
                    json.loads(buf[match.start():end]) == 'annotations':
                return _value_is_non_empty_list(buf, after + 1)
            pos = end
        elif char in (b'{', b'['):
            depth += 1
            pos = match.end()
        else:
            depth -= 1
            pos = match.end()
            if depth == 0:
                return False


def _value_is_non_empty_list(buf, pos: int) -> bool:
    """Return whether the JSON value starting at/after ``pos`` is a non-empty list."""
    pos = _skip_whitespace(buf, pos)
    if buf[pos:pos + 1] != b'[':
        return False
    pos = _skip_whitespace(buf, pos + 1)
    return buf[pos:pos + 1] not in (b']', b'')
