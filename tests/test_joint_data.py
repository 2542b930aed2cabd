"""Still images as training data: coco2ytvis output through the train
pipeline (the reference warp), class-mapped image sets, and joint
video + image training at a sampling ratio (configs/masktrack_r50_coco_joint.py)."""
import json
import os.path as osp
from collections import Counter

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import vis  # noqa: F401
from export_coco import export_coco
from mmdet.registry import DATASETS
from vis.datasets import (ClassMappedYouTubeVISDataset, JointTrackImgSampler,
                          JointVideoDataset)
from vis.datasets.converters.coco import read_coco
from vis.datasets.converters.writer import write_conversion

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
NAMES = ('disc', 'box', 'triangle', 'ring', 'cross')


@pytest.fixture(scope='module')
def coco_root(tiny_ytvis, tmp_path_factory):
    """The tiny video set's train frames as a coco2ytvis data root."""
    tmp = tmp_path_factory.mktemp('coco_images')
    exported = export_coco(osp.join(tiny_ytvis, 'train.json'),
                           osp.join(tiny_ytvis, 'train', 'JPEGImages'),
                           str(tmp / 'coco'))
    out = str(tmp / 'coco_ytvis')
    write_conversion(read_coco(exported['ann_file'], exported['image_dir']),
                     out)
    return out


def _quickstart_train_dataset(data_root, **overrides):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ci_tiny.py'))
    ds = dict(cfg.train_dataloader.dataset)
    ds.update(data_root=data_root, ann_file='train.json',
              data_prefix=dict(img_path='train/JPEGImages/'), **overrides)
    return DATASETS.build(ds)


def test_export_coco_makes_one_image_per_frame(tiny_ytvis, coco_root):
    with open(osp.join(tiny_ytvis, 'train.json')) as f:
        ytvis = json.load(f)
    with open(osp.join(coco_root, 'train.json')) as f:
        converted = json.load(f)
    assert len(converted['videos']) == sum(v['length']
                                           for v in ytvis['videos'])
    assert all(v['length'] == 1 for v in converted['videos'])
    assert converted['categories'] == ytvis['categories']
    visible = sum(s is not None for a in ytvis['annotations']
                  for s in a['segmentations'])
    assert len(converted['annotations']) == visible


