"""Tests of vis.evaluation.tracking (HOTA, DetA, AssA, IDF1, MOTA through
trackeval's metric classes): hand-worked values on small synthetic
tracks, and the same numbers as trackeval's own YouTubeVIS dataset +
Evaluator on a random case."""
import copy
import json
import math
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vis.evaluation.tracking import (TRACKING_STAT_NAMES, evaluate_tracking)

pytest.importorskip('trackeval')

H, W, T = 20, 30, 6  # frame size, frames per video
DETAVG = [n + '_detavg' for n in TRACKING_STAT_NAMES]


def square(x0: int, y0: int, side: int = 5) -> dict:
    """A compressed RLE (str counts) of a side x side square at (x0, y0)."""
    mask = np.zeros((H, W), np.uint8)
    mask[y0:y0 + side, x0:x0 + side] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    return {'size': [H, W], 'counts': rle['counts'].decode()}


def make_gt(video_ids=(1, 'b')) -> dict:
    """Per video one 'cat' track (moving right along the top) and one 'dog'
    track (lower, also moving right): 2 tracks of T frames per category."""
    gt = {'videos': [{'id': v, 'height': H, 'width': W, 'length': T}
                     for v in video_ids],
          'categories': [{'id': 1, 'name': 'cat'}, {'id': 2, 'name': 'dog'}],
          'annotations': []}
    for v in video_ids:
        for cat, (x0, y0) in ((1, (2, 3)), (2, (14, 11))):
            gt['annotations'].append(dict(
                id=len(gt['annotations']) + 1, video_id=v, category_id=cat,
                iscrowd=0, areas=[25] * T,
                segmentations=[square(x0 + 2 * t, y0) for t in range(T)]))
    return gt


def gt_as_results(gt: dict, score: float = 0.9) -> list:
    return [dict(video_id=a['video_id'], category_id=a['category_id'],
                 score=score, segmentations=copy.deepcopy(a['segmentations']))
            for a in gt['annotations']]


def split_in_two(results: list) -> list:
    """Every track cut at its middle frame: the second half is a new track
    (a separate result, None in the first half)."""
    out = []
    for r in results:
        segms = r['segmentations']
        half = len(segms) // 2
        out.append(dict(r, segmentations=segms[:half] + [None] * (
            len(segms) - half)))
        out.append(dict(r, segmentations=[None] * half + segms[half:]))
    return out


def assert_values(values: dict, expected: dict, tol=1e-12):
    for name, value in expected.items():
        assert values[name] == pytest.approx(value, abs=tol), name


def test_ground_truth_as_results_is_perfect():
    gt = make_gt()
    result = evaluate_tracking(gt, gt_as_results(gt))
    assert_values(result.values, {n: 1.0 for n in
                                  list(TRACKING_STAT_NAMES) + DETAVG})
    assert result.values['track_score_thr'] == 0.5
    assert set(result.per_class) == {'cat', 'dog'}
    for stats in result.per_class.values():
        assert_values(stats, {n: 1.0 for n in TRACKING_STAT_NAMES})


def test_split_tracks_keep_detection_and_lose_association():
    """Each gt track of T = 6 frames is covered by two tracker tracks of 3
    frames, every mask exact.  DetA = 1 (all frames matched, IoU 1); for a
    matched pair TPA = 3, FNA = 3 (the gt's other half), FPA = 0, so AssA =
    1/2 and HOTA = sqrt(1/2); the best id mapping keeps one half: IDTP = 3,
    IDFN = 3, IDFP = 3, IDF1 = 6 / 12 = 1/2; CLEAR: TP = 6, no FP or FN, one
    id switch, MOTA = 1 - 1/6."""
    gt = make_gt()
    result = evaluate_tracking(gt, split_in_two(gt_as_results(gt)))
    expected = {'HOTA': math.sqrt(0.5), 'DetA': 1.0, 'AssA': 0.5,
                'IDF1': 0.5, 'MOTA': 1 - 1 / T}
    assert_values(result.values, expected)
    assert_values(result.values, {k + '_detavg': v
                                  for k, v in expected.items()})
    for stats in result.per_class.values():
        assert_values(stats, expected)


