"""A plain mmdet detector on videos: its config wrapped into a
training-free tracker (tools/test.py, VideoPredictor), its checkpoint loaded
with mmdet's key names, refused where it cannot work."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PLAIN_CONFIG = osp.join(ROOT, 'configs', 'mmdet', 'ci_tiny_mask_rcnn.py')
VIDEO_CONFIG = osp.join(ROOT, 'configs', 'ci_tiny.py')
# the untrained detector scores low: track every detection
TRACK_ALL = ['model.tracker.birth_score=0', 'model.tracker.match_score=0',
             'model.detector.test_cfg.rcnn.score_thr=0']


@pytest.fixture(scope='module')
def plain_checkpoint(untrained_checkpoint, tmp_path_factory):
    """The detector of the untrained ci_tiny video model, saved with
    mmdet's key names (what tools/export_detector.py writes)."""
    path = str(tmp_path_factory.mktemp('plain') / 'detector.pth')
    subprocess.run([sys.executable, 'tools/export_detector.py',
                    untrained_checkpoint, path], cwd=ROOT, check=True,
                   capture_output=True)
    return path


def run_tool(tool, *args):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2')
    return subprocess.run([sys.executable, f'tools/{tool}', *args],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_a_scoped_mmdet_config_is_wrapped_with_its_own_test_settings():
    from vis.detector_config import (is_plain_detector_config,
                                     load_config, load_video_config)
    name = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
    assert is_plain_detector_config(load_config(name))
    cfg = load_video_config(name)
    assert cfg.model.type == 'TrackedDetector'
    assert cfg.model.detector.type == 'MaskRCNN'
    assert 'data_preprocessor' not in cfg.model.detector
    pre = cfg.model.data_preprocessor
    assert pre.type == 'TrackDataPreprocessor'
    assert pre.mean == [123.675, 116.28, 103.53] and pre.bgr_to_rgb
    frame_ops = cfg.test_dataloader.dataset.pipeline[0].transforms
    assert [t['type'] for t in frame_ops] == ['LoadImageFromFile', 'Resize']
    assert tuple(frame_ops[1]['scale']) == (1333, 800)
    # detections below the tracker's match score are never tracked
    assert cfg.model.detector.test_cfg.rcnn.score_thr == \
        cfg.model.tracker.match_score == 0.3
    # COCO's 80 names, from mmdet's CocoDataset.METAINFO
    assert len(cfg.model_classes) == 80 and cfg.model_classes[0] == 'person'
    assert 'cell phone' in cfg.model_classes


def test_a_video_config_is_not_taken_for_a_detector_and_bad_names_fail():
    from vis.detector_config import is_plain_detector_config, load_config
    assert not is_plain_detector_config(load_config(VIDEO_CONFIG))
    with pytest.raises(FileNotFoundError, match='mmdet::nope/x.py'):
        load_config('mmdet::nope/x.py')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_config('configs/no_such_config.py')


def test_plain_detector_keys_load_into_the_wrapper(plain_checkpoint):
    from mmengine.runner.checkpoint import load_state_dict

    from mmdet.registry import MODELS
    from vis.detector_config import load_video_config
    cfg = load_video_config(PLAIN_CONFIG)
    model = MODELS.build(cfg.model)
    state = torch.load(plain_checkpoint, map_location='cpu',
                       weights_only=True)['state_dict']
    assert not any(k.startswith('detector.') for k in state)
    load_state_dict(model, dict(state), strict=True)
    own = model.state_dict()
    for key, value in state.items():
        assert torch.equal(own['detector.' + key], value), key


def test_test_tool_tracks_a_plain_detector_without_training(
        plain_checkpoint, tiny_ytvis, tmp_path):
    work = tmp_path / 'work'
    proc = run_tool('test.py', PLAIN_CONFIG, plain_checkpoint,
                    '--data-root', tiny_ytvis, '--work-dir', str(work),
                    '--metrics', 'ap', 'hota', '--cfg-options', *TRACK_ALL)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert 'tracked without training by AssignmentTracker' in \
        proc.stdout + proc.stderr
    with open(work / 'results.json') as f:
        results = json.load(f)
    assert results, 'training-free tracking produced no tracks'
    with open(osp.join(tiny_ytvis, 'valid.json')) as f:
        gt = json.load(f)
    lengths = {v['id']: len(v['file_names']) for v in gt['videos']}
    for track in results:
        assert len(track['segmentations']) == lengths[track['video_id']]
    with open(work / 'metrics.json') as f:
        metrics = json.load(f)
    assert 'AP' in metrics and 'HOTA' in metrics


def test_test_tool_without_videos_for_a_plain_detector_is_an_error(
        plain_checkpoint):
    proc = run_tool('test.py', PLAIN_CONFIG, plain_checkpoint)
    assert proc.returncode != 0
    assert 'pass --data-root' in proc.stderr


def test_a_plain_checkpoint_with_a_video_config_is_refused(
        plain_checkpoint, tiny_ytvis, tmp_path):
    proc = run_tool('test.py', VIDEO_CONFIG, plain_checkpoint,
                    '--data-root', tiny_ytvis, '--work-dir', str(tmp_path))
    assert proc.returncode != 0
    assert 'plain mmdet detector checkpoint' in proc.stderr
    assert '--load-detector' in proc.stderr
    from vis.apis import VideoPredictor
    with pytest.raises(ValueError, match='plain mmdet detector checkpoint'):
        VideoPredictor(VIDEO_CONFIG, plain_checkpoint)


def frames(root, count=4):
    import cv2
    with open(osp.join(root, 'valid.json')) as f:
        video = json.load(f)['videos'][0]
    return [cv2.imread(osp.join(root, 'valid', 'JPEGImages', name))
            for name in video['file_names'][:count]]


def test_predictor_shows_tracks_once_confirmed(plain_checkpoint, tiny_ytvis):
    from vis.apis import VideoPredictor
    options = {k: float(v) for k, v in (o.split('=') for o in TRACK_ALL)}
    options['model.tracker.num_confirm'] = 3
    predictor = VideoPredictor(PLAIN_CONFIG, plain_checkpoint,
                               cfg_options=options, track_nms=False)
    assert predictor.class_names == ('disc', 'box', 'triangle', 'ring',
                                     'cross')
    assert predictor.model.tracker.num_confirm == 3
    counts, ids = [], []
    for image in frames(tiny_ytvis):
        out = predictor.predict_frame(image)
        counts.append(len(out))
        ids.append(set(out.track_ids.tolist()))
        assert out.masks.shape[1:] == image.shape[:2]
    # a track is confirmed on its third frame: nothing is shown before
    assert counts[0] == counts[1] == 0
    assert counts[2] > 0
    assert ids[3] & ids[2], 'confirmed tracks keep their ids'


def test_class_names_fall_back_to_the_detector_config(plain_checkpoint,
                                                      tmp_path):
    from vis.apis import VideoPredictor
    ckpt = torch.load(plain_checkpoint, map_location='cpu',
                      weights_only=True)
    path = str(tmp_path / 'no_meta.pth')
    torch.save(dict(state_dict=ckpt['state_dict']), path)
    predictor = VideoPredictor(PLAIN_CONFIG, path)
    assert predictor.class_names[0] == 'disc'
    assert 'config' in predictor.classes_source


def test_shared_fc_features_are_the_box_heads_classifier_input():
    from mmdet.registry import MODELS
    from vis.models import shared_fc_features
    head = MODELS.build(dict(type='Shared2FCBBoxHead', in_channels=4,
                             fc_out_channels=8, roi_feat_size=3,
                             num_classes=2))
    head.eval()
    feats = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    head.double()
    out = shared_fc_features(head, feats)
    assert out.shape == (5, 8)
    # fc_cls applied to them is the head's own classification output
    cls_score, _ = head(feats)
    torch.testing.assert_close(head.fc_cls(out), cls_score)
    assert shared_fc_features(torch.nn.Module(), feats) is None
    assert np.all(out.detach().numpy() >= 0)  # after the ReLU


def test_offline_results_backfill_confirmed_tracks_and_drop_the_rest():
    from vis.evaluation.ytvis_metric import tracks_to_video_results
    rle = {'size': [2, 2], 'counts': 'a'}
    frames = [
        # track 0 is confirmed on its third frame, track 1 never
        dict(frame_id=0, ids=np.array([0, 1]), labels=np.array([2, 1]),
             scores=np.array([0.9, 0.6]), rles=[rle, rle],
             confirmed=np.array([False, False])),
        dict(frame_id=1, ids=np.array([0, 1]), labels=np.array([2, 1]),
             scores=np.array([0.8, 0.6]), rles=[rle, rle],
             confirmed=np.array([False, False])),
        dict(frame_id=2, ids=np.array([0]), labels=np.array([2]),
             scores=np.array([0.7]), rles=[rle],
             confirmed=np.array([True])),
    ]
    results = tracks_to_video_results(5, 4, frames)
    assert len(results) == 1
    track = results[0]
    assert track['label'] == 2
    assert track['segmentations'][:3] == [rle, rle, rle]  # back-filled
    assert track['segmentations'][3] is None
    assert track['score'] == pytest.approx(0.8)
    # without confirmation flags every track is kept, as before
    for frame in frames:
        del frame['confirmed']
    assert len(tracks_to_video_results(5, 4, frames)) == 2


@pytest.mark.parametrize('name', sorted(
    osp.basename(p)
    for p in glob.glob(osp.join(ROOT, 'configs', 'mmdet', '*.py'))))
def test_the_shipped_plain_detector_configs_wrap(name):
    from vis.detector_config import (is_plain_detector_config, load_config,
                                     load_video_config)
    path = osp.join(ROOT, 'configs', 'mmdet', name)
    assert is_plain_detector_config(load_config(path))
    cfg = load_video_config(path)
    assert cfg.model.type == 'TrackedDetector'
    assert cfg.model_classes == ('disc', 'box', 'triangle', 'ring', 'cross')
    assert cfg.test_evaluator.type == 'YouTubeVISVideoMetric'


def test_test_tool_refuses_a_checkpoint_of_another_architecture(
        untrained_checkpoint, tiny_ytvis, tmp_path):
    ckpt = torch.load(untrained_checkpoint, map_location='cpu',
                      weights_only=True)
    key = 'detector.neck.lateral_convs.0.conv.weight'
    ckpt['state_dict'][key] = torch.zeros(5, 16, 1, 1)
    bad = str(tmp_path / 'other.pth')
    torch.save(ckpt, bad)
    proc = run_tool('test.py', VIDEO_CONFIG, bad, '--data-root', tiny_ytvis,
                    '--work-dir', str(tmp_path / 'w'))
    assert proc.returncode != 0
    assert key in proc.stderr and '(5, 16, 1, 1)' in proc.stderr
    assert not osp.exists(tmp_path / 'w' / 'results.json')
