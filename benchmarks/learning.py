"""How well a training recipe learns: AP on several generated data sets.

    python benchmarks/learning.py [--sets hard:1 hard:2 hard:3 default:0] \
        [--recipes quickstart reference] [--corrupt-prob P] \
        [--work-dir work_dirs/learning]

For every set PRESET:SEED (make_synthetic_ytvis.py --preset PRESET --seed
SEED; 40 train / 10 held-out videos for ``hard``, 48 / 12 for ``default``)
and every recipe, trains with tools/train.py, then tests with tools/test.py
on the held-out split and on the train split (can the recipe fit its own
videos?). Prints, per set and recipe: held-out AP, AP50, per-frame mask AP,
train-split AP, per-class held-out AP and the training's wall-clock and CPU
minutes; then per preset and recipe the mean and spread (sample standard
deviation, min-max) over seeds.

Recipes: ``quickstart`` is configs/quickstart_synthetic.py (or --config,
a candidate recipe); ``reference`` pins the quickstart recipe of
2026-12-04 (BatchNorm, 16 px smallest anchors, 5 epochs, no scale/colour
augmentation), written into the work dir as a config over the same model,
so that a changed recipe and the reference are measured in the same run on
the same machine. ``troi`` is configs/quickstart_synthetic_troi.py. Finished
runs (a metrics file in place) are read back, not retrained: delete a run's
folder to measure it again. One training at a time: on 2 cores two
trainings slow each other down more than tenfold.
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from vis.datasets.synthetic import make_synthetic_ytvis  # noqa: E402
from vis.datasets.synthetic_style import PRESETS  # noqa: E402

CONFIGS = {
    'quickstart': osp.join(ROOT, 'configs', 'quickstart_synthetic.py'),
    'troi': osp.join(ROOT, 'configs', 'quickstart_synthetic_troi.py'),
}
#: videos (train, held-out) per preset, as the sets the recipe is judged on
SPLIT_SIZES = {'hard': (40, 10), 'default': (48, 12)}

# The quickstart recipe of 2026-12-04: BatchNorm trained on
# 2-frame batches, anchors from 16 px, 5 epochs (as many iterations as the
# data has frames), the base pipeline without scale/colour jitter or noise,
# 200 RPN proposals at test time, the track head's match loss at full
# weight.
REFERENCE_RECIPE = '''_base_ = [{config!r}]
model = dict(
    detector=dict(
        backbone=dict(norm_cfg=dict(_delete_=True, type='BN',
                                    requires_grad=True)),
        rpn_head=dict(anchor_generator=dict(scales=[4])),
        test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=200))),
    track_head=dict(embed_head=dict(loss_match=dict(
        type='mmdet.CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))))
train_pipeline = [
    dict(type='UniformRefFrameSample', num_ref_imgs=1, frame_range=6,
         filter_key_img=True),
    dict(type='TransformBroadcaster', share_random_params=True,
         transforms=[
             dict(type='LoadImageFromFile'),
             dict(type='LoadTrackAnnotations', with_mask=True),
             dict(type='Resize', scale=_base_.img_scale, keep_ratio=True),
             dict(type='RandomFlip', prob=0.5),
         ]),
    dict(type='KeyFrameReferenceWarp'),
    dict(type='PackTrackInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
max_epochs = 5
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min_ratio=0.02, convert_to_iter_based=True)
]
train_cfg = dict(_delete_=True, type='ResumableEpochBasedTrainLoop',
                 max_epochs=max_epochs, val_interval=max_epochs,
                 val_begin=max_epochs)
log_processor = dict(by_epoch=True)
default_hooks = dict(checkpoint=dict(_delete_=True,
                                     type='AtomicCheckpointHook', interval=1,
                                     max_keep_ckpts=1))
'''


def parse_set(text: str):
    """``PRESET:SEED`` -> (preset, seed); a clear error otherwise."""
    preset, _, seed = text.partition(':')
    if preset not in PRESETS or not seed.lstrip('-').isdigit():
        raise argparse.ArgumentTypeError(
            f'{text!r}: expected PRESET:SEED with PRESET one of '
            f'{", ".join(PRESETS)} and an integer SEED')
    return preset, int(seed)


def recipe_config(recipe: str, work_dir: str, config: str) -> str:
    """The config file of ``recipe`` (the reference one is written)."""
    if recipe == 'reference':
        path = osp.join(work_dir, 'reference_recipe.py')
        os.makedirs(work_dir, exist_ok=True)
        with open(path, 'w') as f:
            f.write(REFERENCE_RECIPE.format(config=config))
        return path
    if recipe == 'quickstart':
        return config
    return CONFIGS[recipe]


def best_or_last_checkpoint(run_dir: str) -> str:
    """The checkpoint the held-out selection kept, else the last one."""
    best = sorted(f for f in os.listdir(run_dir)
                  if f.startswith('best_') and f.endswith('.pth'))
    if best:
        return osp.join(run_dir, best[-1])
    with open(osp.join(run_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def _run(cmd: List[str], log_path: str) -> float:
    """Run ``cmd`` with its output in ``log_path``; return its children's
    CPU seconds. A failure names the log."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log_path, 'w') as log:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f'{" ".join(cmd)} failed (exit {proc.returncode}); '
                         f'see {log_path}')
    user = after.ru_utime - before.ru_utime
    return user + after.ru_stime - before.ru_stime


