"""Tests of vis.evaluation.ytvis_eval, our exact YouTube-VIS evaluator.

Most tests compare all 12 statistics with MMDetection's port of the official
YouTube-VIS API (``YTVIS`` / ``YTVISeval``) on small synthetic datasets built
here; the others check hand-worked values and error handling.
"""
import contextlib
import copy
import hashlib
import io
import os
import pickle
import subprocess
import warnings

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vis.evaluation import rle_native
from vis.evaluation.ytvis_eval import (STAT_NAMES, YTVISEvaluator,
                                       evaluate_ytvis, format_stats_table,
                                       mask_video_ious, _dict_areas, _Track)

# pycocotools' decode() warns under numpy 2; nothing to do with us.
pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')

TOLERANCE = 1e-6
NO_GT_CATEGORY = 99  # a category listed in the gt that has no annotation
UNLISTED_CATEGORY = 77  # a category id absent from gt['categories']


# ---------------------------------------------------------------------------
# Reference implementation (MMDetection's port of the official API)
# ---------------------------------------------------------------------------
def _load_reference():
    """Return mmdet's ``(YTVIS, YTVISeval)``."""
    from mmdet.evaluation.functional import YTVIS, YTVISeval
    return YTVIS, YTVISeval


@pytest.fixture(params=['native', 'fallback'])
def rle_backend(request, monkeypatch):
    """Run a test with the native RLE kernel, then with it switched off
    (``VIS_RLE_NATIVE=0``: pycocotools alone).  The native run fails if the
    kernel cannot be built, unless the environment itself disables it."""
    if request.param == 'fallback':
        monkeypatch.setenv(rle_native.ENV_VAR, '0')
    elif not rle_native.enabled():
        pytest.skip(f'{rle_native.ENV_VAR}=0 in the environment')
    else:
        assert rle_native.load() is not None, 'the RLE kernel did not build'
    return request.param


_REFERENCE_CACHE = {}


@pytest.fixture
def reference(monkeypatch, rle_backend):
    """A function computing the 12 official stats for (gt, results).

    Every test using it runs with both RLE backends of ours
    (``rle_backend``); the official numbers are computed once per input
    (cached).  The port uses ``np.float`` (removed in numpy 1.24): it is
    provided only while the reference runs.  Inputs are deep-copied because
    ``loadRes`` mutates them.
    """
    ytvis_cls, ytviseval_cls = _load_reference()

    def run(gt, results, iou_type='segm', max_dets=None):
        assert results, 'the official loadRes crashes on an empty list'
        key = hashlib.sha1(pickle.dumps(
            (gt, results, iou_type, max_dets))).hexdigest()
        if key not in _REFERENCE_CACHE:
            _REFERENCE_CACHE[key] = official(gt, results, iou_type,
                                             max_dets)
        return dict(_REFERENCE_CACHE[key])

    def official(gt, results, iou_type, max_dets):
        with monkeypatch.context() as patch, \
                contextlib.redirect_stdout(io.StringIO()):
            patch.setattr(np, 'float', float, raising=False)
            ytvis_gt = ytvis_cls(copy.deepcopy(gt))
            ytvis_dt = ytvis_gt.loadRes(copy.deepcopy(results))
            evaluator = ytviseval_cls(ytvis_gt, ytvis_dt, iou_type)
            if max_dets is not None:
                evaluator.params.maxDets = list(max_dets)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        return dict(zip(STAT_NAMES, (float(s) for s in evaluator.stats)))

    return run


def assert_stats_close(ours, expected, tol=TOLERANCE):
    assert set(ours) == set(STAT_NAMES)
    bad = {name: (ours[name], expected[name]) for name in STAT_NAMES
           if not abs(ours[name] - expected[name]) <= tol}
    assert not bad, f'stats differ (ours, expected): {bad}'


# ---------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------
def shape_polygons(rng, height, width, min_size, max_size):
    """A random rectangle or ellipse (sometimes two parts) as polygons."""
    polygons = []
    for _ in range(1 if rng.random() < 0.8 else 2):
        half_h, half_w = rng.uniform(min_size, max_size, 2) / 2
        cy = rng.uniform(half_h, max(half_h, height - half_h))
        cx = rng.uniform(half_w, max(half_w, width - half_w))
        if rng.random() < 0.5:  # rectangle
            y0, y1, x0, x1 = cy - half_h, cy + half_h, cx - half_w, cx + half_w
            poly = [x0, y0, x1, y0, x1, y1, x0, y1]
        else:  # ellipse with 12 vertices
            angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
            xs = np.clip(cx + half_w * np.cos(angles), 0, width)
            ys = np.clip(cy + half_h * np.sin(angles), 0, height)
            poly = np.stack([xs, ys], 1).ravel()
        polygons.append([float(v) for v in poly])
    return polygons


def polygons_to_mask(polygons, height, width):
    rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    return mask_utils.decode(rle)


def encode(mask, counts_type=str):
    """(H, W) 0/1 mask -> compressed RLE with str (or bytes) counts."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    if counts_type is str:
        rle['counts'] = rle['counts'].decode('ascii')
    return rle


def uncompressed_rle(mask):
    """(H, W) 0/1 mask -> uncompressed RLE (counts is a list of ints)."""
    flat = mask.ravel(order='F').astype(np.int8)  # (H*W,)
    change = np.flatnonzero(np.diff(flat)) + 1
    counts = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    if flat.size and flat[0] == 1:
        counts = [0] + counts
    return {'size': list(mask.shape), 'counts': counts}


def shift_mask(mask, dy, dx):
    """Translate a mask by (dy, dx) pixels, filling with zeros."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    src = mask[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0],
        max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def perturb(rng, mask, max_shift=0.2, flip_prob=0.05):
    """A detection mask near ``mask``: shifted by up to ``max_shift`` times
    the object's size, with some pixels flipped inside its bounding box."""
    limit = max(1, int(round(max_shift * np.sqrt(mask.sum()))))
    dy, dx = (int(v) for v in rng.integers(-limit, limit + 1, 2))
    out = shift_mask(mask, dy, dx)
    ys, xs = np.nonzero(out)
    if flip_prob and ys.size:
        box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        flips = rng.random(out[box].shape) < flip_prob
        out[box] ^= flips.astype(out.dtype)
    return out


def gt_frame(rng, mask, polygons, gt_format):
    """Encode a gt frame in one of the formats the official API accepts."""
    if gt_format == 'mixed':
        gt_format = rng.choice(['rle', 'bytes', 'uncompressed', 'polygon'])
    if gt_format == 'polygon':
        return polygons
    if gt_format == 'uncompressed':
        return uncompressed_rle(mask)
    return encode(mask, bytes if gt_format == 'bytes' else str)


