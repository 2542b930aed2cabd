"""A pretrained detector on videos: tracked without training, and as the
start of a video model.

    python benchmarks/pretrained_tracking.py free --video-ckpt CKPT \
        [--data data/synthetic_ytvis] [--work work_dirs/pretrained]
    python benchmarks/pretrained_tracking.py demo --video-ckpt CKPT ...
    python benchmarks/pretrained_tracking.py init-checkpoint --detector DET \
        --data ROOT --out OUT.pth

``free``: the detector of a trained quickstart model (VIDEO_CKPT), saved
with mmdet's key names (tools/export_detector.py) and tracked with its
plain mmdet config (configs/mmdet/quickstart_mask_rcnn.py) by the
training-free AssignmentTracker, next to the trained MaskTrack R-CNN, on the
same held-out videos (DATA's valid split): AP, HOTA, AssA, IDF1 and
identity switches (CLEAR IDSW), from each run's results.json.

``demo``: tracks per video and identity switches of the streaming
predictor (VideoPredictor, what tools/demo_video.py runs) on the same
videos, before and after this project's output rules: "before" = every
tracked instance at --score-thr 0.5 (MaskTrack), or the assignment tracker
without a birth score or confirmation (the detector's every detection above
its floor starts a track); "after" = the demo's defaults (confirmed tracks,
--min-track-score = --score-thr, track NMS).

``init-checkpoint``: the video model that ``tools/train.py CONFIG --data-root
ROOT --load-detector DET`` starts from, saved before any training step (to
measure its AP before training with tools/test.py).

Figures are counts and accuracies, not timings: no reference run is needed.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

PY = sys.executable
VIDEO_CONFIG = 'configs/quickstart_synthetic.py'
DETECTOR_CONFIG = 'configs/mmdet/quickstart_mask_rcnn.py'


def _run(cmd, log):
    print('$ ' + ' '.join(cmd), flush=True)
    with open(log, 'w') as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=True)


def tracking_figures(root, work_dir):
    """AP, HOTA, AssA, IDF1, IDSW of work_dir/results.json."""
    from byod_conversions import evaluate
    out = evaluate(root, work_dir)
    return {k: out[k] for k in ('AP', 'AP50', 'HOTA', 'AssA', 'IDF1',
                                'IDSW')}


def free(args):
    os.makedirs(args.work, exist_ok=True)
    detector = osp.join(args.work, 'detector.pth')
    _run([PY, 'tools/export_detector.py', args.video_ckpt, detector],
         osp.join(args.work, 'export.log'))
    rows = {}
    for name, config, ckpt in (
            ('MaskTrack R-CNN (trained on videos)', VIDEO_CONFIG,
             args.video_ckpt),
            ('its detector, training-free tracking', DETECTOR_CONFIG,
             detector)):
        work = osp.join(args.work, 'free_' + name.split()[0].lower())
        _run([PY, 'tools/test.py', config, ckpt, '--data-root', args.data,
              '--metrics', 'ap', 'hota', '--work-dir', work],
             work + '.log')
        rows[name] = tracking_figures(args.data, work)
    _print_rows(rows)
    return rows


def _print_rows(rows):
    keys = list(next(iter(rows.values())))
    print('| run | ' + ' | '.join(keys) + ' |')
    print('|---|' + '---|' * len(keys))
    for name, row in rows.items():
        print(f'| {name} | ' + ' | '.join(
            str(row[k]) if isinstance(row[k], int) else f'{row[k]:.4f}'
            for k in keys) + ' |')


def stream_videos(predictor, root):
    """Run ``predictor`` over every video of root/valid.json; returns the
    YouTube-VIS results of the tracks it outputs and their count per
    video."""
    import cv2
    import numpy as np
    from pycocotools import mask as mask_utils
    with open(osp.join(root, 'valid.json')) as f:
        gt = json.load(f)
    from vis.datasets.layout import find_split
    img_dir = find_split(root, 'valid')['img_dir']
    results, counts = [], {}
    for video in gt['videos']:
        predictor.reset()
        tracks = defaultdict(lambda: dict(labels=[], scores=[], segs=[
            None] * len(video['file_names'])))
        for t, name in enumerate(video['file_names']):
            image = cv2.imread(osp.join(img_dir, name))
            inst = predictor.predict_frame(image)
            for mask, tid, label, score in zip(inst.masks, inst.track_ids,
                                               inst.labels, inst.scores):
                rle = mask_utils.encode(
                    np.asfortranarray(mask.astype(np.uint8)))
                rle['counts'] = rle['counts'].decode()
                track = tracks[int(tid)]
                track['labels'].append(int(label))
                track['scores'].append(float(score))
                track['segs'][t] = rle
        counts[video['id']] = len(tracks)
        for track in tracks.values():
            label = max(set(track['labels']), key=track['labels'].count)
            results.append(dict(
                video_id=video['id'], category_id=label + 1,
                score=sum(track['scores']) / len(track['scores']),
                segmentations=track['segs']))
    return gt, results, counts


def demo(args):
    import numpy as np

    from vis.apis import VideoPredictor
    from vis.evaluation.tracking import evaluate_tracking
    detector = osp.join(args.work, 'detector.pth')
    if not osp.isfile(detector):
        _run([PY, 'tools/export_detector.py', args.video_ckpt, detector],
             osp.join(args.work, 'export.log'))
    loose = {'model.tracker.birth_score': 0.05,
             'model.tracker.match_score': 0.05,
             'model.tracker.num_confirm': 1,
             'model.detector.test_cfg.rcnn.score_thr': 0.05}
    runs = {
        'MaskTrack, before (score_thr 0.5 only)': dict(
            config=VIDEO_CONFIG, checkpoint=args.video_ckpt,
            min_track_score=0.0, track_nms=False),
        'MaskTrack, demo defaults': dict(
            config=VIDEO_CONFIG, checkpoint=args.video_ckpt,
            min_track_score=0.5, track_nms=True),
        'detector, no birth score / confirmation': dict(
            config=DETECTOR_CONFIG, checkpoint=detector,
            min_track_score=0.0, track_nms=False, cfg_options=loose),
        'detector, demo defaults': dict(
            config=DETECTOR_CONFIG, checkpoint=detector,
            min_track_score=0.5, track_nms=True),
    }
    rows = {}
    for name, kwargs in runs.items():
        predictor = VideoPredictor(score_thr=0.5, **kwargs)
        gt, results, counts = stream_videos(predictor, args.data)
        tracking = evaluate_tracking(gt, results)
        clear = tracking.raw['cls_comb_det_av']['CLEAR']
        gt_tracks = defaultdict(int)
        for ann in gt['annotations']:
            gt_tracks[ann['video_id']] += 1
        per_video = np.array([counts[v] for v in sorted(counts)])
        rows[name] = dict(
            tracks_per_video=float(per_video.mean()),
            max_tracks=int(per_video.max()),
            gt_tracks_per_video=float(np.mean(list(gt_tracks.values()))),
            HOTA=float(tracking.values['HOTA']),
            IDSW=int(clear['IDSW']))
    _print_rows(rows)
    return rows


def init_checkpoint(args):
    """The video model tools/train.py builds with --load-detector, saved
    after its weights are initialised (no training step)."""
    import importlib.util

    import torch
    from mmengine.runner import Runner
    spec = importlib.util.spec_from_file_location('train_tool',
                                                  'tools/train.py')
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    cli = [args.config, '--data-root', args.data, '--load-detector',
           args.detector, '--work-dir', osp.dirname(args.out) or '.']
    if args.class_map:
        cli += ['--class-map', args.class_map]
    cfg = train_tool.build_config(train_tool.parse_args(cli))
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    classes = cfg.model.detector.init_cfg['classes']
    torch.save(dict(state_dict=runner.model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=list(classes)))),
               args.out)
    print(f'wrote {args.out} (classes {", ".join(classes)})')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('step', choices=['free', 'demo', 'init-checkpoint'])
    parser.add_argument('--video-ckpt', help='a trained quickstart model')
    parser.add_argument('--data', default='data/synthetic_ytvis')
    parser.add_argument('--work', default='work_dirs/pretrained')
    parser.add_argument('--config', default=VIDEO_CONFIG)
    parser.add_argument('--detector', help='init-checkpoint: a plain '
                        'detector checkpoint')
    parser.add_argument('--class-map')
    parser.add_argument('--out', help='init-checkpoint: where to save')
    args = parser.parse_args(argv)
    if args.step == 'free':
        return free(args)
    if args.step == 'demo':
        return demo(args)
    return init_checkpoint(args)


if __name__ == '__main__':
    main()
