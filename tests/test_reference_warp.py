"""KeyFrameReferenceWarp: a reference that is the key frame itself (a still
image as a one-frame video) gets its own identity-preserving warp."""
import copy
import json
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose

import vis  # noqa: F401  (registers the transform)
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from vis.datasets import KeyFrameReferenceWarp, YouTubeVISJsonDataset
from vis.datasets.reference_warp import tight_boxes
from vis.datasets.synthetic import make_split

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
H, W = 64, 96
IDENTITY = dict(scale=(1.0, 1.0), max_shift=0.0, max_rotate=0.0,
                brightness=0.0, contrast=0.0, saturation=0.0)
PER_INSTANCE = ('gt_bboxes', 'gt_bboxes_labels', 'gt_masks',
                'gt_instances_ids', 'gt_ignore_flags')


def frame(seed=0, boxes=((10, 8, 30, 28), (50, 20, 80, 50), (0, 40, 6, 64))):
    """One frame's fields as the broadcaster leaves them."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    masks = np.zeros((len(boxes), H, W), dtype=np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        masks[i, y1:y2, x1:x2] = 1
    return dict(
        img=img, img_shape=(H, W), ori_shape=(H, W),
        gt_bboxes=HorizontalBoxes(np.array(boxes, dtype=np.float32)),
        gt_bboxes_labels=np.arange(len(boxes), dtype=np.int64) + 1,
        gt_masks=BitmapMasks(masks, H, W),
        gt_instances_ids=np.arange(len(boxes), dtype=np.int32) + 101,
        gt_ignore_flags=np.zeros(len(boxes), dtype=bool))


def sample(ref_frame_ids=(0,), key_frame_id=0, seed=0):
    """Results of a sample: the key frame and references (by frame id);
    frames with the key's id are independent copies of it."""
    ids = sorted([key_frame_id] + list(ref_frame_ids))
    key_index = ids.index(key_frame_id)
    frames = [frame(seed) if f == key_frame_id else frame(seed + 1 + f)
              for f in ids]
    results = {k: [fr[k] for fr in frames] for k in frames[0]}
    results['frame_id'] = ids
    results['video_id'] = [7] * len(ids)
    results['img_path'] = [f'v/{f:05d}.jpg' for f in ids]
    results['img_id'] = [100 + f for f in ids]
    flags = [False] * len(ids)
    flags[key_index] = True
    results['key_frame_flags'] = flags
    return results


def warp_once(results, seed=0, **kwargs):
    np.random.seed(seed)
    return KeyFrameReferenceWarp(**kwargs)(copy.deepcopy(results))


def assert_consistent(out, j):
    n = len(out['gt_masks'][j])
    for k in PER_INSTANCE:
        assert len(out[k][j]) == n, k
    masks = out['gt_masks'][j].masks
    assert (masks.reshape(n, -1).sum(1) > 0).all()
    np.testing.assert_array_equal(out['gt_bboxes'][j].tensor.numpy(),
                                  tight_boxes(masks))


def test_registered_with_documented_defaults():
    t = TRANSFORMS.build(dict(type='KeyFrameReferenceWarp'))
    assert isinstance(t, KeyFrameReferenceWarp)
    assert t.scale == (0.8, 1.25) and t.max_shift == 0.15
    assert t.max_rotate == 10.0
    assert (t.brightness, t.contrast, t.saturation) == (0.15, 0.15, 0.15)


@pytest.mark.parametrize('seed', range(8))
def test_boxes_are_the_tight_boxes_of_the_warped_masks(seed):
    before = sample()
    out = warp_once(before, seed=seed)
    key, ref = out['key_frame_flags'].index(True), \
        out['key_frame_flags'].index(False)
    assert_consistent(out, ref)
    assert not np.array_equal(out['img'][ref], out['img'][key])
    # the masks moved (the image with them): no draw is the identity
    kept = out['gt_instances_ids'][ref]
    key_ids = list(out['gt_instances_ids'][key])
    moved = [not np.array_equal(out['gt_masks'][ref].masks[i],
                                out['gt_masks'][key].masks[key_ids.index(d)])
             for i, d in enumerate(kept)]
    assert any(moved)
    # the key frame is untouched
    np.testing.assert_array_equal(out['img'][key], before['img'][key])
    np.testing.assert_array_equal(out['gt_masks'][key].masks,
                                  before['gt_masks'][key].masks)


