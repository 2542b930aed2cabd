"""tools/visualize.py and the drawing it uses: files, panels, selection,
stable colours, errors."""
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from vis.visualization import draw_instances, track_colour
from vis.visualization.video_io import FrameSource

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import visualize  # noqa: E402


@pytest.fixture(scope='module')
def split(tiny_ytvis, tmp_path_factory):
    """The tiny valid split and a results.json made from its ground truth
    (track 1 with score 0.9, plus a copy of it scoring 0.1)."""
    gt_path = osp.join(tiny_ytvis, 'valid.json')
    with open(gt_path) as f:
        gt = json.load(f)
    results = []
    for a in gt['annotations']:
        results.append(dict(video_id=a['video_id'], score=0.9,
                            category_id=a['category_id'],
                            segmentations=a['segmentations']))
    low = dict(results[0], score=0.1)
    path = str(tmp_path_factory.mktemp('res') / 'results.json')
    with open(path, 'w') as f:
        json.dump(results + [low], f)
    return dict(gt=gt, gt_path=gt_path, results=path,
                frames=osp.join(tiny_ytvis, 'valid', 'JPEGImages'))


def names_of(gt):
    return [osp.dirname(v['file_names'][0]) for v in gt['videos']]


def test_ground_truth_writes_png_mp4_and_gif_per_video(split, tmp_path):
    visualize.main([split['gt_path'], split['frames'], '--out-dir',
                    str(tmp_path)])
    for name in names_of(split['gt']):
        pngs = sorted(os.listdir(tmp_path / name))
        assert pngs == [f'{t:05d}.png' for t in range(5)]
        assert cv2.imread(str(tmp_path / name / pngs[0])).shape == (64, 96, 3)
        assert len(list(FrameSource(str(tmp_path / f'{name}.mp4')))) == 5
        assert Image.open(tmp_path / f'{name}.gif').n_frames == 5


def test_side_by_side_shows_ground_truth_then_prediction(split, tmp_path):
    visualize.main([split['results'], split['frames'], '--gt',
                    split['gt_path'], '--out-dir', str(tmp_path / 'sbs'),
                    '--side-by-side', '--formats', 'png'])
    visualize.main([split['gt_path'], split['frames'], '--out-dir',
                    str(tmp_path / 'gt'), '--formats', 'png'])
    name = names_of(split['gt'])[0]
    both = cv2.imread(str(tmp_path / 'sbs' / name / '00002.png'))
    alone = cv2.imread(str(tmp_path / 'gt' / name / '00002.png'))
    assert both.shape == (64, 2 * 96, 3)
    below_title = slice(20, None)
    np.testing.assert_array_equal(both[below_title, :96], alone[below_title])
    assert not (tmp_path / 'sbs' / f'{name}.mp4').exists()


def test_selection_by_name_and_frame_range(split, tmp_path):
    name = names_of(split['gt'])[1]
    visualize.main([split['gt_path'], split['frames'], '--out-dir',
                    str(tmp_path), '--videos', name, '--frames', '1', '2'])
    assert sorted(p for p in os.listdir(tmp_path)) == \
        sorted([name, f'{name}.mp4', f'{name}.gif'])
    assert sorted(os.listdir(tmp_path / name)) == ['00001.png', '00002.png']
    vid = str(split['gt']['videos'][1]['id'])
    visualize.main([split['gt_path'], split['frames'], '--out-dir',
                    str(tmp_path / 'by_id'), '--videos', vid,
                    '--formats', 'png'])
    assert os.listdir(tmp_path / 'by_id') == [name]


def test_score_threshold_hides_low_scoring_tracks(split, tmp_path):
    # only the 0.1 copy differs between the two renderings
    visualize.main([split['results'], split['frames'], '--gt',
                    split['gt_path'], '--out-dir', str(tmp_path / 'hi'),
                    '--score-thr', '0.5', '--formats', 'png'])
    visualize.main([split['results'], split['frames'], '--gt',
                    split['gt_path'], '--out-dir', str(tmp_path / 'lo'),
                    '--score-thr', '0.0', '--formats', 'png'])
    first = split['gt']['annotations'][0]
    video = next(v for v in split['gt']['videos']
                 if v['id'] == first['video_id'])
    name = osp.dirname(video['file_names'][0])
    t = next(i for i, s in enumerate(first['segmentations']) if s)
    hi = cv2.imread(str(tmp_path / 'hi' / name / f'{t:05d}.png'))
    lo = cv2.imread(str(tmp_path / 'lo' / name / f'{t:05d}.png'))
    assert (hi != lo).any()


def test_errors_name_what_is_wrong(split, tmp_path):
    with pytest.raises(SystemExit, match='pass --gt'):
        visualize.main([split['results'], split['frames'], '--out-dir',
                        str(tmp_path)])
    with pytest.raises(SystemExit, match="'nope'"):
        visualize.main([split['gt_path'], split['frames'], '--out-dir',
                        str(tmp_path), '--videos', 'nope'])
    with pytest.raises(SystemExit, match='--side-by-side needs'):
        visualize.main([split['gt_path'], split['frames'], '--out-dir',
                        str(tmp_path), '--side-by-side'])
    with pytest.raises(SystemExit, match='frame 0: cannot read'):
        visualize.main([split['gt_path'], str(tmp_path / 'no_frames'),
                        '--out-dir', str(tmp_path)])


def test_a_track_keeps_its_colour_across_frames():
    """On a black frame a mask pixel is alpha * colour: the same for a
    track wherever it is and whoever else is drawn, different for
    another track."""
    black = np.zeros((60, 30, 3), np.uint8)  # labels sit above masks

    def pixel_of(tid, masks, ids):
        out = draw_instances(black, masks, ids, ['x'] * len(ids), alpha=0.5)
        where = masks[ids.index(tid)]
        assert where.any()
        return {tuple(p) for p in out[where & (out.sum(-1) > 0)
                                      & _interior(where)]}

    a = np.zeros((2, 60, 30), bool)
    a[0, 42:48, 2:8] = True
    a[1, 42:48, 20:28] = True
    b = np.zeros((3, 60, 30), bool)
    b[0, 40:49, 14:22] = True
    b[1, 50:56, 1:6] = True
    b[2, 52:58, 24:29] = True
    first = pixel_of(4, a, [4, 9])
    second = pixel_of(4, b, [11, 4, 9])
    assert len(first) == 1 and first == second
    expected = tuple(int(c * 0.5) for c in track_colour(4))
    assert np.abs(np.subtract(next(iter(first)), expected)).max() <= 1
    assert pixel_of(9, a, [4, 9]) == pixel_of(9, b, [11, 4, 9]) != first
    assert track_colour(4) != track_colour(5)


def _interior(mask):
    """Pixels away from the contour (drawn in full colour, antialiased)."""
    return cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
