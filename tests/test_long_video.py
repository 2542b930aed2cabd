"""Online inference over a 1000-frame generated video keeps bounded memory:
the tracker keeps only the tracks of its retain window, a TRoI model only
its last few frames' features, and the process does not grow."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS
from vis.apis import VideoPredictor
from vis.config_utils import category_names, set_num_classes
from vis.datasets.synthetic import render_video

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
NUM_FRAMES = 1000


@pytest.fixture(scope='module')
def long_video():
    frames, _, _ = render_video(np.random.default_rng(7), NUM_FRAMES, 64, 96,
                                max_objects=4, num_categories=5)
    return frames


def rss_mib() -> float:
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    return pages * 4096 / 2**20


def troi_checkpoint(tiny_ytvis, path):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ci_tiny.py'))
    cfg.merge_from_dict(dict(model=dict(
        type='TemporalMaskTrackRCNN', memory_size=3,
        detector=dict(roi_head=dict(mask_roi_extractor=dict(
            type='TemporalRoIExtractor', temporal=dict(num_heads=4),
            temporal_size=7, gate_init=0.0))))))
    classes = category_names(osp.join(tiny_ytvis, 'train.json'))
    set_num_classes(cfg, len(classes))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=classes))), path)
    return cfg


def stream(predictor, frames):
    """Run the video; per frame: (live tracks in memory, oldest last-seen
    frame, feature frames held, RSS)."""
    model = predictor.model
    tracker = model.tracker
    retain = tracker.num_frames_retain
    max_per_frame = model.detector.test_cfg.rcnn.max_per_img
    predictor.reset()
    rows, all_ids = [], set()
    for t, image in enumerate(frames):
        out = predictor.predict_frame(image)
        all_ids.update(out.track_ids.tolist())
        memory = tracker.memory
        assert len(memory) <= (retain + 1) * max_per_frame, t
        if len(memory):
            assert int(memory.last_frame.min()) >= t - retain, t
        feature_memory = getattr(model, 'feature_memory', None)
        held = len(feature_memory) if feature_memory is not None else 0
        rows.append((len(memory), held, rss_mib()))
    return rows, all_ids


@pytest.mark.parametrize('kind', ['masktrack', 'masktrack_troi'])
def test_a_1000_frame_video_keeps_bounded_memory(kind, long_video,
                                                 untrained_checkpoint,
                                                 tiny_ytvis, tmp_path):
    if kind == 'masktrack':
        predictor = VideoPredictor(osp.join(ROOT, 'configs', 'ci_tiny.py'),
                                   untrained_checkpoint)
    else:
        path = str(tmp_path / 'troi.pth')
        predictor = VideoPredictor(troi_checkpoint(tiny_ytvis, path), path)
    rows, all_ids = stream(predictor, long_video)
    live = [r[0] for r in rows]
    # the untrained model starts many short tracks: far more over the video
    # than the memory ever holds at once, so expiry is really exercised
    assert len(all_ids) > 3 * max(live)
    if kind == 'masktrack_troi':
        assert max(r[1] for r in rows) == 3 and rows[0][1] == 1
    # after a warm-up, the process does not grow with the video's length
    warm = rows[199][2]
    assert max(r[2] for r in rows[200:]) - warm < 64, \
        f'RSS grew from {warm:.0f} MiB to {max(r[2] for r in rows):.0f} MiB'
