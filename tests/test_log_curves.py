"""Training curves read from mmengine's scalar logs (tools/plot_logs.py)."""
import json
import os

import pytest

from vis.visualization.log_curves import (loss_keys, plot_log_curves,
                                          read_scalars)


def write_log(work_dir, run, rows):
    folder = work_dir / run / 'vis_data'
    os.makedirs(folder)
    with open(folder / 'scalars.json', 'w') as f:
        for row in rows:
            f.write(json.dumps(row) + '\n')


def test_runs_are_joined_oldest_first_and_a_resume_replaces_steps(tmp_path):
    write_log(tmp_path, '20261201_100000', [
        dict(lr=0.1, loss=3.0, loss_cls=2.0, iter=5, epoch=1, step=5,
             data_time=0.1, time=0.5, memory=100),
        dict(loss=2.0, loss_cls=1.5, step=10),
        dict(**{'youtube_vis/AP': 0.25}, step=1),
    ])
    # resumed from iteration 5: step 10 is logged again
    write_log(tmp_path, '20261202_090000', [
        dict(loss=1.8, loss_cls=1.2, step=10),
        dict(loss=1.0, loss_cls=0.5, step=15),
        dict(**{'youtube_vis/AP': 0.5}, step=2),
    ])
    train, val = read_scalars(str(tmp_path))
    assert train['loss'] == [(5, 3.0), (10, 1.8), (15, 1.0)]
    assert train['loss_cls'] == [(5, 2.0), (10, 1.2), (15, 0.5)]
    assert train['lr'] == [(5, 0.1)]
    for bookkeeping in ('iter', 'epoch', 'step', 'data_time', 'time',
                        'memory'):
        assert bookkeeping not in train
    assert val == {'youtube_vis/AP': [(1, 0.25), (2, 0.5)]}
    assert loss_keys(train) == ['loss', 'loss_cls']


def test_plot_writes_a_png_and_names_missing_keys(tmp_path):
    write_log(tmp_path, 'run', [dict(loss=2.0, loss_match=1.0, step=1),
                                dict(loss=1.0, loss_match=0.5, step=2)])
    train, val = read_scalars(str(tmp_path))
    out = tmp_path / 'c.png'
    assert plot_log_curves(train, val, str(out)) == ['loss', 'loss_match']
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with pytest.raises(KeyError, match='loss_track'):
        plot_log_curves(train, val, str(out), keys=['loss_track'])


def test_missing_log_and_bad_lines_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='no training log'):
        read_scalars(str(tmp_path))
    folder = tmp_path / 'run' / 'vis_data'
    os.makedirs(folder)
    (folder / 'scalars.json').write_text('{"loss": 1, "step": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r'scalars.json:2'):
        read_scalars(str(tmp_path))