def make_case(seed, num_videos=4, num_frames=5, height=48, width=64,
              num_categories=3, max_objects=3, dets_per_object=3,
              false_positives=3, p_absent=0.25, p_crowd=0.1, gt_format='rle',
              first_ann_id=1, size=(6, 28), max_shift=0.2,
              one_per_category=False, perfect=False):
    """Random YouTube-VIS ground truth and results.

    ``size`` is a (min, max) object extent in pixels, or a list of them from
    which each object draws one.  Returns (gt, results).  Detections are
    perturbed copies of gt tracks (sometimes with the wrong category, missing
    frames, an empty mask, or a truncated frame list) plus random false
    positives; scores are rounded to one decimal so that ties occur.  With
    ``perfect`` the results are exactly the non-crowd gt tracks, score 1.
    """
    rng = np.random.default_rng(seed)
    categories = [{'id': c, 'name': f'c{c}'}
                  for c in range(1, num_categories + 1)]
    categories.append({'id': NO_GT_CATEGORY, 'name': 'never annotated'})
    videos, annotations, results = [], [], []
    next_id = first_ann_id
    result_categories = list(range(1, num_categories + 1)) + [
        NO_GT_CATEGORY, UNLISTED_CATEGORY]

    sizes = size if isinstance(size, list) else [size]

    def random_track(p_missing):
        extent = sizes[int(rng.integers(len(sizes)))]
        masks, polys = [], []
        for _ in range(num_frames):
            if rng.random() < p_missing:
                masks.append(None)
                polys.append(None)
            else:
                p = shape_polygons(rng, height, width, *extent)
                polys.append(p)
                masks.append(polygons_to_mask(p, height, width))
        if all(m is None for m in masks):
            return random_track(p_missing)
        return masks, polys

    for v in range(num_videos):
        video_id = 10 + 3 * v  # not contiguous, not starting at 1
        videos.append({'id': video_id, 'height': height, 'width': width,
                       'length': num_frames})
        num_objects = int(rng.integers(1 if v == 0 else 0, max_objects + 1))
        if one_per_category:
            object_categories = rng.permutation(num_categories)[:num_objects]
        else:
            object_categories = rng.integers(0, num_categories, num_objects)
        for category in object_categories + 1:
            masks, polys = random_track(p_absent)
            crowd = int(rng.random() < p_crowd) if not perfect else 0
            annotations.append({
                'id': next_id, 'video_id': video_id,
                'category_id': int(category), 'iscrowd': crowd,
                'segmentations': [
                    None if m is None else gt_frame(rng, m, p, gt_format)
                    for m, p in zip(masks, polys)],
                'areas': [None if m is None else int(m.sum())
                          for m in masks],
                'bboxes': [None if m is None else
                           mask_utils.toBbox(encode(m)).tolist()
                           for m in masks],
                'height': height, 'width': width, 'length': 1,
            })
            next_id += 1
            if perfect:
                results.append({'video_id': video_id,
                                'category_id': int(category), 'score': 1.0,
                                'segmentations': [
                                    None if m is None else encode(m)
                                    for m in masks]})
                continue
            for _ in range(int(rng.integers(0, dets_per_object + 1))):
                segs = []
                for m in masks:
                    if m is None:
                        det = (None if rng.random() < 0.9 else
                               polygons_to_mask(shape_polygons(
                                   rng, height, width, *sizes[0]), height,
                                   width))
                    elif rng.random() < 0.1:
                        det = None  # missed in this frame
                    elif rng.random() < 0.05:
                        det = np.zeros_like(m)  # present but empty
                    else:
                        det = perturb(rng, m, max_shift)
                    segs.append(None if det is None else
                                encode(det, bytes if rng.random() < 0.3
                                       else str))
                if rng.random() < 0.1:
                    segs = segs[:-1]  # shorter frame list than the video
                cat = (int(category) if rng.random() < 0.85 else
                       int(rng.choice(result_categories)))
                results.append({'video_id': video_id, 'category_id': cat,
                                'score': round(float(rng.random()), 1),
                                'segmentations': segs})
        if not perfect:
            for _ in range(int(rng.integers(0, false_positives + 1))):
                masks, _ = random_track(0.3)
                results.append({
                    'video_id': video_id,
                    'category_id': int(rng.choice(result_categories)),
                    'score': round(float(rng.random()), 1),
                    'segmentations': [None if m is None else encode(m)
                                      for m in masks]})
    rng.shuffle(results)
    gt = {'videos': videos, 'annotations': annotations,
          'categories': categories}
    return gt, results


def make_many_dets_case(seed):
    """One video with more than 100 detections in each of two categories.

    Each category has 3 gt tracks and mostly junk detections (random shapes
    in every frame).  Category 1: the good detections are scored .95, .6 and
    .05 among 127 junk ones, so the last ranks beyond 100.  Category 2: 98
    junk detections above .5, one good one at .9 and then four tied at .5 in
    the input order junk, good, good, junk, so the 100 cut falls in the tie.
    """
    rng = np.random.default_rng(seed)
    height, width, num_frames = 40, 56, 3
    gt = {'videos': [{'id': 1, 'height': height, 'width': width}],
          'categories': [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}],
          'annotations': []}

    def random_masks():
        return [polygons_to_mask(shape_polygons(rng, height, width, 6, 20),
                                 height, width) for _ in range(num_frames)]

    def result(category, score, masks):
        return {'video_id': 1, 'category_id': category, 'score': score,
                'segmentations': [encode(m) for m in masks]}

    results = []
    for category in (1, 2):
        good = []
        for _ in range(3):
            masks = random_masks()
            gt['annotations'].append({
                'id': len(gt['annotations']) + 1, 'video_id': 1,
                'category_id': category, 'iscrowd': 0,
                'segmentations': [encode(m) for m in masks],
                'areas': [int(m.sum()) for m in masks]})
            good.append([perturb(rng, m, 0.1, 0.02) for m in masks])
        if category == 1:
            mine = [result(1, round(float(rng.uniform(.1, 1)), 2),
                           random_masks()) for _ in range(127)]
            mine += [result(1, s, m) for s, m in zip((.95, .6, .05), good)]
            rng.shuffle(mine)
        else:
            mine = [result(2, round(float(rng.uniform(.51, 1)), 2),
                           random_masks()) for _ in range(98)]
            mine.append(result(2, .9, good[0]))
            rng.shuffle(mine)
            mine += [result(2, .5, random_masks()), result(2, .5, good[1]),
                     result(2, .5, good[2]), result(2, .5, random_masks())]
        results += mine
    return gt, results


