"""Tests of vis.datasets.layout."""

import json
import os

import pytest

from vis.datasets.layout import find_split, json_has_annotations

ANNOTATED = {
    'info': {}, 'licenses': [],
    'videos': [{'id': 1, 'width': 4, 'height': 4, 'length': 1,
                'file_names': ['v/00000.jpg']}],
    'categories': [{'id': 1, 'name': 'person', 'supercategory': 'object'}],
    'annotations': [{'id': 1, 'video_id': 1, 'category_id': 1, 'iscrowd': 0,
                     'segmentations': [None], 'bboxes': [None],
                     'areas': [None], 'width': 4, 'height': 4, 'length': 1}],
}
UNANNOTATED = {key: value for key, value in ANNOTATED.items()
               if key != 'annotations'}


def write_json(path, obj):
    """Write ``obj`` to ``path`` (a pathlib.Path), creating parents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def make_split(root, ann_rel, split, obj=ANNOTATED):
    """Create ``root/ann_rel`` and ``root/<split>/JPEGImages/v``."""
    write_json(root / ann_rel, obj)
    (root / split / 'JPEGImages' / 'v').mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize('ann_rel,version', [
    ('{split}.json', '2019'),
    ('annotations/{split}.json', '2019'),
    ('annotations/youtube_vis_2019_{split}.json', '2019'),
    ('{split}/instances.json', '2021'),
    ('annotations/youtube_vis_2021_{split}.json', '2021'),
])
@pytest.mark.parametrize('split', ['train', 'valid', 'test'])
def test_find_split_layouts(tmp_path, ann_rel, version, split):
    make_split(tmp_path, ann_rel.format(split=split), split)
    # a sibling split must not be picked up
    other = 'valid' if split == 'train' else 'train'
    make_split(tmp_path, f'{other}.json', other)

    info = find_split(str(tmp_path), split)
    assert info == {
        'ann_file': str(tmp_path / ann_rel.format(split=split)),
        'img_dir': str(tmp_path / split / 'JPEGImages'),
        'version': version,
        'has_annotations': True,
    }


def test_find_split_returns_absolute_paths(tmp_path, monkeypatch):
    make_split(tmp_path / 'root', 'train/instances.json', 'train')
    monkeypatch.chdir(tmp_path)
    info = find_split('root', 'train')
    assert os.path.isabs(info['ann_file']) and os.path.isabs(info['img_dir'])
    assert os.path.samefile(info['ann_file'],
                            tmp_path / 'root' / 'train' / 'instances.json')


@pytest.mark.parametrize('obj', [
    UNANNOTATED,
    dict(UNANNOTATED, annotations=[]),
    dict(UNANNOTATED, annotations=None),
])
def test_has_annotations_false_without_annotations(tmp_path, obj):
    make_split(tmp_path, 'valid.json', 'valid', obj)
    assert find_split(str(tmp_path), 'valid')['has_annotations'] is False


def test_2021_layout_wins_over_2019(tmp_path):
    make_split(tmp_path, 'train/instances.json', 'train', ANNOTATED)
    make_split(tmp_path, 'train.json', 'train', UNANNOTATED)
    info = find_split(str(tmp_path), 'train')
    assert info['version'] == '2021' and info['has_annotations'] is True


def test_not_found_message_names_root_split_and_all_paths(tmp_path):
    root = tmp_path / 'data'
    root.mkdir()
    with pytest.raises(FileNotFoundError) as err:
        find_split(str(root), 'valid')
    message = str(err.value)
    assert str(root) in message and "'valid'" in message
    for rel in ('valid.json', 'annotations/valid.json',
                'annotations/youtube_vis_2019_valid.json',
                'valid/instances.json',
                'annotations/youtube_vis_2021_valid.json',
                'valid/JPEGImages'):
        assert str(root / rel) in message, rel


def test_not_found_when_image_folder_missing(tmp_path):
    write_json(tmp_path / 'test.json', UNANNOTATED)
    with pytest.raises(FileNotFoundError) as err:
        find_split(str(tmp_path), 'test')
    message = str(err.value)
    assert str(tmp_path / 'test' / 'JPEGImages') in message
    assert 'image folder' in message


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError, match='val'):
        find_split(str(tmp_path), 'val')


# --------------------------------------------------------------------------
# json_has_annotations: must agree with json.load on tricky documents
# --------------------------------------------------------------------------

TRICKY = [
    ('{"annotations": [{"id": 1}]}', True),
    ('{"annotations":[]}', False),
    ('{"annotations" :  [ \n ] }', False),
    ('{"annotations": null}', False),
    ('{"videos": []}', False),
    ('{}', False),
    ('\ufeff{"annotations": [1]}', True),
    ('  \n{"annotations"\n:\n[\n0]}', True),
    # nested keys named annotations do not count
    ('{"videos": [{"annotations": [1]}], "annotations": []}', False),
    ('{"info": {"annotations": [1, 2]}}', False),
    # the word inside strings does not count
    ('{"info": "\\"annotations\\": [1]", "annotations": []}', False),
    ('{"x": ["annotations", [1]], "y": {"a": "}"}}', False),
    ('{"info": {"d": "{[\\"]}"}, "annotations": [{"s": "]"}]}', True),
    # escaped key still decodes to 'annotations'
    ('{"annot\\u0061tions": [1]}', True),
    # annotations first, then more keys
    ('{"annotations": [{"id": 1}], "videos": [], "categories": []}', True),
]


@pytest.mark.parametrize('text,expected', TRICKY)
def test_json_has_annotations_matches_json_load(tmp_path, text, expected):
    path = tmp_path / 'a.json'
    path.write_text(text, encoding='utf-8')
    reference = bool(json.loads(text.lstrip('\ufeff')).get('annotations'))
    assert reference is expected  # guards the table itself
    assert json_has_annotations(str(path)) is expected


@pytest.mark.parametrize('text', ['', '[1, 2]', '{"videos": [', '"x"'])
def test_json_has_annotations_rejects_non_objects(tmp_path, text):
    path = tmp_path / 'bad.json'
    path.write_text(text)
    with pytest.raises(ValueError, match='bad.json'):
        json_has_annotations(str(path))


def test_json_has_annotations_on_realistic_file(tmp_path):
    """A file shaped like the official ones, 'annotations' last, with RLE strings."""
    np = pytest.importorskip('numpy')
    mask_utils = pytest.importorskip('pycocotools.mask')
    rle = mask_utils.encode(np.asfortranarray(np.eye(8, dtype=np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    obj = dict(ANNOTATED)
    obj['annotations'] = [dict(ANNOTATED['annotations'][0], id=i,
                               segmentations=[rle, None])
                          for i in range(200)]
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(obj))
    assert json_has_annotations(str(path)) is True
    obj['annotations'] = []
    path.write_text(json.dumps(obj))
    assert json_has_annotations(str(path)) is False


# --------------------------------------------------------------------------
# OVIS and YouTube-VIS 2022 layouts
# --------------------------------------------------------------------------

@pytest.mark.parametrize('split', ['train', 'valid', 'test'])
def test_find_split_ovis_layout(tmp_path, split):
    # OVIS: DIR/annotations_<split>.json, frames in DIR/<split>/<video>/
    write_json(tmp_path / f'annotations_{split}.json', ANNOTATED)
    (tmp_path / split / 'v').mkdir(parents=True)
    info = find_split(str(tmp_path), split)
    assert info == {
        'ann_file': str(tmp_path / f'annotations_{split}.json'),
        'img_dir': str(tmp_path / split),
        'version': 'ovis',
        'has_annotations': True,
    }


def test_ovis_frames_under_images_folder(tmp_path):
    write_json(tmp_path / 'annotations_valid.json', UNANNOTATED)
    (tmp_path / 'Images' / 'valid' / 'v').mkdir(parents=True)
    info = find_split(str(tmp_path), 'valid')
    assert info['img_dir'] == str(tmp_path / 'Images' / 'valid')
    assert info['has_annotations'] is False


def test_ovis_without_frames_names_every_folder_tried(tmp_path):
    write_json(tmp_path / 'annotations_train.json', ANNOTATED)
    with pytest.raises(FileNotFoundError) as err:
        find_split(str(tmp_path), 'train')
    message = str(err.value)
    for rel in ('train', 'Images/train', 'train/JPEGImages'):
        assert str(tmp_path / rel) in message, rel


def test_ytvis_layout_wins_over_ovis_naming(tmp_path):
    make_split(tmp_path, 'train.json', 'train')
    write_json(tmp_path / 'annotations_train.json', ANNOTATED)
    info = find_split(str(tmp_path), 'train')
    assert info['version'] == '2019'
    assert info['img_dir'] == str(tmp_path / 'train' / 'JPEGImages')


def test_ytvis2022_layout_is_the_2021_one(tmp_path):
    # 2022: the 2021 train set and a valid split with the long videos, both
    # as DIR/<split>/instances.json + DIR/<split>/JPEGImages
    for split in ('train', 'valid'):
        make_split(tmp_path, f'{split}/instances.json', split)
    assert find_split(str(tmp_path), 'valid')['version'] == '2021'
    assert find_split(str(tmp_path), 'train')['img_dir'] == \
        str(tmp_path / 'train' / 'JPEGImages')
