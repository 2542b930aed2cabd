"""Regionally refined masks (RegionRefineHead + RLERegionRefineRoIHead):
patch extraction against naive references, the band and the band blend
(a perfect coarse mask passes unchanged), the refiner's shapes (float64,
meta device), joint training (loss_refine, also without positives), RLE
masks of the frame size pasted in original-frame coordinates, no
detections, TRoI, the configs and the predictor."""
import math
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData

import vis  # noqa: F401
from mask_head_helpers import (FullFrameTensors, build, cfg_of,
                               tiny_datasets)
from mmdet.registry import DATASETS, MODELS
from vis.apis import VideoPredictor
from vis.config_utils import apply_data_root
from vis.models import (RegionRefineHead, RLEFCNMaskHead,
                        RLERegionRefineRoIHead, refine_frames)
from vis.ops import mask_paste
from vis.ops.mask_paste import paste_masks_to_rle
from vis.ops.region_patches import (blend_in_band, boundary_band,
                                    crop_patches, patch_boxes, resample_grid)
from vis.structures import RLEMasks

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CH = 32  # ci_tiny's width
CONFIGS = [('quickstart_synthetic_regionrefine.py', 'quickstart_synthetic.py'),
           ('masktrack_r50_regionrefine.py', 'masktrack_r50.py'),
           ('masktrack_x101_troi_regionrefine.py', 'masktrack_x101_troi.py')]


def tiny(cfg):
    """``cfg``'s model at configs/ci_tiny.py's sizes, with a small
    refiner (16 x 16 cells over the box, 4 of context)."""
    cfg.merge_from_dict(dict(model=dict(
        detector=dict(
            backbone=dict(base_channels=16),
            neck=dict(in_channels=[16, 32, 64, 128], out_channels=CH),
            rpn_head=dict(in_channels=CH, feat_channels=CH),
            roi_head=dict(
                bbox_roi_extractor=dict(out_channels=CH),
                bbox_head=dict(in_channels=CH, fc_out_channels=64),
                mask_roi_extractor=dict(out_channels=CH),
                mask_head=dict(in_channels=CH, conv_out_channels=CH),
                refine_head=dict(patch_size=16, margin=4,
                                 channels=(4, 8, 8), band_width=2))),
        track_head=dict(roi_extractor=dict(out_channels=CH),
                        embed_head=dict(in_channels=CH,
                                        fc_out_channels=64)))))
    return cfg


@pytest.fixture(scope='module')
def data(tiny_ytvis):
    """ci_tiny's datasets (96x64 frames) on the tiny generated videos."""
    return tiny_datasets(tiny_ytvis)


@pytest.fixture(scope='module')
def model(data):
    return build(tiny(cfg_of('quickstart_synthetic_regionrefine.py')),
                 data[2])


# ---------------------------------------------------------------- patches


def naive_bilinear(image, x, y):
    """(C,) bilinear read of (C, H, W) ``image`` at continuous (x, y)
    (pixel (r, c) centred at (c + 0.5, r + 0.5)), zero outside."""
    height, width = image.shape[1:]
    u, v = x - 0.5, y - 0.5
    c0, r0 = math.floor(u), math.floor(v)
    value = image.new_zeros(image.shape[0])
    for r, wr in ((r0, 1 - (v - r0)), (r0 + 1, v - r0)):
        for c, wc in ((c0, 1 - (u - c0)), (c0 + 1, u - c0)):
            if 0 <= r < height and 0 <= c < width:
                value += wr * wc * image[:, r, c]
    return value


def naive_crop(maps, rois, size, samples):
    out = maps.new_zeros(len(rois), maps.shape[1], size, size)
    for k, (n, x1, y1, x2, y2) in enumerate(rois.tolist()):
        cell_w, cell_h = (x2 - x1) / size, (y2 - y1) / size
        for i in range(size):
            for j in range(size):
                reads = [naive_bilinear(maps[int(n)],
                                        x1 + (j + (b + 0.5) / samples) *
                                        cell_w,
                                        y1 + (i + (a + 0.5) / samples) *
                                        cell_h)
                         for a in range(samples) for b in range(samples)]
                out[k, :, i, j] = torch.stack(reads).mean(0)
    return out


