"""Test-time speed-ups that must not change the outputs: masks pasted
straight to RLE (vis.ops.mask_paste, RLEFCNMaskHead, RLEMasks),
channels-last convolutions (OnlineMaskTrackRCNN) and the native RoIAlign
reading them (ChannelsLastRoIExtractor)."""
import os.path as osp

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData

from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.registry import DATASETS, MODELS
from vis.config_utils import apply_data_root
from vis.models import (ChannelsLastRoIExtractor, OnlineMaskTrackRCNN,
                        RLEFCNMaskHead)
from vis.ops import roi_align_native
from vis.ops.mask_paste import bilinear_weights, paste_masks_to_rle
from vis.structures import RLEMasks, dense_masks, mask_rles

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TEST_CFG = ConfigDict(mask_thr_binary=0.5)


def random_boxes(gen, num, height, width):
    """(num, 4) boxes inside the image, as the box head clips them, with a
    few degenerate ones."""
    xy = torch.rand(num, 2, generator=gen) * torch.tensor([width, height])
    wh = torch.rand(num, 2, generator=gen) * torch.tensor([width, height])
    boxes = torch.cat([xy, xy + wh], 1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    if num >= 4:
        boxes[0] = torch.tensor([5.0, 6.0, 5.0, 20.0])  # zero width
        boxes[1] = torch.tensor([0.0, 0.0, 1.0, 1.0])  # one pixel
        boxes[2] = torch.tensor([0.0, 0.0, width, height])  # whole image
        boxes[3] = torch.tensor([width - 3.3, height - 2.7, width, height])
    return boxes


def heads(num_classes=3, **kwargs):
    torch.manual_seed(0)
    ref = FCNMaskHead(num_convs=1, in_channels=8, conv_out_channels=8,
                      num_classes=num_classes).eval()
    fast = RLEFCNMaskHead(num_convs=1, in_channels=8, conv_out_channels=8,
                          num_classes=num_classes, **kwargs).eval()
    fast.load_state_dict(ref.state_dict())
    return ref, fast


@pytest.mark.parametrize('size,scale', [((48, 64), 1.0), ((37, 91), 1.0),
                                        ((120, 80), 0.5)])
def test_rle_paste_equals_mmdet_paste(size, scale):
    """The same masks and boxes as mmdet's head (which pastes one mask at a
    time with grid_sample), for boxes of every size, degenerate ones too,
    with and without rescaling to the original image."""
    height, width = size
    gen = torch.Generator().manual_seed(height)
    num = 40
    in_h, in_w = round(height * scale), round(width * scale)
    boxes = random_boxes(gen, num, in_h, in_w)
    logits = torch.randn(num, 3, 28, 28, generator=gen) * 4
    labels = torch.randint(0, 3, (num, ), generator=gen)
    meta = dict(scale_factor=(scale, scale), ori_shape=(height, width))
    ref, fast = heads()
    ref_boxes, fast_boxes = boxes.clone(), boxes.clone()
    expected = ref._predict_by_feat_single(logits, ref_boxes, labels, meta,
                                           TEST_CFG, rescale=True)
    got = fast._predict_by_feat_single(logits, fast_boxes, labels, meta,
                                       TEST_CFG, rescale=True)
    assert isinstance(got, RLEMasks) and got.shape == (num, height, width)
    # boxes are rescaled in place, as mmdet's head does for the results
    torch.testing.assert_close(fast_boxes, ref_boxes)
    dense = got.to_numpy()
    differ = (dense != expected.numpy()).reshape(num, -1).sum(1)
    # the products round differently from grid_sample: a pixel at the
    # threshold may flip, no more
    assert differ.max() <= 1, differ
    assert dense.any(axis=(1, 2)).sum() > num // 2  # not trivially empty


def test_rle_paste_of_nothing_and_of_whole_masks():
    assert paste_masks_to_rle(torch.zeros(0, 28, 28), torch.zeros(0, 4),
                              10, 12) == []
    boxes = torch.tensor([[0.0, 0.0, 12.0, 10.0], [3.0, 2.0, 7.0, 9.0]])
    rles = paste_masks_to_rle(torch.ones(2, 28, 28), boxes, 10, 12)
    masks = mask_utils.decode(rles).transpose(2, 0, 1).astype(bool)
    assert masks[0].all()  # the whole image
    # a box [3, 7) x [2, 9): pixel centres inside it, all on
    expected = np.zeros((10, 12), bool)
    expected[2:9, 3:7] = True
    np.testing.assert_array_equal(masks[1], expected)
    assert [r['size'] for r in rles] == [[10, 12]] * 2


def test_bilinear_weights_against_grid_sample():
    """Each row of the weights, applied to a grid, gives grid_sample's value
    at that pixel (zero padding outside the grid)."""
    gen = torch.Generator().manual_seed(3)
    grid = torch.rand(1, 1, 1, 7, generator=gen, dtype=torch.float64)
    start = torch.tensor([2.3])
    stop = torch.tensor([9.1])
    lo, hi = torch.tensor([1]), torch.tensor([11])
    weights = bilinear_weights(start, stop, lo, hi, 12, 7)  # (1, 12, 7)
    assert weights.shape == (1, 12, 7)
    pixels = torch.arange(1, 11, dtype=torch.float64) + 0.5
    coord = (pixels - 2.3) / (9.1 - 2.3) * 2 - 1
    sample_at = torch.stack([coord, torch.zeros_like(coord)], -1)
    expected = torch.nn.functional.grid_sample(
        grid, sample_at.view(1, 1, -1, 2), align_corners=False)[0, 0, 0]
    got = weights[0, :10].double() @ grid[0, 0, 0]
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    assert (weights[0, 10:] == 0).all()  # padding rows past hi


def test_rle_head_forward_and_soft_masks_fall_back():
    ref, fast = heads()
    x = torch.randn(5, 8, 14, 14)
    with torch.no_grad():
        got = fast(x)
        torch.testing.assert_close(got, ref(x), atol=1e-5, rtol=1e-5)
    assert got.is_contiguous()
    # a negative threshold asks for soft uint8 masks: mmdet's tensor path
    meta = dict(scale_factor=(1.0, 1.0), ori_shape=(20, 30))
    boxes = torch.tensor([[1.0, 2.0, 15.0, 18.0]])
    out = fast._predict_by_feat_single(
        torch.randn(1, 3, 28, 28), boxes, torch.tensor([1]), meta,
        ConfigDict(mask_thr_binary=-1), rescale=True)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint8


def test_rle_masks_in_instance_data():
    gen = np.random.default_rng(0)
    dense = gen.uniform(size=(5, 9, 11)) > 0.6
    masks = RLEMasks.from_dense(dense)
    np.testing.assert_array_equal(masks.to_numpy(), dense)
    np.testing.assert_array_equal(masks.areas(), dense.sum(axis=(1, 2)))
    inst = InstanceData(scores=torch.arange(5.0), masks=masks)
    keep = inst[inst.scores >= 2]  # bool tensor index
    assert isinstance(keep.masks, RLEMasks) and len(keep.masks) == 3
    np.testing.assert_array_equal(keep.masks.to_numpy(), dense[2:])
    picked = inst[torch.tensor([4, 0])]
    np.testing.assert_array_equal(dense_masks(picked.masks), dense[[4, 0]])
    np.testing.assert_array_equal(inst[1:3].masks.to_numpy(), dense[1:3])
    both = InstanceData.cat([inst[:2], inst[4:]])
    np.testing.assert_array_equal(both.masks.to_numpy(), dense[[0, 1, 4]])
    empty = inst[inst.scores > 10]
    assert empty.masks.shape == (0, 9, 11)
    assert empty.masks.to_numpy().shape == (0, 9, 11)
    # json-ready RLEs: the same from RLEMasks and from the dense masks
    assert mask_rles(masks) == mask_rles(torch.from_numpy(dense))
    assert all(isinstance(r['counts'], str) for r in mask_rles(masks))
    with pytest.raises(ValueError, match='size'):
        RLEMasks(masks.rles, 9, 12)
    with pytest.raises(ValueError, match='concatenate'):
        masks.cat([masks, RLEMasks([], 4, 4)])
    with pytest.raises(IndexError, match='bool index'):
        masks[np.ones(3, bool)]


# ---------------------------------------------------------------------------
# the whole model: channels-last and RLE output change no output
# ---------------------------------------------------------------------------
def tiny_model(mmdet_extractors=False, **model_options):
    """``configs/ci_tiny.py``'s model with ``model_options`` merged in;
    ``mmdet_extractors``: mmdet's ``SingleRoIExtractor`` everywhere."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ci_tiny.py'))
    cfg.merge_from_dict(dict(model=model_options))
    if mmdet_extractors:
        roi_head = cfg.model.detector.roi_head
        for extractor in (roi_head.bbox_roi_extractor,
                          roi_head.mask_roi_extractor,
                          cfg.model.track_head.roi_extractor):
            extractor.type = 'SingleRoIExtractor'
            extractor.pop('channels_last_output', None)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval(), cfg


@pytest.fixture(scope='module')
def tiny_video(tiny_ytvis):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ci_tiny.py'))
    apply_data_root(cfg, tiny_ytvis)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    return pseudo_collate([dataset[0]]), len(dataset.metainfo['classes'])


def test_channels_last_features_match_and_roi_maps(tiny_video, monkeypatch):
    batch, num_classes = tiny_video
    model, _ = tiny_model()
    assert isinstance(model, OnlineMaskTrackRCNN) and model.channels_last
    data = model.data_preprocessor(batch, False)
    img = data['inputs'][:, 0]
    with torch.no_grad():
        conv_x, roi_x = model.frame_features(img)
        # without the native RoIAlign, mmcv's RoIAlign reads channels-last
        # maps wrongly: the RoI ops then get contiguous copies
        monkeypatch.setenv(roi_align_native.ENV_VAR, '0')
        assert not model.roi_ops_read_channels_last(conv_x)
        conv_y, roi_y = model.frame_features(img)
        monkeypatch.delenv(roi_align_native.ENV_VAR)
        model.channels_last = False
        plain, plain_roi = model.frame_features(img)
    assert all(f.is_contiguous(memory_format=torch.channels_last)
               for f in conv_x)
    # all RoI extractors are native: they read the channels-last maps
    assert model.roi_ops_read_channels_last(conv_x)
    assert not model.roi_ops_read_channels_last(
        tuple(f.double() for f in conv_x))
    assert roi_x is conv_x
    assert all(f.is_contiguous() for f in roi_y)
    assert plain is plain_roi
    for a, b, c in zip(roi_x, roi_y, plain):
        assert torch.equal(a, b)
        torch.testing.assert_close(a, c, atol=1e-4, rtol=1e-4)


def test_online_model_equals_mmdet_masktrack_rcnn(tiny_video):
    """With channels-last off and dense masks, OnlineMaskTrackRCNN is mmdet's
    MaskTrackRCNN exactly; RLE masks decode to the same masks."""
    batch, _ = tiny_video
    ours, _ = tiny_model(
        channels_last=False,
        detector=dict(roi_head=dict(mask_head=dict(rle_output=False,
                                                   channels_last=False))))
    theirs, _ = tiny_model(
        type='MaskTrackRCNN', mmdet_extractors=True,
        detector=dict(roi_head=dict(mask_head=dict(type='FCNMaskHead'))))
    assert not any(isinstance(m, ChannelsLastRoIExtractor)
                   for m in theirs.modules())
    theirs.load_state_dict(ours.state_dict())
    rle, _ = tiny_model(channels_last=False, detector=dict(roi_head=dict(
        mask_head=dict(channels_last=False))))
    rle.load_state_dict(ours.state_dict())
    with torch.no_grad():
        got = ours.test_step(batch)[0]
        expected = theirs.test_step(batch)[0]
        got_rle = rle.test_step(batch)[0]
    total = 0
    for a, b, c in zip(got, expected, got_rle):
        a, b, c = (s.pred_track_instances for s in (a, b, c))
        total += len(b)
        for key in ('bboxes', 'scores', 'labels', 'instances_id'):
            assert torch.equal(a[key], b[key]), key
            assert torch.equal(c[key], b[key]), key
        assert torch.equal(a.masks, b.masks)
        differ = (dense_masks(c.masks) != b.masks.numpy()).reshape(
            len(b), -1).sum(1)
        assert differ.max(initial=0) <= 1
    assert total > 0
