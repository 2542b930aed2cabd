"""TrackOutputFilter on hand-made frames: classes kept by name, weak tracks
hidden by their running mean score, duplicate tracks merged (track NMS),
and the per-track summary with results.json's class rule."""
import os.path as osp

import numpy as np
import pytest

from vis.apis.track_filter import TrackOutputFilter, mask_ious
from vis.apis.video_predictor import FrameInstances

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'ci_tiny.py')
NAMES = ('person', 'cell_phone', 'dog')
H, W = 8, 10


def box_mask(y0, y1, x0, x1):
    mask = np.zeros((H, W), bool)
    mask[y0:y1, x0:x1] = True
    return mask


LEFT = box_mask(0, 8, 0, 4)    # 32 pixels
LEFT2 = box_mask(0, 8, 0, 5)   # IoU with LEFT = 32 / 40 = 0.8
RIGHT = box_mask(0, 8, 6, 10)  # disjoint from LEFT


def frame(*instances, names=NAMES):
    """FrameInstances of ``(track_id, label, score, mask)`` tuples."""
    n = len(instances)
    masks = np.stack([m for *_, m in instances]) if n else \
        np.zeros((0, H, W), bool)
    return FrameInstances(
        boxes=np.zeros((n, 4), np.float32), masks=masks,
        labels=np.array([i[1] for i in instances], np.int64),
        scores=np.array([i[2] for i in instances], np.float32),
        track_ids=np.array([i[0] for i in instances], np.int64),
        class_names=tuple(names))


def ids(instances):
    return instances.track_ids.tolist()


def test_classes_are_kept_by_name_case_and_underscore_blind():
    keep = TrackOutputFilter(NAMES, classes=['Cell Phone'])
    assert keep.kept_classes == ('cell_phone',)
    out = keep(0, frame((1, 0, 0.9, LEFT), (2, 1, 0.8, RIGHT),
                        (3, 2, 0.7, LEFT)))
    assert ids(out) == [2] and out.labels.tolist() == [1]
    assert out.masks.shape == (1, H, W)
    spaced = ('person', 'cell phone')
    keep = TrackOutputFilter(spaced, classes=['cell_phone', 'PERSON'])
    assert keep.kept_classes == spaced
    keep = TrackOutputFilter(spaced, classes='cell_phone')  # one name
    out = keep(0, frame((1, 0, 0.9, LEFT), (2, 1, 0.8, RIGHT), names=spaced))
    assert ids(out) == [2]
    # the dropped class never counts: no track 1 in the summary
    assert [t['id'] for t in keep.summary()] == [2]
    everything = TrackOutputFilter(NAMES)
    assert everything.kept_classes == NAMES
    assert len(everything(0, frame((1, 0, 0.9, LEFT),
                                   (2, 2, 0.8, RIGHT)))) == 2


def test_unknown_classes_list_the_unknown_and_the_known_names():
    with pytest.raises(ValueError) as err:
        TrackOutputFilter(NAMES, classes=['dog', 'catt', 'phone'])
    message = str(err.value)
    assert "['catt', 'phone']" in message
    assert "the model knows ['person', 'cell_phone', 'dog']" in message
    with pytest.raises(ValueError, match='classes is empty'):
        TrackOutputFilter(NAMES, classes=[])


def test_a_weak_track_is_hidden_until_its_running_mean_rises():
    keep = TrackOutputFilter(NAMES, min_track_score=0.5, nms_iou=None)
    weak = [0.2, 0.3, 0.95, 0.95, 0.95]  # running means .2 .25 .48 .6 .67
    fading = [0.9, 0.2, 0.1, 0.1, 0.1]   # .9 .55 .4 .33 .28
    shown = []
    for t in range(5):
        out = keep(t, frame((1, 0, 0.9, LEFT), (2, 0, weak[t], RIGHT),
                            (3, 1, fading[t], LEFT2), (4, 2, 0.1, RIGHT)))
        shown.append(sorted(ids(out)))
    assert shown == [[1, 3], [1, 3], [1], [1, 2], [1, 2]]
    # the whole video judges: 2 (mean .67) reported; 3 was shown but its
    # mean ends at .28; 4 never reached the bar
    summary = {t['id']: t for t in keep.summary()}
    assert sorted(summary) == [1, 2]
    assert summary[2]['score'] == pytest.approx(np.mean(weak), abs=1e-5)
    assert summary[2]['first_frame'] == 0 and summary[2]['num_frames'] == 5


