"""Resuming after a crash: atomic checkpoints, and iteration, optimizer,
lr scheduler and random generator states restored (vis.engine)."""
import copy
import glob
import json
import math
import os
import os.path as osp
import random
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
import torch
from mmengine.fileio import LocalBackend
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import vis  # noqa: F401  (registers vis.engine)
from vis.compat import load_checkpoint_file
from vis.engine import get_random_state, set_random_state

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'ci_tiny.py')


# --- a toy runner: the hooks and the loop on a model that trains in ms ---

class ToyData(Dataset):
    """Each item draws from torch's generator while loading, so the data
    depend on the random state as augmentations do."""

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        return dict(inputs=torch.full((2, ), float(idx)) + torch.rand(2))


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))  # pseudo_collate: a list
        if mode == 'loss':  # the noise needs the random state too
            return dict(loss=(out - torch.randn_like(out)).pow(2).mean())
        return out


class Crash(Exception):
    pass


class CrashAt(Hook):
    """Stop the process (as a kill would) after iteration ``at``."""

    def __init__(self, at):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.at:
            raise Crash


class Probe(Hook):
    """Record the state the resumed run starts its first iteration with."""
    priority = 'LOWEST'

    def before_train(self, runner):
        self.iter = runner.iter
        self.optimizer = copy.deepcopy(runner.optim_wrapper.state_dict())
        self.schedulers = copy.deepcopy(
            [s.state_dict() for s in runner.param_schedulers])
        self.random_state = get_random_state()