def test_ids_kept_and_dropped_instances_removed_from_every_field():
    results = sample()
    key = results['key_frame_flags'].index(True)
    labels_of = dict(zip(results['gt_instances_ids'][key].tolist(),
                         results['gt_bboxes_labels'][key].tolist()))
    ignore_of = {101: False, 102: True, 103: False}
    for r in range(2):
        results['gt_ignore_flags'][r] = np.array([False, True, False])
    dropped_any = False
    for seed in range(40):
        out = warp_once(results, seed=seed, max_shift=0.3)
        ref = 1 - key
        assert_consistent(out, ref)
        ids = out['gt_instances_ids'][ref].tolist()
        assert ids == sorted(ids) and set(ids) <= set(labels_of)
        assert out['gt_instances_ids'][ref].dtype == np.int32
        assert [labels_of[i] for i in ids] == \
            out['gt_bboxes_labels'][ref].tolist()
        assert [ignore_of[i] for i in ids] == \
            out['gt_ignore_flags'][ref].tolist()
        dropped_any |= len(ids) < 3
    assert dropped_any  # the thin instance at the left edge leaves the view


def test_shift_out_of_view_drops_the_instance():
    t = KeyFrameReferenceWarp()
    fr = frame()
    out = t.warp_frame(fr, dict(scale=1.0, angle=0.0, shift=(-8.0, 0.0)))
    # instance 103 (x 0..6) is gone; the others moved 8 px left
    assert out['gt_instances_ids'].tolist() == [101, 102]
    np.testing.assert_array_equal(
        out['gt_bboxes'].tensor.numpy(),
        np.array([[2, 8, 22, 28], [42, 20, 72, 50]], dtype=np.float32))
    assert out['gt_masks'].masks.shape == (2, H, W)
    assert len(out['gt_bboxes_labels']) == len(out['gt_ignore_flags']) == 2


def test_below_min_area_is_dropped():
    t = KeyFrameReferenceWarp(min_area=40)
    fr = frame()  # instance 103 has 6 x 24 = 144 pixels
    out = t.warp_frame(fr, dict(scale=1.0, angle=0.0, shift=(-5.0, 0.0)))
    assert out['gt_instances_ids'].tolist() == [101, 102]  # 24 px left
    out = t.warp_frame(fr, dict(scale=1.0, angle=0.0, shift=(-3.0, 0.0)))
    assert out['gt_instances_ids'].tolist() == [101, 102, 103]  # 72 px


def test_two_references_of_the_key_get_independent_draws():
    out = warp_once(sample(ref_frame_ids=(0, 0)), seed=3)
    assert out['key_frame_flags'] == [True, False, False]
    a, b = out['img'][1], out['img'][2]
    assert not np.array_equal(a, b)
    assert not np.array_equal(out['gt_masks'][1].masks,
                              out['gt_masks'][2].masks)
    for j in (1, 2):
        assert_consistent(out, j)


def test_same_seed_same_warp():
    one = warp_once(sample(ref_frame_ids=(0, 0)), seed=5)
    two = warp_once(sample(ref_frame_ids=(0, 0)), seed=5)
    for j in range(3):
        np.testing.assert_array_equal(one['img'][j], two['img'][j])
        np.testing.assert_array_equal(one['gt_masks'][j].masks,
                                      two['gt_masks'][j].masks)


def test_reference_from_another_frame_is_untouched():
    results = sample(ref_frame_ids=(3,), key_frame_id=1)
    before = copy.deepcopy(results)
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    out = KeyFrameReferenceWarp()(results)
    for k, values in before.items():
        for j, v in enumerate(values):
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(out[k][j], v)
                assert out[k][j].dtype == v.dtype
            elif isinstance(v, HorizontalBoxes):
                assert torch.equal(out[k][j].tensor, v.tensor)
            elif isinstance(v, BitmapMasks):
                np.testing.assert_array_equal(out[k][j].masks, v.masks)
            else:
                assert out[k][j] == v
    # nothing drawn either: the random stream of a real video is unchanged
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_same_frame_id_of_another_file_is_not_the_key():
    results = sample(ref_frame_ids=(0,))
    results['img_path'][1] = 'other/00000.jpg'
    out = warp_once(results)
    np.testing.assert_array_equal(out['img'][1], results['img'][1])


def test_mixed_references_warp_only_the_key_copy():
    # filter_key_img=False with two references: the key itself and frame 2
    results = sample(ref_frame_ids=(0, 2), key_frame_id=0)
    out = warp_once(results)
    assert results['frame_id'] == [0, 0, 2]
    assert not np.array_equal(out['img'][1], results['img'][0])
    np.testing.assert_array_equal(out['img'][2], results['img'][2])
    np.testing.assert_array_equal(out['gt_masks'][2].masks,
                                  results['gt_masks'][2].masks)