def test_score_thr_hides_instances_but_they_count_for_the_track():
    keep = TrackOutputFilter(NAMES, score_thr=0.5, min_track_score=0.5,
                             nms_iou=None)
    assert ids(keep(0, frame((1, 0, 0.9, LEFT)))) == [1]
    assert ids(keep(1, frame((1, 0, 0.3, LEFT)))) == []  # below score_thr
    assert ids(keep(2, frame((1, 0, 0.6, LEFT)))) == [1]
    (track,) = keep.summary()
    assert track['num_frames'] == 3 and track['score'] == pytest.approx(
        (0.9 + 0.3 + 0.6) / 3, abs=1e-5)
    assert len(keep(3, frame())) == 0  # an empty frame


def test_track_nms_merges_a_duplicate_into_the_higher_scoring_track():
    keep = TrackOutputFilter(NAMES)  # IoU 0.5, half the frames, 3 frames
    both = frame((1, 0, 0.9, LEFT), (2, 0, 0.6, LEFT2), (5, 2, 0.7, RIGHT))
    assert sorted(ids(keep(0, both))) == [1, 2, 5]
    assert sorted(ids(keep(1, both))) == [1, 2, 5]  # 2 shared frames
    # the third shared frame: 2 is merged into 1 (and gone already here)
    assert sorted(ids(keep(2, both))) == [1, 5]
    assert keep.resolve(2) == 1 and keep.resolve(1) == 1
    # alone, the duplicate's instances carry the survivor's ID
    out = keep(3, frame((2, 0, 0.6, LEFT2)))
    assert ids(out) == [1]
    np.testing.assert_array_equal(out.masks[0], LEFT2)
    # both again: only one instance with the ID, the higher-scoring one
    out = keep(4, frame((1, 0, 0.8, LEFT), (2, 0, 0.95, LEFT2)))
    assert ids(out) == [1] and out.scores.tolist() == [np.float32(0.95)]
    np.testing.assert_array_equal(out.masks[0], LEFT2)
    summary = {t['id']: t for t in keep.summary()}
    assert sorted(summary) == [1, 5]
    one = summary[1]
    assert one['merged'] == [2] and summary[5]['merged'] == []
    assert (one['first_frame'], one['last_frame'], one['num_frames']) == \
        (0, 4, 5)
    # every instance folded in: 3 x (0.9 + 0.6) + 0.6 + 0.95 over 8
    assert one['score'] == pytest.approx((3 * 1.5 + 0.6 + 0.95) / 8,
                                         abs=1e-5)


def test_no_merge_without_enough_overlap_or_when_off():
    keep = TrackOutputFilter(NAMES)
    for t in range(6):  # overlapping (IoU .8) in 1 of 3, 4, ... frames
        keep(t, frame((1, 0, 0.9, LEFT),
                      (2, 0, 0.6, LEFT2 if t < 1 else RIGHT)))
    assert keep.resolve(2) == 2
    off = TrackOutputFilter(NAMES, nms_iou=None)
    for t in range(5):
        out = off(t, frame((1, 0, 0.9, LEFT), (2, 0, 0.6, LEFT2)))
    assert sorted(ids(out)) == [1, 2]
    strict = TrackOutputFilter(NAMES, nms_iou=0.9)  # IoU .8 is not enough
    for t in range(5):
        out = strict(t, frame((1, 0, 0.9, LEFT), (2, 0, 0.6, LEFT2)))
    assert sorted(ids(out)) == [1, 2]


