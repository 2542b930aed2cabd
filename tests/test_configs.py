"""Every shipped config builds, with the backbone it names."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import vis  # noqa: F401
from mmdet.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def cfg_of(name):
    return Config.fromfile(osp.join(ROOT, 'configs', name))


@pytest.mark.parametrize('name, depth, groups, width, layers', [
    ('masktrack_r50.py', 50, 1, 64, [3, 4, 6, 3]),
    ('masktrack_r101.py', 101, 1, 64, [3, 4, 23, 3]),
    ('masktrack_x101.py', 101, 64, 4, [3, 4, 23, 3]),
])
def test_backbone_is_what_the_config_says(name, depth, groups, width, layers):
    cfg = cfg_of(name)
    model = MODELS.build(cfg.model)
    backbone = model.detector.backbone
    assert backbone.depth == depth
    assert [len(getattr(backbone, f'layer{i}')) for i in range(1, 5)] == layers
    conv2 = backbone.layer1[0].conv2  # the 3x3 conv of the first block
    assert conv2.groups == groups
    if groups > 1:  # ResNeXt 64x4d: 64 groups of 4 channels in stage 1
        assert type(backbone).__name__ == 'ResNeXt'
        assert backbone.base_width == width
        assert conv2.in_channels == groups * width
    else:
        assert type(backbone).__name__ == 'ResNet'
    assert model.detector.roi_head.bbox_head.num_classes == 40
    assert type(model.track_head.embed_head).__name__ == 'CosineRoIEmbedHead'
    assert type(model.tracker).__name__ == 'EmbeddingMemoryTracker'
    # published schedule
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.optim_wrapper.optimizer.lr == 0.00125
    assert cfg.optim_wrapper.clip_grad.max_norm == 35
    assert cfg.param_scheduler[1].milestones == [8, 11]
    assert cfg.model.detector.init_cfg.checkpoint.startswith('https://')


@pytest.mark.parametrize('name', sorted(
    osp.basename(p) for p in glob.glob(osp.join(ROOT, 'configs', '*.py'))))
def test_every_config_parses_and_reads_ytvis_json(name):
    cfg = cfg_of(name)
    train_set = cfg.train_dataloader.dataset
    if train_set.type == 'JointVideoDataset':  # video source first
        assert cfg.train_dataloader.sampler.type == 'JointTrackImgSampler'
        train_set = train_set.datasets[0]
    assert train_set.type == 'YouTubeVISJsonDataset'
    assert cfg.test_evaluator.type == 'YouTubeVISVideoMetric'
    assert 'vis' in cfg.custom_imports.imports
    if '2021' in name:
        assert train_set.ann_file == 'train/instances.json'
        assert cfg.test_evaluator.ann_file.endswith('valid/instances.json')


def test_cosine_head_logits_are_bounded():
    cfg = cfg_of('masktrack_r50.py')
    head = MODELS.build(cfg.model.track_head.embed_head)
    feats = torch.randn(5, 256, 7, 7) * 100
    emb = head.embed(feats)
    logits = emb @ emb.t()
    assert logits.abs().max() <= 1 / 0.1 + 1e-4
    torch.testing.assert_close(logits.diagonal(), torch.full((5, ), 10.0))