def toy_runner(work_dir, *hooks, resume=False, max_keep_ckpts=2,
               interval=3):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'toy_{uuid.uuid4().hex[:8]}',
        train_dataloader=dict(
            dataset=ToyData(), batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=[dict(type='LinearLR', start_factor=0.1,
                              by_epoch=False, begin=0, end=10)],
        train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=3),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='AtomicCheckpointHook', interval=interval,
                            by_epoch=False, max_keep_ckpts=max_keep_ckpts)),
        custom_hooks=[dict(type='NonFiniteLossHook'),
                      dict(type='RandomStateHook'), *hooks],
        randomness=dict(seed=0),
        default_scope='mmdet',
        resume=resume,
        log_level='WARNING')


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def assert_same(a, b, where=''):
    """Nested equality of state dicts (tensors compared exactly)."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a.cpu(), b.cpu()), where
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            assert_same(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, (where, a, b)


def test_random_state_round_trip_and_weights_only(tmp_path):
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    state = get_random_state()
    path = str(tmp_path / 'state.pth')
    torch.save(dict(random_state=state), path)
    loaded = load_checkpoint_file(path, trusted=False)['random_state']
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(2)
    np.random.seed(2)
    torch.manual_seed(2)
    set_random_state(loaded)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == \
        expected


def test_resume_restores_iteration_optimizer_scheduler_and_rng(tmp_path):
    with pytest.raises(Crash):
        toy_runner(tmp_path, CrashAt(7)).train()  # 4 iterations an epoch
    assert last_checkpoint(tmp_path).endswith('iter_6.pth')
    saved = load_checkpoint_file(osp.join(tmp_path, 'iter_6.pth'),
                                 trusted=False)
    assert saved['meta']['iter'] == 6
    assert saved['optimizer']['state'], 'no momentum buffers were saved'

    probe = Probe()
    runner = toy_runner(tmp_path, probe, resume=True)
    runner.train()
    assert probe.iter == 6
    assert_same(probe.optimizer, saved['optimizer'], 'optimizer')
    assert_same(probe.schedulers, saved['param_schedulers'], 'schedulers')
    assert_same(probe.random_state, saved['random_state'], 'random_state')
    assert runner.iter == 12  # 3 epochs x 4 iterations, not 6 + 12
    final = load_checkpoint_file(last_checkpoint(tmp_path), trusted=False)
    assert final['meta']['iter'] == 12


def test_resume_replays_the_uninterrupted_run(tmp_path):
    """Mid-epoch resume gives exactly the weights of a run never stopped."""
    whole = toy_runner(tmp_path / 'whole')
    whole.train()
    with pytest.raises(Crash):
        toy_runner(tmp_path / 'cut', CrashAt(6)).train()
    assert last_checkpoint(tmp_path / 'cut').endswith('iter_3.pth')
    resumed = toy_runner(tmp_path / 'cut', resume=True)
    resumed.train()
    assert resumed.iter == whole.iter == 12
    assert_same(resumed.model.state_dict(), whole.model.state_dict(),
                'weights')


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    """A write that dies halfway leaves last_checkpoint naming the previous,
    complete checkpoint, even when only one checkpoint is kept."""
    real_put = LocalBackend.put
    calls = []

    def dying_put(self, obj, filepath):
        calls.append(filepath)
        if len(calls) == 2:  # the second checkpoint: half its bytes, then die
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise OSError('disk gone mid-write')
        return real_put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', dying_put)
    with pytest.raises(OSError, match='mid-write'):
        toy_runner(tmp_path, max_keep_ckpts=1).train()
    assert len(calls) == 2
    assert last_checkpoint(tmp_path) == osp.join(tmp_path, 'iter_3.pth')
    good = load_checkpoint_file(osp.join(tmp_path, 'iter_3.pth'),
                                trusted=False)
    assert good['meta']['iter'] == 3
    # neither the half-written file nor its partial copy is left
    assert [p for p in os.listdir(tmp_path) if '.pth' in p] == ['iter_3.pth']

    # a partial file left by a kill is cleared when training starts again
    monkeypatch.setattr(LocalBackend, 'put', real_put)
    stale = osp.join(tmp_path, '.iter_6.pth.partial')
    with open(stale, 'wb') as f:
        f.write(b'half')
    toy_runner(tmp_path, max_keep_ckpts=1, resume=True).train()
    assert not osp.exists(stale)
    assert last_checkpoint(tmp_path) == osp.join(tmp_path, 'iter_12.pth')
    assert sorted(glob.glob(osp.join(tmp_path, '*.pth'))) == [
        osp.join(tmp_path, 'iter_12.pth')]


# --- the real tools: kill -9 mid-epoch, then --resume ---

def logged_steps(work_dir):
    """The training rows the newest run in work_dir logged, in order."""
    paths = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    with open(paths[-1]) as f:
        return [row for row in map(json.loads, f) if 'loss' in row]


def train_cmd(data_root, work_dir, *extra):
    return [sys.executable, 'tools/train.py', CONFIG, '--data-root',
            data_root, '--work-dir', str(work_dir), *extra, '--cfg-options',
            'train_cfg.val_begin=100',
            'default_hooks.checkpoint.by_epoch=False',
            'default_hooks.checkpoint.interval=4',
            'default_hooks.checkpoint.max_keep_ckpts=1',
            'default_hooks.logger.interval=1']


def test_kill_mid_epoch_then_resume_matches_uninterrupted_run(
        tiny_ytvis, tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    # 6 videos x 5 frames, 2 frames a batch: 15 iterations in the epoch
    whole, cut = tmp_path / 'whole', tmp_path / 'cut'
    subprocess.run(train_cmd(tiny_ytvis, whole), cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=600)

    with open(tmp_path / 'first.log', 'w') as log:
        proc = subprocess.Popen(train_cmd(tiny_ytvis, cut), cwd=ROOT,
                                env=env, stdout=log, stderr=log)
    try:
        deadline = time.time() + 300
        while not osp.isfile(cut / 'last_checkpoint'):
            assert proc.poll() is None, 'training ended before a checkpoint'
            assert time.time() < deadline
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed_at = int(last_checkpoint(cut).rsplit('_', 1)[1].split('.')[0])
    assert killed_at < 15, 'killed at the end of the epoch, not in it'

    out = subprocess.run(train_cmd(tiny_ytvis, cut, '--resume'), cwd=ROOT,
                         env=env, capture_output=True, text=True,
                         timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    assert f'resumed epoch: 0, iter: {killed_at}' in log
    assert (f'resuming epoch 1 at batch {killed_at + 1} of 15 '
            f'({killed_at} already trained)') in log
    assert 'restored the random generator states' in log

    # the run ends after 15 iterations in all (mmengine's loop would redo
    # the first ones), with one checkpoint kept and no partial file left
    assert last_checkpoint(cut) == str(cut / 'iter_15.pth')
    assert sorted(p for p in os.listdir(cut) if '.pth' in p) == \
        ['iter_15.pth']
    final = load_checkpoint_file(str(cut / 'iter_15.pth'), trusted=False)
    assert final['meta']['iter'] == 15

    # every iteration after the checkpoint ran once, and exactly as in the
    # run that was never interrupted: same lr (scheduler), same losses
    # (weights, optimizer momentum, sampler order, random augmentations)
    ref, got = logged_steps(whole), logged_steps(cut)
    assert [r['step'] for r in ref] == list(range(1, 16))
    assert [r['step'] for r in got] == list(range(killed_at + 1, 16))
    for a, b in zip(ref[killed_at:], got):
        for key in ('lr', 'loss', 'loss_cls', 'loss_mask', 'loss_match'):
            assert math.isclose(a[key], b[key], rel_tol=1e-5,
                                abs_tol=1e-7), (b['step'], key, a[key],
                                                b[key])
