"""The embedding-memory tracker on hand-written frames."""
import math

import numpy as np
import pytest
import torch

from vis.models import EmbeddingMemoryTracker, greedy_assign

NORM = 1 / math.sqrt(0.1)  # embedding norm of CosineRoIEmbedHead, T = 0.1


def emb(*vectors):
    """Rows of unit vectors scaled like the head's embeddings: (K, 4)."""
    x = torch.tensor(vectors, dtype=torch.float32)
    return torch.nn.functional.normalize(x, dim=1) * NORM


def boxes(*rows):
    return torch.tensor(rows, dtype=torch.float32)


A, B, C = [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]
BOX_A, BOX_B, BOX_C = [0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]


def step(tracker, frame, embeds, bxs, labels, scores=None):
    n = len(embeds)
    scores = torch.full((n, ), 0.9) if scores is None else torch.tensor(scores)
    return tracker.update(frame, embeds, bxs, torch.tensor(labels),
                          scores).tolist()


def test_ids_persist_and_follow_objects_when_detection_order_swaps():
    tracker = EmbeddingMemoryTracker(num_frames_retain=5)
    assert step(tracker, 0, emb(A, B), boxes(BOX_A, BOX_B), [0, 1]) == [0, 1]
    # same objects, listed in the other order and moved a little
    ids = step(tracker, 1, emb(B, A), boxes([52, 51, 62, 61], [1, 1, 11, 11]),
               [1, 0])
    assert ids == [1, 0]
    assert step(tracker, 2, emb(A, B), boxes(BOX_A, BOX_B), [0, 1]) == [0, 1]


def test_new_object_gets_a_new_id_and_old_ids_are_kept():
    tracker = EmbeddingMemoryTracker()
    assert step(tracker, 0, emb(A), boxes(BOX_A), [0]) == [0]
    assert step(tracker, 1, emb(C, A), boxes(BOX_C, BOX_A), [2, 0]) == [1, 0]
    assert tracker.num_tracks == 2


def test_track_expires_after_the_retain_window():
    tracker = EmbeddingMemoryTracker(num_frames_retain=3)
    step(tracker, 0, emb(A, B), boxes(BOX_A, BOX_B), [0, 1])
    # A is seen every frame, B disappears after frame 0
    for frame in (1, 2, 3):
        assert step(tracker, frame, emb(A), boxes(BOX_A), [0]) == [0]
    # frame 3 - 0 = 3 <= retain: B is still remembered
    assert step(tracker, 3, emb(B), boxes(BOX_B), [1]) == [1]
    # B last seen at 3; at frame 7 it has been gone 4 > 3 frames: new id
    assert step(tracker, 7, emb(B), boxes(BOX_B), [1]) == [2]
    assert len(tracker.memory) == 1  # A (last seen 3) expired as well


def test_reset_starts_ids_from_zero():
    tracker = EmbeddingMemoryTracker()
    step(tracker, 0, emb(A, B), boxes(BOX_A, BOX_B), [0, 1])
    tracker.reset()
    assert len(tracker.memory) == 0
    assert step(tracker, 0, emb(B), boxes(BOX_B), [1]) == [0]


def test_label_decides_for_a_partly_similar_detection():
    # cos 0.6 with A: the same class continues A, another class starts anew
    # (new: log p_new + 10; A: log p_A + 2 * IoU + 10 * [same label])
    similar = emb([0.6, 0.8, 0, 0])
    tracker = EmbeddingMemoryTracker()
    step(tracker, 0, emb(A), boxes(BOX_A), [0])
    assert step(tracker, 1, similar, boxes(BOX_A), [0]) == [0]
    tracker.reset()
    step(tracker, 0, emb(A), boxes(BOX_A), [0])
    assert step(tracker, 1, similar, boxes(BOX_A), [3]) == [1]


def test_two_detections_never_share_one_track():
    tracker = EmbeddingMemoryTracker()
    step(tracker, 0, emb(A), boxes(BOX_A), [0])
    # two near-duplicates of A: the better one (IoU 1) keeps id 0
    ids = step(tracker, 1, emb(A, A), boxes([0, 5, 10, 15], BOX_A), [0, 0])
    assert sorted(ids) == [0, 1]
    assert ids[1] == 0


