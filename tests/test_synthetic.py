"""The generated videos are valid YouTube-VIS data."""
import json
import os.path as osp

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest

from vis.datasets.synthetic import encode_mask, make_split
from vis.evaluation import evaluate_ytvis


def test_generated_json_loads_in_the_reference_ytvis_api(tiny_ytvis):
    from mmdet.evaluation.functional import YTVIS
    api = YTVIS(osp.join(tiny_ytvis, 'valid.json'))
    assert len(api.getVidIds()) == 2
    assert len(api.getCatIds()) == 5
    ann = api.loadAnns(api.getAnnIds())[0]
    assert len(ann['segmentations']) == 5


def test_ground_truth_as_prediction_scores_ap_one(tiny_ytvis):
    with open(osp.join(tiny_ytvis, 'valid.json')) as f:
        gt = json.load(f)
    preds = [dict(video_id=a['video_id'], category_id=a['category_id'],
                  score=1.0, segmentations=a['segmentations'])
             for a in gt['annotations']]
    assert evaluate_ytvis(gt, preds)['AP'] == pytest.approx(1.0, abs=1e-12)


def test_videos_have_frames_annotations_and_absent_objects(tmp_path):
    path = make_split(str(tmp_path), 'train', num_videos=12, num_frames=10,
                      height=48, width=64, seed=5)
    with open(path) as f:
        ann = json.load(f)
    assert len(ann['videos']) == 12
    for video in ann['videos']:
        assert video['length'] == len(video['file_names']) == 10
        for name in video['file_names']:
            img = cv2.imread(osp.join(tmp_path, 'train', 'JPEGImages', name))
            assert img.shape == (48, 64, 3)
    nulls = sum(s is None for a in ann['annotations']
                for s in a['segmentations'])
    assert nulls > 0  # objects enter late, leave early or are occluded
    cats = {a['category_id'] for a in ann['annotations']}
    assert len(cats) >= 3
    for a in ann['annotations']:
        for seg, box, area in zip(a['segmentations'], a['bboxes'],
                                  a['areas']):
            assert (seg is None) == (box is None) == (area is None)
            if seg is None:
                continue
            rle = mask_utils.frPyObjects(seg, 48, 64)  # uncompressed RLE
            assert mask_utils.area(rle) == area
            assert mask_utils.toBbox(rle).tolist() == box


def test_corruption_changes_pixels_but_not_annotations(tmp_path):
    clean = make_split(str(tmp_path / 'c'), 'train', num_videos=4,
                       num_frames=8, height=48, width=64, seed=2)
    bad = make_split(str(tmp_path / 'b'), 'train', num_videos=4,
                     num_frames=8, height=48, width=64, seed=2,
                     corrupt_prob=0.5)
    with open(clean) as f, open(bad) as g:
        a, b = json.load(f), json.load(g)
    assert a['annotations'] == b['annotations']
    diffs = []
    for video in a['videos']:
        for name in video['file_names']:
            x = cv2.imread(str(tmp_path / 'c' / 'train' / 'JPEGImages' / name))
            y = cv2.imread(str(tmp_path / 'b' / 'train' / 'JPEGImages' / name))
            diffs.append(np.abs(x.astype(int) - y).mean())
    changed = sum(d > 3 for d in diffs)
    assert 0 < changed < len(diffs)
    assert sum(d == 0 for d in diffs) > 0  # untouched frames are identical


def test_uncompressed_rle_round_trips():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = (rng.uniform(size=(7, 9)) > 0.5).astype(np.uint8)
        rle = encode_mask(mask, 'rle')
        assert sum(rle['counts']) == mask.size
        decoded = mask_utils.decode(mask_utils.frPyObjects(rle, 7, 9))
        assert (decoded == mask).all()
