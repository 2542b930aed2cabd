"""Read labelme annotations of video frames as a *conversion* (see
:mod:`vis.datasets.converters.writer`).

Layout read::

    SRC/<video>/<frame>.jpg|.png|.jpeg|.bmp   (any case)
    SRC/<video>/<frame>.json                  labelme json of that frame

The video is named after its folder. Only frames with a json become frames
of the video (in natural order of the json stem: ``frame_2`` before
``frame_10``); images without a json are counted in ``skipped``. A json of
any labelme ``version`` is read; keys it does not know are ignored.

Coordinates are read in the COCO convention: pixel ``(row r, column c)``
covers ``[c, c + 1] x [r, r + 1]``, so its centre is ``(c + 0.5, r + 0.5)``.
The area shapes are rasterised as follows (:func:`shape_to_mask`):

* ``polygon`` (also a missing or null ``shape_type``) and
  ``oriented_rectangle``: ``pycocotools.mask.frPyObjects`` of the polygon,
  what COCO uses, so masks equal those of COCO "up to polygon
  rasterisation" (pycocotools' own sampling of the outline);
* ``rectangle``: two opposite corners in any order; the pixels whose centre
  lies in the box (closed);
* ``circle``: the centre and a point on the circle; the pixels whose centre
  lies in the (closed) disc;
* ``mask`` (labelme >= 5.5): ``points`` are the two corners ``[[x1, y1],
  [x2, y2]]`` of the box and ``mask`` a base64 PNG of the box-sized boolean
  mask, whose pixel ``(0, 0)`` is image pixel ``(round(y1), round(x1))``.

``line``, ``linestrip``, ``point``, ``points`` (and any other type) are not
areas: they are skipped and counted under their type.

One instance is made per ``(label, group_id)`` in a video; the shapes of one
instance in one frame are merged (union: a body split by an occluder).
Shapes without a group_id make one instance per label, which is only
unambiguous when no frame has two of them and no grouped shape of the video
has that label; otherwise a :class:`ConversionError` asks for group_ids.
"""
import base64
import io
import json
import math
import os
import os.path as osp
from collections import Counter, defaultdict
from typing import List, Optional, Tuple

import numpy as np
import pycocotools.mask as mask_utils
from PIL import Image

from .writer import ConversionError, mask_to_rle, natural_key

#: Frame file extensions read (compared lower-case).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')

#: Shape types that are areas and become (part of) a mask.
AREA_SHAPE_TYPES = ('polygon', 'rectangle', 'circle', 'mask',
                    'oriented_rectangle')

#: Extension of an embedded image, by its PIL format.
_FORMAT_EXTENSIONS = {'JPEG': '.jpg', 'PNG': '.png', 'BMP': '.bmp',
                      'GIF': '.gif', 'TIFF': '.tif', 'WEBP': '.webp'}

SKIP_UNANNOTATED = 'frame without a labelme json'
SKIP_EMPTY_VIDEO = 'video folder without a labelme json'


def _skip_reason_for_type(shape_type: str) -> str:
    return f'shape_type {shape_type!r} (not an area)'


# ------------------------------------------------------------ one json file
def load_labelme_json(json_path: str) -> dict:
    """Load one labelme json; check that it is an object with a ``shapes``
    list. Raises ConversionError naming the file (and the position of a
    JSON syntax error)."""
    try:
        with open(json_path, encoding='utf-8') as f:
            annotation = json.load(f)
    except json.JSONDecodeError as err:
        raise ConversionError(
            f'{json_path}: invalid JSON: {err.msg} at line {err.lineno} '
            f'column {err.colno} (char {err.pos})') from err
    except UnicodeDecodeError as err:
        raise ConversionError(f'{json_path}: not UTF-8 text ({err})') from err
    if not isinstance(annotation, dict):
        raise ConversionError(f'{json_path}: a labelme json is an object, '
                              f'got {type(annotation).__name__}')
    if 'shapes' not in annotation:
        raise ConversionError(f'{json_path}: no "shapes" key (is it a '
                              f'labelme json?)')
    if not isinstance(annotation['shapes'], list):
        raise ConversionError(
            f'{json_path}: "shapes" must be a list, got '
            f'{type(annotation["shapes"]).__name__}')
    return annotation


