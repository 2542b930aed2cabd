"""The training-free assignment tracker on hand-written 64x64 frames with
rectangle masks."""
import math

import pytest
import torch
from mmengine.structures import InstanceData

from mmdet.structures import DetDataSample
from vis.models import AssignmentTracker

H = W = 64
E1, E2, E3 = [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]


def rect_masks(boxes, height=H, width=W):
    """(K, H, W) bool rectangle masks of integer boxes."""
    masks = torch.zeros(len(boxes), height, width, dtype=torch.bool)
    for mask, (x1, y1, x2, y2) in zip(masks, boxes):
        mask[y1:y2, x1:x2] = True
    return masks


def step(tracker, frame, boxes, labels, scores=None, embeds=None,
         masks=True, dtype=torch.float32):
    """Run one frame; returns (ids, confirmed) as lists."""
    num = len(boxes)
    bboxes = torch.tensor(boxes, dtype=dtype).reshape(num, 4)  # (K, 4)
    scores = torch.full((num, ), 0.9) if scores is None else \
        torch.tensor(scores)
    embeds = None if embeds is None else \
        torch.tensor(embeds, dtype=dtype).reshape(num, -1)  # (K, D)
    ids, confirmed = tracker.update(
        frame, bboxes, scores.to(dtype), torch.tensor(labels,
                                                      dtype=torch.long),
        rect_masks(boxes) if masks else None, embeds)
    assert ids.dtype == torch.long and confirmed.dtype == torch.bool
    assert ids.shape == confirmed.shape == (num, )
    return ids.tolist(), confirmed.tolist()


def ids_of(*args, **kwargs):
    return step(*args, **kwargs)[0]


def moving(x, y=24, size=16):
    return [x, y, x + size, y + size]


def test_ids_persist_for_two_moving_objects_listed_in_any_order():
    tracker = AssignmentTracker(num_confirm=1)
    a = [moving(0 + 2 * t, 4) for t in range(5)]
    b = [moving(40 - 2 * t, 40) for t in range(5)]
    assert ids_of(tracker, 0, [a[0], b[0]], [0, 1]) == [0, 1]
    for t in range(1, 5):
        order = [b[t], a[t]] if t % 2 else [a[t], b[t]]
        expected = [1, 0] if t % 2 else [0, 1]
        labels = [1, 0] if t % 2 else [0, 1]
        assert ids_of(tracker, t, order, labels) == expected
    assert tracker.next_id == 2


def crossing(tracker, labels, embeds=None, masks=True):
    """Two objects A, B crossing in a row (the same box at frame 2, equal
    overlaps at frames 1 and 3); listed B first until the crossing, A first
    after it, so that no tie-break by order gets it right. Returns the ids
    [A, B] of each frame."""
    xs_a, xs_b = [0, 8, 16, 24, 32], [32, 24, 16, 8, 0]
    embeds = embeds or [None, None]
    out = []
    for t in range(5):
        objects = [(moving(xs_a[t]), labels[0], embeds[0]),
                   (moving(xs_b[t]), labels[1], embeds[1])]
        order = [1, 0] if t <= 2 else [0, 1]
        boxes, labels_t, embeds_t = zip(*[objects[i] for i in order])
        ids = ids_of(tracker, t, list(boxes), list(labels_t),
                     embeds=None if embeds_t[0] is None else list(embeds_t),
                     masks=masks)
        out.append([ids[order.index(0)], ids[order.index(1)]])
    return out


def test_crossing_of_two_classes_keeps_ids_by_the_class_gate():
    tracker = AssignmentTracker(num_confirm=1)
    out = crossing(tracker, labels=[0, 1])  # A label 0, B label 1
    assert out == [[1, 0]] * 5


def test_crossing_of_one_class_is_resolved_by_appearance():
    tracker = AssignmentTracker(num_confirm=1)
    out = crossing(tracker, labels=[0, 0], embeds=[E1, E2])
    assert out == [[1, 0]] * 5
    # without the embeds nothing tells them apart after the crossing: both
    # tracks end at the same box and mask, so their similarities tie
    tracker = AssignmentTracker(num_confirm=1)
    for t, x in enumerate([0, 8, 16]):
        ids_of(tracker, t, [moving(x), moving(32 - x)], [0, 0])
    after = [moving(24), moving(8)]
    sim, cand = tracker.similarity(torch.tensor(after, dtype=torch.float32),
                                   torch.tensor([0, 0]), rect_masks(after))
    assert cand.all() and torch.equal(sim[:, 0], sim[:, 1])


