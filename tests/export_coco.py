"""Test helper: write the frames of a YouTube-VIS set as a COCO image set.

Every (or every ``frame_step``-th) frame of every video becomes one still
image ``<video>_<frame stem>.jpg`` (a byte copy) with one COCO annotation per
instance visible in it (its RLE, ``bbox`` and ``area`` as in the video json;
``iscrowd`` kept); category ids and names are the video set's. Used by the
coco2ytvis tests and by benchmarks/byod_conversions.py ("images only").
"""
import json
import os
import os.path as osp
import shutil


def export_coco(ann_file: str, img_dir: str, out_dir: str,
                frame_step: int = 1) -> dict:
    """Write ``out_dir/instances.json`` and ``out_dir/images/``.

    Returns:
        dict: ``{'ann_file', 'image_dir', 'images', 'annotations'}`` (the
        paths and the counts written).
    """
    with open(ann_file) as f:
        ytvis = json.load(f)
    image_dir = osp.join(out_dir, 'images')
    os.makedirs(image_dir, exist_ok=True)
    anns_by_video = {}
    for a in ytvis['annotations']:
        anns_by_video.setdefault(a['video_id'], []).append(a)
    images, annotations = [], []
    for video in ytvis['videos']:
        for t, file_name in enumerate(video['file_names']):
            if t % frame_step:
                continue
            folder, frame = file_name.split('/')[-2:]
            name = f'{folder}_{frame}'
            shutil.copyfile(osp.join(img_dir, file_name),
                            osp.join(image_dir, name))
            image_id = len(images) + 1
            images.append(dict(id=image_id, file_name=name,
                               height=video['height'], width=video['width']))
            for a in anns_by_video.get(video['id'], []):
                seg = a['segmentations'][t]
                if seg is None:
                    continue
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id,
                    category_id=a['category_id'], segmentation=seg,
                    bbox=a['bboxes'][t], area=a['areas'][t],
                    iscrowd=a.get('iscrowd', 0)))
    coco = dict(images=images, annotations=annotations,
                categories=ytvis['categories'])
    coco_file = osp.join(out_dir, 'instances.json')
    with open(coco_file, 'w') as f:
        json.dump(coco, f)
    return dict(ann_file=coco_file, image_dir=image_dir, images=len(images),
                annotations=len(annotations))