def _image_size(path: Optional[str], data: Optional[bytes],
                where: str) -> Tuple[int, int, Optional[str]]:
    """Return (height, width, PIL format) from the image header only."""
    try:
        with Image.open(path if data is None else io.BytesIO(data)) as image:
            width, height = image.size
            return int(height), int(width), image.format
    except (OSError, ValueError) as err:
        raise ConversionError(f'{where}: cannot read the image header '
                              f'({err})') from err


def resolve_image(json_path: str, annotation: dict) -> dict:
    """Find the image of one labelme json.

    Tries, in order: ``imagePath`` relative to the json's folder (``\\``
    separators read as ``/``; an absolute path as is), the file of the same
    basename next to the json, a file next to the json with the json's stem
    and an image extension (any case), and last the embedded ``imageData``.

    Returns:
        dict: ``file_name``, ``source`` (absolute path, or None when
        embedded), ``data`` (the decoded bytes, or None), ``height``,
        ``width``. Raises ConversionError naming the json and the paths
        tried when there is no image.
    """
    folder = osp.dirname(osp.abspath(json_path))
    stem = osp.splitext(osp.basename(json_path))[0]
    image_path = annotation.get('imagePath')
    image_path = image_path.replace('\\', '/') if isinstance(
        image_path, str) else ''
    basename = image_path.rstrip('/').split('/')[-1]
    candidates = []
    if image_path:
        is_windows_absolute = len(image_path) > 1 and image_path[1] == ':'
        if osp.isabs(image_path):
            candidates.append(image_path)
        elif not is_windows_absolute:
            candidates.append(osp.join(folder, image_path))
        if basename:
            candidates.append(osp.join(folder, basename))

    def same_stem_images() -> List[str]:  # listed only when needed
        return [osp.join(folder, name) for name in sorted(os.listdir(folder))
                if osp.splitext(name)[0] == stem
                and osp.splitext(name)[1].lower() in IMAGE_EXTENSIONS]

    tried = []
    for group in (lambda: candidates, same_stem_images):
        for candidate in group():
            candidate = osp.normpath(candidate)
            if candidate in tried:
                continue
            tried.append(candidate)
            if osp.isfile(candidate):
                height, width, _ = _image_size(candidate, None, json_path)
                return dict(file_name=osp.basename(candidate),
                            source=osp.abspath(candidate), data=None,
                            height=height, width=width)
    image_data = annotation.get('imageData')
    if isinstance(image_data, str) and image_data:
        try:
            data = base64.b64decode(image_data, validate=False)
        except ValueError as err:
            raise ConversionError(f'{json_path}: imageData is not base64 '
                                  f'({err})') from err
        height, width, image_format = _image_size(
            None, data, f'{json_path} (embedded imageData)')
        file_name = basename if osp.splitext(basename)[1] else \
            (osp.splitext(basename)[0] or stem) + _FORMAT_EXTENSIONS.get(
                image_format, '.' + str(image_format).lower())
        return dict(file_name=file_name, source=None, data=data,
                    height=height, width=width)
    stem_pattern = f'{stem}.<{"|".join(e[1:] for e in IMAGE_EXTENSIONS)}>'
    raise ConversionError(
        f'{json_path}: image not found and no imageData embedded (imagePath '
        f'{annotation.get("imagePath")!r}); tried: '
        f'{", ".join(tried) if tried else "(no file)"}, and {stem_pattern} '
        f'in {folder}')


# -------------------------------------------------------------- one shape
def _shape_points(shape: dict, where: str) -> np.ndarray:
    """Return the points of a shape as a (P, 2) float64 array."""
    points = shape.get('points')
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 2 or array.shape[1] != 2 or \
            array.shape[0] == 0 or not np.isfinite(array).all():
        raise ConversionError(f'{where}: "points" must be a list of [x, y] '
                              f'numbers, got {points!r:.80}')
    return array


def _decode_mask_png(shape: dict, where: str) -> np.ndarray:
    """Decode the base64 PNG of a ``mask`` shape. Returns (h, w) bool."""
    encoded = shape.get('mask')
    if not isinstance(encoded, str) or not encoded:
        raise ConversionError(f'{where}: a mask shape needs "mask", a '
                              f'base64 PNG, got {type(encoded).__name__}')
    try:
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
            patch = np.array(image)
    except (OSError, ValueError) as err:
        raise ConversionError(f'{where}: "mask" is not a base64 PNG '
                              f'({err})') from err
    if patch.ndim != 2:
        raise ConversionError(f'{where}: "mask" decodes to an image of shape '
                              f'{patch.shape}, expected a 2-D mask')
    return patch.astype(bool)


