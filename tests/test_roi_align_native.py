"""The native multi-level RoIAlign (vis.ops.roi_align_native) and the RoI
extractor that uses it at inference (ChannelsLastRoIExtractor): values
bit-identical to mmcv's RoIAlign, a hand-worked ramp, empty inputs, errors,
and the fall-backs to mmdet's path."""
import warnings

import pytest
import torch
from mmcv.ops import roi_align
from mmengine.config import ConfigDict

from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from vis.models import ChannelsLastRoIExtractor
from vis.native import BuildError, build_library
from vis.ops import MultiLevelRoIAlign, multilevel_roi_align, roi_align_native

SCALES = [1 / 4, 1 / 8, 1 / 16, 1 / 32]


@pytest.fixture(autouse=True)
def native_kernel(monkeypatch):
    monkeypatch.delenv(roi_align_native.ENV_VAR, raising=False)
    assert roi_align_native.load() is not None, 'the kernel did not build'


def pyramid(gen, batch=2, channels=24, height=48, width=80, levels=4):
    """FPN-like maps (N, C, H / 2^l, W / 2^l), contiguous."""
    return [torch.randn(batch, channels, height >> lvl, width >> lvl,
                        generator=gen) for lvl in range(levels)]


def random_rois(gen, num, batch, height, width):
    """(num, 5) RoIs of all sizes, some partly or wholly outside the image,
    a few of zero size."""
    xy = (torch.rand(num, 2, generator=gen) * 1.2 - 0.1) * torch.tensor(
        [width, height])
    wh = torch.rand(num, 2, generator=gen) ** 2 * torch.tensor(
        [width, height])
    wh[:3] = 0  # zero size: no samples when adaptive
    ids = torch.randint(0, batch, (num, 1), generator=gen).float()
    return torch.cat([ids, xy, xy + wh], 1)


def mmcv_per_level(feats, rois, levels, size, scales, sampling_ratio,
                   aligned):
    """mmcv's RoIAlign, each level's RoIs on its own map (the reference)."""
    out = feats[0].new_zeros(len(rois), feats[0].shape[1], size, size)
    for lvl, feat in enumerate(feats):
        sel = levels == lvl
        if sel.any():
            out[sel] = roi_align(feat, rois[sel], size, scales[lvl],
                                 sampling_ratio, 'avg', aligned)
    return out


@pytest.mark.parametrize('sampling_ratio', [0, 1, 2])
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('size', [7, 14])
def test_bit_identical_to_mmcv(sampling_ratio, aligned, size):
    gen = torch.Generator().manual_seed(size + 3 * sampling_ratio + aligned)
    feats = pyramid(gen)
    rois = random_rois(gen, 150, 2, 192, 320)
    levels = torch.randint(0, 4, (150, ), generator=gen)
    expected = mmcv_per_level(feats, rois, levels, size, SCALES,
                              sampling_ratio, aligned)
    for maps in (feats, [f.contiguous(memory_format=torch.channels_last)
                         for f in feats]):
        for channels_last_output in (False, True):
            got = multilevel_roi_align(maps, rois, levels, size, SCALES,
                                       sampling_ratio, aligned,
                                       channels_last_output)
            assert got.shape == expected.shape
            assert got.is_contiguous(memory_format=torch.channels_last
                                     if channels_last_output else
                                     torch.contiguous_format)
            assert torch.equal(got, expected)


def test_hand_worked_ramp():
    """On a map whose value is the column index, bilinear sampling is exact,
    so each bin holds the mean x of its samples: the bin centre (aligned:
    shifted by half a pixel)."""
    width = 40
    ramp = torch.arange(width, dtype=torch.float32).expand(1, 3, 10, width)
    rois = torch.tensor([[0., 4., 2., 20., 8.],  # 16 px wide, 4 bins
                         [0., 10., 1., 13., 9.]])  # 3 px wide
    got = multilevel_roi_align([ramp.contiguous()], rois,
                               torch.zeros(2, dtype=torch.long), (2, 4),
                               [1.0], sampling_ratio=0, aligned=True)
    for k, (x1, x2) in enumerate([(4., 20.), (10., 13.)]):
        bin_w = (x2 - x1) / 4
        centres = torch.tensor([x1 - 0.5 + (pw + 0.5) * bin_w
                                for pw in range(4)])
        torch.testing.assert_close(got[k], centres.expand(3, 2, 4),
                                   rtol=0, atol=1e-5)


