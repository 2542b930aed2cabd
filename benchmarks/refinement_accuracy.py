"""Mask and boundary accuracy of the refinement variants, same budget.

    python benchmarks/refinement_accuracy.py [--seed 5] [--width 640] \
        [--height 360] [--models plain pointrend regionrefine] \
        [--work-dir work_dirs/refinement]

Generates one set of the default preset at WIDTH x HEIGHT (48 train / 12
held-out videos; at 640x360 the objects span 40-220 pixels, where the 28x28
mask grid shows), then for every model trains its quickstart config
(configs/quickstart_synthetic.py, quickstart_synthetic_pointrend.py,
quickstart_synthetic_regionrefine.py: the same frame size, 320x192 network
input, schedule and seed) with tools/train.py and tests it on the held-out
videos with ``tools/test.py --metrics ap boundary``. Prints mask AP, AP50,
AP75, Boundary AP and Boundary AP75, and each training's wall-clock and CPU
minutes with their ratio to the plain model's in the same run. One
training at a time; finished runs (a learning.json in place) are read back:
delete a run's folder to measure it again.
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from learning import _pct, measure  # noqa: E402

from vis.datasets.synthetic import make_synthetic_ytvis  # noqa: E402

CONFIGS = {
    'plain': 'configs/quickstart_synthetic.py',
    'pointrend': 'configs/quickstart_synthetic_pointrend.py',
    'regionrefine': 'configs/quickstart_synthetic_regionrefine.py',
}
KEYS = ('AP', 'AP50', 'AP75', 'boundary_AP', 'boundary_AP75')


def report(rows: dict) -> str:
    """One line per model; cost ratios against ``plain`` when it ran."""
    lines = ['model         mask AP  AP50  AP75  bAP   bAP75  train wall '
             'min (x plain)  train cpu min (x plain)']
    plain = rows.get('plain')
    for name, row in rows.items():
        valid = row['valid']
        wall, cpu = row['train_wall_min'], row['train_cpu_min']
        wall_ratio = f'{wall / plain["train_wall_min"]:.2f}x' if plain \
            else '-'
        cpu_ratio = f'{cpu / plain["train_cpu_min"]:.2f}x' if plain else '-'
        values = ' '.join(f'{_pct(valid.get(k)):>5}' for k in KEYS)
        lines.append(f'{name:<13} {values}  {wall:>6.1f} ({wall_ratio})'
                     f'          {cpu:>6.1f} ({cpu_ratio})')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.strip().split('\n')[0])
    parser.add_argument('--seed', type=int, default=5)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=360)
    parser.add_argument('--models', nargs='+', default=list(CONFIGS),
                        choices=list(CONFIGS))
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs',
                                                       'refinement'))
    args = parser.parse_args(argv)
    name = f'default_s{args.seed}_{args.width}x{args.height}'
    data_root = osp.join(args.work_dir, 'data', name)
    if not osp.isfile(osp.join(data_root, 'valid.json')):
        make_synthetic_ytvis(data_root, num_train=48, num_valid=12,
                             width=args.width, height=args.height,
                             seed=args.seed, progress=True)
    rows = {}
    for model in args.models:
        run_dir = osp.join(args.work_dir, 'runs', f'{name}_{model}')
        print(f'{model}: training in {run_dir}', flush=True)
        rows[model] = measure(model, data_root, run_dir,
                              osp.join(ROOT, CONFIGS[model]),
                              ['ap', 'boundary'], splits=('valid',))
        # this model's line, with its ratio to the plain model when it ran
        so_far = {name: rows[name] for name in ('plain', model)
                  if name in rows}
        print(report(so_far).splitlines()[-1], flush=True)
    print()
    print(report(rows))
    return rows


if __name__ == '__main__':
    main()