def test_empty_frame_keeps_memory_and_ids():
    tracker = EmbeddingMemoryTracker()
    step(tracker, 0, emb(A), boxes(BOX_A), [0])
    assert tracker.update(1, torch.zeros(0, 4), torch.zeros(0, 4),
                          torch.zeros(0, dtype=torch.long),
                          torch.zeros(0)).tolist() == []
    assert step(tracker, 2, emb(A), boxes(BOX_A), [0]) == [0]


def test_momentum_averages_embeddings():
    tracker = EmbeddingMemoryTracker(momentum=0.5)
    step(tracker, 0, emb(A), boxes(BOX_A), [0])
    step(tracker, 1, emb([1, 1, 0, 0]), boxes(BOX_A), [0])
    expected = 0.5 * emb(A)[0] + 0.5 * emb([1, 1, 0, 0])[0]
    torch.testing.assert_close(tracker.memory.embeds[0], expected)


def test_match_score_matches_hand_computation():
    tracker = EmbeddingMemoryTracker()
    step(tracker, 0, emb(A, B), boxes(BOX_A, BOX_B), [0, 1])
    det = emb([1, 1, 0, 0])  # cos 0.7071 with both A and B
    score = tracker.match_scores(det, boxes([0, 0, 10, 5]),
                                 torch.tensor([0]), torch.tensor([0.5]))[0]
    sim = 0.70710678 / 0.1
    log_z = math.log(1 + 2 * math.exp(sim))
    expected = [
        -log_z + math.log(0.5) + 10.0,                 # new track
        sim - log_z + math.log(0.5) + 2 * 0.5 + 10.0,  # A: IoU 0.5, label
        sim - log_z + math.log(0.5) + 0.0 + 0.0,       # B: no overlap, label
    ]
    np.testing.assert_allclose(score.numpy(), expected, rtol=1e-5)


def test_greedy_assign_best_pair_first():
    scores = np.array([[5.0, 4.0], [6.0, 1.0], [0.0, 0.0]])
    new = np.array([0.0, 0.0, 1.0])
    # pair (1, 0) is best; det 0 then takes track 1; det 2 prefers new
    assert greedy_assign(scores, new).tolist() == [1, 0, -1]
    assert greedy_assign(np.zeros((0, 3)), np.zeros(0)).tolist() == []


def test_invalid_arguments_are_rejected():
    with pytest.raises(KeyError, match='unknown match_weights'):
        EmbeddingMemoryTracker(match_weights=dict(colour=1.0))
    with pytest.raises(ValueError):
        EmbeddingMemoryTracker(num_frames_retain=0)


def test_half_precision_detections_are_matched_in_float32():
    # AMP inference gives float16 embeddings, boxes and scores: the match
    # scores are computed in float32 (cos / 0.1 = 10 would lose digits in
    # the softmax), and the memory keeps the dtype of the first frame
    tracker = EmbeddingMemoryTracker()
    half = dict(dtype=torch.float16)
    ids = tracker.update(0, emb(A, B).half(), boxes(BOX_A, BOX_B).half(),
                         torch.tensor([0, 1]), torch.full((2, ), 0.9, **half))
    assert ids.tolist() == [0, 1]
    assert tracker.memory.embeds.dtype == torch.float16
    det = emb([1, 1, 0, 0])
    scores = tracker.match_scores(det.half(), boxes([0, 0, 10, 5]).half(),
                                  torch.tensor([0]),
                                  torch.tensor([0.5], **half))
    assert scores.dtype == torch.float32
    full = tracker.match_scores(det, boxes([0, 0, 10, 5]), torch.tensor([0]),
                                torch.tensor([0.5]))
    torch.testing.assert_close(scores, full, rtol=2e-3, atol=2e-2)
    ids = tracker.update(1, emb(B, A).half(), boxes(BOX_B, BOX_A).half(),
                         torch.tensor([1, 0]), torch.full((2, ), 0.9, **half))
    assert ids.tolist() == [1, 0]


def test_expiry_reads_the_host_copy_of_the_last_seen_frames():
    tracker = EmbeddingMemoryTracker(num_frames_retain=2)
    step(tracker, 0, emb(A, B), boxes(BOX_A, BOX_B), [0, 1])
    step(tracker, 2, emb(A), boxes(BOX_A), [0])
    memory = tracker.memory
    assert memory.last_frame_host.tolist() == [2, 0]
    assert memory.last_frame.tolist() == [2, 0]  # the device copy agrees
    assert memory.expire(frame_id=3, num_frames_retain=2) == 1  # B: 3 > 2
    assert memory.ids.tolist() == [0]
    assert memory.last_frame_host.tolist() == [2]