def test_crop_patches_match_a_naive_reference():
    # two hand-made 2-channel 7 x 9 maps: a ramp and a checkerboard
    rows, cols = torch.meshgrid(torch.arange(7.0), torch.arange(9.0),
                                indexing='ij')
    maps = torch.stack([
        torch.stack([rows * 9 + cols, (rows + cols) % 2]),
        torch.stack([cols - rows, (rows * cols) % 3]),
    ]).double()  # (2, 2, 7, 9)
    rois = torch.tensor([
        [1, 1.0, 1.0, 7.0, 5.0],  # inside map 1
        [0, 2.3, 0.6, 5.9, 4.1],  # fractional corners
        [0, -2.0, -1.5, 3.0, 2.5],  # partly outside the map
        [1, 8.2, 6.1, 11.0, 9.0],  # mostly outside
        [0, 4.4, 3.3, 4.6, 3.5],  # smaller than a pixel
    ], dtype=torch.float64)
    for size, samples in ((4, 1), (3, 2), (5, 3)):
        ours = crop_patches(maps, rois, size, samples=samples)
        assert ours.shape == (5, 2, size, size)
        assert ours.dtype == torch.float64
        torch.testing.assert_close(ours, naive_crop(maps, rois, size,
                                                    samples))
    # one map: the same as a batch whose RoIs all read map 0
    ours = crop_patches(maps[:1], rois[1:3] * torch.tensor(
        [0, 1, 1, 1, 1.0], dtype=torch.float64), 4, samples=2)
    torch.testing.assert_close(ours, naive_crop(maps, rois[1:3], 4, 2))
    # a cell of a pixel-aligned box at one read per cell is the pixel
    exact = crop_patches(maps, torch.tensor([[0, 2.0, 1.0, 6.0, 5.0]],
                                            dtype=torch.float64), 4)
    torch.testing.assert_close(exact[0], maps[0, :, 1:5, 2:6])
    assert crop_patches(maps, rois[:0], 4).shape == (0, 2, 4, 4)


def test_patch_boxes_add_margin_cells_of_the_same_size():
    boxes = torch.tensor([[10.0, 20.0, 58.0, 44.0]])
    grown = patch_boxes(boxes, 48, 4)
    torch.testing.assert_close(grown, torch.tensor([[6.0, 18.0, 62.0,
                                                     46.0]]))
    # (P + 2m) cells over the grown box, P over the box: same cell size
    torch.testing.assert_close((grown[:, 2:] - grown[:, :2]) / 56,
                               (boxes[:, 2:] - boxes[:, :2]) / 48)


def test_resample_grid_reads_the_mask_grid_on_the_patch_cells():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1, 7, 7, generator=g, dtype=torch.float64)
    plain = resample_grid(logits, 12)
    torch.testing.assert_close(plain, F.interpolate(
        logits, size=(12, 12), mode='bilinear', align_corners=False))
    framed = resample_grid(logits, 12, margin=3)  # (3, 1, 18, 18)
    assert framed.shape == (3, 1, 18, 18)
    torch.testing.assert_close(framed[..., 3:-3, 3:-3], plain)
    # outside the box the grid's edge is repeated
    for side in (framed[..., :3], framed[..., -3:]):
        assert torch.equal(side, side[..., :1].expand_as(side))


# ------------------------------------------------------------ band, blend


def naive_band(on, width):
    size_h, size_w = on.shape
    band = np.zeros_like(on, dtype=bool)
    for i in range(size_h):
        for j in range(size_w):
            window = on[max(i - width, 0):i + width + 1,
                        max(j - width, 0):j + width + 1]
            band[i, j] = window.min() != window.max()
    return band


