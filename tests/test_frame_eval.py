"""Per-frame detection AP (vis.evaluation.frame_eval, ``--metrics frame``)
against hand-worked values and a naive reference written here."""

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vis.evaluation import (FRAME_STAT_NAMES, evaluate_frames,
                            evaluate_report, evaluate_ytvis,
                            format_metrics_table, format_per_class_table)

H, W = 10, 12


def encode(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [H, W], 'counts': rle['counts'].decode()}


def square_mask(x0, y0, side=4) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y0:y0 + side, x0:x0 + side] = True
    return mask


def square(x0, y0, side=4) -> dict:
    return encode(square_mask(x0, y0, side))


EMPTY = encode(np.zeros((H, W), bool))


def make_gt(tracks, num_frames=3, categories=('cat', )):
    """One video ``'v'``; ``tracks``: per annotation ``(category index,
    per-frame masks or None)``."""
    gt = {'videos': [{'id': 'v', 'height': H, 'width': W,
                      'length': num_frames}],
          'categories': [{'id': k + 1, 'name': name}
                         for k, name in enumerate(categories)],
          'annotations': []}
    for k, segms in tracks:
        gt['annotations'].append(dict(
            id=len(gt['annotations']) + 1, video_id='v', category_id=k + 1,
            iscrowd=0, segmentations=list(segms)))
    return gt


def result(segms, score=0.9, category_id=1, video_id='v'):
    return dict(video_id=video_id, category_id=category_id, score=score,
                segmentations=list(segms))


def test_perfect_prediction_scores_one(capsys):
    gt = make_gt([(0, [square(0, 0), square(1, 0), square(2, 1)]),
                  (1, [square(6, 5)] * 3)], categories=('cat', 'dog'))
    results = [result(a['segmentations'], category_id=a['category_id'])
               for a in gt['annotations']]
    values, per_class = evaluate_frames(gt, results)
    assert list(values) == list(FRAME_STAT_NAMES)
    assert values == {name: 1.0 for name in FRAME_STAT_NAMES}
    assert per_class == {'cat': {'frame_mask_AP': 1.0, 'frame_box_AP': 1.0},
                         'dog': {'frame_mask_AP': 1.0, 'frame_box_AP': 1.0}}
    assert capsys.readouterr().out == ''  # pycocotools silenced


@pytest.mark.parametrize('wrong', [EMPTY, square(8, 6)],
                         ids=['empty', 'disjoint'])
def test_track_wrong_on_its_last_frame_hand_worked(wrong):
    """One gt on frames 0-2, one track right on frames 0-1 and wrong on
    frame 2: three detections of one score in frame order TP, TP, FP and
    one gt missed. Recall 2/3 at precision 1, then precision drops: the
    interpolated precision is 1 at the recall thresholds 0, .01, ..., .66
    (67 of the 101) and 0 above, at every IoU threshold."""
    gt = make_gt([(0, [square(0, 0)] * 3)])
    values, per_class = evaluate_frames(
        gt, [result([square(0, 0), square(0, 0), wrong])])
    for kind in ('mask', 'box'):
        for stat in ('AP', 'AP50', 'AP75'):
            assert values[f'frame_{kind}_{stat}'] == pytest.approx(67 / 101)
        assert values[f'frame_{kind}_AR100'] == pytest.approx(2 / 3)
    assert per_class['cat']['frame_mask_AP'] == pytest.approx(67 / 101)


def test_identity_switch_keeps_frame_ap_and_loses_video_ap():
    """Every frame detected, but by two half tracks: each half's video IoU
    with the gt is 2/4 = 0.5, a match at IoU 0.5 only, so video AP < 1;
    every frame is a true positive, so frame AP is 1."""
    frames = [square(0, 0), square(1, 0), square(2, 1), square(3, 1)]
    gt = make_gt([(0, frames)], num_frames=4)
    halves = [result(frames[:2] + [None, None], score=0.9),
              result([None, None] + frames[2:], score=0.8)]
    values, _ = evaluate_frames(gt, halves)
    assert values == {name: 1.0 for name in FRAME_STAT_NAMES}
    video = evaluate_ytvis(gt, halves)
    assert video['AP'] < 1 and video['AP50'] == pytest.approx(1.0)
    report = evaluate_report(gt, halves, ('ap', 'frame'))
    assert report.values['frame_mask_AP'] == 1.0
    assert report.values['AP'] == pytest.approx(video['AP'])