LARGE = dict(height=300, width=400, num_frames=3, num_videos=3,
             max_objects=4, size=[(40, 100), (150, 230), (290, 400)],
             false_positives=2)

REFERENCE_CASES = {
    **{f'random-{seed}': dict(seed=seed) for seed in range(6)},
    'one-video': dict(seed=11, num_videos=1, max_objects=5),
    'many-absent-frames': dict(seed=12, p_absent=0.6, num_frames=8),
    'crowds': dict(seed=13, p_crowd=0.4, max_objects=5),
    'gt-polygons': dict(seed=14, gt_format='polygon'),
    'gt-uncompressed-rle': dict(seed=15, gt_format='uncompressed'),
    'gt-mixed-formats': dict(seed=16, gt_format='mixed'),
    'large-objects': dict(seed=28, **LARGE),
    'large-objects-polygons': dict(seed=26, gt_format='polygon', **LARGE),
    # Like the speed benchmark: many categories, most false positives alone
    # in their (video, category), a few sharing it with ground truths.
    'many-categories': dict(seed=30, num_videos=10, num_categories=12,
                            max_objects=4, false_positives=8, height=72,
                            width=128, num_frames=6, size=(10, 60)),
}


# ---------------------------------------------------------------------------
# 1. Agreement with the official implementation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('name', sorted(REFERENCE_CASES))
def test_matches_reference(name, reference):
    gt, results = make_case(**REFERENCE_CASES[name])
    before = copy.deepcopy((gt, results))
    ours = evaluate_ytvis(gt, results)
    assert (gt, results) == before, 'inputs must not be modified'
    expected = reference(gt, results)
    assert_stats_close(ours, expected)
    # the case must be informative: neither trivially 0 nor 1
    assert 0 < ours['AP'] < 1 and 0 < ours['AR10'] < 1


def test_large_objects_define_every_area_range(reference):
    gt, results = make_case(**REFERENCE_CASES['large-objects'])
    expected = reference(gt, results)
    for name in ('APs', 'APm', 'APl', 'ARs', 'ARm', 'ARl'):
        assert expected[name] > 0, name
    assert_stats_close(evaluate_ytvis(gt, results), expected)


def test_more_than_100_detections(reference):
    gt, results = make_many_dets_case(seed=3)
    ours = evaluate_ytvis(gt, results)
    assert len(results) == 130 + 103 and 0 < ours['AP'] < 1
    assert_stats_close(ours, reference(gt, results))
    # Only the 100 best of each (video, category) count, ties kept in input
    # order: dropping the others by hand changes nothing ...
    top = []
    for category in (1, 2):
        mine = [r for r in results if r['category_id'] == category]
        top += sorted(mine, key=lambda r: -r['score'])[:100]
    assert evaluate_ytvis(gt, top) == ours
    # ... whereas without the cut the good detections ranked > 100 count.
    uncut = evaluate_ytvis(gt, results, max_dets=(1, 10, 1000))
    assert uncut['AR100'] > ours['AR100']
    # Custom caps (AP itself reads maxDets=100, hence -1, as officially).
    for max_dets in ((1, 2, 3), (1, 5, 20), (1, 10, 1000)):
        capped = evaluate_ytvis(gt, results, max_dets=max_dets)
        assert capped['AP'] == -1
        assert_stats_close(capped,
                           reference(gt, results, max_dets=max_dets))


def test_perfect_results(reference):
    gt, results = make_case(seed=20, perfect=True, one_per_category=True,
                            **LARGE)
    ours = evaluate_ytvis(gt, results)
    assert_stats_close(ours, reference(gt, results))
    for name in STAT_NAMES:
        assert abs(ours[name] - 1.0) < 1e-9, (name, ours[name])


def test_perfect_results_small_frames(reference):
    gt, results = make_case(seed=22, perfect=True, one_per_category=True)
    ours = evaluate_ytvis(gt, results)
    assert_stats_close(ours, reference(gt, results))
    for name in STAT_NAMES:
        if name in ('APm', 'APl', 'ARm', 'ARl'):  # no such objects
            assert ours[name] == -1, name
        else:
            assert abs(ours[name] - 1.0) < 1e-9, (name, ours[name])


def test_empty_results(reference):
    gt, _ = make_case(**REFERENCE_CASES['large-objects'])
    ours = evaluate_ytvis(gt, [])
    assert ours == {name: 0.0 for name in STAT_NAMES}
    # The official API crashes on [], but a result of a category that is not
    # in gt['categories'] is dropped, which amounts to no results.
    dropped = [{'video_id': gt['videos'][0]['id'],
                'category_id': UNLISTED_CATEGORY, 'score': 0.5,
                'segmentations': [None] * 3}]
    assert_stats_close(ours, reference(gt, dropped))
    assert_stats_close(evaluate_ytvis(gt, dropped), ours)


def test_empty_results_small_objects_only():
    gt, _ = make_case(seed=5)
    ours = evaluate_ytvis(gt, [])
    for name in STAT_NAMES:
        expected = -1.0 if name[-1] in 'ml' else 0.0
        assert ours[name] == expected, name


def test_gt_annotation_id_zero(reference):
    """Official quirk: a match to the gt with id 0 counts as unmatched."""
    gt, results = make_case(seed=2, first_ann_id=0)
    with pytest.warns(UserWarning, match='id 0'):
        ours = evaluate_ytvis(gt, results)
    assert_stats_close(ours, reference(gt, results))
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)
        shifted_ids = evaluate_ytvis(*make_case(seed=2, first_ann_id=1))
    assert ours['AP'] < shifted_ids['AP']


