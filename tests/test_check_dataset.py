"""Bad data gives clear errors: vis.datasets.checks, the dataset's load-time
checks (and skip_bad_videos) and tools/check_dataset.py."""
import importlib.util
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest

from vis.datasets import (AnnotationError, BadVideosSkippedWarning,
                          YouTubeVISJsonDataset, check_annotations)
from vis.datasets.checks import BOX_TOLERANCE, bbox_problem

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    'check_dataset_tool', osp.join(REPO_ROOT, 'tools', 'check_dataset.py'))
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

# tiny_ytvis (tests/conftest.py): train videos 1..6, valid 7..8, 5 frames of
# 96x64 each, frame t of video v is train_0000v/{5t:05d}.jpg


@pytest.fixture
def root(tiny_ytvis, tmp_path):
    """A private copy of the tiny data root, free to corrupt."""
    dst = str(tmp_path / 'data')
    shutil.copytree(tiny_ytvis, dst)
    return dst


def read(root, split='train'):
    with open(osp.join(root, f'{split}.json')) as f:
        return json.load(f)


def write(root, raw, split='train'):
    with open(osp.join(root, f'{split}.json'), 'w') as f:
        json.dump(raw, f)


def build(root, split='train', **kwargs):
    return YouTubeVISJsonDataset(
        ann_file=osp.join(root, f'{split}.json'),
        data_prefix=dict(img_path=osp.join(root, split, 'JPEGImages')),
        pipeline=[], test_mode=True, **kwargs)


def frame_path(root, video_id, t, split='train'):
    return osp.join(root, split, 'JPEGImages', f'{split}_{video_id:05d}',
                    f'{5 * t:05d}.jpg')


def first_present(a):
    """Index of the first frame in which annotation ``a`` is present."""
    return next(t for t, s in enumerate(a['segmentations']) if s is not None)


def load_error(root, **kwargs) -> str:
    """Build the train split; return the AnnotationError's message."""
    with pytest.raises(AnnotationError) as err:
        build(root, **kwargs)
    return str(err.value)


def assert_names(text, *parts):
    for part in parts:
        assert part in text, f'{part!r} not in:\n{text}'


def run_tool(argv, capsys):
    """Run tools/check_dataset.py in-process; return (status, stdout)."""
    status = tool.main(list(argv) + ['--no-progress'])
    return status, capsys.readouterr().out


# --------------------------------------------------------------------------
# One test per kind of bad data: the load error and the tool both name the
# file, the video (id and folder), the annotation, the frame and the field.
# --------------------------------------------------------------------------

def test_clean_data_has_no_problem(root, capsys):
    report = check_annotations(read(root), 'train.json',
                               img_dir=osp.join(root, 'train', 'JPEGImages'),
                               frames='decode')
    assert report.ok and report.num_videos == 6
    assert report.num_frames == report.frames_checked == 30
    assert len(build(root, check_frames='decode')) == 6
    assert run_tool([root], capsys)[0] == 0


def test_missing_frame_file(root, capsys):
    os.remove(frame_path(root, 2, 3))
    assert len(build(root)) == 6  # frames are not touched by default
    for mode in ('exists', 'header', 'decode'):
        message = load_error(root, check_frames=mode)
        assert_names(message, 'train.json: video 2 frame 3: frame file not '
                     'found', frame_path(root, 2, 3),
                     'field: videos[1].file_names[3]',
                     'video folder: train_00002')
    status, out = run_tool([root], capsys)
    assert status == 1
    assert_names(out, 'video 2 frame 3: frame file not found')


@pytest.mark.parametrize('key', ['height', 'file_names', 'id'])
def test_missing_video_key(root, capsys, key):
    raw = read(root)
    del raw['videos'][1][key]
    if key == 'id':  # its annotations would point nowhere: move them
        for a in raw['annotations']:
            if a['video_id'] == 2:
                a['video_id'] = 1
    write(root, raw)
    message = load_error(root)
    video = 'videos[1]' if key == 'id' else 'video 2'
    assert_names(message, 'train.json', f"{video}: missing key '{key}'",
                 f'field: videos[1].{key}')
    status, out = run_tool([root, '--no-frames'], capsys)
    assert status == 1
    assert_names(out, f"missing key '{key}'")