def test_none_frames_are_ignored():
    """None frames make neither detections nor ground truth: a gt absent on
    frame 1 and a track absent there too score 1; the track absent where
    the gt is present only misses that frame."""
    gt = make_gt([(0, [square(0, 0), None, square(2, 2)])])
    values, _ = evaluate_frames(
        gt, [result([square(0, 0), None, square(2, 2)])])
    assert values['frame_mask_AP'] == 1.0
    values, _ = evaluate_frames(gt, [result([square(0, 0), None, None])])
    # 1 of 2 gts found at precision 1: recall thresholds 0..0.5 (51)
    assert values['frame_mask_AP'] == pytest.approx(51 / 101)
    assert values['frame_mask_AR100'] == pytest.approx(0.5)


def test_crowd_regions_are_ignored():
    gt = make_gt([(0, [square(0, 0)] * 3), (0, [square(7, 5)] * 3)])
    gt['annotations'][1]['iscrowd'] = 1
    results = [result([square(0, 0)] * 3, score=0.5),
               result([square(7, 5)] * 3, score=0.9)]  # on the crowd
    values, _ = evaluate_frames(gt, results)
    assert values['frame_mask_AP'] == 1.0 and values['frame_box_AP'] == 1.0


def test_categories_without_gt_and_unknown_categories():
    gt = make_gt([(0, [square(0, 0)] * 3)], categories=('cat', 'bird'))
    results = [result([square(0, 0)] * 3),
               result([square(5, 5)] * 3, category_id=99)]  # dropped
    values, per_class = evaluate_frames(gt, results)
    assert values['frame_mask_AP'] == 1.0  # the mean over 'cat' only
    assert per_class['bird'] == {'frame_mask_AP': -1.0,
                                 'frame_box_AP': -1.0}
    values, per_class = evaluate_frames(
        dict(gt, annotations=[]), results)
    assert values == {name: -1.0 for name in FRAME_STAT_NAMES}


def test_empty_results_score_zero():
    gt = make_gt([(0, [square(0, 0)] * 3)])
    values, per_class = evaluate_frames(gt, [])
    assert values == {name: 0.0 for name in FRAME_STAT_NAMES}


def test_length_mismatch_names_the_video():
    gt = make_gt([(0, [square(0, 0)] * 3)])
    gt['videos'][0]['id'] = gt['annotations'][0]['video_id'] = 'v7'
    with pytest.raises(ValueError, match=r"video 'v7'.*2 frames.*has 3"):
        evaluate_frames(gt, [result([square(0, 0)] * 2, video_id='v7')])
    with pytest.raises(ValueError, match="'zz'"):
        evaluate_frames(gt, [result([square(0, 0)] * 3, video_id='zz')])


def test_inputs_are_not_modified():
    import copy
    gt = make_gt([(0, [square(0, 0), None, square(1, 1)])])
    results = [result([square(0, 0), square(3, 3), None])]
    before = copy.deepcopy((gt, results))
    evaluate_frames(gt, results)
    assert (gt, results) == before


# ---------------------------------------------------------------------------
# A naive reference: one class, IoU threshold 0.5, 101-point interpolated AP
# ---------------------------------------------------------------------------
def _box(mask: np.ndarray):
    ys, xs = np.nonzero(mask)
    if not xs.size:
        return 0, 0, 0, 0
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1  # x0, y0, x1, y1


def _iou(a: np.ndarray, b: np.ndarray, kind: str) -> float:
    if kind == 'mask':
        union = (a | b).sum()
        return (a & b).sum() / union if union else 0.0
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = _box(a), _box(b)
    inter = (max(0, min(ax1, bx1) - max(ax0, bx0)) *
             max(0, min(ay1, by1) - max(ay0, by0)))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union else 0.0


def naive_ap50(gt_frames, det_frames, kind):
    """``gt_frames``: per image the gt masks; ``det_frames``: per image
    ``(score, mask)`` in result order. Per image, detections by descending
    score take the unmatched gt of largest IoU >= 0.5; then all images'
    detections by descending score (ties in image order), precision
    interpolated (the largest at this or a higher recall) and read at the
    101 recall thresholds."""
    events, num_gt = [], 0
    for gts, dets in zip(gt_frames, det_frames):
        num_gt += len(gts)
        taken = [False] * len(gts)
        order = sorted(range(len(dets)), key=lambda i: -dets[i][0])
        for i in order:
            score, mask = dets[i]
            best, best_iou = -1, 0.5 - 1e-12
            for g, gmask in enumerate(gts):
                iou = _iou(mask, gmask, kind)
                if not taken[g] and iou >= best_iou:
                    best, best_iou = g, iou
            if best >= 0:
                taken[best] = True
            events.append((score, best >= 0))
    events.sort(key=lambda e: -e[0])  # stable: image order for ties
    tp = np.cumsum([hit for _, hit in events])
    fp = np.cumsum([not hit for _, hit in events])
    recall = tp / num_gt
    precision = tp / np.maximum(tp + fp, 1)
    interpolated = np.maximum.accumulate(precision[::-1])[::-1]
    total = 0.0
    for r in np.linspace(0, 1, 101):
        reached = np.flatnonzero(recall >= r)
        total += interpolated[reached[0]] if reached.size else 0.0
    return total / 101


