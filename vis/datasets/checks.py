"""Checks of a YouTube-VIS annotation file and, optionally, of its frames.

One set of checks serves both :class:`~vis.datasets.YouTubeVISJsonDataset`
(run when a data set loads) and ``tools/check_dataset.py`` (run by hand on a
data root). :func:`check_annotations` walks a loaded json and returns a
:class:`CheckReport` whose :class:`Problem` entries each name the json file,
the video (id, position in ``videos`` and frame folder), the annotation id,
the frame index, the field (as a json path such as
``annotations[4].segmentations[2].size``) and what is wrong.

What is checked:

* top level: ``videos`` and ``categories`` are lists (``annotations`` may be
  absent or null, as in the official valid/test files); ``videos`` is not
  empty; categories have an ``id`` and a ``name``, both unique.
* videos: ``id``, ``file_names``, ``height``, ``width`` present and of the
  right type; no duplicate ids; at least one frame (an empty video is a
  problem).
* annotations: ``id``, ``video_id``, ``category_id``, ``segmentations``
  present; ``video_id`` is a video; ``category_id`` is a category; no
  duplicate ids; ``segmentations`` and, when present, ``bboxes`` and
  ``areas`` have one entry per frame of the video.
* per frame: a segmentation is null, polygons, uncompressed RLE (``counts``
  a list summing to height * width) or compressed RLE (``counts`` a string of
  the COCO alphabet), and an RLE ``size`` equals the video's
  ``[height, width]``; a bbox is null exactly where the segmentation is null,
  is ``[x, y, w, h]`` with ``w, h >= 0`` and lies inside the frame up to
  :data:`BOX_TOLERANCE` pixels on every side (boxes rounded outward, or
  drawn to the pixel boundary ``x + w == width + 0.5``, are fine); an area is
  null or a non-negative number.
* frame files (``frames`` argument, see :data:`FRAME_MODES`): the file
  exists (``'exists'``), opens as an image of the json's width x height
  (``'header'``: reads the image header only, cheap) or also decodes in full
  (``'decode'``: catches truncated or corrupt image data, slow).

Not checked: the pixel content of a compressed RLE string (its run lengths
are only summed by decoding the mask, which is too slow for a load-time
check), polygon vertices outside the frame (pycocotools clips them), and the
per-annotation ``height``/``width``/``length`` fields, which the official
files fill inconsistently and nothing reads.

A problem tied to a video (``Problem.video_index`` is set) makes that video
"bad": :class:`~vis.datasets.YouTubeVISJsonDataset` can drop such videos
(``skip_bad_videos=True``). A problem tied to no video (the file's top
level, the categories, an annotation whose ``video_id`` is no video) is
fatal: no video can be dropped to fix it.
"""
import json
import math
import os
import os.path as osp
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

#: Boxes may overhang the frame by this many pixels on each side (sub-pixel
#: and rounding conventions differ between annotation tools).
BOX_TOLERANCE = 1.0

#: How much of each frame file :func:`check_annotations` looks at:
#: ``'none'``, ``'exists'`` (the file is there), ``'header'`` (it opens as an
#: image of the json's size; reads the header only) or ``'decode'`` (it also
#: decodes in full).
FRAME_MODES = ('none', 'exists', 'header', 'decode')

#: Characters of a COCO compressed RLE string (``chr(48)`` to ``chr(111)``).
_COMPRESSED_RLE = re.compile(r'[0-o]+')

_REQUIRED_VIDEO_KEYS = ('id', 'file_names', 'height', 'width')
_REQUIRED_ANN_KEYS = ('id', 'video_id', 'category_id', 'segmentations')
_PER_FRAME_FIELDS = ('segmentations', 'bboxes', 'areas')


