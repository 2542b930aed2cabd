"""Per-frame outputs as data: instance-ID masks and a predictions json.

The ID mask of a frame is (H, W) uint16: 0 is background, a pixel's value
is the track ID of the instance that covers it. Where masks overlap, the
pixel goes to the highest-scoring instance, and the masks written to the
json are the same non-overlapping masks, so the PNG and the json agree
pixel for pixel.
"""
import json
from typing import Optional, Sequence, TextIO, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils

MAX_PNG_ID = 65535


def instance_id_map(masks: np.ndarray, track_ids: Sequence[int],
                    scores: Sequence[float]) -> np.ndarray:
    """Paint masks into one ID map, the highest score on top.

    Args:
        masks (ndarray): (N, H, W) bool.
        track_ids: N IDs in [1, 65535].
        scores: N scores.

    Returns:
        ndarray: (H, W) uint16.
    """
    ids = np.asarray(track_ids, np.int64)
    if len(ids) and (ids.min() < 1 or ids.max() > MAX_PNG_ID):
        raise ValueError(f'track IDs must lie in [1, {MAX_PNG_ID}] to fit a '
                         f'16-bit PNG, got {ids.min()}..{ids.max()}')
    id_map = np.zeros(masks.shape[1:], np.uint16)
    for i in np.argsort(np.asarray(scores), kind='stable'):  # low -> high
        id_map[masks[i]] = ids[i]
    return id_map


def visible_masks(id_map: np.ndarray,
                  track_ids: Sequence[int]) -> np.ndarray:
    """(N, H, W) bool: the pixels of ``id_map`` that each ID kept."""
    ids = np.asarray(track_ids, np.int64).reshape(-1, 1, 1)
    return id_map[None] == ids


def write_id_png(path: str, id_map: np.ndarray) -> None:
    """Write a (H, W) uint16 ID map as a 16-bit grey PNG."""
    if not cv2.imwrite(path, id_map.astype(np.uint16)):
        raise OSError(f'{path}: cannot write PNG')


def read_id_png(path: str) -> np.ndarray:
    """Read an ID PNG back as (H, W) uint16."""
    id_map = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if id_map is None:
        raise OSError(f'{path}: cannot read PNG')
    return id_map.astype(np.uint16)


def encode_rle(mask: np.ndarray) -> dict:
    """A (H, W) bool mask as compressed RLE with a str ``counts``."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def mask_box(mask: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    """The tight box of a (H, W) bool mask as (x, y, w, h); None if empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    if not len(ys):
        return None
    xs = np.flatnonzero(mask.any(axis=0))
    return (int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1),
            int(ys[-1] - ys[0] + 1))


class PredictionsJsonWriter:
    """Streams ``predictions.json``: a header, then one entry per frame, so
    a long video never has to be held in memory.

    The file reads::

        {<header keys>, "frames": [
           {"index": 0, "name": "000000", "instances": [
              {"id": 3, "category_id": 1, "category": "person",
               "score": 0.97, "bbox": [x, y, w, h],
               "segmentation": {"size": [H, W], "counts": "..."}}, ...]},
           ...],
         "num_frames": T, "complete": true}

    ``category_id`` is the class index + 1. A run that stops early
    (an error, Ctrl+C) still closes the file as valid json, with
    ``"complete": false`` and the error, keeping every frame written.
    """

    def __init__(self, path: str, header: dict) -> None:
        self.path = path
        self._file: Optional[TextIO] = open(path, 'w')
        text = json.dumps(header)
        self._file.write(text[:-1] + (', ' if header else '') + '"frames": [')
        self.num_frames = 0

    def write_frame(self, index: int, name: str, instances: list) -> None:
        sep = '\n' if self.num_frames == 0 else ',\n'
        self._file.write(sep + json.dumps(
            dict(index=index, name=name, instances=instances)))
        self.num_frames += 1

    def close(self, error: Optional[str] = None) -> None:
        if self._file is None:
            return
        tail = dict(num_frames=self.num_frames, complete=error is None)
        if error is not None:
            tail['error'] = error
        self._file.write('\n], ' + json.dumps(tail)[1:] + '\n')
        self._file.close()
        self._file = None


def frame_instances_json(masks: np.ndarray, track_ids: Sequence[int],
                         labels: Sequence[int], scores: Sequence[float],
                         class_names: Sequence[str]) -> list:
    """The json entries of a frame's (non-overlapping) masks; instances
    with no visible pixel are left out."""
    out = []
    for mask, tid, label, score in zip(masks, track_ids, labels, scores):
        box = mask_box(mask)
        if box is None:
            continue
        out.append(dict(id=int(tid), category_id=int(label) + 1,
                        category=class_names[int(label)],
                        score=round(float(score), 5), bbox=list(box),
                        segmentation=encode_rle(mask)))
    return out
