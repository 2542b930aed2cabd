"""Our MaskTrack R-CNN against MMDetection 3.3.0's own, as ratios.

    python benchmarks/masktrack_vs_mmdet.py [--depth 18|50] \
        [--width 640 --height 360] [--train-iters 4] [--videos 2] \
        [--frames 10] [--rounds 2] [--threads 1] [--out-json FILE] \
        [--work-dir DIR]

Both models are built from their own configs with the same values: mmdet's
``masktrack-rcnn_mask-rcnn_r50_fpn_8xb1-12e_youtubevis2019.py`` (RoIEmbedHead,
MaskTrackRCNNTracker) and ours, ``configs/masktrack_r50.py``
(CosineRoIEmbedHead, EmbeddingMemoryTracker, RLE mask output), each with the
backbone depth asked for, 5 classes, no pretrained weights. The detector and
track-head weights are the same: mmdet's model is initialised with a fixed
seed and its state dict is loaded into ours (strict).

The same generated 640x360 videos (``vis.datasets.synthetic``) are turned
into batches once, by our dataset and the configs' pipelines, and saved;
every measurement then runs in a fresh process, so that its peak resident
memory (``ru_maxrss``) is its own, and the two implementations run in
alternation (mmdet, ours, mmdet, ours, ...) so that machine noise hits both
alike. Times are process CPU time (with one thread, what the process
itself computed, little affected by other load on a shared machine), the
wall-clock ratio printed beside; medians, and ratios mmdet / ours (> 1:
ours is faster or smaller).

* **train**: seconds per training iteration (forward, backward, SGD step
  with gradient clipping, the published optimiser), batch 1 (key +
  reference frame).
* **model only**: seconds per frame of the network (data preprocessor,
  backbone, FPN, RPN, box head, mask head logits for the kept boxes), no
  tracking, mask pasting or encoding: the same layers and weights in both,
  ours with its channels-last test-time convolutions.
* **end to end**: seconds per frame from the frame tensors to each frame's
  tracked instances with compressed-RLE masks at the original resolution,
  as the implementation's own test path does it: mmdet's
  ``MaskTrackRCNN.test_step`` then ``encode_mask_results`` (what its
  ``YouTubeVISMetric`` does per frame); ours ``test_step`` (which pastes
  masks straight to RLE) then ``YouTubeVISVideoMetric``'s per-frame step.
* **paired end to end**: the same end-to-end work with both models in one
  process, frame by frame in alternation (mmdet, ours on even frames; ours,
  mmdet on odd ones): the two measurements of a frame are seconds apart, so
  the ratio of each pair is little touched by slow changes of the machine's
  load; the median of the per-frame ratios and the ratio of the totals
  (no peak memory here: one process holds both).
* **outputs**: per frame, every instance mmdet outputs is looked up among
  ours (same box, score and label) and their masks compared (pixels that
  differ); track ids are compared as partitions (two instances share an id
  in one output iff they do in the other). Our tracker assigns detections to
  tracks one to one, where mmdet's lets two detections claim one track and
  drops the loser, so ours outputs a superset.
"""
import argparse
import json
import os
import os.path as osp
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
OUR_CONFIG = osp.join(ROOT, 'configs', 'masktrack_r50.py')
MMDET_CONFIG = ('masktrack_rcnn/'
                'masktrack-rcnn_mask-rcnn_r50_fpn_8xb1-12e_youtubevis2019.py')
NUM_CLASSES = 5


# ---------------------------------------------------------------------------
# Configs and models
# ---------------------------------------------------------------------------
def model_config(impl: str, depth: int):
    """The model config of ``impl`` ('mmdet' or 'ours') at ``depth``."""
    import mmdet
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', MMDET_CONFIG)
        if impl == 'mmdet' else OUR_CONFIG)
    det = cfg.model.detector
    det.init_cfg = None
    det.backbone.depth = depth
    det.backbone.init_cfg = None
    if depth < 50:  # basic blocks: 4x fewer output channels
        det.neck.in_channels = [64, 128, 256, 512]
    det.roi_head.bbox_head.num_classes = NUM_CLASSES
    det.roi_head.mask_head.num_classes = NUM_CLASSES
    return cfg


def build_model(impl: str, depth: int, weights: str = None):
    import torch
    from mmdet.registry import MODELS
    cfg = model_config(impl, depth)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if weights and osp.exists(weights):
        state = torch.load(weights, map_location='cpu', weights_only=True)
        model.load_state_dict(state, strict=True)
    else:
        model.init_weights()
    return model, cfg


