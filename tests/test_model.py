"""Loss and online prediction of the MaskTrack R-CNN on tiny frames."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner

import vis  # noqa: F401
from mmdet.registry import DATASETS, MODELS
from vis.config_utils import apply_data_root

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def setup(tiny_ytvis):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ci_tiny.py'))
    apply_data_root(cfg, tiny_ytvis)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


def test_loss_on_two_frames_is_finite_and_backpropagates(setup):
    cfg, model = setup
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[(0, 0)], dataset[(1, 1)]])
    data = model.data_preprocessor(batch, training=True)
    assert data['inputs'].shape[:3] == (2, 2, 3)  # (N, T=key+ref, C, H, W)
    model.train()
    losses = model.loss(**data)
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox',
                'loss_mask', 'loss_match'):
        assert key in losses
    total, _ = model.parse_losses(losses)
    assert math.isfinite(total.item())
    total.backward()
    grad = model.track_head.embed_head.fcs[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_predict_tracks_a_whole_video_online(setup):
    cfg, model = setup
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    video = dataset[0]
    model.eval()
    model.detector.test_cfg.rcnn.score_thr = 0.0  # untrained: keep boxes
    with torch.no_grad():
        out = model.test_step(pseudo_collate([video]))[0]
    frames = out.video_data_samples
    assert len(frames) == dataset.get_data_info(0)['video_length']
    seen = set()
    for t, frame in enumerate(frames):
        pred = frame.pred_track_instances
        assert frame.frame_id == t
        n = len(pred)
        assert pred.masks.shape[1:] == tuple(frame.ori_shape)
        assert pred.instances_id.shape == (n, )
        assert len(set(pred.instances_id.tolist())) == n  # unique per frame
        seen |= set(pred.instances_id.tolist())
    assert seen, 'no instance was tracked'
    assert max(seen) < model.tracker.num_tracks
