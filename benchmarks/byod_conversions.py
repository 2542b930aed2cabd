"""Train the quickstart model on converted data and compare it with training
on the original json: the "Bring your own data" figures of
docs/benchmarks.md.

    python benchmarks/byod_conversions.py EXPERIMENT [--work-dir DIR]
    python benchmarks/byod_conversions.py --report [--work-dir DIR]

EXPERIMENT (run one at a time: each is a full quickstart training, 10 to 25
minutes on a 2-core CPU):

* ``original``: the generated set's train.json (``make quickstart``'s data);
* ``original_seed1``: the same with ``randomness=dict(seed=1)``: the
  run-to-run spread of this small from-scratch training, against which the
  differences below are to be read;
* ``labelme``: its train videos written as labelme folders (one polygon per
  connected mask component, tests/export_labelme.py) and converted back with
  tools/dataset_converters/labelme2ytvis.py;
* ``davis`` / ``mots``: written as DAVIS palette PNGs / CVAT-Datumaro MOTS
  PNGs (tests/export_png.py) and converted back with png2ytvis.py;
* ``images``: every train frame as a still image in a COCO json
  (tests/export_coco.py), converted with coco2ytvis.py: one-frame videos, no
  temporal link at all; the track head learns from KeyFrameReferenceWarp;
* ``few_frames``: the classic small project: one class, 8 videos of 10
  annotated frames (80 frames) in labelme, held-out videos of the same
  object; trained 30 epochs (about the quickstart's iteration count).

Every experiment but ``few_frames`` is tested on the original held-out
valid split, with the same config and CPU budget (5 epochs of the same
number of frames). Each writes ``DIR/EXPERIMENT/summary.json``: AP, AP50,
HOTA, AssA, IDF1, identity switches (CLEAR IDSW, summed over classes) and
the mean mask IoU (each ground-truth track's video-level mask IoU with its
best predicted track of score >= 0.5, 0 if none, averaged over tracks).
``--report`` prints them side by side, with the difference to ``original``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path[:0] = [ROOT, osp.join(ROOT, 'tests')]

EXPERIMENTS = ('original', 'original_seed1', 'labelme', 'davis', 'mots',
               'images', 'few_frames')
NAMES = 'disc,box,triangle,ring,cross'
CONFIG = osp.join(ROOT, 'configs', 'quickstart_synthetic.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('experiment', nargs='?', choices=EXPERIMENTS)
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs',
                                                       'byod'))
    parser.add_argument('--data', default=osp.join(ROOT, 'data',
                                                   'synthetic_ytvis'),
                        help='the generated set (made if absent, with the '
                        'quickstart defaults)')
    parser.add_argument('--report', action='store_true')
    parser.add_argument('--reuse-checkpoint', action='store_true',
                        help='test the checkpoint already in DIR/EXPERIMENT '
                        'instead of training again')
    args = parser.parse_args(argv)
    if not args.report and args.experiment is None:
        parser.error('name an EXPERIMENT or --report')
    return args


def _run(cmd, log):
    print('$', ' '.join(cmd), f'> {log}', flush=True)
    with open(log, 'w') as f:
        result = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                                cwd=ROOT)
    if result.returncode:
        raise SystemExit(f'failed ({result.returncode}), see {log}')


def _link_valid(data, root):
    """Give a converted root the original held-out split (symlinks)."""
    for name in ('valid.json', 'valid'):
        target = osp.join(root, name)
        if not osp.lexists(target):
            os.symlink(osp.abspath(osp.join(data, name)), target)


def prepare(experiment, data, work):
    """Return (data root, config) of one experiment, converting as needed."""
    from vis.datasets.synthetic import make_synthetic_ytvis
    if not osp.isfile(osp.join(data, 'valid.json')):
        make_synthetic_ytvis(data)
    if experiment == 'original':
        return data, CONFIG
    if experiment == 'original_seed1':
        config = osp.join(work, 'quickstart_seed1.py')
        with open(config, 'w') as f:
            f.write(f"_base_ = ['{CONFIG}']\nrandomness = dict(seed=1)\n")
        return data, config
    train_json = osp.join(data, 'train.json')
    train_img = osp.join(data, 'train', 'JPEGImages')
    tools = osp.join(ROOT, 'tools', 'dataset_converters')
    src = osp.join(work, f'{experiment}_src')
    root = osp.join(work, f'{experiment}_root')
    log = osp.join(work, f'{experiment}_convert.log')
    common = ['--overwrite', '--no-progress']
    if experiment == 'labelme':
        from export_labelme import export_labelme
        export_labelme(train_json, train_img, src)
        _run([sys.executable, osp.join(tools, 'labelme2ytvis.py'), src, root,
              '--categories', NAMES] + common, log)
    elif experiment == 'davis':
        from export_png import export_davis
        categories = export_davis(train_json, train_img, src)
        _run([sys.executable, osp.join(tools, 'png2ytvis.py'), src, root,
              '--categories', categories, '--category-order', NAMES]
             + common, log)
    elif experiment == 'mots':
        from export_png import export_mots
        export_mots(train_json, train_img, src)
        _run([sys.executable, osp.join(tools, 'png2ytvis.py'), src, root,
              '--format', 'mots', '--category-order', NAMES] + common, log)
    elif experiment == 'images':
        from export_coco import export_coco
        exported = export_coco(train_json, train_img, src)
        _run([sys.executable, osp.join(tools, 'coco2ytvis.py'),
              exported['ann_file'], exported['image_dir'], root] + common,
             log)
    elif experiment == 'few_frames':
        from export_labelme import export_labelme
        few = osp.join(work, 'few_frames_data')
        if not osp.isfile(osp.join(few, 'valid.json')):
            make_synthetic_ytvis(few, num_train=8, num_valid=8,
                                 num_frames=10, num_categories=1,
                                 max_objects=2, seed=11)
        export_labelme(osp.join(few, 'train.json'),
                       osp.join(few, 'train', 'JPEGImages'), src)
        _run([sys.executable, osp.join(tools, 'labelme2ytvis.py'), src, root]
             + common, log)
        _link_valid(few, root)
        config = osp.join(work, 'quickstart_few_frames.py')
        with open(config, 'w') as f:
            f.write(f"_base_ = ['{CONFIG}']\n"
                    'max_epochs = 30\n'
                    'param_scheduler = [\n'
                    "    dict(type='LinearLR', start_factor=0.05, "
                    'by_epoch=False, begin=0, end=100),\n'
                    "    dict(type='CosineAnnealingLR', by_epoch=True, "
                    'begin=0, end=max_epochs, eta_min_ratio=0.02, '
                    'convert_to_iter_based=True)]\n'
                    "train_cfg = dict(_delete_=True, "
                    "type='ResumableEpochBasedTrainLoop', "
                    'max_epochs=max_epochs, val_interval=max_epochs, '
                    'val_begin=max_epochs)\n'
                    'log_processor = dict(by_epoch=True)\n'
                    'default_hooks = dict(checkpoint=dict(by_epoch=True, '
                    'interval=1))\n')
        return root, config
    _link_valid(data, root)
    return root, CONFIG


def mean_track_iou(results, gt, score_thr=0.5):
    """Each gt track's video mask IoU with its best predicted track of
    score >= ``score_thr`` (0 if none), averaged over gt tracks."""
    import numpy as np
    import pycocotools.mask as mask_utils

    from vis.datasets.youtube_vis import segmentation_to_rle
    videos = {v['id']: v for v in gt['videos']}
    preds = {}
    for r in results:
        if r['score'] >= score_thr:
            preds.setdefault(r['video_id'], []).append(r)
    ious = []
    for a in gt['annotations']:
        video = videos[a['video_id']]
        h, w = video['height'], video['width']
        best = 0.0
        for p in preds.get(a['video_id'], []):
            inter = union = 0.0
            for g, d in zip(a['segmentations'], p['segmentations']):
                g = None if g is None else segmentation_to_rle(g, h, w, '')
                if g is None and d is None:
                    continue
                if g is None or d is None:
                    union += float(mask_utils.area(g if d is None else d))
                    continue
                inter += float(mask_utils.area(mask_utils.merge([g, d], 1)))
                union += float(mask_utils.area(mask_utils.merge([g, d], 0)))
            if union:
                best = max(best, inter / union)
        ious.append(best)
    return float(np.mean(ious)) if ious else 0.0


def evaluate(root, work_dir):
    """AP and tracking figures of work_dir/results.json on root/valid.json."""
    from vis.evaluation.tracking import evaluate_tracking
    with open(osp.join(work_dir, 'metrics.json')) as f:
        metrics = json.load(f)
    with open(osp.join(work_dir, 'results.json')) as f:
        results = json.load(f)
    with open(osp.join(root, 'valid.json')) as f:
        gt = json.load(f)
    tracking = evaluate_tracking(gt, results)
    clear = tracking.raw['cls_comb_det_av']['CLEAR']
    flat = metrics.get('metrics', metrics)
    pick = {k: v for k, v in flat.items() if isinstance(v, (int, float))}
    return dict(AP=pick.get('AP', pick.get('segm_mAP')),
                AP50=pick.get('AP50'), HOTA=tracking.values['HOTA'],
                AssA=tracking.values['AssA'], IDF1=tracking.values['IDF1'],
                IDSW=int(clear['IDSW']), mean_mask_IoU=mean_track_iou(
                    results, gt), metrics=pick)


def _train_seconds(out):
    """Training time from the last run's json log (sum of iteration
    times), or None."""
    import glob
    logs = sorted(glob.glob(osp.join(out, '*', 'vis_data', 'scalars.json')))
    if not logs:
        return None
    total, last_step = 0.0, {}
    with open(logs[-1]) as f:
        for line in f:
            entry = json.loads(line)
            if 'time' in entry and 'loss' in entry:
                total += entry['time'] * (entry['step'] - last_step.get(
                    'step', 0))
                last_step = entry
    return total or None


def run_experiment(args):
    os.makedirs(args.work_dir, exist_ok=True)
    start = time.time()
    root, config = prepare(args.experiment, args.data, args.work_dir)
    out = osp.join(args.work_dir, args.experiment)
    os.makedirs(out, exist_ok=True)
    train_start = time.time()
    if not (args.reuse_checkpoint
            and osp.isfile(osp.join(out, 'last_checkpoint'))):
        _run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
              '--data-root', root, '--work-dir', out],
             osp.join(out, 'train_stdout.log'))
    train_seconds = _train_seconds(out) or time.time() - train_start
    with open(osp.join(out, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    _run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), config,
          checkpoint, '--data-root', root, '--work-dir', out, '--metrics',
          'ap', 'hota'], osp.join(out, 'test_stdout.log'))
    summary = dict(experiment=args.experiment, data_root=root,
                   config=config, train_seconds=round(train_seconds),
                   total_seconds=round(time.time() - start),
                   **evaluate(root, out))
    with open(osp.join(out, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k != 'metrics'}))


def report(work_dir):
    rows = []
    for name in EXPERIMENTS:
        path = osp.join(work_dir, name, 'summary.json')
        if osp.isfile(path):
            with open(path) as f:
                rows.append(json.load(f))
    if not rows:
        raise SystemExit(f'no summary.json under {work_dir}')
    base = next((r for r in rows if r['experiment'] == 'original'), None)
    keys = ('AP', 'AP50', 'HOTA', 'AssA', 'IDF1', 'IDSW', 'mean_mask_IoU')
    print(f"{'experiment':12}" + ''.join(f'{k:>15}' for k in keys)
          + f"{'train s':>9}")
    for r in rows:
        cells = []
        for k in keys:
            value = r.get(k)
            text = '-' if value is None else (
                f'{value}' if k == 'IDSW' else f'{value:.3f}')
            if base is not None and r is not base and value is not None \
                    and r['experiment'] != 'few_frames':
                delta = value - base[k]
                text += f' ({delta:+.3f})' if k != 'IDSW' else f' ({delta:+d})'
            cells.append(f'{text:>15}')
        print(f"{r['experiment']:12}" + ''.join(cells)
              + f"{r['train_seconds']:>9}")


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        report(args.work_dir)
    else:
        run_experiment(args)


if __name__ == '__main__':
    main()
