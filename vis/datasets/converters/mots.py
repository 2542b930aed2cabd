"""Read MOTS PNG masks (CVAT/Datumaro "MOTS PNG" export, KITTI-MOTS) as a
*conversion*.

Every mask is a 16-bit single-channel PNG whose pixel value is
``class_id * 1000 + instance_id`` (0 background). Two layouts are read.

CVAT / Datumaro ``MOTS PNG`` (``SRC`` is the export, or one subset)::

    SRC/<subset>/images/<frame>.jpg
    SRC/<subset>/instances/<frame>.png
    SRC/<subset>/instances/labels.txt

``labels.txt`` holds one label name per line (blank lines skipped), as
Datumaro writes it: the *n*-th name (counting from 1) is ``class_id`` *n*.
It is required in this layout. Frame ids may hold folders
(``instances/seq1/000001.png`` with ``images/seq1/000001.jpg``).

KITTI-MOTS (``SRC`` holds ``instances/``)::

    SRC/instances/<seq>/<frame>.png
    SRC/image_02/<seq>/<frame>.png      (or SRC/training/image_02/...)

with class 1 = car and 2 = pedestrian unless ``instances/labels.txt``
says otherwise.

Videos: a subset is a video named after the subset; frame ids with folders
make one video per folder, named ``<subset>_<folder>`` (or ``<folder>``
when ``SRC`` is itself the subset, as in KITTI-MOTS: ``0000``, ``0001``).

An instance is one (video, pixel value) pair; its category is the label of
``class_id``. Class 10 while there are fewer than 10 labels (KITTI's value
10000) is an ignore region, and pixels of a label named ``ignored`` or
``background`` (Datumaro's default label list) are no instance either:
dropped and counted. A value below 1000 (class 0 with an instance id) is
dropped, counted and warned about. A class id beyond ``labels.txt`` is a
ConversionError naming the PNG and the value. A frame image without a PNG
is unannotated (dropped, counted); a PNG without an image is an error.
"""
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from .davis import IMAGE_EXTENSIONS, check_mask_size, image_size
from .writer import ConversionError, mask_to_rle, natural_key

#: ``value = class_id * MAX_INSTANCES + instance_id``.
MAX_INSTANCES = 1000

#: The ignore class of KITTI-MOTS (value 10000).
IGNORE_CLASS = 10

#: Label names that mark no instance (Datumaro's default label list).
NON_INSTANCE_LABELS = ('background', 'ignored')

#: Class names of KITTI-MOTS when there is no labels.txt.
KITTI_LABELS = ('car', 'pedestrian')

LABELS_FILE = 'labels.txt'
MASKS_DIR = 'instances'
IMAGES_DIR = 'images'
KITTI_IMAGE_DIRS = ('image_02', osp.join('training', 'image_02'))

SKIP_IGNORE = 'ignore region (class 10, e.g. KITTI value 10000) in a frame'
SKIP_NON_INSTANCE = 'region of a non-instance label (background/ignored) ' \
                    'in a frame'
SKIP_CLASS_ZERO = 'value below 1000 (class 0 = background) in a frame'
SKIP_UNANNOTATED_FRAME = 'frame without a MOTS PNG (unannotated)'


# ---------------------------------------------------------------- layout
def find_mots_subsets(src: str) -> List[Tuple[str, str]]:
    """Return [(subset folder, subset name)]: ``SRC`` itself when it holds
    ``instances/``, else each sub-folder of ``SRC`` that does (its name is
    the subset name), in natural order."""
    if not osp.isdir(src):
        raise ConversionError(f'{src}: no such folder')
    if osp.isdir(osp.join(src, MASKS_DIR)):
        return [(src, '')]
    subsets = [(osp.join(src, name), name)
               for name in sorted(os.listdir(src), key=natural_key)
               if osp.isdir(osp.join(src, name, MASKS_DIR))]
    if not subsets:
        raise ConversionError(
            f'{src}: no instances/ folder in it nor in any sub-folder; '
            f'--format mots expects SRC/<subset>/images/<frame>.jpg + '
            f'SRC/<subset>/instances/<frame>.png + instances/labels.txt '
            f'(CVAT/Datumaro MOTS PNG) or SRC/instances/<seq>/<frame>.png + '
            f'SRC/image_02/<seq>/<frame>.png (KITTI-MOTS)')
    return subsets