def test_bbox_iou_type(reference):
    """Integer boxes: box video IoU equals mask IoU of the filled boxes.

    (The official code cannot evaluate ``bbox``: compare with its ``segm``
    evaluation of the same rectangles.)
    """
    rng = np.random.default_rng(7)
    height, width, num_frames = 40, 60, 4
    gt = {'videos': [{'id': v, 'height': height, 'width': width}
                     for v in (1, 2, 3)],
          'categories': [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}],
          'annotations': []}

    def random_box():
        w, h = rng.integers(3, 25, 2)
        x, y = rng.integers(0, width - w + 1), rng.integers(0, height - h + 1)
        return [int(x), int(y), int(w), int(h)]

    def box_mask(box):
        mask = np.zeros((height, width), np.uint8)
        if box is not None:
            x, y, w, h = box
            mask[y:y + h, x:x + w] = 1
        return mask

    def moved(box):
        x, y, w, h = box
        dx, dy = rng.integers(-3, 4, 2)
        dw, dh = rng.integers(-2, 3, 2)
        w, h = max(1, w + dw), max(1, h + dh)
        x = int(np.clip(x + dx, 0, width - w))
        y = int(np.clip(y + dy, 0, height - h))
        return [x, y, int(w), int(h)]

    box_results, mask_results = [], []
    for video in gt['videos']:
        for _ in range(3):
            category = int(rng.integers(1, 3))
            boxes = [None if rng.random() < 0.25 else random_box()
                     for _ in range(num_frames)]
            gt['annotations'].append({
                'id': len(gt['annotations']) + 1, 'video_id': video['id'],
                'category_id': category, 'iscrowd': 0,
                'bboxes': boxes,
                'segmentations': [None if b is None else encode(box_mask(b))
                                  for b in boxes],
                'areas': [None if b is None else b[2] * b[3]
                          for b in boxes]})
            for _ in range(3):
                det = [None if b is None or rng.random() < 0.1 else moved(b)
                       for b in boxes]
                score = round(float(rng.random()), 1)
                box_results.append({'video_id': video['id'],
                                    'category_id': category, 'score': score,
                                    'bboxes': det})
                mask_results.append({
                    'video_id': video['id'], 'category_id': category,
                    'score': score,
                    'segmentations': [None if b is None else
                                      encode(box_mask(b)) for b in det]})
    expected = reference(gt, mask_results)
    assert 0 < expected['AP'] < 1
    assert_stats_close(evaluate_ytvis(gt, box_results, iou_type='bbox'),
                       expected)
    assert_stats_close(evaluate_ytvis(gt, mask_results), expected)


def shifted_case(case, video_offset, ann_offset):
    """A copy of (gt, results) with video and annotation ids shifted."""
    gt, results = copy.deepcopy(case)
    for video in gt['videos']:
        video['id'] += video_offset
    for ann in gt['annotations']:
        ann['video_id'] += video_offset
        ann['id'] += ann_offset
    for result in results:
        result['video_id'] += video_offset
    return gt, results


def test_videos_of_different_sizes(reference):
    """Videos of three frame sizes in one evaluation (masks of different
    videos are intersected in separate pycocotools calls)."""
    cases = [make_case(seed=40, num_videos=3),
             shifted_case(make_case(seed=41, num_videos=3, height=40,
                                    width=30), 100, 1000),
             shifted_case(make_case(seed=42, **LARGE), 200, 2000)]
    gt = {'videos': [], 'annotations': [], 'categories': cases[0][0][
        'categories']}
    results = []
    for case_gt, case_results in cases:
        gt['videos'] += case_gt['videos']
        gt['annotations'] += case_gt['annotations']
        results += case_results
    assert len({(v['height'], v['width']) for v in gt['videos']}) == 3
    ours = evaluate_ytvis(gt, results)
    assert 0 < ours['AP'] < 1
    assert_stats_close(ours, reference(gt, results))


def test_lone_false_positives_at_area_bounds(reference):
    """Detections without any gt in their (video, category) are never
    matched: their average area decides whether they count as false
    positives or are ignored in the small / medium / large ranges.

    Category 1, scores in decreasing order (video 1 has the gts, video 2
    only lone detections): a lone 128 x 128 square (exactly 128^2: small
    and medium), a TP on a medium gt, a lone 256 x 256 square (exactly
    256^2: medium and large), a lone small blob, a TP on a small gt, a lone
    small blob, a TP on a large gt, then lone detections ranked after every
    true positive (whose areas cannot change any number).  The lone ones
    ranked before a TP change APs, APm or APl if their area is taken
    wrong.
    """
    height, width = 300, 400

    def rect(rows, cols):
        return _rect(height, width, rows, cols)

    medium_gt = rect((0, 150), (0, 150))  # 22500 px
    small_gt = rect((200, 240), (300, 340))  # 1600 px
    large_gt = rect((0, 270), (120, 400))  # 75600 px, no detection
    gt = {'videos': [{'id': 1, 'height': height, 'width': width},
                     {'id': 2, 'height': height, 'width': width}],
          'categories': [{'id': 1, 'name': 'a'}],
          'annotations': [
              {'id': i + 1, 'video_id': 1, 'category_id': 1, 'iscrowd': 0,
               'segmentations': [encode(m), encode(m)],
               'areas': [int(m.sum())] * 2}
              for i, m in enumerate((medium_gt, small_gt, large_gt))]}

    def result(video, score, masks):
        return {'video_id': video, 'category_id': 1, 'score': score,
                'segmentations': [None if m is None else encode(m)
                                  for m in masks]}

    results = [
        result(2, .95, [rect((0, 128), (0, 128))] * 2),  # == 128^2
        result(1, .9, [medium_gt, medium_gt]),  # TP (medium)
        result(2, .8, [rect((0, 256), (0, 256)), None]),  # == 256^2
        result(2, .7, [rect((10, 50), (10, 60)), None]),  # small
        result(1, .6, [small_gt, small_gt]),  # TP (small)
        result(2, .5, [rect((0, 20), (0, 20)), rect((0, 30), (0, 30))]),
        result(1, .45, [large_gt, large_gt]),  # TP (large)
        result(2, .4, [rect((0, 256), (0, 300)), None]),  # large
        result(2, .3, [np.zeros((height, width), np.uint8), None]),
    ]
    ours = evaluate_ytvis(gt, results)
    expected = reference(gt, results)
    assert_stats_close(ours, expected)
    for name in ('APs', 'APm', 'APl'):
        assert 0 < expected[name] < 1, name
    # Each lone detection ranked before the last TP matters.
    for index in (0, 2, 3):
        dropped = results[:index] + results[index + 1:]
        assert evaluate_ytvis(gt, dropped) != ours


def test_result_mask_formats(reference):
    """Result masks as uncompressed RLE or polygons (the official loadRes
    needs compressed RLE) give the numbers of their compressed form, for
    detections that share a (video, category) with a gt and for the
    others."""
    gt, results = make_case(seed=43, num_videos=5, false_positives=4)
    rng = np.random.default_rng(43)
    mixed = copy.deepcopy(results)
    for result in mixed[::2]:
        result['segmentations'] = [
            None if s is None else uncompressed_rle(mask_utils.decode(s))
            for s in result['segmentations']]
    height, width = 48, 64
    polygons = [shape_polygons(rng, height, width, 6, 20) for _ in range(3)]
    video_id = gt['videos'][1]['id']
    for category in (1, NO_GT_CATEGORY):
        mixed.append({'video_id': video_id, 'category_id': category,
                      'score': .55, 'segmentations': polygons + [None] * 2})
    compressed = [{**r, 'segmentations': [
        None if s is None else encode(polygons_to_mask(s, height, width))
        if isinstance(s, list) else
        mask_utils.frPyObjects(s, height, width)
        if isinstance(s.get('counts'), list) else s
        for s in r['segmentations']]} for r in mixed]
    ours = evaluate_ytvis(gt, mixed)
    assert ours == evaluate_ytvis(gt, compressed)
    assert_stats_close(ours, reference(gt, compressed))