def test_identity_parameters_give_the_input_back():
    results = sample(ref_frame_ids=(0, 0))
    out = warp_once(results, **IDENTITY)
    for j in range(3):
        np.testing.assert_array_equal(out['img'][j], results['img'][j])
        assert out['img'][j].dtype == np.uint8
        np.testing.assert_array_equal(out['gt_masks'][j].masks,
                                      results['gt_masks'][j].masks)
        assert torch.equal(out['gt_bboxes'][j].tensor,
                           results['gt_bboxes'][j].tensor)
        for k in ('gt_bboxes_labels', 'gt_instances_ids', 'gt_ignore_flags'):
            np.testing.assert_array_equal(out[k][j], results[k][j])


@pytest.mark.parametrize('dx, dy', [(5, 0), (0, 3), (-7, 4)])
def test_pure_shift_moves_a_marker_pixel_by_k(dx, dy):
    t = KeyFrameReferenceWarp()
    fr = frame()
    fr['img'] = np.zeros((H, W, 3), dtype=np.uint8)
    fr['img'][30, 40] = (10, 200, 250)
    out = t.warp_frame(fr, dict(scale=1.0, angle=0.0,
                                shift=(float(dx), float(dy))))
    img = out['img']
    assert tuple(img[30 + dy, 40 + dx]) == (10, 200, 250)
    assert np.count_nonzero(img[..., 1] == 200) == 1
    # the masks and boxes moved by the same k (instance 101 stays in view)
    m = out['gt_masks'].masks[0]
    assert m[8 + dy, 10 + dx] == 1 and m[27 + dy, 29 + dx] == 1
    np.testing.assert_array_equal(out['gt_bboxes'].tensor.numpy()[0],
                                  [10 + dx, 8 + dy, 30 + dx, 28 + dy])


def test_rotation_is_about_the_frame_centre():
    # 180 degrees (outside the training range, exact to check by hand):
    # pixel (x, y) lands on (W-1-x, H-1-y)
    t = KeyFrameReferenceWarp()
    fr = frame()
    img = np.zeros((H, W, 3), dtype=np.uint8)
    img[5, 12] = 255
    fr['img'] = img
    out = t.warp_frame(fr, dict(scale=1.0, angle=180.0, shift=(0.0, 0.0)))
    assert out['img'][H - 1 - 5, W - 1 - 12].tolist() == [255, 255, 255]
    np.testing.assert_array_equal(out['gt_bboxes'].tensor.numpy()[0],
                                  [W - 30, H - 28, W - 10, H - 8])


def test_brightness_factor_scales_the_pixels():
    img = np.full((4, 4, 3), 100, dtype=np.uint8)
    img[0, 0] = 250
    out = KeyFrameReferenceWarp._jitter(
        img, dict(brightness=1.1, contrast=1.0, saturation=1.0))
    assert out.dtype == np.uint8
    assert out[1, 1].tolist() == [110, 110, 110]
    assert out[0, 0].tolist() == [255, 255, 255]  # clipped


def test_a_draw_that_would_drop_everything_is_redrawn():
    # one thin instance at the border that most shifts push out of view
    results = sample()
    for j in range(2):
        fr = frame(boxes=((0, 20, 3, 40),))
        for k in PER_INSTANCE:
            results[k][j] = fr[k]
    for seed in range(20):
        out = warp_once(results, seed=seed, max_shift=0.3)
        assert len(out['gt_instances_ids'][1]) == 1
        assert_consistent(out, 1)


# ---------------------------------------------------------------------
# configs and the whole train pipeline

def test_base_config_has_it_and_ci_tiny_indices_still_hold():
    base = Config.fromfile(osp.join(ROOT, 'configs/_base_/datasets/'
                                    'ytvis2019.py'))
    types = [t['type'] for t in base.train_pipeline]
    assert types == ['UniformRefFrameSample', 'TransformBroadcaster',
                     'KeyFrameReferenceWarp', 'PackTrackInputs']
    assert 'KeyFrameReferenceWarp' not in [t['type']
                                           for t in base.test_pipeline]
    Compose(base.train_pipeline)  # builds
    for name, scale in (('quickstart_synthetic.py', (320, 192)),
                        ('ci_tiny.py', (96, 64))):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
        pipeline = cfg.train_dataloader.dataset.pipeline
        assert pipeline[1].transforms[2].type == 'Resize'
        assert tuple(pipeline[1].transforms[2].scale) == scale
        assert pipeline[2].type == 'KeyFrameReferenceWarp'


