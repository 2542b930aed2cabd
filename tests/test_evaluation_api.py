"""Tests of the evaluation API around the AP evaluator: json ids of any
type, per-category AP and precision curves, the pluggable per-frame IoU,
vis.evaluation.metrics (names, values, tables) and the plots."""

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vis.evaluation import (METRICS, check_metric_names, evaluate_report,
                            evaluate_results, format_metrics_table,
                            format_per_class_table)
from vis.evaluation.ytvis_eval import (FRAME_IOUS, IOU_THRESHOLDS,
                                       RECALL_THRESHOLDS, STAT_NAMES,
                                       FrameIoU, YTVISEvaluator,
                                       evaluate_ytvis, get_frame_iou,
                                       greedy_match, mask_video_ious,
                                       register_frame_iou)
from vis.evaluation.ytvis_eval.tracks import _segm_track

H, W, T = 10, 10, 4


def square(x0, y0, side=4):
    mask = np.zeros((H, W), np.uint8)
    mask[y0:y0 + side, x0:x0 + side] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    return {'size': [H, W], 'counts': rle['counts'].decode()}


def make_gt(video_ids):
    """Per video a 'cat' (top left) and a 'dog' (bottom right) on all
    frames."""
    gt = {'videos': [{'id': v, 'height': H, 'width': W, 'length': T}
                     for v in video_ids],
          'categories': [{'id': 1, 'name': 'cat'}, {'id': 2, 'name': 'dog'}],
          'annotations': []}
    for v in video_ids:
        for cat, (x, y) in ((1, (0, 0)), (2, (6, 6))):
            gt['annotations'].append(dict(
                id=len(gt['annotations']) + 1, video_id=v, category_id=cat,
                iscrowd=0, areas=[16] * T,
                segmentations=[square(x, y) for _ in range(T)]))
    return gt


def as_results(gt, score=0.9):
    return [dict(video_id=a['video_id'], category_id=a['category_id'],
                 score=score, segmentations=list(a['segmentations']))
            for a in gt['annotations']]


# ---------------------------------------------------------------------------
# Ids of any json type
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('video_ids', [('a', 'b'), (1, '1'), ('x', 2, 'y')])
def test_string_and_mixed_video_ids(video_ids):
    gt = make_gt(video_ids)
    evaluator = YTVISEvaluator(gt)
    assert sorted(map(repr, evaluator.video_ids)) == sorted(
        map(repr, video_ids))
    stats = evaluator.evaluate(as_results(gt))
    assert stats['AP'] == 1.0 and stats['AR1'] == 1.0
    # Results of video ids[0] moved to ids[1] (same positions): at ids[1]
    # every gt gets a duplicate (a false positive ranked after it or
    # before, same score, stable order), ids[0]'s gts are missed.
    moved = [dict(r, video_id=video_ids[1]) if r['video_id'] == video_ids[0]
             else r for r in as_results(gt)]
    assert evaluate_ytvis(gt, moved)['AR100'] == pytest.approx(
        1 - 1 / len(video_ids))


def test_unknown_video_id_names_it():
    gt = make_gt(('a', 'b'))
    results = as_results(gt) + [dict(as_results(gt)[0], video_id='zz')]
    with pytest.raises(ValueError, match="'zz'"):
        evaluate_ytvis(gt, results)


# ---------------------------------------------------------------------------
# Per-category AP and precision curves
# ---------------------------------------------------------------------------
def test_per_class_ap_and_curves():
    """'cat' found exactly (AP 1), 'dog' by a square 3 pixels off: IoU
    4 / 28 per frame, below every threshold: AP 0."""
    gt = make_gt((1, 2))
    results = as_results(gt)
    for r in results:
        if r['category_id'] == 2:
            r['segmentations'] = [square(3, 6) for _ in range(T)]
    evaluator = YTVISEvaluator(gt)
    stats = evaluator.evaluate(results)
    per_class = evaluator.per_class_ap()
    assert list(per_class) == ['cat', 'dog']
    assert per_class['cat'] == {'AP': 1.0, 'AP50': 1.0, 'AP75': 1.0}
    assert per_class['dog'] == {'AP': 0.0, 'AP50': 0.0, 'AP75': 0.0}
    assert stats['AP'] == pytest.approx(0.5)  # mean over the two
    curves = evaluator.precision_curves()
    assert curves.shape == (len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), 2)
    assert (curves[:, :, 0] == 1).all() and (curves[:, :, 1] == 0).all()


