"""Per-frame outputs as data: instance-ID masks and a predictions json.

The ID map of a frame is (H, W): 0 is background, a pixel's value is the
track ID of the instance that covers it. Where masks overlap, the pixel goes
to the highest-scoring instance, and the masks written to the json are the
same non-overlapping masks, so the PNG and the json agree pixel for pixel.

ID PNGs come in two forms, and :func:`read_id_png` reads both back as the
same (H, W) int64 IDs:

* **16-bit grey** (one channel, uint16): ``value = ID``. Used while every ID
  fits, i.e. up to :data:`MAX_GREY_ID` = 65535.
* **8-bit RGB** (three channels, uint8), the COCO-panoptic rule:
  ``ID = R + 256 * G + 65536 * B``, for IDs up to :data:`MAX_RGB_ID` =
  16777215 (2**24 - 1).

A video's PNGs switch form at most once: :class:`IdPngWriter` writes 16-bit
grey PNGs until the first frame holding an ID above 65535, and RGB PNGs for
that frame and every later one of the video, even when a later frame's IDs
would fit again (a reader can check one file's form, but a tool reading a
video should use :func:`read_id_png`, which takes either). The index of the
first RGB frame is recorded (``IdPngWriter.first_rgb_index``; the demo
writes it to ``predictions.json``).
"""
import json
from typing import Optional, Sequence, TextIO, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils

#: largest ID a 16-bit grey ID PNG holds
MAX_GREY_ID = 65535
#: largest ID an RGB ID PNG holds (R + 256 G + 65536 B)
MAX_RGB_ID = 2**24 - 1
#: kept for older callers: the 16-bit limit
MAX_PNG_ID = MAX_GREY_ID


def instance_id_map(masks: np.ndarray, track_ids: Sequence[int],
                    scores: Sequence[float]) -> np.ndarray:
    """Paint masks into one ID map, the highest score on top.

    Args:
        masks (ndarray): (N, H, W) bool.
        track_ids: N IDs in [1, MAX_RGB_ID].
        scores: N scores.

    Returns:
        ndarray: (H, W) int64.

    Raises:
        ValueError: an ID outside [1, MAX_RGB_ID] (no ID PNG holds it).
    """
    ids = np.asarray(track_ids, np.int64)
    if len(ids) and (ids.min() < 1 or ids.max() > MAX_RGB_ID):
        raise ValueError(f'track IDs must lie in [1, {MAX_RGB_ID}] to fit an '
                         f'ID PNG (24-bit RGB), got {ids.min()}..{ids.max()}')
    id_map = np.zeros(masks.shape[1:], np.int64)
    for i in np.argsort(np.asarray(scores), kind='stable'):  # low -> high
        id_map[masks[i]] = ids[i]
    return id_map


def visible_masks(id_map: np.ndarray,
                  track_ids: Sequence[int]) -> np.ndarray:
    """(N, H, W) bool: the pixels of ``id_map`` that each ID kept."""
    ids = np.asarray(track_ids, np.int64).reshape(-1, 1, 1)  # (N, 1, 1)
    return id_map[None] == ids


def id_map_to_rgb(id_map: np.ndarray) -> np.ndarray:
    """(H, W) IDs in [0, MAX_RGB_ID] to (H, W, 3) uint8 **BGR** (OpenCV's
    channel order) with ``ID = R + 256 G + 65536 B``."""
    ids = np.asarray(id_map, np.int64)
    if ids.size and (ids.min() < 0 or ids.max() > MAX_RGB_ID):
        raise ValueError(f'IDs must lie in [0, {MAX_RGB_ID}] for an RGB ID '
                         f'PNG, got {ids.min()}..{ids.max()}')
    # channel axis last, in OpenCV's B, G, R order: (H, W, 3)
    return np.stack([(ids >> 16) & 255, (ids >> 8) & 255, ids & 255],
                    axis=-1).astype(np.uint8)