def make_inputs(work: str, args) -> None:
    """Generate the videos, the shared weights and the batches."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmdet.registry import DATASETS
    from vis.config_utils import apply_data_root
    from vis.datasets.synthetic import make_synthetic_ytvis

    data_root = osp.join(work, 'data')
    make_synthetic_ytvis(data_root, num_train=4, num_valid=args.videos,
                         num_frames=args.frames, height=args.height,
                         width=args.width, seed=0, max_objects=3)
    model, _ = build_model('mmdet', args.depth)
    torch.save(model.state_dict(), osp.join(work, 'weights.pth'))

    cfg = Config.fromfile(OUR_CONFIG)
    apply_data_root(cfg, data_root)
    scale = (args.width, args.height)
    cfg.train_dataloader.dataset.pipeline[1].transforms[2].scale = scale
    cfg.test_dataloader.dataset.pipeline[0].transforms[1].scale = scale
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    test_set = DATASETS.build(cfg.test_dataloader.dataset)
    torch.manual_seed(0)
    import random
    import numpy as np
    random.seed(0)
    np.random.seed(0)
    train = [pseudo_collate([train_set[(i % len(train_set),
                                        (1 + 2 * i) % args.frames)]])
             for i in range(args.train_iters + 1)]
    test = [pseudo_collate([test_set[i]]) for i in range(len(test_set))]
    with open(osp.join(work, 'batches.pkl'), 'wb') as f:
        pickle.dump(dict(train=train, test=test), f)


# ---------------------------------------------------------------------------
# Worker: one measurement in its own process
# ---------------------------------------------------------------------------
def quiet() -> None:
    """Only errors from mmengine's loggers (weight init reports etc.)."""
    import warnings
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel('ERROR')
    MMLogger.get_instance('mmengine').setLevel('ERROR')
    warnings.filterwarnings('ignore')


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_train(model, batches):
    import torch
    from mmengine.optim import build_optim_wrapper
    optim = build_optim_wrapper(model, dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.00125, momentum=0.9,
                       weight_decay=0.0001),
        clip_grad=dict(max_norm=35, norm_type=2)))
    model.train()
    times, cpu = [], []
    for i, batch in enumerate(batches):
        torch.manual_seed(i)  # the same proposals sampled by both
        start, start_cpu = time.perf_counter(), time.process_time()
        model.train_step(batch, optim)
        if i > 0:  # the first iteration warms up
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return dict(train_s=times, train_cpu_s=cpu)


def network_only(model, batch) -> int:
    """The network of every frame of a video, no tracking or pasting."""
    from mmdet.structures.bbox import bbox2roi
    data = model.data_preprocessor(batch, False)
    inputs, track_samples = data['inputs'], data['data_samples']
    video = track_samples[0]
    det = model.detector
    for t in range(len(video)):
        sample = video[t]
        if hasattr(model, 'frame_features'):  # ours: channels-last convs
            conv_x, x = model.frame_features(inputs[:, t])
        else:
            conv_x = x = det.extract_feat(inputs[:, t].contiguous())
        proposals = det.rpn_head.predict(conv_x, [sample])
        dets = det.roi_head.predict_bbox(
            x, [sample.metainfo], proposals, det.roi_head.test_cfg,
            rescale=False)
        boxes = [d.bboxes for d in dets]
        if len(boxes[0]):
            det.roi_head._mask_forward(x, bbox2roi(boxes))
    return len(video)


def frame_outputs(impl: str, samples) -> list:
    """Per frame: boxes, scores, labels, ids and compressed RLE masks."""
    import numpy as np
    out = []
    for sample in samples:
        pred = sample.pred_track_instances
        if impl == 'mmdet':
            from mmdet.structures.mask import encode_mask_results
            rles = encode_mask_results(pred.masks.detach().cpu().numpy())
        else:
            from vis.evaluation.ytvis_metric import frame_rles
            rles = frame_rles(pred)
        out.append(dict(
            boxes=pred.bboxes.cpu().numpy().astype(np.float32),
            scores=pred.scores.cpu().numpy().astype(np.float32),
            labels=pred.labels.cpu().numpy(),
            ids=pred.instances_id.cpu().numpy(), rles=rles))
    return out


def run_infer(impl, model, batches):
    import torch
    model.eval()
    times = {key: [] for key in ('network_s', 'network_cpu_s', 'e2e_s',
                                 'e2e_cpu_s')}
    outputs = []
    with torch.no_grad():
        network_only(model, batches[0])  # warm-up
        for batch in batches:
            start, start_cpu = time.perf_counter(), time.process_time()
            num = network_only(model, batch)
            times['network_s'].append((time.perf_counter() - start) / num)
            times['network_cpu_s'].append(
                (time.process_time() - start_cpu) / num)
        for batch in batches:
            start, start_cpu = time.perf_counter(), time.process_time()
            samples = model.test_step(batch)[0]
            video = frame_outputs(impl, samples)
            times['e2e_s'].append((time.perf_counter() - start) / len(video))
            times['e2e_cpu_s'].append(
                (time.process_time() - start_cpu) / len(video))
            outputs.append(video)
    return times, outputs