def test_per_class_matches_summary_for_one_category():
    gt = make_gt((1, 2, 3))
    gt['categories'] = gt['categories'][:1]
    gt['annotations'] = [a for a in gt['annotations']
                         if a['category_id'] == 1]
    results = as_results(gt)
    results[0]['segmentations'] = [square(1, 0)] * T  # IoU 12/20 = 0.6
    evaluator = YTVISEvaluator(gt)
    stats = evaluator.evaluate(results)
    ap = evaluator.per_class_ap()['cat']
    assert 0 < stats['AP'] < 1
    assert ap == {'AP': stats['AP'], 'AP50': stats['AP50'],
                  'AP75': stats['AP75']}


def test_category_without_ground_truth_is_undefined():
    gt = make_gt((1,))
    gt['categories'].append({'id': 3, 'name': 'bird'})
    evaluator = YTVISEvaluator(gt)
    evaluator.evaluate(as_results(gt))
    assert evaluator.per_class_ap()['bird'] == {'AP': -1.0, 'AP50': -1.0,
                                                'AP75': -1.0}
    assert (evaluator.precision_curves()[:, :, 2] == -1).all()


def test_duplicate_category_names_are_told_apart():
    gt = make_gt((1,))
    gt['categories'][1]['name'] = 'cat'
    evaluator = YTVISEvaluator(gt)
    assert evaluator.category_names == ['cat (id 1)', 'cat (id 2)']


def test_per_class_needs_an_evaluation():
    with pytest.raises(RuntimeError, match='evaluate'):
        YTVISEvaluator(make_gt((1,))).per_class_ap()


# ---------------------------------------------------------------------------
# Pluggable per-frame IoU, greedy matching
# ---------------------------------------------------------------------------
class _BoxOfMaskIoU(FrameIoU):
    """A test IoU: a non-empty mask has size 1 and two masks intersect (1)
    iff they overlap, so overlapping tracks have video IoU 1."""

    def sizes(self, masks):
        return (masks.areas > 0).astype(np.int64)

    def intersections(self, dets, gts, pf_det, pf_gt, pf_block,
                      block_sizes):
        from vis.evaluation.ytvis_eval.rle import _same_frame_intersections
        inter = _same_frame_intersections(dets, gts, pf_det, pf_gt,
                                          pf_block, block_sizes)
        return (inter > 0).astype(np.int64)


def test_frame_iou_is_pluggable():
    assert 'mask' in FRAME_IOUS and get_frame_iou('mask').name == 'mask'
    with pytest.raises(ValueError, match='unknown frame IoU'):
        get_frame_iou('no-such')
    name = 'test-overlap'
    if name not in FRAME_IOUS:
        register_frame_iou(name)(_BoxOfMaskIoU)
    with pytest.raises(ValueError, match='already registered'):
        register_frame_iou(name)(_BoxOfMaskIoU)
    gt = make_gt((1,))
    results = as_results(gt)
    # dog detected one pixel off: mask IoU 9/23 < 0.5, 'overlap' IoU 1
    results[1]['segmentations'] = [square(5, 5)] * T
    det = [_segm_track(results[1]['segmentations'], H, W, 'det')]
    gts = [_segm_track(gt['annotations'][1]['segmentations'], H, W, 'gt')]
    assert mask_video_ious(det, gts, H, W)[0][0, 0] == pytest.approx(9 / 23)
    assert mask_video_ious(det, gts, H, W, frame_iou=name)[0][0, 0] == 1.0
    assert evaluate_ytvis(gt, results)['AP'] == pytest.approx(0.5)
    assert evaluate_ytvis(gt, results, frame_iou=name)['AP'] == \
        pytest.approx(1.0)


def test_greedy_match_hand_worked():
    """Two detections (by score) and two gts at thresholds 0.5 and 0.8:
    d0 takes g1 (its best); d1 then only has g0 (0.6): matched at 0.5, not
    at 0.8."""
    ious = np.array([[0.7, 0.9],
                     [0.6, 0.85]])  # (D, G)
    match = greedy_match(ious, np.zeros(2, bool), np.zeros(2, bool),
                         np.array([0.5, 0.8]))
    assert match.tolist() == [[1, 0], [1, -1]]  # (T, D)