def test_lone_detection_rle_size_is_not_checked(reference):
    """A mask compared with no gt only needs its area, which (officially
    too) comes from its counts: a wrong ``size`` there is no error and the
    numbers are the official ones.  (Compared with a gt it raises, see
    test_rle_size_mismatch_raises.)"""
    gt, results = make_case(seed=44)
    lone = {'video_id': gt['videos'][0]['id'],
            'category_id': NO_GT_CATEGORY, 'score': 0.99,
            'segmentations': [encode(np.ones((20, 20), np.uint8))] * 5}
    ours = evaluate_ytvis(gt, results + [lone])
    assert_stats_close(ours, reference(gt, results + [lone]))


def test_garbage_collector_state_restored():
    import gc
    gt, results = make_case(seed=1)
    assert gc.isenabled()
    evaluate_ytvis(gt, results)
    assert gc.isenabled()
    gc.disable()
    try:
        evaluate_ytvis(gt, results)
        assert not gc.isenabled()
    finally:
        gc.enable()


# ---------------------------------------------------------------------------
# 2. Hand-worked example
# ---------------------------------------------------------------------------
def _rect(height, width, rows, cols):
    mask = np.zeros((height, width), np.uint8)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = 1
    return mask


def hand_case():
    """One gt, two detections, 3 frames of 10x10 pixels.

    frame 0: gt = rows 0-3 x cols 0-3 (16 px); det A = same (16 px)
    frame 1: gt = rows 0-3 x cols 0-7 (32 px); det A = rows 0-1 x cols 0-6
             (14 px, inside the gt)
    frame 2: nobody
    det B equals the gt in every frame.

    IoU(A) = (16 + 14) / (16 + 32) = 0.625 (the mean of per-frame IoUs would
    be (1 + 14/32) / 2 = 0.71875); IoU(B) = 1.
    """
    h = w = 10
    gt_masks = [_rect(h, w, (0, 4), (0, 4)), _rect(h, w, (0, 4), (0, 8)),
                None]
    det_a = [gt_masks[0], _rect(h, w, (0, 2), (0, 7)), None]
    gt = {'videos': [{'id': 5, 'height': h, 'width': w}],
          'categories': [{'id': 1, 'name': 'thing'}],
          'annotations': [{
              'id': 1, 'video_id': 5, 'category_id': 1, 'iscrowd': 0,
              'segmentations': [None if m is None else encode(m)
                                for m in gt_masks],
              'areas': [16, 32, None]}]}
    results = [
        {'video_id': 5, 'category_id': 1, 'score': 0.9,
         'segmentations': [None if m is None else encode(m) for m in det_a]},
        {'video_id': 5, 'category_id': 1, 'score': 0.8,
         'segmentations': [None if m is None else encode(m)
                           for m in gt_masks]},
    ]
    return gt, results


# Hand computation (scores: A 0.9 first, then B 0.8):
# * IoU thresholds .50, .55, .60 (3 of 10): A matches (0.625 >= t), B is then
#   a false positive.  tp = [1, 1], fp = [0, 1]: recall [1, 1], precision
#   [1, .5] -> interpolated precision 1 at every recall threshold: AP_t = 1.
# * thresholds .65 ... .95 (7 of 10): A is a false positive, B matches.
#   tp = [0, 1], fp = [1, 1]: recall [0, 1], precision [0, .5] -> interpolated
#   [.5, .5]: precision .5 at every recall threshold: AP_t = .5.
# AP = (3 * 1 + 7 * .5) / 10 = .65; AP50 = 1; AP75 = .5.
# AR1 keeps only A: recall 1 at 3 thresholds, 0 at 7 -> .3; AR10 = AR100 = 1.
# The gt's average area is (16 + 32) / 2 = 24 < 128^2: small = all, and
# medium / large have no gt -> -1.
# (Precision is tp / (tp + fp + eps), hence "1" is 1 - 2e-16.)
HAND_EXPECTED = {'AP': .65, 'AP50': 1.0, 'AP75': .5, 'APs': .65,
                 'APm': -1.0, 'APl': -1.0, 'AR1': .3, 'AR10': 1.0,
                 'AR100': 1.0, 'ARs': 1.0, 'ARm': -1.0, 'ARl': -1.0}


def test_hand_worked_example(reference):
    gt, results = hand_case()
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)
        ours = evaluate_ytvis(gt, results)
    assert not hasattr(np, 'float'), 'np.float must not be patched here'
    assert_stats_close(ours, HAND_EXPECTED, tol=1e-12)
    assert_stats_close(reference(gt, results), HAND_EXPECTED, tol=1e-12)


def test_hand_worked_example_ious():
    gt, results = hand_case()
    evaluator = YTVISEvaluator(gt)
    gts = evaluator._gts[(5, 1)]
    dets = [evaluator._det_track(i, r) for i, r in enumerate(results)]
    ious, det_areas = mask_video_ious(dets, gts, 10, 10)
    assert ious.tolist() == [[0.625], [1.0]]
    assert det_areas.tolist() == [15.0, 24.0]


def test_hand_worked_example_swapped_scores():
    """With B scored first, B matches at every threshold: all AP are 1."""
    gt, results = hand_case()
    results[0]['score'] = 0.5
    ours = evaluate_ytvis(gt, results)
    for name in ('AP', 'AP50', 'AP75', 'APs', 'AR1', 'AR10', 'AR100', 'ARs'):
        assert abs(ours[name] - 1.0) < 1e-12, name


def single_video(height, width, gts, dets):
    """gt and results for one video (id 1) and one category (id 1).

    gts: list of (per-frame masks, iscrowd); dets: list of (masks, score).
    """
    gt = {'videos': [{'id': 1, 'height': height, 'width': width}],
          'categories': [{'id': 1, 'name': 'thing'}],
          'annotations': [{
              'id': i + 1, 'video_id': 1, 'category_id': 1, 'iscrowd': crowd,
              'segmentations': [encode(m) for m in masks],
              'areas': [int(m.sum()) for m in masks]}
              for i, (masks, crowd) in enumerate(gts)]}
    results = [{'video_id': 1, 'category_id': 1, 'score': score,
                'segmentations': [encode(m) for m in masks]}
               for masks, score in dets]
    return gt, results


