"""Evaluate a YouTube-VIS results file against a ground-truth json.

    python tools/eval_ytvis.py RESULTS GT_JSON \\
        [--metrics ap hota frame boundary] \\
        [--track-score-thr 0.5] [--out METRICS_JSON] [--per-class] \\
        [--plots-dir DIR]

RESULTS is a ``results.json`` (a list of ``{video_id, category_id, score,
segmentations}``) or the evaluation server's zip holding it (what
tools/test.py writes to its work dir). GT_JSON is a YouTube-VIS annotation
json with annotations.

Prints the metrics (``ap``: AP, AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l;
``hota``: HOTA, DetA, AssA, IDF1, MOTA class-averaged and det-averaged, on
tracks scoring at least --track-score-thr; ``frame``: per-frame detection
AP of masks and boxes, frame_mask_AP ... frame_box_AR100; ``boundary``:
Boundary AP, boundary_AP, boundary_AP50, boundary_AP75, tracks matched by
min(mask IoU, boundary IoU)) and, with --per-class, a table per category.
--out writes the metrics json (the flat keys of tools/test.py's
metrics.json, without its ``per_class``) atomically; --plots-dir writes
per-category AP bars (and HOTA bars with ``hota``) and precision-recall
curves as PNGs.

Both files are checked first (ids, fields, frame counts, mask sizes):
errors name the file, the result and the field.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

if __package__ in (None, ''):  # run as a script from a checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from vis.engine.checkpoint import write_text_atomic  # noqa: E402
from vis.evaluation.metrics import (METRICS, check_metric_names,  # noqa: E402
                                    evaluate_report, format_metrics_table,
                                    format_per_class_table)
from vis.evaluation.results_file import (check_results,  # noqa: E402
                                         load_ground_truth, load_results)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.strip().split('\n')[0])
    parser.add_argument('results', metavar='RESULTS',
                        help='results.json or the server zip holding it')
    parser.add_argument('gt', metavar='GT_JSON',
                        help='YouTube-VIS annotation json')
    parser.add_argument('--metrics', nargs='+', default=['ap'],
                        metavar='NAME',
                        help=f'metrics to compute: {", ".join(METRICS)} '
                        '(default: ap)')
    parser.add_argument('--track-score-thr', type=float, default=0.5,
                        help='tracks scoring below this are not used by the '
                        'tracking metrics (default: 0.5)')
    parser.add_argument('--out', metavar='METRICS_JSON',
                        help='write the metrics to this json')
    parser.add_argument('--per-class', action='store_true',
                        help='also print a table per category')
    parser.add_argument('--plots-dir', metavar='DIR',
                        help='write per-category bars and precision-recall '
                        'curves (PNG) here')
    return parser.parse_args(argv)


def _log(message: str, start: float) -> None:
    print(f'[{time.perf_counter() - start:7.1f}s] {message}',
          file=sys.stderr, flush=True)


def write_plots(report, plots_dir: str) -> list:
    """The PNGs of ``report`` (an ``EvaluationReport``) in ``plots_dir``."""
    from vis.visualization.plots import (mean_pr_curves, plot_per_class_bars,
                                         plot_per_class_pr_curves,
                                         plot_pr_curves)
    os.makedirs(plots_dir, exist_ok=True)
    written = []
    if report.precision is not None:
        names = report.class_names
        written.append(plot_per_class_bars(
            names, [report.per_class[n]['AP'] for n in names],
            osp.join(plots_dir, 'ap_per_class.png'), label='AP',
            title='AP per category'))
        written.append(plot_pr_curves(
            report.recall_thresholds,
            mean_pr_curves(report.precision, report.iou_thresholds),
            osp.join(plots_dir, 'pr_curves.png'),
            title='precision-recall (mean over categories)'))
        written.append(plot_per_class_pr_curves(
            report.recall_thresholds, report.precision, names,
            report.iou_thresholds,
            osp.join(plots_dir, 'pr_curves_per_class.png')))
    tracked = [(n, s['HOTA']) for n, s in report.per_class.items()
               if 'HOTA' in s]
    if tracked:
        written.append(plot_per_class_bars(
            [n for n, _ in tracked], [v for _, v in tracked],
            osp.join(plots_dir, 'hota_per_class.png'), label='HOTA',
            title='HOTA per category'))
    return written


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        metrics = check_metric_names(args.metrics)
        _log(f'reading {args.gt}', start)
        gt = load_ground_truth(args.gt)
        _log(f'reading {args.results}', start)
        results = load_results(args.results)
        check_results(gt, results, args.results)
    except ValueError as err:
        raise SystemExit(f'error: {err}') from None
    _log(f'{len(results)} result tracks on {len(gt["videos"])} videos; '
         f'computing {", ".join(metrics)}', start)
    try:
        report = evaluate_report(gt, results, metrics, args.track_score_thr,
                                 progress=True)
    except (ValueError, ImportError) as err:
        raise SystemExit(f'error: {args.results}: {err}') from None
    _log('done', start)
    print(format_metrics_table(report.values))
    if args.per_class:
        print()
        print(format_per_class_table(report.per_class))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        write_text_atomic(args.out, json.dumps(report.values, indent=2) + '\n')
        print(f'metrics written to {args.out}')
    if args.plots_dir:
        for path in write_plots(report, args.plots_dir):
            print(f'wrote {path}')
    return report.values


if __name__ == '__main__':
    main()