@pytest.mark.parametrize('key', ['segmentations', 'category_id', 'id'])
def test_missing_annotation_key(root, key):
    raw = read(root)
    a = raw['annotations'][2]
    del a[key]
    write(root, raw)
    message = load_error(root)
    who = f"video {a['video_id']}"
    if key != 'id':
        who += f" annotation {a['id']}"
    assert_names(message, f"{who}: missing key '{key}'",
                 f'field: annotations[2].{key}')


def test_missing_top_level_key(root, capsys):
    raw = read(root)
    del raw['categories']
    write(root, raw)
    assert_names(load_error(root), "train.json: missing top-level key "
                 "'categories' (field: categories)")
    assert run_tool([root, '--no-frames'], capsys)[0] == 1


@pytest.mark.parametrize('field', ['segmentations', 'bboxes', 'areas'])
def test_per_frame_list_length_differs_from_video_length(root, capsys,
                                                         field):
    raw = read(root)
    a = raw['annotations'][0]
    a[field].pop()
    write(root, raw)
    message = load_error(root)
    assert_names(message,
                 f"video {a['video_id']} annotation {a['id']}: '{field}' has "
                 '4 entries but the video has 5 frames',
                 f'field: annotations[0].{field}',
                 f"video folder: train_{a['video_id']:05d}")
    status, out = run_tool([root, '--no-frames'], capsys)
    assert status == 1
    assert_names(out, f"'{field}' has 4 entries")


def test_rle_size_differs_from_frame_size(root, capsys):
    raw = read(root)
    a = raw['annotations'][0]
    t = first_present(a)
    a['segmentations'][t]['size'] = [10, 10]
    write(root, raw)
    message = load_error(root)
    assert_names(message,
                 f"video {a['video_id']} annotation {a['id']} frame {t}: RLE "
                 'size [10, 10] differs from the video frame size [64, 96]',
                 f'field: annotations[0].segmentations[{t}].size')
    status, out = run_tool([root, '--no-frames'], capsys)
    assert status == 1
    assert_names(out, f'frame {t}: RLE size [10, 10]')


def test_uncompressed_rle_total_differs_from_frame_area(root):
    raw = read(root)
    a = raw['annotations'][0]
    t = first_present(a)
    a['segmentations'][t]['counts'].append(7)
    write(root, raw)
    assert_names(load_error(root), f'frame {t}: uncompressed RLE counts sum '
                 'to 6151, expected 64*96',
                 f'field: annotations[0].segmentations[{t}].counts')


def test_box_outside_the_frame(root, capsys):
    raw = read(root)
    a = raw['annotations'][0]
    t = first_present(a)
    a['bboxes'][t] = [90.0, 0.0, 20.0, 10.0]  # reaches x = 110 > 96
    write(root, raw)
    message = load_error(root)
    assert_names(message, f"video {a['video_id']} annotation {a['id']} "
                 f'frame {t}: bbox [90.0, 0.0, 20.0, 10.0]',
                 'outside the 96x64 frame',
                 f'field: annotations[0].bboxes[{t}]')
    status, out = run_tool([root, '--no-frames'], capsys)
    assert status == 1
    assert_names(out, 'outside the 96x64 frame')


def test_box_tolerance():
    assert BOX_TOLERANCE == 1.0
    assert bbox_problem([0, 0, 96, 64], 64, 96) is None
    assert bbox_problem([-1, -1, 98, 66], 64, 96) is None  # 1 px each side
    assert 'outside' in bbox_problem([-1.5, 0, 10, 10], 64, 96)
    assert 'outside' in bbox_problem([0, 0, 10, 65.5], 64, 96)
    assert 'negative' in bbox_problem([0, 0, -2, 10], 64, 96)
    assert '4 numbers' in bbox_problem([0, 0, 10], 64, 96)
    assert '4 numbers' in bbox_problem([0, 0, 10, float('nan')], 64, 96)