def test_tied_ious_later_gt_wins(reference):
    """Two overlapping gts A (cols 0-5) and B (cols 2-7), 4 rows each (24 px).

    det 1 (.9) = cols 1-6: IoU 20/28 = .714 with both A and B; det 2 (.8) =
    B: IoU 1 with B and 16/32 = .5 with A.  On equal IoUs the official loop
    keeps the later gt, so det 1 takes B (for t <= .70) and:
    * t = .50: det 2 takes A -> both TP, recall 1: AP_t = 1;
    * t = .55 ... .70 (4): det 2 is FP; recall .5 reached with precision 1
      -> precision 1 at the 51 recall thresholds <= .5, else 0: 51 / 101;
    * t = .75 ... .95 (5): det 1 FP, det 2 TP: precision .5 up to recall .5
      -> 25.5 / 101.
    AP = (1 + 4 * 51 / 101 + 5 * 25.5 / 101) / 10 = 432.5 / 1010.
    (Taking A instead would give (5 + 5 * 25.5 / 101) / 10.)
    """
    a, b = _rect(4, 8, (0, 4), (0, 6)), _rect(4, 8, (0, 4), (2, 8))
    det = _rect(4, 8, (0, 4), (1, 7))
    gt, results = single_video(4, 8, [([a], 0), ([b], 0)],
                               [([det], .9), ([b], .8)])
    ours = evaluate_ytvis(gt, results)
    assert abs(ours['AP'] - 432.5 / 1010) < 1e-12
    assert abs(ours['AP50'] - 1) < 1e-12
    assert abs(ours['AP75'] - 25.5 / 101) < 1e-12
    assert_stats_close(ours, reference(gt, results))


def test_crowd_gt_listed_first(reference):
    """A crowd gt C (rows 0-4, cols 0-5, 30 px) listed before a regular gt R
    (cols 0-3, 20 px); one detection equal to C: IoU 1 with C, 20/30 with R.

    Regular gts are tried first: at t <= .65 (4 thresholds) the detection is
    a TP on R; above, it falls back to C and is ignored (no TP, no FP).
    AP = AR100 = 4 / 10.  A second, lower-scored copy matches the crowd again
    (crowds can be matched repeatedly) and is ignored at every threshold
    (at t <= .65 R is taken, so it takes C).
    """
    crowd, regular = _rect(5, 8, (0, 5), (0, 6)), _rect(5, 8, (0, 5), (0, 4))
    gt, results = single_video(5, 8, [([crowd], 1), ([regular], 0)],
                               [([crowd], .9), ([crowd], .8)])
    ours = evaluate_ytvis(gt, results)
    for name in ('AP', 'AP50', 'AP75', 'AR1', 'AR100'):
        expected = {'AP50': 1.0, 'AP75': 0.0}.get(name, 0.4)
        assert abs(ours[name] - expected) < 1e-12, name
    assert_stats_close(ours, reference(gt, results))


def test_iou_exactly_at_threshold(reference):
    """IoU exactly .5 (8 px inside a 16 px gt) matches at t = .5 only:
    AP50 = 1, AP = 1 / 10; IoU exactly .75 (12 of 16) matches up to .75."""
    gt_mask = _rect(4, 4, (0, 4), (0, 4))
    half, three_quarters = _rect(4, 4, (0, 2), (0, 4)), _rect(4, 4, (0, 3),
                                                              (0, 4))
    gt, results = single_video(4, 4, [([gt_mask], 0)], [([half], .9)])
    ours = evaluate_ytvis(gt, results)
    assert abs(ours['AP50'] - 1) < 1e-12 and abs(ours['AP'] - .1) < 1e-12
    assert_stats_close(ours, reference(gt, results))
    gt, results = single_video(4, 4, [([gt_mask], 0)],
                               [([three_quarters], .9)])
    ours = evaluate_ytvis(gt, results)
    assert abs(ours['AP75'] - 1) < 1e-12 and abs(ours['AP'] - .6) < 1e-12
    assert_stats_close(ours, reference(gt, results))


def test_area_range_bounds_are_inclusive(reference):
    """A gt of exactly 128^2 px is both small and medium; a false positive of
    exactly 256^2 px is medium (and large) but not small.

    Ranking: the FP (.95) then a perfect detection of the gt (.9).  In 'all'
    and 'medium' that gives precision .5 at every recall: AP = APm = .5; in
    'small' the FP is outside the range, unmatched, hence ignored: APs = 1.
    No gt is large: APl = -1.  AR1 = 0 (the FP is the top detection).
    """
    height, width = 260, 300
    gt_mask = _rect(height, width, (132, 260), (0, 128))  # 128 x 128
    false_positive = _rect(height, width, (0, 256), (44, 300))  # 256 x 256
    gt, results = single_video(height, width, [([gt_mask], 0)],
                               [([false_positive], .95), ([gt_mask], .9)])
    ours = evaluate_ytvis(gt, results)
    expected = {'AP': .5, 'AP50': .5, 'AP75': .5, 'APs': 1.0, 'APm': .5,
                'APl': -1.0, 'AR1': 0.0, 'AR10': 1.0, 'AR100': 1.0,
                'ARs': 1.0, 'ARm': 1.0, 'ARl': -1.0}
    assert_stats_close(ours, expected, tol=1e-12)
    assert_stats_close(ours, reference(gt, results))


def test_format_stats_table():
    stats = dict(HAND_EXPECTED)
    table = format_stats_table(stats)
    lines = table.splitlines()
    assert 'x100' in lines[0]
    assert lines[1].split() == ['AP', 'AP50', 'AP75', 'AR1', 'AR10']
    assert lines[3].split() == ['65.0', '100.0', '50.0', '30.0', '100.0']
    assert len({len(line) for line in lines[1:]}) == 1  # aligned
    stats['AP'] = -1.0
    assert format_stats_table(stats).splitlines()[3].split()[0] == 'n/a'


# ---------------------------------------------------------------------------
# 3. Errors and other behaviour
# ---------------------------------------------------------------------------
def test_unknown_video_raises():
    gt, results = hand_case()
    results.append({'video_id': 999, 'category_id': 1, 'score': 0.3,
                    'segmentations': [None, None, None]})
    with pytest.raises(ValueError, match='999'):
        evaluate_ytvis(gt, results)


