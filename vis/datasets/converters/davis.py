"""Read DAVIS / YouTube-VOS style index PNG masks as a *conversion*.

The layout (``SRC`` is the folder given on the command line)::

    SRC/JPEGImages[/480p|/Full-Resolution]/<video>/<frame>.jpg
    SRC/Annotations[/480p|/Full-Resolution]/<video>/<frame>.png

The resolution level is optional: DAVIS has ``480p`` and ``Full-Resolution``
(480p is used when both exist, unless ``resolution`` says otherwise), the
YouTube-VOS train split has none (``SRC/JPEGImages/<video>/*.jpg``).

Each PNG is a palette (``'P'``) or 8-bit grey (``'L'``) image whose pixel
*value* (the palette index, not its colour) is the instance index in the
video: 0 is background, 1..254 are objects, 255 is "void" (a region to
ignore, e.g. object borders in DAVIS 2017) and never an instance. The one
exception is DAVIS 2016: a video whose every mask holds only the values
{0, 255} is a binary single-object video, and 255 is then object index 1.

An instance is one (video, index) pair; its ``segmentations`` hold one RLE
per annotated frame of the video, None where the index does not appear.

A frame image without a PNG is unannotated: it is dropped and counted in
``skipped``; a PNG without a frame image is an error. A video folder
without any PNG is skipped and counted.

Category names come from ``categories`` (``{video: {index: name}}``, see
:func:`load_davis_categories` for the two file formats read) or from one
``category`` name given to every instance.
"""
import json
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from .writer import ConversionError, mask_to_rle, natural_key

#: Resolution sub-folders of DAVIS, in order of preference.
RESOLUTIONS = ('480p', 'Full-Resolution')

#: File name endings accepted as frame images (case-insensitive).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')

#: The "void / ignore" value of DAVIS masks.
VOID_VALUE = 255

#: Keys of ``skipped`` this reader counts under.
SKIP_UNANNOTATED_FRAME = 'frame without an annotation PNG (unannotated)'
SKIP_VIDEO_WITHOUT_PNG = 'video without any annotation PNG'
SKIP_VOID = 'frame with void/ignore pixels (value 255), not an instance'


# ------------------------------------------------------------- categories
def load_davis_categories(path: str) -> Dict[str, Dict[int, str]]:
    """Read the category names of DAVIS/YouTube-VOS instances.

    Two json formats are detected:

    * a mapping ``{video: {"<instance index>": "<category name>"}}``;
    * a YouTube-VOS ``meta.json``:
      ``{"videos": {video: {"objects": {"1": {"category": "person",
      "frames": [...]}}}}}``.

    Returns:
        dict: ``{video name: {instance index (int >= 1): category name}}``.

    Raises ConversionError naming the file (and the video and key) on an
    unreadable file, a non-integer index or a missing/empty name.
    """
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except OSError as err:
        raise ConversionError(f'--categories {path}: cannot read the file '
                              f'({err.strerror})') from err
    except ValueError as err:
        raise ConversionError(f'--categories {path}: not a json file '
                              f'({err})') from err
    if not isinstance(data, dict):
        raise ConversionError(
            f'--categories {path}: expected a json object {{video: {{index: '
            f'name}}}} or a YouTube-VOS meta.json, got a '
            f'{type(data).__name__}')
    if _is_youtube_vos_meta(data):
        return _parse_meta(data['videos'], path)
    return _parse_mapping(data, path)


def _is_youtube_vos_meta(data: dict) -> bool:
    """True for ``{"videos": {video: {"objects": {...}}}}``."""
    videos = data.get('videos')
    return (list(data) == ['videos'] and isinstance(videos, dict) and
            all(isinstance(v, dict) and 'objects' in v
                for v in videos.values()))


