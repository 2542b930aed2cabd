"""Matching data categories to model classes by name (one rule everywhere)."""
import glob
import json
import os.path as osp

import pytest

from vis.datasets.classes import (OVIS_CLASSES, ClassMismatchError,
                                  load_class_map, match_classes,
                                  normalize_class_name)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MAPS = osp.join(ROOT, 'configs', 'class_maps')


def test_names_compare_case_and_underscore_insensitively():
    assert normalize_class_name('Giant_panda') == 'giant panda'
    assert normalize_class_name('  tennis   Racket ') == 'tennis racket'
    assert normalize_class_name('earless_seal') == \
        normalize_class_name('Earless Seal')


def test_same_classes_in_another_order_map_by_name():
    match = match_classes(['dog', 'cat', 'Bird'], ['cat', 'bird', 'dog'])
    # data index -> model label
    assert match.data_to_model == {0: 2, 1: 0, 2: 1}
    assert match.model_to_data == {2: 0, 0: 1, 1: 2}
    assert not match.is_identity
    assert match.dropped_model == () and match.ignored_data == ()
    assert match_classes(['a', 'b'], ['A', 'b']).is_identity


def test_model_classes_absent_from_the_data_are_dropped():
    match = match_classes(['dog'], ['cat', 'dog', 'zebra'])
    assert match.data_to_model == {0: 1}
    assert match.dropped_model == ('cat', 'zebra')
    assert 'cat, zebra' in match.summary()


def test_a_data_class_the_model_lacks_names_both_lists():
    with pytest.raises(ClassMismatchError) as err:
        match_classes(['cat', 'okapi'], ['cat', 'dog'],
                      data_source='valid.json', model_source='ckpt.pth')
    message = str(err.value)
    assert "['okapi']" in message
    assert "data classes (2): ['cat', 'okapi']" in message
    assert "model classes (2): ['cat', 'dog']" in message
    assert 'valid.json' in message and 'ckpt.pth' in message
    assert '--class-map' in message


def test_class_map_renames_and_null_leaves_a_class_out(tmp_path):
    path = tmp_path / 'map.json'
    path.write_text(json.dumps({'Motorbike': 'motorcycle', 'hand': None}))
    match = match_classes(['person', 'motorbike', 'hand'],
                          ['person', 'motorcycle', 'car'], str(path))
    assert match.data_to_model == {0: 0, 1: 1}
    assert match.ignored_data == ('hand', )
    assert match.dropped_model == ('car', )
    assert 'motorbike -> motorcycle' in match.summary()


def test_class_map_errors(tmp_path):
    with pytest.raises(ClassMismatchError, match='not one of the classes'):
        match_classes(['a'], ['b'], {'a': 'c'})
    with pytest.raises(ClassMismatchError, match='both match'):
        match_classes(['a', 'b'], ['b'], {'a': 'b'})
    with pytest.raises(ClassMismatchError, match='twice'):
        match_classes(['a'], ['a', 'A'])
    with pytest.raises(ClassMismatchError, match='same data class'):
        match_classes(['a'], ['a'], {'a': 'a', 'A': 'a'})
    bad = tmp_path / 'bad.json'
    bad.write_text('["a"]')
    with pytest.raises(ClassMismatchError, match='bad.json'):
        load_class_map(str(bad))
    with pytest.raises(FileNotFoundError, match='nope.json'):
        load_class_map(str(tmp_path / 'nope.json'))


def _dataset_classes():
    from mmdet.datasets import CocoDataset, YouTubeVISDataset
    YouTubeVISDataset.set_dataset_classes('2019')
    ytvis2019 = YouTubeVISDataset.METAINFO['classes']
    YouTubeVISDataset.set_dataset_classes('2021')
    ytvis2021 = YouTubeVISDataset.METAINFO['classes']
    return dict(coco=CocoDataset.METAINFO['classes'], ytvis2019=ytvis2019,
                ytvis2021=ytvis2021, ovis=OVIS_CLASSES)


@pytest.mark.parametrize('path', sorted(glob.glob(osp.join(MAPS, '*.json'))))
def test_shipped_class_maps_cover_their_data_and_name_model_classes(path):
    classes = _dataset_classes()
    data, model = osp.splitext(osp.basename(path))[0].split('_to_')
    mapping = load_class_map(path)
    assert sorted(mapping) == sorted(classes[data])
    # every data class is either mapped to a model class or left out, and
    # the whole data set matches the model's list
    match = match_classes(classes[data], classes[model], path)
    assert len(match.data_to_model) + len(match.ignored_data) == \
        len(classes[data])
    assert len(match.data_to_model) >= 16


def test_shipped_maps_keep_false_friends_apart():
    # YouTube-VIS 'mouse' is the animal, COCO 'mouse' the computer mouse
    ytvis = load_class_map(osp.join(MAPS, 'ytvis2019_to_coco.json'))
    assert ytvis['mouse'] is None
    assert ytvis['sedan'] == 'car' and ytvis['motorbike'] == 'motorcycle'
    coco = load_class_map(osp.join(MAPS, 'coco_to_ytvis2021.json'))
    assert coco['frisbee'] == 'flying_disc' and coco['mouse'] is None