def test_rle_size_mismatch_raises():
    gt, results = hand_case()
    results[0]['segmentations'][0] = encode(np.ones((5, 5), np.uint8))
    with pytest.raises(ValueError, match='size'):
        evaluate_ytvis(gt, results)


def test_gt_areas_computed_when_missing():
    gt, results = make_case(seed=4)
    with_areas = evaluate_ytvis(gt, results)
    for ann in gt['annotations']:
        del ann['areas']
    assert evaluate_ytvis(gt, results) == with_areas


def test_video_ious_match_decoded_masks():
    """Exact IoUs against a brute-force computation on decoded masks,
    including frame lists of different lengths (compared over common
    frames, like the official ``zip``)."""
    rng = np.random.default_rng(0)
    height, width = 30, 20

    def random_track():
        frames = []
        for _ in range(int(rng.integers(1, 6))):
            if rng.random() < 0.3:
                frames.append(None)
            else:
                frames.append((rng.random((height, width)) <
                               rng.random()).astype(np.uint8))
        return frames

    dets, gts = [random_track() for _ in range(7)], [
        random_track() for _ in range(4)]

    def to_track(frames):
        return _Track([None if m is None else
                       mask_utils.encode(np.asfortranarray(m))['counts']
                       for m in frames])

    ious, _ = mask_video_ious([to_track(d) for d in dets],
                              [to_track(g) for g in gts], height, width)
    for i, d in enumerate(dets):
        for j, g in enumerate(gts):
            inter = union = 0
            for dm, gm in zip(d, g):
                dm = np.zeros((height, width), bool) if dm is None else dm
                gm = np.zeros((height, width), bool) if gm is None else gm
                inter += int((dm & gm).sum())
                union += int((dm | gm).sum())
            assert ious[i, j] == (inter / union if union else 0.0)


# ---------------------------------------------------------------------------
# 4. The native RLE kernel (vis/evaluation/rle_kernel.c)
# ---------------------------------------------------------------------------
@pytest.fixture
def kernel():
    if not rle_native.enabled():
        pytest.skip(f'{rle_native.ENV_VAR}=0 in the environment')
    loaded = rle_native.load()
    assert loaded is not None, 'the RLE kernel did not build'
    return loaded


def write_counts(runs):
    """Run lengths -> compressed RLE counts bytes, written here from the
    format's description (checked against pycocotools below): 5 bits per
    character, least significant first, 0x20 = more to come, 0x10 of the
    last character = sign; from the fourth run on, the difference to the
    run two before."""
    out = bytearray()
    for i, run in enumerate(runs):
        value = run - runs[i - 2] if i > 2 else run
        while True:
            digit = value & 0x1f
            value >>= 5  # arithmetic shift: -1 stays -1
            more = not ((value == 0 and not digit & 0x10) or
                        (value == -1 and digit & 0x10))
            out.append(48 + (digit | (0x20 if more else 0)))
            if not more:
                break
    return bytes(out)


def naive_area_and_intersections(masks, pairs):
    """Decoded-pixel reference: areas of masks, intersections of pairs."""
    areas = [int(m.sum()) for m in masks]
    inter = [int((masks[a] & masks[b]).sum()) for a, b in pairs]
    return areas, inter