def _parse_index(key, path: str, video: str) -> int:
    """An instance index key ("3") as an int >= 1, or raise."""
    try:
        index = int(key)
    except (TypeError, ValueError):
        index = None
    if index is None or index < 1 or str(index) != str(key).strip():
        raise ConversionError(
            f'--categories {path}: video {video!r}: instance index {key!r} is '
            f'not an integer >= 1')
    return index


def _check_name(name, path: str, video: str, key) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ConversionError(
            f'--categories {path}: video {video!r} instance {key}: category '
            f'name {name!r} is not a non-empty string')
    return name.strip()


def _parse_mapping(data: dict, path: str) -> Dict[str, Dict[int, str]]:
    names = {}
    for video, objects in data.items():
        if not isinstance(objects, dict):
            raise ConversionError(
                f'--categories {path}: video {video!r}: expected an object '
                f'{{index: name}}, got {objects!r}')
        names[video] = {
            _parse_index(key, path, video): _check_name(name, path, video, key)
            for key, name in objects.items()}
    return names


def _parse_meta(videos: dict, path: str) -> Dict[str, Dict[int, str]]:
    names = {}
    for video, entry in videos.items():
        objects = entry['objects']
        if not isinstance(objects, dict):
            raise ConversionError(
                f'--categories {path} (YouTube-VOS meta.json): video '
                f'{video!r}: "objects" is not an object')
        names[video] = {}
        for key, obj in objects.items():
            category = obj.get('category') if isinstance(obj, dict) else None
            names[video][_parse_index(key, path, video)] = _check_name(
                category, f'{path} (YouTube-VOS meta.json)', video, key)
    return names


# ---------------------------------------------------------------- layout
def find_davis_folders(src: str,
                       resolution: Optional[str] = None) -> Tuple[str, str]:
    """Return (frame root, annotation root) of a DAVIS/YouTube-VOS folder.

    ``resolution`` (``'480p'`` or ``'Full-Resolution'``) picks the DAVIS
    level; None picks 480p if ``SRC/Annotations/480p`` exists, else
    Full-Resolution if it exists, else no level (YouTube-VOS layout)."""
    jpeg_root = osp.join(src, 'JPEGImages')
    ann_root = osp.join(src, 'Annotations')
    for folder in (jpeg_root, ann_root):
        if not osp.isdir(folder):
            raise ConversionError(
                f'{folder} not found: --format davis expects '
                f'SRC/JPEGImages[/480p]/<video>/<frame>.jpg and '
                f'SRC/Annotations[/480p]/<video>/<frame>.png')
    if resolution is not None:
        if resolution not in RESOLUTIONS:
            raise ConversionError(f'--resolution must be one of '
                                  f'{RESOLUTIONS}, got {resolution!r}')
        levels = [resolution]
    else:
        levels = [r for r in RESOLUTIONS if osp.isdir(osp.join(ann_root, r))]
    if not levels:
        return jpeg_root, ann_root
    level = levels[0]
    for folder in (osp.join(jpeg_root, level), osp.join(ann_root, level)):
        if not osp.isdir(folder):
            raise ConversionError(
                f'{folder} not found (resolution {level}); the frames and '
                f'the annotations must both have the {level} level')
    return osp.join(jpeg_root, level), osp.join(ann_root, level)


def _list_files(folder: str, extensions: Tuple[str, ...]) -> Dict[str, str]:
    """{stem: file name} of the files in ``folder`` with these endings;
    two files of one stem (``a.jpg`` and ``a.jpeg``) are an error."""
    found = {}
    for name in os.listdir(folder):
        stem, ext = osp.splitext(name)
        if ext.lower() not in extensions or \
                not osp.isfile(osp.join(folder, name)):
            continue
        if stem in found:
            raise ConversionError(
                f'{folder}: two files for frame {stem!r}: {found[stem]} and '
                f'{name}')
        found[stem] = name
    return found


def image_size(path: str) -> Tuple[int, int]:
    """(width, height) of an image from its header (no decoding)."""
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError) as err:
        raise ConversionError(f'{path}: cannot read the image ({err})') from err


