"""Training stops at a non-finite loss and keeps the last good checkpoint
(vis.engine.NonFiniteLossHook, enabled in configs/_base_/schedule_12e.py)."""
import importlib.util
import os
import os.path as osp
import re
import socket
import subprocess
import sys
import uuid

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import vis  # noqa: F401
from vis.compat import load_checkpoint_file
from vis.engine import NonFiniteLossError

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'ci_tiny.py')


def load_train_tool():
    spec = importlib.util.spec_from_file_location(
        'vis_train_tool', osp.join(ROOT, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nan_loss_names_iteration_and_term_and_keeps_checkpoint(
        tiny_ytvis, tmp_path, monkeypatch):
    """tools/train.py on the tiny config; the model's loss_cls turns NaN at
    its 6th iteration, with checkpoints every 2 iterations."""
    from mmdet.registry import MODELS
    train = load_train_tool()
    # the tiny config's model (OnlineMaskTrackRCNN, which has its own loss)
    model_cls = MODELS.get('OnlineMaskTrackRCNN')
    real_loss = model_cls.loss
    calls = []

    def loss(self, *args, **kwargs):
        losses = real_loss(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 6:
            losses['loss_cls'] = losses['loss_cls'] * float('nan')
        return losses

    monkeypatch.setattr(model_cls, 'loss', loss)
    work = str(tmp_path)
    with pytest.raises(SystemExit) as stop:
        train.main([CONFIG, '--data-root', tiny_ytvis, '--work-dir', work,
                    '--cfg-options', 'train_cfg.val_begin=100',
                    f'experiment_name=nan_{uuid.uuid4().hex[:8]}',
                    'default_hooks.checkpoint.by_epoch=False',
                    'default_hooks.checkpoint.interval=2',
                    'default_hooks.checkpoint.max_keep_ckpts=1'])
    message = str(stop.value)
    assert len(calls) == 6
    assert 'non-finite loss at iteration 6 ' in message
    terms = dict(re.findall(r'(\w+)=(\S+?)[,;( ]', message))
    assert terms['loss_cls'] == 'nan' and terms['loss'] == 'nan', message
    assert 'loss_mask' not in terms  # finite terms are not listed
    assert osp.join(work, 'iter_4.pth') in message

    # the checkpoint of iteration 4 is kept and named; none of iteration 6
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work, 'iter_4.pth')
    assert [p for p in os.listdir(work) if '.pth' in p] == ['iter_4.pth']
    good = load_checkpoint_file(osp.join(work, 'iter_4.pth'))
    assert good['meta']['iter'] == 4
    assert all(torch.isfinite(v).all() for v in good['state_dict'].values()
               if v.is_floating_point())


class SqrtModel(BaseModel):
    """A finite loss whose gradient is infinite at the first iteration."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=self.w.abs().sqrt().sum())


class Zeros(Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(inputs=torch.zeros(1))


def test_infinite_gradient_norm_stops_training(tmp_path):
    runner = Runner(
        model=SqrtModel(), work_dir=str(tmp_path),
        experiment_name=f'sqrt_{uuid.uuid4().hex[:8]}',
        train_dataloader=dict(dataset=Zeros(), batch_size=1, num_workers=0,
                              sampler=dict(type='DefaultSampler',
                                           shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1),
                           clip_grad=dict(max_norm=1.0)),
        train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=1),
        default_hooks=dict(checkpoint=dict(type='AtomicCheckpointHook',
                                           interval=1, by_epoch=False)),
        custom_hooks=[dict(type='NonFiniteLossHook')],
        default_scope='mmdet', log_level='WARNING')
    with pytest.raises(NonFiniteLossError,
                       match=r'iteration 1 .*grad_norm=(inf|nan).*no '
                       r'checkpoint had been written'):
        runner.train()
    assert not [p for p in os.listdir(tmp_path) if '.pth' in p]


TWO_PROCESS_SCRIPT = r'''
import importlib.util
import os.path as osp
import sys
import torch
import torch.distributed as dist
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

sys.path.insert(0, sys.argv[1])
import vis  # noqa: F401
from vis.config_utils import run_tool

spec = importlib.util.spec_from_file_location(
    'vis_train_tool', osp.join(sys.argv[1], 'tools', 'train.py'))
train_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_tool)

dist.init_process_group('gloo')
rank = dist.get_rank()


class Data(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, idx):
        return dict(inputs=torch.full((2, ), float(idx)))


class Model(BaseModel):
    calls = 0

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        loss = self.linear(torch.stack(inputs)).pow(2).mean()
        Model.calls += 1
        if Model.calls == 3 and rank == 1:  # only process 1 goes wrong
            loss = loss * float('inf')
        return dict(loss_reg=loss)


runner = Runner(
    model=Model(), work_dir=sys.argv[2], experiment_name='two_nan',
    train_dataloader=dict(dataset=Data(), batch_size=2, num_workers=0,
                          sampler=dict(type='DefaultSampler')),
    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.001)),
    train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=3),
    default_hooks=dict(checkpoint=dict(type='AtomicCheckpointHook',
                                       interval=1, by_epoch=False)),
    custom_hooks=[dict(type='NonFiniteLossHook')], launcher='pytorch',
    cfg=dict(model_wrapper_cfg=dict(type='MMDistributedDataParallel',
                                    device_ids=None)),
    default_scope='mmdet', log_level='ERROR')


def main():
    try:
        train_tool.train(runner)  # what tools/train.py runs
    except SystemExit as stop:
        with open(f'{sys.argv[2]}/stopped_{rank}.txt', 'w') as f:
            f.write(str(stop))
        assert not dist.is_initialized()
        # status 0 instead of the tool's 1, so that torchrun's status says
        # whether either process aborted
        return
    raise AssertionError('training did not stop')


run_tool(main)  # the tools' exit path
'''


def test_nonfinite_loss_on_one_process_stops_every_process(tmp_path):
    """2 CPU processes (gloo): process 1's loss is infinite at iteration 3;
    both stop there with the same message, after the checkpoint of
    iteration 2, and exit cleanly through tools/train.py's ``train``."""
    script = tmp_path / 'two_nan.py'
    script.write_text(TWO_PROCESS_SCRIPT)
    work = str(tmp_path / 'work')
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if k not in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                        'MASTER_PORT')}
    env.update(OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
         '2', '--master_port', str(port), str(script), ROOT, work],
        env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout[-3000:] + proc.stderr[-3000:]
    # both processes end normally after the error: neither aborts in the
    # gloo group's teardown (SIGABRT, exit status -6)
    assert proc.returncode == 0, output
    assert 'terminate called' not in proc.stderr, output
    messages = []
    for rank in (0, 1):
        with open(osp.join(work, f'stopped_{rank}.txt')) as f:
            messages.append(f.read())
    assert messages[0] == messages[1]
    assert 'non-finite loss at iteration 3 ' in messages[0]
    assert 'loss=inf, loss_reg=inf (process 1)' in messages[0]
    assert osp.join(work, 'iter_2.pth') in messages[0]
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work, 'iter_2.pth')
    assert not osp.exists(osp.join(work, 'iter_3.pth'))
