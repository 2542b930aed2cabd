"""benchmarks/refinement_accuracy.py: its configs and its report (the
trainings themselves are measured by hand, see docs/benchmarks.md)."""
import importlib.util
import json
import os.path as osp
import sys

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
_spec = importlib.util.spec_from_file_location(
    'refinement_benchmark',
    osp.join(ROOT, 'benchmarks', 'refinement_accuracy.py'))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _row(ap, bap, wall, cpu):
    return dict(train_wall_min=wall, train_cpu_min=cpu,
                valid=dict(AP=ap, AP50=0.9, AP75=ap - 0.1, boundary_AP=bap,
                           boundary_AP75=bap - 0.1))


def test_report_gives_accuracy_and_training_cost_against_plain():
    text = bench.report({'plain': _row(0.5, 0.3, 10.0, 20.0),
                         'regionrefine': _row(0.55, 0.4, 12.0, 23.0)})
    lines = text.splitlines()
    assert lines[1].split()[:6] == ['plain', '50.0', '90.0', '40.0', '30.0',
                                    '20.0']
    assert '(1.00x)' in lines[1]
    refined = lines[2]
    assert refined.split()[:6] == ['regionrefine', '55.0', '90.0', '45.0',
                                   '40.0', '30.0']
    assert '12.0 (1.20x)' in refined and '23.0 (1.15x)' in refined
    # without the plain model there is no ratio
    alone = bench.report({'pointrend': _row(0.5, 0.3, 9.0, 9.0)})
    assert '9.0 (-)' in alone.splitlines()[1]


def test_variants_share_the_quickstart_budget():
    configs = {name: Config.fromfile(osp.join(ROOT, path))
               for name, path in bench.CONFIGS.items()}
    plain = configs.pop('plain')
    for name, cfg in configs.items():
        assert cfg.train_cfg == plain.train_cfg, name
        assert cfg.optim_wrapper == plain.optim_wrapper, name
        assert cfg.img_scale == plain.img_scale, name
        assert cfg.train_dataloader.batch_size == \
            plain.train_dataloader.batch_size, name


def test_finished_runs_are_read_back_not_retrained(tmp_path):
    run = tmp_path / 'run'
    run.mkdir()
    summary = dict(recipe='plain', valid=dict(AP=0.4), train_wall_min=1.0,
                   train_cpu_min=2.0)
    (run / 'learning.json').write_text(json.dumps(summary))
    # no training could run here: a missing config would fail it
    got = bench.measure('plain', str(tmp_path / 'no_data'), str(run),
                        str(tmp_path / 'missing.py'), ['ap', 'boundary'],
                        splits=('valid',))
    assert got == summary