def test_ap50_agrees_with_a_naive_reference():
    rng = np.random.default_rng(7)
    num_frames, videos = 5, ['a', 'b']
    gt = {'videos': [{'id': v, 'height': H, 'width': W,
                      'length': num_frames} for v in videos],
          'categories': [{'id': 1, 'name': 'cat'}], 'annotations': []}
    results = []
    gt_masks = {v: [[] for _ in range(num_frames)] for v in videos}
    det_masks = {v: [[] for _ in range(num_frames)] for v in videos}
    for v in videos:
        for _ in range(3):  # gt tracks, moving, absent on some frames
            x, y = rng.integers(0, 7), rng.integers(0, 5)
            segms = []
            for f in range(num_frames):
                if rng.random() < 0.2:
                    segms.append(None)
                    continue
                mask = square_mask(min(x + f // 2, 8), y)
                gt_masks[v][f].append(mask)
                segms.append(encode(mask))
            gt['annotations'].append(dict(
                id=len(gt['annotations']) + 1, video_id=v, category_id=1,
                iscrowd=0, segmentations=segms))
        for _ in range(4):  # result tracks: jittered copies, spurious
            source = gt['annotations'][rng.integers(
                len(gt['annotations']))]
            score = float(rng.random())
            segms = []
            for f in range(num_frames):
                if rng.random() < 0.15:
                    segms.append(None)
                    continue
                dx, dy = rng.integers(-2, 3), rng.integers(-1, 2)
                mask = square_mask(int(np.clip(2 * f + dx, 0, 8)),
                                   int(np.clip(3 + dy, 0, 6)))
                if source['video_id'] == v and source['segmentations'][f] \
                        and rng.random() < 0.7:
                    ys, xs = np.nonzero(mask_utils.decode(
                        source['segmentations'][f]))
                    mask = square_mask(int(np.clip(xs.min() + dx, 0, 8)),
                                       int(np.clip(ys.min() + dy, 0, 6)))
                det_masks[v][f].append((score, mask))
                segms.append(encode(mask))
            results.append(dict(video_id=v, category_id=1, score=score,
                                segmentations=segms))
    # det_masks lists each frame's detections in result order, as the
    # image-level detections are numbered
    gt_frames = [gt_masks[v][f] for v in videos for f in range(num_frames)]
    det_frames = [det_masks[v][f] for v in videos for f in range(num_frames)]
    values, _ = evaluate_frames(gt, results)
    for kind in ('mask', 'box'):
        expected = naive_ap50(gt_frames, det_frames, kind)
        assert 0 < expected < 1
        assert values[f'frame_{kind}_AP50'] == pytest.approx(expected,
                                                             abs=1e-12)


# ---------------------------------------------------------------------------
# In the reports and tables
# ---------------------------------------------------------------------------
def test_report_and_tables_show_the_frame_metrics():
    gt = make_gt([(0, [square(0, 0)] * 3), (1, [square(6, 5)] * 3)],
                 categories=('cat', 'dog'))
    results = [result([square(0, 0), square(0, 0), EMPTY]),
               result([square(6, 5)] * 3, category_id=2)]
    report = evaluate_report(gt, results, ('ap', 'frame'))
    assert set(report.values) >= set(FRAME_STAT_NAMES)
    assert report.per_class['cat']['frame_mask_AP'] == pytest.approx(
        67 / 101)
    assert report.per_class['dog'] == pytest.approx(dict(
        AP=1, AP50=1, AP75=1, AR100=1, frame_mask_AP=1, frame_box_AP=1))
    text = format_metrics_table(report.values)
    assert 'Per-frame detection AP (values x100)' in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()
            if line.startswith(('mask', 'box'))}
    expected = f'{100 * (67 / 101 + 1) / 2:.1f}'
    assert rows['mask'][:3] == [expected] * 3
    assert rows['box'][3] == f'{100 * (2 / 3 + 1) / 2:.1f}'  # AR100
    assert 'frame_mask_AP:' not in text  # not the generic fallback
    table = format_per_class_table(report.per_class).splitlines()
    assert table[1].split() == ['category', 'AP', 'AP50', 'AP75', 'AR100',
                                'frame_mask_AP', 'frame_box_AP']
    only_frame = format_metrics_table(evaluate_report(
        gt, results, ('frame', )).values)
    assert only_frame.startswith('Per-frame detection AP')