def test_empty_inputs():
    gen = torch.Generator().manual_seed(0)
    feats = pyramid(gen)
    none = multilevel_roi_align(feats, torch.zeros(0, 5),
                                torch.zeros(0, dtype=torch.long), 7, SCALES)
    assert none.shape == (0, 24, 7, 7)
    empty_batch = [torch.zeros(0, 24, 8, 8)]
    assert multilevel_roi_align(empty_batch, torch.zeros(0, 5),
                                torch.zeros(0, dtype=torch.long), 7,
                                [1.0]).shape == (0, 24, 7, 7)
    no_channels = [torch.zeros(1, 0, 8, 8)]
    assert multilevel_roi_align(no_channels, torch.tensor([[0., 1, 1, 5, 5]]),
                                torch.zeros(1, dtype=torch.long), 7,
                                [1.0]).shape == (1, 0, 7, 7)


def test_errors_name_the_roi():
    feats = [torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 4, 4)]
    level0 = torch.zeros(3, dtype=torch.long)
    negative = torch.tensor([[0., 1, 1, 5, 5], [0., 1, 1, 5, 5],
                             [0., 6, 1, 5, 5]])
    with pytest.raises(ValueError, match=r'RoI 2 .*negative'):
        multilevel_roi_align(feats, negative, level0, 7, [1.0, 0.5])
    # without aligned a negative size is clamped to 1, as mmcv
    multilevel_roi_align(feats, negative, level0, 7, [1.0, 0.5],
                         aligned=False)
    bad_batch = negative.clone()
    bad_batch[2] = torch.tensor([1., 1, 1, 5, 5])
    with pytest.raises(ValueError, match=r'RoI 2 .*1 images'):
        multilevel_roi_align(feats, bad_batch, level0, 7, [1.0, 0.5])
    nan = negative.clone()
    nan[1, 3] = float('nan')
    with pytest.raises(ValueError, match='RoI 1 '):
        multilevel_roi_align(feats, nan, level0, 7, [1.0, 0.5])
    with pytest.raises(ValueError, match=r'RoI 0 .*2 levels'):
        multilevel_roi_align(feats, negative[:1], torch.tensor([2]), 7,
                             [1.0, 0.5])
    with pytest.raises(ValueError, match='feature level 1'):
        multilevel_roi_align([feats[0], feats[1].double()], negative[:1],
                             level0[:1], 7, [1.0, 0.5])
    with pytest.raises(ValueError, match='spatial scales'):
        multilevel_roi_align(feats, negative[:1], level0[:1], 7, [1.0])
    with pytest.raises(ValueError, match=r'rois must be \(K, 5\)'):
        multilevel_roi_align(feats, negative[:, :4], level0, 7, [1.0, 0.5])


def test_module_wrapper():
    layer = MultiLevelRoIAlign(output_size=(7, 5), spatial_scales=[1.0],
                               sampling_ratio=2)
    assert repr(layer) == (
        'MultiLevelRoIAlign(output_size=(7, 5), spatial_scales=(1.0,), '
        'sampling_ratio=2, aligned=True, channels_last_output=False)')
    feat = torch.randn(1, 3, 16, 16)
    rois = torch.tensor([[0., 2, 3, 11, 13]])
    expected = roi_align(feat, rois, (7, 5), 1.0, 2, 'avg', True)
    assert torch.equal(layer([feat], rois, torch.zeros(1, dtype=torch.long)),
                       expected)