def test_the_band_is_within_width_cells_of_the_contour():
    on = np.zeros((12, 12), dtype=bool)
    on[3:8, 2:6] = True  # a 5 x 4 rectangle
    on[9:, 9:] = True  # a corner touching the grid's edge
    logits = torch.from_numpy(np.where(on, 3.0, -3.0))[None, None]
    for width in (1, 2, 3):
        band = boundary_band(logits, width)
        assert band.dtype == torch.bool and band.shape == (1, 1, 12, 12)
        assert np.array_equal(band[0, 0].numpy(), naive_band(on, width))
    band = boundary_band(logits, 1)[0, 0]
    # by hand: the rectangle's edge cells and the cells just outside it
    assert band[3, 2] and band[2, 2] and band[7, 5] and band[8, 6]
    assert not band[5, 3]  # 2 cells inside the rectangle
    assert not band[0, 0] and not band[5, 8]  # 3 cells away
    # no contour, no band; the label is probability >= 0.5
    for value in (5.0, -5.0, 0.0):
        assert not boundary_band(torch.full((2, 1, 6, 6), value), 2).any()
    with pytest.raises(ValueError, match='band width'):
        boundary_band(logits, 0)


@pytest.mark.parametrize('dtype, saturated', [(torch.float32, 20.0),
                                              (torch.float64, 40.0)])
def test_a_perfect_coarse_mask_passes_the_band_blend_unchanged(dtype,
                                                               saturated):
    on = torch.zeros(2, 1, 16, 16, dtype=torch.bool)
    on[0, 0, 4:11, 3:9] = True
    on[1, 0, :, 8:] = True
    coarse = torch.where(on, saturated, -saturated).to(dtype)
    band = boundary_band(coarse, 3)
    assert band.any() and not band.all()
    g = torch.Generator().manual_seed(0)
    refined = torch.randn(2, 1, 16, 16, generator=g, dtype=dtype) * 30
    assert torch.equal(blend_in_band(coarse, refined, band), coarse)


def test_the_band_blend_keeps_coarse_outside_the_band_and_where_agreed():
    g = torch.Generator().manual_seed(0)
    coarse = torch.randn(3, 1, 10, 10, generator=g, dtype=torch.float64)
    band = boundary_band(coarse, 1)
    # where the refiner agrees the output is the coarse mask
    assert torch.equal(blend_in_band(coarse, coarse.clone(), band), coarse)
    refined = torch.full_like(coarse, float('nan'))
    refined[band] = 7.0
    out = blend_in_band(coarse, refined, band)
    assert torch.equal(out[~band], coarse[~band])  # NaN never leaks out
    prob = coarse.sigmoid()
    expected = coarse + 4 * prob * (1 - prob) * (7.0 - coarse)
    torch.testing.assert_close(out[band], expected[band])
    # on the contour (p = 0.5) the refined value replaces the coarse one
    zero = torch.zeros(1, 1, 1, 1, dtype=torch.float64)
    assert blend_in_band(zero, zero + 3, zero == 0).item() == 3.0


# --------------------------------------------------------------- refiner


def small_head(**kwargs):
    torch.manual_seed(0)
    return RegionRefineHead(patch_size=20, margin=2, channels=(4, 8, 8),
                            band_width=2, **kwargs)


def refiner_inputs(num, dtype=torch.float32, device='cpu'):
    g = torch.Generator().manual_seed(1)
    frames = torch.randn(2, 3, 40, 60, generator=g).to(device, dtype)
    xy = torch.rand(num, 2, generator=g) * torch.tensor([50.0, 30.0])
    boxes = torch.cat([xy, xy + 2 + torch.rand(num, 2, generator=g) * 25],
                      dim=1)
    index = torch.arange(num)[:, None] % 2
    rois = torch.cat([index.float(), boxes], dim=1).to(device, dtype)
    coarse = (torch.randn(num, 1, 28, 28, generator=g) * 4).to(device, dtype)
    return frames, rois, coarse


def test_refiner_shapes_float64_and_empty():
    head = small_head().double().eval()
    frames, rois, coarse = refiner_inputs(5, torch.float64)
    image, coarse_cells = head.patches(frames, rois, coarse)
    assert image.shape == (5, 3, 24, 24) and coarse_cells.shape == \
        (5, 1, 24, 24)
    with torch.no_grad():
        refined = head(image, coarse_cells)
        blended, coarse_box, band = head.refine(frames, rois, coarse)
    assert refined.shape == blended.shape == coarse_box.shape == \
        band.shape == (5, 1, 20, 20)
    assert refined.dtype == blended.dtype == torch.float64
    assert band.dtype == torch.bool
    # the output convolution starts near zero: about the coarse mask
    assert (refined - coarse_cells[..., 2:-2, 2:-2]).abs().max() < 0.05
    torch.testing.assert_close(head.predict(frames, rois, coarse), blended)
    # no RoI
    with torch.no_grad():
        none = head.predict(frames, rois[:0], coarse[:0])
    assert none.shape == (0, 1, 20, 20)
    loss = head.loss(frames, rois[:0], coarse[:0], None)
    assert loss.item() == 0
    loss.backward()
    assert all(p.grad is not None for p in head.parameters())
    with pytest.raises(ValueError, match='multiple of 4'):
        RegionRefineHead(patch_size=21, margin=2)


