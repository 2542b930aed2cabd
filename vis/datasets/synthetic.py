"""Generate small synthetic videos in the exact YouTube-VIS layout.

The generated data root looks like the official YouTube-VIS 2019 release
(or the 2021 release with ``layout='2021'``, or OVIS with
``layout='ovis'``)::

    root/train.json                      root/train/instances.json   (2021)
    root/train/JPEGImages/<video>/<frame>.jpg
    root/valid.json                      root/valid/instances.json   (2021)
    root/valid/JPEGImages/<video>/<frame>.jpg

    root/annotations_train.json + root/train/<video>/<frame>.jpg     (OVIS)

Unlike the official valid split, the generated ``valid`` split keeps its
annotations so that the whole train -> test -> AP loop can run locally.

Each video has a textured background and one to ``max_objects`` objects.
In the default style every category is a shape with its own colour family,
so the task is learnable in minutes on a CPU, while the videos still
exercise everything a VIS model meets: motion, scale change, mutual
occlusion (the visible mask is the shape minus everything drawn above it),
objects that enter late or leave early (``None`` in
``segmentations``/``bboxes``/``areas`` for those frames), and objects partly
outside the frame. A :class:`~vis.datasets.synthetic_style.SceneStyle`
(``preset_style('hard')``, ...) changes sizes, colours, backgrounds,
clutter, occluders, video lengths and frame spacing; the style is recorded
in the json's ``info.generator``.
"""
import json
import math
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils

from .synthetic_style import (PRESETS, SceneStyle, draw_background,
                              occluder_mask, sample_occluders)

#: (name, BGR base colour) of every synthetic category, category id = index + 1.
CATEGORIES: Tuple[Tuple[str, Tuple[int, int, int]], ...] = (
    ('disc', (40, 40, 220)),
    ('box', (40, 200, 40)),
    ('triangle', (220, 80, 30)),
    ('ring', (30, 210, 230)),
    ('cross', (210, 40, 210)),
)

SEG_FORMATS = ('rle', 'compressed_rle', 'polygon')

#: Directory layouts written (see vis/datasets/layout.py).
LAYOUTS = ('2019', '2021', 'ovis')

# A frame in which less than this many pixels of an object stay visible
# annotates the object as absent (``None``), like a fully occluded object.
MIN_VISIBLE_AREA = 12


@dataclass
class _Track:
    """The hidden state of one synthetic object over a video."""
    category: int          # index into CATEGORIES
    colour: np.ndarray     # (3,) BGR
    first: int             # first frame in which the object exists
    last: int              # last frame in which the object exists
    centre: np.ndarray     # (2,) x, y at frame ``first``
    velocity: np.ndarray   # (2,) pixels per frame
    radius: float          # radius at frame ``first``
    growth: float          # relative radius change per frame
    angle: float           # rotation at frame ``first`` (radians)
    spin: float            # rotation per frame (radians)


def _shape_mask(category: int, centre: np.ndarray, radius: float,
                angle: float, height: int, width: int) -> np.ndarray:
    """Rasterise one shape. Returns a (H, W) uint8 mask of 0/1."""
    mask = np.zeros((height, width), np.uint8)
    cx, cy = float(centre[0]), float(centre[1])
    name = CATEGORIES[category][0]
    r = max(radius, 2.0)

    def polygon(points: np.ndarray) -> None:
        # points: (P, 2) in the shape's frame, rotated then moved to centre
        rot = np.array([[math.cos(angle), -math.sin(angle)],
                        [math.sin(angle), math.cos(angle)]])
        pts = points @ rot.T + np.array([cx, cy])
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)

    if name == 'disc':
        cv2.circle(mask, (round(cx), round(cy)), round(r), 1, -1)
    elif name == 'ring':
        cv2.circle(mask, (round(cx), round(cy)), round(r), 1, -1)
        cv2.circle(mask, (round(cx), round(cy)), round(r * 0.5), 0, -1)
    elif name == 'box':
        s = r * 0.85
        polygon(np.array([[-s, -s], [s, -s], [s, s], [-s, s]]))
    elif name == 'triangle':
        polygon(np.array([[r * math.cos(a), r * math.sin(a)]
                          for a in (-math.pi / 2, math.pi / 6,
                                    5 * math.pi / 6)]))
    elif name == 'cross':
        a, b = r, r * 0.35
        polygon(np.array([[-a, -b], [a, -b], [a, b], [-a, b]]))
        polygon(np.array([[-b, -a], [b, -a], [b, a], [-b, a]]))
    else:  # pragma: no cover - CATEGORIES and this switch are kept together
        raise ValueError(f'unknown synthetic shape {name!r}')
    return mask