def test_disabled_and_build_errors(monkeypatch, tmp_path):
    monkeypatch.setenv(roi_align_native.ENV_VAR, '0')
    assert roi_align_native.load() is None
    with pytest.raises(RuntimeError, match='not available'):
        multilevel_roi_align([torch.zeros(1, 1, 4, 4)], torch.zeros(0, 5),
                             torch.zeros(0, dtype=torch.long), 7, [1.0])
    broken = tmp_path / 'broken.c'
    broken.write_text('int f( {')
    with pytest.raises(BuildError, match='broken.c'):
        build_library(str(broken), str(tmp_path / 'broken.so'), ['-shared'])
    assert not (tmp_path / 'broken.so').exists()
    assert [p.name for p in tmp_path.iterdir()] == ['broken.c']


def test_unavailable_kernel_warns_once_then_falls_back(monkeypatch,
                                                      tmp_path):
    """A failing compiler: one warning naming mmcv's RoIAlign, then None
    at once (the failure is remembered)."""
    monkeypatch.setattr(roi_align_native, 'LIBRARY',
                        str(tmp_path / '_roi_align_kernel.so'))
    monkeypatch.setenv('CC', 'false')
    roi_align_native.reset()
    try:
        with pytest.warns(RuntimeWarning,
                          match="native RoIAlign kernel .*uses mmcv's"):
            assert roi_align_native.load() is None
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            assert roi_align_native.load() is None
        assert not roi_align_native.can_pool([torch.zeros(1, 1, 4, 4)])
    finally:
        roi_align_native.reset()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# ChannelsLastRoIExtractor
# ---------------------------------------------------------------------------
def extractors(**kwargs):
    cfg = dict(roi_layer=dict(type='RoIAlign', output_size=7,
                              sampling_ratio=0),
               out_channels=24, featmap_strides=[4, 8, 16, 32])
    ours = MODELS.build(ConfigDict(type='ChannelsLastRoIExtractor', **cfg,
                                   **kwargs))
    theirs = MODELS.build(ConfigDict(type='SingleRoIExtractor', **cfg))
    return ours, theirs


def test_extractor_equals_mmdet_without_grad():
    gen = torch.Generator().manual_seed(1)
    feats = [f.contiguous(memory_format=torch.channels_last)
             for f in pyramid(gen, height=96, width=160)]
    # boxes of all scales so that every FPN level gets some
    rois = random_rois(gen, 200, 2, 384, 640)
    for channels_last_output in (False, True):
        ours, theirs = extractors(channels_last_output=channels_last_output)
        assert isinstance(ours, SingleRoIExtractor)
        with torch.no_grad():
            assert ours.uses_native(feats, rois)
            got = ours(feats, rois)
            # mmcv needs contiguous maps
            expected = theirs([f.contiguous() for f in feats], rois)
        assert len(set(ours.map_roi_levels(rois, 4).tolist())) == 4
        assert torch.equal(got, expected)
        assert got.is_contiguous(memory_format=torch.channels_last) == \
            channels_last_output


def test_extractor_falls_back_to_mmdet(monkeypatch):
    gen = torch.Generator().manual_seed(2)
    feats = [f.requires_grad_() for f in pyramid(gen, batch=1, height=96,
                                                    width=160)]
    rois = random_rois(gen, 30, 1, 384, 640)
    ours, theirs = extractors()
    # gradients wanted: mmcv's op, which has a backward
    assert not ours.uses_native(feats, rois)
    got = ours(feats, rois)
    got.sum().backward()
    assert all(f.grad is not None for f in feats)
    with torch.no_grad():
        assert torch.equal(got, theirs(feats, rois))
        assert not ours.uses_native(feats, rois, roi_scale_factor=1.5)
        assert not ours.uses_native([f.double() for f in feats],
                                    rois.double())
        monkeypatch.setenv(roi_align_native.ENV_VAR, '0')
        assert not ours.uses_native(feats, rois)
        assert torch.equal(ours(feats, rois), theirs(feats, rois))