def special_masks(height, width):
    """Empty, full, one-pixel (first, last, middle) and striped masks."""
    masks = [np.zeros((height, width), np.uint8),
             np.ones((height, width), np.uint8)]
    for y, x in ((0, 0), (height - 1, width - 1), (height // 2, width // 3)):
        one = np.zeros((height, width), np.uint8)
        one[y, x] = 1
        masks.append(one)
    stripes = np.zeros((height, width), np.uint8)
    stripes[::2] = 1
    masks.append(stripes)
    return masks


def test_write_counts_matches_pycocotools():
    """The test encoder writes what pycocotools writes (so the long-run
    tests below test the real format)."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        mask = (rng.random((13, 7)) < rng.random()).astype(np.uint8)
        flat = mask.ravel(order='F')
        change = np.flatnonzero(np.diff(flat)) + 1
        runs = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
        if flat[0] == 1:
            runs = [0] + runs
        assert write_counts(runs) == encode(mask, bytes)['counts']


@pytest.mark.parametrize('counts_type', [str, bytes])
def test_kernel_measure_and_intersect_random(kernel, counts_type):
    rng = np.random.default_rng(1)
    height, width = 23, 17
    masks = special_masks(height, width) + [
        (rng.random((height, width)) < p).astype(np.uint8)
        for p in rng.random(40)]
    packed = kernel.measure([encode(m, counts_type)['counts']
                             for m in masks])
    pairs = [(a, b) for a in range(len(masks)) for b in range(len(masks))]
    areas, inter = naive_area_and_intersections(masks, pairs)
    assert packed.areas.tolist() == areas
    assert packed.totals.tolist() == [height * width] * len(masks)
    first, second = np.array(pairs).T
    assert kernel.intersect(packed, first, packed, second).tolist() == inter
    # Pairs in any order (not grouped by second mask) and across buffers.
    order = rng.permutation(len(pairs))
    other = kernel.measure([encode(m, bytes)['counts'] for m in masks])
    assert kernel.intersect(packed, first[order], other,
                            second[order]).tolist() == [
        inter[k] for k in order]


def test_kernel_mixed_str_and_bytes(kernel):
    masks = special_masks(5, 4)
    counts = [encode(m, str if i % 2 else bytes)['counts']
              for i, m in enumerate(masks)]
    assert kernel.measure(counts).areas.tolist() == [int(m.sum())
                                                     for m in masks]


def test_kernel_large_mask_long_runs(kernel):
    """4000 x 4000 masks: runs of millions of pixels need 5-6 characters
    per number (and the differences are long and negative too)."""
    height = width = 4000
    big = np.zeros((height, width), np.uint8)
    big[1:3999, 5:3990] = 1  # runs of 3998 ones, 2 zeros between columns
    block = np.zeros((height, width), np.uint8)
    block[:, 1500:] = 1  # one run of 10 million ones after 6 million zeros
    dot = np.zeros((height, width), np.uint8)
    dot[3999, 3999] = 1  # 15,999,999 zeros then a single one
    masks = special_masks(height, width)[:2] + [big, block, dot]
    counts = [encode(m, bytes)['counts'] for m in masks]
    assert max(len(c) for c in counts[3:]) >= 5  # long numbers indeed
    packed = kernel.measure(counts)
    pairs = [(a, b) for a in range(len(masks)) for b in range(len(masks))]
    areas, inter = naive_area_and_intersections(masks, pairs)
    assert packed.areas.tolist() == areas
    assert (packed.totals == height * width).all()
    first, second = np.array(pairs).T
    assert kernel.intersect(packed, first, packed, second).tolist() == inter


def test_kernel_runs_up_to_32_bits(kernel):
    """Run lengths up to 2^32 - 1 (7 characters, beyond any real frame)
    are exact; 2^32 and negative run lengths are malformed."""
    runs = [5, 2**32 - 1, 2**31, 1, 2**32 - 1, 0, 7]
    packed = kernel.measure([write_counts(runs), write_counts([0, 7, 3])])
    assert max(map(len, map(write_counts, [[r] for r in runs]))) == 7
    assert packed.areas.tolist() == [runs[1] + runs[3] + runs[5], 7]
    assert packed.totals.tolist() == [sum(runs), 10]
    for bad in ([2**32], [3, 4, 5, -1], [-1], [0, 2**32 + 1]):
        with pytest.raises(rle_native.MalformedRLE):
            kernel.measure([write_counts(bad)])


def test_kernel_malformed_strings(kernel):
    good = encode(special_masks(6, 5)[3], bytes)['counts']
    cases = {
        'character below 0': b'0/1',
        'character above o': b'0p1',
        'cut-off number': good + b'X',  # 'X' - '0' = 40: continuation bit
        'newline inside': good[:1] + b'\n' + good[1:],
        'non-ascii str': '0\u00e91',
        'negative run': write_counts([3, 4, 5, -1]),
    }
    for name, counts in cases.items():
        with pytest.raises((rle_native.MalformedRLE, UnicodeEncodeError)):
            kernel.measure([good, counts, good])
        # ... and the evaluator leaves such masks to pycocotools.
        if not isinstance(counts, str):
            rles = [{'size': [6, 5], 'counts': c} for c in (good, counts)]
            if name != 'cut-off number':  # pycocotools reads past the end
                assert _dict_areas(rles).tolist() == \
                    mask_utils.area(rles).tolist(), name
    with pytest.raises(TypeError):
        kernel.measure([good, [1, 2, 3]])
    assert kernel.measure([]).areas.size == 0
    assert kernel.measure([b'']).areas.tolist() == [0]  # a 0-pixel mask


def test_evaluator_uses_the_kernel(kernel, monkeypatch):
    """With the kernel, evaluation measures and intersects natively (and
    never calls pycocotools' iou); with VIS_RLE_NATIVE=0, never natively;
    the numbers are the same."""
    calls = {'measure': 0, 'intersect': 0, 'iou': 0}

    def spy(name, function):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(kernel, 'measure', spy('measure', kernel.measure))
    monkeypatch.setattr(kernel, 'intersect',
                        spy('intersect', kernel.intersect))
    monkeypatch.setattr(mask_utils, 'iou', spy('iou', mask_utils.iou))
    gt, results = make_case(**REFERENCE_CASES['many-categories'])
    native = evaluate_ytvis(gt, results)
    assert calls['measure'] >= 2 and calls['intersect'] == 1
    assert calls['iou'] == 0
    calls.update(measure=0, intersect=0)
    monkeypatch.setenv(rle_native.ENV_VAR, '0')
    assert evaluate_ytvis(gt, results) == native
    assert calls['measure'] == calls['intersect'] == 0 and calls['iou'] > 0


def test_counts_total_mismatch_raises(kernel):
    """Counts describing another number of pixels than the video's frames
    raise when intersected (pycocotools' merge would loop forever: this is
    not run without the kernel)."""
    gt, results = hand_case()
    small = encode(np.ones((5, 5), np.uint8))
    results[0]['segmentations'][0] = {'size': [10, 10],
                                      'counts': small['counts']}
    with pytest.raises(ValueError, match='25 pixels'):
        evaluate_ytvis(gt, results)


@pytest.fixture
def fresh_build(tmp_path, monkeypatch):
    """rle_native building into tmp_path (source copied there), state
    reset before and after."""
    source = tmp_path / 'rle_kernel.c'
    source.write_bytes(open(rle_native.SOURCE, 'rb').read())
    monkeypatch.setattr(rle_native, 'SOURCE', str(source))
    monkeypatch.setattr(rle_native, 'LIBRARY',
                        str(tmp_path / '_rle_kernel.so'))
    monkeypatch.delenv(rle_native.ENV_VAR, raising=False)
    rle_native.reset()
    yield tmp_path
    rle_native.reset()


def test_build_and_rebuild_when_source_is_newer(fresh_build):
    library = rle_native.LIBRARY
    assert rle_native.build() == library
    assert rle_native.load() is not None
    built = os.path.getmtime(library)
    os.utime(rle_native.SOURCE, (built + 10, built + 10))
    rle_native.build()
    assert os.path.getmtime(library) > built
    assert [p.name for p in fresh_build.iterdir()
            if p.name.startswith('.')] == []  # no temporary files left


def test_library_of_another_version_is_rebuilt(fresh_build):
    """A library newer than the source but of another ABI version (say,
    left by an older checkout) is rebuilt and the new one is used."""
    stale = fresh_build / 'stale.c'
    stale.write_text('int vis_rle_abi_version(void) { return 999; }\n')
    subprocess.run(['cc', '-shared', '-fPIC', '-o', rle_native.LIBRARY,
                    str(stale)], check=True)
    later = os.path.getmtime(rle_native.SOURCE) + 10
    os.utime(rle_native.LIBRARY, (later, later))
    kernel = rle_native.load()
    assert kernel is not None
    assert kernel.measure([b'04', '13']).areas.tolist() == [4, 3]
    assert os.path.getmtime(rle_native.LIBRARY) != later  # rebuilt


@pytest.mark.parametrize('compiler', ['no-such-compiler-here', 'false'])
def test_no_compiler_falls_back_with_one_warning(fresh_build, monkeypatch,
                                                 compiler):
    """No compiler (or a failing one): one warning, then pycocotools alone,
    with the same numbers."""
    gt, results = make_case(seed=3)
    monkeypatch.setenv(rle_native.ENV_VAR, '0')
    expected = evaluate_ytvis(gt, results)
    monkeypatch.delenv(rle_native.ENV_VAR)
    monkeypatch.setenv('CC', compiler)
    with pytest.warns(RuntimeWarning, match='falls back to pycocotools'):
        assert evaluate_ytvis(gt, results) == expected
    assert rle_native.load() is None
    assert not os.path.exists(rle_native.LIBRARY)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert evaluate_ytvis(gt, results) == expected  # warned once
