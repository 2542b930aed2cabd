"""Two processes on the CPU (gloo) through the launch scripts: both train,
one checkpoint is written, and a distributed test gives what one process
gives (videos split over the processes and gathered back whole)."""
import glob
import json
import os
import os.path as osp
import re
import socket
import stat
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'ci_tiny.py')
# the briefly trained model scores below the config's 0.01 threshold
ALL_DETECTIONS = 'model.detector.test_cfg.rcnn.score_thr=0.0'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def launch_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                        'MASTER_PORT') and not k.startswith('SLURM_')}
    env.update(PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1',
               PYTHON=sys.executable, PORT=str(free_port()))
    env.update(extra)
    return env


def run(cmd, env=None):
    proc = subprocess.run(cmd, cwd=ROOT, env=env or launch_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def dist_trained(tiny_ytvis, tmp_path_factory):
    """One epoch on 2 processes. log_level=DEBUG makes every process keep
    its own log file."""
    work = str(tmp_path_factory.mktemp('dist_train'))
    run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--data-root',
         tiny_ytvis, '--work-dir', work, '--cfg-options', 'log_level=DEBUG',
         'default_hooks.logger.interval=2'])
    return work


def train_rows(log_file):
    """{iteration: (loss, grad_norm)} from a process's training log."""
    rows = {}
    with open(log_file) as f:
        for line in f:
            m = re.search(r'Epoch\(train\) \[1\]\[\s*(\d+)/(\d+)\].*'
                          r'grad_norm: (\S+)\s+loss: (\S+)', line)
            if m:
                assert m.group(2) == '8'  # 30 frames / (2 processes x 2)
                rows[int(m.group(1))] = (float(m.group(4)),
                                         float(m.group(3)))
    return rows


