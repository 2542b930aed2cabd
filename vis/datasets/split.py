"""Split a YouTube-VIS annotation dict by video into a train and a held-out part.

The official valid/test splits of YouTube-VIS ship without annotations, so a
local validation set has to be carved out of the train split.  The split is
made per *video*: every annotation (instance track) goes with its video, and
the held-out part keeps its annotations.

The pure-data part is :func:`split_by_video`; the file-system part (json
writing, per-video image links) lives with it here so that
``tools/split_ytvis.py`` stays a thin command line wrapper.
"""

import json
import os
import posixpath
import random
import shutil
import tempfile
from typing import Dict, List, Tuple

#: Top-level keys that are partitioned; every other key is copied to both parts.
PARTITIONED_KEYS = ('videos', 'annotations')


def split_by_video(ann: dict, fraction: float, seed: int) -> Tuple[dict, dict]:
    """Split a YouTube-VIS annotation dict into ``(train_ann, valid_ann)`` by video.

    Args:
        ann: a loaded YouTube-VIS json (needs ``'videos'``; ``'annotations'``
            may be absent, it is then treated as empty).
        fraction: fraction of the videos to hold out, in the open interval
            (0, 1).  The held-out count is ``round(fraction * num_videos)``
            clamped so that at least one video is held out and at least one
            is kept.
        seed: seed of the random choice; the same ``(ann, fraction, seed)``
            always gives the same split.

    Returns:
        Two dicts with the same top-level keys as ``ann`` (plus
        ``'annotations'`` if it was missing).  ``'videos'`` and
        ``'annotations'`` are partitioned, in their original order; every
        other key (``'categories'``, ``'info'``, ``'licenses'``, ...) is
        copied to both (the values are shared, not deep-copied).

    Raises:
        ValueError: ``fraction`` is not in (0, 1); ``ann`` has no
            ``'videos'`` list or fewer than two videos; a video has no
            ``'id'`` or a duplicate one; an annotation has no ``'video_id'``
            or one that is not in ``ann['videos']``.  The message names the
            offending field.
    """
    check_fraction(fraction)
    videos = _get_list(ann, 'videos', required=True)
    annotations = _get_list(ann, 'annotations', required=False)
    video_ids = _video_ids(videos)
    _check_annotation_video_ids(annotations, set(video_ids))

    held_out = set(choose_held_out(video_ids, fraction, seed))
    train_ann = _with_parts(
        ann,
        [v for v in videos if v['id'] not in held_out],
        [a for a in annotations if a['video_id'] not in held_out])
    valid_ann = _with_parts(
        ann,
        [v for v in videos if v['id'] in held_out],
        [a for a in annotations if a['video_id'] in held_out])
    return train_ann, valid_ann


def check_fraction(fraction: float) -> None:
    """Raise ValueError unless ``fraction`` is a number strictly between 0 and 1."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise ValueError(f'fraction must be a number in (0, 1), got {fraction!r}')
    if not 0 < fraction < 1:  # also rejects NaN
        raise ValueError(
            f'fraction must be strictly between 0 and 1, got {fraction}')


def num_held_out(num_videos: int, fraction: float) -> int:
    """Return how many of ``num_videos`` videos ``fraction`` holds out.

    ``round(fraction * num_videos)`` (halves rounded up), clamped to
    ``[1, num_videos - 1]``.  Raises ValueError if ``num_videos < 2``.
    """
    check_fraction(fraction)
    if num_videos < 2:
        raise ValueError(
            f"need at least 2 videos in 'videos' to hold out one and keep "
            f'one, got {num_videos}')
    count = int(fraction * num_videos + 0.5)
    return min(max(count, 1), num_videos - 1)


def choose_held_out(video_ids: List, fraction: float, seed: int) -> List:
    """Return the ids of the videos to hold out, deterministically in ``seed``.

    The ids are sorted before sampling so the choice does not depend on the
    order of ``'videos'`` in the file.
    """
    count = num_held_out(len(video_ids), fraction)
    rng = random.Random(seed)
    return rng.sample(sorted(video_ids, key=_sort_key), count)


def _sort_key(video_id):
    """Sort key that orders ints numerically and tolerates mixed id types."""
    return (type(video_id).__name__, video_id)


def _get_list(ann: dict, key: str, required: bool) -> list:
    """Return ``ann[key]`` checked to be a list (``[]`` if optional and absent/None)."""
    if not isinstance(ann, dict):
        raise ValueError(
            f'expected a JSON object at the top level, got {type(ann).__name__}')
    if key not in ann or ann[key] is None:
        if required:
            raise ValueError(
                f"missing top-level key {key!r} (found keys: {sorted(ann)})")
        return []
    value = ann[key]
    if not isinstance(value, list):
        raise ValueError(
            f"top-level {key!r} must be a list, got {type(value).__name__}")
    return value


def _video_ids(videos: list) -> list:
    """Return the ids of ``videos``, checking each has a unique ``'id'``."""
    ids, seen = [], set()
    for index, video in enumerate(videos):
        if not isinstance(video, dict) or 'id' not in video:
            raise ValueError(f"videos[{index}] has no 'id' field")
        video_id = video['id']
        if video_id in seen:
            raise ValueError(
                f"videos[{index}]: duplicate 'id' {video_id!r} in 'videos'")
        seen.add(video_id)
        ids.append(video_id)
    return ids


def _check_annotation_video_ids(annotations: list, video_ids: set) -> None:
    """Check every annotation has a ``'video_id'`` that is in ``video_ids``."""
    for index, annotation in enumerate(annotations):
        where = f'annotations[{index}]'
        if isinstance(annotation, dict) and 'id' in annotation:
            where += f" (id={annotation['id']!r})"
        if not isinstance(annotation, dict) or 'video_id' not in annotation:
            raise ValueError(f"{where} has no 'video_id' field")
        if annotation['video_id'] not in video_ids:
            raise ValueError(
                f"{where}: 'video_id' {annotation['video_id']!r} is not the "
                f"'id' of any entry in 'videos'")


def _with_parts(ann: dict, videos: list, annotations: list) -> dict:
    """Return a copy of ``ann`` whose ``'videos'``/``'annotations'`` are replaced."""
    part = dict(ann)
    part['videos'] = videos
    part['annotations'] = annotations
    return part


# --------------------------------------------------------------------------
# File-system helpers used by tools/split_ytvis.py
# --------------------------------------------------------------------------


def load_json(path: str) -> dict:
    """Load a json file; errors name the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    try:
        with open(path, 'r', encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f'{path}: invalid JSON: {err}') from err