def test_similarity_matches_the_hand_computation():
    tracker = AssignmentTracker()
    step(tracker, 0, [[0, 0, 16, 16]], [0], embeds=[E1])
    det = torch.tensor([[8., 0, 24, 16]])  # box and mask IoU 128 / 384
    masks = rect_masks([[8, 0, 24, 16]])
    labels = torch.tensor([0])
    sim, cand = tracker.similarity(det, labels, masks,
                                   torch.tensor([[1., 1, 0, 0]]))
    expected = 0.4 / 3 + 0.2 / 3 + 0.3 * math.sqrt(0.5) + 0.1
    assert sim.item() == pytest.approx(expected, abs=1e-6)
    assert cand.item()
    # without embeds: the other weights are renormalised, (0.2 + 0.1) / 0.7
    sim, _ = tracker.similarity(det, labels, masks, None)
    assert sim.item() == pytest.approx(0.3 / 0.7, abs=1e-6)
    # without masks either: (0.2 / 3 + 0.1) / 0.3
    sim, _ = tracker.similarity(det, labels)
    assert sim.item() == pytest.approx((0.2 / 3 + 0.1) / 0.3, abs=1e-6)
    # another class: the same similarity less the label term, gated off
    sim, cand = tracker.similarity(det, torch.tensor([2]))
    assert sim.item() == pytest.approx((0.2 / 3) / 0.3, abs=1e-6)
    assert not cand.item()


def test_confirmed_track_missed_for_two_frames_keeps_its_id():
    tracker = AssignmentTracker(num_confirm=2)
    box = moving(20)
    other = moving(44, 0)
    for t in range(3):
        assert ids_of(tracker, t, [box, other], [0, 0]) == [0, 1]
    assert ids_of(tracker, 3, [other], [0]) == [1]  # box missed
    assert ids_of(tracker, 4, [], []) == []  # everything missed
    ids, confirmed = step(tracker, 5, [moving(22), other], [0, 0])
    assert ids == [0, 1] and confirmed == [True, True]


def test_reentry_elsewhere_by_appearance_within_retention_only():
    tracker = AssignmentTracker(num_confirm=1, num_frames_retain=3)
    assert ids_of(tracker, 0, [moving(0)], [0], embeds=[E1]) == [0]
    # back on the far side (no overlap) at frame 3: 3 - 0 <= 3 frames
    near_e1 = [0.95, 0.1, 0.05, 0]
    assert ids_of(tracker, 3, [moving(44)], [0], embeds=[near_e1]) == [0]
    # a different-looking object there would not have been matched
    tracker.reset()
    ids_of(tracker, 0, [moving(0)], [0], embeds=[E1])
    assert ids_of(tracker, 3, [moving(44)], [0], embeds=[E2]) == [1]
    # past the window (last seen 0, now 4 > 3): a new id
    tracker.reset()
    ids_of(tracker, 0, [moving(0)], [0], embeds=[E1])
    assert ids_of(tracker, 4, [moving(44)], [0], embeds=[near_e1]) == [1]
    assert len(tracker) == 1


def test_tentative_tracks_are_deleted_and_persistent_ones_confirmed():
    tracker = AssignmentTracker(num_confirm=3)
    stay, blink = moving(0), moving(40)
    assert step(tracker, 0, [stay, blink], [0, 1]) == ([0, 1],
                                                       [False, False])
    assert step(tracker, 1, [stay, blink], [0, 1]) == ([0, 1],
                                                       [False, False])
    # blink missed at frame 2: deleted while tentative; stay is confirmed
    # exactly at its third frame
    assert step(tracker, 2, [stay], [0]) == ([0], [True])
    assert len(tracker) == 1
    # blink comes back: a new id, 1 is not reused
    assert step(tracker, 3, [blink, stay], [1, 0]) == ([2, 0],
                                                       [False, True])
    # the new tentative track is not matched in an empty frame: deleted
    assert step(tracker, 4, [], []) == ([], [])
    assert sorted(tracker.ids.tolist()) == [0]
    assert AssignmentTracker(num_confirm=1).update(
        0, torch.tensor([[0., 0, 8, 8]]), torch.tensor([0.9]),
        torch.tensor([0]))[1].tolist() == [True]


