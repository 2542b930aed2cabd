"""Reading and checking YouTube-VIS results and ground-truth files.

Everything here is cheap (types, ids, frame counts, mask sizes; no mask is
decoded), so that a bad file fails with a clear message naming the file,
the result and the field before any long evaluation starts.
"""

from __future__ import annotations

import json
import math
import os.path as osp
import zipfile
from numbers import Real
from typing import Any, Dict, List

from .ytvis_eval import id_sort_key

__all__ = ['check_ground_truth', 'check_results', 'load_ground_truth',
           'load_results', 'video_num_frames']

RESULTS_MEMBER = 'results.json'  # the server zip's content
_SHOWN = 10  # ids listed in an error at most


def _load_json_bytes(data: bytes, source: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f'{source}: not valid json ({err})') from None


def _read(path: str, what: str) -> bytes:
    if not osp.isfile(path):
        raise ValueError(f'{path}: no such {what} file')
    with open(path, 'rb') as f:
        return f.read()


def load_ground_truth(path: str) -> dict:
    """A YouTube-VIS annotation json, checked with
    :func:`check_ground_truth`."""
    gt = _load_json_bytes(_read(path, 'ground-truth'), path)
    check_ground_truth(gt, path)
    return gt


def load_results(path: str) -> list:
    """A results list from ``results.json`` or the server zip holding it.

    Raises:
        ValueError: missing file, bad zip or json, a zip without
            ``results.json``, json that is not a list.
    """
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist()
                     if osp.basename(n) == RESULTS_MEMBER]
            if len(names) != 1:
                raise ValueError(
                    f'{path}: a results zip must hold one {RESULTS_MEMBER}, '
                    f'found {len(names)} among {zf.namelist()[:_SHOWN]}')
            source = f'{path}:{names[0]}'
            results = _load_json_bytes(zf.read(names[0]), source)
    else:
        results = _load_json_bytes(_read(path, 'results'), path)
        source = path
    if not isinstance(results, list):
        raise ValueError(f'{source}: results must be a json list of '
                         f'per-video tracks, got {type(results).__name__}')
    return results


def video_num_frames(video: dict) -> int:
    """A video's frame count: ``len(file_names)`` (as trackeval reads it),
    else ``length``.

    Raises:
        ValueError: the video has neither.
    """
    if 'file_names' in video:
        return len(video['file_names'])
    if 'length' in video:
        return int(video['length'])
    raise ValueError(f'video {video.get("id")!r} has neither "file_names" '
                     'nor "length"')


def check_ground_truth(gt: Any, source: str) -> None:
    """The fields the evaluation reads: ``videos`` (``id``, ``height``,
    ``width``, ``file_names`` or ``length``), ``categories`` (``id``) and
    ``annotations`` (``video_id``, ``category_id``, ``segmentations``).

    Raises:
        ValueError: naming ``source``, the entry and the field.
    """
    if not isinstance(gt, dict):
        raise ValueError(f'{source}: a YouTube-VIS annotation json is an '
                         f'object, got {type(gt).__name__}')
    for key in ('videos', 'categories', 'annotations'):
        if not isinstance(gt.get(key), list):
            raise ValueError(f'{source}: "{key}" must be a list')
    for i, video in enumerate(gt['videos']):
        missing = [k for k in ('id', 'height', 'width') if k not in video]
        if 'file_names' not in video and 'length' not in video:
            missing.append('file_names/length')
        if missing:
            raise ValueError(f'{source}: videos[{i}] lacks '
                             f'{", ".join(missing)}')
    for i, cat in enumerate(gt['categories']):
        if 'id' not in cat:
            raise ValueError(f'{source}: categories[{i}] has no "id"')
    for i, ann in enumerate(gt['annotations']):
        for key in ('video_id', 'category_id', 'segmentations'):
            if key not in ann:
                raise ValueError(f'{source}: annotation {ann.get("id", i)} '
                                 f'has no "{key}"')


def _mask_problem(segm: Any, height: int, width: int) -> str:
    """Why ``segm`` is not one frame's mask of a ``height x width`` video
    ('' if it is): None, an RLE dict or polygons."""
    if not segm:
        return ''
    if isinstance(segm, dict):
        if 'counts' not in segm or 'size' not in segm:
            return 'an RLE needs "size" and "counts"'
        size = segm['size']
        if not (isinstance(size, list) and len(size) == 2 and
                list(size) == [height, width]):
            return f'RLE size {size} is not the video size [{height}, {width}]'
        if not isinstance(segm['counts'], (str, list)):
            return ('RLE counts must be a string (or a list of run '
                    'lengths)')
        return ''
    if isinstance(segm, list):
        if all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 and
               all(isinstance(x, Real) for x in p) for p in segm):
            return ''
        return 'polygons must be lists of >= 3 (x, y) pairs'
    return ('a mask is an RLE dict, polygons or null, got '
            f'{type(segm).__name__}')


def check_results(gt: dict, results: List[Any], source: str) -> None:
    """Check every result against the ground truth's videos and categories.

    Each result must be an object with ``video_id`` (a gt video),
    ``category_id`` (a gt category), a finite number ``score`` and
    ``segmentations``: one entry per video frame, each null, an RLE of the
    video's size or polygons.

    Raises:
        ValueError: naming ``source``, the result (index and video) and the
            field; unknown videos and categories are all listed.
    """
    videos: Dict[Any, dict] = {v['id']: v for v in gt.get('videos', [])}
    cats = {c['id'] for c in gt.get('categories', [])}
    bad_videos, bad_cats = set(), set()
    for i, r in enumerate(results):
        if not isinstance(r, dict):
            raise ValueError(f'{source}: result {i} is a '
                             f'{type(r).__name__}, not an object')
        missing = [k for k in ('video_id', 'category_id', 'score',
                               'segmentations') if k not in r]
        if missing:
            raise ValueError(f'{source}: result {i} has no '
                             f'{", ".join(map(repr, missing))}')
        if r['video_id'] not in videos:
            bad_videos.add(r['video_id'])
        if r['category_id'] not in cats:
            bad_cats.add(r['category_id'])
    for what, bad, known in (('video', bad_videos, videos),
                             ('category', bad_cats, cats)):
        if bad:
            shown = sorted(bad, key=id_sort_key)
            raise ValueError(
                f'{source}: results name {what} ids not in the ground '
                f'truth: {", ".join(map(repr, shown[:_SHOWN]))}'
                f'{" ..." if len(shown) > _SHOWN else ""} (the ground truth '
                f'has {len(known)} {what}s)')
    for i, r in enumerate(results):
        where = f'{source}: result {i} (video {r["video_id"]!r})'
        score = r['score']
        if isinstance(score, bool) or not isinstance(score, Real) or \
                not math.isfinite(score):
            raise ValueError(f'{where}: "score" must be a finite number, '
                             f'got {score!r}')
        video = videos[r['video_id']]
        segms = r['segmentations']
        if not isinstance(segms, list):
            raise ValueError(f'{where}: "segmentations" must be a list (one '
                             f'entry per frame), got {type(segms).__name__}')
        num_frames = video_num_frames(video)
        if len(segms) != num_frames:
            raise ValueError(f'{where}: "segmentations" has {len(segms)} '
                             f'frames, the video has {num_frames}')
        height, width = int(video['height']), int(video['width'])
        for f, segm in enumerate(segms):
            problem = _mask_problem(segm, height, width)
            if problem:
                raise ValueError(f'{where}: segmentations[{f}]: {problem}')
