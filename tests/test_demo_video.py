"""tools/demo_video.py on a generated video encoded to mp4 in the test: the
files it writes, their agreement, empty and bad inputs."""
import json
import os
import os.path as osp
import shutil
import sys

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest

from vis.visualization.export import (instance_id_map, read_id_png,
                                      visible_masks)
from vis.visualization.video_io import FrameSource, Mp4Writer

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'ci_tiny.py')
sys.path.insert(0, osp.join(ROOT, 'tools'))
import demo_video  # noqa: E402


def video_frames_dir(root, index=0):
    with open(osp.join(root, 'valid.json')) as f:
        video = json.load(f)['videos'][index]
    return osp.join(root, 'valid', 'JPEGImages',
                    osp.dirname(video['file_names'][0]))


@pytest.fixture(scope='module')
def mp4(tiny_ytvis, tmp_path_factory):
    folder = video_frames_dir(tiny_ytvis)
    path = str(tmp_path_factory.mktemp('video') / 'clip.mp4')
    with Mp4Writer(path, fps=6) as writer:
        for name in sorted(os.listdir(folder)):
            writer.write(cv2.imread(osp.join(folder, name)))
    return path


def demo(*args):
    return demo_video.main([str(a) for a in args])


def read_json(path):
    with open(path) as f:
        return json.load(f)


def test_demo_writes_overlay_id_masks_and_json_that_agree(
        mp4, untrained_checkpoint, tmp_path):
    out = tmp_path / 'out'
    stats = demo(mp4, CONFIG, untrained_checkpoint, '--out-dir', out,
                 '--score-thr', '0', '--binary-masks')
    assert stats['frames'] == 5
    assert stats['model_fps'] > 0 and stats['end_to_end_fps'] > 0
    pred = read_json(out / 'predictions.json')
    assert pred['complete'] and pred['num_frames'] == 5
    assert [f['index'] for f in pred['frames']] == list(range(5))
    assert sorted(os.listdir(out / 'masks')) == \
        [f'{i:06d}.png' for i in range(5)]
    num_instances = 0
    for frame in pred['frames']:
        id_map = read_id_png(str(out / 'masks' / f'{frame["index"]:06d}.png'))
        assert id_map.dtype == np.uint16 and id_map.shape == (64, 96)
        ids = [inst['id'] for inst in frame['instances']]
        assert len(ids) == len(set(ids))
        assert set(np.unique(id_map)) - {0} == set(ids)
        for inst in frame['instances']:
            num_instances += 1
            mask = mask_utils.decode(inst['segmentation']).astype(bool)
            np.testing.assert_array_equal(mask, id_map == inst['id'])
            binary = cv2.imread(str(out / 'binary_masks' /
                                    f'{frame["index"]:06d}_id{inst["id"]}.png'),
                                cv2.IMREAD_GRAYSCALE)
            np.testing.assert_array_equal(binary > 127, mask)
            x, y, w, h = inst['bbox']
            ys, xs = np.nonzero(mask)
            assert (x, y, x + w - 1, y + h - 1) == \
                (xs.min(), ys.min(), xs.max(), ys.max())
            assert inst['category'] == pred['classes'][inst['category_id'] - 1]
    assert num_instances > 0, 'no instances: the test would be vacuous'
    overlay = FrameSource(str(out / 'overlay.mp4'))
    shapes = [image.shape for _, _, image in overlay]
    assert shapes == [(64, 96, 3)] * 5


def test_a_folder_of_frames_gives_the_same_masks_as_the_mp4_decode(
        tiny_ytvis, untrained_checkpoint, tmp_path):
    out = tmp_path / 'folder'
    demo(video_frames_dir(tiny_ytvis), CONFIG, untrained_checkpoint,
         '--out-dir', out, '--score-thr', '0', '--no-overlay')
    pred = read_json(out / 'predictions.json')
    names = sorted(os.listdir(video_frames_dir(tiny_ytvis)))
    assert [f['name'] for f in pred['frames']] == \
        [osp.splitext(n)[0] for n in names]
    assert not (out / 'overlay.mp4').exists()


def test_no_detections_gives_empty_outputs(mp4, untrained_checkpoint,
                                           tmp_path):
    out = tmp_path / 'empty'
    demo(mp4, CONFIG, untrained_checkpoint, '--out-dir', out,
         '--cfg-options', 'model.detector.test_cfg.rcnn.score_thr=1.01')
    pred = read_json(out / 'predictions.json')
    assert pred['complete'] and pred['num_frames'] == 5
    assert all(f['instances'] == [] for f in pred['frames'])
    for name in os.listdir(out / 'masks'):
        assert not read_id_png(str(out / 'masks' / name)).any()
    assert len(list(FrameSource(str(out / 'overlay.mp4')))) == 5


def test_missing_and_corrupt_inputs_give_clear_errors(
        untrained_checkpoint, tmp_path):
    with pytest.raises(SystemExit, match='missing.mp4: no such'):
        demo(tmp_path / 'missing.mp4', CONFIG, untrained_checkpoint,
             '--out-dir', tmp_path / 'a')
    bad = tmp_path / 'corrupt.mp4'
    bad.write_bytes(b'\x00\x01 not a video ' * 100)
    with pytest.raises(SystemExit, match='corrupt.mp4: cannot'):
        demo(bad, CONFIG, untrained_checkpoint, '--out-dir', tmp_path / 'b')
    empty = tmp_path / 'no_frames'
    empty.mkdir()
    with pytest.raises(SystemExit, match='no_frames: no image files'):
        demo(empty, CONFIG, untrained_checkpoint, '--out-dir', tmp_path / 'c')


def test_a_corrupt_frame_midway_keeps_what_was_written(
        tiny_ytvis, untrained_checkpoint, tmp_path):
    frames = tmp_path / 'frames'
    shutil.copytree(video_frames_dir(tiny_ytvis), frames)
    names = sorted(os.listdir(frames))
    (frames / names[3]).write_bytes(b'garbage')
    out = tmp_path / 'out'
    with pytest.raises(SystemExit, match=f'{names[3]} \\(frame 3\\)'):
        demo(frames, CONFIG, untrained_checkpoint, '--out-dir', out,
             '--score-thr', '0')
    pred = read_json(out / 'predictions.json')  # still valid json
    assert pred['complete'] is False and pred['num_frames'] == 3
    assert 'frame 3' in pred['error']
    assert len(os.listdir(out / 'masks')) == 3
    assert len(list(FrameSource(str(out / 'overlay.mp4')))) == 3


def test_id_map_gives_overlaps_to_the_higher_score():
    masks = np.zeros((3, 4, 6), bool)
    masks[0, :, :4] = True   # id 7, score 0.5
    masks[1, 1:3, 2:6] = True  # id 2, score 0.9: wins the overlap
    masks[2, 0, 0] = True    # id 5, score 0.1: hidden under id 7
    id_map = instance_id_map(masks, [7, 2, 5], [0.5, 0.9, 0.1])
    expected = np.array([[7, 7, 7, 7, 0, 0],
                         [7, 7, 2, 2, 2, 2],
                         [7, 7, 2, 2, 2, 2],
                         [7, 7, 7, 7, 0, 0]], np.uint16)
    np.testing.assert_array_equal(id_map, expected)
    visible = visible_masks(id_map, [7, 2, 5])
    np.testing.assert_array_equal(visible[1], masks[1])
    assert not visible[2].any()
    assert visible[0].sum() == 16 - 4
    with pytest.raises(ValueError, match='16-bit'):
        instance_id_map(masks[:1], [70000], [1.0])
