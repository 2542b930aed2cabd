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
    assert predictor.classes_source.startswith('checkpoint ')
    assert predictor.model.detector.roi_head.bbox_head.num_classes == \
        len(cats)


def resaved(checkpoint, path, classes=None):
    """``checkpoint``'s weights saved to ``path`` with ``classes`` as its
    ``meta.dataset_meta.classes`` (no meta when None)."""
    state = torch.load(checkpoint, map_location='cpu',
                       weights_only=True)['state_dict']
    ckpt = dict(state_dict=state)
    if classes is not None:
        ckpt['meta'] = dict(dataset_meta=dict(classes=list(classes)))
    torch.save(ckpt, str(path))
    return str(path)


#: a test json that does not exist: the config then names no classes
NO_JSON = {'test_dataloader.dataset.data_root': '',
           'test_dataloader.dataset.ann_file': '/nonexistent/valid.json'}


def test_without_names_in_the_checkpoint_the_configs_are_taken(
        predictor, untrained_checkpoint, tmp_path):
    bare = resaved(untrained_checkpoint, tmp_path / 'bare.pth')
    names = tuple(f'thing{i}' for i in range(len(predictor.class_names)))
    options = dict(NO_JSON)
    options['test_dataloader.dataset.metainfo'] = dict(classes=names)
    got = VideoPredictor(CONFIG, bare, cfg_options=options)
    assert got.class_names == names
    assert got.classes_source == f'config {CONFIG}'


def test_no_class_names_anywhere_is_an_error_not_placeholders(
        untrained_checkpoint, tmp_path):
    bare = resaved(untrained_checkpoint, tmp_path / 'bare.pth')
    with pytest.raises(ValueError, match='no class names for the model'):
        VideoPredictor(CONFIG, bare, cfg_options=NO_JSON)


def test_names_disagreeing_with_the_weights_are_refused(
        untrained_checkpoint, tmp_path):
    wrong = resaved(untrained_checkpoint, tmp_path / 'wrong.pth',
                    classes=('cat', 'dog'))
    with pytest.raises(ValueError, match=r'classes in its box head, but '
                       r'checkpoint .*wrong.pth names 2'):
        VideoPredictor(CONFIG, wrong)


def test_the_frame_rate_reaches_the_tracker(untrained_checkpoint):
    seconds = {'model.tracker.retain_seconds': 1.0}
    got = VideoPredictor(CONFIG, untrained_checkpoint, cfg_options=seconds,
                         fps=30, frame_stride=3)
    assert (got.tracker.fps, got.tracker.frame_stride) == (30, 3)
    assert got.num_frames_retain == 10  # ceil(1.0 * 30 / 3)
    assert got.retention() == '1.0 s (10 frames at 30 fps / 3)'
    frames = VideoPredictor(CONFIG, untrained_checkpoint, fps=30,
                            frame_stride=3)
    assert frames.num_frames_retain == 20 and frames.retention() == \
        '20 frames'  # the default window counts processed frames
    with pytest.raises(ValueError, match='retain_seconds=1.0 needs the '
                       'frame rate'):
        VideoPredictor(CONFIG, untrained_checkpoint, cfg_options=seconds)
    with pytest.raises(ValueError, match='frame_stride must be an int'):
        VideoPredictor(CONFIG, untrained_checkpoint, fps=30, frame_stride=0)


def test_streaming_equals_whole_video_prediction(untrained_checkpoint,
                                                 tiny_ytvis):
    """Frame-by-frame results equal the test loop's, which gets the whole
    video at once from the dataset (without the predictor's duplicate-track
    merging, which the test loop does not do: an untrained model's
    detections overlap)."""
    from mmdet.registry import DATASETS
    predictor = VideoPredictor(CONFIG, untrained_checkpoint, score_thr=0.0,
                               track_nms=False)
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
