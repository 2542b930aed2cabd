"""Tests of vis.datasets.split and tools/split_ytvis.py."""

import json
import os
import subprocess
import sys

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from vis.datasets.split import num_held_out, split_by_video

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO_ROOT, 'tools', 'split_ytvis.py')
NUM_FRAMES = 3


def fake_rle(seed: int) -> dict:
    """Return a json-ready RLE of a random 4x4 mask."""
    mask = np.random.RandomState(seed).rand(4, 4) > 0.5
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def make_ann(num_videos: int, tracks_per_video=(2, 1, 0)) -> dict:
    """Build a tiny YouTube-VIS train dict.

    Video ``i`` (id ``100 + i``) has ``tracks_per_video[i % len(...)]``
    annotations, so some videos have several tracks and some none.
    """
    videos, annotations = [], []
    for index in range(num_videos):
        video_id = 100 + index
        videos.append({
            'id': video_id, 'width': 4, 'height': 4, 'length': NUM_FRAMES,
            'file_names': [f'vid{index:03d}/{t:05d}.jpg'
                           for t in range(NUM_FRAMES)],
        })
        for _ in range(tracks_per_video[index % len(tracks_per_video)]):
            ann_id = len(annotations) + 1
            annotations.append({
                'id': ann_id, 'video_id': video_id, 'category_id': 1,
                'iscrowd': 0, 'width': 4, 'height': 4, 'length': NUM_FRAMES,
                'segmentations': [fake_rle(ann_id), None, fake_rle(-ann_id % 97)],
                'bboxes': [[0, 0, 2, 2], None, [1, 1, 2, 2]],
                'areas': [4, None, 4],
            })
    return {
        'info': {'description': 'tiny'},
        'licenses': [{'id': 1, 'name': 'x'}],
        'videos': videos,
        'categories': [{'id': 1, 'name': 'person', 'supercategory': 'object'}],
        'annotations': annotations,
    }


def ids(items) -> list:
    """Return the 'id' of each item."""
    return [item['id'] for item in items]


# --------------------------------------------------------------------------
# split_by_video
# --------------------------------------------------------------------------


def test_partition_is_exact_and_annotations_follow_videos():
    ann = make_ann(20)
    train, valid = split_by_video(ann, 0.25, seed=0)

    train_vids, valid_vids = set(ids(train['videos'])), set(ids(valid['videos']))
    assert train_vids.isdisjoint(valid_vids)
    assert train_vids | valid_vids == set(ids(ann['videos']))
    assert len(valid_vids) == 5 and len(train_vids) == 15

    for part, vids in ((train, train_vids), (valid, valid_vids)):
        assert all(a['video_id'] in vids for a in part['annotations'])
    all_ann_ids = ids(train['annotations']) + ids(valid['annotations'])
    assert sorted(all_ann_ids) == sorted(ids(ann['annotations']))
    # annotations are passed through unchanged
    by_id = {a['id']: a for a in ann['annotations']}
    for a in train['annotations'] + valid['annotations']:
        assert a == by_id[a['id']]


def test_held_out_part_keeps_annotations():
    ann = make_ann(30)
    _, valid = split_by_video(ann, 0.5, seed=1)
    expected = [a for a in ann['annotations']
                if a['video_id'] in set(ids(valid['videos']))]
    assert len(expected) > 0
    assert valid['annotations'] == expected


def test_other_keys_copied_and_order_preserved():
    ann = make_ann(10)
    train, valid = split_by_video(ann, 0.3, seed=0)
    for part in (train, valid):
        assert list(part) == list(ann)
        for key in ('info', 'licenses', 'categories'):
            assert part[key] == ann[key]
        # original relative order of videos is kept
        positions = [ids(ann['videos']).index(v) for v in ids(part['videos'])]
        assert positions == sorted(positions)
    # the input is not modified
    assert ann == make_ann(10)


def test_missing_annotations_key_gives_empty_lists():
    ann = make_ann(5)
    del ann['annotations']
    train, valid = split_by_video(ann, 0.4, seed=0)
    assert train['annotations'] == [] and valid['annotations'] == []
    assert len(train['videos']) + len(valid['videos']) == 5


def test_same_seed_same_split():
    ann = make_ann(50)
    first = split_by_video(ann, 0.2, seed=7)
    second = split_by_video(make_ann(50), 0.2, seed=7)
    assert first == second