def test_a_tentative_duplicate_never_steals_a_confirmed_detection():
    tracker = AssignmentTracker(num_confirm=3)
    box, dup = [10, 10, 30, 30], [14, 10, 34, 30]
    for t in range(3):
        ids_of(tracker, t, [box], [0])
    assert ids_of(tracker, 3, [box, dup], [0, 0]) == [0, 1]
    sim, cand = tracker.similarity(torch.tensor([dup], dtype=torch.float32),
                                   torch.tensor([0]), rect_masks([dup]))
    assert cand.all() and sim[0, 1] == 1 > sim[0, 0]  # tracks [0, 1]
    # one detection exactly at the duplicate's box: similarity 1 with the
    # tentative track, less with the confirmed one, which still takes it
    assert step(tracker, 4, [dup], [0]) == ([0], [True])
    assert tracker.ids.tolist() == [0]


def test_low_scores_continue_tracks_but_never_start_them():
    tracker = AssignmentTracker(num_confirm=1, birth_score=0.5,
                                match_score=0.3)
    a, b = moving(0), moving(40)
    assert ids_of(tracker, 0, [a, b], [0, 0], scores=[0.9, 0.4]) == [0, -1]
    assert ids_of(tracker, 1, [a, b], [0, 0], scores=[0.4, 0.4]) == [0, -1]
    # below match_score: not tracked even on top of a track
    assert ids_of(tracker, 2, [a], [0], scores=[0.2]) == [-1]
    assert ids_of(tracker, 3, [a], [0], scores=[0.6]) == [0]
    assert tracker.next_id == 1


def test_the_class_gate_starts_a_new_track_for_another_class():
    tracker = AssignmentTracker(num_confirm=1)
    box = moving(20)
    assert ids_of(tracker, 0, [box], [0], embeds=[E1]) == [0]
    assert ids_of(tracker, 1, [box], [3], embeds=[E1]) == [1]
    # without the gate the same detection continues the track, which then
    # takes its label: the label term then prefers label 3
    tracker = AssignmentTracker(num_confirm=1, class_gate=False)
    ids_of(tracker, 0, [box], [0])
    assert ids_of(tracker, 1, [box], [3]) == [0]
    assert tracker.labels.tolist() == [3]
    assert ids_of(tracker, 2, [box, box], [0, 3]) == [1, 0]


def test_empty_frames_reset_and_retain_seconds():
    tracker = AssignmentTracker(num_confirm=1, retain_seconds=0.5)
    with pytest.raises(ValueError, match='frame 0: AssignmentTracker: '
                       'retain_seconds=0.5 needs the frame rate'):
        ids_of(tracker, 0, [moving(0)], [0])
    # 0.5 s at 12 fps, stride 2: ceil(0.5 * 12 / 2) = 3 processed frames
    tracker.set_frame_rate(12, frame_stride=2)
    assert tracker.num_frames_retain == 3
    assert ids_of(tracker, 0, [], []) == []  # empty memory, K = 0
    assert ids_of(tracker, 1, [moving(0)], [0]) == [0]
    for t in (2, 3, 4):
        assert ids_of(tracker, t, [], []) == []
    assert ids_of(tracker, 4, [moving(0)], [0]) == [0]  # 4 - 1 <= 3
    assert ids_of(tracker, 8, [moving(0)], [0]) == [1]  # 8 - 4 > 3
    tracker.reset()
    assert len(tracker) == 0 and tracker.next_id == 0
    assert ids_of(tracker, 0, [moving(30)], [2]) == [0]
    assert AssignmentTracker(retain_seconds=1.5, fps=6).num_frames_retain \
        == 9
    assert AssignmentTracker().num_frames_retain == 20


