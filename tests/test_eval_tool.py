"""Tests of tools/eval_ytvis.py (``main(argv)``) on a tiny generated
YouTube-VIS split (vis.datasets.synthetic)."""
import copy
import importlib.util
import json
import os.path as osp
import subprocess
import sys
import zipfile

import pytest

from vis.datasets.synthetic import make_split

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(REPO_ROOT, 'tools', 'eval_ytvis.py')
_spec = importlib.util.spec_from_file_location('eval_ytvis_tool', TOOL)
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)
main = tool.main

pytest.importorskip('trackeval')
TRACKING = ('HOTA', 'DetA', 'AssA', 'IDF1', 'MOTA')
AP_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10',
           'AR100', 'ARs', 'ARm', 'ARl')


@pytest.fixture(scope='module')
def gt_file(tmp_path_factory):
    """3 videos of 6 frames at 48x64, up to 2 objects of 2 categories, masks
    as compressed RLE."""
    root = str(tmp_path_factory.mktemp('eval_tool'))
    return make_split(root, 'valid', num_videos=3, num_frames=6, height=48,
                      width=64, seed=5, max_objects=2, num_categories=2,
                      seg_format='compressed_rle')


@pytest.fixture
def gt(gt_file):
    with open(gt_file) as f:
        return json.load(f)


def gt_as_results(gt: dict) -> list:
    return [dict(video_id=a['video_id'], category_id=a['category_id'],
                 score=0.9, segmentations=copy.deepcopy(a['segmentations']))
            for a in gt['annotations']]


