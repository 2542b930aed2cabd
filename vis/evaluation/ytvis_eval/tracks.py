"""Track containers: one ground truth or detection (:class:`_Track`) as the
evaluator keeps it, and its conversion to :class:`~.rle._MaskTracks`.

A *track* (ground-truth annotation or detection) is a list with one entry
per video frame: a mask (polygons, uncompressed RLE or compressed RLE), a
box ``[x, y, w, h]`` for ``iou_type='bbox'``, or a falsy value (``None``)
when the object is absent from that frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .rle import (_MaskTracks, _mean_nonzero_segments, _measure,
                  _present_masks)


@dataclass
class _Track:
    """One ground-truth annotation or detection, ready for IoU computation.

    ``frames`` is, for ``segm``, a list (one entry per frame) of compressed
    RLE counts (bytes or str) or None; for ``bbox`` a (F, 4) float64 array of
    ``[x, y, w, h]`` with a (F,) bool ``present`` array.  ``masks`` may
    cache ``frames``' present entries as (frame indices, counts, RLE dicts).
    """
    frames: Any
    present: Optional[np.ndarray] = None
    score: float = 0.0
    ann_id: Any = None
    is_crowd: bool = False
    ignore: bool = False
    avg_area: float = 0.0
    masks: Optional[tuple] = None

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def present_masks(self, height: int, width: int) -> tuple:
        """(frame indices, counts, RLE dicts) of the present masks."""
        if self.masks is None:
            frames = [f for f, c in enumerate(self.frames) if c is not None]
            counts = [self.frames[f] for f in frames]
            size = [height, width]
            self.masks = (frames, counts,
                          [{'size': size, 'counts': c} for c in counts])
        return self.masks


def _pack_mask_tracks(masks: Sequence[tuple],
                      length: np.ndarray) -> _MaskTracks:
    """Tracks' present masks -> :class:`_MaskTracks` (areas measured).

    Args:
        masks: per track, ``_Track.present_masks``'s (frames, counts, rles).
        length: (T,) int64 frame-list length of each track.
    """
    per_track = np.fromiter((len(m[0]) for m in masks), dtype=np.int64,
                            count=len(masks))
    counts = list(chain.from_iterable(m[1] for m in masks))
    rles = list(chain.from_iterable(m[2] for m in masks))
    areas, packed = _measure(counts, rles)
    return _MaskTracks(
        counts,
        np.fromiter(chain.from_iterable(m[0] for m in masks),
                    dtype=np.int64, count=int(per_track.sum())),
        areas, per_track, length, packed, rles=rles)


def _segm_track(segms: Sequence, height: int, width: int,
                where: str) -> _Track:
    """A mask track from its per-frame ``segmentations`` (absent frames
    falsy); its frames hold the present masks' counts, None elsewhere."""
    masks = _present_masks(segms, height, width, where)
    frames: List[Any] = [None] * len(segms)
    for f, counts in zip(masks[0], masks[1]):
        frames[f] = counts
    return _Track(frames, masks=masks)


def _mask_tracks(tracks: Sequence[_Track], height: int,
                 width: int) -> _MaskTracks:
    """Mask ``_Track`` objects -> :class:`_MaskTracks` (areas computed)."""
    return _pack_mask_tracks(
        [t.present_masks(height, width) for t in tracks],
        np.array([t.num_frames for t in tracks], dtype=np.int64))


def _mean_of_truthy(values) -> float:
    """Mean of the truthy entries of ``values`` (0 if none), as official
    (``np.array(kept).mean()``; for ints, the same correctly rounded
    quotient of the exact sum)."""
    kept = list(filter(None, values))
    if not kept:
        return 0
    if set(map(type, kept)) == {int} and abs(sum(kept)) < 2**53:
        return sum(kept) / len(kept)
    return np.array(kept).mean()


def _boxes_array(boxes, where: str) -> Tuple[np.ndarray, np.ndarray]:
    """Per-frame boxes -> ((F, 4) float64 [x, y, w, h], (F,) bool present)."""
    array = np.zeros((len(boxes), 4), dtype=np.float64)  # (F, 4)
    present = np.zeros(len(boxes), dtype=bool)  # (F,)
    for f, box in enumerate(boxes):
        if box is not None and len(box) > 0:
            if len(box) != 4:
                raise ValueError(
                    f'{where}: frame {f} box must be [x, y, w, h]')
            array[f] = box
            present[f] = True
    return array, present


def mask_track_areas(tracks: Sequence[_Track], height: int,
                     width: int) -> np.ndarray:
    """Per-track average area of mask tracks: (T,) mean of non-zero areas."""
    mask_tracks = _mask_tracks(tracks, height, width)
    return _mean_nonzero_segments(mask_tracks.areas, mask_tracks.per_track)