def measure(recipe: str, data_root: str, run_dir: str, config: str,
            metrics: List[str], splits=('valid', 'train')) -> dict:
    """Train ``recipe`` on ``data_root`` and test it on ``splits``."""
    summary_path = osp.join(run_dir, 'learning.json')
    if osp.isfile(summary_path):
        with open(summary_path) as f:
            return json.load(f)
    os.makedirs(run_dir, exist_ok=True)
    start = time.time()
    cpu = _run([sys.executable, 'tools/train.py', config, '--data-root',
                data_root, '--work-dir', run_dir],
               osp.join(run_dir, 'train.log'))
    wall = time.time() - start
    checkpoint = best_or_last_checkpoint(run_dir)
    out = dict(recipe=recipe, data_root=data_root, checkpoint=checkpoint,
               train_wall_min=wall / 60, train_cpu_min=cpu / 60)
    for split in splits:
        test_dir = osp.join(run_dir, f'test_{split}')
        _run([sys.executable, 'tools/test.py', config, checkpoint,
              '--data-root', data_root, '--split', split, '--work-dir',
              test_dir, '--metrics'] + metrics,
             osp.join(run_dir, f'test_{split}.log'))
        with open(osp.join(test_dir, 'metrics.json')) as f:
            out[split] = json.load(f)
    with open(summary_path + '.tmp', 'w') as f:
        json.dump(out, f, indent=2)
    os.replace(summary_path + '.tmp', summary_path)
    return out


def _pct(value: Optional[float]) -> str:
    return '-' if value is None or value < 0 else f'{100 * value:.1f}'


def spread(values: List[float]) -> str:
    """``mean +- sd (min-max)`` of fractions, x100; the sd needs two."""
    if not values:
        return '-'
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return (f'{100 * mean:.1f} +- {100 * sd:.1f} '
            f'({100 * min(values):.1f}-{100 * max(values):.1f})')


def report(rows: List[dict]) -> str:
    """The per-run table, then the per-preset spread over seeds."""
    lines = ['set        recipe      AP    AP50  frame mAP  train AP  '
             'wall min  cpu min  per-class AP (held-out)']
    for r in rows:
        valid, train = r['valid'], r['train']
        per_class = ' '.join(
            f'{name} {_pct(stats.get("AP"))}'
            for name, stats in (valid.get('per_class') or {}).items())
        lines.append(
            f'{r["set"]:<10} {r["recipe"]:<10} {_pct(valid.get("AP")):>5} '
            f'{_pct(valid.get("AP50")):>6} '
            f'{_pct(valid.get("frame_mask_AP")):>10} '
            f'{_pct(train.get("AP")):>9} {r["train_wall_min"]:>9.1f} '
            f'{r["train_cpu_min"]:>8.1f}  {per_class}')
    lines += ['', 'preset     recipe      seeds  held-out AP mean +- sd '
              '(min-max)   train AP mean +- sd']
    groups: Dict[tuple, List[dict]] = {}
    for r in rows:
        groups.setdefault((r['set'].split(':')[0], r['recipe']),
                          []).append(r)
    for (preset, recipe), group in groups.items():
        lines.append(
            f'{preset:<10} {recipe:<10} {len(group):>6}  '
            f'{spread([g["valid"]["AP"] for g in group]):<34} '
            f'{spread([g["train"]["AP"] for g in group])}')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.strip().split('\n')[0])
    parser.add_argument('--sets', nargs='+', type=parse_set,
                        default=[('hard', 1), ('hard', 2), ('hard', 3),
                                 ('default', 0)], metavar='PRESET:SEED')
    parser.add_argument('--recipes', nargs='+',
                        default=['quickstart', 'reference'],
                        choices=['quickstart', 'reference', 'troi'])
    parser.add_argument('--config', default=CONFIGS['quickstart'],
                        help='the quickstart recipe\'s config (default: '
                        'configs/quickstart_synthetic.py)')
    parser.add_argument('--corrupt-prob', type=float, default=0.0,
                        help='frames degraded in the generated sets (the '
                        'TRoI comparison uses 0.33)')
    parser.add_argument('--metrics', nargs='+', default=['ap', 'frame'])
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs',
                                                       'learning'))
    args = parser.parse_args(argv)
    rows = []
    for preset, seed in args.sets:
        name = f'{preset}_s{seed}' + (f'_c{args.corrupt_prob:g}'
                                      if args.corrupt_prob else '')
        data_root = osp.join(args.work_dir, 'data', name)
        if not osp.isfile(osp.join(data_root, 'valid.json')):
            num_train, num_valid = SPLIT_SIZES.get(preset, (40, 10))
            make_synthetic_ytvis(data_root, num_train=num_train,
                                 num_valid=num_valid, seed=seed,
                                 corrupt_prob=args.corrupt_prob,
                                 style=PRESETS[preset], progress=True)
        for recipe in args.recipes:
            config = recipe_config(recipe, args.work_dir, args.config)
            run_dir = osp.join(args.work_dir, 'runs', f'{name}_{recipe}')
            print(f'{preset}:{seed} {recipe}: training in {run_dir}',
                  flush=True)
            row = measure(recipe, data_root, run_dir, config, args.metrics)
            row['set'] = f'{preset}:{seed}'
            rows.append(row)
            print(f'  held-out AP {_pct(row["valid"].get("AP"))}, train AP '
                  f'{_pct(row["train"].get("AP"))}, '
                  f'{row["train_wall_min"]:.1f} min', flush=True)
    print()
    print(report(rows))
    return rows


if __name__ == '__main__':
    main()
