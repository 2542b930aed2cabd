"""Loading a plain detector checkpoint into a VIS model's detector, the
class-specific rows mapped by class name (vis.models.detector_init)."""
import json
import os.path as osp

import pytest
import torch

import vis  # noqa: F401  (registers the initializer and the models)
from vis.datasets.classes import ClassMismatchError
from vis.models import (DetectorCheckpointInit, LoadReport,
                        is_plain_detector_state, map_detector_state,
                        match_source_classes, split_detector_state)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLS = 'roi_head.bbox_head.fc_cls.'
REG = 'roi_head.bbox_head.fc_reg.'
MASK = 'roi_head.mask_head.conv_logits.'
D = 2  # feature size of the hand-built heads


def source_state(num=3, agnostic_reg=False):
    """A hand-built detector state of ``num`` classes: fc_cls row i holds
    i + 1 (background row 99), fc_reg rows 4i + j hold 10 (i + 1) + j,
    conv_logits row i holds 100 (i + 1)."""
    cls = torch.tensor([i + 1. for i in range(num)] + [99.])
    reg_rows = 1 if agnostic_reg else num
    reg = torch.tensor([10. * (i + 1) + j for i in range(reg_rows)
                        for j in range(4)])
    logits = torch.tensor([100. * (i + 1) for i in range(num)])
    return {
        'backbone.conv1.weight': torch.arange(6.).reshape(3, 2),
        CLS + 'weight': cls[:, None].repeat(1, D), CLS + 'bias': cls.clone(),
        REG + 'weight': reg[:, None].repeat(1, D), REG + 'bias': reg.clone(),
        MASK + 'weight': logits.reshape(-1, 1, 1, 1).repeat(1, D, 1, 1),
        MASK + 'bias': logits.clone(),
    }


def model_state(num=3, agnostic_reg=False):
    """A "fresh" model state of ``num`` classes: every value -1, the
    backbone zeros."""
    reg_rows = 4 if agnostic_reg else 4 * num
    return {
        'backbone.conv1.weight': torch.zeros(3, 2),
        CLS + 'weight': -torch.ones(num + 1, D), CLS + 'bias':
        -torch.ones(num + 1),
        REG + 'weight': -torch.ones(reg_rows, D), REG + 'bias':
        -torch.ones(reg_rows),
        MASK + 'weight': -torch.ones(num, D, 1, 1), MASK + 'bias':
        -torch.ones(num),
    }


def test_split_and_detect_plain_detector_states():
    plain = {'backbone.w': torch.ones(1), 'roi_head.b': torch.ones(1)}
    assert split_detector_state(plain) == plain
    assert is_plain_detector_state(plain)
    video = {'module.detector.backbone.w': torch.ones(1),
             'module.detector.roi_head.b': torch.zeros(1),
             'module.track_head.x': torch.ones(2)}
    assert sorted(split_detector_state(video)) == ['backbone.w', 'roi_head.b']
    assert not is_plain_detector_state(video)
    assert not is_plain_detector_state({'conv1.weight': torch.ones(1)})
    assert is_plain_detector_state({'module.backbone.w': torch.ones(1)})


def test_match_source_classes_by_name_with_class_map(tmp_path):
    assert match_source_classes(['Giant_panda', 'new', 'Cat'],
                                ['cat', 'giant panda']) == {0: 1, 2: 0}
    mapping = {'kitten': 'c', 'b': None}
    assert match_source_classes(['kitten', 'a', 'b'], ['a', 'b', 'c'],
                                mapping) == {0: 2, 1: 0}
    path = tmp_path / 'map.json'
    path.write_text(json.dumps(mapping))
    assert match_source_classes(['kitten', 'a', 'b'], ['a', 'b', 'c'],
                                str(path)) == {0: 2, 1: 0}


def test_unknown_class_map_names_are_errors():
    with pytest.raises(ClassMismatchError) as err:
        match_source_classes(['kitten', 'a'], ['a', 'b', 'c'],
                             {'puppy': 'a', 'kitten': 'lion'})
    message = str(err.value)
    assert "'puppy'" in message and "'lion'" in message
    # the known classes of both sides are listed
    assert "['kitten', 'a']" in message and "['a', 'b', 'c']" in message
    with pytest.raises(ClassMismatchError, match='twice'):
        match_source_classes(['a', 'A'], ['a'])


