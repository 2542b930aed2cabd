"""Cost of Boundary AP against mask AP, as a ratio measured in one run.

    python benchmarks/boundary_eval_cost.py [--videos 10] [--width 640] \
        [--height 360] [--results-per-track 8] [--repeats 7] [--seed 0] \
        [--profile FILE]

Generates ``--videos`` annotated videos (make_synthetic_ytvis, default
preset, in a temporary folder) and, per ground-truth track, results made
from its masks: shifted by a few pixels, dilated, eroded and with ragged
outlines (the kinds of errors Boundary IoU tells apart from mask IoU), each
with its own score. Then times ``vis.evaluation.evaluate_report`` on the
same inputs with ``['ap']`` and with ``['ap', 'boundary']`` (which gives
mask AP too), alternately, ``--repeats`` times each after one untimed
warm-up, and prints the best and median times and their ratio.
``--profile FILE`` writes a cProfile of one ``['ap', 'boundary']`` run.
"""
import argparse
import cProfile
import json
import os.path as osp
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from pycocotools import mask as mask_utils  # noqa: E402

from vis.datasets.synthetic import make_synthetic_ytvis  # noqa: E402
from vis.evaluation import evaluate_report  # noqa: E402


def perturbed(mask: np.ndarray, kind: int, rng: np.random.Generator):
    """``mask`` (H, W) uint8 with one kind of outline error."""
    if kind == 0:  # shifted
        dy, dx = rng.integers(-4, 5, size=2)
        return np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    if kind == 1:  # dilated
        return cv2.dilate(mask, np.ones((5, 5), np.uint8))
    if kind == 2:  # eroded
        return cv2.erode(mask, np.ones((5, 5), np.uint8))
    # ragged: the outline resampled on a coarse grid, as a 28x28 mask is
    small = cv2.resize(mask, (max(1, mask.shape[1] // 8),
                              max(1, mask.shape[0] // 8)),
                       interpolation=cv2.INTER_AREA)
    return (cv2.resize(small.astype(np.float32),
                       (mask.shape[1], mask.shape[0])) > 0.5).astype(
                           np.uint8)


def make_results(gt: dict, per_track: int, seed: int) -> list:
    """YouTube-VIS results: ``per_track`` perturbed copies of every
    ground-truth track, with scores and every second one's class kept."""
    rng = np.random.default_rng(seed)
    results = []
    for ann in gt['annotations']:
        for k in range(per_track):
            segms = []
            for rle in ann['segmentations']:
                if rle is None:
                    segms.append(None)
                    continue
                if isinstance(rle['counts'], list):  # uncompressed RLE
                    rle = mask_utils.frPyObjects(rle, *rle['size'])
                mask = mask_utils.decode(rle)  # (H, W) uint8
                out = mask_utils.encode(np.asfortranarray(
                    perturbed(mask, k % 4, rng)))
                out['counts'] = out['counts'].decode('ascii')
                segms.append(out)
            results.append(dict(video_id=ann['video_id'],
                                category_id=ann['category_id'],
                                score=float(rng.uniform(0.05, 1.0)),
                                segmentations=segms))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.strip().split('\n')[0])
    parser.add_argument('--videos', type=int, default=10)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=360)
    parser.add_argument('--results-per-track', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--profile', help='cProfile output of one run of '
                        'ap + boundary')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_synthetic_ytvis(tmp, num_train=0, num_valid=args.videos,
                                     width=args.width, height=args.height,
                                     seed=args.seed)
        with open(paths['valid']) as f:
            gt = json.load(f)
    results = make_results(gt, args.results_per_track, args.seed)
    masks = sum(s is not None for a in gt['annotations']
                for s in a['segmentations'])
    print(f'{len(gt["videos"])} videos at {args.width}x{args.height}: '
          f'{masks} gt masks, {len(results)} result tracks')
    runs = {'ap': ['ap'], 'ap boundary': ['ap', 'boundary']}
    times = {name: [] for name in runs}
    for repeat in range(args.repeats + 1):
        for name, metrics in runs.items():
            start = time.perf_counter()
            report = evaluate_report(gt, results, metrics)
            elapsed = time.perf_counter() - start
            if repeat:
                times[name].append(elapsed)
    if args.profile:
        cProfile.runctx('evaluate_report(gt, results, ["ap", "boundary"])',
                        globals(), dict(gt=gt, results=results),
                        args.profile)
    print(f'AP {report.values["AP"]:.3f}, boundary_AP '
          f'{report.values["boundary_AP"]:.3f}')
    best = {name: min(t) for name, t in times.items()}
    median = {name: statistics.median(t) for name, t in times.items()}
    for name in runs:
        print(f'{name:<12} best {1e3 * best[name]:8.1f} ms   median '
              f'{1e3 * median[name]:8.1f} ms')
    ratio_best = best['ap boundary'] / best['ap']
    ratio_median = median['ap boundary'] / median['ap']
    print(f'ratio (ap boundary / ap): best {ratio_best:.2f}x, median '
          f'{ratio_median:.2f}x')


if __name__ == '__main__':
    main()
