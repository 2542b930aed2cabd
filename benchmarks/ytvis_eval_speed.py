"""Speed of our YouTube-VIS evaluator against the official API, as a ratio.

    python benchmarks/ytvis_eval_speed.py [--videos 300] [--results 20] \
        [--frames 36] [--repeats 3] [--seed 0] [--no-fallback] \
        [--profile FILE]

Measures the wall time of a full evaluation -- loading the results, video
IoUs, matching, accumulation and summary -- of the same generated ground
truth and results by

* the official API: MMDetection's port of ``youtubevos/cocoapi``
  (``YTVIS(gt)``, ``loadRes``, ``YTVISeval`` evaluate / accumulate /
  summarize; its printing goes to a buffer), and
* ours: ``vis.evaluation.ytvis_eval.evaluate_ytvis(gt, results)`` with
  the native RLE kernel (``vis/evaluation/rle_kernel.c``), and
* ours without the kernel: the same with ``VIS_RLE_NATIVE=0`` (pycocotools
  alone), unless ``--no-fallback``.

They run alternately, ``--repeats`` times each after one untimed warm-up
round, so that machine noise hits all alike; every round asserts that the
12 statistics agree to 1e-6. Prints the median times and the ratios
official / ours measured in this run.

The official port uses ``np.float`` (removed in numpy 1.24): ``np.float =
float`` is set in this process only, while the official code runs, and
removed afterwards (ours never sees it). The official ``loadRes`` and
``_prepare`` modify their inputs in place, so each round both
implementations get their own fresh deep copy of the inputs, made outside
the timed region (ours does not need it, but this way both read objects laid
out alike in memory, as after loading a json file; mask-heavy code is
sensitive to that).

Workload (seeded, deterministic): ``--videos`` videos of ``--frames`` frames
of 360x640 pixels, 40 categories; 1 to 4 ground-truth objects per video
(elliptic blobs of 15 to 250 pixels moving across the frames, absent from
some frames, a few crowds), masks as compressed RLE with ``str`` counts like
a results json. ``--results`` results per video: up to three perturbed
copies of each ground-truth track (jittered and shifted outlines, frames
missed, sometimes the wrong category; scores higher for closer copies) and
random false-positive tracks for the rest, with random categories.
"""
import argparse
import contextlib
import copy
import cProfile
import io
import os
import os.path as osp
import pstats
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
from pycocotools import mask as mask_utils  # noqa: E402

from vis.evaluation import rle_native  # noqa: E402
from vis.evaluation.ytvis_eval import STAT_NAMES, evaluate_ytvis  # noqa: E402

HEIGHT, WIDTH = 360, 640
NUM_CATEGORIES = 40
TOLERANCE = 1e-6


# ---------------------------------------------------------------------------
# Workload
# ---------------------------------------------------------------------------
def _outline(rng, cx, cy, rx, ry, jitter):
    """A closed polygon [x0, y0, x1, y1, ...] (16 vertices) around an
    ellipse of center (cx, cy) and radii (rx, ry), radii jittered by up to
    ``jitter`` (relative), clipped to the frame."""
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    radius = 1 + rng.uniform(-jitter, jitter, angles.size)
    xs = np.clip(cx + rx * radius * np.cos(angles), 0, WIDTH)
    ys = np.clip(cy + ry * radius * np.sin(angles), 0, HEIGHT)
    return np.stack([xs, ys], 1).ravel().tolist()