def test_class_rows_mapped_by_name():
    src, fresh = source_state(), model_state()
    fresh[CLS + 'weight'][1] = -7.  # the new class's fresh row
    new, report = map_detector_state(src, fresh, ('c', 'new', 'a'),
                                     ('a', 'b', 'c'))
    for suffix in ('weight', 'bias'):
        cls = new[CLS + suffix]
        assert torch.all(cls[0] == 3) and torch.all(cls[2] == 1)
        assert torch.all(cls[3] == 99)  # background row, last
        assert torch.equal(cls[1], fresh[CLS + suffix][1])
        reg = new[REG + suffix]
        assert reg.shape[0] == 12
        for j in range(4):
            assert torch.all(reg[0 + j] == 30 + j)  # target 0 <- source 2
            assert torch.all(reg[8 + j] == 10 + j)  # target 2 <- source 0
        assert torch.all(reg[4:8] == -1)
        logits = new[MASK + suffix]
        assert torch.all(logits[0] == 300) and torch.all(logits[2] == 100)
        assert torch.all(logits[1] == -1)
    assert torch.all(new[CLS + 'weight'][1] == -7)
    assert torch.equal(new['backbone.conv1.weight'],
                       src['backbone.conv1.weight'])
    # the inputs are not modified
    assert torch.all(fresh[REG + 'weight'] == -1)
    assert isinstance(report, LoadReport)
    assert report.loaded == ['backbone.conv1.weight']
    assert sorted(report.class_tensors) == sorted(
        p + s for p in (CLS, REG, MASK) for s in ('weight', 'bias'))
    assert report.mapped_classes == [('c', 'c'), ('a', 'a')]
    assert report.new_classes == ['new']
    assert report.not_found == [] and report.unused == []


def test_class_agnostic_fc_reg_is_copied_as_is():
    src = source_state(3, agnostic_reg=True)
    new, report = map_detector_state(
        src, model_state(2, agnostic_reg=True), ['c', 'a'], ['a', 'b', 'c'])
    assert torch.equal(new[REG + 'weight'], src[REG + 'weight'])
    assert torch.equal(new[REG + 'bias'], src[REG + 'bias'])
    assert REG + 'weight' in report.loaded
    assert torch.all(new[CLS + 'bias'] == torch.tensor([3., 1., 99.]))


def test_same_classes_in_another_order_are_permuted():
    src = source_state()
    new, report = map_detector_state(src, model_state(), ['b', 'c', 'a'],
                                     ['a', 'b', 'c'])
    assert new[CLS + 'bias'].tolist() == [2., 3., 1., 99.]
    assert new[REG + 'bias'].tolist() == [20., 21., 22., 23., 30., 31., 32.,
                                          33., 10., 11., 12., 13.]
    assert new[MASK + 'bias'].tolist() == [200., 300., 100.]
    assert len(report.class_tensors) == 6
    # same names in the same order: loaded as is
    new, report = map_detector_state(src, model_state(), ['A', 'b', 'c'],
                                     ['a', 'b', 'c'])
    assert report.class_tensors == [] and len(report.loaded) == 7
    assert new[CLS + 'bias'] is src[CLS + 'bias']


def test_class_map_renames_and_null_in_the_state():
    new, report = map_detector_state(
        source_state(), model_state(), ['kitten', 'a', 'c'], ['a', 'b', 'c'],
        {'kitten': 'c', 'C': None})
    assert new[CLS + 'bias'].tolist() == [3., 1., -1., 99.]
    assert new[MASK + 'bias'].tolist() == [300., 100., -1.]
    assert report.mapped_classes == [('kitten', 'c'), ('a', 'a')]
    assert report.new_classes == ['c']
    with pytest.raises(ClassMismatchError, match="'puppy'"):
        map_detector_state(source_state(), model_state(), ['kitten', 'a',
                                                           'c'],
                           ['a', 'b', 'c'], {'puppy': 'c'})


def test_another_shape_names_the_tensor_and_both_shapes():
    src = source_state()
    src['backbone.conv1.weight'] = torch.zeros(4, 2)
    with pytest.raises(ValueError) as err:
        map_detector_state(src, model_state(), 'abc', 'abc', source='x.pth')
    assert 'backbone.conv1.weight: checkpoint (4, 2) vs model (3, 2)' in \
        str(err.value)
    assert 'x.pth' in str(err.value)


