"""Cost of Temporal RoI Align: TRoI model vs the baseline, as ratios.

    python benchmarks/troi_cost.py [--baseline CFG] [--troi CFG] \
        [--data-root DIR] [--repeats N]

Both models are built from their configs with the same seed and fed the same
generated batches; training steps (forward, backward, optimizer step) and
online inference (per frame, tracking included) are timed in alternation,
baseline then TRoI, so that machine noise hits both alike. Prints the medians
and the ratios TRoI / baseline. Untrained models detect up to
``max_per_img`` objects in every frame, the worst case for the TRoI mask
branch; pass trained checkpoints for realistic inference costs.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402

import vis  # noqa: E402,F401
from mmdet.registry import DATASETS, MODELS  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from vis.config_utils import apply_data_root  # noqa: E402


def build(config: str, data_root: str, checkpoint: str = None):
    cfg = Config.fromfile(config)
    apply_data_root(cfg, data_root)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if checkpoint:  # trained weights: realistic detection counts
        load_checkpoint(model, checkpoint, map_location='cpu')
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    test_set = DATASETS.build(cfg.test_dataloader.dataset)
    return model, optim, train_set, test_set


def train_step_time(model, optim, batch) -> float:
    model.train()
    start = time.perf_counter()
    model.train_step(batch, optim)
    return time.perf_counter() - start


def frame_time(model, video) -> float:
    model.eval()
    num_frames = len(video['data_samples'])
    start = time.perf_counter()
    with torch.no_grad():
        model.test_step(pseudo_collate([video]))
    return (time.perf_counter() - start) / num_frames


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--baseline', default='configs/quickstart_synthetic.py')
    parser.add_argument('--troi', default='configs/quickstart_synthetic_troi.py')
    parser.add_argument('--data-root', default='data/synthetic_ytvis')
    parser.add_argument('--baseline-ckpt', help='trained baseline weights')
    parser.add_argument('--troi-ckpt', help='trained TRoI weights')
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument('--videos', type=int, default=3)
    args = parser.parse_args(argv)
    register_all_modules()
    MMLogger.get_current_instance().setLevel('WARNING')
    models = {name: build(cfg, args.data_root, ckpt)
              for name, cfg, ckpt in (
                  ('baseline', args.baseline, args.baseline_ckpt),
                  ('troi', args.troi, args.troi_ckpt))}
    times = {name: dict(train=[], infer=[]) for name in models}
    for i in range(args.repeats + 2):  # the first 2 rounds warm up
        for name, (model, optim, train_set, test_set) in models.items():
            torch.manual_seed(i)  # same frames sampled for both models
            batch = pseudo_collate([train_set[(i % len(train_set), 1)],
                                    train_set[((i + 7) % len(train_set), 3)]])
            t = train_step_time(model, optim, batch)
            if i >= 2:
                times[name]['train'].append(t)
        if i >= 2 and i - 2 < args.videos:
            for name, (model, _, _, test_set) in models.items():
                times[name]['infer'].append(frame_time(model, test_set[i - 2]))
    print(f'torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'{args.repeats} training steps, {args.videos} videos each')
    med = {name: {k: statistics.median(v) for k, v in t.items()}
           for name, t in times.items()}
    for name in models:
        print(f'{name:9s} train step {med[name]["train"]:.3f} s   '
              f'inference {1000 * med[name]["infer"]:.1f} ms/frame')
    print(f'ratio TRoI/baseline: training step '
          f'{med["troi"]["train"] / med["baseline"]["train"]:.3f}, '
          f'inference frame {med["troi"]["infer"] / med["baseline"]["infer"]:.3f}')


if __name__ == '__main__':
    main()