def shape_extent(shape: dict, where: str = 'shape') -> Tuple[float, ...]:
    """Return ``(x0, y0, x1, y1)``, the box the shape covers in pixel-corner
    coordinates (before clipping to the image)."""
    shape_type = shape.get('shape_type') or 'polygon'
    points = _shape_points(shape, where)
    if shape_type == 'circle':
        (cx, cy), (px, py) = points[:2]
        radius = math.hypot(px - cx, py - cy)
        return cx - radius, cy - radius, cx + radius, cy + radius
    if shape_type == 'mask':
        patch = _decode_mask_png(shape, where)
        x1 = int(round(points[:, 0].min()))
        y1 = int(round(points[:, 1].min()))
        return x1, y1, x1 + patch.shape[1], y1 + patch.shape[0]
    return (float(points[:, 0].min()), float(points[:, 1].min()),
            float(points[:, 0].max()), float(points[:, 1].max()))


def _pixel_centres(height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Return (ys (H, 1), xs (1, W)) of the pixel centres."""
    return (np.arange(height, dtype=np.float64)[:, None] + 0.5,
            np.arange(width, dtype=np.float64)[None, :] + 0.5)


def shape_to_mask(shape: dict, height: int, width: int,
                  where: str = 'shape') -> np.ndarray:
    """Rasterise one labelme area shape (see the module doc).

    Args:
        shape (dict): a labelme shape (``points``, ``shape_type``, and
            ``mask`` for a mask shape).
        height (int): image height H.
        width (int): image width W.
        where (str): names the shape in error messages.

    Returns:
        ndarray: (H, W) uint8 0/1, clipped to the image.
    """
    shape_type = shape.get('shape_type') or 'polygon'
    points = _shape_points(shape, where)
    if shape_type in ('polygon', 'oriented_rectangle'):
        if len(points) < 3:
            raise ConversionError(f'{where}: a polygon needs at least 3 '
                                  f'points, got {len(points)}')
        rles = mask_utils.frPyObjects([points.ravel().tolist()], height,
                                      width)
        return mask_utils.decode(rles)[:, :, 0].astype(np.uint8)
    if shape_type in ('rectangle', 'circle', 'mask') and len(points) != 2:
        raise ConversionError(f'{where}: a {shape_type} needs exactly 2 '
                              f'points, got {len(points)}')
    ys, xs = _pixel_centres(height, width)
    if shape_type == 'rectangle':
        (x_a, y_a), (x_b, y_b) = points
        inside = ((xs >= min(x_a, x_b)) & (xs <= max(x_a, x_b))
                  & (ys >= min(y_a, y_b)) & (ys <= max(y_a, y_b)))
        return inside.astype(np.uint8)
    if shape_type == 'circle':
        (cx, cy), (px, py) = points
        radius_sq = (px - cx) ** 2 + (py - cy) ** 2
        return ((xs - cx) ** 2 + (ys - cy) ** 2 <= radius_sq).astype(np.uint8)
    if shape_type == 'mask':
        patch = _decode_mask_png(shape, where)
        x1 = int(round(points[:, 0].min()))
        y1 = int(round(points[:, 1].min()))
        mask = np.zeros((height, width), np.uint8)
        y_start, y_stop = max(y1, 0), min(y1 + patch.shape[0], height)
        x_start, x_stop = max(x1, 0), min(x1 + patch.shape[1], width)
        if y_start < y_stop and x_start < x_stop:
            mask[y_start:y_stop, x_start:x_stop] = patch[
                y_start - y1:y_stop - y1, x_start - x1:x_stop - x1]
        return mask
    raise ConversionError(f'{where}: shape_type {shape_type!r} is not an '
                          f'area')


# -------------------------------------------------------------- one frame
def read_frame(json_path: str, annotation: dict,
               skipped: Counter, warnings: List[str]) -> Tuple[dict, list]:
    """Read one labelme json already loaded with :func:`load_labelme_json`.

    Returns:
        tuple: (frame dict of the conversion, list of shape records
        ``(label, group_id, shape index, (H, W) uint8 mask)`` of its area
        shapes). Non-area shapes are counted in ``skipped``, clipped and
        outside shapes in ``warnings``.
    """
    frame = resolve_image(json_path, annotation)
    height, width = frame['height'], frame['width']
    json_size = (annotation.get('imageHeight'), annotation.get('imageWidth'))
    if any(given is not None and given != actual
           for given, actual in zip(json_size, (height, width))):
        raise ConversionError(
            f'{json_path}: imageHeight x imageWidth {json_size[0]}x'
            f'{json_size[1]} differ from the image '
            f'{frame["source"] or "(embedded imageData)"}, which is '
            f'{height}x{width} (height x width)')
    records = []
    for index, shape in enumerate(annotation['shapes']):
        where = f'{json_path} shape {index}'
        if not isinstance(shape, dict):
            raise ConversionError(f'{where}: a shape is an object, got '
                                  f'{type(shape).__name__}')
        label = shape.get('label')
        if not isinstance(label, str) or not label.strip():
            raise ConversionError(f'{where}: "label" must be a non-empty '
                                  f'string, got {label!r}')
        where = f'{where} (label {label!r})'
        shape_type = shape.get('shape_type') or 'polygon'
        if shape_type not in AREA_SHAPE_TYPES:
            skipped[_skip_reason_for_type(str(shape_type))] += 1
            continue
        group_id = shape.get('group_id')
        if group_id is not None and (isinstance(group_id, bool) or
                                     not isinstance(group_id, (int, str))):
            raise ConversionError(f'{where}: "group_id" must be an integer '
                                  f'or null, got {group_id!r}')
        mask = shape_to_mask(shape, height, width, where=where)
        x0, y0, x1, y1 = shape_extent(shape, where)
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            extent = (f'x {x0:g}..{x1:g}, y {y0:g}..{y1:g} outside the '
                      f'{width}x{height} image')
            if mask.any():
                warnings.append(f'{where} {shape_type}: partly outside the '
                                f'image ({extent}); clipped')
            else:
                warnings.append(f'{where} {shape_type}: entirely outside the '
                                f'image ({extent}); contributes nothing')
        elif not mask.any():
            warnings.append(f'{where} {shape_type}: covers no pixel centre; '
                            f'contributes nothing')
        records.append((label, group_id, index, mask))
    frame_out = dict(file_name=frame['file_name'], source=frame['source'],
                     data=frame['data'], height=height, width=width)
    return frame_out, records


# -------------------------------------------------------------- one video
def _check_ungrouped(video_dir: str, json_names: List[str],
                     frame_records: List[list]) -> None:
    """Raise ConversionError when shapes without group_id cannot be told
    apart (two in one frame, or a grouped shape with the same label).

    ``frame_records`` holds per frame ``(label, group_id, shape index)`` of
    each area shape; ``json_names`` the frames' json file names."""
    ungrouped = defaultdict(Counter)   # label -> {frame index: count}
    grouped = defaultdict(set)         # label -> frame indices
    for t, records in enumerate(frame_records):
        for label, group_id, _ in records:
            if group_id is None:
                ungrouped[label][t] += 1
            else:
                grouped[label].add(t)
    for label in sorted(ungrouped):
        crowded = sorted(t for t, count in ungrouped[label].items()
                         if count > 1)
        if crowded:
            raise ConversionError(
                f'video {video_dir}: label {label!r} has several shapes '
                f'without group_id in one frame, in '
                f'{", ".join(json_names[t] for t in crowded)}; give the '
                f'shapes of each object its own group_id in labelme (one '
                f'instance per label and group_id)')
        if label in grouped:
            raise ConversionError(
                f'video {video_dir}: label {label!r} has shapes without '
                f'group_id (in '
                f'{", ".join(json_names[t] for t in sorted(ungrouped[label]))}'
                f') and shapes with a group_id (in '
                f'{", ".join(json_names[t] for t in sorted(grouped[label]))}'
                f'); give all shapes of this label group_ids')


def read_video(video_dir: str, skipped: Counter,
               warnings: List[str]) -> Optional[dict]:
    """Read one ``SRC/<video>/`` folder.

    Returns:
        dict or None: the conversion's video (``name``, ``frames``,
        ``instances``), or None (counted in ``skipped``) when the folder has
        no labelme json.
    """
    names = sorted((n for n in os.listdir(video_dir) if not n.startswith('.')),
                   key=natural_key)
    json_names = sorted((n for n in names if n.lower().endswith('.json')
                         and osp.isfile(osp.join(video_dir, n))),
                        key=lambda n: natural_key(osp.splitext(n)[0]))
    image_paths = {osp.abspath(osp.join(video_dir, n)) for n in names
                   if osp.splitext(n)[1].lower() in IMAGE_EXTENSIONS
                   and osp.isfile(osp.join(video_dir, n))}
    if not json_names:
        skipped[SKIP_EMPTY_VIDEO] += 1
        return None
    json_paths = [osp.join(video_dir, n) for n in json_names]
    frames, frame_records, frame_unions = [], [], []
    for json_path in json_paths:
        frame, records = read_frame(json_path, load_labelme_json(json_path),
                                    skipped, warnings)
        if frames and (frame['height'], frame['width']) != (
                frames[0]['height'], frames[0]['width']):
            raise ConversionError(
                f'video {video_dir}: {json_path} is {frame["width"]}x'
                f'{frame["height"]} but {json_paths[0]} is '
                f'{frames[0]["width"]}x{frames[0]["height"]} (width x '
                f'height); all frames of a video must have one size')
        frames.append(frame)
        # keep (label, group_id) per shape for the grouping check, and per
        # key only the RLE of the union (not every (H, W) mask of a video)
        frame_records.append([record[:3] for record in records])
        unions = {}
        for label, group_id, _, mask in records:
            key = (label, group_id)
            unions[key] = mask if key not in unions else \
                np.maximum(unions[key], mask)
        frame_unions.append({key: mask_to_rle(mask) if mask.any() else None
                             for key, mask in unions.items()})
    used = {f['source'] for f in frames if f['source'] is not None}
    unannotated = len(image_paths - used)
    if unannotated:
        skipped[SKIP_UNANNOTATED] += unannotated
    _check_ungrouped(video_dir, json_names, frame_records)

    instances, index_of = [], {}
    for t, unions in enumerate(frame_unions):
        for (label, group_id), rle in unions.items():  # first-shape order
            if (label, group_id) not in index_of:
                index_of[(label, group_id)] = len(instances)
                group = ('(no group_id)' if group_id is None
                         else f'group {group_id}')
                instances.append(dict(
                    category=label, iscrowd=0,
                    segmentations=[None] * len(frames),
                    where=f'{json_paths[t]} label {json.dumps(label)} '
                    f'{group}'))
            instances[index_of[(label, group_id)]]['segmentations'][t] = rle
    return dict(name=osp.basename(osp.normpath(video_dir)), frames=frames,
                instances=instances)


# ------------------------------------------------------------ a data root
def read_labelme(src: str, progress: bool = False) -> dict:
    """Read ``SRC/<video>/<frame>.json`` labelme annotations.

    Args:
        src (str): folder with one subfolder per video (deeper folders are
            not searched).
        progress (bool): show a tqdm bar over the videos.

    Returns:
        dict: the conversion (``videos``, ``categories`` None, ``skipped``,
        ``warnings``); see :mod:`vis.datasets.converters.writer`.
    """
    if not osp.isdir(src):
        raise ConversionError(f'SRC {src} is not a folder')
    entries = sorted(os.listdir(src), key=natural_key)
    stray = [n for n in entries if n.lower().endswith('.json')
             and osp.isfile(osp.join(src, n))]
    if stray:
        raise ConversionError(
            f'{osp.join(src, stray[0])}: a labelme json directly in SRC; the '
            f'layout is SRC/<video>/<frame>.json (one folder per video, '
            f'{len(stray)} json file(s) found in {src})')
    video_dirs = [osp.join(src, n) for n in entries
                  if not n.startswith('.') and osp.isdir(osp.join(src, n))]
    skipped, warnings = Counter(), []
    iterator = video_dirs
    if progress:
        from tqdm import tqdm
        iterator = tqdm(video_dirs, desc='reading labelme videos',
                        unit='video')
    videos = []
    for video_dir in iterator:
        video = read_video(video_dir, skipped, warnings)
        if video is not None:
            videos.append(video)
    if not videos:
        raise ConversionError(
            f'no labelme json found in {src}/<video>/ ({len(video_dirs)} '
            f'video folder(s)); the layout is SRC/<video>/<frame>.json')
    return dict(videos=videos, categories=None, skipped=dict(skipped),
                warnings=warnings)

