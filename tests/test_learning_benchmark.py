"""benchmarks/learning.py: its sets, its reference recipe and its report
(the trainings themselves are measured by hand, see docs/benchmarks.md)."""
import argparse
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    'learning_benchmark', osp.join(ROOT, 'benchmarks', 'learning.py'))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_sets_parse_and_bad_ones_are_named():
    assert bench.parse_set('hard:3') == ('hard', 3)
    for bad in ('hard', 'extreme:1', 'hard:x'):
        with pytest.raises(argparse.ArgumentTypeError, match=bad):
            bench.parse_set(bad)


def test_reference_recipe_is_the_old_quickstart(tmp_path):
    path = bench.recipe_config('reference', str(tmp_path),
                               bench.CONFIGS['quickstart'])
    ref = Config.fromfile(path)
    new = Config.fromfile(bench.CONFIGS['quickstart'])
    assert ref.model.detector.backbone.norm_cfg == dict(type='BN',
                                                        requires_grad=True)
    assert ref.model.detector.rpn_head.anchor_generator.scales == [4]
    assert ref.train_cfg.type == 'ResumableEpochBasedTrainLoop'
    assert ref.train_cfg.max_epochs == 5
    broadcast = ref.train_dataloader.dataset.pipeline[1]
    steps = [t.type for t in broadcast.transforms]
    assert steps == ['LoadImageFromFile', 'LoadTrackAnnotations', 'Resize',
                     'RandomFlip']
    # today's recipe: quarter-weight match loss, by iterations; the
    # reference pins the old values (both test with 200 proposals)
    assert ref.model.detector.test_cfg.rpn.max_per_img == 200
    assert new.model.detector.test_cfg.rpn.max_per_img == 200
    assert ref.model.track_head.embed_head.loss_match.loss_weight == 1.0
    assert new.model.track_head.embed_head.loss_match.loss_weight == 0.25
    assert new.train_cfg.type == 'IterBasedTrainLoop'
    assert ref.default_hooks.checkpoint.get('by_epoch', True)
    assert ref.log_processor.by_epoch
    # the same model otherwise
    assert ref.model.detector.neck == new.model.detector.neck
    assert ref.optim_wrapper == new.optim_wrapper


def _row(set_name, recipe, ap, train_ap):
    return dict(set=set_name, recipe=recipe, train_wall_min=10.0,
                train_cpu_min=19.5,
                valid=dict(AP=ap, AP50=0.9, frame_mask_AP=0.7,
                           per_class=dict(disc=dict(AP=0.5))),
                train=dict(AP=train_ap))


def test_report_gives_each_run_and_the_spread_over_seeds():
    text = bench.report([_row('hard:1', 'quickstart', 0.40, 0.6),
                         _row('hard:2', 'quickstart', 0.50, 0.7),
                         _row('hard:1', 'reference', 0.10, 0.2)])
    assert 'disc 50.0' in text
    # mean 45.0, sample sd 7.1, range 40.0-50.0
    assert '45.0 +- 7.1 (40.0-50.0)' in text
    assert '10.0 +- 0.0 (10.0-10.0)' in text  # one seed: no spread
    assert bench.spread([]) == '-'