@pytest.mark.parametrize('kwargs, message', [
    (dict(match_thr=1.5), 'match_thr must be a number in'),
    (dict(match_thr=-0.1), 'match_thr'),
    (dict(birth_score=float('nan')), 'birth_score'),
    (dict(match_score=0.6, birth_score=0.5), 'birth_score .* >= match_'),
    (dict(appearance_thr=2), 'appearance_thr'),
    (dict(num_confirm=0), 'num_confirm must be an int >= 1'),
    (dict(num_confirm=1.5), 'num_confirm'),
    (dict(mask_size=0), 'mask_size'),
    (dict(momentum=0), 'momentum must be a number in'),
    (dict(weights=dict(colour=1.0)), 'unknown weights keys'),
    (dict(weights=dict(mask=-1.0)), r"weights\['mask'\] must be"),
    (dict(weights=dict(mask=0, box=0, appearance=0, label=0)), 'all 0'),
    (dict(num_frames_retain=0), 'num_frames_retain must be an int'),
    (dict(num_frames_retain=5, retain_seconds=1.0), 'exactly one'),
    (dict(retain_seconds=1.0, fps=-1), 'fps must be'),
])
def test_invalid_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AssignmentTracker(**kwargs)


def test_masks_are_kept_downsampled():
    tracker = AssignmentTracker(num_confirm=1, mask_size=16)
    assert ids_of(tracker, 0, [[0, 0, 32, 32]], [0]) == [0]
    assert tracker.masks.shape == (1, 16, 16)
    assert tracker.masks.sum().item() == 64  # a quarter of 16 x 16
    assert ids_of(tracker, 1, [[4, 0, 36, 32]], [0]) == [0]


def test_meta_device_empty_frames_read_no_value():
    meta = dict(device='meta')
    tracker = AssignmentTracker()
    for frame in range(2):
        ids, confirmed = tracker.update(
            frame, torch.zeros(0, 4, **meta), torch.zeros(0, **meta),
            torch.zeros(0, dtype=torch.long, **meta),
            torch.zeros(0, H, W, dtype=torch.bool, **meta),
            torch.zeros(0, 8, **meta))
        assert ids.device.type == confirmed.device.type == 'meta'
        assert ids.shape == confirmed.shape == (0, )
    assert len(tracker) == 0


@pytest.mark.parametrize('dtype', [torch.float64, torch.float16])
def test_other_dtypes_track_like_float32(dtype):
    def run(dtype):
        tracker = AssignmentTracker(num_confirm=2)
        out = []
        for t in range(3):
            out.append(step(tracker, t, [moving(2 * t), moving(40 - t, 0)],
                            [0, 0], embeds=[E1, E2], dtype=dtype))
        out.append(step(tracker, 3, [moving(40, 0)], [0], embeds=[E1],
                        dtype=dtype))
        return out

    assert run(dtype) == run(torch.float32)


def test_outputs_are_on_the_input_device():
    devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    for device in devices:
        tracker = AssignmentTracker(num_confirm=1)
        for t in range(2):
            ids, confirmed = tracker.update(
                t, torch.tensor([[0., 0, 8, 8]], device=device),
                torch.tensor([0.9], device=device),
                torch.tensor([0], device=device),
                rect_masks([[0, 0, 8, 8]]).to(device),
                torch.ones(1, 4, device=device))
            assert ids.device.type == confirmed.device.type == device
            assert ids.tolist() == [0]
        assert tracker.bboxes.device.type == device


@pytest.mark.gpu
def test_cuda_tracks_like_cpu():
    def run(device):
        tracker = AssignmentTracker(num_confirm=1)
        out = []
        for t in range(5):
            boxes = [moving(32 - 8 * t), moving(8 * t)]
            ids, _ = tracker.update(
                t, torch.tensor(boxes, dtype=torch.float, device=device),
                torch.full((2, ), 0.9, device=device),
                torch.tensor([0, 0], device=device),
                rect_masks(boxes).to(device),
                torch.tensor([E2, E1], dtype=torch.half, device=device))
            out.append(ids.tolist())
        return out

    assert run('cuda') == run('cpu')


