"""Test helper: export a YouTube-VIS data set as labelme folders.

    export_labelme('root/train.json', 'root/train/JPEGImages', 'labelme_src')

writes ``labelme_src/<video>/<frame>.jpg`` (copied byte for byte) and
``labelme_src/<video>/<frame>.json`` (labelme 5.5 format) for every frame,
the input that ``tools/dataset_converters/labelme2ytvis.py`` reads.

Each instance's mask in a frame becomes one polygon shape per connected
component (``cv2.findContours``, external contours), ``label`` = the
category name and ``group_id`` = the annotation's index within its video,
so a mask split in parts comes back as one instance. A component's holes
(the inside of a ``ring``) are cut into its polygon through a zero-width
bridge, since labelme polygons have no holes; pycocotools' even-odd
rasterisation keeps them holes.

Coordinates: labelme points are read in the COCO (pixel-corner) convention,
pixel ``(r, c)`` covering ``[c, c + 1] x [r, r + 1]``. The contour is traced
on the mask upsampled 2x, through the centres of its boundary sub-pixels,
so the polygon runs a quarter pixel inside the pixel boundary: every pixel
centre of the mask lies inside it and every other one outside, and the round
trip gives the mask back up to pycocotools' sampling of the outline (exact
for straight edges, within a pixel along slanted ones).

Usable on a real-sized set, e.g. the 48-video quickstart set::

    python tests/export_labelme.py data/synthetic/train.json \\
        data/synthetic/train/JPEGImages data/synthetic_labelme
"""
import argparse
import base64
import json
import os
import os.path as osp
import shutil
import sys
from collections import defaultdict
from typing import Dict, List

import cv2
import numpy as np
import pycocotools.mask as mask_utils


def decode_segmentation(segmentation, height: int, width: int) -> np.ndarray:
    """Decode a YouTube-VIS segmentation (compressed or uncompressed RLE, or
    a polygon list) to a (H, W) uint8 0/1 mask."""
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height,
                                                      width))
    elif isinstance(segmentation['counts'], list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = dict(segmentation)
        if isinstance(rle['counts'], str):
            rle['counts'] = rle['counts'].encode('ascii')
    return mask_utils.decode(rle).astype(np.uint8)


def _bridge(outer: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Join a hole (Q, 2) into an outer ring (P, 2) through the closest
    pair of vertices: outer[..i], hole[j..], hole[..j], outer[i..]. Returns
    the (P + Q + 2, 2) polygon."""
    distances = ((outer[:, None, :] - hole[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(int(np.argmin(distances)), distances.shape)
    hole_loop = np.concatenate([hole[j:], hole[:j + 1]])
    return np.concatenate([outer[:i + 1], hole_loop, outer[i:]])


def mask_to_polygons(mask: np.ndarray) -> List[List[List[float]]]:
    """Trace a (H, W) 0/1 mask as labelme polygons.

    Returns:
        list: one polygon per connected component (8-connected), each a list
        of [x, y] points in pixel-corner coordinates (see the module doc);
        components whose outline has fewer than 3 points are left out.
    """
    upsampled = np.kron(mask.astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, hierarchy = cv2.findContours(upsampled, cv2.RETR_CCOMP,
                                           cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]  # (N, 4): next, previous, first child, parent
    polygons = []
    for index, contour in enumerate(contours):
        if hierarchy[index][3] != -1:
            continue  # a hole: joined into its outer contour below
        outline = contour[:, 0, :].astype(np.float64)  # (P, 2) x, y
        if len(outline) < 3:
            continue
        child = hierarchy[index][2]
        while child != -1:
            hole = contours[child][:, 0, :].astype(np.float64)
            if len(hole) >= 3:
                outline = _bridge(outline, hole)
            child = hierarchy[child][0]
        points = (outline + 0.5) / 2.0
        polygons.append([[float(x), float(y)] for x, y in points])
    return polygons


def export_labelme(ann_file: str, img_dir: str, out_dir: str,
                   embed_every: int = 0) -> Dict[str, dict]:
    """Write a YouTube-VIS json + its frames as labelme folders.

    Args:
        ann_file (str): a YouTube-VIS json (e.g. made by
            ``vis.datasets.synthetic.make_synthetic_ytvis``).
        img_dir (str): its JPEGImages folder (``file_names`` are relative to
            it).
        out_dir (str): receives ``<video folder>/<frame>.jpg`` and
            ``<frame>.json`` for every frame (frames where no instance is
            visible get a json with no shapes, so they are kept).
        embed_every (int): k > 0 embeds every k-th frame of each video (the
            k-th, 2k-th, ...) as ``imageData`` and leaves its image out.

    Returns:
        dict: ``videos`` {video folder: number of frames}, ``embedded``
        [(video folder, frame file name)] of the embedded frames, and
        ``shapes``, the number of polygon shapes written.
    """
    with open(ann_file, encoding='utf-8') as f:
        dataset = json.load(f)
    category_names = {c['id']: c['name'] for c in dataset['categories']}
    annotations_of = defaultdict(list)
    for annotation in dataset.get('annotations') or []:
        annotations_of[annotation['video_id']].append(annotation)
    videos, embedded, num_shapes = {}, [], 0
    for video in dataset['videos']:
        folder = osp.dirname(video['file_names'][0])
        height, width = int(video['height']), int(video['width'])
        os.makedirs(osp.join(out_dir, folder), exist_ok=True)
        for t, rel in enumerate(video['file_names']):
            file_name = osp.basename(rel)
            shapes = []
            for group_id, annotation in enumerate(
                    annotations_of[video['id']]):
                segmentation = annotation['segmentations'][t]
                if segmentation is None:
                    continue
                mask = decode_segmentation(segmentation, height, width)
                for polygon in mask_to_polygons(mask):
                    shapes.append(dict(
                        label=category_names[annotation['category_id']],
                        points=polygon, group_id=group_id, description='',
                        shape_type='polygon', flags={}, mask=None))
            num_shapes += len(shapes)
            source = osp.join(img_dir, rel)
            image_data = None
            if embed_every > 0 and (t + 1) % embed_every == 0:
                with open(source, 'rb') as f:
                    image_data = base64.b64encode(f.read()).decode('ascii')
                embedded.append((folder, file_name))
            else:
                shutil.copyfile(source, osp.join(out_dir, folder, file_name))
            labelme = dict(version='5.5.0', flags={}, shapes=shapes,
                           imagePath=file_name, imageData=image_data,
                           imageHeight=height, imageWidth=width)
            json_name = osp.splitext(file_name)[0] + '.json'
            with open(osp.join(out_dir, folder, json_name), 'w',
                      encoding='utf-8') as f:
                json.dump(labelme, f, indent=1)
        videos[folder] = len(video['file_names'])
    return dict(videos=videos, embedded=embedded, shapes=num_shapes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('ann_file', help='YouTube-VIS json')
    parser.add_argument('img_dir', help='its JPEGImages folder')
    parser.add_argument('out_dir', help='labelme folders to write')
    parser.add_argument('--embed-every', type=int, default=0, metavar='K',
                        help='embed every K-th frame as imageData')
    args = parser.parse_args(argv)
    result = export_labelme(args.ann_file, args.img_dir, args.out_dir,
                            embed_every=args.embed_every)
    print(f"wrote {len(result['videos'])} videos, "
          f"{sum(result['videos'].values())} frames, {result['shapes']} "
          f"shapes to {args.out_dir}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