def run_paired(models: dict, batches) -> dict:
    """Both models in one process, frame by frame in alternation (which one
    goes first alternates too): per frame, its share of the video's data
    preprocessing, then detection, segmentation and tracking of the frame,
    then its tracked instances as compressed RLEs. Seconds of CPU time per
    frame for each model, paired by frame."""
    import torch
    from mmdet.structures import TrackDataSample
    times = {impl: [] for impl in models}
    order = list(models)
    with torch.no_grad():
        for index, batch in enumerate([batches[0]] + list(batches)):
            videos = {}
            prep = {}
            for impl, model in models.items():
                start = time.process_time()
                data = model.data_preprocessor(batch, False)
                prep[impl] = time.process_time() - start
                videos[impl] = (data['inputs'], data['data_samples'][0])
            num = len(videos[order[0]][1])
            for t in range(num):
                for impl in (order if t % 2 == 0 else order[::-1]):
                    model = models[impl]
                    inputs, video = videos[impl]
                    start = time.process_time()
                    if impl == 'mmdet':
                        frame = TrackDataSample(metainfo=video.metainfo)
                        frame.video_data_samples = [video[t]]
                        model.predict(inputs[:, t:t + 1], [frame])
                    else:
                        model.predict_frame(inputs[:, t], video[t])
                    frame_outputs(impl, [video[t]])
                    if index > 0:  # the first video warms up
                        times[impl].append(time.process_time() - start +
                                           prep[impl] / num)
    return times


def worker(impl: str, mode: str, work: str, depth: int, threads: int):
    import torch
    torch.set_num_threads(threads)
    from mmdet.utils import register_all_modules
    register_all_modules()
    quiet()
    import vis  # noqa: F401  (registers the project's modules)
    with open(osp.join(work, 'batches.pkl'), 'rb') as f:
        batches = pickle.load(f)
    if mode == 'paired':
        models = {name: build_model(name, depth,
                                    osp.join(work, 'weights.pth'))[0].eval()
                  for name in ('mmdet', 'ours')}
        result = dict(paired_cpu_s=run_paired(models, batches['test']))
        result['peak_rss_mib'] = peak_rss_mib()
        print('RESULT ' + json.dumps(result))
        return
    model, _ = build_model(impl, depth, osp.join(work, 'weights.pth'))
    if mode == 'train':
        result = run_train(model, batches['train'])
    else:
        result, outputs = run_infer(impl, model, batches['test'])
        with open(osp.join(work, f'outputs_{impl}.pkl'), 'wb') as f:
            pickle.dump(outputs, f)
    result['peak_rss_mib'] = peak_rss_mib()
    print('RESULT ' + json.dumps(result))