def false_positive(video_id=1) -> dict:
    """A 'cat' track over all frames, away from every cat."""
    return dict(video_id=video_id, category_id=1, score=0.3,
                segmentations=[square(0, 14) for _ in range(T)])


def test_low_score_track_is_ignored_under_the_threshold():
    gt = make_gt()
    results = gt_as_results(gt) + [false_positive()]
    ignored = evaluate_tracking(gt, results, track_score_thr=0.5)
    assert_values(ignored.values, {n: 1.0 for n in TRACKING_STAT_NAMES})
    # Kept (threshold 0.2): 'cat' has 12 gt dets, 18 tracker dets, TP = 12
    # and FP = 6 at every alpha: DetA = 2/3, AssA = 1, IDF1 = 24 / 30,
    # MOTA = (12 - 6) / 12; 'dog' stays perfect.
    kept = evaluate_tracking(gt, results, track_score_thr=0.2)
    assert kept.values['track_score_thr'] == 0.2
    assert_values(kept.per_class['cat'], {
        'DetA': 2 / 3, 'AssA': 1.0, 'HOTA': math.sqrt(2 / 3), 'IDF1': 0.8,
        'MOTA': 0.5})
    assert_values(kept.values, {
        'DetA': (2 / 3 + 1) / 2, 'AssA': 1.0,
        'HOTA': (math.sqrt(2 / 3) + 1) / 2, 'IDF1': 0.9, 'MOTA': 0.75,
        # det-averaged: TP = 24, FP = 6 over both classes
        'DetA_detavg': 0.8, 'AssA_detavg': 1.0,
        'HOTA_detavg': math.sqrt(0.8), 'IDF1_detavg': 48 / 54,
        'MOTA_detavg': 18 / 24})


@pytest.mark.parametrize('video_ids', [('v1', 'v2'), (1, '1'), (7, 'b')])
def test_string_and_mixed_video_ids(video_ids):
    """1 and '1' are two videos; results of one never match the other."""
    gt = make_gt(video_ids)
    results = gt_as_results(gt)
    assert_values(evaluate_tracking(gt, results).values,
                  {n: 1.0 for n in TRACKING_STAT_NAMES})
    # All results given to the second video (whose tracks lie where the
    # first's do): per category TP 6 and FP 6 there, FN 6 in the first.
    moved = [dict(r, video_id=video_ids[1]) for r in results]
    values = evaluate_tracking(gt, moved).values
    assert values['DetA'] == pytest.approx(1 / 3)


def test_unknown_video_is_an_error():
    gt = make_gt()
    results = gt_as_results(gt) + [false_positive(video_id='nope')]
    with pytest.raises(ValueError, match="'nope'"):
        evaluate_tracking(gt, results)


def test_empty_category_and_video_as_trackeval():
    """A listed category without any instance or track, and a video without
    any: skipped in the class average by default; trackeval's Evaluator
    (ignore_empty_classes=False) counts the category as 0."""
    gt = make_gt()
    gt['categories'].append({'id': 3, 'name': 'bird'})
    gt['videos'].append({'id': 99, 'height': H, 'width': W, 'length': T})
    results = gt_as_results(gt)
    skipped = evaluate_tracking(gt, results)
    assert_values(skipped.values, {n: 1.0 for n in
                                   list(TRACKING_STAT_NAMES) + DETAVG})
    assert 'bird' not in skipped.per_class
    counted = evaluate_tracking(gt, results, ignore_empty_classes=False)
    assert_values(counted.values, {n: 2 / 3 for n in TRACKING_STAT_NAMES})
    assert_values(counted.values, {n: 1.0 for n in DETAVG})


