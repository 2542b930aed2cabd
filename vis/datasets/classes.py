"""One rule for matching a data set's categories to a model's classes.

A trained model predicts labels ``0 .. C-1`` that mean the class names it was
trained with (stored in its checkpoint). A data set names its categories in
its json. The two lists are matched **by name**, never by position:

* names compare case-insensitively, with ``_`` and spaces alike and runs of
  whitespace collapsed (``"Giant_panda"`` == ``"giant panda"``);
* a class map (a json ``{"data name": "model name"}``, e.g. one of
  ``configs/class_maps/``) renames data categories first; a ``null`` value
  leaves that data category out of the evaluation on purpose;
* a data category that matches no model class is an error, raised before
  any inference, naming both lists;
* model classes that match no data category are dropped from the results
  (their predictions have no category to be scored against).
"""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    'OVIS_CLASSES', 'ClassMatch', 'ClassMismatchError', 'load_class_map',
    'match_classes', 'normalize_class_name'
]

#: The 25 OVIS categories, by id (1..25), spelled as in its json files.
OVIS_CLASSES = ('Person', 'Bird', 'Cat', 'Dog', 'Horse', 'Sheep', 'Cow',
                'Elephant', 'Bear', 'Zebra', 'Giraffe', 'Poultry',
                'Giant_panda', 'Lizard', 'Parrot', 'Monkey', 'Rabbit',
                'Tiger', 'Fish', 'Turtle', 'Bicycle', 'Motorcycle',
                'Airplane', 'Boat', 'Vehical')


class ClassMismatchError(ValueError):
    """A data set's categories cannot be matched to a model's classes."""


def normalize_class_name(name: str) -> str:
    """The form two class names are compared in: lower case, ``_`` as a
    space, whitespace runs collapsed, no leading or trailing space."""
    return ' '.join(str(name).replace('_', ' ').lower().split())


