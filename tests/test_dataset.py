"""YouTubeVISJsonDataset reads official-format json directly."""
import copy
import json
import os.path as osp

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from vis.datasets import AnnotationError, YouTubeVISJsonDataset
from vis.datasets.synthetic import make_split


def build(ann_file, img_dir, **kwargs):
    return YouTubeVISJsonDataset(
        ann_file=ann_file, data_prefix=dict(img_path=img_dir), pipeline=[],
        **kwargs)


def videos(ds):
    return [ds.get_data_info(i) for i in range(len(ds))]


def decode(seg, h, w):
    if isinstance(seg, list):
        return mask_utils.decode(mask_utils.merge(
            mask_utils.frPyObjects(seg, h, w)))
    if isinstance(seg['counts'], list):
        return mask_utils.decode(mask_utils.frPyObjects(seg, h, w))
    return mask_utils.decode(seg)


@pytest.fixture(scope='module')
def formats(tmp_path_factory):
    """The same videos written with each segmentation format."""
    root = tmp_path_factory.mktemp('formats')
    paths = {}
    for fmt in ('rle', 'compressed_rle', 'polygon'):
        paths[fmt] = make_split(str(root / fmt), 'train', num_videos=3,
                                num_frames=4, height=48, width=64, seed=11,
                                seg_format=fmt)
    return paths


def test_every_format_gives_the_same_frames_and_masks(formats):
    datasets = {fmt: build(p, osp.join(osp.dirname(p), 'train/JPEGImages'),
                           test_mode=True) for fmt, p in formats.items()}
    ref = datasets['rle']
    with open(formats['rle']) as f:
        raw = json.load(f)
    present = sum(s is not None for a in raw['annotations']
                  for s in a['segmentations'])
    assert sum(len(fr['instances']) for v in videos(ref)
               for fr in v['images']) == present
    assert ref.metainfo['classes'] == ('disc', 'box', 'triangle', 'ring',
                                       'cross')
    for v_idx in range(len(ref)):
        video = ref.get_data_info(v_idx)
        assert video['video_length'] == 4
        for t, frame in enumerate(video['images']):
            assert frame['frame_id'] == t
            assert osp.isfile(frame['img_path'])
            for fmt, ds in datasets.items():
                other = ds.get_data_info(v_idx)['images'][t]['instances']
                assert len(other) == len(frame['instances'])
                for a, b in zip(frame['instances'], other):
                    ma = decode(a['mask'], 48, 64)
                    mb = decode(b['mask'], 48, 64)
                    if fmt == 'polygon':  # no holes (rings); outlines +-1 px
                        assert np.abs(ma.astype(int) - mb).sum() <= \
                            0.35 * ma.sum() + 8
                    else:
                        assert (ma == mb).all()
                    assert a['instance_id'] == b['instance_id']
                    assert a['bbox_label'] == b['bbox_label']


def test_boxes_and_masks_agree_with_json(formats):
    path = formats['compressed_rle']
    with open(path) as f:
        raw = json.load(f)
    ds = build(path, 'imgs', test_mode=True)
    by_id = {a['id']: a for a in raw['annotations']}
    for video in videos(ds):
        for frame in video['images']:
            for inst in frame['instances']:
                a = by_id[inst['instance_id']]
                x, y, w, h = a['bboxes'][frame['frame_id']]
                assert inst['bbox'] == [x, y, x + w, y + h]
                assert inst['bbox_label'] == a['category_id'] - 1
                assert mask_utils.area(inst['mask']) == \
                    a['areas'][frame['frame_id']]


def test_null_frames_have_no_instance(formats):
    with open(formats['rle']) as f:
        raw = json.load(f)
    ds = build(formats['rle'], 'imgs', test_mode=True)
    for a in raw['annotations']:
        v_idx = [v['id'] for v in raw['videos']].index(a['video_id'])
        frames = ds.get_data_info(v_idx)['images']
        for t, seg in enumerate(a['segmentations']):
            ids = [i['instance_id'] for i in frames[t]['instances']]
            assert (a['id'] in ids) == (seg is not None)


def test_classes_subset_from_config(formats):
    ds = build(formats['rle'], 'imgs', test_mode=True,
               metainfo=dict(classes=('ring', 'disc')))
    assert ds.metainfo['classes'] == ('ring', 'disc')
    labels = {i['bbox_label'] for v in videos(ds) for f in v['images']
              for i in f['instances']}
    assert labels <= {0, 1}
    with pytest.raises(AnnotationError, match='unicorn'):
        build(formats['rle'], 'imgs', metainfo=dict(classes=('unicorn', )))


def test_training_mode_drops_empty_frames(formats):
    ds = build(formats['rle'], 'imgs', filter_cfg=dict(min_size=0))
    for video in videos(ds):
        assert all(f['instances'] for f in video['images'])
        assert video['video_length'] == len(video['images'])


def test_2021_layout_loads(tmp_path):
    path = make_split(str(tmp_path), 'train', num_videos=2, num_frames=3,
                      height=32, width=48, seed=1, layout='2021')
    assert path.endswith(osp.join('train', 'instances.json'))
    assert len(build(path, 'imgs', test_mode=True)) == 2


def corrupt(path, tmp_path, edit):
    with open(path) as f:
        raw = json.load(f)
    raw = copy.deepcopy(raw)
    edit(raw)
    out = tmp_path / 'bad.json'
    out.write_text(json.dumps(raw))
    return str(out)


@pytest.mark.parametrize('edit, message', [
    (lambda r: r.pop('videos'), "missing top-level key 'videos'"),
    (lambda r: r['annotations'][0].update(category_id=99),
     'unknown category_id 99'),
    (lambda r: r['annotations'][0].update(video_id=12345),
     'video_id 12345'),
    (lambda r: r['annotations'][0]['segmentations'].pop(),
     "'segmentations' has 3 entries but the video has 4 frames"),
    (lambda r: r['annotations'][1].update(id=r['annotations'][0]['id']),
     'is not unique'),
])
def test_bad_json_raises_naming_the_problem(formats, tmp_path, edit, message):
    bad = corrupt(formats['rle'], tmp_path, edit)
    with pytest.raises(AnnotationError) as err:
        build(bad, 'imgs', test_mode=True)
    assert message in str(err.value)
    assert 'bad.json' in str(err.value)


def test_rle_of_wrong_size_names_video_and_frame(formats, tmp_path):
    def shrink(raw):
        a = raw['annotations'][0]
        t = next(i for i, s in enumerate(a['segmentations']) if s)
        a['segmentations'][t]['size'] = [10, 10]
    bad = corrupt(formats['rle'], tmp_path, shrink)
    with pytest.raises(AnnotationError,
                       match=r'video \d+ annotation \d+ frame \d+: RLE size'):
        build(bad, 'imgs', test_mode=True)
