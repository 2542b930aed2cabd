"""vis: video instance segmentation with tracking, on MMDetection 3.x.

Importing ``vis`` (configs do it through ``custom_imports``) registers the
project's datasets, metrics and models in mmdet's registries and installs
the weights-only checkpoint loader of :mod:`vis.compat`.
"""
from . import compat  # noqa: F401  (installs checkpoint loaders)
from . import engine  # noqa: F401  (hooks and loops for training)
from . import datasets, evaluation, models, visualization  # noqa: F401

__version__ = '0.1.0'