def test_equal_means_keep_the_older_track_and_aliases_chain():
    keep = TrackOutputFilter(NAMES, nms_min_frames=1)
    keep(0, frame((7, 0, 0.5, LEFT)))
    # 4 is younger (and has the smaller ID): it becomes the alias
    assert ids(keep(1, frame((7, 0, 0.5, LEFT), (4, 0, 0.5, LEFT2)))) == [7]
    assert keep.resolve(4) == 7
    chain = TrackOutputFilter(NAMES, nms_min_frames=1)
    assert ids(chain(0, frame((2, 0, 0.8, LEFT), (3, 0, 0.5, LEFT2)))) == \
        [2]  # 3 -> 2
    assert ids(chain(1, frame((1, 0, 0.9, LEFT2), (2, 0, 0.8, LEFT)))) == \
        [1]  # 2 -> 1, its mean (.8 + .5 + .8) / 3 being lower
    assert ids(chain(2, frame((3, 0, 0.5, LEFT)))) == [1]  # 3 -> 2 -> 1
    (track,) = chain.summary()
    assert track['id'] == 1 and track['merged'] == [2, 3]
    assert (track['first_frame'], track['last_frame'], track['num_frames']) \
        == (0, 2, 3)


def test_summary_fields_and_the_results_json_class_rule():
    keep = TrackOutputFilter(NAMES, nms_iou=None)
    tie = [2, 0, 2, 0, 1]     # 0 and 2 twice: bincount's argmax takes 0
    major = [2, 1, 2, 0, 2]
    scores = [0.123456, 0.5, 0.7, 0.9, 0.3]
    for t in range(5):
        keep(10 + 2 * t, frame((3, tie[t], scores[t], LEFT),
                               (8, major[t], 0.5, RIGHT)))
    summary = keep.summary()
    assert [t['id'] for t in summary] == [3, 8]
    assert int(np.bincount(tie).argmax()) == 0
    score = summary[0].pop('score')
    assert summary[0] == dict(
        id=3, category_id=1, category='person', first_frame=10,
        last_frame=18, num_frames=5, merged=[])
    assert score == pytest.approx(np.mean(scores), abs=1e-5)
    assert score == round(score, 5)
    assert (summary[1]['category_id'], summary[1]['category']) == \
        (3, 'dog')
    keep.reset()
    assert keep.summary() == []
    assert ids(keep(0, frame((3, 0, 0.9, LEFT)))) == [3]


def test_mask_ious():
    ious = mask_ious(np.stack([LEFT, LEFT2, RIGHT, np.zeros((H, W), bool)]))
    assert ious[0, 1] == pytest.approx(0.8) and ious[1, 0] == ious[0, 1]
    assert ious[0, 2] == 0 and ious[2, 3] == 0 and ious[0, 0] == 0
    assert ious[1, 2] == 0  # LEFT2 ends at column 4, RIGHT starts at 6


def test_video_predictor_checks_and_applies_classes(untrained_checkpoint,
                                                    tiny_ytvis):
    import cv2
    import json
    from vis.apis import VideoPredictor
    with pytest.raises(ValueError, match=r"unknown classes \['nope'\]: the "
                       r"model knows \["):
        VideoPredictor(CONFIG, untrained_checkpoint, classes=['nope'])
    with open(osp.join(tiny_ytvis, 'valid.json')) as f:
        names = json.load(f)['videos'][0]['file_names']
    image = cv2.imread(osp.join(tiny_ytvis, 'valid', 'JPEGImages', names[0]))
    everything = VideoPredictor(CONFIG, untrained_checkpoint)
    labels = everything.predict_frame(image).labels
    assert len(labels), 'the untrained model detected nothing'
    wanted = everything.class_names[int(labels[0])]
    only = VideoPredictor(CONFIG, untrained_checkpoint,
                          classes=[wanted.upper()], track_nms=False)
    out = only.predict_frame(image)
    assert len(out) == int((labels == labels[0]).sum())
    assert set(out.label_names()) == {wanted}
    assert {t['id'] for t in only.track_summary()} == set(
        out.track_ids.tolist())
    only.reset()
    assert only.track_summary() == []
