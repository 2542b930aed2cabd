import os
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault('OMP_NUM_THREADS', '2')


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked ``gpu`` where CUDA is not available (the
    ``gpu`` marker is registered in pytest.ini)."""
    gpu_items = [item for item in items
                 if item.get_closest_marker('gpu') is not None]
    if not gpu_items:
        return
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs CUDA (torch.cuda.is_available() '
                            'is False)')
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(scope='session')
def tiny_ytvis(tmp_path_factory):
    """A tiny generated data root in the 2019 layout (train + annotated
    valid): 6 + 2 videos of 5 frames at 96x64."""
    from vis.datasets.synthetic import make_synthetic_ytvis
    root = str(tmp_path_factory.mktemp('tiny_ytvis'))
    make_synthetic_ytvis(root, num_train=6, num_valid=2, num_frames=5,
                         height=64, width=96, seed=3)
    return root


@pytest.fixture(scope='session', autouse=True)
def mmdet_scope():
    """Build from mmdet's registries, as the tools do via default_scope."""
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)


@pytest.fixture(scope='session')
def untrained_checkpoint(tiny_ytvis, tmp_path_factory):
    """``configs/ci_tiny.py``'s model with its initial weights, saved the way
    training saves it (with ``meta.dataset_meta.classes`` of tiny_ytvis)."""
    import torch
    from mmengine.config import Config
    from mmdet.registry import MODELS
    import vis  # noqa: F401
    from vis.config_utils import category_names, set_num_classes
    classes = category_names(osp.join(tiny_ytvis, 'train.json'))
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'ci_tiny.py'))
    set_num_classes(cfg, len(classes))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = str(tmp_path_factory.mktemp('ckpt') / 'untrained.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=classes))), path)
    return path
