"""TemporalRoIExtractor, FeatureMemory and TemporalMaskTrackRCNN."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

import vis  # noqa: F401
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import DATASETS, MODELS
from vis.config_utils import apply_data_root
from vis.models import FeatureMemory, TemporalRoIExtractor, temporal_support

from loss_helpers import rpn_class_independence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
STRIDES = [4, 8, 16, 32]


def extractors():
    common = dict(roi_layer=dict(type='RoIAlign', output_size=7,
                                 sampling_ratio=0),
                  out_channels=8, featmap_strides=STRIDES)
    torch.manual_seed(0)
    temporal = TemporalRoIExtractor(temporal=dict(num_heads=2), **common)
    plain = SingleRoIExtractor(**common)
    return temporal.double(), plain.double()


def feats(n=2, size=64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 8, size // s, size // s, generator=g,
                        dtype=torch.float64) for s in STRIDES]


# mmdet maps sqrt(area) < 112 to level 0, < 224 to 1, < 448 to 2: boxes of
# scale 20 (level 0), 150 (level 1), 20 (level 0), 300 (level 2), 2 images
ROIS = torch.tensor([[0, 2, 2, 22, 22], [0, 0, 0, 150, 150],
                     [1, 5, 5, 25, 25], [1, 0, 0, 300, 300]],
                    dtype=torch.float64)


def test_without_support_it_is_plain_roi_align():
    temporal, plain = extractors()
    x = feats()
    torch.testing.assert_close(temporal(x, ROIS), plain(x, ROIS),
                               rtol=0, atol=0)
    with temporal_support(temporal, None):
        torch.testing.assert_close(temporal(x, ROIS), plain(x, ROIS),
                                   rtol=0, atol=0)


def test_each_roi_uses_its_level_and_its_images_support_frames():
    temporal, plain = extractors()
    x = feats()
    support = [f[:, None].repeat(1, 3, 1, 1, 1) * 0.5 + 1
               for f in feats(seed=7)]  # level l: (N=2, T=3, C, H_l, W_l)
    with temporal_support(temporal, support):
        out = temporal(x, ROIS)
    assert temporal.support_feats is None  # cleared on exit
    base = plain(x, ROIS)
    levels = temporal.map_roi_levels(ROIS, 4)
    assert levels.tolist() == [0, 1, 0, 2]
    for k in range(len(ROIS)):
        lvl, b = int(levels[k]), int(ROIS[k, 0])
        expected = temporal.temporal_align(base[k:k + 1], support[lvl][b])
        torch.testing.assert_close(out[k:k + 1], expected)
        other = temporal.temporal_align(base[k:k + 1], support[lvl][1 - b])
        assert not torch.allclose(out[k:k + 1], other)


def test_large_rois_are_searched_at_temporal_size():
    temporal, plain = extractors()
    temporal.temporal_size = 7
    for layer in list(temporal.roi_layers) + list(plain.roi_layers):
        layer.output_size = (14, 14)
    x = feats()
    support = [f[:, None] for f in feats(seed=3)]  # (N, T=1, C, H, W)
    with temporal_support(temporal, support):
        out = temporal(x, ROIS[:1])
    base = plain(x, ROIS[:1])  # (1, C, 14, 14)
    small = torch.nn.functional.avg_pool2d(base, 2)  # (1, C, 7, 7)
    delta = temporal.temporal_align(small, support[0][0]) - small
    expected = base + torch.nn.functional.interpolate(
        delta, size=(14, 14), mode='bilinear', align_corners=False)
    torch.testing.assert_close(out, expected)
    assert (out - base).abs().sum() > 0  # the support frames changed it


def test_feature_memory_is_a_bounded_fifo():
    memory = FeatureMemory(3)
    assert memory.support() is None
    for t in range(1000):
        memory.push((torch.full((1, 2, 4, 4), float(t)),
                     torch.full((1, 2, 2, 2), float(t))))
    assert len(memory) == 3
    support = memory.support()
    assert [s.shape for s in support] == [(1, 3, 2, 4, 4), (1, 3, 2, 2, 2)]
    assert support[0][0, :, 0, 0, 0].tolist() == [997, 998, 999]
    memory.reset()
    assert len(memory) == 0 and memory.support() is None
    assert FeatureMemory(0).support() is None


@pytest.fixture(scope='module')
def troi_model(tiny_ytvis):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ci_tiny.py'))
    cfg.merge_from_dict(dict(model=dict(
        type='TemporalMaskTrackRCNN', memory_size=2,
        detector=dict(roi_head=dict(
            bbox_roi_extractor=dict(type='TemporalRoIExtractor',
                                    temporal=dict(num_heads=4)),
            mask_roi_extractor=dict(type='TemporalRoIExtractor',
                                    temporal=dict(num_heads=4)))))))
    cfg.train_dataloader.dataset.pipeline[0]['num_ref_imgs'] = 2
    apply_data_root(cfg, tiny_ytvis)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


def test_loss_with_key_ref_and_support_frames(troi_model):
    cfg, model = troi_model
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    data = model.data_preprocessor(
        pseudo_collate([dataset[(0, 2)], dataset[(1, 1)]]), training=True)
    assert data['inputs'].shape[1] == 3  # key + tracking ref + support
    model.train()
    losses = model.loss(**data)
    total, _ = model.parse_losses(losses)
    assert math.isfinite(total.item()) and 'loss_match' in losses
    total.backward()
    conv = model.detector.roi_head.bbox_roi_extractor.temporal_align
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in conv.parameters())


def test_troi_rpn_objectness_targets_ignore_the_class(troi_model):
    cfg, model = troi_model
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    own, zeros, labels = rpn_class_independence(model, dataset)
    assert (labels > 0).any()
    for key in ('loss_rpn_cls', 'loss_rpn_bbox'):
        torch.testing.assert_close(sum(own[key]), sum(zeros[key]), rtol=0,
                                   atol=0)


def test_troi_model_refuses_reference_frame_detection(troi_model):
    cfg, _ = troi_model
    model_cfg = cfg.model.copy()
    model_cfg['detect_ref_frames'] = True
    with pytest.raises(ValueError, match='detect_ref_frames'):
        MODELS.build(model_cfg)


def test_online_prediction_keeps_a_bounded_reset_memory(troi_model):
    cfg, model = troi_model
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    model.eval()
    seen = []
    orig = model.feature_memory.support

    def spy():
        s = orig()
        seen.append(0 if s is None else s[0].shape[1])
        return s

    model.feature_memory.support = spy
    try:
        with torch.no_grad():
            for v in range(2):
                out = model.test_step(pseudo_collate([dataset[v]]))[0]
                assert len(out.video_data_samples) == 5
    finally:
        model.feature_memory.support = orig
    # per video: frame 0 has no support, then 1, then 2 (the memory size)
    assert seen == [0, 1, 2, 2, 2] * 2
    assert len(model.feature_memory) == 2


def test_zero_gate_starts_from_plain_roi_align_and_learns():
    temporal, plain = extractors()
    gated = TemporalRoIExtractor(
        temporal=dict(num_heads=2), gate_init=0.0,
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
        out_channels=8, featmap_strides=STRIDES).double()
    x = feats()
    support = [f[:, None] for f in feats(seed=5)]
    with temporal_support(gated, support):
        out = gated(x, ROIS)
    torch.testing.assert_close(out, plain(x, ROIS), rtol=0, atol=0)
    out.sum().backward()
    assert gated.temporal_gate.grad.abs().sum() > 0