def split_tracks(results: list) -> list:
    """Each track cut in two at the middle of its present frames."""
    out = []
    for r in results:
        segms = r['segmentations']
        present = [f for f, s in enumerate(segms) if s]
        cut = present[len(present) // 2]
        out.append(dict(r, segmentations=[s if f < cut else None
                                          for f, s in enumerate(segms)]))
        out.append(dict(r, segmentations=[s if f >= cut else None
                                          for f, s in enumerate(segms)]))
    return out


def write(path, data) -> str:
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def test_gt_as_results_scores_one_and_writes_the_json(tmp_path, gt, gt_file,
                                                      capsys):
    assert len(gt['annotations']) >= 3
    results = write(tmp_path / 'results.json', gt_as_results(gt))
    out = tmp_path / 'out' / 'metrics.json'
    values = main([results, gt_file, '--metrics', 'ap', 'hota',
                   '--out', str(out), '--per-class'])
    for key in ('AP', 'AP50', 'AP75', 'AR10') + TRACKING:
        assert values[key] == pytest.approx(1.0), key
    with open(out) as f:
        written = json.load(f)
    assert list(written) == list(AP_KEYS) + list(TRACKING) + [
        k + '_detavg' for k in TRACKING] + ['track_score_thr']
    assert written == pytest.approx(values)
    assert not [p for p in out.parent.iterdir() if p.name != 'metrics.json']
    printed = capsys.readouterr().out
    assert 'tracking metrics on tracks with score >= 0.5' in printed
    assert 'Per category' in printed
    names = {c['name'] for c in gt['categories']}
    assert any(line.split()[0] in names for line in printed.splitlines()
               if line.strip())


def test_split_tracks_keep_deta_and_lose_assa_and_idf1(tmp_path, gt,
                                                       gt_file):
    results = write(tmp_path / 'results.json',
                    split_tracks(gt_as_results(gt)))
    values = main([results, gt_file, '--metrics', 'hota'])
    assert values['DetA'] == pytest.approx(1.0)
    assert values['AssA'] < 1 and values['IDF1'] < 1
    assert values['HOTA'] < 1
    assert 'AP' not in values


def test_results_zip_is_accepted(tmp_path, gt, gt_file):
    results = write(tmp_path / 'results.json', gt_as_results(gt))
    zip_path = tmp_path / 'results.zip'
    with zipfile.ZipFile(zip_path, 'w') as zf:
        zf.write(results, arcname='results.json')
    values = main([str(zip_path), gt_file])
    assert values['AP'] == pytest.approx(1.0)
    assert set(values) == set(AP_KEYS)


def test_plots_are_written(tmp_path, gt, gt_file):
    pytest.importorskip('matplotlib')
    results = write(tmp_path / 'results.json', gt_as_results(gt))
    plots = tmp_path / 'plots'
    main([results, gt_file, '--metrics', 'ap', 'hota', '--plots-dir',
          str(plots)])
    names = sorted(p.name for p in plots.iterdir())
    assert names == ['ap_per_class.png', 'hota_per_class.png',
                     'pr_curves.png', 'pr_curves_per_class.png']
    for name in names:
        with open(plots / name, 'rb') as f:
            assert f.read(4) == b'\x89PNG'


# ---------------------------------------------------------------------------
# Errors: SystemExit('error: ...') naming the file and the field
# ---------------------------------------------------------------------------
def error_of(argv) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    message = str(info.value)
    assert message.startswith('error: '), message
    return message


def test_missing_and_bad_files(tmp_path, gt_file):
    missing = str(tmp_path / 'nope.json')
    assert missing in error_of([missing, gt_file])
    assert 'no such ground-truth file' in error_of([gt_file, missing])
    bad = tmp_path / 'bad.json'
    bad.write_text('[{"video_id": ')
    assert f'{bad}: not valid json' in error_of([str(bad), gt_file])
    not_list = write(tmp_path / 'dict.json', {'video_id': 1})
    assert 'must be a json list' in error_of([not_list, gt_file])
    empty_zip = tmp_path / 'empty.zip'
    with zipfile.ZipFile(empty_zip, 'w') as zf:
        zf.writestr('other.txt', 'x')
    assert 'one results.json' in error_of([str(empty_zip), gt_file])
    assert "unknown metric(s) 'mAP'".lower() in error_of(
        [gt_file, gt_file, '--metrics', 'mAP']).lower()


def test_unknown_video_and_category_are_named(tmp_path, gt, gt_file):
    results = gt_as_results(gt)
    results[0] = dict(results[0], video_id='video-x')
    path = write(tmp_path / 'r.json', results)
    message = error_of([path, gt_file])
    assert path in message and "video ids not in the ground truth: " \
        "'video-x'" in message
    results = gt_as_results(gt)
    results[1] = dict(results[1], category_id=77)
    results[2] = dict(results[2], category_id=78)
    path = write(tmp_path / 'r.json', results)
    assert 'category ids not in the ground truth: 77, 78' in error_of(
        [path, gt_file])


def test_bad_segmentations_are_named(tmp_path, gt, gt_file):
    video = gt['annotations'][0]['video_id']

    def message_for(change) -> str:
        results = gt_as_results(gt)
        change(results[0])
        return error_of([write(tmp_path / 'r.json', results), gt_file])

    frames = len(gt['annotations'][0]['segmentations'])
    message = message_for(lambda r: r['segmentations'].pop())
    assert f'result 0 (video {video!r})' in message
    assert f'has {frames - 1} frames, the video has {frames}' in message

    def wrong_size(r):
        f = next(i for i, s in enumerate(r['segmentations']) if s)
        r['segmentations'][f] = dict(r['segmentations'][f], size=[5, 5])
    assert 'is not the video size [48, 64]' in message_for(wrong_size)

    def not_a_mask(r):
        r['segmentations'][0] = 'mask'
    assert 'segmentations[0]: a mask is an RLE dict' in message_for(
        not_a_mask)

    def bad_score(r):
        r['score'] = 'high'
    assert '"score" must be a finite number' in message_for(bad_score)

    def no_segmentations(r):
        del r['segmentations']
    assert "result 0 has no 'segmentations'" in message_for(
        no_segmentations)


def test_counts_of_another_size_fail_in_evaluation_naming_the_file(
        tmp_path, gt, gt_file):
    """Counts are only parsed by the evaluation (the checks read types and
    sizes): RLE counts of a 5x5 mask in a 48x64 video."""
    from pycocotools import mask as mask_utils

    from vis.evaluation import rle_native
    if rle_native.load() is None:  # pycocotools' merge would loop forever
        pytest.skip('needs the native RLE kernel')
    small = mask_utils.encode(pytest.importorskip('numpy').ones(
        (5, 5), 'uint8', order='F'))['counts'].decode()
    results = gt_as_results(gt)
    f = next(i for i, s in enumerate(results[0]['segmentations']) if s)
    results[0]['segmentations'][f] = dict(results[0]['segmentations'][f],
                                          counts=small)
    path = write(tmp_path / 'r.json', results)
    message = error_of([path, gt_file])
    assert message.startswith(f'error: {path}: ')
    assert 'counts for 25 pixels' in message

    results[0]['segmentations'][f]['counts'] = 12
    assert 'RLE counts must be a string' in error_of(
        [write(tmp_path / 'r.json', results), gt_file])


def test_tool_runs_as_a_script_help():
    out = subprocess.run([sys.executable, TOOL, '--help'], check=True,
                         capture_output=True, text=True).stdout
    assert '--track-score-thr' in out and '--plots-dir' in out