def test_no_tensor_matched_is_an_error():
    with pytest.raises(ValueError, match='matches none') as err:
        map_detector_state({'conv1.weight': torch.zeros(1)}, model_state(),
                           'abc', 'abc')
    assert 'conv1.weight' in str(err.value)
    assert 'backbone.conv1.weight' in str(err.value)


def test_not_found_and_unused_tensors_are_listed():
    src = source_state()
    src['track_head.fc.weight'] = torch.ones(1)
    fresh = model_state()
    fresh['neck.conv.weight'] = torch.ones(2)
    new, report = map_detector_state(src, fresh, 'abc', 'abc')
    assert report.not_found == ['neck.conv.weight']
    assert report.unused == ['track_head.fc.weight']
    assert 'neck.conv.weight' not in new and 'track_head.fc.weight' not in new


def test_class_names_unknown():
    src = source_state()
    # same shapes: loaded as is, with a warning
    new, report = map_detector_state(src, model_state(), ['a', 'b', 'c'],
                                     None)
    assert new[CLS + 'bias'] is src[CLS + 'bias']
    assert report.warnings and 'unknown' in report.warnings[0]
    assert 'warning' in report.table()
    with pytest.raises(ClassMismatchError,
                       match='stores no class names.*source_classes'):
        map_detector_state(src, model_state(4), list('abcd'), None)
    with pytest.raises(ClassMismatchError, match='classes='):
        map_detector_state(src, model_state(4), None, ['a', 'b', 'c'])


def test_class_rows_that_do_not_fit_the_names_are_an_error():
    with pytest.raises(ClassMismatchError, match='fc_cls.weight'):
        map_detector_state(source_state(), model_state(4), list('abcd'),
                           list('abcd'))  # the checkpoint has 3 classes


def test_report_table():
    report = LoadReport(loaded=['a', 'b'], class_tensors=['x.fc_cls.weight'],
                        mapped_classes=[('cat', 'Cat'), ('dog', 'dog')],
                        new_classes=['zebra'],
                        not_found=['n1', 'n2', 'n3', 'n4', 'n5'],
                        unused=['track_head.w'], source='det.pth')
    table = report.table()
    assert table.splitlines()[0] == 'detector weights from det.pth:'
    assert 'loaded as is' in table and ' 2' in table
    assert 'n1, n2, n3, ... (+2)' in table
    assert 'cat <- Cat, dog <- dog' in table
    assert 'zebra' in table and 'track_head.w' in table


# -- end to end: the detector of configs/quickstart_synthetic.py ----------

@pytest.fixture(scope='module')
def detector_cfg():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'quickstart_synthetic.py'))
    return cfg


def build_detector(cfg, num_classes, init_cfg=None):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    det_cfg = cfg.model.detector.copy()
    det_cfg.roi_head.bbox_head.num_classes = num_classes
    det_cfg.roi_head.mask_head.num_classes = num_classes
    det_cfg.init_cfg = init_cfg
    return MODELS.build(det_cfg)


SOURCE = ['person', 'cat', 'dog', 'giant_panda', 'zebra']
TARGET = ['zebra', 'Giant panda', 'person', 'new', 'dog', 'cat']
# target index -> source index
EXPECTED = {0: 4, 1: 3, 2: 0, 4: 2, 5: 1}


def check_rows(det, src_state, expected, num_target):
    state = det.state_dict()
    for key in ('backbone.conv1.weight', 'neck.fpn_convs.0.conv.weight',
                'rpn_head.rpn_cls.weight', 'roi_head.bbox_head.shared_fcs.0'
                '.weight'):
        assert torch.equal(state[key], src_state[key]), key
    cls, reg = state[CLS + 'weight'], state[REG + 'weight']
    logits = state[MASK + 'weight']
    assert cls.shape[0] == num_target + 1
    for t, s in expected.items():
        assert torch.equal(cls[t], src_state[CLS + 'weight'][s])
        assert torch.equal(reg[4 * t:4 * t + 4],
                           src_state[REG + 'weight'][4 * s:4 * s + 4])
        assert torch.equal(logits[t], src_state[MASK + 'weight'][s])
    assert torch.equal(cls[-1], src_state[CLS + 'weight'][-1])
    for t in set(range(num_target)) - set(expected):  # fresh rows
        assert not any(torch.equal(cls[t], row)
                       for row in src_state[CLS + 'weight'])
        assert cls[t].abs().max() > 0  # initialised by the head, Normal


