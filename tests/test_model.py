"""Loss and online prediction of the MaskTrack R-CNN on tiny frames."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from mmengine.structures import InstanceData

import vis  # noqa: F401
from mmdet.registry import DATASETS, MODELS
from mmdet.structures import DetDataSample
from vis.config_utils import apply_data_root
from vis.models.online_masktrack_rcnn import class_agnostic_samples

from loss_helpers import rpn_class_independence, seeded_losses

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


def test_rpn_objectness_targets_ignore_the_class(setup):
    """mmdet's MaskTrack R-CNN gave the RPN the class labels, and its
    one-channel sigmoid loss read every class but the first as background:
    relabelling the ground truth changed the RPN's loss."""
    cfg, model = setup
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    own, zeros, labels = rpn_class_independence(model, dataset)
    assert (labels > 0).any()  # the batch has classes other than the first
    for key in ('loss_rpn_cls', 'loss_rpn_bbox'):
        torch.testing.assert_close(sum(own[key]), sum(zeros[key]), rtol=0,
                                   atol=0)
    # the RoI head does see the classes
    assert not torch.equal(own['loss_cls'], zeros['loss_cls'])


DETECTION_LOSSES = ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox',
                    'loss_mask')


def _detection_losses_against_the_detector(model, data, frames):
    """The model's detection losses and those of its detector trained
    alone on ``frames`` ('key' or 'both') of the same batch, same seed."""
    inputs, samples = data['inputs'], data['data_samples']
    key = torch.stack([inputs[i, s.key_frames_inds[0]]
                       for i, s in enumerate(samples)])
    ref = torch.stack([inputs[i, s.ref_frames_inds[0]]
                       for i, s in enumerate(samples)])
    det_samples = [s.get_key_frames()[0] for s in samples]
    if frames == 'both':
        key = torch.cat([key, ref])
        det_samples += [s.get_ref_frames()[0] for s in samples]
    ours = seeded_losses(model, data)
    torch.manual_seed(7)
    alone = model.detector.loss(key, det_samples)
    return ours, alone


@pytest.mark.parametrize('detect_ref_frames', [False, True])
def test_detection_losses_are_the_detectors_on_key_or_all_frames(
        setup, detect_ref_frames):
    """The RPN and RoI losses are those of mmdet's two-stage detector (which
    gives its RPN class-agnostic targets) on the key frames, or with
    ``detect_ref_frames`` on the key and the reference frames."""
    cfg, model = setup
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[(0, 0)], dataset[(1, 1)]])
    model.train()
    model.detect_ref_frames = detect_ref_frames
    try:
        data = model.data_preprocessor(batch, training=True)
        ours, alone = _detection_losses_against_the_detector(
            model, data, 'both' if detect_ref_frames else 'key')
    finally:
        model.detect_ref_frames = False
    def total(value):  # the RPN's losses come per FPN level
        return sum(value) if isinstance(value, list) else value

    for key in DETECTION_LOSSES:
        torch.testing.assert_close(total(ours[key]), total(alone[key]),
                                   rtol=1e-5, atol=1e-6)
    assert 'loss_match' in ours


def test_reference_features_without_gradient_keep_the_losses(setup):
    """``ref_feature_grad=False``: the track head gets reference features
    without gradient (the key frames' keep theirs), the losses are the same
    values, and the track head itself still learns."""
    cfg, model = setup
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[(0, 0)], dataset[(1, 1)]])
    model.train()
    data = model.data_preprocessor(batch, training=True)
    seen = []
    original = model.track_head.loss

    def spy(x, ref_x, *args, **kwargs):
        seen.append((x[0].requires_grad, ref_x[0].requires_grad))
        return original(x, ref_x, *args, **kwargs)

    model.track_head.loss = spy
    try:
        with_grad = seeded_losses(model, data)
        model.ref_feature_grad = False
        model.zero_grad()
        without = seeded_losses(model, data)
        model.parse_losses(without)[0].backward()
    finally:
        model.ref_feature_grad = True
        del model.track_head.loss
    assert seen == [(True, True), (True, False)]
    torch.testing.assert_close(with_grad['loss_match'],
                               without['loss_match'])
    grad = model.track_head.embed_head.fcs[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0
    with pytest.raises(ValueError, match='ref_feature_grad'):
        MODELS.build(dict(cfg.model, detect_ref_frames=True,
                          ref_feature_grad=False))


def test_class_agnostic_samples_keep_boxes_and_zero_the_labels():
    sample = DetDataSample(metainfo=dict(img_shape=(64, 96), frame_id=3))
    boxes = torch.tensor([[1., 2., 30., 40.], [5., 5., 9., 9.]])
    sample.gt_instances = InstanceData(bboxes=boxes,
                                       labels=torch.tensor([2, 4]),
                                       instances_ids=torch.tensor([7, 8]))
    sample.ignored_instances = InstanceData(
        bboxes=torch.tensor([[0., 0., 3., 3.]]), labels=torch.tensor([1]))
    rpn_sample, = class_agnostic_samples([sample])
    assert rpn_sample.metainfo['frame_id'] == 3
    assert rpn_sample.gt_instances.bboxes is boxes
    assert rpn_sample.gt_instances.labels.tolist() == [0, 0]
    assert rpn_sample.ignored_instances.labels.tolist() == [0]
    assert sample.gt_instances.labels.tolist() == [2, 4]  # untouched


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
