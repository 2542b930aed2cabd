"""tools/train.py --load-detector and load_from: a plain detector
checkpoint starts the video model's detector with class rows mapped by
name; a load_from that fits nothing is refused, never ignored."""
import importlib.util
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'ci_tiny.py')

_spec = importlib.util.spec_from_file_location(
    'train_tool', osp.join(ROOT, 'tools', 'train.py'))
train_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_tool)


@pytest.fixture(scope='module')
def plain_checkpoint(untrained_checkpoint, tmp_path_factory):
    """A plain 5-class detector checkpoint (mmdet key names, class names
    in meta) with recognisable class rows: row i of fc_cls is i + 1, the
    background row 99."""
    from vis.models import split_detector_state
    ckpt = torch.load(untrained_checkpoint, map_location='cpu',
                      weights_only=True)
    state = split_detector_state(ckpt['state_dict'])
    cls_w = state['roi_head.bbox_head.fc_cls.weight']  # (C + 1, D)
    for row in range(cls_w.shape[0] - 1):
        cls_w[row] = row + 1
    cls_w[-1] = 99
    reg_w = state['roi_head.bbox_head.fc_reg.weight']  # (4 C, D)
    for row in range(reg_w.shape[0]):
        reg_w[row] = 100 + row // 4
    logits = state['roi_head.mask_head.conv_logits.weight']  # (C, D, 1, 1)
    for row in range(logits.shape[0]):
        logits[row] = 200 + row
    path = str(tmp_path_factory.mktemp('plain') / 'detector.pth')
    torch.save(dict(state_dict=state, meta=ckpt['meta']), path)
    return path, tuple(ckpt['meta']['dataset_meta']['classes'])


@pytest.fixture(scope='module')
def reordered_root(tiny_ytvis, tmp_path_factory):
    """tiny_ytvis with its categories in reverse order and the last one
    renamed 'newcomer' (a class the detector does not know)."""
    root = str(tmp_path_factory.mktemp('reordered'))
    for split in ('train', 'valid'):
        with open(osp.join(tiny_ytvis, f'{split}.json')) as f:
            data = json.load(f)
        cats = sorted(data['categories'], key=lambda c: c['id'])
        names = [c['name'] for c in cats][::-1]
        names[-1] = 'newcomer'
        new_id = {c['id']: len(cats) - i for i, c in enumerate(cats)}
        data['categories'] = [dict(id=i + 1, name=n)
                              for i, n in enumerate(names)]
        for ann in data.get('annotations', []):
            ann['category_id'] = new_id[ann['category_id']]
        with open(osp.join(root, f'{split}.json'), 'w') as f:
            json.dump(data, f)
        shutil.copytree(osp.join(tiny_ytvis, split),
                        osp.join(root, split))
    return root, tuple(names)


def build(*args):
    return train_tool.build_config(train_tool.parse_args([CONFIG, *args]))


def test_load_detector_maps_class_rows_by_name(plain_checkpoint,
                                               reordered_root, tmp_path):
    from mmengine.runner import Runner
    ckpt, source_classes = plain_checkpoint
    root, target_classes = reordered_root
    cfg = build('--data-root', root, '--load-detector', ckpt,
                '--work-dir', str(tmp_path))
    init_cfg = cfg.model.detector.init_cfg
    assert init_cfg.type == 'DetectorCheckpointInit'
    assert tuple(init_cfg.classes) == target_classes
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    detector = runner.model.detector
    cls_w = detector.roi_head.bbox_head.fc_cls.weight.detach()
    reg_w = detector.roi_head.bbox_head.fc_reg.weight.detach()
    logits = detector.roi_head.mask_head.conv_logits.weight.detach()
    source = torch.load(ckpt, map_location='cpu', weights_only=True)
    for t, name in enumerate(target_classes):
        if name == 'newcomer':
            assert not torch.all(cls_w[t] == cls_w[t][0]), \
                'a new class starts from fresh rows'
            continue
        s = source_classes.index(name)
        assert torch.all(cls_w[t] == s + 1), (name, t, s)
        assert torch.all(reg_w[4 * t:4 * t + 4] == 100 + s)
        assert torch.all(logits[t] == 200 + s)
    assert torch.all(cls_w[-1] == 99), 'background stays the last row'
    # the rest of the detector is the checkpoint's
    torch.testing.assert_close(
        detector.backbone.conv1.weight.detach(),
        source['state_dict']['backbone.conv1.weight'])


