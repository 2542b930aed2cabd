"""An independent random warp for reference frames that are the key frame.

A still image converted to a video (``tools/dataset_converters/
coco2ytvis.py``) is a one-frame video: ``UniformRefFrameSample`` then picks
the key frame itself as the reference, and
``TransformBroadcaster(share_random_params=True)`` gives both copies the
same augmentation, so the key and the reference are the same picture and the
track head learns nothing from them. :class:`KeyFrameReferenceWarp` runs
after the broadcaster and gives each such reference its own random
similarity warp (scale, shift, rotation, cropped back to the frame size) and
colour jitter, so that it looks like another frame of the same scene: same
instances, same ids, moved a little.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import BaseBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks

#: Per-instance fields other than boxes and masks, indexed like them.
INSTANCE_KEYS = ('gt_bboxes_labels', 'gt_instances_ids', 'gt_ignore_flags')
#: What tells which frame a pipeline item is; a reference is the key frame
#: itself when every one of these that the results hold is equal.
FRAME_KEYS = ('video_id', 'frame_id', 'img_path')


@TRANSFORMS.register_module()
class KeyFrameReferenceWarp(BaseTransform):
    """Warp the reference frames that are copies of the key frame.

    Put it after the ``TransformBroadcaster`` of the train pipeline, before
    ``PackTrackInputs``. The results hold one list entry per sampled frame
    and ``key_frame_flags``. A reference frame whose ``video_id``,
    ``frame_id`` and ``img_path`` (those present) are the key frame's — a
    one-frame video, or ``filter_key_img=False`` — gets its own random draw
    from ``np.random`` (seeded like the rest of the pipeline, so training
    stays reproducible):

    * a similarity warp about the frame centre: scale log-uniform in
      ``scale``, rotation uniform in ``+-max_rotate`` degrees, shift uniform
      in ``+-max_shift`` of the frame width and height; the output keeps the
      frame's size (what leaves it is cropped, what comes in is
      ``border_value``). The image is warped bilinearly, the masks (and a
      ``gt_seg_map``, border 255) nearest;
    * colour jitter: brightness, contrast and saturation factors uniform in
      ``1 +- brightness`` etc. (0 turns one off).

    Boxes are recomputed as the tight boxes of the warped masks (``x2 =
    last column + 1``, as the dataset computes them from the masks), not
    warped. Instances warped out of view — mask empty, or pushed below
    ``min_area`` pixels (an instance already smaller than that in the key
    frame stays while it is in view) — are dropped from that reference,
    from every per-instance field (boxes,
    masks, labels, ids, ignore flags); the others keep their instance ids,
    which is how the track head matches them to the key frame. If a draw
    would drop every (non-ignored) instance of a reference that had some,
    the geometry is drawn again, up to ``max_tries`` times in all, then
    the reference keeps its geometry (colour jitter only).

    The key frame and references that are other frames are not touched
    (the same objects come back). ``homography_matrix``, if present, is
    updated. ``instances`` (the raw annotations kept as meta) is left as it
    is, as the other geometric transforms do.

    Args:
        scale (tuple[float, float]): scale range. Defaults to (0.8, 1.25).
        max_shift (float): largest shift, a fraction of the width (x) and
            height (y). Defaults to 0.15.
        max_rotate (float): largest rotation in degrees. Defaults to 10.
        brightness (float): brightness factor in ``1 +- brightness``.
            Defaults to 0.15.
        contrast (float): contrast factor in ``1 +- contrast`` (about the
            mean grey level). Defaults to 0.15.
        saturation (float): saturation factor in ``1 +- saturation`` (blend
            with the grey image; 3-channel images only). Defaults to 0.15.
        min_area (int): fewest mask pixels an instance keeps to stay in the
            reference. Defaults to 16.
        max_tries (int): geometry draws before giving up on keeping an
            instance. Defaults to 5.
        border_value (float | tuple): image fill where the warp brings in
            pixels from outside the frame. Defaults to (114, 114, 114).
    """

    def __init__(self,
                 scale: Tuple[float, float] = (0.8, 1.25),
                 max_shift: float = 0.15,
                 max_rotate: float = 10.0,
                 brightness: float = 0.15,
                 contrast: float = 0.15,
                 saturation: float = 0.15,
                 min_area: int = 16,
                 max_tries: int = 5,
                 border_value: Union[float, Sequence[float]] = (114, 114,
                                                                114)):
        scale = tuple(float(s) for s in scale)
        if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
            raise ValueError(f'scale must be (low, high) with 0 < low <= '
                             f'high, got {scale}')
        for name, value in (('max_shift', max_shift),
                            ('max_rotate', max_rotate),
                            ('brightness', brightness),
                            ('contrast', contrast),
                            ('saturation', saturation)):
            if value < 0:
                raise ValueError(f'{name} must be >= 0, got {value}')
        if brightness > 1 or contrast > 1 or saturation > 1:
            raise ValueError('brightness, contrast and saturation must be '
                             '<= 1 (factors stay >= 0)')
        if max_tries < 1:
            raise ValueError(f'max_tries must be >= 1, got {max_tries}')
        self.scale = scale
        self.max_shift = float(max_shift)
        self.max_rotate = float(max_rotate)
        self.brightness = float(brightness)
        self.contrast = float(contrast)
        self.saturation = float(saturation)
        self.min_area = int(min_area)
        self.max_tries = int(max_tries)
        self.border_value = border_value

    # ------------------------------------------------------------------
    # random parameters
    def sample_geometry(self, height: int, width: int) -> dict:
        """One random draw of the warp: ``scale``, ``angle`` (degrees,
        counter-clockwise), ``shift`` ((dx, dy) in pixels)."""
        lo, hi = self.scale
        scale = math.exp(np.random.uniform(math.log(lo), math.log(hi)))
        angle = np.random.uniform(-self.max_rotate, self.max_rotate)
        dx = np.random.uniform(-self.max_shift, self.max_shift) * width
        dy = np.random.uniform(-self.max_shift, self.max_shift) * height
        return dict(scale=float(scale), angle=float(angle),
                    shift=(float(dx), float(dy)))

    def sample_colour(self) -> dict:
        """One random draw of the colour jitter factors."""
        def factor(delta):
            return float(np.random.uniform(1 - delta, 1 + delta))
        return dict(brightness=factor(self.brightness),
                    contrast=factor(self.contrast),
                    saturation=factor(self.saturation))

    @staticmethod
    def warp_matrix(params: dict, height: int, width: int) -> np.ndarray:
        """The 2x3 affine matrix of ``params`` (source -> output pixels)."""
        centre = ((width - 1) * 0.5, (height - 1) * 0.5)
        matrix = cv2.getRotationMatrix2D(centre, params['angle'],
                                         params['scale'])
        matrix[0, 2] += params['shift'][0]
        matrix[1, 2] += params['shift'][1]
        return matrix

    @staticmethod
    def is_identity(params: dict) -> bool:
        return (params['scale'] == 1 and params['angle'] == 0
                and params['shift'][0] == 0 and params['shift'][1] == 0)

    # ------------------------------------------------------------------
    # applying them
    def warp_frame(self, frame: dict, geometry: dict,
                   colour: Optional[dict] = None) -> dict:
        """Warp one frame's fields (``img``, ``gt_masks``, ... each for one
        frame) with fixed parameters; returns a new dict of the fields it
        changed or recomputed. The inputs are not modified."""
        img = frame['img']
        height, width = img.shape[:2]
        out = {}
        identity = self.is_identity(geometry)
        matrix = self.warp_matrix(geometry, height, width)
        if identity:
            new_img = img
        else:
            new_img = self._warp_image(img, matrix)
        if colour is not None:
            new_img = self._jitter(new_img, colour)
        out['img'] = new_img

        if 'gt_seg_map' in frame and frame['gt_seg_map'] is not None \
                and not identity:
            out['gt_seg_map'] = cv2.warpAffine(
                frame['gt_seg_map'], matrix, (width, height),
                flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                borderValue=255)
        if 'homography_matrix' in frame and \
                frame['homography_matrix'] is not None and not identity:
            warp3 = np.vstack([matrix, [0, 0, 1]]).astype(np.float32)
            out['homography_matrix'] = warp3 @ frame['homography_matrix']

        if frame.get('gt_masks') is None or identity:
            return out  # no geometry: the annotations are the input's
        masks = frame['gt_masks']
        if isinstance(masks, PolygonMasks):
            masks = masks.to_ndarray()
        elif isinstance(masks, BitmapMasks):
            masks = masks.masks
        masks = np.asarray(masks)
        if masks.ndim != 3:
            masks = masks.reshape(0, height, width)
        mh, mw = masks.shape[1:]
        if (mh, mw) != (height, width):
            raise ValueError(f'{self.__class__.__name__}: masks of size '
                             f'{mw}x{mh} on a {width}x{height} image')
        if masks.shape[0] == 0:
            warped = np.zeros((0, mh, mw), dtype=np.uint8)
        else:
            warped = np.stack([
                cv2.warpAffine(m.astype(np.uint8), matrix, (mw, mh),
                               flags=cv2.INTER_NEAREST,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                for m in masks])
        before = (masks != 0).reshape(len(masks), -1).sum(1)
        after = (warped != 0).reshape(len(warped), -1).sum(1)
        # dropped: out of view, or pushed below min_area by the warp (an
        # instance already smaller than that stays while it is in view)
        keep = (after > 0) & ((after >= self.min_area)
                              | (before < self.min_area))
        warped = warped[keep]
        out['gt_masks'] = BitmapMasks(warped, mh, mw)
        out['_keep'] = keep
        boxes = tight_boxes(warped)
        old_boxes = frame.get('gt_bboxes')
        if isinstance(old_boxes, BaseBoxes):
            out['gt_bboxes'] = type(old_boxes)(boxes)
        elif old_boxes is not None:
            out['gt_bboxes'] = boxes.astype(np.asarray(old_boxes).dtype)
        for key in INSTANCE_KEYS:
            if frame.get(key) is not None:
                out[key] = np.asarray(frame[key])[keep]
        return out

    def _warp_image(self, img: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        height, width = img.shape[:2]
        border = self.border_value
        if not isinstance(border, (int, float)):
            border = tuple(float(b) for b in border)
            channels = 1 if img.ndim == 2 else img.shape[2]
            border = (border + border[-1:] * 4)[:max(channels, 1)]
            border = border if channels > 1 else border[0]
        return cv2.warpAffine(img, matrix, (width, height),
                              flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT,
                              borderValue=border)

    @staticmethod
    def _jitter(img: np.ndarray, colour: dict) -> np.ndarray:
        b, c, s = colour['brightness'], colour['contrast'], \
            colour['saturation']
        if b == 1 and c == 1 and s == 1:
            return img
        out = img.astype(np.float32)
        colour_img = out.ndim == 3 and out.shape[2] == 3
        out *= b
        if c != 1:
            grey = _grey(out) if colour_img else out
            out = (out - grey.mean()) * c + grey.mean()
        if s != 1 and colour_img:
            grey = _grey(out)[..., None]
            out = (out - grey) * s + grey
        if np.issubdtype(img.dtype, np.integer):
            info = np.iinfo(img.dtype)
            out = np.clip(np.rint(out), max(info.min, 0), min(info.max, 255))
        return out.astype(img.dtype)

    # ------------------------------------------------------------------
    def self_references(self, results: dict) -> List[int]:
        """Indices of the reference frames that are the key frame itself."""
        flags = results.get('key_frame_flags')
        if flags is None or 'img' not in results:
            return []
        flags = [bool(f) for f in flags]
        if flags.count(True) != 1:
            return []
        key = flags.index(True)
        ids = [k for k in FRAME_KEYS if isinstance(results.get(k), list)
               and len(results[k]) == len(flags)]
        if not ids:
            return []
        return [j for j, f in enumerate(flags) if not f and all(
            results[k][j] == results[k][key] for k in ids)]

    def transform(self, results: dict) -> dict:
        refs = self.self_references(results)
        if not refs:
            return results
        num = len(results['key_frame_flags'])
        per_frame = [k for k, v in results.items()
                     if isinstance(v, list) and len(v) == num]
        for j in refs:
            frame = {k: results[k][j] for k in per_frame}
            out = self._warp_reference(frame)
            out.pop('_keep', None)
            for k, v in out.items():
                if k not in results:
                    continue
                values = list(results[k])
                values[j] = v
                results[k] = values
        return results

    def _warp_reference(self, frame: dict) -> dict:
        height, width = frame['img'].shape[:2]
        needed = _num_valid(frame)
        out = None
        for _ in range(self.max_tries):
            geometry = self.sample_geometry(height, width)
            out = self.warp_frame(frame, geometry)
            if self.is_identity(geometry) or needed == 0 or \
                    _num_valid(out) > 0:
                break
        else:
            out = self.warp_frame(frame, dict(scale=1.0, angle=0.0,
                                              shift=(0.0, 0.0)))
        out['img'] = self._jitter(out['img'], self.sample_colour())
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'max_shift={self.max_shift}, max_rotate={self.max_rotate}, '
                f'brightness={self.brightness}, contrast={self.contrast}, '
                f'saturation={self.saturation}, min_area={self.min_area}, '
                f'max_tries={self.max_tries}, '
                f'border_value={self.border_value})')


def tight_boxes(masks: np.ndarray) -> np.ndarray:
    """``(N, 4)`` float32 boxes ``x1, y1, x2, y2`` of non-empty masks
    ``(N, H, W)``: first column/row, last column/row + 1."""
    boxes = np.zeros((len(masks), 4), dtype=np.float32)
    for i, m in enumerate(masks):
        ys = np.flatnonzero(m.any(1))
        xs = np.flatnonzero(m.any(0))
        if len(xs):
            boxes[i] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    return boxes


def _grey(img: np.ndarray) -> np.ndarray:
    """Luma of a BGR float image (the ITU-R 601 weights)."""
    return img[..., 0] * 0.114 + img[..., 1] * 0.587 + img[..., 2] * 0.299


def _num_valid(frame: Dict) -> int:
    """Non-ignored instances of one frame (all if there are no flags)."""
    masks = frame.get('gt_masks')
    if masks is None:
        return 0
    flags = frame.get('gt_ignore_flags')
    if flags is None:
        return len(masks)
    return int((~np.asarray(flags, dtype=bool)).sum())