# ---------------------------------------------------------------------------
# vis.evaluation.metrics
# ---------------------------------------------------------------------------
def test_check_metric_names():
    assert METRICS == ('ap', 'hota', 'frame', 'boundary')
    assert check_metric_names(['HOTA', 'ap', 'hota']) == ('hota', 'ap')
    assert check_metric_names(['ap', 'Frame']) == ('ap', 'frame')
    with pytest.raises(ValueError,
                       match="'mota'.*known metrics: ap, hota, frame, "
                       "boundary"):
        check_metric_names(['ap', 'mota'])
    with pytest.raises(ValueError, match='no metric'):
        check_metric_names([])


def test_evaluate_results_keys_and_scale():
    pytest.importorskip('trackeval')
    gt = make_gt(('a', 1))
    values = evaluate_results(gt, as_results(gt), metrics=('ap', 'hota'),
                              track_score_thr=0.4)
    tracking = ['HOTA', 'DetA', 'AssA', 'IDF1', 'MOTA']
    assert list(values) == list(STAT_NAMES) + tracking + [
        n + '_detavg' for n in tracking] + ['track_score_thr']
    assert values['track_score_thr'] == 0.4
    assert all(values[n] == pytest.approx(1.0) for n in
               ('AP', 'AP50', 'HOTA', 'DetA', 'AssA', 'IDF1', 'MOTA'))
    assert set(evaluate_results(gt, as_results(gt))) == set(STAT_NAMES)


def test_report_per_class_and_precision():
    pytest.importorskip('trackeval')
    gt = make_gt((1,))
    report = evaluate_report(gt, as_results(gt), ('ap', 'hota'))
    assert report.class_names == ['cat', 'dog']
    assert report.precision.shape == (10, 101, 2)
    assert report.per_class['dog'] == pytest.approx(dict(
        AP=1, AP50=1, AP75=1, AR100=1, HOTA=1, DetA=1, AssA=1, IDF1=1,
        MOTA=1))
    assert evaluate_report(gt, [], ('hota',)).precision is None


def test_per_class_recall_averages_to_the_overall_ar100():
    """Hand-made: videos 1 and 2, a 'cat' and a 'dog' each, and a 'bird'
    without ground truth. The cat of video 1 is found exactly, the one of
    video 2 one pixel off (video IoU 12/20 = 0.6: recall at the thresholds
    0.5, 0.55, 0.6 only), so cat AR100 = (10 + 3) / 20; the dogs are found
    at IoU 4/28 (below every threshold) and exactly in video 2: 10 / 20."""
    gt = make_gt((1, 2))
    gt['categories'].append({'id': 3, 'name': 'bird'})
    results = as_results(gt)
    results[2]['segmentations'] = [square(1, 0)] * T  # cat, video 2
    results[1]['segmentations'] = [square(3, 6)] * T  # dog, video 1
    report = evaluate_report(gt, results, ('ap', ))
    recall = {name: stats['AR100'] for name, stats in
              report.per_class.items()}
    assert recall['cat'] == pytest.approx(13 / 20)
    assert recall['dog'] == pytest.approx(10 / 20)
    assert recall['bird'] == -1.0
    assert report.values['AR100'] == pytest.approx(
        np.mean([recall['cat'], recall['dog']]))
    assert report.values['AR100'] == pytest.approx(23 / 40)
    # one category: the per-class value is the summary's, exactly
    one = dict(gt, categories=gt['categories'][:1],
               annotations=[a for a in gt['annotations']
                            if a['category_id'] == 1])
    report = evaluate_report(one, results, ('ap', ))
    assert report.per_class['cat']['AR100'] == report.values['AR100']


def test_metrics_table():
    values = dict(zip(STAT_NAMES, [0.4531] + [-1.0] * 11))
    values.update(HOTA=0.5, DetA=0.25, AssA=1.0, IDF1=0.123, MOTA=-0.5,
                  HOTA_detavg=0.6, track_score_thr=0.5, extra=3)
    text = format_metrics_table(values)
    assert 'YouTube-VIS video AP (values x100)' in text
    assert '45.3' in text and 'n/a' in text
    assert 'tracking metrics on tracks with score >= 0.5' in text
    rows = {line.split()[0]: line.split() for line in text.splitlines()
            if line.startswith(('class-averaged', 'det-averaged'))}
    assert rows['class-averaged'][1:] == ['50.0', '25.0', '100.0', '12.3',
                                          '-50.0']
    assert rows['det-averaged'][1:] == ['60.0', '-', '-', '-', '-']
    assert text.rstrip().endswith('extra: 3')
    only_ap = format_metrics_table(dict(AP=0.5, AP50=0.75))
    assert 'Tracking' not in only_ap and '75.0' in only_ap
    assert 'Per-frame' not in only_ap