def test_track_returns_the_tracked_instances_without_embeds():
    tracker = AssignmentTracker(num_confirm=2)
    boxes = [moving(0), moving(40), moving(20, 0)]
    pred = InstanceData()
    pred.bboxes = torch.tensor(boxes, dtype=torch.float32)
    pred.scores = torch.tensor([0.9, 0.2, 0.8])  # the second is untracked
    pred.labels = torch.tensor([0, 1, 2])
    pred.masks = rect_masks(boxes)
    pred.embeds = torch.tensor([E1, E2, E3], dtype=torch.float32)
    results = []
    for frame in range(2):
        sample = DetDataSample(metainfo=dict(frame_id=frame))
        sample.pred_instances = pred.clone()
        results.append(tracker.track(None, None, sample))
    for frame, out in enumerate(results):
        assert isinstance(out, InstanceData)
        assert 'embeds' not in out
        assert out.instances_id.dtype == torch.long
        assert out.instances_id.tolist() == [0, 1]
        assert out.confirmed.tolist() == [bool(frame)] * 2
        assert out.scores.tolist() == pytest.approx([0.9, 0.8])
        assert out.labels.tolist() == [0, 2]
        assert out.masks.shape == (2, H, W)
        torch.testing.assert_close(out.bboxes, pred.bboxes[[0, 2]])
    # no detection at all
    sample = DetDataSample(metainfo=dict(frame_id=2))
    sample.pred_instances = pred[torch.zeros(0, dtype=torch.long)]
    out = tracker.track(None, None, sample)
    assert len(out) == 0 and 'embeds' not in out


def test_the_registry_builds_it():
    import vis  # noqa: F401
    from mmdet.registry import MODELS
    tracker = MODELS.build(dict(type='AssignmentTracker', num_confirm=2))
    assert isinstance(tracker, AssignmentTracker)
    assert tracker.num_confirm == 2
    assert isinstance(MODELS.build(dict(type='AssignmentTracker')),
                      AssignmentTracker)


def test_terms_missing_for_a_track_are_left_out_for_its_pairs():
    tracker = AssignmentTracker(num_confirm=1)
    # track 0 born without a mask or embed, track 1 with both
    ids_of(tracker, 0, [moving(0)], [0], masks=False)
    ids_of(tracker, 1, [moving(0), moving(40)], [0, 0], masks=True,
           embeds=[E1, E2])
    assert tracker.has_mask.tolist() == [True, True]  # 0 got one now
    assert tracker.has_embed.tolist() == [True, True]
    tracker = AssignmentTracker(num_confirm=1)
    ids_of(tracker, 0, [moving(0)], [0], masks=False)
    ids_of(tracker, 1, [moving(40)], [0], embeds=[E2])
    det = [[8, 24, 24, 40]]  # IoU 1/3 with track 0, none with track 1
    sim, cand = tracker.similarity(torch.tensor(det, dtype=torch.float32),
                                   torch.tensor([0]), rect_masks(det),
                                   torch.tensor([[0., 1, 0, 0]]))
    # track 0: box and label only; track 1: all four, cosine 1
    assert sim[0, 0].item() == pytest.approx((0.2 / 3 + 0.1) / 0.3)
    assert sim[0, 1].item() == pytest.approx(0.3 + 0.1)
    assert cand.tolist() == [[True, True]]


def test_embeddings_are_a_running_average_of_unit_vectors():
    tracker = AssignmentTracker(num_confirm=1, momentum=0.25)
    ids_of(tracker, 0, [moving(0)], [0], embeds=[[2., 0, 0, 0]])
    ids_of(tracker, 1, [moving(0)], [0], embeds=[[0., 3, 0, 0]])
    torch.testing.assert_close(tracker.embeds,
                               torch.tensor([[0.75, 0.25, 0, 0]]))


def test_detections_on_another_device_than_the_tracks_are_refused():
    tracker = AssignmentTracker()
    ids_of(tracker, 0, [moving(0)], [0])
    with pytest.raises(ValueError, match='reset the tracker between'):
        tracker.update(1, torch.zeros(1, 4, device='meta'),
                       torch.ones(1, device='meta'),
                       torch.zeros(1, dtype=torch.long, device='meta'))