class AnnotationError(ValueError):
    """A YouTube-VIS annotation file has a field that cannot be used.

    ``problems`` holds the :class:`Problem` entries behind the error (empty
    when the error was raised for a single field outside the checks).
    """

    def __init__(self, message: str, problems: Sequence['Problem'] = ()):
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a YouTube-VIS json or with one of its frames.

    Attributes:
        ann_file: the json file.
        message: what is wrong.
        field: json path of the field, e.g. ``'videos[2].file_names[3]'``
            or ``'annotations[7].bboxes[1]'`` (``''`` for the whole file).
        video_index: position of the video in ``videos``; ``None`` when the
            problem is tied to no video (then it is fatal).
        video_id: the video's ``id`` (``None`` if it has none).
        video_name: the video's frame folder (``file_names[0]``'s folder).
        ann_id: the annotation's ``id``, for annotation problems.
        frame: the frame index in the video, for per-frame problems.
    """
    ann_file: str
    message: str
    field: str = ''
    video_index: Optional[int] = None
    video_id: Any = None
    video_name: Optional[str] = None
    ann_id: Any = None
    frame: Optional[int] = None

    def location(self) -> str:
        """``'video 3 annotation 7 frame 2'`` (the parts that apply)."""
        parts = []
        if self.video_id is not None:
            parts.append(f'video {self.video_id}')
        elif self.video_index is not None:
            parts.append(f'videos[{self.video_index}]')
        if self.ann_id is not None:
            parts.append(f'annotation {self.ann_id}')
        if self.frame is not None:
            parts.append(f'frame {self.frame}')
        return ' '.join(parts)

    def __str__(self) -> str:
        head = self.ann_file
        if self.location():
            head += f': {self.location()}'
        details = []
        if self.field:
            details.append(f'field: {self.field}')
        if self.video_name is not None:
            details.append(f'video folder: {self.video_name}')
        tail = f' ({"; ".join(details)})' if details else ''
        return f'{head}: {self.message}{tail}'


@dataclass
class CheckReport:
    """What :func:`check_annotations` found in one json."""
    ann_file: str
    problems: List[Problem] = field(default_factory=list)
    num_videos: int = 0
    num_annotations: int = 0
    num_frames: int = 0  # frames listed in the videos' file_names
    frames_checked: int = 0  # frame files looked at (0 with frames='none')
    frame_mode: str = 'none'

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems

    @property
    def fatal(self) -> List[Problem]:
        """Problems tied to no video: skipping videos cannot fix them."""
        return [p for p in self.problems if p.video_index is None]

    @property
    def bad_videos(self) -> List[int]:
        """Sorted positions in ``videos`` of the videos with a problem."""
        return sorted({p.video_index for p in self.problems
                       if p.video_index is not None})


def load_json(path: str, name: Optional[str] = None) -> dict:
    """Read a YouTube-VIS json; raise :class:`AnnotationError` if it is not
    valid json or its top level is not an object (``OSError`` if it cannot
    be read). Errors name the file as ``name`` (default ``path``)."""
    name = path if name is None else name
    with open(path) as f:
        try:
            ann = json.load(f)
        except json.JSONDecodeError as err:
            raise AnnotationError(f'{name}: not valid json ({err})') from err
    if not isinstance(ann, dict):
        raise AnnotationError(
            f'{name}: the top-level json value is a {type(ann).__name__}, '
            'expected an object with "videos" and "categories"')
    return ann


def frame_mode(check_frames) -> str:
    """Normalise a ``check_frames`` option: ``False``/``None`` -> ``'none'``,
    ``True`` -> ``'header'``, or one of :data:`FRAME_MODES`."""
    if check_frames is None or check_frames is False:
        return 'none'
    if check_frames is True:
        return 'header'
    if check_frames in FRAME_MODES:
        return check_frames
    raise ValueError(f'check_frames must be a bool or one of {FRAME_MODES}, '
                     f'got {check_frames!r}')


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value) -> bool:
    return _is_int(value) or isinstance(value, str)


def segmentation_problem(seg, height: int,
                         width: int) -> Optional[Tuple[str, str]]:
    """Check one frame's (non-null) segmentation against the frame size.

    Returns:
        ``None`` if ``seg`` is usable, else ``(sub_field, message)`` where
        ``sub_field`` (e.g. ``'.size'``) extends the segmentation's json path.
    """
    if isinstance(seg, list):
        for k, poly in enumerate(seg):
            if not isinstance(poly, list) or \
                    not all(_is_number(v) for v in poly):
                return (f'[{k}]', 'a polygon must be a list of numbers '
                        '[x1, y1, x2, y2, ...]')
        if not any(len(p) >= 6 and len(p) % 2 == 0 for p in seg):
            return ('', 'polygon segmentation has no polygon with at least '
                    '3 points')
        return None
    if not isinstance(seg, dict):
        return ('', "segmentation must be polygons, an RLE dict with 'size' "
                f"and 'counts', or null; got {type(seg).__name__}")
    for key in ('size', 'counts'):
        if key not in seg:
            return ('', f"RLE segmentation has no '{key}'")
    size = seg['size']
    if not isinstance(size, list) or len(size) != 2 or \
            not all(_is_int(v) for v in size):
        return ('.size', f"RLE 'size' must be [height, width], got {size!r}")
    if size != [height, width]:
        return ('.size', f'RLE size {size} differs from the video frame size '
                f'[{height}, {width}]')
    counts = seg['counts']
    if isinstance(counts, list):
        try:  # sum/min run in C: cheap even on the official train file
            total, smallest = sum(counts), min(counts, default=0)
        except TypeError:
            total, smallest = None, None
        if not _is_int(total) or smallest < 0:
            return ('.counts', 'uncompressed RLE counts must be non-negative '
                    'integers')
        if total != height * width:
            return ('.counts', f'uncompressed RLE counts sum to {total}, '
                    f'expected {height}*{width}')
        return None
    if isinstance(counts, str):
        if not _COMPRESSED_RLE.fullmatch(counts):
            return ('.counts', 'compressed RLE counts must be a non-empty '
                    "string of the characters '0' to 'o'")
        return None
    return ('.counts', 'RLE counts must be a list of integers (uncompressed) '
            f'or a string (compressed), got {type(counts).__name__}')


def bbox_problem(box, height: int, width: int,
                 tolerance: float = BOX_TOLERANCE) -> Optional[str]:
    """Check one frame's (non-null) ``[x, y, w, h]`` box; return a message
    or ``None``. The box may overhang the frame by ``tolerance`` pixels."""
    if not isinstance(box, list) or len(box) != 4 or \
            not all(_is_number(v) for v in box):
        return f'bbox must be [x, y, width, height] (4 numbers), got {box!r}'
    x, y, w, h = box
    if w < 0 or h < 0:
        return f'bbox {box} has a negative width or height'
    if x < -tolerance or y < -tolerance or x + w > width + tolerance or \
            y + h > height + tolerance:
        return (f'bbox {box} (x {x:g} to {x + w:g}, y {y:g} to {y + h:g}) '
                f'lies outside the {width}x{height} frame (tolerance '
                f'{tolerance:g} px)')
    return None


def frame_file_problem(path: str, height: int, width: int,
                       mode: str) -> Optional[str]:
    """Check one frame file (``mode`` in :data:`FRAME_MODES`); return a
    message naming ``path``, or ``None``."""
    if mode == 'none':
        return None
    if not osp.isfile(path):
        return f'frame file not found: {path}'
    if mode == 'exists':
        return None
    from PIL import Image  # mmcv depends on Pillow
    try:
        with Image.open(path) as image:
            size = image.size
            if mode == 'decode':
                image.load()
    except Exception as err:  # PIL raises many types on bad data
        reason = type(err).__name__
        if path not in str(err):
            reason += f': {err}'
        return f'frame file {path} cannot be read as an image ({reason})'
    if size != (width, height):
        return (f'frame file {path} is {size[0]}x{size[1]} (width x height) '
                f'but the video says {width}x{height}')
    return None


def _video_name(video: dict) -> Optional[str]:
    names = video.get('file_names')
    if isinstance(names, list) and names and isinstance(names[0], str):
        return posixpath.dirname(names[0].replace(os.sep, '/')) or None
    return None


class _Walker:
    """State of one :func:`check_annotations` run."""

    def __init__(self, ann_file: str):
        self.ann_file = ann_file
        self.problems: List[Problem] = []
        self.videos: List[Any] = []

    def add(self, message: str, field: str = '', video_index=None,
            ann_id=None, frame=None) -> None:
        video_id = video_name = None
        if video_index is not None:
            video = self.videos[video_index]
            if isinstance(video, dict):
                video_id = video.get('id') if _is_id(video.get('id')) \
                    else None
                video_name = _video_name(video)
        self.problems.append(Problem(
            self.ann_file, message, field, video_index, video_id, video_name,
            ann_id, frame))


def check_annotations(ann: dict, ann_file: str, img_dir: Optional[str] = None,
                      frames: str = 'none', unique_ann_ids: bool = True,
                      progress: bool = False,
                      progress_desc: str = 'frames') -> CheckReport:
    """Check a loaded YouTube-VIS json (and its frame files).

    Args:
        ann: the loaded json (see :func:`load_json`).
        ann_file: the json's path, named in every problem.
        img_dir: folder that ``file_names`` are relative to (the split's
            ``JPEGImages``); needed unless ``frames='none'``.
        frames: one of :data:`FRAME_MODES`.
        unique_ann_ids: report duplicate annotation ids.
        progress: show a tqdm bar over the frame files.
        progress_desc: the bar's label.

    Returns:
        CheckReport: the problems (in file order: top level, categories,
        videos, annotations, frame files) and the counts.
    """
    if frames not in FRAME_MODES:
        raise ValueError(f'frames must be one of {FRAME_MODES}, '
                         f'got {frames!r}')
    if frames != 'none' and img_dir is None:
        raise ValueError('img_dir is needed to check the frame files')
    walk = _Walker(ann_file)
    report = CheckReport(ann_file, walk.problems, frame_mode=frames)

    videos, categories = ann.get('videos'), ann.get('categories')
    annotations = ann.get('annotations')
    for key, value in (('videos', videos), ('categories', categories)):
        if key not in ann:
            walk.add(f"missing top-level key '{key}'", key)
        elif not isinstance(value, list):
            walk.add(f"'{key}' must be a list, got {type(value).__name__}",
                     key)
    if annotations is not None and not isinstance(annotations, list):
        walk.add("'annotations' must be a list or null, got "
                 f'{type(annotations).__name__}', 'annotations')
        annotations = None
    videos = videos if isinstance(videos, list) else []
    categories = categories if isinstance(categories, list) else []
    annotations = annotations or []
    if 'videos' in ann and isinstance(ann['videos'], list) and not videos:
        walk.add("'videos' is empty", 'videos')
    walk.videos = videos
    report.num_videos, report.num_annotations = len(videos), len(annotations)

    known_cats = _check_categories(walk, categories)
    shapes, ids_to_index = _check_videos(walk, videos)
    report.num_frames = sum(
        len(v['file_names']) for v in videos
        if isinstance(v, dict) and isinstance(v.get('file_names'), list))
    _check_annotation_list(walk, annotations, known_cats, shapes,
                           ids_to_index, unique_ann_ids)
    if frames != 'none':
        report.frames_checked = _check_frame_files(
            walk, shapes, img_dir, frames, progress, progress_desc)
    return report


def _check_categories(walk: _Walker, categories: list) -> set:
    """Categories need a unique ``id`` and a unique ``name``."""
    ids, names = {}, {}
    for i, cat in enumerate(categories):
        where = f'categories[{i}]'
        if not isinstance(cat, dict):
            walk.add(f'a category must be an object, got '
                     f'{type(cat).__name__}', where)
            continue
        for key, seen in (('id', ids), ('name', names)):
            if key not in cat:
                walk.add(f"category has no '{key}'", f'{where}.{key}')
                continue
            value = cat[key]
            ok = _is_id(value) if key == 'id' else isinstance(value, str)
            if not ok:
                walk.add(f'category {key} {value!r} has the wrong type',
                         f'{where}.{key}')
            elif value in seen:
                walk.add(f'duplicate category {key} {value!r} (also '
                         f'categories[{seen[value]}])', f'{where}.{key}')
            else:
                seen[value] = i
    return set(ids)


def _check_videos(walk: _Walker, videos: list):
    """Check each video's keys. Returns ``{index: (file_names, height,
    width)}`` for the videos whose frames can be checked, and ``{id: [index,
    ...]}``."""
    shapes: Dict[int, Tuple[list, int, int]] = {}
    ids_to_index: Dict[Any, List[int]] = {}
    for i, video in enumerate(videos):
        where = f'videos[{i}]'
        if not isinstance(video, dict):
            walk.add(f'a video must be an object, got {type(video).__name__}',
                     where, video_index=i)
            continue
        usable = True
        for key in _REQUIRED_VIDEO_KEYS:
            if key not in video:
                walk.add(f"missing key '{key}'", f'{where}.{key}', i)
                usable = False
        if 'id' in video:
            if _is_id(video['id']):
                ids_to_index.setdefault(video['id'], []).append(i)
            else:
                walk.add(f"video 'id' must be an integer or a string, got "
                         f"{video['id']!r}", f'{where}.id', i)
        for key in ('height', 'width'):
            value = video.get(key)
            if key in video and not (_is_int(value) and value > 0):
                walk.add(f"'{key}' must be a positive integer, got {value!r}",
                         f'{where}.{key}', i)
                usable = False
        names = video.get('file_names')
        if 'file_names' in video:
            if not isinstance(names, list):
                walk.add("'file_names' must be a list, got "
                         f'{type(names).__name__}', f'{where}.file_names', i)
                usable = False
            elif not names:
                walk.add("empty video: 'file_names' is empty",
                         f'{where}.file_names', i)
            else:
                for t, name in enumerate(names):
                    if not isinstance(name, str) or not name:
                        walk.add(f'a frame file name must be a non-empty '
                                 f'string, got {name!r}',
                                 f'{where}.file_names[{t}]', i, frame=t)
                        usable = False
        if usable and names:
            shapes[i] = (names, video['height'], video['width'])
    for vid, indices in ids_to_index.items():
        if len(indices) > 1:
            for i in indices:
                others = ', '.join(f'videos[{j}]' for j in indices if j != i)
                walk.add(f'duplicate video id {vid!r} (also {others})',
                         f'videos[{i}].id', i)
    return shapes, ids_to_index


def _check_annotation_list(walk: _Walker, annotations: list, known_cats: set,
                           shapes: dict, ids_to_index: dict,
                           unique_ann_ids: bool) -> None:
    """Check every annotation and, per frame, its segmentation/bbox/area."""
    first_use: Dict[Any, Tuple[int, Any]] = {}
    for j, a in enumerate(annotations):
        where = f'annotations[{j}]'
        if not isinstance(a, dict):
            walk.add(f'an annotation must be an object, got '
                     f'{type(a).__name__}', where)
            continue
        ann_id = a.get('id') if _is_id(a.get('id')) else None
        if 'video_id' not in a:
            walk.add("missing key 'video_id'",
                     f'{where}.video_id', ann_id=ann_id)
            continue
        vid = a['video_id']
        indices = ids_to_index.get(vid) if _is_id(vid) else None
        if not indices:
            walk.add(f"video_id {vid!r} is not the id of any video in "
                     "'videos'",
                     f'{where}.video_id', ann_id=ann_id)
            continue
        v = indices[0]

        def add(message, fld, frame=None):
            walk.add(message, fld, v, ann_id, frame)

        for key in _REQUIRED_ANN_KEYS:
            if key not in a:
                add(f"missing key '{key}'", f'{where}.{key}')
        if 'id' in a:
            if ann_id is None:
                add(f"annotation 'id' must be an integer or a string, got "
                    f"{a['id']!r}", f'{where}.id')
            elif unique_ann_ids and ann_id in first_use:
                k, k_vid = first_use[ann_id]
                add(f'annotation id {ann_id!r} is not unique (also '
                    f'annotations[{k}], of video {k_vid})', f'{where}.id')
            else:
                first_use[ann_id] = (j, vid)
        cat = a.get('category_id')
        if 'category_id' in a and not (_is_id(cat) and cat in known_cats):
            add(f"unknown category_id {cat!r} (not an id in 'categories')",
                f'{where}.category_id')
        if a.get('iscrowd', 0) not in (0, 1):  # also accepts False/True
            add(f"'iscrowd' must be 0 or 1, got {a['iscrowd']!r}",
                f'{where}.iscrowd')
        if v in shapes:
            _check_frames_of(add, a, where, *shapes[v])


def _check_frames_of(add, a: dict, where: str, file_names: list, height: int,
                     width: int) -> None:
    """Per-frame fields of one annotation of a video of ``len(file_names)``
    frames."""
    num_frames = len(file_names)
    lists = {}
    for key in _PER_FRAME_FIELDS:
        value = a.get(key)
        if value is None and key != 'segmentations':
            continue  # optional: boxes/areas can be derived from the masks
        if key not in a:
            continue  # reported as a missing key
        if not isinstance(value, list):
            add(f"'{key}' must be a list with one entry per frame, got "
                f'{type(value).__name__}', f'{where}.{key}')
        elif len(value) != num_frames:
            add(f"'{key}' has {len(value)} entries but the video has "
                f'{num_frames} frames', f'{where}.{key}')
        else:
            lists[key] = value
    segs = lists.get('segmentations')
    boxes = lists.get('bboxes')
    areas = lists.get('areas')
    if segs is not None:
        for t, seg in enumerate(segs):
            if seg is None:
                continue
            found = segmentation_problem(seg, height, width)
            if found is not None:
                sub, message = found
                add(message, f'{where}.segmentations[{t}]{sub}', t)
    if boxes is not None:
        for t, box in enumerate(boxes):
            fld = f'{where}.bboxes[{t}]'
            if segs is not None and (box is None) != (segs[t] is None):
                if box is None:
                    add('bbox is null but the segmentation of this frame is '
                        'not', fld, t)
                else:
                    add('bbox is given but the segmentation of this frame is '
                        'null', fld, t)
                continue
            if box is not None:
                message = bbox_problem(box, height, width)
                if message is not None:
                    add(message, fld, t)
    if areas is not None:
        for t, area in enumerate(areas):
            if area is not None and not (_is_number(area) and area >= 0):
                add(f'area must be a non-negative number or null, got '
                    f'{area!r}', f'{where}.areas[{t}]', t)


def _check_frame_files(walk: _Walker, shapes: dict, img_dir: str, mode: str,
                       progress: bool, desc: str) -> int:
    """Check the frame files of every video with usable keys; returns how
    many files were looked at."""
    total = sum(len(s[0]) for s in shapes.values())
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total, desc=desc, unit='frame')
    checked = 0
    try:
        for v, (names, height, width) in sorted(shapes.items()):
            for t, name in enumerate(names):
                path = osp.join(img_dir, name)
                message = frame_file_problem(path, height, width, mode)
                if message is not None:
                    walk.add(message, f'videos[{v}].file_names[{t}]', v,
                             frame=t)
                checked += 1
            if bar is not None:
                bar.update(len(names))
    finally:
        if bar is not None:
            bar.close()
    return checked


def format_problems(problems: Sequence[Problem], limit: int = 20,
                    indent: str = '  ') -> str:
    """One line per problem, the first ``limit`` of them (all if ``limit``
    is ``None`` or ``<= 0``), then ``'... and N more'``."""
    shown = problems if not limit or limit <= 0 else problems[:limit]
    lines = [f'{indent}{p}' for p in shown]
    if len(shown) < len(problems):
        lines.append(f'{indent}... and {len(problems) - len(shown)} more')
    return '\n'.join(lines)
