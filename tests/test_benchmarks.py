"""The benchmark scripts run (tiny sizes) and check what they claim: the
evaluator's numbers equal the official API's, the native RoIAlign's outputs
equal mmcv's, and our MaskTrack R-CNN's outputs contain mmdet's (same
boxes, scores, labels; masks within 1 px)."""
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_script(name, *args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'benchmarks', name),
                           *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_ytvis_eval_speed_script_asserts_identical_stats():
    out = run_script('ytvis_eval_speed.py', '--videos', '4', '--results',
                     '5', '--frames', '4', '--repeats', '1')
    assert 'official' in out


def test_masktrack_vs_mmdet_script(tmp_path):
    out_json = tmp_path / 'figures.json'
    out = run_script('masktrack_vs_mmdet.py', '--depth', '18', '--width',
                     '160', '--height', '96', '--videos', '1', '--frames',
                     '3', '--train-iters', '1', '--rounds', '1',
                     '--out-json', str(out_json))
    assert 'end-to-end s/frame' in out
    figures = json.loads(out_json.read_text())
    outputs = figures['outputs']
    assert outputs['mmdet_instances'] > 0
    assert outputs['found_in_ours'] == outputs['mmdet_instances']
    assert outputs['max_mask_pixels_differing'] <= 1
    for impl in ('mmdet', 'ours'):
        medians = figures['medians'][impl]
        for key in ('train_cpu_s', 'network_cpu_s', 'e2e_cpu_s',
                    'infer_peak_rss_mib'):
            assert medians[key] > 0, (impl, key)


def test_roi_align_speed_script_asserts_identical_outputs():
    out = run_script('roi_align_speed.py', '--repeats', '1')
    assert 'bit-identical' in out
