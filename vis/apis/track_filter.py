"""Streaming post-processing of tracked instances: keep some classes, hide
weak tracks, merge duplicate tracks, and summarise the tracks of a video.

    keep = TrackOutputFilter(predictor.class_names, classes=['cell phone'],
                             score_thr=0.5, min_track_score=0.5)
    for t, instances in enumerate(stream):      # FrameInstances per frame
        shown = keep(t, instances)
    keep.summary()                              # one dict per shown track
    keep.reset()                                # next video

Every decision is **causal**: the output of frame t depends on frames 0..t
only, so the filter works on a live stream and never holds a frame back.
A track hidden at frame t because its mean score so far is too low is not
shown later for frame t, even if its mean rises afterwards (its later frames
are shown from then on). :meth:`TrackOutputFilter.summary`, called at the
end, judges tracks on the whole video instead.

Memory stays small: per track a few numbers, its label counts and the runs
of frames it was seen in; per pair of tracks seen in a frame together, two
counters (for the track NMS). No masks are kept between frames.
"""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..datasets.classes import normalize_class_name
from .frame_instances import FrameInstances


class _Track:
    """Running statistics of one track (and the tracks merged into it)."""

    __slots__ = ('score_sum', 'count', 'first', 'last', 'labels', 'runs',
                 'output', 'merged')

    def __init__(self, frame_index: int) -> None:
        self.score_sum = 0.0  # of every instance folded in
        self.count = 0        # instances folded in
        self.first = frame_index
        self.last = frame_index
        self.labels: Dict[int, int] = {}
        self.runs: List[List[int]] = []  # [start, end] processed steps
        self.output = False  # shown at least once
        self.merged: List[int] = []

    @property
    def mean(self) -> float:
        return self.score_sum / self.count if self.count else 0.0

    def add(self, frame_index: int, step: int, label: int,
            score: float) -> None:
        self.score_sum += score
        self.count += 1
        self.first = min(self.first, frame_index)
        self.last = max(self.last, frame_index)
        self.labels[label] = self.labels.get(label, 0) + 1
        if self.runs and self.runs[-1][1] >= step - 1:
            self.runs[-1][1] = max(self.runs[-1][1], step)
        else:
            self.runs.append([step, step])

    def fold(self, other: '_Track', other_id: int) -> None:
        """Take in every statistic of ``other`` (merged into this one)."""
        self.score_sum += other.score_sum
        self.count += other.count
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
        for label, n in other.labels.items():
            self.labels[label] = self.labels.get(label, 0) + n
        self.runs = _union_runs(self.runs, other.runs)
        self.output |= other.output
        self.merged.extend([other_id] + other.merged)

    @property
    def num_frames(self) -> int:
        return sum(end - start + 1 for start, end in self.runs)

    @property
    def label(self) -> int:
        """The most frequent label, ties to the smallest (as
        ``np.bincount(labels).argmax()``, the results.json rule)."""
        top = max(self.labels.values())
        return min(k for k, n in self.labels.items() if n == top)


def _union_runs(a: List[List[int]], b: List[List[int]]) -> List[List[int]]:
    """The union of two lists of inclusive [start, end] runs, as sorted
    disjoint runs (touching runs joined)."""
    out: List[List[int]] = []
    for start, end in sorted(a + b):
        if out and start <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def _mask_boxes(masks: np.ndarray) -> List[Optional[Tuple[int, int, int,
                                                          int]]]:
    """Per (H, W) mask its tight (y0, y1, x0, x1) (exclusive ends), or None
    when empty."""
    boxes = []
    for mask in masks:
        rows = np.flatnonzero(mask.any(axis=1))
        if not len(rows):
            boxes.append(None)
            continue
        cols = np.flatnonzero(mask.any(axis=0))
        boxes.append((int(rows[0]), int(rows[-1]) + 1, int(cols[0]),
                      int(cols[-1]) + 1))
    return boxes


def mask_ious(masks: np.ndarray) -> np.ndarray:
    """(N, N) mask IoU of (N, H, W) bool masks; pairs whose masks' boxes do
    not meet are not compared pixel by pixel (their IoU is 0)."""
    n = len(masks)
    ious = np.zeros((n, n), np.float64)
    if n < 2:
        return ious
    boxes = _mask_boxes(masks)
    areas = masks.reshape(n, -1).sum(axis=1)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = boxes[i], boxes[j]
            if a is None or b is None:
                continue
            y0, y1 = max(a[0], b[0]), min(a[1], b[1])
            x0, x1 = max(a[2], b[2]), min(a[3], b[3])
            if y0 >= y1 or x0 >= x1:
                continue
            inter = np.count_nonzero(masks[i, y0:y1, x0:x1]
                                     & masks[j, y0:y1, x0:x1])
            union = areas[i] + areas[j] - inter
            ious[i, j] = ious[j, i] = inter / union if union else 0.0
    return ious