def test_metrics_table_frame_block():
    values = dict(AP=0.5, frame_mask_AP=0.25, frame_mask_AP50=0.5,
                  frame_mask_AP75=-1.0, frame_mask_AR100=0.75,
                  frame_box_AP=0.125, HOTA=0.5)
    lines = format_metrics_table(values).splitlines()
    start = lines.index('Per-frame detection AP (values x100)')
    assert lines[start + 1].split() == ['AP', 'AP50', 'AP75', 'AR100']
    assert lines[start + 3].split() == ['mask', '25.0', '50.0', 'n/a',
                                        '75.0']
    assert lines[start + 4].split() == ['box', '12.5', '-', '-', '-']
    assert lines.index('Tracking (values x100)') > start
    assert not [line for line in lines if line.startswith('frame_')]


def test_per_class_table():
    text = format_per_class_table({
        'cat': {'AP': 1.0, 'AP50': 1.0, 'AP75': -1.0, 'HOTA': 0.5},
        'dog': {'AP': 0.25, 'AP50': 0.5, 'AP75': 0.0}})
    lines = text.splitlines()
    assert lines[1].split() == ['category', 'AP', 'AP50', 'AP75', 'HOTA']
    assert lines[3].split() == ['cat', '100.0', '100.0', 'n/a', '50.0']
    assert lines[4].split() == ['dog', '25.0', '50.0', '0.0', '-']
    assert format_per_class_table({}) == 'no per-category results'
    text = format_per_class_table({
        'cat': {'AP': 0.5, 'AR100': -1.0, 'frame_box_AP': 0.75,
                'HOTA': 0.5, 'frame_mask_AP': -1.0},
        'dog': {'AP': 0.25, 'AR100': 0.5}})
    lines = text.splitlines()
    assert lines[1].split() == ['category', 'AP', 'AR100', 'frame_mask_AP',
                                'frame_box_AP', 'HOTA']
    assert lines[3].split() == ['cat', '50.0', 'n/a', 'n/a', '75.0', '50.0']
    assert lines[4].split() == ['dog', '25.0', '50.0', '-', '-', '-']


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------
def test_mean_pr_curves_skip_undefined_categories():
    from vis.visualization.plots import mean_pr_curves
    precision = np.full((10, 101, 3), -1.0)  # (T, R, K)
    precision[:, :, 0] = 1.0
    precision[:, :, 1] = 0.5
    precision[5:, :, 1] = 0.0  # thresholds 0.75.. : 0
    curves = mean_pr_curves(precision, IOU_THRESHOLDS)
    assert list(curves) == ['IoU 0.50', 'IoU 0.75', 'IoU 0.50:0.95']
    assert np.allclose(curves['IoU 0.50'], 0.75)
    assert np.allclose(curves['IoU 0.75'], 0.5)
    assert np.allclose(curves['IoU 0.50:0.95'], (10 + 2.5) / 20)
    assert np.isnan(mean_pr_curves(np.full((10, 5, 1), -1.0),
                                   IOU_THRESHOLDS)['IoU 0.50']).all()


def test_plots_are_written(tmp_path):
    pytest.importorskip('matplotlib')
    from vis.visualization.plots import (plot_per_class_bars,
                                         plot_per_class_pr_curves,
                                         plot_pr_curves)
    precision = np.random.default_rng(0).random((10, 101, 3))
    precision[:, :, 2] = -1
    paths = [
        plot_per_class_bars(['a', 'b', 'c'], [0.5, 1.0, -1.0],
                            str(tmp_path / 'bars.png')),
        plot_pr_curves(RECALL_THRESHOLDS, {'x': precision[0, :, 0]},
                       str(tmp_path / 'sub' / 'pr.png')),
        plot_per_class_pr_curves(RECALL_THRESHOLDS, precision,
                                 ['a', 'b', 'c'], IOU_THRESHOLDS,
                                 str(tmp_path / 'grid.png')),
    ]
    for path in paths:
        with open(path, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert sorted(p.name for p in tmp_path.rglob('*')) == [
        'bars.png', 'grid.png', 'pr.png', 'sub']
    with pytest.raises(ValueError, match='3 names'):
        plot_per_class_bars(['a', 'b', 'c'], [0.5], str(tmp_path / 'x.png'))
