"""The tracker's retain window in frames or seconds (vis.models.retention):
hand-worked conversions, the errors, and the tracker expiring tracks by it."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from vis.models import EmbeddingMemoryTracker
from vis.models.retention import TrackRetention, retain_frames

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
NORM = 1 / math.sqrt(0.1)


@pytest.mark.parametrize('seconds, fps, stride, frames', [
    (2.0, 30, 3, 20),     # 2.0 * 30 / 3 = 20 exactly
    (2.0, 30, 1, 60),
    (1.0, 25, 2, 13),     # 12.5 -> ceil 13: never shorter than asked
    (0.7, 30, 1, 21),     # 0.7 * 30 = 21.000000000000004 in floats: 21
    (1.0, 6, 1, 6),       # YouTube-VIS: every 5th frame of 30 fps = 6 fps
    (0.01, 30, 1, 1),     # 0.3 frames: at least one frame
    (3.0, 29.97, 2, 45),  # 44.955 -> 45
])
def test_seconds_become_processed_frames(seconds, fps, stride, frames):
    assert retain_frames(retain_seconds=seconds, fps=fps,
                         frame_stride=stride) == frames


def test_frames_are_processed_frames_whatever_the_rate():
    assert retain_frames(num_frames_retain=20) == 20
    assert retain_frames(num_frames_retain=20, fps=30, frame_stride=3) == 20


@pytest.mark.parametrize('kwargs, message', [
    (dict(), 'exactly one of num_frames_retain'),
    (dict(num_frames_retain=5, retain_seconds=1.0), 'exactly one'),
    (dict(num_frames_retain=0), 'num_frames_retain must be an int >= 1'),
    (dict(num_frames_retain=2.5), 'num_frames_retain must be an int'),
    (dict(num_frames_retain=True), 'num_frames_retain must be an int'),
    (dict(retain_seconds=0.0, fps=30), 'retain_seconds must be a finite'),
    (dict(retain_seconds=-1.0, fps=30), 'retain_seconds must be'),
    (dict(retain_seconds=float('inf'), fps=30), 'retain_seconds must be'),
    (dict(retain_seconds='2', fps=30), 'retain_seconds must be'),
    (dict(retain_seconds=1.0, fps=0), 'fps must be a finite number > 0'),
    (dict(retain_seconds=1.0, fps=float('nan')), 'fps must be'),
    (dict(retain_seconds=1.0, fps=30, frame_stride=0),
     'frame_stride must be an int >= 1'),
    (dict(retain_seconds=1.0, fps=30, frame_stride=1.5), 'frame_stride'),
    (dict(retain_seconds=1.0), 'needs the frame rate'),
])
def test_bad_windows_are_refused_naming_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message):
        retain_frames(owner='MyTracker', **kwargs)


def test_errors_name_the_tracker_and_construction_checks_early():
    with pytest.raises(ValueError, match='EmbeddingMemoryTracker: give '
                       'exactly one'):
        EmbeddingMemoryTracker(num_frames_retain=5, retain_seconds=1.0)
    with pytest.raises(ValueError, match='EmbeddingMemoryTracker: fps'):
        EmbeddingMemoryTracker(retain_seconds=1.0, fps=-2)


def test_tracker_default_is_twenty_frames():
    tracker = EmbeddingMemoryTracker()
    assert tracker.num_frames_retain == 20
    assert tracker.retention_repr() == '20 frames'


def test_set_frame_rate_converts_seconds_and_keeps_frames():
    tracker = EmbeddingMemoryTracker(retain_seconds=2.0)
    assert tracker.retention_repr() == '2.0 s (frame rate not set)'
    with pytest.raises(ValueError, match='needs the frame rate'):
        tracker.num_frames_retain
    tracker.set_frame_rate(30, frame_stride=3)
    assert tracker.num_frames_retain == 20
    assert tracker.retention_repr() == '2.0 s (20 frames at 30 fps / 3)'
    tracker.reset()  # a new video keeps the rate
    assert tracker.num_frames_retain == 20
    tracker.set_frame_rate(None)
    with pytest.raises(ValueError, match='needs the frame rate'):
        tracker.num_frames_retain
    frames = EmbeddingMemoryTracker(num_frames_retain=7)
    frames.set_frame_rate(30, frame_stride=3)
    assert frames.num_frames_retain == 7
    with pytest.raises(ValueError, match='frame_stride must be'):
        frames.set_frame_rate(30, frame_stride=0)


def test_config_fps_is_used_without_set_frame_rate():
    tracker = EmbeddingMemoryTracker(retain_seconds=1.5, fps=6,
                                     frame_stride=1)
    assert tracker.num_frames_retain == 9


def emb(*rows):
    x = torch.tensor(rows, dtype=torch.float32)
    return torch.nn.functional.normalize(x, dim=1) * NORM  # (K, 4)


def update(tracker, frame, embeds, boxes, labels):
    bboxes = torch.tensor(boxes, dtype=torch.float32)  # (K, 4)
    scores = torch.full((len(labels), ), 0.9)  # (K,)
    return tracker.update(frame, embeds, bboxes, torch.tensor(labels),
                          scores).tolist()


def test_a_window_in_seconds_expires_tracks_after_its_frames():
    # 0.5 s at 12 fps, stride 2: ceil(0.5 * 12 / 2) = 3 processed frames
    tracker = EmbeddingMemoryTracker(retain_seconds=0.5)
    tracker.set_frame_rate(12, frame_stride=2)
    a, b = [1, 0, 0, 0], [0, 1, 0, 0]
    box_a, box_b = [0, 0, 10, 10], [50, 50, 60, 60]
    assert update(tracker, 0, emb(a, b), [box_a, box_b], [0, 1]) == [0, 1]
    for frame in (1, 2, 3):  # B unseen for 3 frames: still remembered
        assert update(tracker, frame, emb(a), [box_a], [0]) == [0]
    assert update(tracker, 3, emb(b), [box_b], [1]) == [1]
    # B last seen at 3, back at 7: 4 > 3 frames, a new track
    assert update(tracker, 7, emb(b), [box_b], [1]) == [2]


def test_a_window_in_seconds_without_a_rate_fails_at_the_first_frame():
    tracker = EmbeddingMemoryTracker(retain_seconds=2.0)
    with pytest.raises(ValueError, match='frame 0: EmbeddingMemoryTracker: '
                       'retain_seconds=2.0 needs the frame rate'):
        update(tracker, 0, emb([1, 0, 0, 0]), [[0, 0, 5, 5]], [0])


def test_every_registered_tracker_uses_the_mixin():
    import vis  # noqa: F401
    from mmdet.registry import MODELS
    trackers = [cls for name, cls in MODELS.module_dict.items()
                if name.endswith('Tracker')
                and cls.__module__.startswith('vis.')]
    assert trackers, 'no tracker of vis registered'
    assert all(issubclass(cls, TrackRetention) for cls in trackers)


@pytest.mark.parametrize('tracker_cfg, frames', [
    (dict(), 20),
    (dict(num_frames_retain=8), 8),
    (dict(retain_seconds=2.0, fps=30, frame_stride=3), 20),
])
def test_shipped_config_takes_either_key(tracker_cfg, frames):
    import vis  # noqa: F401
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'masktrack_r50.py'))
    tracker_cfg = dict(cfg.model.tracker, **tracker_cfg)
    tracker = MODELS.build(tracker_cfg)
    assert tracker.num_frames_retain == frames
    assert len(tracker.memory) == 0