def test_refiner_shapes_on_the_meta_device():
    head = small_head().to('meta').eval()
    frames, rois, coarse = refiner_inputs(6, device='meta')
    frames = frames[:1]  # one frame: no per-frame grouping (no sync)
    image, coarse_cells = head.patches(frames, rois, coarse)
    assert image.shape == (6, 3, 24, 24) and image.device.type == 'meta'
    blended, coarse_box, band = head.refine(frames, rois, coarse)
    assert blended.shape == band.shape == (6, 1, 20, 20)
    assert blended.device.type == band.device.type == 'meta'


@pytest.mark.gpu
def test_refiner_on_cuda_matches_cpu():
    head = small_head().eval()
    inputs = refiner_inputs(7)
    with torch.no_grad():
        cpu = head.refine(*inputs)
        gpu = head.cuda().refine(*(t.cuda() for t in inputs))
    assert all(t.device.type == 'cuda' for t in gpu)
    torch.testing.assert_close(gpu[0].cpu(), cpu[0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gpu[1].cpu(), cpu[1], atol=1e-5, rtol=1e-5)


def test_refiner_loss_trains_only_the_refiner():
    head = small_head()
    frames, rois, coarse = refiner_inputs(4)
    coarse.requires_grad_(True)
    targets = (torch.rand(4, 1, 20, 20) > 0.5).float()
    loss = head.loss(frames, rois, coarse, targets)
    assert loss.item() > 0 and math.isfinite(loss.item())
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in head.parameters())
    assert coarse.grad is None  # detached: the mask head has its own loss


# ------------------------------------------------------- model, training


def loss_step(model, dataset, items):
    data = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in items]), training=True)
    model.train()
    losses = model.loss(**data)
    total, log_vars = model.parse_losses(losses)
    assert math.isfinite(total.item())
    total.backward()
    return {key: float(value.detach()) for key, value in log_vars.items()}


def test_one_training_step_trains_the_refiner(model, data):
    losses = loss_step(model, data[0], [(0, 0), (1, 1)])
    for key in ('loss_rpn_cls', 'loss_cls', 'loss_mask', 'loss_refine',
                'loss_match'):
        assert key in losses and math.isfinite(losses[key]), key
    assert losses['loss_refine'] > 0
    head = model.detector.roi_head
    assert head.frames is None  # only set during the step
    for module in (head.refine_head, head.mask_head):
        assert all(p.grad is not None and p.grad.abs().sum() > 0
                   for p in module.parameters())
    model.zero_grad()


def test_no_positive_roi_gives_a_zero_refine_loss(model):
    head = model.detector.roi_head
    mask_preds = torch.randn(0, head.mask_head.num_classes, 28, 28)
    empty = SimpleNamespace(pos_priors=torch.zeros(0, 4),
                            pos_gt_labels=torch.zeros(0, dtype=torch.long))
    with refine_frames(model, torch.zeros(2, 3, 64, 96)):
        loss = head.refine_loss(mask_preds, [empty, empty], [None, None])
    assert loss.item() == 0
    loss.backward()
    assert all(p.grad is not None for p in head.refine_head.parameters())
    model.zero_grad()


def test_the_refiner_needs_the_frames(model):
    head = model.detector.roi_head
    with pytest.raises(RuntimeError, match='refine_frames'):
        head._batch_frames(1)
    with refine_frames(model, torch.zeros(2, 3, 8, 8)), \
            pytest.raises(ValueError, match='for 1 images'):
        head._batch_frames(1)