def _trajectory(rng, num_frames, p_missing):
    """A moving object: per frame (cx, cy, rx, ry) or None when absent."""
    size = float(np.exp(rng.uniform(np.log(15), np.log(250))))
    aspect = rng.uniform(0.5, 2.0)
    rx, ry = size * np.sqrt(aspect) / 2, size / np.sqrt(aspect) / 2
    start = rng.uniform([rx, ry], [max(rx, WIDTH - rx), max(ry, HEIGHT - ry)])
    velocity = rng.normal(0, 3, 2)
    first = int(rng.integers(0, num_frames // 4 + 1)) if rng.random() < .3 \
        else 0
    last = num_frames - (int(rng.integers(0, num_frames // 4 + 1))
                         if rng.random() < .3 else 0)
    frames = []
    for f in range(num_frames):
        if f < first or f >= last or rng.random() < p_missing:
            frames.append(None)
            continue
        cx, cy = start + velocity * f + rng.normal(0, 1, 2)
        scale = 1 + 0.1 * np.sin(f / 5)
        frames.append((cx, cy, rx * scale, ry * scale))
    if all(fr is None for fr in frames):
        return _trajectory(rng, num_frames, p_missing)
    return frames


def _encode(polygons):
    """Polygons (one per mask, or None) -> compressed RLE dicts (str counts)
    or None, with one pycocotools call."""
    present = [p for p in polygons if p is not None]
    rles = iter(mask_utils.frPyObjects(present, HEIGHT, WIDTH)
                if present else [])
    out = []
    for p in polygons:
        if p is None:
            out.append(None)
        else:
            rle = next(rles)
            out.append({'size': [HEIGHT, WIDTH],
                        'counts': rle['counts'].decode('ascii')})
    return out


def make_workload(num_videos=300, results_per_video=20, num_frames=36,
                  seed=0):
    """Seeded YouTube-VIS ground truth and results (see the module doc).

    Returns:
        (gt, results): the annotation dict and the result list.
    """
    rng = np.random.default_rng(seed)
    categories = [{'id': c, 'name': f'class{c}'}
                  for c in range(1, NUM_CATEGORIES + 1)]
    videos, annotations, results = [], [], []
    for v in range(num_videos):
        video_id = v + 1
        videos.append({'id': video_id, 'height': HEIGHT, 'width': WIDTH,
                       'length': num_frames})
        video_results = []
        for _ in range(int(rng.integers(1, 5))):
            category = int(rng.integers(1, NUM_CATEGORIES + 1))
            track = _trajectory(rng, num_frames, 0.05)
            masks = _encode([None if fr is None else
                             _outline(rng, *fr, jitter=0.1) for fr in track])
            areas = [None if m is None else int(mask_utils.area(m))
                     for m in masks]
            annotations.append({
                'id': len(annotations) + 1, 'video_id': video_id,
                'category_id': category,
                'iscrowd': int(rng.random() < 0.03),
                'segmentations': masks, 'areas': areas,
                'bboxes': [None if m is None else
                           mask_utils.toBbox(m).tolist() for m in masks],
                'height': HEIGHT, 'width': WIDTH, 'length': 1})
            for _ in range(int(rng.integers(1, 4))):
                if len(video_results) >= results_per_video:
                    break
                quality = rng.uniform(0, 1)  # 0: close copy, 1: poor one
                shift = rng.normal(0, 1 + 15 * quality, 2)
                polygons = []
                for fr in track:
                    if fr is None or rng.random() < 0.05 + 0.1 * quality:
                        polygons.append(None if rng.random() < .9 else
                                        _outline(rng, *_trajectory(
                                            rng, 1, 0)[0], jitter=.2))
                        continue
                    cx, cy, rx, ry = fr
                    scale = 1 + rng.normal(0, 0.05 + 0.2 * quality)
                    polygons.append(_outline(
                        rng, cx + shift[0], cy + shift[1], rx * scale,
                        ry * scale, jitter=0.05 + 0.2 * quality))
                video_results.append({
                    'video_id': video_id,
                    'category_id': (category if rng.random() < .9 else
                                    int(rng.integers(1, NUM_CATEGORIES + 1))),
                    'score': float(np.clip(1 - quality + rng.normal(0, .15),
                                           0.01, 1)),
                    'segmentations': polygons})
        while len(video_results) < results_per_video:
            track = _trajectory(rng, num_frames, 0.1)
            video_results.append({
                'video_id': video_id,
                'category_id': int(rng.integers(1, NUM_CATEGORIES + 1)),
                'score': float(rng.uniform(0.01, 0.6)),
                'segmentations': [None if fr is None else
                                  _outline(rng, *fr, jitter=0.2)
                                  for fr in track]})
        for result in video_results:
            result['segmentations'] = _encode(result['segmentations'])
        results += video_results
    gt = {'videos': videos, 'annotations': annotations,
          'categories': categories}
    return gt, results


# ---------------------------------------------------------------------------
# The two evaluators
# ---------------------------------------------------------------------------
def run_official(gt, results):
    """Official stats; ``gt`` and ``results`` are modified in place."""
    from mmdet.evaluation.functional import YTVIS, YTVISeval
    np.float = float  # only while the official code runs
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ytvis_gt = YTVIS(gt)
            ytvis_dt = ytvis_gt.loadRes(results)
            evaluator = YTVISeval(ytvis_gt, ytvis_dt, 'segm')
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
    finally:
        del np.float
    return dict(zip(STAT_NAMES, (float(s) for s in evaluator.stats)))


def run_ours(gt, results):
    return evaluate_ytvis(gt, results)


def run_ours_fallback(gt, results):
    """Ours with the native kernel switched off (pycocotools alone)."""
    before = os.environ.get(rle_native.ENV_VAR)
    os.environ[rle_native.ENV_VAR] = '0'
    try:
        return evaluate_ytvis(gt, results)
    finally:
        if before is None:
            del os.environ[rle_native.ENV_VAR]
        else:
            os.environ[rle_native.ENV_VAR] = before


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--videos', type=int, default=300)
    parser.add_argument('--results', type=int, default=20,
                        help='results per video')
    parser.add_argument('--frames', type=int, default=36)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-fallback', action='store_true',
                        help='do not time ours without the native kernel')
    parser.add_argument('--profile', metavar='FILE',
                        help='only profile ours (cProfile, on a deep copy '
                        'as timed) once, save the stats to FILE and print '
                        'the top functions')
    args = parser.parse_args(argv)
    if rle_native.load() is None:
        sys.exit('the native RLE kernel is not available (see the warning)')

    start = time.perf_counter()
    gt, results = make_workload(args.videos, args.results, args.frames,
                                args.seed)
    num_masks = sum(s is not None for r in results
                    for s in r['segmentations'])
    print(f'workload: {args.videos} videos x {args.frames} frames '
          f'({HEIGHT}x{WIDTH}), {len(gt["annotations"])} gt tracks, '
          f'{len(results)} results ({num_masks} masks), seed {args.seed}; '
          f'generated in {time.perf_counter() - start:.1f} s')

    if args.profile:
        run_ours(copy.deepcopy(gt), copy.deepcopy(results))  # warm-up
        gt_copy, results_copy = copy.deepcopy(gt), copy.deepcopy(results)
        profiler = cProfile.Profile()
        profiler.enable()
        run_ours(gt_copy, results_copy)
        profiler.disable()
        profiler.dump_stats(args.profile)
        pstats.Stats(profiler).sort_stats('tottime').print_stats(25)
        return

    runners = {'official': run_official, 'ours': run_ours}
    if not args.no_fallback:
        runners['ours without the kernel'] = run_ours_fallback
    times = {name: [] for name in runners}
    for i in range(args.repeats + 1):  # round 0 warms up
        stats, line = {}, []
        for name, run in runners.items():
            elapsed, stats[name] = timed(run, copy.deepcopy(gt),
                                         copy.deepcopy(results))
            if i > 0:
                times[name].append(elapsed)
            line.append(f'{name} {elapsed:.3f} s')
        official = stats['official']
        for name, ours in stats.items():
            bad = {n: (ours[n], official[n]) for n in STAT_NAMES
                   if not abs(ours[n] - official[n]) <= TOLERANCE}
            assert not bad, f'stats differ ({name}, official): {bad}'
        print(f'round {i}{" (warm-up)" if i == 0 else ""}: ' +
              ', '.join(line), flush=True)
    print('stats (identical to 1e-6): ' +
          ', '.join(f'{n} {official[n]:.4f}' for n in STAT_NAMES))
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f'median of {args.repeats}: ' +
          ', '.join(f'{name} {t:.3f} s' for name, t in med.items()))
    print('ratio official / ' + ', official / '.join(
        f'{name} {med["official"] / t:.1f}' for name, t in med.items()
        if name != 'official'))


if __name__ == '__main__':
    main()