def test_crowd_ground_truth_counts_like_trackeval():
    """trackeval's YouTubeVIS uses iscrowd for TrackMAP only: a missed crowd
    gt is a missed gt (cat: 6 of 12 gt dets found, DetA = 1/2)."""
    gt = make_gt()
    results = [r for r, a in zip(gt_as_results(gt), gt['annotations'])
               if not (a['video_id'] == 1 and a['category_id'] == 1)]
    gt['annotations'][0]['iscrowd'] = 1  # video 1's cat, not in results
    result = evaluate_tracking(gt, results)
    assert result.per_class['cat']['DetA'] == pytest.approx(0.5)


def test_partial_overlap_similarity_is_the_frame_mask_iou():
    """One frame, one gt square and a result shifted by one pixel: IoU =
    20 / 30; the match counts at the alphas <= 2/3 (13 of 19), so DetA =
    13 / 19 (TP + FN = 1 at each alpha, FP 0 or 1 above)."""
    gt = {'videos': [{'id': 1, 'height': H, 'width': W, 'length': 1}],
          'categories': [{'id': 1, 'name': 'cat'}],
          'annotations': [dict(id=1, video_id=1, category_id=1, iscrowd=0,
                               segmentations=[square(5, 5)])]}
    results = [dict(video_id=1, category_id=1, score=1.0,
                    segmentations=[square(6, 5)])]
    iou = 20 / 30
    alphas = np.arange(0.05, 0.99, 0.05)
    matched = alphas <= iou + np.finfo(float).eps
    # per alpha: matched -> DetA 1, else TP 0, FN 1, FP 1 -> 0
    det_a = np.where(matched, 1.0, 0.0).mean()
    values = evaluate_tracking(gt, results).values
    assert matched.sum() == 13
    assert values['DetA'] == pytest.approx(det_a, abs=1e-12)
    assert values['HOTA'] == pytest.approx(det_a, abs=1e-12)  # AssA 1
    assert values['MOTA'] == 1.0 and values['IDF1'] == 1.0  # IoU >= 0.5


# ---------------------------------------------------------------------------
# Against trackeval's own YouTubeVIS dataset and Evaluator
# ---------------------------------------------------------------------------
def random_case(seed: int):
    """A few videos and categories with random boxes-as-masks tracks, and
    results with jitter, id switches, splits, misses and false positives.
    Ground-truth masks are uncompressed RLE (trackeval's YouTubeVIS needs
    that), results compressed."""
    rng = np.random.default_rng(seed)
    height, width, frames = 24, 32, 8

    def mask_of(x, y, s):
        m = np.zeros((height, width), np.uint8)
        m[max(y, 0):y + s, max(x, 0):x + s] = 1
        return m

    def uncompressed(m):
        flat = m.ravel(order='F')
        change = np.flatnonzero(np.diff(flat)) + 1
        counts = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
        return {'size': [height, width],
                'counts': ([0] + counts) if flat[0] else counts}

    def compressed(m):
        rle = mask_utils.encode(np.asfortranarray(m))
        return {'size': [height, width], 'counts': rle['counts'].decode()}

    gt = {'videos': [], 'annotations': [],
          'categories': [{'id': c, 'name': f'class{c}'} for c in (1, 2, 3)]}
    results = []
    for v in range(4):
        vid = 10 + v
        gt['videos'].append({'id': vid, 'height': height, 'width': width,
                             'length': frames, 'file_names': [
                                 f'video{vid}/{t:05d}.jpg'
                                 for t in range(frames)]})
        for _ in range(int(rng.integers(1, 4))):
            cat = int(rng.integers(1, 3))  # class3: predictions only
            x, y = rng.integers(0, 20, 2)
            dx, dy = rng.integers(-2, 3, 2)
            s = int(rng.integers(4, 9))
            first = int(rng.integers(0, 3))
            last = int(rng.integers(frames - 3, frames))
            masks = [mask_of(x + dx * t, y + dy * t, s)
                     if first <= t <= last else None for t in range(frames)]
            gt['annotations'].append(dict(
                id=len(gt['annotations']) + 1, video_id=vid,
                category_id=cat, iscrowd=0, height=height, width=width,
                segmentations=[None if m is None else uncompressed(m)
                               for m in masks],
                areas=[None if m is None else int(m.sum()) for m in masks]))
            # a jittered copy, cut in two at a random frame half the time
            jittered = [None if m is None or rng.random() < 0.15 else
                        np.roll(m, int(rng.integers(-1, 2)), axis=1)
                        for m in masks]
            cut = int(rng.integers(1, frames)) if rng.random() < 0.5 \
                else frames
            for part in ((0, cut), (cut, frames)):
                segms = [compressed(m) if m is not None and
                         part[0] <= t < part[1] else None
                         for t, m in enumerate(jittered)]
                if any(segms):
                    results.append(dict(video_id=vid, category_id=cat,
                                        score=float(rng.random()),
                                        segmentations=segms))
        for _ in range(int(rng.integers(0, 3))):  # false positives
            x, y = rng.integers(0, 24, 2)
            results.append(dict(
                video_id=vid, category_id=int(rng.integers(1, 4)),
                score=float(rng.random()),
                segmentations=[compressed(mask_of(x, y, 5))
                               if rng.random() < 0.7 else None
                               for _ in range(frames)]))
    return gt, results


