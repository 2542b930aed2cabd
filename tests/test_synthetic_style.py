"""Generator styles: the default stays byte-identical, the hard preset
changes what it says it changes, and bad styles are refused."""
import hashlib
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest

from vis.datasets.synthetic import make_split, render_video
from vis.datasets.synthetic_style import (PRESETS, SceneStyle,
                                          occluder_mask, preset_style)

TOOL = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools',
                'dataset_converters', 'make_synthetic_ytvis.py')
_spec = importlib.util.spec_from_file_location('make_synthetic_tool', TOOL)
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

# md5 of 3 videos of the generator as it was before styles existed
# (frames, visible masks, categories; corrupted frames included)
DEFAULT_CHECKSUM = '7dfaa20ad69def75914bee1fc0f79665'


def _checksum(**style_kw):
    digest = hashlib.md5()
    rng, corrupt_rng = np.random.default_rng(3), np.random.default_rng(4)
    for _ in range(3):
        frames, masks, cats = render_video(rng, 12, 192, 320, 3, 5, 0.3,
                                           corrupt_rng, **style_kw)
        for frame in frames:
            digest.update(frame.tobytes())
        for obj in masks:
            for m in obj:
                digest.update(b'N' if m is None else m.tobytes())
        digest.update(str(cats).encode())
    return digest.hexdigest()


def test_default_style_reproduces_the_original_generator():
    assert _checksum() == DEFAULT_CHECKSUM
    assert _checksum(style=PRESETS['default']) == DEFAULT_CHECKSUM
    assert _checksum(style=PRESETS['hard']) != DEFAULT_CHECKSUM


def _boxes_and_lengths(path):
    with open(path) as f:
        ann = json.load(f)
    sides = [max(b[2], b[3]) for a in ann['annotations'] for b in a['bboxes']
             if b]
    return ann, sides, [v['length'] for v in ann['videos']]


def test_hard_preset_has_small_objects_varied_lengths_and_frame_step(
        tmp_path):
    path = make_split(str(tmp_path), 'train', num_videos=16, num_frames=12,
                      height=96, width=160, seed=2, style=PRESETS['hard'])
    ann, sides, lengths = _boxes_and_lengths(path)
    _, default_sides, default_lengths = _boxes_and_lengths(make_split(
        str(tmp_path / 'd'), 'train', num_videos=16, num_frames=12,
        height=96, width=160, seed=2))
    assert min(sides) < min(default_sides)
    assert np.median(sides) < np.median(default_sides)
    assert set(default_lengths) == {12}
    assert min(lengths) >= 6 and max(lengths) <= 12 and len(set(lengths)) > 1
    for video in ann['videos']:
        assert len(video['file_names']) == video['length']
        assert video['file_names'][1].endswith('/00008.jpg')  # frame_step 8
        assert osp.isfile(osp.join(tmp_path, 'train', 'JPEGImages',
                                   video['file_names'][-1]))
    assert ann['info']['generator']['style']['frame_step'] == 8


def test_instance_colours_do_not_follow_the_category():
    # with class colours, two objects of one category are near one colour;
    # with instance colours they are not
    spread = {}
    for mode in (True, False):
        style = SceneStyle(class_colours=mode, shade_sigma=0.0,
                           frame_noise_sigma=0.0)
        colours = []
        rng = np.random.default_rng(0)
        for _ in range(30):
            frames, masks, cats = render_video(rng, 2, 64, 96, 1, 1,
                                               style=style)
            if masks[0][0] is None:
                continue
            inside = masks[0][0].astype(bool)
            colours.append(frames[0][inside].mean(axis=0))
        spread[mode] = np.std(np.array(colours), axis=0).mean()
    assert spread[True] < 25 < spread[False]


def test_occluders_cut_masks_and_are_drawn_over_objects():
    style = SceneStyle(occluders=(2, 2), enter_prob=0.0, leave_prob=0.0,
                       radius_range=(0.3, 0.35))
    cut = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        frames, masks, _ = render_video(rng, 4, 64, 96, 2, 5, style=style)
        # re-draw the same video's occluders: the masks never overlap them
        rng = np.random.default_rng(seed)
        plain, plain_masks, _ = render_video(
            rng, 4, 64, 96, 2, 5,
            style=SceneStyle(enter_prob=0.0, leave_prob=0.0,
                             radius_range=(0.3, 0.35)))
        for obj, plain_obj in zip(masks, plain_masks):
            for m, p in zip(obj, plain_obj):
                if p is not None:
                    area = 0 if m is None else int(m.sum())
                    assert area <= int(p.sum())
                    cut += area < int(p.sum())
    assert cut > 0


def test_occluder_mask_moves_with_its_velocity():
    from vis.datasets.synthetic_style import Occluder
    bar = Occluder(centre=np.array([20.0, 30.0]),
                   velocity=np.array([10.0, 0.0]),
                   half_size=np.array([5.0, 2.0]), angle=0.0,
                   colour=np.zeros(3))
    first, later = occluder_mask(bar, 0, 64, 96), occluder_mask(bar, 3, 64, 96)
    ys, xs = np.nonzero(first)
    assert abs(xs.mean() - 20) < 1 and abs(ys.mean() - 30) < 1
    ys, xs = np.nonzero(later)
    assert abs(xs.mean() - 50) < 1


@pytest.mark.parametrize('kwargs, message', [
    (dict(radius_range=(0.0, 0.1)), 'radius_range'),
    (dict(radius_range=(0.2, 0.1)), 'radius_range'),
    (dict(clutter=(3, 1)), 'clutter'),
    (dict(enter_prob=0.7, leave_prob=0.6), 'enter_prob'),
    (dict(min_frames=0), 'min_frames'),
    (dict(frame_step=0), 'frame_step'),
    (dict(background_range=(10, 300)), 'background_range'),
])
def test_bad_styles_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SceneStyle(**kwargs)


def test_preset_overrides_and_unknown_names():
    style = preset_style('hard', min_frames=8, frame_step=None)
    assert style.min_frames == 8 and style.frame_step == 8
    with pytest.raises(ValueError, match='unknown preset'):
        preset_style('extreme')
    with pytest.raises(ValueError, match='unknown style field'):
        preset_style('hard', colours=3)


def test_cli_options_override_the_preset():
    args = tool.parse_args(['--out', 'x', '--preset', 'hard',
                            '--colour-mode', 'class', '--occluders', '0', '0',
                            '--frame-step', '5'])
    style = tool.style_from_args(args)
    assert style.class_colours and style.occluders == (0, 0)
    assert style.frame_step == 5
    assert style.radius_range == PRESETS['hard'].radius_range
    assert tool.style_from_args(tool.parse_args(['--out', 'x'])) == \
        PRESETS['default']
    with pytest.raises(SystemExit, match='radius_range'):
        tool.main(['--out', 'x', '--radius-range', '0.3', '0.1'])
