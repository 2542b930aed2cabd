"""Export a YouTube-VIS data set as PNG instance masks (test helpers).

The inverse of ``tools/dataset_converters/png2ytvis.py``, so that a
conversion can be checked by a round trip (and a bigger synthetic set
turned into DAVIS or MOTS input)::

    from tests.export_png import export_davis, export_mots
    cats = export_davis('data/synthetic_ytvis/train.json',
                        'data/synthetic_ytvis/train/JPEGImages', 'data/davis')
    # python tools/dataset_converters/png2ytvis.py data/davis out \\
    #     --categories <cats>
    export_mots('data/synthetic_ytvis/train.json',
                'data/synthetic_ytvis/train/JPEGImages', 'data/mots')
    # python tools/dataset_converters/png2ytvis.py data/mots out --format mots

Both write one PNG for every frame of every video (an all-zero PNG where no
object is visible), so no frame is dropped as unannotated.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional

import numpy as np
import pycocotools.mask as mask_utils
from PIL import Image


def decode_segmentation(seg, height: int, width: int) -> Optional[np.ndarray]:
    """Decode one YouTube-VIS segmentation.

    Args:
        seg: None, compressed or uncompressed RLE, or COCO polygons.

    Returns:
        ndarray or None: (H, W) uint8 0/1 mask.
    """
    if seg is None:
        return None
    if isinstance(seg, list):  # polygons
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    elif isinstance(seg.get('counts'), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = dict(size=seg['size'], counts=seg['counts'].encode('ascii')
                   if isinstance(seg['counts'], str) else seg['counts'])
    return mask_utils.decode(rle).astype(np.uint8)


def davis_palette() -> List[int]:
    """The 256-colour DAVIS/PASCAL VOC palette (index 0 black, 1 red,
    2 green, ...) as a flat [r, g, b, ...] list of 768 ints."""
    palette = []
    for index in range(256):
        red = green = blue = 0
        bits = index
        for shift in range(7, -1, -1):
            red |= (bits & 1) << shift
            green |= ((bits >> 1) & 1) << shift
            blue |= ((bits >> 2) & 1) << shift
            bits >>= 3
        palette.extend([red, green, blue])
    return palette


def _load(ann_file: str):
    """(json, {video id: [annotation, ...] in json order})."""
    with open(ann_file, encoding='utf-8') as f:
        ann = json.load(f)
    per_video: Dict[int, list] = {}
    for a in ann.get('annotations') or []:
        per_video.setdefault(a['video_id'], []).append(a)
    return ann, per_video


def _video_name(video: dict) -> str:
    return video['file_names'][0].split('/')[0]


def _frame_masks(video: dict, annotations: list, t: int,
                 value_of: List[int], dtype) -> np.ndarray:
    """One (H, W) label image of frame ``t``: ``value_of[k]`` where
    annotation ``k`` is; a later annotation overwrites an earlier one where
    they overlap."""
    height, width = int(video['height']), int(video['width'])
    label = np.zeros((height, width), dtype)
    for value, a in zip(value_of, annotations):
        mask = decode_segmentation(a['segmentations'][t], height, width)
        if mask is not None:
            label[mask.astype(bool)] = value
    return label


def export_davis(ann_file: str, img_dir: str, out_dir: str,
                 palette: bool = True,
                 resolution: Optional[str] = '480p') -> str:
    """Write a YouTube-VIS json + frames as DAVIS index PNGs.

    Writes ``out_dir/JPEGImages/<resolution>/<video>/<frame>.jpg`` (copies),
    ``out_dir/Annotations/<resolution>/<video>/<frame stem>.png`` (a
    palette PNG, or 8-bit grey with ``palette=False``; value = position of
    the annotation among its video's annotations in the json + 1, 0
    background; where masks overlap the later annotation wins) and
    ``out_dir/categories.json`` ``{video: {"<value>": "<category name>"}}``.
    ``resolution=None`` leaves out the level (YouTube-VOS layout).

    Returns:
        str: the path of the categories json.
    """
    ann, per_video = _load(ann_file)
    names = {c['id']: c['name'] for c in ann['categories']}
    level = [resolution] if resolution else []
    jpeg_root = osp.join(out_dir, 'JPEGImages', *level)
    png_root = osp.join(out_dir, 'Annotations', *level)
    categories = {}
    colours = davis_palette()
    for video in ann['videos']:
        name = _video_name(video)
        annotations = per_video.get(video['id'], [])
        if len(annotations) > 254:
            raise ValueError(f'video {name!r}: {len(annotations)} '
                             f'annotations; an 8-bit index PNG holds 254')
        values = list(range(1, len(annotations) + 1))
        categories[name] = {str(v): names[a['category_id']]
                            for v, a in zip(values, annotations)}
        os.makedirs(osp.join(jpeg_root, name), exist_ok=True)
        os.makedirs(osp.join(png_root, name), exist_ok=True)
        for t, file_name in enumerate(video['file_names']):
            shutil.copyfile(osp.join(img_dir, file_name),
                            osp.join(jpeg_root, file_name))
            label = _frame_masks(video, annotations, t, values, np.uint8)
            image = Image.fromarray(label)  # (H, W) uint8 -> mode 'L'
            if palette:
                image.putpalette(colours)  # 'L' -> 'P', values kept
            stem = osp.splitext(osp.basename(file_name))[0]
            image.save(osp.join(png_root, name, stem + '.png'))
    path = osp.join(out_dir, 'categories.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(categories, f, indent=1)
    return path


def export_mots(ann_file: str, img_dir: str, out_dir: str) -> None:
    """Write a YouTube-VIS json + frames as a CVAT/Datumaro MOTS PNG export,
    one subset per video::

        out_dir/<video>/images/<frame>.jpg                 (copies)
        out_dir/<video>/instances/<frame stem>.png         (16-bit)
        out_dir/<video>/instances/labels.txt

    A pixel value is ``category_id * 1000 + track``, track = position of
    the annotation among its video's annotations + 1 (a later annotation
    wins where masks overlap). ``labels.txt`` holds the category names in
    id order, line n = category id n (ids missing from the json get the
    placeholder name ``unused_<id>``, which no pixel uses).
    """
    ann, per_video = _load(ann_file)
    names = {int(c['id']): c['name'] for c in ann['categories']}
    labels = [names.get(i, f'unused_{i}') for i in range(1, max(names) + 1)]
    for video in ann['videos']:
        name = _video_name(video)
        annotations = per_video.get(video['id'], [])
        if len(annotations) > 999:
            raise ValueError(f'video {name!r}: {len(annotations)} '
                             f'annotations; a MOTS track id is below 1000')
        values = [int(a['category_id']) * 1000 + k + 1
                  for k, a in enumerate(annotations)]
        image_dir = osp.join(out_dir, name, 'images')
        png_dir = osp.join(out_dir, name, 'instances')
        os.makedirs(image_dir, exist_ok=True)
        os.makedirs(png_dir, exist_ok=True)
        with open(osp.join(png_dir, 'labels.txt'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(labels) + '\n')
        for t, file_name in enumerate(video['file_names']):
            base = osp.basename(file_name)
            shutil.copyfile(osp.join(img_dir, file_name),
                            osp.join(image_dir, base))
            label = _frame_masks(video, annotations, t, values, np.uint16)
            Image.fromarray(label).save(
                osp.join(png_dir, osp.splitext(base)[0] + '.png'))