def load_class_map(path: str) -> Dict[str, Optional[str]]:
    """Read a class map json: ``{"data name": "model name" or null}``.

    Raises:
        FileNotFoundError: no such file.
        ClassMismatchError: not a json object of strings (or nulls); two
            keys that are the same name once normalised.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'class map {path} does not exist')
    with open(path, encoding='utf-8') as f:
        try:
            mapping = json.load(f)
        except json.JSONDecodeError as err:
            raise ClassMismatchError(f'class map {path}: not valid json '
                                     f'({err})') from err
    check_class_map(mapping, path)
    return mapping


def check_class_map(mapping, where: str) -> None:
    """Raise :class:`ClassMismatchError` unless ``mapping`` is a
    ``{str: str or None}`` dict with distinct normalised keys."""
    if not isinstance(mapping, dict):
        raise ClassMismatchError(
            f'class map {where}: expected a json object {{"data name": '
            f'"model name"}}, got {type(mapping).__name__}')
    seen: Dict[str, str] = {}
    for key, value in mapping.items():
        if not isinstance(value, (str, type(None))):
            raise ClassMismatchError(
                f'class map {where}: the value of {key!r} must be a model '
                f'class name or null, got {value!r}')
        norm = normalize_class_name(key)
        if norm in seen:
            raise ClassMismatchError(
                f'class map {where}: {seen[norm]!r} and {key!r} are the same '
                'data class name')
        seen[norm] = key


@dataclass(frozen=True)
class ClassMatch:
    """How a data set's categories map onto a model's classes.

    Attributes:
        data_classes (tuple[str]): the data's category names, in its order.
        model_classes (tuple[str]): the model's class names; label ``i``
            means ``model_classes[i]``.
        data_to_model (dict[int, int]): data category index -> model label,
            for every data category that is evaluated.
        ignored_data (tuple[str]): data categories the class map set to
            null (not evaluated).
        dropped_model (tuple[str]): model classes no data category matches
            (their predictions are dropped).
    """
    data_classes: Tuple[str, ...]
    model_classes: Tuple[str, ...]
    data_to_model: Dict[int, int]
    ignored_data: Tuple[str, ...]
    dropped_model: Tuple[str, ...]

    @property
    def model_to_data(self) -> Dict[int, int]:
        """Model label -> data category index, for the matched labels."""
        return {m: d for d, m in self.data_to_model.items()}

    @property
    def is_identity(self) -> bool:
        """Same classes in the same order: nothing to map or drop."""
        return (len(self.data_classes) == len(self.model_classes)
                and all(d == m for d, m in self.data_to_model.items())
                and not self.ignored_data)

    def summary(self) -> str:
        """A few lines for the log: what is matched, renamed and dropped."""
        renamed = [f'{self.data_classes[d]} -> {self.model_classes[m]}'
                   for d, m in sorted(self.data_to_model.items())
                   if normalize_class_name(self.data_classes[d]) !=
                   normalize_class_name(self.model_classes[m])]
        lines = [f'{len(self.data_to_model)} of {len(self.data_classes)} '
                 f'data classes matched to the model\'s '
                 f'{len(self.model_classes)} classes by name']
        if renamed:
            lines.append('  renamed by the class map: ' + ', '.join(renamed))
        if self.ignored_data:
            lines.append('  data classes not evaluated (null in the class '
                         'map): ' + ', '.join(self.ignored_data))
        if self.dropped_model:
            lines.append('  model classes absent from the data, their '
                         'predictions dropped: ' + ', '.join(self.dropped_model))
        return '\n'.join(lines)


def match_classes(data_classes: Sequence[str], model_classes: Sequence[str],
                  class_map: Union[None, str, Mapping[str,
                                                      Optional[str]]] = None,
                  *, data_source: str = 'the data',
                  model_source: str = 'the model') -> ClassMatch:
    """Match data category names to model class names (module docstring).

    Args:
        data_classes: the data's category names (e.g. a json's
            ``categories`` sorted by id).
        model_classes: the model's class names, in label order.
        class_map: None, a class map dict or the path of a class map json.
        data_source, model_source: what the lists come from, for errors
            (e.g. the json's path, the checkpoint's).

    Returns:
        ClassMatch.

    Raises:
        ClassMismatchError: a data category matches no model class (the
            message names both lists), two data categories match the same
            model class, a class map value is no model class, or the model
            lists a name twice.
    """
    if isinstance(class_map, str):
        map_where = class_map
        class_map = load_class_map(class_map)
    else:
        map_where = 'given'
        if class_map is not None:
            check_class_map(class_map, map_where)
    data_classes = tuple(str(c) for c in data_classes)
    model_classes = tuple(str(c) for c in model_classes)
    model_index: Dict[str, int] = {}
    for label, name in enumerate(model_classes):
        norm = normalize_class_name(name)
        if norm in model_index:
            raise ClassMismatchError(
                f'{model_source} names the class {name!r} twice (labels '
                f'{model_index[norm]} and {label})')
        model_index[norm] = label
    renames = {normalize_class_name(k): v
               for k, v in (class_map or {}).items()}

    data_to_model: Dict[int, int] = {}
    ignored, missing = [], []
    taken: Dict[int, int] = {}  # model label -> data index
    for index, name in enumerate(data_classes):
        norm = normalize_class_name(name)
        if norm in renames:
            target = renames[norm]
            if target is None:
                ignored.append(name)
                continue
            if normalize_class_name(target) not in model_index:
                raise ClassMismatchError(
                    f'class map ({map_where}) maps the data class {name!r} '
                    f'to {target!r}, which is not one of the classes of '
                    f'{model_source}: {list(model_classes)}')
            norm = normalize_class_name(target)
        if norm not in model_index:
            missing.append(name)
            continue
        label = model_index[norm]
        if label in taken:
            raise ClassMismatchError(
                f'the data classes {data_classes[taken[label]]!r} and '
                f'{name!r} of {data_source} both match the model class '
                f'{model_classes[label]!r}; a model class can stand for one '
                'data class only (set one of them to null in a class map)')
        taken[label] = index
        data_to_model[index] = label
    if missing:
        raise ClassMismatchError(
            f'{len(missing)} class(es) of {data_source} are not classes of '
            f'{model_source}: {missing}.\n'
            f'  data classes ({len(data_classes)}): {list(data_classes)}\n'
            f'  model classes ({len(model_classes)}): {list(model_classes)}\n'
            'Names match case-insensitively, "_" matching a space. Map the '
            'other names with --class-map FILE (a json {"data name": '
            '"model name"}, null to leave a data class out; see '
            'configs/class_maps/).')
    dropped = tuple(name for label, name in enumerate(model_classes)
                    if label not in taken)
    return ClassMatch(data_classes=data_classes, model_classes=model_classes,
                      data_to_model=data_to_model, ignored_data=tuple(ignored),
                      dropped_model=dropped)


def checkpoint_classes(meta: Optional[dict]) -> Optional[Tuple[str, ...]]:
    """Class names a checkpoint's ``meta`` stores: mmengine's
    ``dataset_meta.classes``, else mmdet 2.x's ``CLASSES``; None if neither.
    """
    meta = meta if isinstance(meta, dict) else {}
    classes = (meta.get('dataset_meta') or {}).get('classes') or \
        meta.get('CLASSES')
    return tuple(classes) if classes else None
