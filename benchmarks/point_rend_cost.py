"""Inference cost of PointRend masks: quickstart model vs its PointRend
variant, per frame, as a ratio (docs/refinement.md).

    python benchmarks/point_rend_cost.py [--frames 10] [--height 360] \
        [--width 640] [--threads 1]

Both models are untrained (from their configs, seed 0) and share every
tensor of the same name and shape (backbone, FPN, RPN, box and track
heads), so they detect the same boxes; untrained, they detect up to
``max_per_img`` (20) objects in every frame, the worst case for the mask
branch. One generated video is streamed through :class:`vis.apis.
VideoPredictor` (frame reading excluded, tracking and RLE output included:
``last_model_seconds``), frame by frame in alternation, plain then PointRend,
after one warm-up frame each. Prints the medians and the ratio.
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile

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
CONFIGS = ('configs/quickstart_synthetic.py',
           'configs/quickstart_synthetic_pointrend.py')


def predictors(work_dir: str):
    """Untrained plain and PointRend predictors with shared weights."""
    classes = [name for name, _ in CATEGORIES[:5]]
    out, shared = [], None
    for config in CONFIGS:
        cfg = Config.fromfile(osp.join(ROOT, config))
        set_num_classes(cfg, len(classes))
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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=True)
    frames, _, _ = render_video(np.random.default_rng(0), args.frames + 1,
                                args.height, args.width, max_objects=3,
                                num_categories=5)
    with tempfile.TemporaryDirectory() as work_dir:
        plain, point_rend = predictors(work_dir)
    seconds = {'plain': [], 'pointrend': []}
    instances = {'plain': [], 'pointrend': []}
    for t, frame in enumerate(frames):
        for name, predictor in (('plain', plain), ('pointrend', point_rend)):
            found = predictor.predict_frame(frame)
            if t:  # frame 0 warms up
                seconds[name].append(predictor.last_model_seconds)
                instances[name].append(len(found.scores))
    for name in seconds:
        print(f'{name:10s} median {statistics.median(seconds[name]):.3f} '
              f's/frame, mean {statistics.mean(instances[name]):.1f} '
              f'instances/frame ({len(seconds[name])} frames of '
              f'{args.width}x{args.height})')
    ratio = statistics.median(seconds['pointrend']) / statistics.median(
        seconds['plain'])
    print(f'PointRend / plain: {ratio:.2f}x')


if __name__ == '__main__':
    main()