def rgb_to_id_map(bgr: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 BGR (as ``cv2.imread`` gives) to (H, W) int64 IDs,
    ``R + 256 G + 65536 B``."""
    bgr = bgr.astype(np.int64)  # (H, W, 3) as B, G, R
    return bgr[..., 2] + 256 * bgr[..., 1] + 65536 * bgr[..., 0]


def write_id_png(path: str, id_map: np.ndarray, rgb: bool = False) -> None:
    """Write an (H, W) ID map as a 16-bit grey PNG, or with ``rgb`` as an
    8-bit RGB PNG (``ID = R + 256 G + 65536 B``).

    Raises:
        ValueError: an ID above 65535 without ``rgb`` (or above MAX_RGB_ID).
        OSError: the file cannot be written.
    """
    id_map = np.asarray(id_map)
    if rgb:
        image = id_map_to_rgb(id_map)
    else:
        if id_map.size and (id_map.min() < 0 or id_map.max() > MAX_GREY_ID):
            raise ValueError(
                f'{path}: IDs {id_map.min()}..{id_map.max()} do not fit a '
                f'16-bit PNG (0..{MAX_GREY_ID}); write it with rgb=True')
        image = id_map.astype(np.uint16)
    if not cv2.imwrite(path, image):
        raise OSError(f'{path}: cannot write PNG')


def read_id_png(path: str) -> np.ndarray:
    """Read an ID PNG of either form back as (H, W) int64 IDs.

    A one-channel PNG (16- or 8-bit) holds the IDs as its values; a
    three-channel 8-bit PNG holds ``R + 256 G + 65536 B``.

    Raises:
        OSError: the file cannot be read as an image.
        ValueError: another kind of image (alpha channel, 16-bit colour).
    """
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise OSError(f'{path}: cannot read PNG')
    if image.ndim == 2:
        return image.astype(np.int64)
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        return rgb_to_id_map(image)
    raise ValueError(
        f'{path}: not an ID PNG: {image.shape[2]} channels of '
        f'{image.dtype} (expected one 16-bit channel or 8-bit RGB)')


class IdPngWriter:
    """Writes the ID PNGs of one video: 16-bit grey while every ID fits,
    8-bit RGB from the first frame with an ID above 65535 to the end of the
    video (see the module docstring), so a video never switches back.

    Attributes:
        rgb (bool): whether PNGs are now written as RGB.
        first_rgb_index (int | None): the frame index passed to
            :meth:`write` with the first RGB PNG; None while all are grey.
    """

    def __init__(self) -> None:
        self.rgb = False
        self.first_rgb_index: Optional[int] = None

    def write(self, path: str, id_map: np.ndarray, index: int) -> bool:
        """Write frame ``index``'s (H, W) ID map; returns whether it was
        written as RGB."""
        if not self.rgb and id_map.size and id_map.max() > MAX_GREY_ID:
            self.rgb = True
            self.first_rgb_index = int(index)
        write_id_png(path, id_map, rgb=self.rgb)
        return self.rgb

    def describe(self) -> dict:
        """The form of the PNGs written, for a json record."""
        return dict(format='rgb24' if self.rgb else 'gray16',
                    first_rgb_index=self.first_rgb_index,
                    rule='gray16: value = id; rgb24: id = R + 256*G + '
                         '65536*B')


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
         "num_frames": T, "complete": true, <keys of close(extra=...)>}

    ``index`` is the frame's index in its source (with a frame stride, the
    indices of the frames processed); ``category_id`` is the class index +
    1. A run that stops early
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

    def close(self, error: Optional[str] = None,
              extra: Optional[dict] = None) -> None:
        """Finish the file: ``num_frames``, ``complete`` (no ``error``),
        the error if any, and the keys of ``extra``."""
        if self._file is None:
            return
        tail = dict(num_frames=self.num_frames, complete=error is None)
        if error is not None:
            tail['error'] = error
        tail.update(extra or {})
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