@pytest.mark.parametrize('which', ['bbox', 'segmentation'])
def test_null_box_and_mask_disagree(root, which):
    raw = read(root)
    a = raw['annotations'][0]
    if which == 'bbox':
        t = first_present(a)
        a['bboxes'][t] = None
        expected = 'bbox is null but the segmentation of this frame is not'
    else:
        t = next((t for t, s in enumerate(a['segmentations']) if s is None),
                 None)
        if t is None:
            t = first_present(a)
            a['segmentations'][t] = None
        else:
            a['bboxes'][t] = [1.0, 1.0, 5.0, 5.0]
        expected = 'bbox is given but the segmentation of this frame is null'
    write(root, raw)
    assert_names(load_error(root),
                 f"annotation {a['id']} frame {t}: {expected}",
                 f'field: annotations[0].bboxes[{t}]')


def test_boxes_and_areas_are_optional(root):
    raw = read(root)
    for a in raw['annotations']:
        del a['bboxes'], a['areas']
    write(root, raw)
    assert len(build(root)) == 6


def test_unknown_category_id(root, capsys):
    raw = read(root)
    a = raw['annotations'][1]
    a['category_id'] = 99
    write(root, raw)
    assert_names(load_error(root),
                 f"video {a['video_id']} annotation {a['id']}: unknown "
                 'category_id 99', 'field: annotations[1].category_id')
    status, out = run_tool([root, '--no-frames'], capsys)
    assert status == 1
    assert_names(out, 'unknown category_id 99')


def test_empty_video(root, capsys):
    raw = read(root)
    raw['videos'][3]['file_names'] = []
    write(root, raw)
    assert_names(load_error(root),
                 "video 4: empty video: 'file_names' is empty",
                 'field: videos[3].file_names')
    status, out = run_tool([root], capsys)
    assert status == 1
    assert_names(out, "video 4: empty video")


def test_no_video_at_all(root):
    raw = read(root)
    raw['videos'], raw['annotations'] = [], []
    write(root, raw)
    assert_names(load_error(root), "'videos' is empty")


def test_duplicate_video_id(root, capsys):
    raw = read(root)
    raw['videos'][4]['id'] = 4  # the id of videos[3]
    for a in raw['annotations']:
        if a['video_id'] == 5:
            a['video_id'] = 4
    write(root, raw)
    message = load_error(root)
    assert_names(message, 'video 4: duplicate video id 4 (also videos[4])',
                 'field: videos[3].id', 'video folder: train_00004',
                 'duplicate video id 4 (also videos[3])',
                 'field: videos[4].id', 'video folder: train_00005')
    status, out = run_tool([root, '--no-frames'], capsys)
    assert status == 1
    assert_names(out, 'duplicate video id 4')


def test_duplicate_annotation_id(root, capsys):
    raw = read(root)
    first, dup = raw['annotations'][0], raw['annotations'][-1]
    dup['id'] = first['id']
    write(root, raw)
    assert_names(load_error(root),
                 f"video {dup['video_id']} annotation {first['id']}: "
                 f"annotation id {first['id']} is not unique (also "
                 f"annotations[0], of video {first['video_id']})",
                 f"field: annotations[{len(raw['annotations']) - 1}].id")
    status, out = run_tool([root, '--no-frames'], capsys)
    assert status == 1
    assert_names(out, 'is not unique')


def test_annotation_of_no_video_is_fatal(root):
    raw = read(root)
    raw['annotations'][0]['video_id'] = 12345
    write(root, raw)
    message = load_error(root, skip_bad_videos=True)
    assert_names(message, "video_id 12345 is not the id of any video",
                 'field: annotations[0].video_id',
                 'skip_bad_videos cannot skip')


