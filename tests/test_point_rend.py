"""PointRend masks (RLEPointRendRoIHead + RLECoarseMaskHead): the configs
build, the point head trains, the refinement is mmdet's for each RoI's own
class, the refined masks come out as RLE of the frame size without any
dense full-frame mask, with plain and TRoI models."""
import math
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate

import vis  # noqa: F401
from mask_head_helpers import (FullFrameTensors, build, cfg_of,
                               tiny_datasets)
from mmdet.models.roi_heads import PointRendRoIHead
from mmdet.models.roi_heads.mask_heads import MaskPointHead
from mmdet.registry import DATASETS, MODELS
from vis.apis import VideoPredictor
from vis.config_utils import apply_data_root, set_num_classes
from vis.models import RLECoarseMaskHead, RLEPointRendRoIHead
from vis.ops import mask_paste
from vis.ops.mask_paste import (paste_masks_to_rle,
                                paste_masks_to_rle_by_region, region_rle)
from vis.structures import RLEMasks

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CH = 32  # ci_tiny's width


def tiny(cfg):
    """``cfg``'s model at configs/ci_tiny.py's sizes (PointRend heads
    included)."""
    cfg.merge_from_dict(dict(model=dict(
        detector=dict(
            backbone=dict(base_channels=16),
            neck=dict(in_channels=[16, 32, 64, 128], out_channels=CH),
            rpn_head=dict(in_channels=CH, feat_channels=CH),
            roi_head=dict(
                bbox_roi_extractor=dict(out_channels=CH),
                bbox_head=dict(in_channels=CH, fc_out_channels=64),
                mask_roi_extractor=dict(out_channels=CH),
                mask_head=dict(in_channels=CH, conv_out_channels=CH,
                               fc_out_channels=64),
                point_head=dict(in_channels=CH, fc_channels=CH))),
        track_head=dict(roi_extractor=dict(out_channels=CH),
                        embed_head=dict(in_channels=CH,
                                        fc_out_channels=64)))))
    return cfg


def with_troi(cfg):
    """``cfg`` + Temporal RoI Align on the mask branch, as
    configs/quickstart_synthetic_troi.py."""
    cfg.merge_from_dict(dict(model=dict(
        type='TemporalMaskTrackRCNN', memory_size=2,
        detector=dict(roi_head=dict(mask_roi_extractor=dict(
            type='TemporalRoIExtractor', temporal_size=7, gate_init=0.0,
            temporal=dict(topk=2, num_heads=4,
                          num_attention_blocks=1)))))))
    return cfg


@pytest.fixture(scope='module')
def data(tiny_ytvis):
    """ci_tiny's datasets (96x64 frames) on the tiny generated videos."""
    return tiny_datasets(tiny_ytvis)


@pytest.fixture(scope='module')
def model(data):
    return build(tiny(cfg_of('quickstart_synthetic_pointrend.py')), data[2])


def test_configs_build_point_rend_at_their_base_frame_size():
    for name, base in [
            ('quickstart_synthetic_pointrend.py', 'quickstart_synthetic.py'),
            ('masktrack_r50_pointrend.py', 'masktrack_r50.py'),
            ('masktrack_x101_troi_pointrend.py', 'masktrack_x101_troi.py')]:
        cfg, base_cfg = cfg_of(name), cfg_of(base)
        for key in ('test_pipeline', 'train_pipeline', 'train_cfg',
                    'param_scheduler', 'optim_wrapper'):
            assert cfg[key] == base_cfg[key], (name, key)
        roi_head = cfg.model.detector.roi_head
        assert roi_head.type == 'RLEPointRendRoIHead'
        assert roi_head.mask_roi_extractor == \
            base_cfg.model.detector.roi_head.mask_roi_extractor
        assert cfg.model.type == base_cfg.model.type
        set_num_classes(cfg, 7)  # as tools/train.py does
        assert roi_head.point_head.num_classes == 7
        assert roi_head.mask_head.num_classes == 7
    head = MODELS.build(cfg.model.detector.roi_head)  # the x101 TRoI one
    assert type(head.mask_roi_extractor).__name__ == 'TemporalRoIExtractor'
    assert isinstance(head.mask_head, RLECoarseMaskHead)
    assert isinstance(head.point_head, MaskPointHead)
    assert head.point_head.in_channels == 256
    assert head.point_feat_levels == [0]  # stride 4


def test_x101_troi_point_rend_model_builds():
    model = MODELS.build(cfg_of('masktrack_x101_troi_pointrend.py').model)
    assert type(model).__name__ == 'TemporalMaskTrackRCNN'
    assert type(model.detector.backbone).__name__ == 'ResNeXt'
    assert isinstance(model.detector.roi_head, RLEPointRendRoIHead)


def loss_step(model, dataset, items):
    data = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in items]), training=True)
    model.train()
    losses = model.loss(**data)
    total, log_vars = model.parse_losses(losses)  # one tensor a loss
    assert math.isfinite(total.item())
    total.backward()
    return {key: float(value.detach()) for key, value in log_vars.items()}