def _image_root(subset_dir: str) -> Tuple[str, bool]:
    """(folder holding the frame images, is KITTI layout)."""
    datumaro = osp.join(subset_dir, IMAGES_DIR)
    if osp.isdir(datumaro):
        return datumaro, False
    for name in KITTI_IMAGE_DIRS:
        if osp.isdir(osp.join(subset_dir, name)):
            return osp.join(subset_dir, name), True
    raise ConversionError(
        f'{subset_dir}: no frame images: expected {IMAGES_DIR}/ (CVAT/Datumaro '
        f'MOTS PNG, export with images) or image_02/ or training/image_02/ '
        f'(KITTI-MOTS)')


def read_labels(subset_dir: str, kitti: bool) -> List[str]:
    """The label names of a subset: ``instances/labels.txt`` (the n-th
    non-blank line is class n), or the KITTI-MOTS defaults in the KITTI
    layout. A missing labels.txt in the CVAT/Datumaro layout is an
    error."""
    path = osp.join(subset_dir, MASKS_DIR, LABELS_FILE)
    if not osp.isfile(path):
        if kitti:
            return list(KITTI_LABELS)
        raise ConversionError(
            f'{path} not found: a CVAT/Datumaro MOTS PNG export names its '
            f'classes there (one per line, line n = class_id n); without it '
            f'the pixel values class_id * 1000 + instance_id have no category')
    with open(path, encoding='utf-8') as f:
        labels = [line.strip() for line in f if line.strip()]
    if not labels:
        raise ConversionError(f'{path}: no label names')
    return labels


def _find_images(root: str) -> Dict[str, str]:
    """{frame id (relative path without extension): absolute image path}."""
    images = {}
    for folder, _, files in os.walk(root):
        for name in files:
            stem, ext = osp.splitext(name)
            if ext.lower() not in IMAGE_EXTENSIONS:
                continue
            frame_id = osp.relpath(osp.join(folder, stem), root)
            if frame_id in images:
                raise ConversionError(
                    f'{root}: two images for frame {frame_id!r}: '
                    f'{images[frame_id]} and {osp.join(folder, name)}')
            images[frame_id] = osp.abspath(osp.join(folder, name))
    return images


def _find_pngs(root: str) -> Dict[str, str]:
    """{frame id: PNG path} under ``instances/``."""
    pngs = {}
    for folder, _, files in os.walk(root):
        for name in files:
            stem, ext = osp.splitext(name)
            if ext.lower() == '.png':
                pngs[osp.relpath(osp.join(folder, stem), root)] = \
                    osp.join(folder, name)
    return pngs


# ----------------------------------------------------------------- masks
def read_mots_png(path: str) -> np.ndarray:
    """Read a 16-bit MOTS PNG.

    Returns:
        ndarray: (H, W) int64 pixel values ``class_id * 1000 +
        instance_id``.

    Raises ConversionError naming the file when it cannot be read or is not
    a single-channel PNG."""
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode.startswith('I'):
                values = np.array(img)
                if values.ndim == 2:
                    return values.astype(np.int64)
    except (OSError, ValueError, SyntaxError) as err:
        raise ConversionError(f'{path}: cannot read the PNG ({err})') from err
    if mode in ('L', 'P', '1'):
        raise ConversionError(
            f'{path}: 8-bit PNG (mode {mode!r}) cannot hold MOTS values '
            f'class_id * 1000 + instance_id; a MOTS PNG is 16-bit (for '
            f'DAVIS/YouTube-VOS index PNGs use --format davis)')
    raise ConversionError(
        f'{path}: PNG mode {mode!r}; a MOTS PNG is a single-channel (16-bit) '
        f'image of class_id * 1000 + instance_id values')