def test_unreadable_jpeg(root, capsys):
    with open(frame_path(root, 3, 1), 'wb') as f:
        f.write(b'this is not a JPEG' * 10)
    assert len(build(root, check_frames='exists')) == 6
    message = load_error(root, check_frames=True)
    assert_names(message, 'video 3 frame 1: frame file',
                 frame_path(root, 3, 1), 'cannot be read as an image',
                 'field: videos[2].file_names[1]',
                 'video folder: train_00003')
    status, out = run_tool([root], capsys)
    assert status == 1
    assert_names(out, 'video 3 frame 1', 'cannot be read as an image')
    status, out = run_tool([root, '--no-frames'], capsys)
    assert status == 0


def test_truncated_jpeg_needs_a_full_decode(root, capsys):
    path = frame_path(root, 3, 2)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    assert len(build(root, check_frames='header')) == 6  # the header is fine
    assert_names(load_error(root, check_frames='decode'),
                 'video 3 frame 2: frame file', 'cannot be read as an image')
    status, out = run_tool([root, '--header-only'], capsys)
    assert status == 0
    status, out = run_tool([root], capsys)
    assert status == 1


def test_frame_of_another_size(root):
    cv2.imwrite(frame_path(root, 6, 0), np.zeros((32, 48, 3), np.uint8))
    assert_names(load_error(root, check_frames=True),
                 'video 6 frame 0: frame file', 'is 48x32 (width x height) '
                 'but the video says 96x64', 'field: videos[5].file_names[0]')


def test_every_problem_is_listed_up_to_a_limit(root):
    raw = read(root)
    for a in raw['annotations']:
        a['bboxes'] = [None if b is None else [200.0, 0.0, 5.0, 5.0]
                       for b in a['bboxes']]
    write(root, raw)
    total = sum(b is not None for a in raw['annotations']
                for b in a['bboxes'])
    assert total > 20
    with pytest.raises(AnnotationError) as err:
        build(root)
    assert len(err.value.problems) == total
    message = str(err.value)
    assert f'{total} problem(s)' in message
    assert message.count('outside the 96x64 frame') == 20
    assert f'... and {total - 20} more' in message


def test_check_frames_option_is_validated(root):
    with pytest.raises(ValueError, match='check_frames'):
        build(root, check_frames='thoroughly')


# --------------------------------------------------------------------------
# skip_bad_videos
# --------------------------------------------------------------------------

def break_two_videos(root):
    """Corrupt videos 2 (an annotation's RLE size) and 5 (a frame file).
    Returns the number of annotations of the four other videos."""
    raw = read(root)
    a = next(a for a in raw['annotations'] if a['video_id'] == 2)
    a['segmentations'][first_present(a)]['size'] = [1, 1]
    write(root, raw)
    with open(frame_path(root, 5, 4), 'wb') as f:
        f.write(b'\0' * 64)
    return sum(a['video_id'] not in (2, 5) for a in raw['annotations'])


def test_skip_bad_videos_keeps_the_good_ones(root):
    kept_anns = break_two_videos(root)
    message = load_error(root, check_frames=True)
    assert_names(message, '2 problem(s) (2 of 6 videos affected)',
                 'skip_bad_videos=True drops the bad videos instead',
                 'video 2 annotation', 'video 5 frame 4')
    with pytest.warns(BadVideosSkippedWarning) as record:
        ds = build(root, check_frames=True, skip_bad_videos=True)
    assert len(record) == 1
    warning = str(record[0].message)
    assert_names(warning, 'skipping 2 of 6 videos with 2 problem(s)',
                 '4 videos kept', 'RLE size [1, 1]', 'video 5 frame 4')
    ids = [ds.get_data_info(i)['video_id'] for i in range(len(ds))]
    assert ids == [1, 3, 4, 6]
    tracks = {inst['instance_id'] for i in range(len(ds))
              for frame in ds.get_data_info(i)['images']
              for inst in frame['instances']}
    assert len(tracks) == kept_anns
    # without the frame checks only video 2 is bad
    with pytest.warns(BadVideosSkippedWarning, match='skipping 1 of 6'):
        assert len(build(root, skip_bad_videos=True)) == 5


