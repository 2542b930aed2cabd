"""The conversion writer shared by the converters
(vis/datasets/converters/writer.py)."""
import json
import os

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest

from vis.datasets.converters import (ConversionError, assign_categories,
                                     build_split, mask_to_rle, natural_key,
                                     parse_category_names, split_videos,
                                     write_conversion)


def _image(path, height=8, width=10, value=0):
    img = np.full((height, width, 3), value, np.uint8)
    img[0, 0] = (1, 2, 3)
    cv2.imwrite(str(path), img)
    return str(path)


def _video(tmp_path, name, num_frames=2, height=8, width=10, labels=('cat',)):
    folder = tmp_path / 'src' / name
    folder.mkdir(parents=True)
    frames = []
    for t in range(num_frames):
        src = _image(folder / f'f{t}.png', height, width, value=t)
        frames.append(dict(file_name=f'f{t}.png', source=src, data=None,
                           height=height, width=width))
    instances = []
    for k, label in enumerate(labels):
        segs = []
        for t in range(num_frames):
            mask = np.zeros((height, width), np.uint8)
            mask[k:k + 2, t:t + 3] = 1
            segs.append(mask_to_rle(mask))
        instances.append(dict(category=label, segmentations=segs,
                              where=f'{name} instance {k}'))
    return dict(name=name, frames=frames, instances=instances)


def test_natural_key_orders_numbers_numerically():
    names = ['frame_10', 'frame_2', 'frame_1', 'Frame_3', 'a']
    assert sorted(names, key=natural_key) == [
        'a', 'frame_1', 'frame_2', 'Frame_3', 'frame_10']


def test_parse_category_names_list_file_and_errors(tmp_path):
    assert parse_category_names('cat, dog,bird') == ['cat', 'dog', 'bird']
    path = tmp_path / 'categories.txt'
    path.write_text('# my classes\ncat\n\ndog\n')
    assert parse_category_names(str(path)) == ['cat', 'dog']
    with pytest.raises(ConversionError, match=r"repeated category names \['cat'\]"):
        parse_category_names('cat,dog,cat')
    with pytest.raises(ConversionError, match='no category names'):
        parse_category_names(' , ')


def test_assign_categories_order_and_missing_label(tmp_path):
    conv = dict(videos=[_video(tmp_path, 'v', labels=('dog', 'cat'))])
    assert [(c['id'], c['name']) for c in assign_categories(conv)] == [
        (1, 'cat'), (2, 'dog')]
    assert [(c['id'], c['name'])
            for c in assign_categories(conv, ['dog', 'cat', 'bird'])] == [
        (1, 'dog'), (2, 'cat'), (3, 'bird')]
    with pytest.raises(ConversionError, match=r"v instance 0: label 'dog' "
                       r'is not among the categories'):
        assign_categories(conv, ['cat'])
    fixed = dict(conv, categories=[dict(id=17, name='cat'),
                                   dict(id=3, name='dog')])
    assert [(c['id'], c['name']) for c in assign_categories(fixed)] == [
        (17, 'cat'), (3, 'dog')]


def test_split_videos_whole_videos_reproducible_and_errors():
    videos = [dict(name=f'v{i}') for i in range(10)]
    train, valid = split_videos(videos, 0.0, seed=0)
    assert len(train) == 10 and valid == []
    train, valid = split_videos(videos, 0.25, seed=3)
    assert len(valid) == 3 and len(train) == 7  # round(2.5), halves up
    again = split_videos(videos, 0.25, seed=3)
    assert [v['name'] for v in again[1]] == [v['name'] for v in valid]
    assert {v['name'] for v in train} | {v['name'] for v in valid} == \
        {v['name'] for v in videos}
    _, tiny = split_videos(videos, 0.01, seed=0)
    assert len(tiny) == 1  # at least one held out when F > 0
    with pytest.raises(ConversionError, match='train split empty'):
        split_videos(videos[:1], 0.5, seed=0)
    with pytest.raises(ConversionError, match='train split would be empty'):
        split_videos([], 0.0, seed=0)
    with pytest.raises(ConversionError, match=r'\[0, 1\)'):
        split_videos(videos, 1.0, seed=0)


