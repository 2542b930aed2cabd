"""VideoPredictor: streaming one frame at a time gives what the model gives
on the whole video, IDs start again after reset, bad input is refused."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

from vis.apis import VideoPredictor
from vis.config_utils import apply_data_root
from vis.structures import dense_masks

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'ci_tiny.py')


@pytest.fixture(scope='module')
def predictor(untrained_checkpoint):
    return VideoPredictor(CONFIG, untrained_checkpoint, score_thr=0.0)


def valid_frames(root, video_index=0):
    with open(osp.join(root, 'valid.json')) as f:
        video = json.load(f)['videos'][video_index]
    return [cv2.imread(osp.join(root, 'valid', 'JPEGImages', name))
            for name in video['file_names']]


def test_classes_come_from_the_checkpoint(predictor, tiny_ytvis):
    with open(osp.join(tiny_ytvis, 'train.json')) as f:
        cats = sorted(json.load(f)['categories'], key=lambda c: c['id'])
    assert predictor.class_names == tuple(c['name'] for c in cats)
    assert predictor.model.detector.roi_head.bbox_head.num_classes == \
        len(cats)


def test_streaming_equals_whole_video_prediction(predictor, tiny_ytvis):
    """Frame-by-frame results equal the test loop's, which gets the whole
    video at once from the dataset."""
    from mmdet.registry import DATASETS
    cfg = predictor.cfg.copy()
    apply_data_root(cfg, tiny_ytvis, train=False, test_split='valid')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    with torch.no_grad():
        whole = predictor.model.test_step(default_collate([dataset[0]]))[0]
    predictor.reset()
    frames = valid_frames(tiny_ytvis, 0)
    assert len(whole) == len(frames)
    seen_any = False
    for t, image in enumerate(frames):
        got = predictor.predict_frame(image)
        ref = whole[t].pred_track_instances
        order = torch.argsort(ref.scores, descending=True)
        ref = ref[order]
        assert len(got) == len(ref)
        seen_any |= len(got) > 0
        np.testing.assert_allclose(got.boxes, ref.bboxes.numpy(), atol=1e-4)
        np.testing.assert_array_equal(got.track_ids,
                                      ref.instances_id.numpy() + 1)
        np.testing.assert_array_equal(got.masks, dense_masks(ref.masks))
        assert got.masks.shape[1:] == image.shape[:2]
    assert seen_any, 'the untrained model detected nothing; test is vacuous'


def test_track_ids_persist_and_restart_after_reset(predictor, tiny_ytvis):
    frames = valid_frames(tiny_ytvis, 0)
    predictor.reset()
    first = predictor.predict_frame(frames[0])
    again = predictor.predict_frame(frames[0])  # same picture: same tracks
    assert len(first) > 0
    assert set(again.track_ids) <= set(first.track_ids)
    assert len(set(again.track_ids) & set(first.track_ids)) > 0
    assert first.track_ids.min() == 1
    predictor.reset()
    restarted = predictor.predict_frame(frames[0])
    np.testing.assert_array_equal(restarted.track_ids, first.track_ids)


def test_score_threshold_filters_output(untrained_checkpoint, tiny_ytvis):
    strict = VideoPredictor(CONFIG, untrained_checkpoint, score_thr=2.0)
    out = strict.predict_frame(valid_frames(tiny_ytvis)[0])
    assert len(out) == 0
    assert out.masks.shape == (0, 64, 96)
    assert out.boxes.shape == (0, 4)


@pytest.mark.parametrize('bad', [np.zeros((64, 96), np.uint8),
                                 np.zeros((64, 96, 4), np.uint8), 'frame.jpg'])
def test_bad_frames_are_refused(predictor, bad):
    with pytest.raises(ValueError, match='H, W, 3'):
        predictor.predict_frame(bad)


def test_missing_files_are_named(untrained_checkpoint, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        VideoPredictor(str(tmp_path / 'nope.py'), untrained_checkpoint)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        VideoPredictor(CONFIG, str(tmp_path / 'nope.pth'))