def save_source(cfg, path, num=5, classes=SOURCE, prefix='', extra=None):
    torch.manual_seed(1)
    det = build_detector(cfg, num)
    det.init_weights()
    state = {prefix + k: v for k, v in det.state_dict().items()}
    state.update(extra or {})
    meta = {'dataset_meta': {'classes': list(classes)}} if classes else {}
    torch.save({'state_dict': state, 'meta': meta}, path)
    return det.state_dict()


def test_plain_checkpoint_into_a_detector_end_to_end(detector_cfg, tmp_path):
    path = str(tmp_path / 'det.pth')
    src_state = save_source(detector_cfg, path)
    torch.manual_seed(2)
    det = build_detector(detector_cfg, 6, dict(
        type='DetectorCheckpointInit', checkpoint=path, classes=TARGET))
    det.init_weights()
    check_rows(det, src_state, EXPECTED, 6)


def test_video_checkpoint_loads_only_the_detector(detector_cfg, tmp_path):
    path = str(tmp_path / 'vis.pth')
    src_state = save_source(detector_cfg, path, prefix='detector.', extra={
        'track_head.roi_embed.fc.weight': torch.ones(3, 3)})
    init = DetectorCheckpointInit(path, classes=TARGET)
    det = build_detector(detector_cfg, 6, init_cfg=None)
    det.init_weights()
    init(det)  # as mmengine's initialize() calls it
    check_rows(det, src_state, EXPECTED, 6)
    assert init.report.unused == [] and init.report.not_found == []
    assert init.report.new_classes == ['new']
    assert 'DetectorCheckpointInit' in repr(init) and path in repr(init)


def test_whole_video_model_init_weights(detector_cfg, tmp_path):
    """model.init_weights() of the VIS model reaches the detector's
    init_cfg, and the heads' own initialisation does not overwrite it."""
    from mmdet.registry import MODELS
    path = str(tmp_path / 'det.pth')
    src_state = save_source(detector_cfg, path)
    model_cfg = detector_cfg.model.copy()
    model_cfg.detector = model_cfg.detector.copy()
    model_cfg.detector.roi_head.bbox_head.num_classes = 6
    model_cfg.detector.roi_head.mask_head.num_classes = 6
    model_cfg.detector.init_cfg = dict(type='DetectorCheckpointInit',
                                       checkpoint=path, classes=TARGET)
    model = MODELS.build(model_cfg)
    model.init_weights()
    check_rows(model.detector, src_state, EXPECTED, 6)


def test_coco_dataset_names_for_a_checkpoint_without_names(detector_cfg,
                                                           tmp_path):
    init = DetectorCheckpointInit('x.pth', source_classes='CocoDataset')
    coco = init._resolve_source_classes({})
    assert len(coco) == 80 and coco[:3] == ('person', 'bicycle', 'car')
    assert coco.index('dog') == 16
    path = str(tmp_path / 'coco.pth')
    src_state = save_source(detector_cfg, path, num=80, classes=None)
    det = build_detector(detector_cfg, 3, dict(
        type='DetectorCheckpointInit', checkpoint=path,
        classes=['dog', 'new', 'person'], source_classes='CocoDataset'))
    det.init_weights()
    check_rows(det, src_state, {0: 16, 2: 0}, 3)
    # without source_classes the names are missing: an error that says so
    det = build_detector(detector_cfg, 3, dict(
        type='DetectorCheckpointInit', checkpoint=path,
        classes=['dog', 'new', 'person']))
    with pytest.raises(ClassMismatchError, match='stores no class names'):
        det.init_weights()


def test_class_names_that_do_not_fit_equal_shapes_are_an_error():
    # same names in the same order, but 2 names for 3-class tensors
    with pytest.raises(ClassMismatchError, match='for 2 classes'):
        map_detector_state(source_state(), model_state(), ['a', 'b'],
                           ['a', 'b'])
    # a class-agnostic checkpoint regressor into a class-specific model
    with pytest.raises(ClassMismatchError, match='fc_reg.weight'):
        map_detector_state(source_state(agnostic_reg=True), model_state(),
                           'abc', 'abc')
