"""Train -> checkpoint -> resume -> test -> visualise, through the tools."""
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys
import zipfile

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'ci_tiny.py')


def run(*args):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2')
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def logged_scalars(work_dir):
    """Rows of mmengine's scalars.json of the newest run in work_dir."""
    paths = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    assert paths, f'no scalars.json under {work_dir}'
    with open(paths[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope='module')
def trained(tiny_ytvis, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('work'))
    run('tools/train.py', CONFIG, '--data-root', tiny_ytvis, '--work-dir',
        work, '--tensorboard')
    return work


def test_tensorboard_switch_writes_event_files(trained):
    events = glob.glob(osp.join(trained, '*', 'vis_data',
                                'events.out.tfevents.*'))
    assert events, os.listdir(trained)
    assert all(osp.getsize(e) > 0 for e in events)


def test_training_logs_finite_losses_and_writes_a_checkpoint(trained):
    rows = [r for r in logged_scalars(trained) if 'loss' in r]
    assert rows, 'no loss was logged'
    for row in rows:
        for key in ('loss', 'loss_rpn_cls', 'loss_cls', 'loss_mask',
                    'loss_match'):
            assert math.isfinite(row[key]), (key, row)
    assert osp.isfile(osp.join(trained, 'epoch_1.pth'))
    with open(osp.join(trained, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('epoch_1.pth')


def test_validation_draws_the_first_videos(trained, tiny_ytvis):
    # ci_tiny inherits the quickstart's visualization=dict(num_videos=2)
    with open(osp.join(tiny_ytvis, 'valid.json')) as f:
        videos = json.load(f)['videos']
    for video in videos[:2]:
        name = osp.dirname(video['file_names'][0])
        folder = osp.join(trained, 'vis', 'val_epoch_1', name)
        assert sorted(os.listdir(folder)) == \
            [f'{t:05d}.png' for t in range(video['length'])]
        assert osp.isfile(folder + '.mp4')


def test_test_tool_prints_ap_and_writes_metrics(trained, tiny_ytvis):
    out_dir = osp.join(trained, 'test')
    log = run('tools/test.py', CONFIG, osp.join(trained, 'epoch_1.pth'),
              '--data-root', tiny_ytvis, '--work-dir', out_dir,
              '--show-videos', '1', '--show-dir', osp.join(out_dir, 'drawn'),
              '--metrics', 'ap', 'hota')
    drawn = os.listdir(osp.join(out_dir, 'drawn', 'test'))
    assert len(drawn) == 2  # one video: its folder and its mp4
    for col in ('AP', 'AP50', 'AP75', 'AR1', 'AR10'):
        assert col in log
    with open(osp.join(out_dir, 'metrics.json')) as f:
        metrics = json.load(f)
    assert set(metrics) >= {'AP', 'AP50', 'AP75', 'AR1', 'AR10', 'HOTA',
                            'DetA', 'AssA', 'IDF1', 'MOTA', 'HOTA_detavg'}
    for key in ('HOTA', 'DetA', 'AssA', 'IDF1', 'MOTA'):
        assert key in log, key
    assert 'score >= 0.5' in log  # the tracking metrics' threshold is stated
    per_class = metrics.pop('per_class')  # category -> metric -> value
    assert per_class and all({'AP', 'AR100'} <= set(stats)
                             for stats in per_class.values())
    assert 'Per category (values x100)' in log
    for key, value in metrics.items():
        if key not in ('MOTA', 'MOTA_detavg'):  # MOTA may be negative
            assert value == -1 or 0 <= value <= 1, (key, value)
    # the offline evaluator gives the same figures on the same results
    offline = osp.join(out_dir, 'offline.json')
    run('tools/eval_ytvis.py', osp.join(out_dir, 'results.json'),
        osp.join(tiny_ytvis, 'valid.json'), '--metrics', 'ap', 'hota',
        '--out', offline)
    with open(offline) as f:
        offline_metrics = json.load(f)
    for key in ('AP', 'AP50', 'AP75', 'AR1', 'AR10', 'HOTA', 'AssA', 'IDF1'):
        assert offline_metrics[key] == pytest.approx(metrics[key], abs=1e-9)
    with open(osp.join(out_dir, 'results.json')) as f:
        results = json.load(f)
    with open(osp.join(tiny_ytvis, 'valid.json')) as f:
        valid = json.load(f)
    lengths = {v['id']: v['length'] for v in valid['videos']}
    for r in results:
        assert len(r['segmentations']) == lengths[r['video_id']]
    with zipfile.ZipFile(osp.join(out_dir, 'results.zip')) as zf:
        assert zf.namelist() == ['results.json']


def test_format_only_writes_submission_without_metrics(trained, tiny_ytvis):
    out_dir = osp.join(trained, 'submit')
    run('tools/test.py', CONFIG, osp.join(trained, 'epoch_1.pth'),
        '--data-root', tiny_ytvis, '--work-dir', out_dir, '--format-only')
    assert osp.isfile(osp.join(out_dir, 'results.zip'))
    assert not osp.exists(osp.join(out_dir, 'metrics.json'))


def test_resume_continues_from_the_checkpoint(trained, tiny_ytvis):
    log = run('tools/train.py', CONFIG, '--data-root', tiny_ytvis,
              '--work-dir', trained, '--resume',
              '--cfg-options', 'train_cfg.max_epochs=2')
    assert 'resumed epoch: 1' in log
    assert osp.isfile(osp.join(trained, 'epoch_2.pth'))


def test_visualize_draws_ground_truth_and_predictions(trained, tiny_ytvis):
    import cv2
    results = osp.join(trained, 'test', 'results.json')
    if not osp.isfile(results):
        pytest.skip('test tool did not run')
    out_dir = osp.join(trained, 'vis')
    run('tools/visualize.py', results,
        osp.join(tiny_ytvis, 'valid', 'JPEGImages'), '--gt',
        osp.join(tiny_ytvis, 'valid.json'), '--out-dir', out_dir,
        '--score-thr', '0', '--side-by-side')
    pngs = sorted(glob.glob(osp.join(out_dir, '*', '*.png')))
    assert len(pngs) == 2 * 5  # 2 videos x 5 frames
    image = cv2.imread(pngs[0])
    assert image.shape == (64, 2 * 96, 3)  # ground truth | prediction


def test_plot_logs_draws_the_loss_curves(trained):
    out = osp.join(trained, 'curves.png')
    log = run('tools/plot_logs.py', trained, '--out', out)
    assert 'loss_match' in log and 'wrote' in log
    import cv2
    image = cv2.imread(out)
    assert image is not None and image.shape[0] > 100 and image.shape[1] > 100