class TrackOutputFilter:
    """Post-process the tracked instances of one video, frame by frame.

    For each frame (:meth:`__call__`), in this order:

    1. instances of classes not in ``classes`` are dropped (they are never
       seen by the steps below);
    2. IDs of tracks merged into another one (step 4) are replaced by the
       survivor's ID; where that leaves two instances with one ID in the
       frame, only the higher-scoring one is kept;
    3. every remaining instance, whatever its score, updates its track's
       running statistics: score sum and instance count (the running mean
       score), first and last frame index, the frames it was seen in, and
       how often it had each label;
    4. **track NMS** (unless ``nms_iou`` is None): for every two tracks in
       the frame, the filter counts the frames both were in and those where
       their masks had IoU >= ``nms_iou``. Once they shared at least
       ``nms_min_frames`` frames and overlapped in at least ``nms_frac`` of
       them, they are one object tracked twice: the track with the lower
       mean score (equal means: the younger one, i.e. the later first frame,
       then the larger ID) becomes an alias of the other. Its statistics are
       folded into the survivor, and from this frame on its instances carry
       the survivor's ID (aliases of aliases resolve to the last survivor);
    5. the output is the instances scoring at least ``score_thr`` whose
       track's running mean score (over all its instances so far, this frame
       included) is at least ``min_track_score``.

    The decision of step 5 is causal (see the module docstring): a weak
    track is hidden while its mean is low, and shown from the frame its mean
    reaches ``min_track_score``.

    Args:
        class_names (Sequence[str]): the model's class names (label i is
            ``class_names[i]``).
        classes (Iterable[str] | str, optional): names of the classes to
            keep, matched to ``class_names`` case-insensitively with ``_``
            as a space (:func:`vis.datasets.classes.normalize_class_name`).
            None keeps every class.
        score_thr (float): instances scoring below are not output (their
            track's statistics still count them).
        min_track_score (float): a track is output only while its running
            mean score is at least this.
        nms_iou (float | None): mask IoU at which two tracks' masks overlap
            in a frame; None turns the track NMS off.
        nms_frac (float): fraction of their shared frames two tracks must
            overlap in to be merged.
        nms_min_frames (int): frames two tracks must share before they can
            be merged.

    Raises:
        ValueError: a name in ``classes`` that the model does not know (the
            message lists them and the model's classes); bad numbers.
    """

    def __init__(self, class_names: Sequence[str], *,
                 classes: Union[Iterable[str], str, None] = None,
                 score_thr: float = 0.0, min_track_score: float = 0.0,
                 nms_iou: Optional[float] = 0.5, nms_frac: float = 0.5,
                 nms_min_frames: int = 3) -> None:
        self.class_names = tuple(class_names)
        self.keep_labels = self._resolve_classes(classes)
        if nms_iou is not None and not 0 < nms_iou <= 1:
            raise ValueError(f'nms_iou must lie in (0, 1] (or be None), got '
                             f'{nms_iou}')
        if not 0 < nms_frac <= 1:
            raise ValueError(f'nms_frac must lie in (0, 1], got {nms_frac}')
        if int(nms_min_frames) != nms_min_frames or nms_min_frames < 1:
            raise ValueError(f'nms_min_frames must be an int >= 1, got '
                             f'{nms_min_frames!r}')
        self.score_thr = float(score_thr)
        self.min_track_score = float(min_track_score)
        self.nms_iou = None if nms_iou is None else float(nms_iou)
        self.nms_frac = float(nms_frac)
        self.nms_min_frames = int(nms_min_frames)
        self.reset()

    def _resolve_classes(self, classes) -> Optional[frozenset]:
        if classes is None:
            return None
        if isinstance(classes, str):
            classes = [classes]
        classes = list(classes)
        if not classes:
            raise ValueError('classes is empty: name at least one class to '
                             'keep, or pass None to keep all')
        index = {normalize_class_name(n): i
                 for i, n in enumerate(self.class_names)}
        unknown = [c for c in classes
                   if normalize_class_name(c) not in index]
        if unknown:
            raise ValueError(
                f'unknown classes {unknown}: the model knows '
                f'{list(self.class_names)}')
        return frozenset(index[normalize_class_name(c)] for c in classes)

    @property
    def kept_classes(self) -> Tuple[str, ...]:
        """The model's names of the classes kept, in the model's order."""
        if self.keep_labels is None:
            return self.class_names
        return tuple(n for i, n in enumerate(self.class_names)
                     if i in self.keep_labels)

    def reset(self) -> None:
        """Forget every track: the next frame starts a new video."""
        self._tracks: Dict[int, _Track] = {}
        self._alias: Dict[int, int] = {}
        # (a, b) with a < b -> [frames shared, frames overlapping]
        self._pairs: Dict[Tuple[int, int], List[int]] = {}
        self._step = 0  # frames processed

    def resolve(self, track_id: int) -> int:
        """The ID that ``track_id``'s instances now carry (itself unless it
        was merged into another track)."""
        root = track_id
        while root in self._alias:
            root = self._alias[root]
        while track_id != root:  # shorten the chain
            self._alias[track_id], track_id = root, self._alias[track_id]
        return root

    def _remap(self, instances: FrameInstances) -> FrameInstances:
        """Survivor IDs; one instance per ID (its highest-scoring one)."""
        ids = np.array([self.resolve(int(t)) for t in instances.track_ids],
                       np.int64)
        instances = FrameInstances(instances.boxes, instances.masks,
                                   instances.labels, instances.scores, ids,
                                   instances.class_names)
        if len(np.unique(ids)) == len(ids):
            return instances
        best: Dict[int, int] = {}
        for i, (tid, score) in enumerate(zip(ids, instances.scores)):
            j = best.get(int(tid))
            if j is None or score > instances.scores[j]:
                best[int(tid)] = i
        return instances.select(np.array(sorted(best.values()), np.int64))

    def __call__(self, frame_index: int,
                 instances: FrameInstances) -> FrameInstances:
        """Filter one frame's instances (see the class docstring).

        Args:
            frame_index (int): the frame's index (recorded as the tracks'
                ``first_frame`` / ``last_frame``).
            instances (FrameInstances): the frame's tracked instances.

        Returns:
            FrameInstances: the instances output, in their input order.
        """
        if self.keep_labels is not None:
            keep = np.array([int(label) in self.keep_labels
                             for label in instances.labels], bool)
            instances = instances.select(keep)
        instances = self._remap(instances)
        step = self._step
        self._step += 1
        for tid, label, score in zip(instances.track_ids, instances.labels,
                                     instances.scores):
            track = self._tracks.get(int(tid))
            if track is None:
                track = self._tracks[int(tid)] = _Track(frame_index)
            track.add(frame_index, step, int(label), float(score))
        if self.nms_iou is not None and len(instances) > 1:
            if self._track_nms(instances):
                instances = self._remap(instances)
        keep = np.array(
            [score >= self.score_thr
             and self._tracks[int(tid)].mean >= self.min_track_score
             for tid, score in zip(instances.track_ids, instances.scores)],
            bool).reshape(-1)
        out = instances.select(keep)
        for tid in out.track_ids:
            self._tracks[int(tid)].output = True
        return out

    def _track_nms(self, instances: FrameInstances) -> bool:
        """Count this frame's shared / overlapping frames of each pair of
        tracks in it and merge the duplicates; whether any was merged."""
        ids = [int(t) for t in instances.track_ids]
        ious = mask_ious(np.asarray(instances.masks, bool))
        ready = []
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                key = (min(ids[i], ids[j]), max(ids[i], ids[j]))
                counts = self._pairs.setdefault(key, [0, 0])
                counts[0] += 1
                counts[1] += ious[i, j] >= self.nms_iou
                if counts[0] >= self.nms_min_frames and \
                        counts[1] >= self.nms_frac * counts[0]:
                    ready.append((-counts[1] / counts[0], key))
        merged = False
        for _, (a, b) in sorted(ready):  # the most overlapping pair first
            a, b = self.resolve(a), self.resolve(b)
            if a == b:
                continue
            self._merge(*self._survivor_first(a, b))
            merged = True
        return merged

    def _survivor_first(self, a: int, b: int) -> Tuple[int, int]:
        """(survivor, alias): the higher mean score, else the older."""
        ta, tb = self._tracks[a], self._tracks[b]
        rank_a = (ta.mean, -ta.first, -a)
        rank_b = (tb.mean, -tb.first, -b)
        return (a, b) if rank_a > rank_b else (b, a)

    def _merge(self, survivor: int, alias: int) -> None:
        self._tracks[survivor].fold(self._tracks.pop(alias), alias)
        self._alias[alias] = survivor
        # the alias's pair counts stop here; the survivor's go on
        for key in [k for k in self._pairs if alias in k]:
            del self._pairs[key]

    def summary(self) -> List[dict]:
        """The tracks of the video so far that were output at least once and
        whose mean score over the whole video is at least
        ``min_track_score``, by ID.

        Each is ``{"id", "category_id" (label + 1), "category", "first_frame",
        "last_frame", "num_frames", "score", "merged"}``: the label is the
        track's most frequent one (ties to the smaller label, as
        results.json has it), ``score`` its mean score (rounded to 5
        places), ``num_frames`` the frames it was seen in and ``merged`` the
        IDs of the tracks folded into it by the track NMS (their instances,
        frames and labels count as its own).
        """
        out = []
        for tid in sorted(self._tracks):
            track = self._tracks[tid]
            if not track.output or track.mean < self.min_track_score:
                continue
            label = track.label
            out.append(dict(id=tid, category_id=label + 1,
                            category=self.class_names[label],
                            first_frame=int(track.first),
                            last_frame=int(track.last),
                            num_frames=track.num_frames,
                            score=round(track.mean, 5),
                            merged=sorted(track.merged)))
        return out