def test_split_does_not_depend_on_video_order():
    ann = make_ann(50)
    shuffled = make_ann(50)
    shuffled['videos'] = shuffled['videos'][::-1]
    held = set(ids(split_by_video(ann, 0.2, seed=3)[1]['videos']))
    held_shuffled = set(ids(split_by_video(shuffled, 0.2, seed=3)[1]['videos']))
    assert held == held_shuffled


def test_different_seeds_differ():
    ann = make_ann(50)
    held = [frozenset(ids(split_by_video(ann, 0.2, seed)[1]['videos']))
            for seed in range(5)]
    assert len(set(held)) == 5


@pytest.mark.parametrize('num_videos,fraction,expected', [
    (10, 0.1, 1), (50, 0.1, 5), (10, 0.25, 3),  # 2.5 rounds up
    (5, 0.01, 1),  # at least one held out
    (3, 0.99, 2),  # at least one kept
    (2, 0.5, 1),
])
def test_held_out_count(num_videos, fraction, expected):
    assert num_held_out(num_videos, fraction) == expected
    _, valid = split_by_video(make_ann(num_videos), fraction, seed=0)
    assert len(valid['videos']) == expected


@pytest.mark.parametrize('fraction', [0, 0.0, 1, 1.0, -0.1, 1.5, float('nan')])
def test_fraction_out_of_bounds(fraction):
    with pytest.raises(ValueError, match='fraction'):
        split_by_video(make_ann(10), fraction, seed=0)


def test_too_few_videos():
    with pytest.raises(ValueError, match='at least 2 videos'):
        split_by_video(make_ann(1), 0.5, seed=0)


def test_missing_videos_key():
    ann = make_ann(3)
    del ann['videos']
    with pytest.raises(ValueError, match="'videos'"):
        split_by_video(ann, 0.5, seed=0)


def test_annotation_with_unknown_video_id():
    ann = make_ann(4)
    ann['annotations'][1]['video_id'] = 999
    with pytest.raises(ValueError) as info:
        split_by_video(ann, 0.5, seed=0)
    message = str(info.value)
    assert 'annotations[1]' in message and '999' in message
    assert "'video_id'" in message


def test_duplicate_video_id():
    ann = make_ann(4)
    ann['videos'][2]['id'] = ann['videos'][0]['id']
    with pytest.raises(ValueError, match=r"videos\[2\].*duplicate"):
        split_by_video(ann, 0.5, seed=0)


# --------------------------------------------------------------------------
# tools/split_ytvis.py end to end
# --------------------------------------------------------------------------


def run_tool(*args):
    """Run the CLI in a subprocess; return the CompletedProcess."""
    return subprocess.run([sys.executable, TOOL, *map(str, args)],
                          capture_output=True, text=True, cwd=REPO_ROOT)


def make_data_root(tmp_path, num_videos=12):
    """Write a 2019-layout train split (json + frames); return (json, img_dir, ann)."""
    ann = make_ann(num_videos)
    img_dir = tmp_path / 'src' / 'train' / 'JPEGImages'
    for video in ann['videos']:
        for name in video['file_names']:
            frame = img_dir / name
            frame.parent.mkdir(parents=True, exist_ok=True)
            frame.write_bytes(f'frame {name}'.encode())
    ann_file = tmp_path / 'src' / 'train.json'
    ann_file.write_text(json.dumps(ann))
    return ann_file, img_dir, ann


def load(path):
    with open(path) as f:
        return json.load(f)


def test_cli_end_to_end_with_symlinks(tmp_path):
    ann_file, img_dir, ann = make_data_root(tmp_path)
    out = tmp_path / 'out'
    result = run_tool('--ann', ann_file, '--out-dir', out, '--fraction', 0.25,
                      '--seed', 0, '--img-dir', img_dir, '--link')
    assert result.returncode == 0, result.stderr

    train, valid = load(out / 'train.json'), load(out / 'valid.json')
    assert (train, valid) == split_by_video(ann, 0.25, seed=0)
    assert len(valid['videos']) == 3 and valid['annotations']
    assert 'train' in result.stdout and 'valid' in result.stdout
    assert f"{len(valid['annotations'])} annotations" in result.stdout
    assert not [p for p in os.listdir(out) if p.endswith('.tmp')]

    for part_name, part in (('train', train), ('valid', valid)):
        part_img_dir = out / part_name / 'JPEGImages'
        video_dirs = {v['file_names'][0].split('/')[0] for v in part['videos']}
        assert set(os.listdir(part_img_dir)) == video_dirs
        for video in part['videos']:
            link = part_img_dir / video['file_names'][0].split('/')[0]
            assert link.is_symlink()
            for name in video['file_names']:
                frame = part_img_dir / name
                assert frame.read_bytes() == f'frame {name}'.encode()
                assert os.path.samefile(frame, img_dir / name)

    # OUT is a complete data root for find_split
    from vis.datasets.layout import find_split
    info = find_split(str(out), 'valid')
    assert info['ann_file'] == str(out / 'valid.json')
    assert info['img_dir'] == str(out / 'valid' / 'JPEGImages')
    assert info['has_annotations'] is True