def _sample_track(rng: np.random.Generator, num_frames: int, height: int,
                  width: int, num_categories: int,
                  style: SceneStyle) -> _Track:
    short = min(height, width)
    first, last = 0, num_frames - 1
    if style.independent_events:
        if num_frames >= 6 and rng.uniform() < style.enter_prob:
            first = int(rng.integers(1, num_frames // 2))
        if num_frames >= 6 and rng.uniform() < style.leave_prob:
            last = int(rng.integers(num_frames // 2, num_frames - 1))
    else:
        event = rng.uniform()
        if event < style.enter_prob and num_frames >= 6:      # enters late
            first = int(rng.integers(1, num_frames // 2))
        elif event < style.enter_prob + style.leave_prob and \
                num_frames >= 6:                               # leaves early
            last = int(rng.integers(num_frames // 2, num_frames - 1))
    track = _Track(
        category=int(rng.integers(num_categories)),
        colour=np.array(CATEGORIES[0][1], np.float32),  # replaced below
        first=first,
        last=last,
        centre=np.array([rng.uniform(0.15, 0.85) * width,
                         rng.uniform(0.15, 0.85) * height]),
        velocity=rng.uniform(-1, 1, size=2) * short * 0.025,
        radius=rng.uniform(*style.radius_range) * short,
        growth=rng.uniform(-0.025, 0.035),
        angle=rng.uniform(0, 2 * math.pi),
        spin=rng.uniform(-0.12, 0.12),
    )
    if style.motion_scale != 1:  # more (or less) motion between frames
        track.velocity = track.velocity * style.motion_scale
        track.growth *= style.motion_scale
        track.spin *= style.motion_scale
    return track


def encode_mask(mask: np.ndarray, seg_format: str):
    """Encode a (H, W) 0/1 mask as YouTube-VIS writes segmentations.

    ``rle``: uncompressed RLE ``{'size': [H, W], 'counts': [int, ...]}`` as in
    the official train json; ``compressed_rle``: COCO compressed RLE string;
    ``polygon``: list of flat ``[x1, y1, x2, y2, ...]`` outlines.
    """
    height, width = mask.shape
    if seg_format == 'rle':
        flat = np.asfortranarray(mask).ravel(order='F').astype(np.int8)
        # run boundaries of the column-major pixel sequence
        change = np.flatnonzero(np.diff(flat)) + 1
        bounds = np.concatenate([[0], change, [flat.size]])
        counts = np.diff(bounds).tolist()
        if flat[0] == 1:  # RLE always starts with a run of zeros
            counts = [0] + counts
        return {'size': [height, width], 'counts': counts}
    if seg_format == 'compressed_rle':
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        return {'size': [height, width], 'counts': rle['counts'].decode()}
    if seg_format == 'polygon':
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        polys = [c.reshape(-1).astype(float).tolist() for c in contours
                 if len(c) >= 3]
        return polys
    raise ValueError(f'seg_format must be one of {SEG_FORMATS}, '
                     f'got {seg_format!r}')


CORRUPTIONS = ('blur', 'noise', 'occluder')


def corrupt_frame(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Degrade one frame: strong blur, strong noise, or a textured occluder
    over part of the frame. Annotations are left as they are: the objects are
    still there, only harder to see, as in blurred or occluded video frames.

    Args:
        image (ndarray): (H, W, 3) uint8.

    Returns:
        ndarray: (H, W, 3) uint8, a new image.
    """
    height, width = image.shape[:2]
    kind = CORRUPTIONS[int(rng.integers(len(CORRUPTIONS)))]
    if kind == 'blur':
        sigma = rng.uniform(3.0, 5.0)
        return cv2.GaussianBlur(image, (0, 0), sigma)
    if kind == 'noise':
        noisy = image + rng.normal(0, rng.uniform(45, 65), image.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)
    out = image.copy()
    for _ in range(int(rng.integers(2, 4))):  # a few grey-noise patches
        ph = int(rng.uniform(0.25, 0.45) * height)
        pw = int(rng.uniform(0.25, 0.45) * width)
        y = int(rng.integers(0, height - ph + 1))
        x = int(rng.integers(0, width - pw + 1))
        patch = rng.normal(128, 40, size=(ph, pw, 3))
        out[y:y + ph, x:x + pw] = np.clip(patch, 0, 255).astype(np.uint8)
    return out


def _fold(value: float, low: float, high: float) -> float:
    """``value`` reflected back into ``[low, high]`` as often as needed (a
    triangle wave); values inside are returned unchanged."""
    if low <= value <= high:
        return value
    span = high - low
    u = (value - low) % (2 * span)
    return low + (span - abs(u - span))


def render_video(rng: np.random.Generator, num_frames: int, height: int,
                 width: int, max_objects: int, num_categories: int,
                 corrupt_prob: float = 0.0,
                 corrupt_rng: Optional[np.random.Generator] = None,
                 style: SceneStyle = PRESETS['default']
                 ) -> Tuple[List[np.ndarray], List[List[Optional[np.ndarray]]],
                            List[int]]:
    """Render one video in ``style``; each frame is corrupted
    (:func:`corrupt_frame`) with probability ``corrupt_prob``, drawn from
    ``corrupt_rng`` so that the clean content does not depend on it.

    Returns:
        frames: T images, each (H, W, 3) uint8 BGR.
        masks: per object, T visible masks ((H, W) uint8) or None when absent.
        categories: per object, its category index.
    """
    num_objects = int(rng.integers(1, max_objects + 1))
    tracks = [_sample_track(rng, num_frames, height, width, num_categories,
                            style)
              for _ in range(num_objects)]
    for track in tracks:
        if style.class_colours:
            base = np.array(CATEGORIES[track.category][1], np.float32)
            jitter = style.colour_jitter
            track.colour = np.clip(base + rng.uniform(-jitter, jitter, 3),
                                   0, 255)
        else:  # any colour: only the shape tells the category
            track.colour = rng.uniform(25, 235, 3)
    background = draw_background(rng, style, height, width)  # (H, W, 3)
    bars = sample_occluders(rng, style, height, width)
    short = min(height, width)
    # bounded on any video length: the size folds back between 4% (or the
    # style's smallest size) and 45% of the short side, the centre bounces
    # off a band around the frame (short videos never reach these bounds)
    log_min_radius = math.log(min(0.04, 0.8 * style.radius_range[0]) * short)
    log_max_radius = math.log(max(0.45, style.radius_range[1]) * short)
    # tracks are drawn in list order: later tracks occlude earlier ones, and
    # the occluding bars hide them all
    frames = []
    masks: List[List[Optional[np.ndarray]]] = [[] for _ in tracks]
    for t in range(num_frames):
        image = background + rng.normal(0, style.frame_noise_sigma,
                                        size=background.shape)
        full_masks = []
        for track in tracks:
            if not track.first <= t <= track.last:
                full_masks.append(None)
                continue
            dt = t - track.first
            radius = math.exp(_fold(
                math.log(track.radius * (1 + track.growth) ** dt),
                log_min_radius, log_max_radius))
            centre = track.centre + track.velocity * dt
            centre = np.array([_fold(centre[0], -0.2 * width, 1.2 * width),
                               _fold(centre[1], -0.2 * height, 1.2 * height)])
            full_masks.append(
                _shape_mask(track.category, centre, radius,
                            track.angle + track.spin * dt, height, width))
        bar_masks = [occluder_mask(bar, t, height, width) for bar in bars]
        covered = np.zeros((height, width), bool)  # by what is drawn above
        for bar_mask in bar_masks:
            covered |= bar_mask
        visible = [None] * len(tracks)
        for i in reversed(range(len(tracks))):  # front to back
            if full_masks[i] is None:
                continue
            vis_mask = full_masks[i].astype(bool) & ~covered
            covered |= full_masks[i].astype(bool)
            if vis_mask.sum() >= MIN_VISIBLE_AREA:
                visible[i] = vis_mask.astype(np.uint8)
        for i, track in enumerate(tracks):  # back to front
            if full_masks[i] is None:
                continue
            shade = rng.normal(0, style.shade_sigma, size=(height, width, 1))
            colour = track.colour[None, None, :] + shade  # (H, W, 3)
            region = full_masks[i].astype(bool)
            image[region] = colour[region]
        for bar, bar_mask in zip(bars, bar_masks):
            shade = rng.normal(0, style.shade_sigma, size=(height, width, 1))
            colour = bar.colour[None, None, :] + shade  # (H, W, 3)
            image[bar_mask] = colour[bar_mask]
        for i in range(len(tracks)):
            masks[i].append(visible[i])
        frame = np.clip(image, 0, 255).astype(np.uint8)
        if corrupt_prob > 0 and corrupt_rng.uniform() < corrupt_prob:
            frame = corrupt_frame(corrupt_rng, frame)
        frames.append(frame)
    return frames, masks, [track.category for track in tracks]


def make_split(out_dir: str, split: str, num_videos: int, num_frames: int,
               height: int, width: int, seed: int, max_objects: int = 3,
               num_categories: int = len(CATEGORIES),
               seg_format: str = 'rle', layout: str = '2019',
               video_offset: int = 0, corrupt_prob: float = 0.0,
               progress: bool = False,
               style: SceneStyle = PRESETS['default']) -> str:
    """Write one split (images + json) in ``style``
    (:mod:`vis.datasets.synthetic_style`). ``num_frames`` is every video's
    length, or the longest one where the style varies it. Returns the json
    path."""
    if seg_format not in SEG_FORMATS:
        raise ValueError(f'seg_format must be one of {SEG_FORMATS}, '
                         f'got {seg_format!r}')
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    if not 1 <= num_categories <= len(CATEGORIES):
        raise ValueError(f'num_categories must be in 1..{len(CATEGORIES)}')
    rng = np.random.default_rng(seed)
    corrupt_rng = np.random.default_rng(seed + 1_000_003)
    img_root = osp.join(out_dir, split) if layout == 'ovis' else \
        osp.join(out_dir, split, 'JPEGImages')
    videos, annotations = [], []
    iterator = range(num_videos)
    if progress:
        from tqdm import tqdm
        iterator = tqdm(iterator, desc=f'{split} videos', unit='video')
    for v in iterator:
        video_id = video_offset + v + 1
        name = f'{split}_{video_id:05d}'
        length = style.num_frames(rng, num_frames)
        frames, masks, cats = render_video(rng, length, height, width,
                                           max_objects, num_categories,
                                           corrupt_prob, corrupt_rng,
                                           style=style)
        os.makedirs(osp.join(img_root, name), exist_ok=True)
        file_names = []
        for t, frame in enumerate(frames):
            rel = f'{name}/{t * style.frame_step:05d}.jpg'
            cv2.imwrite(osp.join(img_root, rel), frame,
                        [cv2.IMWRITE_JPEG_QUALITY, 92])
            file_names.append(rel)
        videos.append(dict(id=video_id, width=width, height=height,
                           length=length, file_names=file_names,
                           license=1, coco_url='', flickr_url='',
                           date_captured=''))
        for obj_masks, cat in zip(masks, cats):
            if sum(m is not None for m in obj_masks) < 2:
                continue  # too short-lived to be an annotated instance
            segs, bboxes, areas = [], [], []
            for m in obj_masks:
                if m is None:
                    segs.append(None)
                    bboxes.append(None)
                    areas.append(None)
                    continue
                ys, xs = np.nonzero(m)
                x1, y1 = int(xs.min()), int(ys.min())
                x2, y2 = int(xs.max()) + 1, int(ys.max()) + 1
                segs.append(encode_mask(m, seg_format))
                bboxes.append([float(x1), float(y1), float(x2 - x1),
                               float(y2 - y1)])
                areas.append(float(m.sum()))
            annotations.append(dict(
                id=len(annotations) + 1, video_id=video_id,
                category_id=cat + 1, iscrowd=0, width=width, height=height,
                length=1, segmentations=segs, bboxes=bboxes, areas=areas))
    ann = dict(
        info=dict(description='vis synthetic YouTube-VIS-format videos',
                  version='1.0', year=2026,
                  generator=dict(seed=seed, corrupt_prob=corrupt_prob,
                                 max_objects=max_objects,
                                 style=asdict(style))),
        licenses=[dict(id=1, name='generated', url='')],
        videos=videos,
        annotations=annotations,
        categories=[dict(id=i + 1, name=CATEGORIES[i][0], supercategory='shape')
                    for i in range(num_categories)])
    if layout == '2019':
        ann_path = osp.join(out_dir, f'{split}.json')
    elif layout == 'ovis':
        ann_path = osp.join(out_dir, f'annotations_{split}.json')
    else:
        ann_path = osp.join(out_dir, split, 'instances.json')
    os.makedirs(osp.dirname(ann_path), exist_ok=True)
    tmp = ann_path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(ann, f)
    os.replace(tmp, ann_path)
    return ann_path


def make_synthetic_ytvis(out_dir: str, num_train: int = 48,
                         num_valid: int = 12, num_frames: int = 12,
                         height: int = 192, width: int = 320, seed: int = 0,
                         max_objects: int = 3,
                         num_categories: int = len(CATEGORIES),
                         seg_format: str = 'rle', layout: str = '2019',
                         corrupt_prob: float = 0.0,
                         progress: bool = False,
                         style: SceneStyle = PRESETS['default']
                         ) -> Dict[str, str]:
    """Write a train split and a held-out, annotated valid split, both in
    ``style`` (:mod:`vis.datasets.synthetic_style`).

    Returns {'train': train json path, 'valid': valid json path}.
    """
    common = dict(num_frames=num_frames, height=height, width=width,
                  max_objects=max_objects, num_categories=num_categories,
                  seg_format=seg_format, layout=layout,
                  corrupt_prob=corrupt_prob, progress=progress, style=style)
    paths = {'train': make_split(out_dir, 'train', num_train, seed=seed,
                                 **common)}
    if num_valid > 0:
        paths['valid'] = make_split(out_dir, 'valid', num_valid,
                                    seed=seed + 7919,
                                    video_offset=num_train, **common)
    return paths