def test_build_split_boxes_areas_and_sizes(tmp_path):
    video = _video(tmp_path, 'v', num_frames=2, labels=('cat',))
    video['instances'][0]['segmentations'][1] = None
    ann, per_class = build_split([video], [dict(id=1, name='cat')],
                                 first_video_id=5)
    assert ann['videos'] == [dict(id=5, width=10, height=8, length=2,
                                  file_names=['v/f0.png', 'v/f1.png'])]
    (a,) = ann['annotations']
    assert a['video_id'] == 5 and a['category_id'] == 1
    assert a['areas'] == [6.0, None]
    assert a['bboxes'] == [[0.0, 0.0, 3.0, 2.0], None]
    assert per_class == {'cat': 1}
    # polygons are kept as given and measured by pycocotools
    video['instances'][0]['segmentations'] = [[[1, 1, 5, 1, 5, 4, 1, 4]],
                                              None]
    ann, _ = build_split([video], [dict(id=1, name='cat')])
    assert ann['annotations'][0]['segmentations'][0] == [[1, 1, 5, 1, 5, 4,
                                                          1, 4]]
    rle = mask_utils.merge(mask_utils.frPyObjects([[1, 1, 5, 1, 5, 4, 1, 4]],
                                                  8, 10))
    assert ann['annotations'][0]['areas'][0] == float(mask_utils.area(rle))
    # an instance never visible is left out and counted
    video['instances'][0]['segmentations'] = [None, None]
    ann, per_class = build_split([video], [dict(id=1, name='cat')])
    assert ann['annotations'] == [] and per_class['(empty)'] == 1
    # one video, two frame sizes: an error naming both frames
    video['frames'][1]['height'] = 9
    with pytest.raises(ConversionError, match=r"video 'v': frame f1.png is "
                       r'10x9 but frame f0.png is 10x8'):
        build_split([video], [dict(id=1, name='cat')])


def test_build_split_rejects_wrong_mask_size_and_short_polygon(tmp_path):
    video = _video(tmp_path, 'v', num_frames=1)
    video['instances'][0]['segmentations'] = [
        mask_to_rle(np.ones((4, 4), np.uint8))]
    with pytest.raises(ConversionError, match=r'v instance 0: mask size '
                       r'\[4, 4\] differs from the frame size \[8, 10\]'):
        build_split([video], [dict(id=1, name='cat')])
    video['instances'][0]['segmentations'] = [[[1, 1, 4, 4]]]
    with pytest.raises(ConversionError, match='at least 3 points'):
        build_split([video], [dict(id=1, name='cat')])


def test_write_conversion_layout_bytes_and_links(tmp_path):
    conv = dict(videos=[_video(tmp_path, 'b'), _video(tmp_path, 'a',
                                                      labels=('dog',))],
                skipped={'frame without json': 3}, warnings=['w1'])
    out = tmp_path / 'out'
    summary = write_conversion(conv, str(out), valid_fraction=0.5, seed=0)
    assert sorted(os.listdir(out)) == ['categories.txt', 'train', 'train.json',
                                       'valid', 'valid.json']
    assert (out / 'categories.txt').read_text() == 'cat\ndog\n'
    train = json.loads((out / 'train.json').read_text())
    valid = json.loads((out / 'valid.json').read_text())
    names = {v['file_names'][0].split('/')[0] for v in train['videos']} | \
        {v['file_names'][0].split('/')[0] for v in valid['videos']}
    assert names == {'a', 'b'} and len(valid['videos']) == 1
    # video ids are unique over both splits
    assert {v['id'] for v in train['videos']}.isdisjoint(
        {v['id'] for v in valid['videos']})
    for split, ann in (('train', train), ('valid', valid)):
        for video in ann['videos']:
            for name in video['file_names']:
                written = (out / split / 'JPEGImages' / name).read_bytes()
                source = (tmp_path / 'src' / name).read_bytes()
                assert written == source
    assert summary['skipped'] == {'frame without json': 3}
    assert summary['splits']['train']['frames'] + \
        summary['splits']['valid']['frames'] == 4
    # links
    for mode in ('hardlink', 'symlink'):
        target = tmp_path / f'out_{mode}'
        write_conversion(conv, str(target), link=mode)
        frame = target / 'train' / 'JPEGImages' / 'a' / 'f0.png'
        if mode == 'symlink':
            assert os.path.islink(frame)
            assert os.readlink(frame) == str(tmp_path / 'src' / 'a' / 'f0.png')
        else:
            assert os.stat(frame).st_ino == \
                os.stat(tmp_path / 'src' / 'a' / 'f0.png').st_ino