def test_cli_rerun_with_other_seed_replaces_links(tmp_path):
    ann_file, img_dir, _ = make_data_root(tmp_path, num_videos=20)
    out = tmp_path / 'out'
    for seed in (0, 1):
        result = run_tool('--ann', ann_file, '--out-dir', out,
                          '--fraction', 0.2, '--seed', seed,
                          '--img-dir', img_dir)
        assert result.returncode == 0, result.stderr
    valid = load(out / 'valid.json')
    linked = set(os.listdir(out / 'valid' / 'JPEGImages'))
    assert linked == {v['file_names'][0].split('/')[0] for v in valid['videos']}


def test_cli_copy_mode(tmp_path):
    ann_file, img_dir, _ = make_data_root(tmp_path, num_videos=4)
    out = tmp_path / 'out'
    result = run_tool('--ann', ann_file, '--out-dir', out, '--fraction', 0.5,
                      '--img-dir', img_dir, '--copy')
    assert result.returncode == 0, result.stderr
    entries = list((out / 'train' / 'JPEGImages').iterdir())
    assert len(entries) == 2
    assert all(e.is_dir() and not e.is_symlink() for e in entries)


def test_cli_refuses_to_replace_real_images(tmp_path):
    ann_file, img_dir, _ = make_data_root(tmp_path, num_videos=4)
    # splitting "in place" would replace the source JPEGImages folder
    result = run_tool('--ann', ann_file, '--out-dir', tmp_path / 'src',
                      '--fraction', 0.5, '--img-dir', img_dir)
    assert result.returncode != 0
    assert 'would overwrite' in result.stderr
    assert len(os.listdir(img_dir)) == 4
    assert load(ann_file)['videos']  # input untouched

    out = tmp_path / 'out'
    (out / 'valid' / 'JPEGImages' / 'precious').mkdir(parents=True)
    result = run_tool('--ann', ann_file, '--out-dir', out, '--fraction', 0.5,
                      '--img-dir', img_dir)
    assert result.returncode != 0
    assert 'refusing to replace' in result.stderr
    assert (out / 'valid' / 'JPEGImages' / 'precious').is_dir()


def test_cli_without_img_dir_writes_only_jsons(tmp_path):
    ann_file, _, ann = make_data_root(tmp_path, num_videos=10)
    out = tmp_path / 'out'
    result = run_tool('--ann', ann_file, '--out-dir', out, '--fraction', 0.3,
                      '--seed', 5)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(out)) == ['train.json', 'valid.json']
    assert (load(out / 'train.json'), load(out / 'valid.json')) == \
        split_by_video(ann, 0.3, seed=5)


@pytest.mark.parametrize('case,expected', [
    ('missing_json', 'not found'),
    ('no_videos', "'videos'"),
    ('bad_video_id', "'video_id' 999"),
    ('fraction', '--fraction'),
    ('missing_frames', 'frame folder'),
])
def test_cli_errors_are_clear(tmp_path, case, expected):
    ann_file, img_dir, ann = make_data_root(tmp_path, num_videos=6)
    args = ['--ann', ann_file, '--out-dir', tmp_path / 'out',
            '--fraction', 0.5]
    if case == 'missing_json':
        args[1] = tmp_path / 'nope.json'
    elif case == 'no_videos':
        del ann['videos']
        ann_file.write_text(json.dumps(ann))
    elif case == 'bad_video_id':
        ann['annotations'][0]['video_id'] = 999
        ann_file.write_text(json.dumps(ann))
    elif case == 'fraction':
        args[-1] = 1.0
    elif case == 'missing_frames':
        args += ['--img-dir', img_dir]
        os.rename(img_dir / 'vid003', img_dir / 'moved')
    result = run_tool(*args)
    assert result.returncode == 1
    assert expected in result.stderr
    if case != 'fraction':
        assert str(args[1]) in result.stderr  # names the file
    assert not (tmp_path / 'out' / 'train.json').exists()
    assert 'Traceback' not in result.stderr