def test_still_image_reference_is_warped_with_ids_kept(coco_root):
    """A one-frame video's reference is the key frame itself: the train
    pipeline warps it on its own, so key and reference differ while the
    instance ids match (a subset: instances warped out of view go)."""
    dataset = _quickstart_train_dataset(coco_root)
    differing = 0
    for index in range(6):
        video = dataset.get_data_info(index)
        assert video['video_length'] == 1
        data = dataset[(index, 0)]
        sample = data['data_samples']
        frames = data['inputs']  # (2, 3, H, W): the key and its reference
        key_img = frames[sample.key_frames_inds[0]]  # (3, H, W)
        ref_img = frames[sample.ref_frames_inds[0]]  # (3, H, W)
        key_ids = set(sample.get_key_frames()[0].gt_instances.instances_ids
                      .tolist())
        ref_ids = set(sample.get_ref_frames()[0].gt_instances.instances_ids
                      .tolist())
        assert ref_ids <= key_ids
        if ref_img.shape != key_img.shape or \
                (ref_img.float() - key_img.float()).abs().mean() > 1:
            differing += 1
        # the reference boxes are the tight boxes of its masks
        ref = sample.get_ref_frames()[0].gt_instances
        masks = ref.masks.to_ndarray()  # (K, H, W)
        for box, mask in zip(ref.bboxes.numpy(), masks):
            ys, xs = np.nonzero(mask)
            np.testing.assert_allclose(
                box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    assert differing == 6


def test_class_mapped_dataset_maps_names_and_drops_the_rest(coco_root):
    classes = ('ball', 'triangle', 'cube')
    dataset = _quickstart_train_dataset(
        coco_root, type='ClassMappedYouTubeVISDataset',
        class_map={'Disc': 'ball', 'box': 'cube', 'ring': None},
        metainfo=dict(classes=classes))
    assert isinstance(dataset, ClassMappedYouTubeVISDataset)
    assert dataset.metainfo['classes'] == classes
    assert dataset.dropped_categories == ['ring', 'cross']
    assert dataset.cat2label == {1: 0, 2: 2, 3: 1}
    with open(osp.join(coco_root, 'train.json')) as f:
        converted = json.load(f)
    labels = Counter(i['bbox_label'] for v in range(len(dataset))
                     for f in dataset.get_data_info(v)['images']
                     for i in f['instances'])
    kept = Counter({0: 0, 1: 0, 2: 0})
    for a in converted['annotations']:
        if a['category_id'] in (1, 2, 3):
            kept[{1: 0, 2: 2, 3: 1}[a['category_id']]] += 1
    assert labels == +kept
    with pytest.raises(ValueError, match='none of its 5 categories maps'):
        _quickstart_train_dataset(
            coco_root, type='ClassMappedYouTubeVISDataset',
            metainfo=dict(classes=('zebra', )))


def _joint(tiny_ytvis, coco_root, image_classes=NAMES):
    video = _quickstart_train_dataset(tiny_ytvis,
                                      metainfo=dict(classes=NAMES))
    image = _quickstart_train_dataset(
        coco_root, type='ClassMappedYouTubeVISDataset',
        metainfo=dict(classes=image_classes))
    return JointVideoDataset([video, image]), video, image


def test_joint_dataset_indexes_videos_globally(tiny_ytvis, coco_root):
    joint, video, image = _joint(tiny_ytvis, coco_root)
    assert len(joint) == len(video) + len(image)
    assert joint.source_of(len(video)) == (1, 0)
    assert joint.get_len_per_video(0) == video.get_len_per_video(0)
    assert joint.get_data_info(len(video))['images'][0]['img_path'] == \
        image.get_data_info(0)['images'][0]['img_path']
    item = joint[(len(video) + 2, 0)]
    assert item['data_samples'].get_key_frames()[0].img_path == \
        image.get_data_info(2)['images'][0]['img_path']
    with pytest.raises(TypeError, match='indexed by'):
        joint[0]
    with pytest.raises(ValueError, match=r'source 1 .* has the classes'):
        _joint(tiny_ytvis, coco_root, image_classes=NAMES[::-1])


def test_joint_sampler_draws_sources_at_the_ratio(tiny_ytvis, coco_root,
                                                  monkeypatch):
    joint, video, image = _joint(tiny_ytvis, coco_root)
    video_frames = sum(video.get_len_per_video(v) for v in range(len(video)))
    image_frames = len(image)
    sampler = JointTrackImgSampler(joint, source_ratio=(2, 1), seed=0)
    epoch0 = list(sampler)
    from_video = [i for i in epoch0 if i[0] < len(video)]
    from_image = [i for i in epoch0 if i[0] >= len(video)]
    assert sorted(from_video) == sorted(
        (v, f) for v in range(len(video))
        for f in range(video.get_len_per_video(v)))  # every frame once
    assert len(from_image) == round(video_frames / 2)
    assert len(set(from_image)) == len(from_image) <= image_frames
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert epoch1 != epoch0 and sorted(
        i for i in epoch1 if i[0] < len(video)) == sorted(from_video)
    # more images than there are: the image source is cycled
    many = JointTrackImgSampler(joint, source_ratio=(1, 4), seed=0)
    drawn = Counter(i for i in many if i[0] >= len(video))
    assert sum(drawn.values()) == 4 * video_frames
    assert max(drawn.values()) - min(drawn.values()) <= 1
    # two processes share one epoch, padded to equal halves
    monkeypatch.setattr('vis.datasets.joint.get_dist_info', lambda: (0, 2))
    rank0 = list(JointTrackImgSampler(joint, source_ratio=(2, 1), seed=0))
    monkeypatch.setattr('vis.datasets.joint.get_dist_info', lambda: (1, 2))
    rank1 = list(JointTrackImgSampler(joint, source_ratio=(2, 1), seed=0))
    assert len(rank0) == len(rank1)
    assert set(rank0) | set(rank1) == set(epoch0)
    with pytest.raises(ValueError, match='2 entries for 2 sources|entries'):
        JointTrackImgSampler(joint, source_ratio=(1, ), seed=0)
    with pytest.raises(TypeError, match='samples a JointVideoDataset'):
        JointTrackImgSampler(video, seed=0)


def test_joint_config_trains_one_batch(tiny_ytvis, coco_root):
    """configs/masktrack_r50_coco_joint.py, pointed at the tiny sets, builds
    its dataloader (the aspect-ratio batch sampler over the joint sampler)
    and yields batches mixing both sources; unmapped classes are printed."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(osp.join(ROOT, 'configs',
                                   'masktrack_r50_coco_joint.py'))
    assert cfg.train_dataloader.sampler.source_ratio == (2, 1)
    assert cfg.train_dataloader.dataset.datasets[1].class_map.endswith(
        'configs/class_maps/coco_to_ytvis2019.json')
    loader = dict(cfg.train_dataloader)
    loader.update(num_workers=0, persistent_workers=False, batch_size=2)
    video, image = loader['dataset']['datasets']
    video.update(data_root=tiny_ytvis, metainfo=dict(classes=NAMES))
    image.update(data_root=coco_root, metainfo=dict(classes=NAMES),
                 class_map={'ring': None})
    init_default_scope('mmdet')
    dataloader = Runner.build_dataloader(loader, seed=0)
    assert dataloader.dataset.datasets[1].dropped_categories == ['ring']
    batch = next(iter(dataloader))
    assert len(batch['inputs']) == 2
    sources = Counter(joint_idx[0] >= len(dataloader.dataset.datasets[0])
                      for joint_idx in dataloader.batch_sampler.sampler)
    assert sources[True] == round(sources[False] / 2)
