"""Shared by the mask-refinement tests (test_point_rend.py,
test_region_refiner.py): configs by name, a seeded model build, ci_tiny's
datasets on the tiny generated videos, and a recorder of full-frame
tensors."""
import os.path as osp

import torch
from mmengine.config import Config
from torch.utils._python_dispatch import TorchDispatchMode

import vis  # noqa: F401
from mmdet.registry import DATASETS, MODELS
from vis.config_utils import apply_data_root, set_num_classes

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def cfg_of(name):
    """The config ``configs/<name>``."""
    return Config.fromfile(osp.join(ROOT, 'configs', name))


def build(cfg, num_classes):
    """``cfg.model`` for ``num_classes`` classes, seeded and initialised."""
    set_num_classes(cfg, num_classes)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def tiny_datasets(root):
    """ci_tiny's train and test datasets (96x64 frames) on the videos in
    ``root``, and their class count."""
    cfg = cfg_of('ci_tiny.py')
    apply_data_root(cfg, root)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    test = DATASETS.build(cfg.test_dataloader.dataset)
    return train, test, len(test.metainfo['classes'])


class FullFrameTensors(TorchDispatchMode):
    """Records the shapes of the (N, height, width) results of the torch
    ops run inside it (the frames themselves are 4-D or 5-D)."""

    def __init__(self, height, width):
        super().__init__()
        self.size = (height, width)
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else [out]):
            if (isinstance(t, torch.Tensor) and t.dim() == 3
                    and tuple(t.shape[1:]) == self.size):
                self.shapes.append(tuple(t.shape))
        return out
