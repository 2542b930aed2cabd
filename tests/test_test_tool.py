"""tools/test.py on real-data variations: classes by name, any video id,
the OVIS layout, frames streamed one at a time; the train split, per-frame
AP and the per-category table."""
import importlib.util
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'ci_tiny.py')
# an untrained model scores low: keep every detection so results are many
ALL_DETECTIONS = ['--cfg-options', 'model.detector.test_cfg.rcnn.score_thr=0']


def run_test_tool(*args, check=True):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2')
    proc = subprocess.run([sys.executable, 'tools/test.py', CONFIG, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def load(path):
    with open(path) as f:
        return json.load(f)


def ovis_copy(src_root, dst_root, permute=True, string_ids=True):
    """``src_root``'s valid split in the OVIS layout
    (``annotations_valid.json`` + ``valid/<video>/``), with the categories
    listed in reverse order under new ids and string video ids."""
    gt = load(osp.join(src_root, 'valid.json'))
    cats = sorted(gt['categories'], key=lambda c: c['id'])
    new_id = {c['id']: (len(cats) - i if permute else c['id'])
              for i, c in enumerate(cats)}
    vid = {v['id']: (f'video-{v["id"]}' if string_ids else v['id'])
           for v in gt['videos']}
    gt['categories'] = [dict(c, id=new_id[c['id']]) for c in reversed(cats)]
    for v in gt['videos']:
        v['id'] = vid[v['id']]
    for a in gt['annotations']:
        a['category_id'] = new_id[a['category_id']]
        a['video_id'] = vid[a['video_id']]
    os.makedirs(dst_root)
    with open(osp.join(dst_root, 'annotations_valid.json'), 'w') as f:
        json.dump(gt, f)
    shutil.copytree(osp.join(src_root, 'valid', 'JPEGImages'),
                    osp.join(dst_root, 'valid'))
    return vid


def named_results(results_path, gt_path, video_names=None):
    """Results as comparable tuples, categories by name."""
    names = {c['id']: c['name'] for c in load(gt_path)['categories']}
    video_names = video_names or {}
    return sorted(
        (str(video_names.get(r['video_id'], r['video_id'])),
         names[r['category_id']], round(r['score'], 6),
         json.dumps(r['segmentations']))
        for r in load(results_path))


def test_ovis_layout_string_ids_and_permuted_categories_evaluate_the_same(
        tiny_ytvis, untrained_checkpoint, tmp_path):
    base = tmp_path / 'base'
    run_test_tool(untrained_checkpoint, '--data-root', tiny_ytvis,
                  '--work-dir', str(base), *ALL_DETECTIONS)
    other_root = str(tmp_path / 'ovis')
    vid = ovis_copy(tiny_ytvis, other_root)
    other = tmp_path / 'other'
    proc = run_test_tool(untrained_checkpoint, '--data-root', other_root,
                         '--work-dir', str(other), *ALL_DETECTIONS)
    assert 'ovis layout' in proc.stdout + proc.stderr
    base_results = named_results(base / 'results.json',
                                 osp.join(tiny_ytvis, 'valid.json'), vid)
    assert len(base_results) > 10
    other_results = named_results(
        other / 'results.json', osp.join(other_root,
                                         'annotations_valid.json'))
    assert other_results == base_results
    # string ids round-trip unchanged
    assert {r['video_id'] for r in load(other / 'results.json')} <= \
        set(vid.values())
    assert load(other / 'metrics.json') == load(base / 'metrics.json')


def test_a_class_the_model_lacks_fails_before_inference(
        tiny_ytvis, untrained_checkpoint, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(tiny_ytvis, root, symlinks=True)
    gt = load(root / 'valid.json')
    gt['categories'][0]['name'] = 'okapi'
    (root / 'valid.json').write_text(json.dumps(gt))
    work = tmp_path / 'work'
    proc = run_test_tool(untrained_checkpoint, '--data-root', str(root),
                         '--work-dir', str(work), check=False)
    assert proc.returncode == 1
    assert "['okapi']" in proc.stderr
    assert 'data classes' in proc.stderr and 'model classes' in proc.stderr
    assert not osp.exists(work / 'results.json')
    # no model was built, no frame read
    assert 'Load checkpoint' not in proc.stdout + proc.stderr


def test_class_map_renames_a_data_class(tiny_ytvis, untrained_checkpoint,
                                        tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(tiny_ytvis, root, symlinks=True)
    gt = load(root / 'valid.json')
    model_name = gt['categories'][0]['name']
    gt['categories'][0]['name'] = 'okapi'
    (root / 'valid.json').write_text(json.dumps(gt))
    class_map = tmp_path / 'map.json'
    class_map.write_text(json.dumps({'okapi': model_name}))
    work = tmp_path / 'work'
    proc = run_test_tool(untrained_checkpoint, '--data-root', str(root),
                         '--work-dir', str(work), '--class-map',
                         str(class_map), *ALL_DETECTIONS)
    assert f'okapi -> {model_name}' in proc.stdout + proc.stderr
    assert osp.isfile(work / 'metrics.json')


def test_checkpoint_classes_of_another_count_are_an_error(
        tiny_ytvis, untrained_checkpoint, tmp_path):
    import torch
    ckpt = torch.load(untrained_checkpoint, weights_only=True)
    ckpt['meta']['dataset_meta']['classes'] = ['a', 'b']
    path = tmp_path / 'two_names.pth'
    torch.save(ckpt, path)
    proc = run_test_tool(str(path), '--data-root', tiny_ytvis, '--work-dir',
                         str(tmp_path / 'w'), check=False)
    assert proc.returncode == 1
    assert 'classes in its box head' in proc.stderr


def test_test_loader_streams_one_frame_per_sample(tiny_ytvis):
    from mmengine.config import Config
    from mmengine.runner import Runner
    import vis  # noqa: F401
    from vis.config_utils import apply_data_root
    cfg = Config.fromfile(CONFIG)
    apply_data_root(cfg, tiny_ytvis, train=False, test_split='valid')
    loader = Runner.build_dataloader(cfg.test_dataloader)
    batches = list(loader)
    videos = load(osp.join(tiny_ytvis, 'valid.json'))['videos']
    assert len(batches) == sum(v['length'] for v in videos)
    for t, batch in enumerate(batches[:videos[0]['length']]):
        assert batch['inputs'][0].shape[0] == 1  # (T=1, C, H, W)
        sample = batch['data_samples'][0]
        assert len(sample) == 1 and sample[0].frame_id == t
        assert sample[0].ori_video_length == videos[0]['length']


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'vis_test_tool', osp.join(ROOT, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_split_train_points_the_test_loader_at_the_training_videos(
        tiny_ytvis, untrained_checkpoint, tmp_path, capsys):
    from vis.config_utils import innermost_dataset
    tool = load_tool()
    args = tool.parse_args([CONFIG, untrained_checkpoint, '--data-root',
                            tiny_ytvis, '--split', 'train', '--work-dir',
                            str(tmp_path), '--metrics', 'ap', 'frame'])
    cfg = tool.build_config(args)
    train_json = osp.join(osp.realpath(tiny_ytvis), 'train.json')
    assert osp.realpath(cfg.test_evaluator['ann_file']) == train_json
    dataset = innermost_dataset(cfg.test_dataloader.dataset)
    assert osp.realpath(dataset['ann_file']) == train_json
    assert osp.realpath(dataset['data_prefix']['img_path']) == osp.join(
        osp.realpath(tiny_ytvis), 'train', 'JPEGImages')
    assert cfg.test_evaluator['metric'] == ['ap', 'frame']
    assert cfg.test_evaluator['per_class'] is True
    with pytest.raises(SystemExit):
        tool.parse_args(['--help'])
    text = ' '.join(capsys.readouterr().out.split())
    assert 'train (can the model fit its own training videos?)' in text
    assert 'frame (per-frame detection AP/AR' in text
    with pytest.raises(SystemExit):
        tool.parse_args([CONFIG, untrained_checkpoint, '--split', 'val'])


def test_train_split_prints_per_frame_and_per_category_tables(
        tiny_ytvis, untrained_checkpoint, tmp_path):
    work = tmp_path / 'work'
    proc = run_test_tool(untrained_checkpoint, '--data-root', tiny_ytvis,
                         '--split', 'train', '--work-dir', str(work),
                         '--metrics', 'ap', 'frame', *ALL_DETECTIONS)
    assert 'Per-frame detection AP (values x100)' in proc.stdout
    assert 'Per category (values x100)' in proc.stdout
    metrics = load(work / 'metrics.json')
    assert list(metrics)[-1] == 'per_class'
    for key in ('AP', 'AR100', 'frame_mask_AP', 'frame_mask_AP50',
                'frame_mask_AP75', 'frame_mask_AR100', 'frame_box_AP',
                'frame_box_AR100'):
        assert metrics[key] == -1 or 0 <= metrics[key] <= 1, key
    names = [c['name'] for c in load(osp.join(tiny_ytvis,
                                              'train.json'))['categories']]
    assert set(metrics['per_class']) == set(names)
    for name, stats in metrics['per_class'].items():
        assert set(stats) == {'AP', 'AP50', 'AP75', 'AR100',
                              'frame_mask_AP', 'frame_box_AP'}, name
        assert all(v == -1 or 0 <= v <= 1 for v in stats.values()), name
        # the per-category table has a row per category
        assert any(line.split()[:1] == [name]
                   for line in proc.stdout.splitlines()), name
    results = load(work / 'results.json')
    lengths = {v['id']: v['length'] for v in load(
        osp.join(tiny_ytvis, 'train.json'))['videos']}
    assert results and {r['video_id'] for r in results} <= set(lengths)
