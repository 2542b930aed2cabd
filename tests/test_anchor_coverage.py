"""Anchor coverage against hand-worked IoUs."""
import json
import subprocess
import sys
import os.path as osp

import pytest
import torch

from vis.apis.anchor_coverage import anchor_coverage, best_anchor_ious

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ANCHORS16 = dict(type='AnchorGenerator', scales=[4], ratios=[1.0],
                 strides=[4])  # one 16x16 anchor every 4 px


def _gt(boxes, height=64, width=96):
    return dict(
        videos=[dict(id=1, height=height, width=width, length=len(boxes))],
        categories=[dict(id=1, name='dot'), dict(id=2, name='unused')],
        annotations=[dict(id=1, video_id=1, category_id=1, bboxes=boxes)])


def test_best_anchor_iou_by_hand():
    anchors = torch.tensor([[0., 0., 16., 16.], [4., 4., 20., 20.]])
    boxes = torch.tensor([[5., 5., 11., 11.], [0., 0., 16., 16.]])
    ious = best_anchor_ious(boxes, anchors)
    assert ious[0].item() == pytest.approx(36 / 256)  # inside both
    assert ious[1].item() == pytest.approx(1.0)
    assert best_anchor_ious(boxes[:0], anchors).shape == (0,)
    assert best_anchor_ious(boxes, anchors[:0]).tolist() == [0.0, 0.0]


def test_a_six_pixel_object_has_no_positive_16_pixel_anchor():
    # x, y, w, h: a 6 px box centred on an anchor centre (8, 8), a 16 px box
    # equal to an anchor, and a None frame
    report = anchor_coverage(_gt([[5, 5, 6, 6], [0, 0, 16, 16], None]),
                             ANCHORS16, img_scale=(96, 64))
    assert set(report) == {'dot', 'all'}
    dot = report['dot']
    assert dot['boxes'] == 2
    assert dot['below_0.3'] == pytest.approx(0.5)
    assert dot['median_iou'] == pytest.approx((36 / 256 + 1) / 2)
    smaller = dict(ANCHORS16, scales=[1.5])  # 6 px anchors
    assert anchor_coverage(_gt([[5, 5, 6, 6]]), smaller,
                           img_scale=(96, 64))['dot']['median_iou'] == \
        pytest.approx(1.0)


def test_boxes_are_resized_like_the_pipeline():
    # a 128x192 video resized to fit 96x64 (factor 0.5): the 32 px box
    # becomes the 16 px anchor
    report = anchor_coverage(_gt([[0, 0, 32, 32]], height=128, width=192),
                             ANCHORS16, img_scale=(96, 64))
    assert report['dot']['median_side'] == pytest.approx(16.0)
    assert report['dot']['median_iou'] == pytest.approx(1.0)


def test_unknown_video_is_named():
    gt = _gt([[0, 0, 4, 4]])
    gt['annotations'][0]['video_id'] = 9
    with pytest.raises(ValueError, match='video 9'):
        anchor_coverage(gt, ANCHORS16, img_scale=(96, 64))


def test_cli_prints_a_table(tmp_path):
    with open(tmp_path / 'train.json', 'w') as f:
        json.dump(_gt([[5, 5, 6, 6]]), f)
    (tmp_path / 'train' / 'JPEGImages').mkdir(parents=True)
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'anchor_coverage.py'),
         osp.join(ROOT, 'configs', 'quickstart_synthetic.py'),
         '--data-root', str(tmp_path), '--json', str(tmp_path / 'c.json')],
        capture_output=True, text=True, check=True).stdout
    assert 'best IoU < 0.3' in out and 'dot' in out
    assert json.loads((tmp_path / 'c.json').read_text())['dot']['boxes'] == 1
