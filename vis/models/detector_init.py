"""Start a video model's detector from a plain mmdet detector checkpoint.

A plain checkpoint (mmdet's COCO Mask R-CNN, a user's own) holds keys such
as ``backbone.conv1.weight``; a video model holds its detector under
``detector.``. Every tensor is loaded by name, except the class-specific
ones, whose rows are copied **class by class, matched by name**
(:mod:`vis.datasets.classes`: case-insensitive, ``_`` as a space, a class
map renaming target classes first):

* ``bbox_head.fc_cls.{weight,bias}``: ``(C + 1, D)`` / ``(C + 1,)``, one
  row per class, the background row last (mmdet >= 2);
* ``bbox_head.fc_reg.{weight,bias}``: ``(4 C, D)`` / ``(4 C,)``, rows
  ``4c .. 4c + 3`` for class ``c``; ``(4, D)`` when class-agnostic;
* ``mask_head.conv_logits.{weight,bias}``: ``(C, K, 1, 1)`` / ``(C,)``;
  ``(1, ...)`` when class-agnostic.

Target classes the checkpoint lacks keep the model's fresh rows. Use it as
the detector's ``init_cfg=dict(type='DetectorCheckpointInit',
checkpoint=..., classes=[...])``; ``model.init_weights()`` calls it.
"""
import re
import textwrap
from dataclasses import dataclass, field
from typing import (Callable, Dict, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import torch
from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS

from ..datasets.classes import (ClassMismatchError, check_class_map,
                                checkpoint_classes,
                                load_class_map, normalize_class_name)

__all__ = [
    'DetectorCheckpointInit', 'LoadReport', 'check_state_fits',
    'is_plain_detector_state', 'map_detector_state', 'match_source_classes',
    'split_detector_state', 'strip_module_prefix'
]

ClassMap = Union[None, str, Mapping[str, Optional[str]]]

#: first key components of a plain mmdet detector's state dict
DETECTOR_PARTS = ('backbone', 'neck', 'rpn_head', 'roi_head', 'bbox_head',
                  'mask_head', 'semantic_head', 'panoptic_head',
                  'panoptic_fusion_head', 'encoder', 'decoder')
#: first key components that only a video model's state dict has
VIDEO_PARTS = ('detector', 'track_head')

#: class-specific tensors: (kind, key pattern, rows per class)
CLASS_TENSORS = (
    ('fc_cls', re.compile(r'(^|\.)bbox_head(\.\d+)?\.fc_cls\.(weight|bias)$'),
     1),
    ('fc_reg', re.compile(r'(^|\.)bbox_head(\.\d+)?\.fc_reg\.(weight|bias)$'),
     4),
    ('conv_logits',
     re.compile(r'(^|\.)mask_head(\.\d+)?\.conv_logits\.(weight|bias)$'), 1),
)

NO_NAMES = ('{what} stores no class names (meta.dataset_meta.classes), so '
            'its class-specific rows cannot be matched to the model\'s '
            'classes: give them with source_classes=[...] (or the name of '
            'an mmdet dataset, e.g. source_classes=\'CocoDataset\')')


def strip_module_prefix(state: Mapping) -> dict:
    """A state dict without the ``module.`` prefix a distributed wrapper
    gives every key (returned as a new dict, unchanged otherwise)."""
    if state and all(k.startswith('module.') for k in state):
        return {k[len('module.'):]: v for k, v in state.items()}
    return dict(state)


def split_detector_state(state: Mapping) -> dict:
    """The detector's part of a state dict.

    A leading ``module.`` (a wrapped model's) is stripped; a video model's
    state (keys ``detector.*``, ``track_head.*``) gives its ``detector.*``
    tensors without the prefix; a plain detector state is returned as is.
    """
    state = strip_module_prefix(state)
    if any(k.startswith('detector.') for k in state):
        return {k[len('detector.'):]: v for k, v in state.items()
                if k.startswith('detector.')}
    return state


def is_plain_detector_state(state: Mapping) -> bool:
    """Whether ``state`` looks like a plain mmdet detector's: keys such as
    ``backbone.*``/``roi_head.*`` and none of ``detector.*``/``track_head.*``.
    """
    heads = {k.split('.', 1)[0] for k in strip_module_prefix(state)}
    return bool(heads & set(DETECTOR_PARTS)) and not heads & set(VIDEO_PARTS)


def match_source_classes(target_classes: Sequence[str],
                         source_classes: Sequence[str],
                         class_map: ClassMap = None) -> Dict[int, int]:
    """Target class index -> source class index, for every target class
    that matches a source class by name.

    Args:
        target_classes: the new model's classes, in label order.
        source_classes: the checkpoint's classes, in label order.
        class_map: None, ``{"target name": "source name" or null}`` or the
            path of such a json; null leaves that target class fresh.

    Returns:
        dict[int, int]. Unmatched target classes are absent (new classes).

    Raises:
        ClassMismatchError: a class map key that is no target class, a
            value that is no source class, or a name listed twice.
    """
    where = class_map if isinstance(class_map, str) else 'given'
    if isinstance(class_map, str):
        class_map = load_class_map(class_map)
    elif class_map is not None:
        check_class_map(class_map, where)
    index: Dict[str, Dict[str, int]] = {}
    for side, names in (('target', target_classes),
                        ('source', source_classes)):
        seen = index[side] = {}
        for i, name in enumerate(names):
            norm = normalize_class_name(name)
            if norm in seen:
                raise ClassMismatchError(
                    f'the {side} classes name {name!r} twice (indices '
                    f'{seen[norm]} and {i}): {list(names)}')
            seen[norm] = i
    class_map = class_map or {}
    renames = {normalize_class_name(k): v for k, v in class_map.items()}
    bad_keys = [k for k in class_map
                if normalize_class_name(k) not in index['target']]
    bad_values = [v for v in class_map.values() if v is not None and
                  normalize_class_name(v) not in index['source']]
    if bad_keys or bad_values:
        lines = [f'class map ({where}) names unknown classes:']
        if bad_keys:
            lines.append(f'  {bad_keys} are not target (model) classes: '
                         f'{list(target_classes)}')
        if bad_values:
            lines.append(f'  {bad_values} are not source (checkpoint) '
                         f'classes: {list(source_classes)}')
        raise ClassMismatchError('\n'.join(lines))
    mapping = {}
    for t, name in enumerate(target_classes):
        norm = normalize_class_name(name)
        if norm in renames:
            if renames[norm] is None:
                continue
            norm = normalize_class_name(renames[norm])
        if norm in index['source']:
            mapping[t] = index['source'][norm]
    return mapping


@dataclass
class LoadReport:
    """What :func:`map_detector_state` loaded.

    Attributes:
        loaded: tensors loaded as is.
        class_tensors: class-specific tensors whose rows were mapped.
        mapped_classes: ``(target name, source name)`` pairs, target order.
        new_classes: target classes with fresh rows.
        not_found: model tensors the checkpoint lacks (left as initialised).
        unused: checkpoint tensors the model lacks.
        warnings: things to check (e.g. class names unknown).
        source: what was loaded (e.g. the checkpoint's path).
    """
    loaded: List[str] = field(default_factory=list)
    class_tensors: List[str] = field(default_factory=list)
    mapped_classes: List[Tuple[str, str]] = field(default_factory=list)
    new_classes: List[str] = field(default_factory=list)
    not_found: List[str] = field(default_factory=list)
    unused: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    source: str = 'the checkpoint'

    def table(self, max_names: int = 3) -> str:
        """A short, readable summary for the log."""
        def names(items):
            shown = ', '.join(items[:max_names])
            more = len(items) - max_names
            return shown + (f', ... (+{more})' if more > 0 else '')

        rows = [('loaded as is', self.loaded, False),
                ('class rows mapped', self.class_tensors, True),
                ('not found (as initialised)', self.not_found, True),
                ('unused', self.unused, True)]
        lines = [f'detector weights from {self.source}:']
        for label, items, show in rows:
            text = f'  {label:<27}{len(items):>5}'
            lines.append(text + (f'  {names(items)}' if show and items
                                 else ''))
        wrap = dict(width=79, initial_indent='    ', subsequent_indent='    ')
        if self.mapped_classes:
            lines.append(f'  classes from the checkpoint '
                         f'({len(self.mapped_classes)}, target <- source):')
            lines.append(textwrap.fill(', '.join(
                f'{t} <- {s}' for t, s in self.mapped_classes), **wrap))
        if self.new_classes:
            lines.append(f'  new classes, fresh rows '
                         f'({len(self.new_classes)}):')
            lines.append(textwrap.fill(', '.join(self.new_classes), **wrap))
        lines += [f'  warning: {w}' for w in self.warnings]
        return '\n'.join(lines)


def _class_kind(name: str) -> Optional[Tuple[str, int]]:
    for kind, pattern, unit in CLASS_TENSORS:
        if pattern.search(name):
            return kind, unit
    return None


def _remap_rows(src: torch.Tensor, fresh: torch.Tensor, kind: str, unit: int,
                mapping: Dict[int, int]) -> torch.Tensor:
    """``fresh`` with, for each ``t -> s``, rows ``unit*t ..`` set to the
    source rows ``unit*s ..`` (and the background row, last, for fc_cls)."""
    out = fresh.detach().clone()
    src = src.detach().to(device=out.device, dtype=out.dtype)
    for t, s in mapping.items():
        out[unit * t:unit * (t + 1)] = src[unit * s:unit * (s + 1)]
    if kind == 'fc_cls':
        out[-1] = src[-1]
    return out


def _expected_rows(kind: str, unit: int, count: int) -> int:
    return count + 1 if kind == 'fc_cls' else unit * count


def check_state_fits(source_state: Mapping, model_state: Mapping,
                     source: str = 'the checkpoint',
                     exempt: Optional[Callable[[str], bool]] = None
                     ) -> List[str]:
    """The tensor names ``source_state`` shares with ``model_state``.

    Raises:
        ValueError: no name is shared, or a shared tensor has another shape
            than the model's (the first five named with both shapes);
            names ``exempt(name)`` accepts may differ in shape.
    """
    common = [k for k in model_state if k in source_state]
    if not common:
        raise ValueError(
            f'{source} matches none of the model\'s tensors (checkpoint '
            f'keys such as {list(source_state)[:3]}, model keys such as '
            f'{list(model_state)[:3]})')
    wrong = [f'{k}: checkpoint {tuple(source_state[k].shape)} vs model '
             f'{tuple(model_state[k].shape)}' for k in common
             if hasattr(source_state[k], 'shape')
             and not (exempt and exempt(k))
             and tuple(source_state[k].shape) != tuple(model_state[k].shape)]
    if wrong:
        raise ValueError(
            f'{source} does not fit the model: {len(wrong)} tensor(s) of '
            'another shape, e.g. ' + '; '.join(wrong[:5]))
    return common


def map_detector_state(source_state: Mapping, model_state: Mapping,
                       target_classes: Optional[Sequence[str]],
                       source_classes: Optional[Sequence[str]],
                       class_map: ClassMap = None, *,
                       source: str = 'the checkpoint'
                       ) -> Tuple[dict, LoadReport]:
    """The state to load into a detector, class rows mapped by name.

    Args:
        source_state: the checkpoint's detector tensors
            (:func:`split_detector_state`).
        model_state: the detector's own ``state_dict()`` (fresh values).
        target_classes: the model's classes, label order (None: unknown).
        source_classes: the checkpoint's classes (None: unknown).
        class_map: as :func:`match_source_classes`.
        source: what ``source_state`` comes from, for messages.

    Returns:
        tuple: ``(state to load with strict=False, LoadReport)``.

    Raises:
        ValueError: no tensor matches by name, or a tensor has another
            shape than the model's (other than the class rows).
        ClassMismatchError: class-specific tensors differ and class names
            are unknown, or the names do not fit the tensors' rows.
    """
    report = LoadReport(source=source)
    # class rows may differ in shape: they are mapped below
    common = check_state_fits(source_state, model_state, source,
                              exempt=lambda k: _class_kind(k) is not None)
    report.not_found = [k for k in model_state if k not in source_state]
    report.unused = [k for k in source_state if k not in model_state]
    shape = {k: (tuple(source_state[k].shape), tuple(model_state[k].shape))
             for k in common}
    class_keys = [k for k in common if _class_kind(k) is not None]
    differ = [k for k in class_keys if shape[k][0] != shape[k][1]]
    names_known = target_classes is not None and source_classes is not None
    if not names_known:
        if differ:
            raise ClassMismatchError(
                NO_NAMES.format(what=source) if source_classes is None else
                f'the model\'s class names are not given (classes=[...]), '
                f'so the class rows of {source} cannot be mapped to them '
                f'(e.g. {differ[0]}: checkpoint {shape[differ[0]][0]} vs '
                f'model {shape[differ[0]][1]})')
        if class_keys:
            side = source if source_classes is None else 'the model'
            report.warnings.append(
                f'class names of {side} unknown: class-specific tensors '
                'loaded as is, in the checkpoint\'s class order')
        mapping, identity = {}, True
    else:
        target_classes = [str(c) for c in target_classes]
        source_classes = [str(c) for c in source_classes]
        mapping = match_source_classes(target_classes, source_classes,
                                       class_map)
        report.mapped_classes = [(target_classes[t], source_classes[s])
                                 for t, s in sorted(mapping.items())]
        report.new_classes = [c for t, c in enumerate(target_classes)
                              if t not in mapping]
        identity = (len(target_classes) == len(source_classes) and
                    mapping == {i: i for i in range(len(target_classes))})
    remap, bad = set(), []
    for k in class_keys if names_known else ():
        kind, unit = _class_kind(k)
        (s_rows, *s_rest), (m_rows, *m_rest) = shape[k]
        agnostic = kind != 'fc_cls' and s_rows == m_rows == unit
        want_s = _expected_rows(kind, unit, len(source_classes))
        want_m = _expected_rows(kind, unit, len(target_classes))
        if s_rest != m_rest or not agnostic and (s_rows != want_s or
                                                 m_rows != want_m):
            bad.append(f'{k}: checkpoint {shape[k][0]} for '
                       f'{len(source_classes)} classes vs model '
                       f'{shape[k][1]} for {len(target_classes)} classes')
        elif not (identity or agnostic):
            remap.add(k)  # else: same classes in the same order, or
            # class-agnostic: loaded as is
    if bad:
        raise ClassMismatchError(
            f'the class-specific tensors of {source} do not fit the class '
            'names (rows per class; fc_cls: C + 1, background last; fc_reg: '
            '4 C or 4; conv_logits: C or 1): ' + '; '.join(bad[:5]))
    new_state = {}
    for k in common:
        if k in remap:
            new_state[k] = _remap_rows(source_state[k], model_state[k],
                                       *_class_kind(k), mapping)
            report.class_tensors.append(k)
        else:
            new_state[k] = source_state[k]
            report.loaded.append(k)
    return new_state, report


def _dataset_classes(name: str) -> Tuple[str, ...]:
    from mmdet.registry import DATASETS
    dataset = DATASETS.get(name)
    classes = getattr(dataset, 'METAINFO', {}).get('classes') \
        if dataset is not None else None
    if not classes:
        raise ValueError(f'source_classes={name!r}: no registered mmdet '
                         'dataset of that name with METAINFO classes')
    return tuple(classes)


@WEIGHT_INITIALIZERS.register_module()
class DetectorCheckpointInit:
    """Initialise a detector from a (plain or video) checkpoint, its class
    rows mapped by name (module docstring).

    It runs as the detector's own ``init_cfg``. mmengine applies an init_cfg
    that is not ``Pretrained`` *before* the submodules' ``init_weights``,
    which would overwrite the loaded weights; so this initialiser first runs
    the submodules' ``init_weights`` itself (then marked initialised and
    skipped by mmengine), and loads the checkpoint over them: new classes
    get the heads' own initialisation. List it last in an init_cfg list.

    Args:
        checkpoint (str): path or URL.
        classes (list[str], optional): the model's classes, label order;
            needed when the class-specific tensors differ.
        source_classes (list[str] | str, optional): the checkpoint's
            classes, or the name of an mmdet dataset (``'CocoDataset'``);
            default: the names the checkpoint stores.
        class_map (dict | str, optional): ``{"model class": "checkpoint
            class" or null}`` or the path of such a json.
        map_location (str): where to load the tensors.
    """

    def __init__(self, checkpoint, classes=None, source_classes=None,
                 class_map=None, map_location='cpu'):
        self.checkpoint = checkpoint
        self.classes = None if classes is None else list(classes)
        self.source_classes = source_classes if source_classes is None or \
            isinstance(source_classes, str) else list(source_classes)
        self.class_map = class_map
        self.map_location = map_location
        self.wholemodule = False
        self.report: Optional[LoadReport] = None

    def _resolve_source_classes(self, meta) -> Optional[Tuple[str, ...]]:
        stored = checkpoint_classes(meta)
        given = self.source_classes
        if given is None:
            return stored
        given = _dataset_classes(given) if isinstance(given, str) \
            else tuple(given)
        if stored and [normalize_class_name(c) for c in stored] != \
                [normalize_class_name(c) for c in given]:
            print_log(f'{self.checkpoint} stores the classes {list(stored)};'
                      f' using the given source_classes instead',
                      logger='current', level=30)
        return given

    @staticmethod
    def _init_children(module) -> None:
        from mmengine.model import BaseModule, is_model_wrapper
        for child in module.children():
            if is_model_wrapper(child) and not hasattr(child, 'init_weights'):
                child = child.module
            if hasattr(child, 'init_weights') and \
                    not getattr(child, 'is_init', False):
                child.init_weights()
                if not isinstance(child, BaseModule):
                    child.is_init = True  # mmengine would run it again
                if hasattr(child, '_params_init_info'):
                    update_init_info(child, init_info='Initialized by '
                                     'user-defined `init_weights` in '
                                     f'{child.__class__.__name__} ')

    def __call__(self, module) -> None:
        from mmengine.runner.checkpoint import CheckpointLoader
        self._init_children(module)
        ckpt = CheckpointLoader.load_checkpoint(
            self.checkpoint, map_location=self.map_location, logger='silent')
        if not isinstance(ckpt, dict):
            raise ValueError(f'{self.checkpoint} is not a checkpoint (a '
                             'dict of weights)')
        state = ckpt.get('state_dict', ckpt)
        source_classes = self._resolve_source_classes(ckpt.get('meta'))
        new_state, self.report = map_detector_state(
            split_detector_state(state), module.state_dict(), self.classes,
            source_classes, self.class_map, source=self.checkpoint)
        with torch.no_grad():
            module.load_state_dict(new_state, strict=False)
        print_log(self.report.table(), logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return (f'{self.__class__.__name__}: load from {self.checkpoint}, '
                'class rows mapped by name')

    def __repr__(self) -> str:
        classes = None if self.classes is None else \
            f'[{len(self.classes)} names]'
        source = self.source_classes
        if isinstance(source, list):
            source = f'[{len(source)} names]'
        return (f'{self.__class__.__name__}(checkpoint={self.checkpoint!r}, '
                f'classes={classes}, source_classes={source}, '
                f'class_map={self.class_map!r})')
