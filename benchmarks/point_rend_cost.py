"""Inference cost of refined masks: the quickstart model vs its PointRend
and regional-refinement variants, per frame, as ratios
(docs/refinement.md).

    python benchmarks/point_rend_cost.py [--frames 10] [--height 360] \
        [--width 640] [--threads 1] [--models plain pointrend regionrefine] \
        [--family quickstart|r50]

The models are untrained (from their configs, seed 0) and share every
tensor of the same name and shape (backbone, FPN, RPN, box and track
heads, and the regional variant's mask head), so they detect the same
boxes; untrained, they detect up to ``max_per_img`` objects in every
frame (20 for the quickstart, 100 for ``--family r50``: masktrack_r50*.py,
without their COCO initialisation, seconds per frame on one thread), the
worst case for the mask branch. One generated video is streamed
through :class:`vis.apis.VideoPredictor` (frame reading excluded, tracking
and RLE output included: ``last_model_seconds``), frame by frame in
alternation, one model after the other, after one warm-up frame each.
Prints the medians and the ratios to the plain model, of the wall time and
of the CPU time of the calling thread (the one torch thread; frame resizing
included, the same for every model), which a busy machine inflates less.
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

import vis  # noqa: E402,F401
from mmdet.registry import MODELS  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from vis.apis import VideoPredictor  # noqa: E402
from vis.config_utils import set_num_classes  # noqa: E402
from vis.datasets.synthetic import CATEGORIES, render_video  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
FAMILIES = {
    'quickstart': {
        'plain': 'configs/quickstart_synthetic.py',
        'pointrend': 'configs/quickstart_synthetic_pointrend.py',
        'regionrefine': 'configs/quickstart_synthetic_regionrefine.py',
    },
    'r50': {
        'plain': 'configs/masktrack_r50.py',
        'pointrend': 'configs/masktrack_r50_pointrend.py',
        'regionrefine': 'configs/masktrack_r50_regionrefine.py',
    },
}
CONFIGS = FAMILIES['quickstart']


def predictors(work_dir: str, names=tuple(CONFIGS), configs=CONFIGS):
    """Untrained predictors of the ``names`` models, with shared weights."""
    classes = [name for name, _ in CATEGORIES[:5]]
    out, shared = [], None
    for config in (configs[name] for name in names):
        cfg = Config.fromfile(osp.join(ROOT, config))
        set_num_classes(cfg, len(classes))
        cfg.model.detector.init_cfg = None  # no checkpoint download
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        state = model.state_dict()
        if shared is None:
            shared = state
        else:
            state.update({k: v for k, v in shared.items()
                          if k in state and state[k].shape == v.shape})
        path = osp.join(work_dir, osp.basename(config) + '.pth')
        torch.save(dict(state_dict=state,
                        meta=dict(dataset_meta=dict(classes=classes))), path)
        out.append(VideoPredictor(cfg, path))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=10)
    parser.add_argument('--height', type=int, default=360)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--models', nargs='+', choices=list(CONFIGS),
                        default=list(CONFIGS),
                        help='models to time (plain is always timed first)')
    parser.add_argument('--family', choices=list(FAMILIES),
                        default='quickstart')
    args = parser.parse_args()
    names = ['plain'] + [name for name in args.models if name != 'plain']
    torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=True)
    frames, _, _ = render_video(np.random.default_rng(0), args.frames + 1,
                                args.height, args.width, max_objects=3,
                                num_categories=5)
    with tempfile.TemporaryDirectory() as work_dir:
        models = dict(zip(names, predictors(work_dir, names,
                                            FAMILIES[args.family])))
    seconds = {name: [] for name in names}
    cpu_seconds = {name: [] for name in names}
    instances = {name: [] for name in names}
    for t, frame in enumerate(frames):
        for name, predictor in models.items():
            start = time.thread_time()
            found = predictor.predict_frame(frame)
            cpu = time.thread_time() - start
            if t:  # frame 0 warms up
                seconds[name].append(predictor.last_model_seconds)
                cpu_seconds[name].append(cpu)
                instances[name].append(len(found.scores))
    for name in names:
        print(f'{name:12s} median {statistics.median(seconds[name]):.3f} '
              f's/frame (CPU {statistics.median(cpu_seconds[name]):.3f} s), '
              f'mean {statistics.mean(instances[name]):.1f} '
              f'instances/frame ({len(seconds[name])} frames of '
              f'{args.width}x{args.height})')
    for name in names[1:]:
        ratio = statistics.median(seconds[name]) / statistics.median(
            seconds['plain'])
        cpu_ratio = statistics.median(cpu_seconds[name]) / statistics.median(
            cpu_seconds['plain'])
        print(f'{name} / plain: {ratio:.2f}x (CPU time {cpu_ratio:.2f}x)')


if __name__ == '__main__':
    main()