def check_mask_size(mask: np.ndarray, png_path: str, image_path: str,
                    width: int, height: int) -> None:
    """Raise a ConversionError naming both files unless ``mask`` (H, W)
    has the size ``width`` x ``height`` of its frame."""
    if mask.shape != (height, width):
        raise ConversionError(
            f'{png_path} is {mask.shape[1]}x{mask.shape[0]} but its frame '
            f'{image_path} is {width}x{height} (width x height); a mask '
            f'must have the size of its frame')


# ----------------------------------------------------------------- masks
def read_index_png(path: str) -> np.ndarray:
    """Read a palette or 8-bit grey PNG as its index values.

    Returns:
        ndarray: (H, W) uint8, the palette indices ('P') or grey values
        ('L'); a 1-bit PNG gives 0/1.

    Raises ConversionError naming the file on an unreadable PNG or one of
    another mode (RGB, 16-bit...), which holds no instance indices."""
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ('P', 'L', '1'):
                return np.array(img, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as err:
        raise ConversionError(f'{path}: cannot read the PNG ({err})') from err
    hint = ''
    if mode.startswith('I'):
        hint = ' (16-bit masks of class_id * 1000 + instance_id are MOTS ' \
               'PNGs: use --format mots)'
    raise ConversionError(
        f'{path}: PNG mode {mode!r} holds no instance indices; --format '
        f'davis expects a palette (P) or 8-bit grey (L) PNG whose pixel value '
        f'is the instance index (0 background, 255 void), as DAVIS and '
        f'YouTube-VOS ship them, not a colour rendering{hint}')


def _video_instances(masks: List[Optional[np.ndarray]]) -> Tuple[
        List[int], bool, int]:
    """Decide the instance indices of one video.

    Args:
        masks: one (H, W) uint8 index mask per frame.

    Returns:
        (sorted instance indices, binary, frames with void pixels):
        ``binary`` is True for a DAVIS 2016 video (only {0, 255} in every
        frame, 255 present), whose one object has index 255.
    """
    values_per_frame = [set(np.unique(m).tolist()) for m in masks]
    all_values = set().union(*values_per_frame)
    if VOID_VALUE in all_values and all_values <= {0, VOID_VALUE}:
        return [VOID_VALUE], True, 0
    void_frames = sum(VOID_VALUE in values for values in values_per_frame)
    indices = sorted(all_values - {0, VOID_VALUE})
    return indices, False, void_frames


# ----------------------------------------------------------------- reader
def read_davis(src: str,
               categories: Optional[Dict[str, Dict[int, str]]] = None,
               category: Optional[str] = None,
               resolution: Optional[str] = None,
               progress: bool = False) -> dict:
    """Read a DAVIS / YouTube-VOS index-PNG folder (see the module doc).

    Args:
        src: the folder holding ``JPEGImages/`` and ``Annotations/``.
        categories: ``{video: {instance index: category name}}``, e.g. from
            :func:`load_davis_categories`; an index without a name is a
            ConversionError naming the video and the index. The index of a
            DAVIS 2016 binary video's object is 1.
        category: one category name for every instance (instead of
            ``categories``).
        resolution: ``'480p'``, ``'Full-Resolution'`` or None (detect).
        progress: show a tqdm bar over the videos.

    Returns:
        dict: a conversion (see :mod:`vis.datasets.converters.writer`).
    """
    if (categories is None) == (category is None):
        raise ConversionError(
            'DAVIS/YouTube-VOS PNGs hold no category names: give '
            '--categories FILE (json {video: {index: name}} or a YouTube-VOS '
            'meta.json) or one name for all with --category NAME, e.g. '
            '--category object' if categories is None else
            'give either --categories or --category, not both')
    jpeg_root, ann_root = find_davis_folders(src, resolution)
    frame_videos = {n for n in os.listdir(jpeg_root)
                    if osp.isdir(osp.join(jpeg_root, n))}
    ann_videos = {n for n in os.listdir(ann_root)
                  if osp.isdir(osp.join(ann_root, n))}
    for name in sorted(ann_videos - frame_videos, key=natural_key):
        pngs = sorted(_list_files(osp.join(ann_root, name), ('.png',)).values(),
                      key=natural_key)
        if pngs:
            raise ConversionError(
                f'{osp.join(ann_root, name, pngs[0])}: annotation PNG without '
                f'a frame image (no folder {osp.join(jpeg_root, name)})')
    video_names = sorted(frame_videos, key=natural_key)
    iterator = video_names
    if progress:
        from tqdm import tqdm
        iterator = tqdm(video_names, desc='reading videos', unit='video')
    videos, skipped, warnings = [], Counter(), []
    for name in iterator:
        video = _read_video(name, jpeg_root, ann_root, categories, category,
                            skipped)
        if video is not None:
            videos.append(video)
    return dict(videos=videos, categories=None, skipped=dict(skipped),
                warnings=warnings)


def _read_video(name: str, jpeg_root: str, ann_root: str,
                categories: Optional[Dict[str, Dict[int, str]]],
                category: Optional[str], skipped: Counter) -> Optional[dict]:
    """Read one video; None (counted in ``skipped``) when it has no PNG."""
    frame_dir = osp.join(jpeg_root, name)
    ann_dir = osp.join(ann_root, name)
    images = _list_files(frame_dir, IMAGE_EXTENSIONS)
    pngs = _list_files(ann_dir, ('.png',)) if osp.isdir(ann_dir) else {}
    orphans = sorted(set(pngs) - set(images), key=natural_key)
    if orphans:
        raise ConversionError(
            f'{osp.join(ann_dir, pngs[orphans[0]])}: annotation PNG without '
            f'a frame image (no {orphans[0]}.jpg in {frame_dir})')
    if not pngs:
        skipped[SKIP_VIDEO_WITHOUT_PNG] += 1
        return None
    unannotated = len(set(images) - set(pngs))
    if unannotated:
        skipped[SKIP_UNANNOTATED_FRAME] += unannotated
    frames, masks = [], []
    for stem in sorted(pngs, key=natural_key):
        image_path = osp.abspath(osp.join(frame_dir, images[stem]))
        png_path = osp.join(ann_dir, pngs[stem])
        width, height = image_size(image_path)
        mask = read_index_png(png_path)
        check_mask_size(mask, png_path, image_path, width, height)
        frames.append(dict(file_name=images[stem], source=image_path,
                           data=None, height=height, width=width))
        masks.append(mask)
    indices, binary, void_frames = _video_instances(masks)
    if void_frames:
        skipped[SKIP_VOID] += void_frames
    instances = []
    for index in indices:
        label_index = 1 if binary else index
        if category is not None:
            name_of_category = category
        else:
            name_of_category = categories.get(name, {}).get(label_index)
            if name_of_category is None:
                first = next(t for t, m in enumerate(masks)
                             if (m == index).any())
                raise ConversionError(
                    f'video {name!r}: instance index {label_index} (in '
                    f'{osp.join(ann_dir, pngs[_stem(frames[first])])}) has '
                    f'no category name in --categories (known indices of '
                    f'this video: {sorted(categories.get(name, {}))})')
        segmentations = []
        for mask in masks:
            object_mask = mask == index
            segmentations.append(mask_to_rle(object_mask)
                                 if object_mask.any() else None)
        instances.append(dict(
            category=name_of_category, segmentations=segmentations,
            iscrowd=0,
            where=f'{ann_dir} instance index {label_index}'
            + (' (binary 0/255 masks)' if binary else '')))
    return dict(name=name, frames=frames, instances=instances)


def _stem(frame: dict) -> str:
    return osp.splitext(frame['file_name'])[0]