# ----------------------------------------------------------------- reader
def read_mots(src: str, progress: bool = False) -> dict:
    """Read a CVAT/Datumaro MOTS PNG export or KITTI-MOTS (see the module
    doc).

    Args:
        src: the export folder (holding subsets), one subset, or a
            KITTI-MOTS folder (holding ``instances/``).
        progress: show a tqdm bar over the videos.

    Returns:
        dict: a conversion (see :mod:`vis.datasets.converters.writer`).
    """
    jobs = []  # (video name, frame ids, pngs, images, labels)
    skipped, warnings = Counter(), []
    for subset_dir, subset_name in find_mots_subsets(src):
        image_root, kitti = _image_root(subset_dir)
        labels = read_labels(subset_dir, kitti)
        pngs = _find_pngs(osp.join(subset_dir, MASKS_DIR))
        images = _find_images(image_root)
        for frame_id in sorted(pngs, key=natural_key):
            if frame_id not in images:
                raise ConversionError(
                    f'{pngs[frame_id]}: MOTS PNG without a frame image (no '
                    f'{frame_id}.jpg or .png in {image_root})')
        groups = {}
        for frame_id in pngs:
            groups.setdefault(osp.dirname(frame_id), []).append(frame_id)
        unannotated = Counter(osp.dirname(i) for i in set(images) - set(pngs))
        for folder in sorted(groups, key=natural_key):
            parts = [subset_name] + (folder.split(os.sep) if folder else [])
            name = '_'.join(p for p in parts if p) or \
                osp.basename(osp.abspath(src))
            frame_ids = sorted(groups[folder],
                               key=lambda i: natural_key(osp.basename(i)))
            jobs.append((name, frame_ids, pngs, images, labels))
        # images without a PNG (also in folders without any PNG)
        if unannotated:
            skipped[SKIP_UNANNOTATED_FRAME] += sum(unannotated.values())
    iterator = jobs
    if progress:
        from tqdm import tqdm
        iterator = tqdm(jobs, desc='reading videos', unit='video')
    videos = []
    for name, frame_ids, pngs, images, labels in iterator:
        videos.append(_read_video(name, frame_ids, pngs, images, labels,
                                  skipped, warnings))
    return dict(videos=videos, categories=None, skipped=dict(skipped),
                warnings=warnings)


def _read_video(name: str, frame_ids: List[str], pngs: Dict[str, str],
                images: Dict[str, str], labels: List[str], skipped: Counter,
                warnings: List[str]) -> dict:
    """Read the frames ``frame_ids`` (time order) of one video."""
    frames = []
    tracks: Dict[int, List[Optional[dict]]] = {}
    first_png: Dict[int, str] = {}
    for t, frame_id in enumerate(frame_ids):
        png_path, image_path = pngs[frame_id], images[frame_id]
        width, height = image_size(image_path)
        values = read_mots_png(png_path)
        check_mask_size(values, png_path, image_path, width, height)
        frames.append(dict(file_name=osp.basename(image_path),
                           source=image_path, data=None, height=height,
                           width=width))
        for value in np.unique(values).tolist():
            if value == 0:
                continue
            class_id = value // MAX_INSTANCES
            if class_id == 0:
                skipped[SKIP_CLASS_ZERO] += 1
                warnings.append(f'{png_path}: value {value} has class 0 '
                                f'(background); dropped (a MOTS value is '
                                f'class_id * 1000 + instance_id)')
                continue
            if class_id == IGNORE_CLASS and len(labels) < IGNORE_CLASS:
                skipped[SKIP_IGNORE] += 1
                continue
            if class_id > len(labels):
                raise ConversionError(
                    f'{png_path}: value {value} has class_id {class_id} but '
                    f'there are only {len(labels)} labels {labels} (class n '
                    f'is the n-th line of labels.txt)')
            if labels[class_id - 1] in NON_INSTANCE_LABELS:
                skipped[SKIP_NON_INSTANCE] += 1
                continue
            if value not in tracks:
                tracks[value] = [None] * len(frame_ids)
                first_png[value] = png_path
            tracks[value][t] = mask_to_rle(values == value)
    instances = [dict(category=labels[value // MAX_INSTANCES - 1],
                      segmentations=segmentations, iscrowd=0,
                      where=f'{first_png[value]} value {value} (class '
                      f'{value // MAX_INSTANCES}, instance '
                      f'{value % MAX_INSTANCES})')
                 for value, segmentations in sorted(tracks.items())]
    return dict(name=name, frames=frames, instances=instances)