def test_a_plain_load_from_is_loaded_as_a_detector(plain_checkpoint,
                                                   tiny_ytvis, tmp_path):
    ckpt, _ = plain_checkpoint
    cfg = build('--data-root', tiny_ytvis, '--work-dir', str(tmp_path),
                '--cfg-options', f'load_from={ckpt}')
    assert cfg.load_from is None
    assert cfg.model.detector.init_cfg.checkpoint == ckpt


def test_precedence_resume_load_detector_load_from(plain_checkpoint,
                                                   untrained_checkpoint,
                                                   tiny_ytvis, tmp_path):
    ckpt, _ = plain_checkpoint
    # --load-detector over load_from
    cfg = build('--data-root', tiny_ytvis, '--work-dir', str(tmp_path),
                '--load-detector', ckpt, '--cfg-options',
                f'load_from={untrained_checkpoint}')
    assert cfg.load_from is None
    assert cfg.model.detector.init_cfg.checkpoint == ckpt
    # --resume over --load-detector
    cfg = build('--data-root', tiny_ytvis, '--work-dir', str(tmp_path),
                '--load-detector', ckpt, '--resume', untrained_checkpoint)
    assert cfg.resume and cfg.load_from == untrained_checkpoint
    assert (cfg.model.detector.get('init_cfg') or {}).get('type') != \
        'DetectorCheckpointInit'


def test_a_class_map_with_unknown_names_is_an_error(plain_checkpoint,
                                                    tiny_ytvis, tmp_path):
    from vis.datasets.classes import ClassMismatchError
    from vis.models import DetectorCheckpointInit
    from mmdet.registry import MODELS
    from mmengine.config import Config
    ckpt, source_classes = plain_checkpoint
    cfg = Config.fromfile(CONFIG)
    detector = MODELS.build(cfg.model.detector)
    init = DetectorCheckpointInit(ckpt, classes=source_classes,
                                  class_map={'unicorn': 'disc',
                                             'disc': 'pegasus'})
    with pytest.raises(ClassMismatchError, match='unicorn') as err:
        init(detector)
    assert 'pegasus' in str(err.value)


def run_train(*args):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2')
    return subprocess.run([sys.executable, 'tools/train.py', CONFIG, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_a_load_from_matching_nothing_is_refused(tiny_ytvis, tmp_path):
    bad = str(tmp_path / 'unrelated.pth')
    torch.save(dict(state_dict={'encoder.layer.weight': torch.zeros(3)}),
               bad)
    proc = run_train('--data-root', tiny_ytvis, '--work-dir',
                     str(tmp_path / 'w'), '--cfg-options', f'load_from={bad}')
    assert proc.returncode != 0
    assert 'matches none of the model' in proc.stderr
    assert not any(name.endswith('.pth')
                   for name in os.listdir(tmp_path / 'w')), \
        'refused before training'


def test_a_load_from_of_another_architecture_names_the_tensors(
        untrained_checkpoint, tiny_ytvis, tmp_path):
    ckpt = torch.load(untrained_checkpoint, map_location='cpu',
                      weights_only=True)
    key = 'detector.backbone.conv1.weight'
    ckpt['state_dict'][key] = torch.zeros(7, 3, 3, 3)
    bad = str(tmp_path / 'other.pth')
    torch.save(ckpt, bad)
    proc = run_train('--data-root', tiny_ytvis, '--work-dir',
                     str(tmp_path / 'w'), '--cfg-options', f'load_from={bad}')
    assert proc.returncode != 0
    assert key in proc.stderr and '(7, 3, 3, 3)' in proc.stderr