def test_write_conversion_embedded_bytes(tmp_path):
    conv = dict(videos=[_video(tmp_path, 'v', num_frames=1)])
    conv['videos'][0]['frames'][0].update(source=None, data=b'\x89PNGdata')
    write_conversion(conv, str(tmp_path / 'out'))
    assert (tmp_path / 'out/train/JPEGImages/v/f0.png').read_bytes() == \
        b'\x89PNGdata'


def test_write_conversion_refuses_non_empty_and_leaves_nothing_on_error(
        tmp_path):
    conv = dict(videos=[_video(tmp_path, 'v')])
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'keep.txt').write_text('mine')
    with pytest.raises(ConversionError, match='not empty; pass --overwrite'):
        write_conversion(conv, str(out))
    # a frame file that vanished: the error names it, OUT_ROOT untouched
    broken = dict(videos=[_video(tmp_path, 'w')])
    os.remove(broken['videos'][0]['frames'][1]['source'])
    with pytest.raises(ConversionError, match=r"video 'w' frame f1.png: "
                       'image not found'):
        write_conversion(broken, str(out), overwrite=True)
    assert os.listdir(out) == ['keep.txt']
    assert [p for p in os.listdir(tmp_path) if p.startswith('.')] == []
    # --overwrite replaces it once everything is written
    write_conversion(conv, str(out), overwrite=True)
    assert 'keep.txt' not in os.listdir(out)
    assert (out / 'train.json').is_file()


def test_write_conversion_rejects_duplicate_names(tmp_path):
    video = _video(tmp_path, 'v')
    with pytest.raises(ConversionError, match="two videos are named 'v'"):
        write_conversion(dict(videos=[video, dict(video)]),
                         str(tmp_path / 'out'))
    video['frames'][1]['file_name'] = 'f0.png'
    with pytest.raises(ConversionError, match='repeated frame file names'):
        write_conversion(dict(videos=[video]), str(tmp_path / 'out'))
    assert not (tmp_path / 'out').exists()


def test_cli_run_checks_the_staged_root_before_replacing(tmp_path, capsys):
    """A frame whose file is not the size the reader said fails the dataset
    checks: exit 2, and an existing OUT_ROOT is left as it was."""
    import argparse

    from vis.datasets.converters import cli
    parser = argparse.ArgumentParser()
    cli.add_output_arguments(parser)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'old.txt').write_text('old')
    args = parser.parse_args([str(out), '--overwrite', '--no-progress'])
    conv = dict(videos=[_video(tmp_path, 'v')])
    for frame in conv['videos'][0]['frames']:
        frame.update(height=9)  # the files are 10x8
    for inst in conv['videos'][0]['instances']:
        inst['segmentations'] = [mask_to_rle(np.ones((9, 10), np.uint8))] * 2
    assert cli.run(args, lambda: conv) == 2
    err = capsys.readouterr().err
    assert 'train.json fails the dataset checks (nothing was written)' in err
    assert os.listdir(out) == ['old.txt']
    assert [p for p in os.listdir(tmp_path) if p.startswith('.')] == []
    # a good conversion replaces it and prints the summary
    assert cli.run(args, lambda: dict(videos=[_video(tmp_path, 'w')])) == 0
    assert 'wrote' in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ['categories.txt', 'train',
                                       'train.json']