def test_refined_masks_are_pasted_in_the_original_frame(model, monkeypatch):
    """At a network input twice the frame's size: the refined grids of the
    boxes in the input are pasted over the rescaled boxes of the frame."""
    model.eval()
    head = model.detector.roi_head
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(1, 3, 128, 192, generator=g)
    x = tuple(torch.randn(1, CH, 128 // s, 192 // s, generator=g)
              for s in (4, 8, 16, 32))
    boxes = torch.tensor([[10.0, 20.0, 90.0, 100.0], [100.0, 4.0, 190.0,
                                                      60.0],
                          [50.0, 50.0, 52.5, 53.0]])
    results = InstanceData(bboxes=boxes.clone(), labels=torch.tensor(
        [0, 2, 1]), scores=torch.tensor([0.9, 0.8, 0.7]))
    meta = dict(img_shape=(128, 192), ori_shape=(64, 96),
                scale_factor=(2.0, 2.0))
    calls = []
    predict = head.refine_head.predict

    def spy(frames, rois, coarse):
        calls.append((frames, rois.clone(), coarse.clone()))
        return predict(frames, rois, coarse)

    monkeypatch.setattr(head.refine_head, 'predict', spy)
    with torch.no_grad(), refine_frames(model, frames):
        out = head.predict_mask(x, [meta], [results], rescale=True)[0]
    (seen, rois, coarse), = calls
    assert seen is frames and coarse.shape == (3, 1, 28, 28)
    torch.testing.assert_close(rois[:, 1:], boxes)  # the input's boxes
    with torch.no_grad():
        refined = predict(frames, rois, coarse)  # (3, 1, 16, 16)
    assert isinstance(out.masks, RLEMasks)
    assert out.masks.shape == (3, 64, 96)
    expected = paste_masks_to_rle(refined[:, 0].sigmoid(), boxes / 2, 64,
                                  96, 0.5)
    assert out.masks.rles == expected
    torch.testing.assert_close(out.bboxes, boxes / 2)


def test_test_time_masks_are_rle_of_the_frame_size_never_dense(
        model, data, monkeypatch):
    _, test, _ = data
    model.eval()
    assert isinstance(model.detector.roi_head, RLERegionRefineRoIHead)
    assert isinstance(model.detector.roi_head.mask_head, RLEFCNMaskHead)
    model.detector.test_cfg.rcnn.score_thr = 0.0  # untrained: keep boxes
    refined = []
    refine_head = model.detector.roi_head.refine_head
    predict = refine_head.predict

    def spy(*args):
        refined.append(predict(*args))
        return refined[-1]

    encoded = []
    encode = mask_paste.mask_utils.encode

    def spy_encode(array):
        encoded.append(array.shape)
        return encode(array)

    monkeypatch.setattr(refine_head, 'predict', spy)
    monkeypatch.setattr(mask_paste.mask_utils, 'encode', spy_encode)
    batch = pseudo_collate([test[0]])
    height, width = test[0]['data_samples'][0].ori_shape
    data_in = model.data_preprocessor(batch, False)
    mode = FullFrameTensors(height, width)
    with torch.no_grad(), mode:
        out = model.predict(**data_in)[0]
    assert mode.shapes == [] and encoded == []  # no full-frame mask
    total = 0
    for frame in out.video_data_samples:
        masks = frame.pred_track_instances.masks
        assert isinstance(masks, RLEMasks)
        assert masks.shape[1:] == (height, width) == tuple(frame.ori_shape)
        assert all(rle['size'] == [height, width] for rle in masks.rles)
        total += len(masks)
    assert total > 0
    assert refined and all(r.shape[1:] == (1, 16, 16) for r in refined)
    # no detection: nothing to refine, empty masks of the frame size
    refined.clear()
    model.detector.test_cfg.rcnn.score_thr = 1.1
    with torch.no_grad():
        out = model.predict(**model.data_preprocessor(batch, False))[0]
    model.detector.test_cfg.rcnn.score_thr = 0.0
    assert refined == []
    for frame in out.video_data_samples:
        assert len(frame.pred_instances) == 0
        assert tuple(frame.pred_instances.masks.shape[1:]) == (height, width)


def test_troi_refined_model_trains_and_predicts(data, tiny_ytvis):
    _, test, num_classes = data
    cfg = tiny(cfg_of('quickstart_synthetic_regionrefine.py'))
    cfg.merge_from_dict(dict(model=dict(
        type='TemporalMaskTrackRCNN', memory_size=2,
        detector=dict(roi_head=dict(mask_roi_extractor=dict(
            type='TemporalRoIExtractor', temporal_size=7, gate_init=0.0,
            temporal=dict(topk=2, num_heads=4,
                          num_attention_blocks=1)))))))
    model = build(cfg, num_classes)
    assert isinstance(model.detector.roi_head, RLERegionRefineRoIHead)
    train_cfg = cfg_of('ci_tiny.py')
    # key + tracking reference + support frame
    train_cfg.train_dataloader.dataset.pipeline[0]['num_ref_imgs'] = 2
    apply_data_root(train_cfg, tiny_ytvis)
    train = DATASETS.build(train_cfg.train_dataloader.dataset)
    losses = loss_step(model, train, [(0, 2), (1, 1)])
    assert math.isfinite(losses['loss_refine'])
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
                                               tmp_path, monkeypatch):
    cfg = tiny(cfg_of('quickstart_synthetic_regionrefine.py'))
    apply_data_root(cfg, tiny_ytvis)
    classes = data[1].metainfo['classes']
    path = str(tmp_path / 'regionrefine.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=list(classes)))),
               path)
    predictor = VideoPredictor(cfg, path, cfg_options={
        'model.detector.test_cfg.rcnn.score_thr': 0.0})
    head = predictor.model.detector.roi_head
    assert isinstance(head, RLERegionRefineRoIHead)
    calls = []
    predict = head.refine_head.predict
    monkeypatch.setattr(head.refine_head, 'predict',
                        lambda *a: calls.append(1) or predict(*a))
    frame = cv2.imread(data[1].get_data_info(0)['images'][0]['img_path'])
    instances = predictor.predict_frame(frame)
    assert calls  # the predictor's masks are the refined ones
    assert instances.masks.shape[1:] == frame.shape[:2]
    assert instances.masks.dtype == bool


