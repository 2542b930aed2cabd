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

from vis.visualization.export import (MAX_RGB_ID, IdPngWriter,
                                      instance_id_map, read_id_png,
                                      visible_masks, write_id_png)
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
        path = str(out / 'masks' / f'{frame["index"]:06d}.png')
        raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint16 and raw.shape == (64, 96)  # 16-bit
        id_map = read_id_png(path)
        assert id_map.dtype == np.int64 and id_map.shape == (64, 96)
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
    assert pred['id_png']['format'] == 'gray16'
    assert pred['id_png']['first_rgb_index'] is None
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
    for bad in (0, MAX_RGB_ID + 1):
        with pytest.raises(ValueError, match='24-bit RGB'):
            instance_id_map(masks[:1], [bad], [1.0])


def id_pattern(*ids, shape=(4, 5)):
    """(H, W) int64: ``ids`` in a row-major run, then background."""
    id_map = np.zeros(shape[0] * shape[1], np.int64)
    id_map[:len(ids)] = ids
    return id_map.reshape(shape)  # (H, W)


def test_ids_up_to_65535_round_trip_through_a_16_bit_png(tmp_path):
    id_map = id_pattern(1, 255, 256, 40000, 65535)
    path = str(tmp_path / 'grey.png')
    write_id_png(path, id_map)
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (4, 5)
    np.testing.assert_array_equal(raw, id_map)
    got = read_id_png(path)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, id_map)
    with pytest.raises(ValueError, match='grey2.png: IDs 0..70000 do not '
                       'fit a 16-bit PNG'):
        write_id_png(str(tmp_path / 'grey2.png'), id_pattern(70000))


def test_ids_past_65535_round_trip_through_an_rgb_png(tmp_path):
    id_map = id_pattern(70000, 3, 65536, MAX_RGB_ID)
    path = str(tmp_path / 'rgb.png')
    write_id_png(path, id_map, rgb=True)
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)  # (H, W, 3) B, G, R
    assert raw.dtype == np.uint8 and raw.shape == (4, 5, 3)
    # COCO panoptic: id = R + 256 G + 65536 B; 70000 = 1 * 65536 + 17 * 256
    # + 112
    assert raw[0, 0, ::-1].tolist() == [112, 17, 1]  # R, G, B
    assert raw[0, 2, ::-1].tolist() == [0, 0, 1]  # 65536
    assert raw[0, 3].tolist() == [255, 255, 255]
    got = read_id_png(path)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, id_map)


def test_a_video_switches_to_rgb_once_and_stays(tmp_path):
    writer = IdPngWriter()
    frames = [id_pattern(10, 7), id_pattern(70000, 7), id_pattern(5)]
    forms = []
    for index, id_map in zip((0, 3, 6), frames):
        path = str(tmp_path / f'{index:06d}.png')
        forms.append(writer.write(path, id_map, index))
        np.testing.assert_array_equal(read_id_png(path), id_map)
    assert forms == [False, True, True]  # frame 6 fits 16 bits: still RGB
    shapes = [cv2.imread(str(tmp_path / f'{i:06d}.png'),
                         cv2.IMREAD_UNCHANGED).shape for i in (0, 3, 6)]
    assert shapes == [(4, 5), (4, 5, 3), (4, 5, 3)]
    assert writer.first_rgb_index == 3
    assert writer.describe()['format'] == 'rgb24'