def run_trackeval(tmp_path, gt: dict, results: list) -> dict:
    """trackeval's Evaluator with its YouTubeVIS dataset on files written
    in its folder layout; returns its COMBINED_SEQ results."""
    import trackeval
    gt_dir = tmp_path / 'gt' / 'youtube_vis_split'
    tracker_dir = tmp_path / 'trackers' / 'youtube_vis_split' / 'ours' / 'data'
    gt_dir.mkdir(parents=True)
    tracker_dir.mkdir(parents=True)
    (gt_dir / 'gt.json').write_text(json.dumps(gt))
    (tracker_dir / 'results.json').write_text(json.dumps(results))
    eval_config = dict(trackeval.Evaluator.get_default_eval_config(),
                       USE_PARALLEL=False, PRINT_RESULTS=False,
                       PRINT_CONFIG=False, TIME_PROGRESS=False,
                       OUTPUT_SUMMARY=False, OUTPUT_DETAILED=False,
                       PLOT_CURVES=False, DISPLAY_LESS_PROGRESS=True)
    dataset = trackeval.datasets.YouTubeVIS(dict(
        GT_FOLDER=str(tmp_path / 'gt') + osp.sep,
        TRACKERS_FOLDER=str(tmp_path / 'trackers') + osp.sep,
        SPLIT_TO_EVAL='split', TRACKERS_TO_EVAL=['ours'],
        PRINT_CONFIG=False))
    config = {'THRESHOLD': 0.5, 'PRINT_CONFIG': False}
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(config),
               trackeval.metrics.Identity(config)]
    out, _ = trackeval.Evaluator(eval_config).evaluate([dataset], metrics)
    return out['YouTubeVIS']['ours']['COMBINED_SEQ']


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_same_numbers_as_trackeval(tmp_path, seed, capsys):
    gt, results = random_case(seed)
    ours = evaluate_tracking(copy.deepcopy(gt), results, track_score_thr=0.0,
                             ignore_empty_classes=False)
    theirs = run_trackeval(tmp_path, gt, results)
    capsys.readouterr()  # trackeval prints its progress

    def summary(res):
        return {'HOTA': np.mean(res['HOTA']['HOTA']),
                'DetA': np.mean(res['HOTA']['DetA']),
                'AssA': np.mean(res['HOTA']['AssA']),
                'IDF1': res['Identity']['IDF1'],
                'MOTA': res['CLEAR']['MOTA']}

    assert_values(ours.values, summary(theirs['cls_comb_cls_av']), tol=1e-9)
    assert_values(ours.values, {k + '_detavg': v for k, v in
                                summary(theirs['cls_comb_det_av']).items()},
                  tol=1e-9)
    for name in ('class1', 'class2', 'class3'):
        if name in ours.per_class:
            assert_values(ours.per_class[name], summary(theirs[name]),
                          tol=1e-9)
    assert 0 < ours.values['HOTA'] < 1