def test_one_training_step_trains_the_point_head(model, data):
    losses = loss_step(model, data[0], [(0, 0), (1, 1)])
    for key in ('loss_rpn_cls', 'loss_cls', 'loss_mask', 'loss_point',
                'loss_match'):
        assert key in losses and math.isfinite(losses[key]), key
    assert losses['loss_point'] > 0
    for head in (model.detector.roi_head.point_head,
                 model.detector.roi_head.mask_head):
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in head.parameters())
    model.zero_grad()


def test_no_positive_roi_gives_a_zero_point_loss(model):
    head = model.detector.roi_head
    mask_preds = torch.randn(0, head.mask_head.num_classes, 7, 7,
                             requires_grad=True)
    x = [torch.randn(1, CH, 8, 8)] * 4
    empty = SimpleNamespace(pos_bboxes=torch.zeros(0, 4))
    loss = head._mask_point_loss(x, [empty, empty], mask_preds, [])
    assert loss['loss_point'].item() == 0
    loss['loss_point'].backward()
    assert all(p.grad is not None for p in head.point_head.parameters())
    model.zero_grad()


@pytest.mark.parametrize('agnostic', [False, True])
def test_refinement_is_mmdets_for_each_rois_class(agnostic):
    """The one refined channel equals the label's channel of mmdet's
    all-class refinement, at 7 * 2**5 = 224 cells a side."""
    classes = 1 if agnostic else 5
    torch.manual_seed(0)
    head = RLEPointRendRoIHead(
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor', out_channels=8,
            roi_layer=dict(type='RoIAlign', output_size=7),
            featmap_strides=[4, 8]),
        bbox_head=dict(type='Shared2FCBBoxHead', in_channels=8,
                       num_classes=5),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor', out_channels=8,
            roi_layer=dict(type='RoIAlign', output_size=14),
            featmap_strides=[4, 8]),
        mask_head=dict(type='RLECoarseMaskHead', in_channels=8,
                       conv_out_channels=8, fc_out_channels=32,
                       num_classes=5, class_agnostic=agnostic),
        point_head=dict(type='MaskPointHead', in_channels=16, fc_channels=8,
                        num_classes=classes, class_agnostic=agnostic),
        test_cfg=ConfigDict(subdivision_steps=5,
                            subdivision_num_points=28 * 28, scale_factor=2,
                            mask_thr_binary=0.5)).eval()
    g = torch.Generator().manual_seed(1)
    x = [torch.randn(1, 8, 32, 48, generator=g),
         torch.randn(1, 8, 16, 24, generator=g)]
    xy = torch.rand(6, 2, generator=g) * 100
    rois = torch.cat([torch.zeros(6, 1), xy, xy + 5 +
                      torch.rand(6, 2, generator=g) * 80], 1)  # (K, 5)
    labels = torch.randint(0, 5, (6, ), generator=g)
    coarse = torch.randn(6, classes, 7, 7, generator=g)
    with torch.no_grad():
        ours = head._mask_point_forward_test(x, rois, labels, coarse)
        theirs = PointRendRoIHead._mask_point_forward_test(
            head, x, rois, labels, coarse)
    assert ours.shape == (6, 1, 224, 224)
    own = theirs[:, :1] if agnostic else theirs[torch.arange(6), labels,
                                                None]
    assert torch.equal(ours, own)
    with torch.no_grad():  # no RoI
        none = head._mask_point_forward_test(x, rois[:0], labels[:0],
                                             coarse[:0])
    assert none.shape == (0, 1, 224, 224)
    # point_feat_strides picks levels: their block of channels
    points = torch.rand(6, 10, 2, generator=g)  # (K, P, 2)
    every = head._get_fine_grained_point_feats(x, rois, points)  # (K, 16, P)
    head.point_feat_levels = [1]  # as point_feat_strides=[8]
    assert torch.equal(head._get_fine_grained_point_feats(x, rois, points),
                       every[:, 8:])


def test_point_feat_strides_must_be_the_extractors():
    cfg = cfg_of('quickstart_synthetic_pointrend.py').model.detector
    cfg.roi_head.point_feat_strides = [4, 64]
    with pytest.raises(ValueError, match='among the mask RoI extractor'):
        MODELS.build(cfg.roi_head)


def test_region_rle_is_cocos_encoding():
    rng = np.random.default_rng(0)
    for t in range(300):
        height, width = (int(v) for v in rng.integers(1, 25, 2))
        row0, col0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        if t % 4 == 0:  # regions spanning every row: runs join columns
            row0 = 0
        rows = int(rng.integers(0, height - row0 + 1))
        cols = int(rng.integers(0, width - col0 + 1))
        if t % 4 == 0:
            rows = height
        on = rng.random((rows, cols)) < (1.0 if t % 9 == 0 else rng.random())
        full = np.zeros((height, width), dtype=np.uint8, order='F')
        full[row0:row0 + rows, col0:col0 + cols] = on
        assert region_rle(on, row0, col0, height, width) == \
            mask_utils.encode(full)
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(40, 56, 56, generator=g)
    xy = torch.rand(40, 2, generator=g) * torch.tensor([90.0, 60.0])
    boxes = torch.cat([xy, xy + torch.rand(40, 2, generator=g) * 70], 1)
    boxes[0] = torch.tensor([0.0, 0.0, 96.0, 64.0])
    assert paste_masks_to_rle_by_region(probs, boxes, 64, 96) == \
        paste_masks_to_rle(probs, boxes, 64, 96)


