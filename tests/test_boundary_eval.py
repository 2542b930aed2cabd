"""Tests of the boundary band, the boundary IoU and Boundary AP
(vis.evaluation.ytvis_eval.boundary, vis.evaluation.band_native,
vis.evaluation.boundary_eval, ``--metrics boundary``)."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vis.evaluation import (BOUNDARY_STAT_NAMES, METRICS, band_native,
                            check_metric_names, evaluate_boundary_ap,
                            evaluate_report, format_metrics_table,
                            format_per_class_table, rle_native)
from vis.evaluation.boundary_eval import BoundaryAPEvaluator
from vis.evaluation.ytvis_eval import (STAT_NAMES, BoundaryIoU,
                                       YTVISEvaluator, boundary_band,
                                       boundary_dilation, evaluate_ytvis,
                                       get_frame_iou, mask_video_ious)
from vis.evaluation.ytvis_eval.boundary import (boundary_rles,
                                                boundary_tracks)
from vis.evaluation.ytvis_eval.tracks import _mask_tracks, _segm_track

pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


# ---------------------------------------------------------------------------
# Helpers: naive references, masks, a small ground truth
# ---------------------------------------------------------------------------
def naive_band(mask: np.ndarray, d: int) -> np.ndarray:
    """The definition, literally: pad with one zero pixel, then a pixel of
    the mask is band iff some pixel of the padded image within Chebyshev
    distance d is 0."""
    mask = np.asarray(mask).astype(bool)
    padded = np.pad(mask, 1)
    band = np.zeros_like(mask)
    for y, x in zip(*np.nonzero(mask)):
        py, px = y + 1, x + 1
        window = padded[max(0, py - d):py + d + 1, max(0, px - d):px + d + 1]
        band[y, x] = not window.all()
    return band


def encode(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(s) for s in rle['size']],
            'counts': rle['counts'].decode()}


def rect(height, width, y0, y1, x0, x1) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def random_masks(rng, num, max_side=40):
    """Masks of random sizes and kinds: noise, blobs, full, empty, corners,
    discs (touching the border or not)."""
    from scipy import ndimage
    masks = []
    for i in range(num):
        h, w = (int(v) for v in rng.integers(1, max_side, 2))
        kind = i % 6
        if kind == 0:
            m = rng.random((h, w)) < rng.random()
        elif kind == 1:
            m = ndimage.binary_dilation(rng.random((h, w)) < 0.03,
                                        iterations=int(rng.integers(1, 6)))
        elif kind == 2:
            m = np.ones((h, w), bool)
        elif kind == 3:
            m = np.zeros((h, w), bool)
        elif kind == 4:
            m = np.zeros((h, w), bool)
            m[rng.integers(0, h):, :rng.integers(0, w + 1)] = True
        else:
            yy, xx = np.ogrid[:h, :w]
            m = ((yy - rng.integers(0, h))**2 + (xx - rng.integers(0, w))**2
                 < rng.integers(1, 600))
        masks.append(m)
    return masks


@pytest.fixture(params=['native', 'numpy'])
def band_backend(request, monkeypatch):
    """Run a test with the native band kernel, then without it
    (``VIS_BAND_NATIVE=0``: pycocotools, scipy and numpy)."""
    band_native.reset()
    if request.param == 'numpy':
        monkeypatch.setenv(band_native.ENV_VAR, '0')
    elif not band_native.enabled():
        pytest.skip(f'{band_native.ENV_VAR}=0 in the environment')
    else:
        assert band_native.load() is not None, 'the band kernel did not build'
    yield request.param
    band_native.reset()


H, W = 64, 64  # diagonal 90.5: d = round(1.81) = 2


def make_gt(squares, num_frames=3, height=H, width=W):
    """One video; per (category, (y0, x0, side)) an annotation of that
    square on every frame."""
    gt = {'videos': [{'id': 1, 'height': height, 'width': width,
                      'length': num_frames,
                      'file_names': [f'v/{f}.jpg'
                                     for f in range(num_frames)]}],
          'categories': [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}],
          'annotations': []}
    for cat, (y0, x0, side) in squares:
        gt['annotations'].append(dict(
            id=len(gt['annotations']) + 1, video_id=1, category_id=cat,
            iscrowd=0, segmentations=[
                encode(rect(height, width, y0, y0 + side, x0, x0 + side))
                for _ in range(num_frames)]))
    return gt


def as_results(gt, score=0.9):
    return [dict(video_id=a['video_id'], category_id=a['category_id'],
                 score=score, segmentations=list(a['segmentations']))
            for a in gt['annotations']]


# ---------------------------------------------------------------------------
# The band
# ---------------------------------------------------------------------------
def test_dilation_formula():
    assert boundary_dilation(10, 10) == 1  # round(0.283) = 0 -> at least 1
    assert boundary_dilation(64, 64) == 2  # round(1.81)
    assert boundary_dilation(360, 640) == 15  # round(14.69)
    assert boundary_dilation(720, 1280) == 29  # round(29.38)
    assert boundary_dilation(75, 100) == 2  # round(2.5): Python rounds half
    assert boundary_dilation(10, 10, dilation_ratio=0.5) == 7  # to even


def test_band_hand_worked_d1():
    """10 x 10 frame, d = 1: a 4 x 4 square in the middle keeps its 2 x 2
    centre, the band is the 12-pixel ring."""
    square = rect(10, 10, 3, 7, 3, 7)
    band = boundary_band(square)
    assert band.dtype == bool and band.sum() == 12
    assert (band == (square & ~rect(10, 10, 4, 6, 4, 6))).all()
    # A strip along the top border: the border row is band (zero pad).
    strip = rect(10, 10, 0, 4, 0, 10)
    band = boundary_band(strip)
    assert band.sum() == 24  # 40 pixels, interior rows 1-2 x cols 1-8
    assert band[0].all() and band[3].all()
    assert (band[1:3, 1:9] == 0).all() and band[1:3, [0, 9]].all()
    # The whole frame: its outer ring.
    assert boundary_band(np.ones((10, 10), np.uint8)).sum() == 36
    assert boundary_band(np.zeros((10, 10))).sum() == 0


def test_band_hand_worked_d2():
    """64 x 64 frame, d = 2: a 10 x 10 square keeps its central 6 x 6
    (64 band pixels), also in the image's corner; a 4-pixel-wide bar is
    band all through."""
    square = rect(H, W, 20, 30, 20, 30)
    band = boundary_band(square)
    assert band.sum() == 64
    assert (band == (square & ~rect(H, W, 22, 28, 22, 28))).all()
    corner = boundary_band(rect(H, W, 0, 10, 0, 10))
    assert corner.sum() == 64 and corner[0, 0] and not corner[2, 2]
    bar = rect(H, W, 10, 14, 5, 50)
    assert (boundary_band(bar) == bar).all()
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        boundary_band(np.ones((2, 3, 4)))


def test_band_matches_the_naive_definition_and_cv2():
    cv2 = pytest.importorskip('cv2')
    rng = np.random.default_rng(0)
    for mask in random_masks(rng, 60):
        for ratio in (0.02, 0.1):
            d = boundary_dilation(*mask.shape, ratio)
            band = boundary_band(mask, ratio)
            assert (band == naive_band(mask, d)).all(), (mask.shape, ratio)
            # the reference API's way: 1-pixel zero border, d 3x3 erosions
            padded = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1,
                                        cv2.BORDER_CONSTANT, value=0)
            eroded = cv2.erode(padded, np.ones((3, 3), np.uint8),
                               iterations=d)[1:-1, 1:-1]
            assert (band == (mask & ~eroded.astype(bool))).all()


def test_band_rles_are_the_encoded_bands(band_backend):
    """Both backends give pycocotools' string of the band, for any mask and
    band width (including bands wider than the mask, and bands much longer
    to write than their mask: the native output buffer then grows)."""
    rng = np.random.default_rng(1)
    masks = random_masks(rng, 120) + [np.ones((300, 200), bool)]
    rles = [encode(m) for m in masks]
    for ratio in (0.005, 0.02, 0.3):
        got = boundary_rles(rles, ratio)
        for mask, counts in zip(masks, got):
            want = encode(naive_band(mask, boundary_dilation(*mask.shape,
                                                             ratio)))
            assert counts.decode() == want['counts'], (mask.shape, ratio)


def test_band_rles_read_non_canonical_counts_and_reject_bad_ones(
        band_backend):
    # A 4 x 3 square at rows 1-4, cols 1-3 of a 6 x 5 frame, its first run
    # of 1s split by an empty run of 0s (pycocotools reads it the same).
    counts = mask_utils.frPyObjects(
        {'size': [6, 5], 'counts': [7, 2, 0, 2, 2, 4, 2, 4, 7]}, 6, 5)
    mask = rect(6, 5, 1, 5, 1, 4)
    assert (mask_utils.decode(counts) == mask).all()
    assert boundary_rles([counts])[0].decode() == encode(
        naive_band(mask, 1))['counts']
    ok = encode(mask)
    with pytest.raises(ValueError, match='mask 2 has compressed RLE counts '
                       'for 30 pixels, its frame has 36'):
        boundary_rles([ok, encode(np.ones((6, 6))), dict(ok, size=[6, 6])])
    with pytest.raises(ValueError, match='mask 0 has malformed'):
        boundary_rles([dict(ok, counts='0a')])


# ---------------------------------------------------------------------------
# Boundary IoU of tracks
# ---------------------------------------------------------------------------
def test_video_boundary_iou_matches_a_naive_reference(band_backend):
    """Two detections and two ground truths of unequal lengths, with absent
    frames and an empty mask, against per-frame naive bands."""
    rng = np.random.default_rng(2)
    height, width = 30, 40
    d = boundary_dilation(height, width)

    def track(length, absent=()):
        masks = []
        for f in range(length):
            y0, x0 = (int(v) for v in rng.integers(0, 12, 2))
            masks.append(None if f in absent else rect(
                height, width, y0, y0 + int(rng.integers(0, 18)), x0,
                x0 + int(rng.integers(3, 25))))
        return masks

    det_masks = [track(4, absent=(1,)), track(5)]
    gt_masks = [track(4), track(3, absent=(2,))]

    def segms(masks):
        return [None if m is None else encode(m) for m in masks]

    dets = [_segm_track(segms(m), height, width, 'det') for m in det_masks]
    gts = [_segm_track(segms(m), height, width, 'gt') for m in gt_masks]
    ious, _ = mask_video_ious(dets, gts, height, width, frame_iou='boundary')
    for i, dm in enumerate(det_masks):
        for j, gm in enumerate(gt_masks):
            inter = union = 0
            for a, b in zip(dm, gm):  # common frames only
                ba = naive_band(a, d) if a is not None else None
                bb = naive_band(b, d) if b is not None else None
                if ba is not None and bb is not None:
                    inter += (ba & bb).sum()
                    union += (ba | bb).sum()
                else:
                    union += (ba if ba is not None else bb).sum()
            want = inter / union if union else 0.0
            assert ious[i, j] == pytest.approx(want, abs=1e-12), (i, j)
    assert get_frame_iou('boundary').name == 'boundary'
    assert 'dilation_ratio=0.02' in repr(BoundaryIoU())


def test_tracking_metrics_take_the_boundary_iou():
    pytest.importorskip('trackeval')
    from vis.evaluation.tracking import evaluate_tracking
    gt = make_gt([(1, (5, 5, 20)), (2, (30, 30, 25))])
    values = evaluate_tracking(gt, as_results(gt), frame_iou='boundary').values
    assert values['HOTA'] == pytest.approx(1.0)


def test_boundary_tracks_keep_the_track_layout():
    gt = make_gt([(1, (5, 5, 20)), (1, (30, 30, 12))])
    tracks = [_segm_track(a['segmentations'], H, W, f'ann {a["id"]}')
              for a in gt['annotations']]
    masks = _mask_tracks(tracks, H, W)
    bands = boundary_tracks(masks, tracks=np.array([1]))
    assert bands.per_track.tolist() == [3] and bands.length.tolist() == [3]
    assert bands.areas.tolist() == [12 * 12 - 8 * 8] * 3
    assert bands.frames.tolist() == [0, 1, 2]
    masks.rles = None
    with pytest.raises(ValueError, match='RLE dicts'):
        boundary_tracks(masks)


# ---------------------------------------------------------------------------
# Boundary AP
# ---------------------------------------------------------------------------
def test_perfect_results_give_boundary_ap_one(band_backend):
    gt = make_gt([(1, (5, 5, 20)), (2, (30, 30, 25))])
    values, per_class = evaluate_boundary_ap(gt, as_results(gt))
    # 1 up to the official eps in precision = tp / (tp + fp + eps)
    assert values == pytest.approx({n: 1.0 for n in BOUNDARY_STAT_NAMES})
    assert values == {n: v for n, v in zip(
        BOUNDARY_STAT_NAMES, evaluate_ytvis(gt, as_results(gt)).values())}
    assert per_class == {'a': {'boundary_AP': pytest.approx(1.0)},
                         'b': {'boundary_AP': pytest.approx(1.0)}}


def test_shifted_outline_passes_mask_ap50_but_not_boundary_ap50(
        band_backend):
    """A 40 x 40 square found 2 pixels off diagonally (d = 2): mask IoU
    38^2 / (2 * 40^2 - 38^2) = 0.822, but the two 2-pixel rings (304
    pixels each) share 8 pixels: boundary IoU 8 / 600."""
    gt = make_gt([(1, (12, 12, 40))])
    results = as_results(gt)
    shifted = encode(rect(H, W, 14, 54, 14, 54))
    results[0]['segmentations'] = [shifted] * 3
    det = [_segm_track(results[0]['segmentations'], H, W, 'det')]
    ann = [_segm_track(gt['annotations'][0]['segmentations'], H, W, 'gt')]
    assert mask_video_ious(det, ann, H, W)[0][0, 0] == pytest.approx(
        1444 / 1756)
    assert mask_video_ious(det, ann, H, W, 'boundary')[0][0, 0] == \
        pytest.approx(8 / 600)
    evaluator = BoundaryAPEvaluator(gt)
    stats = evaluator.evaluate(results)
    assert stats['AP50'] == pytest.approx(1.0)
    assert stats['AP75'] == pytest.approx(1.0)
    assert evaluator.boundary_values() == {n: 0.0
                                           for n in BOUNDARY_STAT_NAMES}
    assert evaluator.boundary_per_class_ap()['b'] == {'boundary_AP': -1.0}
    # boundary IoU alone as the matching IoU (the registered frame IoU)
    assert evaluate_ytvis(gt, results, frame_iou='boundary')['AP50'] == 0.0


def random_case(seed):
    """Two videos of 4 frames, 2 categories, non-overlapping squares as
    ground truth and shifted / grown / shrunk / jagged / false detections."""
    rng = np.random.default_rng(seed)
    gt = {'videos': [], 'annotations': [],
          'categories': [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}]}
    results = []
    for v in (1, 2):
        gt['videos'].append({'id': v, 'height': H, 'width': W, 'length': 4})
        for k, (y0, x0) in enumerate(((2, 2), (2, 34), (34, 2), (34, 34))):
            side = int(rng.integers(8, 28))
            masks = [rect(H, W, y0, y0 + side, x0, x0 + side)
                     for _ in range(4)]
            gt['annotations'].append(dict(
                id=len(gt['annotations']) + 1, video_id=v,
                category_id=k % 2 + 1, iscrowd=0,
                segmentations=[encode(m) for m in masks]))
            for _ in range(3):
                kind = int(rng.integers(0, 4))
                out = []
                for m in masks:
                    if kind == 0:
                        m = np.roll(m, tuple(rng.integers(-3, 4, 2)), (0, 1))
                    elif kind == 1:  # jagged outline
                        m = m ^ (boundary_band(m) & (rng.random(m.shape) < .3))
                    elif kind == 2:  # holes inside
                        m = (boundary_band(m, 0.04) |
                             (m & (rng.random(m.shape) < .9)))
                    out.append(encode(m))
                results.append(dict(video_id=v, category_id=k % 2 + 1,
                                    score=float(rng.random()),
                                    segmentations=out))
    return gt, results


@pytest.mark.parametrize('seed', [0, 1])
def test_boundary_ap_is_at_most_ap_and_mask_ap_is_unchanged(seed):
    gt, results = random_case(seed)
    plain = YTVISEvaluator(gt)
    want = plain.evaluate(results)
    evaluator = BoundaryAPEvaluator(gt)
    assert evaluator.evaluate(results) == want  # the same mask AP
    assert evaluator.per_class_ap() == plain.per_class_ap()
    assert (evaluator.precision_curves() == plain.precision_curves()).all()
    assert (evaluator.recall == plain.recall).all()
    values = evaluator.boundary_values()
    for name, key in zip(BOUNDARY_STAT_NAMES, ('AP', 'AP50', 'AP75')):
        assert 0 <= values[name] <= want[key], name
    assert values['boundary_AP'] < want['AP']  # jagged ones do count


def test_boundary_ap_is_the_same_with_every_backend(monkeypatch):
    gt, results = random_case(3)
    monkeypatch.delenv(band_native.ENV_VAR, raising=False)
    monkeypatch.delenv(rle_native.ENV_VAR, raising=False)
    band_native.reset()
    want = evaluate_boundary_ap(gt, results)
    for env in (band_native.ENV_VAR, rle_native.ENV_VAR):
        monkeypatch.setenv(env, '0')
        band_native.reset()
        assert evaluate_boundary_ap(gt, results) == want, env
    band_native.reset()


def test_empty_cases():
    gt = make_gt([(1, (5, 5, 20))])
    values, per_class = evaluate_boundary_ap(gt, [])
    assert values == {n: 0.0 for n in BOUNDARY_STAT_NAMES}
    assert per_class == {'a': {'boundary_AP': 0.0},
                         'b': {'boundary_AP': -1.0}}
    bare = dict(gt, annotations=[])
    values, _ = evaluate_boundary_ap(bare, as_results(gt))
    assert values == {n: -1.0 for n in BOUNDARY_STAT_NAMES}
    assert evaluate_boundary_ap(bare, [])[0] == {
        n: -1.0 for n in BOUNDARY_STAT_NAMES}
    with pytest.raises(RuntimeError, match='evaluate'):
        BoundaryAPEvaluator(gt).boundary_values()


def test_bad_inputs_are_named():
    gt = make_gt([(1, (5, 5, 20))])
    results = as_results(gt)
    with pytest.raises(ValueError, match='video ids not in the ground '
                       'truth: 7'):
        evaluate_boundary_ap(gt, [dict(results[0], video_id=7)])
    # an RLE of another size: the same error as mask AP
    small = encode(np.ones((5, 5), bool))
    bad = [dict(results[0], segmentations=[small] * 3)]
    with pytest.raises(ValueError) as mask_error:
        evaluate_ytvis(gt, bad)
    with pytest.raises(ValueError) as boundary_error:
        evaluate_boundary_ap(gt, bad)
    assert str(boundary_error.value) == str(mask_error.value)
    assert 'result 0 (video 1)' in str(boundary_error.value)
    # counts of 25 pixels under a right "size", on a frame the ground
    # truth does not have (mask AP never intersects it, bands read it)
    longer = dict(results[0], segmentations=list(
        results[0]['segmentations']) + [dict(small, size=[H, W])])
    with pytest.raises(ValueError, match=r'result 0 \(video 1\): a mask of '
                       'frame 3 has compressed RLE counts for 25 pixels, '
                       'its video has 4096'):
        evaluate_boundary_ap(gt, [longer])
    # the same in a ground truth's frame that no result has
    gt['annotations'][0]['segmentations'].append(dict(small, size=[H, W]))
    with pytest.raises(ValueError, match=r'annotation 1 \(video 1\): a mask '
                       'of frame 3 has compressed RLE counts for 25 pixels'):
        evaluate_boundary_ap(gt, results)


# ---------------------------------------------------------------------------
# --metrics boundary: metrics.py and tools/eval_ytvis.py
# ---------------------------------------------------------------------------
def test_metric_names_values_and_tables():
    assert 'boundary' in METRICS
    assert check_metric_names(['AP', 'Boundary']) == ('ap', 'boundary')
    gt, results = random_case(0)
    report = evaluate_report(gt, results, ['boundary'])
    assert list(report.values) == list(BOUNDARY_STAT_NAMES)
    assert report.precision is None
    both = evaluate_report(gt, results, ['boundary', 'ap'])
    assert list(both.values) == list(STAT_NAMES) + list(BOUNDARY_STAT_NAMES)
    assert both.values['AP'] == evaluate_ytvis(gt, results)['AP']
    for name, value in report.values.items():
        assert both.values[name] == value
    assert set(both.per_class['a']) == {'AP', 'AP50', 'AP75', 'AR100',
                                        'boundary_AP'}
    table = format_metrics_table(both.values)
    lines = table.splitlines()
    at = lines.index('Boundary AP (values x100)')
    assert lines[at + 1].split() == ['AP', 'AP50', 'AP75']
    assert lines[at + 3].split() == [
        f'{100 * both.values[n]:.1f}' for n in BOUNDARY_STAT_NAMES]
    assert 'boundary_AP' not in table  # shown in its block only
    header = format_per_class_table(both.per_class).splitlines()[1].split()
    assert header == ['category', 'AP', 'AP50', 'AP75', 'AR100',
                      'boundary_AP']


def _load_eval_tool():
    spec = importlib.util.spec_from_file_location(
        'eval_ytvis_tool_boundary', osp.join(REPO_ROOT, 'tools',
                                             'eval_ytvis.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_eval_tool_writes_boundary_keys_next_to_ap(tmp_path, capsys):
    gt, results = random_case(1)
    for video in gt['videos']:
        video['file_names'] = [f'{video["id"]}/{f}.jpg' for f in range(4)]
    gt_file, results_file = tmp_path / 'gt.json', tmp_path / 'r.json'
    gt_file.write_text(json.dumps(gt))
    results_file.write_text(json.dumps(results))
    out = tmp_path / 'm.json'
    values = _load_eval_tool().main([str(results_file), str(gt_file),
                                     '--metrics', 'ap', 'boundary', '--out',
                                     str(out), '--per-class'])
    written = json.loads(out.read_text())
    assert written == values
    assert list(written) == list(STAT_NAMES) + list(BOUNDARY_STAT_NAMES)
    assert written['AP'] == evaluate_ytvis(gt, results)['AP']
    assert written['boundary_AP'] <= written['AP']
    printed = capsys.readouterr().out
    assert 'Boundary AP (values x100)' in printed
    assert 'YouTube-VIS video AP (values x100)' in printed
    assert 'boundary_AP' in printed  # the per-category column


def test_video_metric_returns_boundary_keys(tmp_path, monkeypatch):
    """``metric=('ap', 'boundary')`` in the mmengine metric (what
    tools/test.py builds): flat keys next to AP, per category nested."""
    from vis.evaluation import ytvis_metric
    logged = []
    monkeypatch.setattr(ytvis_metric, 'print_log',
                        lambda msg, *args, **kwargs: logged.append(msg))
    gt = make_gt([(1, (12, 12, 40))])
    ann = tmp_path / 'valid.json'
    ann.write_text(json.dumps(gt))
    shifted = encode(rect(H, W, 14, 54, 14, 54))
    metric = ytvis_metric.YouTubeVISVideoMetric(
        ann_file=str(ann), output_dir=str(tmp_path), classes=('a', 'b'),
        metric=('ap', 'boundary'), per_class=True)
    stats = metric.compute_metrics([dict(video_id=1, results=[dict(
        video_id=1, label=0, score=0.9, segmentations=[shifted] * 3)])])
    assert list(stats) == (list(STAT_NAMES) + list(BOUNDARY_STAT_NAMES) +
                           ['per_class'])
    assert stats['AP50'] == pytest.approx(1.0)
    assert stats['boundary_AP50'] == 0.0
    assert stats['per_class']['a']['boundary_AP'] == 0.0
    assert 'Boundary AP (values x100)' in '\n'.join(map(str, logged))