def test_read_id_png_refuses_other_images(tmp_path):
    path = str(tmp_path / 'rgba.png')
    cv2.imwrite(path, np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(ValueError, match='rgba.png: not an ID PNG: 4 '
                       'channels'):
        read_id_png(path)
    with pytest.raises(OSError, match='missing.png: cannot read'):
        read_id_png(str(tmp_path / 'missing.png'))


def test_frame_source_stride_skips_frames_and_keeps_source_indices(
        mp4, tiny_ytvis):
    source = FrameSource(mp4, frame_stride=2)
    assert source.fps_known and source.fps == pytest.approx(6)
    assert len(source) == 3 and source.num_source_frames == 5
    assert [(i, n) for i, n, _ in source] == \
        [(0, '000000'), (2, '000002'), (4, '000004')]
    limited = FrameSource(mp4, frame_stride=2, max_frames=4)
    assert [i for i, _, _ in limited] == [0, 2] and len(limited) == 2
    folder = FrameSource(video_frames_dir(tiny_ytvis), frame_stride=3)
    names = sorted(os.listdir(video_frames_dir(tiny_ytvis)))
    assert not folder.fps_known
    assert [(i, n) for i, n, _ in folder] == \
        [(0, osp.splitext(names[0])[0]), (3, osp.splitext(names[3])[0])]
    with pytest.raises(ValueError, match='frame_stride must be'):
        FrameSource(mp4, frame_stride=0)


def test_frame_stride_names_outputs_by_source_frame(
        mp4, untrained_checkpoint, tmp_path, capsys):
    out = tmp_path / 'stride'
    stats = demo(mp4, CONFIG, untrained_checkpoint, '--out-dir', out,
                 '--score-thr', '0', '--frame-stride', '2',
                 '--retain-seconds', '1')
    assert stats['frames'] == 3 and stats['frame_stride'] == 2
    # 1 s of the 6 fps video, every 2nd frame: ceil(1 * 6 / 2) = 3 frames
    assert stats['num_frames_retain'] == 3
    assert '1.0 s (3 frames at 6 fps / 2)' in capsys.readouterr().out
    assert sorted(os.listdir(out / 'masks')) == \
        ['000000.png', '000002.png', '000004.png']
    pred = read_json(out / 'predictions.json')
    assert [f['index'] for f in pred['frames']] == [0, 2, 4]
    assert [f['name'] for f in pred['frames']] == \
        ['000000', '000002', '000004']
    assert pred['frame_stride'] == 2 and pred['num_frames_retain'] == 3
    overlay = FrameSource(str(out / 'overlay.mp4'))
    assert len(list(overlay)) == 3 and overlay.fps == pytest.approx(3)


def test_retain_frames_and_the_input_fps_of_a_folder(
        tiny_ytvis, untrained_checkpoint, tmp_path, capsys):
    folder = video_frames_dir(tiny_ytvis)
    stats = demo(folder, CONFIG, untrained_checkpoint, '--out-dir',
                 tmp_path / 'a', '--no-overlay', '--retain-frames', '4')
    assert stats['num_frames_retain'] == 4 and stats['retention'] == \
        '4 frames'
    assert 'more than 4 frames are forgotten' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='reports none: pass --input-fps'):
        demo(folder, CONFIG, untrained_checkpoint, '--out-dir',
             tmp_path / 'b', '--retain-seconds', '0.5')
    stats = demo(folder, CONFIG, untrained_checkpoint, '--out-dir',
                 tmp_path / 'c', '--no-overlay', '--retain-seconds', '0.5',
                 '--input-fps', '10')
    assert stats['num_frames_retain'] == 5  # 0.5 s * 10 fps


@pytest.mark.parametrize('flags, message', [
    (['--retain-seconds', '2', '--retain-frames', '5'], 'not allowed with'),
    (['--frame-stride', '0'], 'must be an integer >= 1'),
    (['--retain-seconds', '-1'], 'must be a number > 0'),
    (['--retain-frames', '0'], 'must be an integer >= 1'),
])
def test_bad_stride_and_retain_flags_are_refused(flags, message, capsys):
    with pytest.raises(SystemExit) as err:
        demo_video.parse_args(['in.mp4', CONFIG, 'x.pth', '--out-dir', 'o']
                              + flags)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def region(y0, y1, x0, x1, shape=(64, 96)):
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


#: hand-made model output per processed frame: (track ID, label, score,
#: mask) at the clip's 64 x 96; label 1 overlaps label 0's track 1
FAKE_A1 = region(0, 20, 0, 30)
FAKE_B2 = region(10, 40, 20, 60)
FAKE_A3 = region(45, 60, 70, 90)


def fake_output(t):
    out = [(2, 1, 0.95, FAKE_B2)]
    if t < 4:
        out.append((1, 0, 0.9, FAKE_A1))
    if 2 <= t < 4:
        out.append((3, 0, 0.7, FAKE_A3))
    return out  # frame 4: no instance of class 0


@pytest.fixture
def fake_model(monkeypatch):
    """VideoPredictor's model output replaced by :func:`fake_output` (the
    network still runs; the output filter sees the fake instances)."""
    from vis.apis import FrameInstances, VideoPredictor

    def to_instances(self, *args, **kwargs):
        found = fake_output(self.frame_index)
        return FrameInstances(
            boxes=np.zeros((len(found), 4), np.float32),
            masks=np.stack([m for *_, m in found]),
            labels=np.array([f[1] for f in found], np.int64),
            scores=np.array([f[2] for f in found], np.float32),
            track_ids=np.array([f[0] for f in found], np.int64),
            class_names=self.class_names)

    monkeypatch.setattr(VideoPredictor, '_to_instances', to_instances)