# ---------------------------------------------------------------- configs


def test_configs_keep_their_base_and_add_the_refiner():
    for name, base in CONFIGS:
        cfg, base_cfg = cfg_of(name), cfg_of(base)
        for key in ('test_pipeline', 'train_pipeline', 'train_cfg',
                    'param_scheduler', 'optim_wrapper', 'img_scale'):
            assert cfg.get(key) == base_cfg.get(key), (name, key)
        assert cfg.model.type == base_cfg.model.type
        roi_head = cfg.model.detector.roi_head
        base_head = base_cfg.model.detector.roi_head
        assert roi_head.type == 'RLERegionRefineRoIHead'
        assert roi_head.refine_head.type == 'RegionRefineHead'
        assert roi_head.mask_roi_extractor == base_head.mask_roi_extractor
        mask_head = dict(roi_head.mask_head)
        assert mask_head.pop('paste_by_region') is True
        assert mask_head == base_head.mask_head
    head = MODELS.build(cfg.model.detector.roi_head)  # the x101 TRoI one
    assert type(head.mask_roi_extractor).__name__ == 'TemporalRoIExtractor'
    assert isinstance(head.refine_head, RegionRefineHead)
    assert head.mask_head.paste_by_region
    # mmdet's own mask heads would read the one refined channel wrongly
    roi_head = cfg.model.detector.roi_head
    roi_head.mask_head.type = 'FCNMaskHead'
    roi_head.mask_head.pop('paste_by_region')
    with pytest.raises(ValueError, match='one refined channel'):
        MODELS.build(roi_head)


def test_x101_troi_refined_model_builds():
    model = MODELS.build(cfg_of('masktrack_x101_troi_regionrefine.py').model)
    assert type(model).__name__ == 'TemporalMaskTrackRCNN'
    assert type(model.detector.backbone).__name__ == 'ResNeXt'
    assert isinstance(model.detector.roi_head, RLERegionRefineRoIHead)
    assert model.detector.roi_head.refine_head.cells == 96