def test_both_processes_train_one_checkpoint_is_written(dist_trained):
    logs = sorted(glob.glob(osp.join(dist_trained, '*', '*.log')))
    assert [re.search(r'rank(\d)\.log$', p).group(1) for p in logs] == \
        ['0', '1'], logs
    with open(logs[0]) as f:
        text = f.read()
    assert 'Distributed training: True' in text
    assert 'GPU number: 2' in text  # mmengine's name for the world size
    rank0, rank1 = train_rows(logs[0]), train_rows(logs[1])
    assert sorted(rank0) == sorted(rank1) == [2, 4, 6, 8]
    for it in rank0:
        # each process has its own batches (own losses) and the gradients
        # are averaged over both (one gradient norm)
        assert rank0[it][0] != rank1[it][0], it
        assert rank0[it][1] == rank1[it][1], it

    files = sorted(p for p in os.listdir(dist_trained) if '.pth' in p)
    assert files == ['epoch_1.pth']
    with open(osp.join(dist_trained, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(dist_trained, 'epoch_1.pth')


@pytest.fixture(scope='module')
def three_videos(tmp_path_factory):
    """A valid split of 3 videos: 2 processes get 2 and 1."""
    from vis.datasets.synthetic import make_synthetic_ytvis
    root = str(tmp_path_factory.mktemp('three_videos'))
    make_synthetic_ytvis(root, num_train=1, num_valid=3, num_frames=5,
                         height=64, width=96, seed=5)
    return root


def read_outputs(work_dir):
    with open(osp.join(work_dir, 'metrics.json')) as f:
        metrics = json.load(f)
    with open(osp.join(work_dir, 'results.json')) as f:
        results = json.load(f)
    return metrics, results


@pytest.fixture(scope='module')
def single(dist_trained, three_videos, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('single_test'))
    run([sys.executable, 'tools/test.py', CONFIG,
         osp.join(dist_trained, 'epoch_1.pth'), '--data-root', three_videos,
         '--work-dir', work, '--cfg-options', ALL_DETECTIONS])
    metrics, results = read_outputs(work)
    with open(osp.join(three_videos, 'valid.json')) as f:
        lengths = {v['id']: v['length'] for v in json.load(f)['videos']}
    assert {r['video_id'] for r in results} == set(lengths), \
        'every video should have tracks for the comparison to mean much'
    for r in results:  # whole videos
        assert len(r['segmentations']) == lengths[r['video_id']]
    return metrics, results


def test_dist_test_gives_the_single_process_results(dist_trained,
                                                   three_videos, single,
                                                   tmp_path):
    work = str(tmp_path)
    scratch = osp.join(ROOT, '.dist_test')  # mmdet's collection directory
    had_scratch = osp.exists(scratch)
    log = run(['bash', 'tools/dist_test.sh', CONFIG,
               osp.join(dist_trained, 'epoch_1.pth'), '2', '--data-root',
               three_videos, '--work-dir', work, '--cfg-options',
               ALL_DETECTIONS])
    assert 'AP50' in log
    assert read_outputs(work) == single
    assert osp.exists(scratch) == had_scratch  # no shared files needed


FAKE_SRUN = r'''#!/usr/bin/env bash
# srun on one machine: start --ntasks copies of the command with the
# variables slurm gives each task
echo "$@" > "$(dirname "$0")/srun_args"
ntasks=1
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
    case $1 in
        --ntasks=*) ntasks=${1#*=} ;;
        -p) shift ;;
    esac
    shift
done
pids=()
for ((i = 0; i < ntasks; i++)); do
    SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks \
    SLURM_NODELIST=node-[1] "$@" &
    pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
exit $rc
'''
FAKE_SCONTROL = '#!/usr/bin/env bash\necho 127.0.0.1\n'


def test_slurm_test_script_on_cpu(dist_trained, three_videos, single,
                                  tmp_path):
    """tools/slurm_test.sh under a stand-in srun that starts 2 tasks:
    --launcher slurm on a machine without CUDA."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name, text in (('srun', FAKE_SRUN), ('scontrol', FAKE_SCONTROL)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = launch_env(GPUS='2', GPUS_PER_NODE='2', CPUS_PER_TASK='1', GRES='',
                     PATH=f'{bin_dir}:{os.environ["PATH"]}')
    work = str(tmp_path / 'work')
    run(['bash', 'tools/slurm_test.sh', 'cpu', 'vis-test', CONFIG,
         osp.join(dist_trained, 'epoch_1.pth'), '--data-root', three_videos,
         '--work-dir', work, '--cfg-options', ALL_DETECTIONS], env)
    args = (bin_dir / 'srun_args').read_text().split()
    assert args[:2] == ['-p', 'cpu']
    assert {'--job-name=vis-test', '--ntasks=2', '--ntasks-per-node=2',
            '--cpus-per-task=1', '--kill-on-bad-exit=1',
            '--launcher=slurm'} <= set(args)
    assert not any(a.startswith('--gres') for a in args)
    assert read_outputs(work) == single


def test_slurm_train_script_arguments(tmp_path):
    """tools/slurm_train.sh passes the srun options and tools/train.py
    arguments through (the stand-in srun only records them here)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text('#!/usr/bin/env bash\necho "$@" > '
                    f'{bin_dir}/srun_args\necho "$MASTER_PORT" >> '
                    f'{bin_dir}/srun_args\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    env = launch_env(GPUS='16', GPUS_PER_NODE='8', SRUN_ARGS='--exclusive',
                     PATH=f'{bin_dir}:{os.environ["PATH"]}', PORT='29123')
    run(['bash', 'tools/slurm_train.sh', 'gpu', 'job', CONFIG, 'work',
         '--resume', '--cfg-options', 'train_cfg.max_epochs=2'], env)
    args, port = (bin_dir / 'srun_args').read_text().splitlines()
    args = args.split()
    assert port == '29123'
    assert {'--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
            '--exclusive', '--launcher=slurm', '--work-dir=work',
            '--resume'} <= set(args)
    assert args[-2:] == ['--cfg-options', 'train_cfg.max_epochs=2']
    assert args[args.index('--work-dir=work') - 1] == CONFIG