def write_json_atomic(obj, path: str) -> None:
    """Write ``obj`` as compact json to ``path`` via a temp file and ``os.replace``.

    Readers never see a half-written file; on failure the temp file is removed
    and any previous ``path`` is left untouched.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(
        dir=directory, prefix=f'.{os.path.basename(path)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(obj, f, separators=(',', ':'))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def _umask() -> int:
    """Return the process umask without changing it."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def video_dirs(video: dict, index: int) -> List[str]:
    """Return the distinct frame folders (relative, posix) used by ``video``'s
    ``'file_names'``, e.g. ``['0043f083b5']``."""
    file_names = video.get('file_names')
    if not isinstance(file_names, list) or not file_names:
        raise ValueError(
            f"videos[{index}] (id={video.get('id')!r}) has no non-empty "
            f"'file_names' list")
    dirs = []
    for name in file_names:
        folder = posixpath.dirname(name)
        if not folder or posixpath.isabs(folder) or '..' in folder.split('/'):
            raise ValueError(
                f"videos[{index}] (id={video.get('id')!r}): 'file_names' "
                f"entry {name!r} is not '<video_dir>/<frame>'")
        if folder not in dirs:
            dirs.append(folder)
    return dirs


def frame_folders_by_video(videos: list, img_dir: str) -> Dict[object, List[str]]:
    """Return ``{video id: its frame folders}``, checking they exist under ``img_dir``."""
    folders = {}
    for index, video in enumerate(videos):
        folders[video.get('id')] = video_dirs(video, index)
        for folder in folders[video.get('id')]:
            source = os.path.join(img_dir, folder)
            if not os.path.isdir(source):
                raise FileNotFoundError(
                    f"frame folder of videos[{index}] (id={video.get('id')!r}) "
                    f'not found: {source}')
    return folders


def folders_of(videos: list, folders_by_video: Dict[object, List[str]]) -> List[str]:
    """Return the distinct frame folders of ``videos``, in order."""
    folders = []
    for video in videos:
        for folder in folders_by_video[video['id']]:
            if folder not in folders:
                folders.append(folder)
    return folders


def populate_image_dir(folders: List[str], img_dir: str, target: str,
                       copy: bool = False) -> None:
    """Make ``target`` hold ``folders`` of ``img_dir``: symlinks, or copies if ``copy``.

    The folder is built next to ``target`` under a temporary name and moved
    into place at the end.  An existing ``target`` is replaced only if it is
    empty or contains nothing but symlinks (a previous link-mode output);
    otherwise FileExistsError is raised, so real image data is never removed.
    """
    _check_replaceable(target)
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix='.JPEGImages.', suffix='.tmp')
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it 0700
        for folder in folders:
            source = os.path.abspath(os.path.join(img_dir, folder))
            link = os.path.join(staging, *folder.split('/'))
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if copy:
                shutil.copytree(source, link)
            else:
                os.symlink(source, link, target_is_directory=True)
        _move_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _check_replaceable(target: str) -> None:
    """Raise FileExistsError if ``target`` exists and holds anything but symlinks."""
    if os.path.islink(target) or (os.path.exists(target)
                                  and not os.path.isdir(target)):
        raise FileExistsError(
            f'{target} exists and is not a directory; remove it or choose '
            f'another --out-dir')
    if not os.path.isdir(target):
        return
    with os.scandir(target) as entries:
        if any(not entry.is_symlink() for entry in entries):
            raise FileExistsError(
                f'{target} already exists and contains more than symlinks; '
                f'refusing to replace it (remove it or choose another '
                f'--out-dir)')


def _move_into_place(staging: str, target: str) -> None:
    """Replace ``target`` (absent, or a folder of symlinks) with ``staging``."""
    if not os.path.isdir(target):
        os.replace(staging, target)
        return
    old = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(target)),
                           prefix='.JPEGImages.old.', suffix='.tmp')
    os.rmdir(old)
    os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old)  # symlinks only: the link targets are not touched


def count_annotations(ann: dict) -> Dict[str, int]:
    """Return ``{'videos': n, 'annotations': m}`` for a (split) annotation dict."""
    return {key: len(ann.get(key) or []) for key in PARTITIONED_KEYS}
