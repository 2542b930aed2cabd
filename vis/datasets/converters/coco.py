"""Read a COCO instance-segmentation json as one-frame videos.

Every image becomes a video of one frame (folder = the image's file stem),
so still images train the detector and, through
:class:`vis.datasets.KeyFrameReferenceWarp`, the track head too. COCO's
category ids and names are kept; polygons and RLE (compressed or not) are
kept exactly as written; crowd annotations keep ``iscrowd=1`` (they become
ignore regions in training, like in mmdet's COCO pipeline).

What is left out, and counted: annotations without a segmentation, polygon
parts with fewer than 3 points (pycocotools would read a 4-number list as a
box), and with ``skip_empty`` the images without any annotation.
"""
import json
import os.path as osp
from collections import Counter
from typing import Dict, List

from PIL import Image

from .writer import ConversionError, natural_key


def load_coco(path: str) -> dict:
    """Load a COCO json; errors name the file."""
    if not osp.isfile(path):
        raise ConversionError(f'COCO json not found: {path}')
    try:
        with open(path, encoding='utf-8') as f:
            coco = json.load(f)
    except json.JSONDecodeError as err:
        raise ConversionError(f'{path}: invalid JSON: {err}') from err
    if not isinstance(coco, dict):
        raise ConversionError(f'{path}: a COCO json is an object with '
                              f"'images', 'annotations' and 'categories'")
    for key in ('images', 'categories'):
        if not isinstance(coco.get(key), list):
            raise ConversionError(f"{path}: missing or non-list '{key}'")
    if not isinstance(coco.get('annotations', []), list):
        raise ConversionError(f"{path}: 'annotations' must be a list")
    return coco


def _video_names(images: List[dict], path: str) -> Dict[object, str]:
    """Map image id -> video folder name: the file stem, or, where two
    images share a stem, the file path with '/' replaced by '_'."""
    stems = {}
    for index, image in enumerate(images):
        for key in ('id', 'file_name', 'height', 'width'):
            if key not in image:
                raise ConversionError(
                    f"{path}: images[{index}] has no '{key}'")
        file_name = str(image['file_name']).replace('\\', '/')
        stems[image['id']] = (osp.splitext(osp.basename(file_name))[0],
                              osp.splitext(file_name)[0].strip('/'))
    counts = Counter(stem for stem, _ in stems.values())
    names = {}
    for image_id, (stem, long_name) in stems.items():
        names[image_id] = stem if counts[stem] == 1 else \
            long_name.replace('/', '_')
    repeated = [n for n, c in Counter(names.values()).items() if c > 1]
    if repeated:
        raise ConversionError(f'{path}: several images map to the video '
                              f'names {sorted(repeated)[:5]}')
    return names


def _clean_segmentation(seg, where: str, warnings: List[str]):
    """Return the segmentation to keep (None to drop the annotation):
    polygon parts with fewer than 3 points are removed with a warning."""
    if isinstance(seg, list):
        kept = [p for p in seg if isinstance(p, list) and len(p) >= 6]
        if len(kept) < len(seg):
            warnings.append(f'{where}: dropped {len(seg) - len(kept)} polygon '
                            f'part(s) with fewer than 3 points')
        return kept or None
    if isinstance(seg, dict) and 'counts' in seg and 'size' in seg:
        return seg
    return None


def read_coco(ann_file: str, image_dir: str, skip_empty: bool = False,
              progress: bool = False) -> dict:
    """Read a COCO json and its images as a conversion (one-frame videos).

    Args:
        ann_file: COCO instances json (``images``, ``annotations``,
            ``categories``).
        image_dir: folder that the images' ``file_name`` is relative to.
        skip_empty: leave out images without any annotation (counted);
            by default they are kept as videos without instances.
        progress: show a tqdm bar over the images.

    Returns:
        dict: the conversion (see :mod:`vis.datasets.converters.writer`),
        with ``'categories'`` = COCO's ids and names.
    """
    coco = load_coco(ann_file)
    categories = []
    seen_names = {}
    for index, cat in enumerate(coco['categories']):
        if 'id' not in cat or 'name' not in cat:
            raise ConversionError(f"{ann_file}: categories[{index}] needs "
                                  f"'id' and 'name'")
        if cat['name'] in seen_names:
            raise ConversionError(
                f"{ann_file}: categories {seen_names[cat['name']]} and "
                f"{cat['id']} are both named {cat['name']!r}")
        seen_names[cat['name']] = cat['id']
        categories.append(dict(id=int(cat['id']), name=str(cat['name']),
                               supercategory=cat.get('supercategory') or ''))
    name_of = {c['id']: c['name'] for c in categories}
    images = coco['images']
    video_names = _video_names(images, ann_file)
    by_image: Dict[object, List[dict]] = {image['id']: [] for image in images}
    skipped, warnings = Counter(), []
    for index, ann in enumerate(coco.get('annotations') or []):
        where = f"{ann_file} annotation id {ann.get('id', f'[{index}]')}"
        if ann.get('image_id') not in by_image:
            raise ConversionError(f"{where}: image_id "
                                  f"{ann.get('image_id')!r} is not an image "
                                  f'of the file')
        if ann.get('category_id') not in name_of:
            raise ConversionError(
                f"{where}: category_id {ann.get('category_id')!r} is not "
                f'among the categories {sorted(name_of)[:20]}')
        seg = _clean_segmentation(ann.get('segmentation'), where, warnings)
        if seg is None:
            skipped['annotation without a usable segmentation'] += 1
            continue
        by_image[ann['image_id']].append(dict(
            category=name_of[ann['category_id']], segmentations=[seg],
            iscrowd=int(bool(ann.get('iscrowd', 0))), where=where))

    iterator = images
    if progress:
        from tqdm import tqdm
        iterator = tqdm(images, desc='images', unit='image')
    videos = []
    for image in iterator:
        instances = by_image[image['id']]
        if skip_empty and not instances:
            skipped['image without annotations (--skip-empty)'] += 1
            continue
        file_name = str(image['file_name']).replace('\\', '/')
        source = osp.abspath(osp.join(image_dir, file_name))
        if not osp.isfile(source):
            raise ConversionError(f"{ann_file}: image id {image['id']}: "
                                  f'file not found: {source}')
        height, width = int(image['height']), int(image['width'])
        try:
            with Image.open(source) as img:  # reads the header only
                file_width, file_height = img.size
        except OSError as err:
            raise ConversionError(f"{ann_file}: image id {image['id']}: "
                                  f'cannot read {source}: {err}') from err
        if (file_height, file_width) != (height, width):
            raise ConversionError(
                f"{ann_file}: image id {image['id']} ({file_name}) is "
                f'{width}x{height} in the json but {file_width}x'
                f'{file_height} in the file')
        for inst in instances:
            seg = inst['segmentations'][0]
            if isinstance(seg, dict) and \
                    list(seg['size']) != [height, width]:
                raise ConversionError(
                    f"{inst['where']}: RLE size {seg['size']} differs from "
                    f"image {image['id']}'s size [{height}, {width}]")
        videos.append(dict(
            name=video_names[image['id']],
            frames=[dict(file_name=osp.basename(file_name), source=source,
                         data=None, height=height, width=width)],
            instances=instances))
    videos.sort(key=lambda v: natural_key(v['name']))
    return dict(videos=videos, categories=categories, skipped=dict(skipped),
                warnings=warnings)