def test_classes_and_class_masks_write_the_kept_class_only(
        mp4, untrained_checkpoint, tiny_ytvis, fake_model, tmp_path,
        capsys):
    from vis.config_utils import category_names
    names = category_names(osp.join(tiny_ytvis, 'train.json'))
    out = tmp_path / 'classes'
    stats = demo(mp4, CONFIG, untrained_checkpoint, '--out-dir', out,
                 '--classes', names[0].upper().replace(' ', '_'),
                 '--class-masks', '--binary-masks', '--no-overlay')
    assert 'class_masks/' in capsys.readouterr().out
    assert stats['tracks'] == 2
    assert sorted(os.listdir(out / 'class_masks')) == \
        [f'{i:06d}.png' for i in range(5)]
    for t in range(5):
        raw = cv2.imread(str(out / 'class_masks' / f'{t:06d}.png'),
                         cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint8 and raw.shape == (64, 96)
        expected = np.zeros((64, 96), np.uint8)
        for _, label, _, mask in fake_output(t):
            if label == 0:
                expected[mask] = 255
        np.testing.assert_array_equal(raw, expected)
        # the same pixels as the ID PNG's
        id_map = read_id_png(str(out / 'masks' / f'{t:06d}.png'))
        np.testing.assert_array_equal(raw == 255, id_map > 0)
        assert set(np.unique(id_map)) <= {0, 1, 3}
    assert not (cv2.imread(str(out / 'class_masks' / '000004.png'),
                           cv2.IMREAD_UNCHANGED)).any()  # all black
    assert not any('_id2' in n for n in os.listdir(out / 'binary_masks'))
    pred = read_json(out / 'predictions.json')
    assert pred['classes_kept'] == [names[0]]
    assert pred['min_track_score'] == 0.5  # the --score-thr's default
    assert pred['track_nms'] is True
    assert {i['category'] for f in pred['frames']
            for i in f['instances']} == {names[0]}
    assert [(t['id'], t['first_frame'], t['last_frame'], t['num_frames'],
             t['category'], t['category_id'], t['merged'])
            for t in pred['tracks']] == [
        (1, 0, 3, 4, names[0], 1, []), (3, 2, 3, 2, names[0], 1, [])]
    assert pred['tracks'][0]['score'] == pytest.approx(0.9, abs=1e-5)


def test_without_classes_every_class_is_in_the_class_masks(
        mp4, untrained_checkpoint, fake_model, tmp_path):
    out = tmp_path / 'all'
    demo(mp4, CONFIG, untrained_checkpoint, '--out-dir', out,
         '--class-masks', '--no-overlay', '--no-track-nms',
         '--min-track-score', '0.8', '--max-frames', '3')
    for t in range(3):
        raw = cv2.imread(str(out / 'class_masks' / f'{t:06d}.png'),
                         cv2.IMREAD_UNCHANGED)
        expected = np.zeros((64, 96), bool)
        for _, _, score, mask in fake_output(t):
            if score >= 0.8:  # track 3 (0.7) is below --min-track-score
                expected |= mask
        np.testing.assert_array_equal(raw == 255, expected)
        assert set(np.unique(raw)) <= {0, 255}
    pred = read_json(out / 'predictions.json')
    assert pred['track_nms'] is False and pred['min_track_score'] == 0.8
    assert [t['id'] for t in pred['tracks']] == [1, 2]


def test_an_interrupted_run_still_writes_the_tracks(
        mp4, untrained_checkpoint, fake_model, monkeypatch, tmp_path):
    from vis.apis import VideoPredictor
    real = VideoPredictor.predict_frame

    def predict_frame(self, image):
        if self.frame_index == 3:
            raise KeyboardInterrupt
        return real(self, image)

    monkeypatch.setattr(VideoPredictor, 'predict_frame', predict_frame)
    out = tmp_path / 'stopped'
    stats = demo(mp4, CONFIG, untrained_checkpoint, '--out-dir', out,
                 '--no-overlay', '--class-masks')
    assert stats['frames'] == 3
    pred = read_json(out / 'predictions.json')
    assert pred['complete'] is False and 'interrupted' in pred['error']
    assert [(t['id'], t['num_frames']) for t in pred['tracks']] == \
        [(1, 3), (2, 3), (3, 1)]  # frames 0, 1, 2 only
    assert len(os.listdir(out / 'class_masks')) == 3


def test_unknown_classes_are_refused_with_the_models_names(
        mp4, untrained_checkpoint, tiny_ytvis, tmp_path):
    from vis.config_utils import category_names
    names = category_names(osp.join(tiny_ytvis, 'train.json'))
    with pytest.raises(SystemExit) as err:
        demo(mp4, CONFIG, untrained_checkpoint, '--out-dir', tmp_path / 'x',
             '--classes', names[0], 'unicorn')
    message = str(err.value)
    assert "--classes: unknown classes ['unicorn']" in message
    assert str(list(names)) in message
    assert not (tmp_path / 'x' / 'predictions.json').exists()
