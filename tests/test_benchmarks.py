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


def test_byod_mean_track_iou_by_hand():
    """benchmarks/byod_conversions.py's mean mask IoU: each gt track's
    video IoU (summed intersections over summed unions) with its best
    prediction of score >= 0.5, 0 without one, averaged over gt tracks."""
    import numpy as np
    import pycocotools.mask as mask_utils
    sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
    from byod_conversions import mean_track_iou

    def rle(x0, x1):
        mask = np.zeros((4, 10), np.uint8)
        mask[:, x0:x1] = 1  # 4 rows x (x1 - x0) columns
        out = mask_utils.encode(np.asfortranarray(mask))
        out['counts'] = out['counts'].decode()
        return out

    gt = dict(videos=[dict(id=1, height=4, width=10, length=2)],
              annotations=[
                  dict(video_id=1, segmentations=[rle(0, 4), rle(0, 4)]),
                  dict(video_id=1, segmentations=[rle(6, 10), None])])
    results = [
        # track 1: frame 0 exact (16/16), frame 1 half (8 of 16 | 16)
        dict(video_id=1, score=0.9, segmentations=[rle(0, 4), rle(0, 2)]),
        # a low-score exact copy of track 2 does not count
        dict(video_id=1, score=0.4, segmentations=[rle(6, 10), None]),
        # track 2 found in frame 0 plus a false frame 1 (area 8)
        dict(video_id=1, score=0.8, segmentations=[rle(6, 10), rle(8, 10)]),
    ]
    # gt 1: best (16 + 8) / (16 + 16) = 0.75; gt 2: 16 / (16 + 8) = 2/3
    expected = (0.75 + 2 / 3) / 2
    assert abs(mean_track_iou(results, gt) - expected) < 1e-9
    assert mean_track_iou(results[:2], gt) == 0.75 / 2  # gt 2 unmatched