def one_frame_videos(tmp_path, num_videos=3, keep_long=0):
    """A json of one-frame videos (still images), made from generated
    two-frame videos by keeping their first frame; the first ``keep_long``
    videos stay two frames long."""
    path = make_split(str(tmp_path), 'train', num_videos=num_videos,
                      num_frames=2, height=64, width=96, seed=4)
    with open(path) as f:
        ann = json.load(f)
    short = {v['id'] for v in ann['videos'][keep_long:]}
    for v in ann['videos']:
        if v['id'] in short:
            v['file_names'] = v['file_names'][:1]
            v['length'] = 1
    for a in ann['annotations']:
        if a['video_id'] in short:
            for k in ('segmentations', 'bboxes', 'areas'):
                a[k] = a[k][:1]
    ann['annotations'] = [a for a in ann['annotations']
                          if a['segmentations'][0] is not None
                          or a['video_id'] not in short]
    with open(path, 'w') as f:
        json.dump(ann, f)
    return path


def box_array(boxes):
    boxes = getattr(boxes, 'tensor', boxes)  # packed: a Tensor or boxes
    return boxes.numpy()


def train_dataset(path, pipeline):
    return YouTubeVISJsonDataset(
        ann_file=path,
        data_prefix=dict(img_path=osp.join(osp.dirname(path),
                                           'train/JPEGImages/')),
        filter_cfg=dict(min_size=0), pipeline=pipeline)


def test_one_frame_video_through_the_whole_train_pipeline(tmp_path):
    from mmdet.datasets.samplers import TrackImgSampler
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ci_tiny.py'))
    path = one_frame_videos(tmp_path)
    ds = train_dataset(path, cfg.train_dataloader.dataset.pipeline)
    assert len(ds) == 3
    assert all(ds.get_data_info(i)['video_length'] == 1 for i in range(3))
    sampler = TrackImgSampler(ds, seed=0)
    indices = list(sampler)
    assert sorted(indices) == [(0, 0), (1, 0), (2, 0)]
    random.seed(0)
    np.random.seed(0)
    for idx in indices:
        packed = ds[idx]
        inputs, sample_ = packed['inputs'], packed['data_samples']
        assert inputs.shape[0] == 2 and inputs.dtype == torch.uint8
        key = sample_.key_frames_inds[0]
        ref = sample_.ref_frames_inds[0]
        frames = sample_.video_data_samples
        assert frames[key].img_path == frames[ref].img_path
        assert not torch.equal(inputs[key], inputs[ref])
        k_gt, r_gt = frames[key].gt_instances, frames[ref].gt_instances
        assert len(k_gt) > 0 and len(r_gt) > 0
        assert set(r_gt.instances_ids.tolist()) <= \
            set(k_gt.instances_ids.tolist())
        np.testing.assert_array_equal(
            box_array(r_gt.bboxes), tight_boxes(r_gt.masks.masks))
        assert type(r_gt.bboxes) is type(k_gt.bboxes)
        assert r_gt.masks.masks.shape[1:] == tuple(inputs.shape[2:])


def test_real_videos_come_out_of_the_pipeline_bit_for_bit(tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ci_tiny.py'))
    pipeline = cfg.train_dataloader.dataset.pipeline
    without = [t for t in pipeline if t.type != 'KeyFrameReferenceWarp']
    path = one_frame_videos(tmp_path, num_videos=2, keep_long=1)
    with_warp = train_dataset(path, pipeline)
    plain = train_dataset(path, without)
    assert with_warp.get_data_info(0)['video_length'] == 2
    for frame_idx in (0, 1):
        outs = []
        for ds in (with_warp, plain):
            random.seed(1)
            np.random.seed(1)
            outs.append(ds[(0, frame_idx)])
        assert torch.equal(outs[0]['inputs'], outs[1]['inputs'])
        for a, b in zip(outs[0]['data_samples'].video_data_samples,
                        outs[1]['data_samples'].video_data_samples):
            np.testing.assert_array_equal(box_array(a.gt_instances.bboxes),
                                          box_array(b.gt_instances.bboxes))
            np.testing.assert_array_equal(a.gt_instances.masks.masks,
                                          b.gt_instances.masks.masks)
            assert torch.equal(a.gt_instances.instances_ids,
                               b.gt_instances.instances_ids)
    # and the one-frame video of the same set is warped
    random.seed(1)
    np.random.seed(1)
    packed = with_warp[(1, 0)]
    assert not torch.equal(packed['inputs'][0], packed['inputs'][1])