def test_skip_bad_videos_drops_every_copy_of_a_duplicate_id(root):
    raw = read(root)
    raw['videos'][1]['id'] = 1
    raw['annotations'] = [a for a in raw['annotations']
                          if a['video_id'] != 2]
    write(root, raw)
    with pytest.warns(BadVideosSkippedWarning, match='skipping 2 of 6'):
        ds = build(root, skip_bad_videos=True)
    assert [ds.get_data_info(i)['video_id'] for i in range(len(ds))] == \
        [3, 4, 5, 6]


def test_skip_bad_videos_still_raises_when_every_video_is_bad(root):
    raw = read(root)
    for video in raw['videos']:
        video['height'] = 0
    write(root, raw)
    message = load_error(root, skip_bad_videos=True)
    assert_names(message, '6 of 6 videos affected',
                 'skip_bad_videos=True would leave no video',
                 "'height' must be a positive integer, got 0")


# --------------------------------------------------------------------------
# tools/check_dataset.py
# --------------------------------------------------------------------------

def test_tool_summary_and_exit_codes(tiny_ytvis, tmp_path, capsys):
    status, out = run_tool([tiny_ytvis], capsys)
    assert status == 0
    assert_names(out, 'train: ', '6 videos', '30 frames; 30 checked '
                 '(decoded)', 'valid: ', '2 videos', 'no problems found')
    status, out = run_tool([tiny_ytvis, '--split', 'valid', '--no-frames'],
                           capsys)
    assert status == 0
    assert 'train' not in out and 'frame files not checked' in out
    # unusable input: exit 2
    assert tool.main([str(tmp_path / 'missing')]) == 2
    assert 'no such file or directory' in capsys.readouterr().err
    assert tool.main([str(tmp_path)]) == 2  # a folder without any split
    assert 'no YouTube-VIS split found' in capsys.readouterr().err
    assert tool.main([tiny_ytvis, '--split', 'test']) == 2
    assert "no annotation file for split 'test'" in capsys.readouterr().err


def test_tool_on_invalid_json_exits_2(root, capsys):
    with open(osp.join(root, 'valid.json'), 'w') as f:
        f.write('{"videos": [')
    status = tool.main([root, '--no-progress'])
    captured = capsys.readouterr()
    assert status == 2
    assert_names(captured.err, 'valid.json: not valid json')
    assert 'train: ' in captured.out  # the other split is still checked
    with open(osp.join(root, 'valid.json'), 'w') as f:
        f.write('[1, 2]')
    assert tool.main([osp.join(root, 'valid.json')]) == 2
    assert 'top-level json value is a list' in capsys.readouterr().err


def test_tool_on_one_json(root, capsys):
    ann = osp.join(root, 'train.json')
    img_dir = osp.join(root, 'train', 'JPEGImages')
    assert run_tool([ann, '--img-dir', img_dir], capsys)[0] == 0
    os.remove(frame_path(root, 1, 0))
    status, out = run_tool([ann, '--img-dir', img_dir], capsys)
    assert status == 1
    assert_names(out, 'video 1 frame 0: frame file not found')
    status, out = run_tool([ann], capsys)  # no --img-dir: json only
    assert status == 0 and 'frame files not checked' in out
    assert tool.main([ann, '--img-dir', osp.join(root, 'nope')]) == 2


def test_tool_missing_image_folder_and_max_problems(root, capsys):
    shutil.rmtree(osp.join(root, 'valid', 'JPEGImages'))
    status, out = run_tool([root, '--split', 'valid'], capsys)
    assert status == 1
    assert_names(out, 'image folder not found')
    assert run_tool([root, '--split', 'valid', '--no-frames'],
                    capsys)[0] == 0
    raw = read(root)
    for video in raw['videos']:
        video['file_names'] = []
    write(root, raw)
    status, out = run_tool([root, '--split', 'train', '--no-frames',
                            '--max-problems', '2'], capsys)
    assert status == 1
    assert out.count('empty video') == 2
    assert_names(out, '6 problem(s), 6 bad video(s)', '... and 4 more')