def full_frame_allocations(model, batch, height, width, monkeypatch):
    """``model``'s prediction of ``batch``, the (N, H, W) torch results it
    made and the shapes of the arrays pycocotools encoded."""
    encoded = []
    encode = mask_utils.encode

    def spy_encode(array):
        encoded.append(array.shape)
        return encode(array)

    data = model.data_preprocessor(batch, False)  # frames: (1, T, 3, H, W)
    mode = FullFrameTensors(height, width)
    with monkeypatch.context() as patch, torch.no_grad(), mode:
        patch.setattr(mask_paste.mask_utils, 'encode', spy_encode)
        out = model.predict(**data)[0]
    return out, mode.shapes, encoded


def test_refined_masks_are_rle_of_the_frame_size_never_dense(
        model, data, monkeypatch):
    _, test, _ = data
    model.eval()
    model.detector.test_cfg.rcnn.score_thr = 0.0  # untrained: keep boxes
    refined = []
    predict_by_feat = model.detector.roi_head.mask_head.predict_by_feat

    def spy(mask_preds, **kwargs):
        refined.extend(tuple(m.shape) for m in mask_preds)
        return predict_by_feat(mask_preds=mask_preds, **kwargs)

    monkeypatch.setattr(model.detector.roi_head.mask_head, 'predict_by_feat',
                        spy)
    batch = pseudo_collate([test[0]])
    height, width = test[0]['data_samples'][0].ori_shape
    out, dense, encoded = full_frame_allocations(model, batch, height, width,
                                                 monkeypatch)
    assert dense == [] and encoded == []
    total = 0
    for frame in out.video_data_samples:
        masks = frame.pred_track_instances.masks
        assert isinstance(masks, RLEMasks)
        assert masks.shape[1:] == (height, width) == tuple(frame.ori_shape)
        assert all(rle['size'] == [height, width] for rle in masks.rles)
        total += len(masks)
    assert total > 0
    assert refined and all(s[1:] == (1, 224, 224) for s in refined)
    # the checks see dense masks: mmdet's paste, and the frame buffer of the
    # plain model's paste
    mask_head = model.detector.roi_head.mask_head
    mask_head.rle_output = False
    try:
        _, dense, _ = full_frame_allocations(model, batch, height, width,
                                             monkeypatch)
    finally:
        mask_head.rle_output = True
    assert dense and all(s[0] > 0 for s in dense)
    plain = build(cfg_of('ci_tiny.py'), data[2]).eval()  # RLEFCNMaskHead
    plain.detector.test_cfg.rcnn.score_thr = 0.0
    _, dense, encoded = full_frame_allocations(plain, batch, height, width,
                                               monkeypatch)
    assert dense == [] and encoded and encoded[0][:2] == (height, width)


def test_troi_point_rend_trains_and_predicts(data, tiny_ytvis):
    _, test, num_classes = data
    model = build(with_troi(tiny(cfg_of('quickstart_synthetic_pointrend.py'))),
                  num_classes)
    assert isinstance(model.detector.roi_head, RLEPointRendRoIHead)
    cfg = cfg_of('ci_tiny.py')
    # key + tracking reference + support frame
    cfg.train_dataloader.dataset.pipeline[0]['num_ref_imgs'] = 2
    apply_data_root(cfg, tiny_ytvis)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    losses = loss_step(model, train, [(0, 2), (1, 1)])
    assert math.isfinite(losses['loss_point'])
    model.eval()
    model.detector.test_cfg.rcnn.score_thr = 0.0
    with torch.no_grad():
        out = model.test_step(pseudo_collate([test[1]]))[0]
    assert len(model.feature_memory) == 2
    for frame in out.video_data_samples:
        masks = frame.pred_track_instances.masks
        assert isinstance(masks, RLEMasks)
        assert masks.shape[1:] == tuple(frame.ori_shape)


def test_video_predictor_outputs_refined_masks(model, data, tiny_ytvis,
                                               tmp_path):
    cfg = tiny(cfg_of('quickstart_synthetic_pointrend.py'))
    apply_data_root(cfg, tiny_ytvis)
    classes = data[1].metainfo['classes']
    path = str(tmp_path / 'pointrend.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=list(classes)))),
               path)
    predictor = VideoPredictor(cfg, path, cfg_options={
        'model.detector.test_cfg.rcnn.score_thr': 0.0})
    assert isinstance(predictor.model.detector.roi_head, RLEPointRendRoIHead)
    frame = cv2.imread(data[1].get_data_info(0)['images'][0]['img_path'])
    instances = predictor.predict_frame(frame)
    assert instances.masks.shape[1:] == frame.shape[:2]
    assert instances.masks.dtype == bool