# ---------------------------------------------------------------------------
# Comparing outputs
# ---------------------------------------------------------------------------
def compare_outputs(work: str) -> dict:
    """mmdet's instances found in ours; mask pixel differences; id
    partitions."""
    import numpy as np
    from pycocotools import mask as mask_utils
    with open(osp.join(work, 'outputs_mmdet.pkl'), 'rb') as f:
        theirs = pickle.load(f)
    with open(osp.join(work, 'outputs_ours.pkl'), 'rb') as f:
        ours = pickle.load(f)
    found = total = max_diff = 0
    same_partition = pairs = 0
    extra = 0
    for video_t, video_o in zip(theirs, ours):
        matched = []  # (their id, our id) per found instance
        for ft, fo in zip(video_t, video_o):
            extra += len(fo['scores']) - len(ft['scores'])
            for k in range(len(ft['scores'])):
                total += 1
                # channels-last convolutions round differently
                hit = np.nonzero(
                    (np.abs(fo['boxes'] - ft['boxes'][k]).max(1) < 1e-2)
                    & (np.abs(fo['scores'] - ft['scores'][k]) < 1e-4)
                    & (fo['labels'] == ft['labels'][k]))[0]
                if not len(hit):
                    continue
                found += 1
                j = int(hit[0])
                a = mask_utils.decode(ft['rles'][k]).astype(bool)
                b = mask_utils.decode(fo['rles'][j]).astype(bool)
                max_diff = max(max_diff, int((a != b).sum()))
                matched.append((int(ft['ids'][k]), int(fo['ids'][j])))
        # id partitions: same id in theirs <=> same id in ours
        for i in range(len(matched)):
            for j in range(i + 1, len(matched)):
                pairs += 1
                same_partition += ((matched[i][0] == matched[j][0])
                                   == (matched[i][1] == matched[j][1]))
    return dict(mmdet_instances=total, found_in_ours=found,
                ours_extra_instances=extra,
                max_mask_pixels_differing=max_diff,
                id_pairs_agreeing=same_partition, id_pairs=pairs)


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------
def launch(impl, mode, work, args) -> dict:
    cmd = [sys.executable, osp.abspath(__file__), '--worker', impl, mode,
           work, '--depth', str(args.depth), '--threads', str(args.threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[7:])
    raise RuntimeError(f'{impl} {mode} worker failed:\n{proc.stderr[-3000:]}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depth', type=int, default=18, choices=[18, 34, 50,
                                                                   101])
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=360)
    parser.add_argument('--train-iters', type=int, default=4,
                        help='timed iterations per training process')
    parser.add_argument('--videos', type=int, default=2)
    parser.add_argument('--frames', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=2,
                        help='alternating rounds (mmdet, ours) per mode')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out-json', help='also write the figures here')
    parser.add_argument('--work-dir', help='keep the generated inputs and '
                        'outputs here (default: a temporary directory)')
    parser.add_argument('--worker', nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker, args.depth, args.threads)

    import torch
    from mmdet.utils import register_all_modules
    register_all_modules()
    quiet()
    import vis  # noqa: F401  (registers the project's modules)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or tmp
        os.makedirs(work, exist_ok=True)
        make_inputs(work, args)
        runs = {impl: {} for impl in ('mmdet', 'ours')}
        for mode in ('train', 'infer'):
            for _ in range(args.rounds):
                for impl in ('mmdet', 'ours'):
                    result = launch(impl, mode, work, args)
                    for key, value in result.items():
                        if key == 'peak_rss_mib':
                            key = f'{mode}_peak_rss_mib'
                            value = [value]
                        runs[impl].setdefault(key, []).extend(value)
        outputs = compare_outputs(work)
        paired = launch('both', 'paired', work, args)['paired_cpu_s']
    med = {impl: {k: statistics.median(v) for k, v in r.items()}
           for impl, r in runs.items()}
    print(f'torch {torch.__version__}, {args.threads} thread(s), ResNet-'
          f'{args.depth} FPN, {args.width}x{args.height}, '
          f'{args.rounds} alternating rounds')
    rows = [('train s/iteration', 'train'),
            ('model-only s/frame', 'network'),
            ('end-to-end s/frame', 'e2e')]
    print('medians; cpu = process CPU time (robust to other load on a '
          'shared machine), wall = elapsed')
    print(f'{"":24s}{"mmdet":>9s}{"ours":>9s}{"mmdet/ours":>12s}'
          f'{"(wall)":>9s}')
    for name, key in rows:
        a, b = med['mmdet'][f'{key}_cpu_s'], med['ours'][f'{key}_cpu_s']
        wall = med['mmdet'][f'{key}_s'] / med['ours'][f'{key}_s']
        print(f'{name + " (cpu)":24s}{a:9.3f}{b:9.3f}{a / b:12.2f}'
              f'{wall:9.2f}')
    for name, key in (('train peak RSS MiB', 'train_peak_rss_mib'),
                      ('infer peak RSS MiB', 'infer_peak_rss_mib')):
        a, b = med['mmdet'][key], med['ours'][key]
        print(f'{name:24s}{a:9.0f}{b:9.0f}{a / b:12.2f}')
    fps = {impl: 1 / med[impl]['e2e_cpu_s'] for impl in med}
    print(f'end-to-end frames/s (cpu): mmdet {fps["mmdet"]:.3f}, ours '
          f'{fps["ours"]:.3f}, ratio ours/mmdet '
          f'{fps["ours"] / fps["mmdet"]:.2f}')
    frame_ratios = [a / b for a, b in zip(paired['mmdet'], paired['ours'])]
    low, _, high = statistics.quantiles(frame_ratios, n=4)
    total = {impl: sum(paired[impl]) for impl in paired}
    print(f'end to end, both models in one process, alternating frame by '
          f'frame ({len(frame_ratios)} frames): median of the per-frame '
          f'ratios mmdet/ours {statistics.median(frame_ratios):.2f} '
          f'(quartiles {low:.2f}-{high:.2f}), totals {total["mmdet"]:.1f} '
          f's / {total["ours"]:.1f} s = {total["mmdet"] / total["ours"]:.2f}')
    print('outputs: ' + json.dumps(outputs))
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(dict(args=vars(args), medians=med, outputs=outputs,
                           runs=runs, paired_cpu_s=paired,
                           paired_frame_ratio_median=statistics.median(
                               frame_ratios)), f, indent=1)


if __name__ == '__main__':
    main()
