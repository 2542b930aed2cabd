"""How generated videos look: object sizes, colours, backgrounds, clutter,
occluders, entering and leaving, video lengths and frame spacing.

:class:`SceneStyle` holds every knob of :mod:`vis.datasets.synthetic`; its
defaults reproduce the project's original generator exactly (the quickstart
data), and :data:`PRESETS` names ready-made families:

* ``default``: one colour family per category, objects 17-77 px across on a
  smooth low-contrast background, fixed-length videos.
* ``hard``: what a user's own small data set looks like: objects from about
  7 to 75 px, colours that vary widely within a category (+-60 per
  channel), textured noisy backgrounds (a quarter of the videos on one flat
  colour instead) with a little static clutter that
  belongs to no category, moving occluders that cut objects into fragments,
  objects that enter and leave (both, for some), videos of 6 to 12 frames
  with larger motion between annotated frames. ``class_colours=False``
  (``--colour-mode instance``) goes further: any colour, the shape alone
  tells the category.

Each knob is also a ``make_synthetic_ytvis.py`` option, so a family can be
varied one factor at a time.
"""
import math
from dataclasses import dataclass, fields, replace
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

__all__ = ['SceneStyle', 'PRESETS', 'preset_style', 'draw_background',
           'draw_clutter', 'Occluder', 'sample_occluders', 'occluder_mask']


@dataclass(frozen=True)
class SceneStyle:
    """Every appearance and motion knob of the generator.

    Sizes are fractions of the frame's short side; colours are BGR 0-255.

    Attributes:
        radius_range: (low, high) object radius at its first frame, drawn
            uniformly (a box's side is 1.7 x radius, a disc's diameter 2x).
        class_colours: True: each category has its base colour and every
            instance varies around it by ``colour_jitter``; False: every
            instance gets a random colour, whatever its category.
        colour_jitter: per-channel spread (+-) of an instance's colour
            around its category colour (``class_colours``).
        shade_sigma: per-pixel noise inside an object.
        background_range: (low, high) of the coarse background colours.
        plain_background_prob: probability that a video's background is
            one flat colour (with its grain) instead of a texture: data sets
            mix both, and a model whose normalisation statistics come from
            textured videos must still see objects on a plain wall.
        stripe_amplitude: amplitude of the background's sinusoidal texture.
        grain_sigma: static per-pixel background noise.
        frame_noise_sigma: per-frame sensor noise over the whole frame.
        clutter: (low, high) number of static distractor strokes and
            elongated ellipses on the background (belong to no category).
        occluders: (low, high) number of moving bars drawn over everything;
            the objects' masks lose what a bar covers, so an object behind
            one is annotated as the fragments left visible.
        enter_prob: probability that an object appears after the first
            frame.
        leave_prob: probability that an object disappears before the last
            frame (``independent_events`` False: entering and leaving are
            exclusive, as in the original generator, drawn from one number).
        independent_events: draw entering and leaving independently (an
            object may do both).
        min_frames: a video's length is drawn uniformly from
            ``min_frames..num_frames``; None: every video has ``num_frames``.
        frame_step: the file-name step between annotated frames (YouTube-VIS
            annotates every 5th frame: 00000.jpg, 00005.jpg, ...) and the
            motion between them: velocity, growth and spin scale with
            ``frame_step / 5``.
    """
    radius_range: Tuple[float, float] = (0.09, 0.2)
    class_colours: bool = True
    colour_jitter: float = 30.0
    shade_sigma: float = 8.0
    background_range: Tuple[float, float] = (70.0, 180.0)
    plain_background_prob: float = 0.0
    stripe_amplitude: float = 12.0
    grain_sigma: float = 6.0
    frame_noise_sigma: float = 3.0
    clutter: Tuple[int, int] = (0, 0)
    occluders: Tuple[int, int] = (0, 0)
    enter_prob: float = 0.25
    leave_prob: float = 0.25
    independent_events: bool = False
    min_frames: Optional[int] = None
    frame_step: int = 5

    def __post_init__(self):
        low, high = self.radius_range
        if not 0 < low <= high <= 0.5:
            raise ValueError('radius_range must satisfy 0 < low <= high <= '
                             f'0.5 (fractions of the short side), got '
                             f'{self.radius_range}')
        for name in ('clutter', 'occluders'):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f'{name} must be (low, high) counts with '
                                 f'0 <= low <= high, got {(low, high)}')
        for name in ('enter_prob', 'leave_prob', 'plain_background_prob'):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f'{name} must be in [0, 1], got '
                                 f'{getattr(self, name)}')
        if not self.independent_events and \
                self.enter_prob + self.leave_prob > 1:
            raise ValueError('enter_prob + leave_prob must be <= 1 unless '
                             'independent_events')
        if self.min_frames is not None and self.min_frames < 1:
            raise ValueError(f'min_frames must be >= 1, got {self.min_frames}')
        if self.frame_step < 1:
            raise ValueError(f'frame_step must be >= 1, got {self.frame_step}')
        lo_bg, hi_bg = self.background_range
        if not 0 <= lo_bg <= hi_bg <= 255:
            raise ValueError('background_range must satisfy 0 <= low <= high '
                             f'<= 255, got {self.background_range}')

    @property
    def motion_scale(self) -> float:
        """Motion per annotated frame relative to YouTube-VIS's step of 5."""
        return self.frame_step / 5.0

    def num_frames(self, rng: np.random.Generator, num_frames: int) -> int:
        """One video's length: ``num_frames``, or a uniform draw from
        ``min_frames..num_frames`` (no draw at all when fixed, so a fixed
        style consumes no random numbers here)."""
        if self.min_frames is None or self.min_frames >= num_frames:
            return num_frames
        return int(rng.integers(self.min_frames, num_frames + 1))


#: Named styles (``--preset``); the options given next to a preset override
#: its values.
PRESETS: Dict[str, SceneStyle] = {
    'default': SceneStyle(),
    'hard': SceneStyle(
        radius_range=(0.025, 0.19),
        colour_jitter=60.0,
        shade_sigma=12.0,
        background_range=(40.0, 210.0),
        plain_background_prob=0.25,
        stripe_amplitude=20.0,
        grain_sigma=10.0,
        frame_noise_sigma=5.0,
        clutter=(0, 3),
        occluders=(0, 2),
        enter_prob=0.3,
        leave_prob=0.3,
        independent_events=True,
        min_frames=6,
        frame_step=8,
    ),
}


def preset_style(name: str, **overrides) -> SceneStyle:
    """The style named ``name`` with the given fields replaced (None values
    are ignored, so unset command-line options keep the preset's)."""
    if name not in PRESETS:
        raise ValueError(f'unknown preset {name!r}; presets: '
                         f'{", ".join(PRESETS)}')
    known = {f.name for f in fields(SceneStyle)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f'unknown style field(s) {unknown}; fields: '
                         f'{sorted(known)}')
    return replace(PRESETS[name],
                   **{k: v for k, v in overrides.items() if v is not None})


def draw_background(rng: np.random.Generator, style: SceneStyle, height: int,
                    width: int) -> np.ndarray:
    """A textured background. Returns (H, W, 3) float32."""
    low, high = style.background_range
    if style.plain_background_prob > 0 and \
            rng.uniform() < style.plain_background_prob:
        colour = rng.uniform(low, high, size=3).astype(np.float32)
        grain = rng.normal(0, style.grain_sigma,
                           size=(height, width, 3)).astype(np.float32)
        background = colour[None, None, :] + grain  # (H, W, 3)
        if style.clutter[1] > 0:
            draw_clutter(rng, background, style.clutter)
        return background
    coarse = rng.uniform(low, high, size=(4, 6, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height),
                        interpolation=cv2.INTER_CUBIC)  # (H, W, 3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    freq = rng.uniform(0.05, 0.25)
    theta = rng.uniform(0, math.pi)
    stripes = style.stripe_amplitude * np.sin(
        freq * (xx * math.cos(theta) + yy * math.sin(theta)))  # (H, W)
    grain = rng.normal(0, style.grain_sigma,
                       size=(height, width, 3)).astype(np.float32)
    background = smooth + stripes[..., None] + grain
    if style.clutter[1] > 0:
        draw_clutter(rng, background, style.clutter)
    return background


def draw_clutter(rng: np.random.Generator, image: np.ndarray,
                 count_range: Tuple[int, int]) -> None:
    """Paint static distractors into ``image`` ((H, W, 3) float32, in
    place): thin strokes and elongated ellipses (aspect >= 3) of random
    colours, shaped unlike any category so that they are background."""
    height, width = image.shape[:2]
    short = min(height, width)
    for _ in range(int(rng.integers(count_range[0], count_range[1] + 1))):
        colour = tuple(float(c) for c in rng.uniform(20, 235, 3))
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        if rng.uniform() < 0.5:  # a stroke
            length = rng.uniform(0.1, 0.4) * short
            angle = rng.uniform(0, math.pi)
            end = (int(centre[0] + length * math.cos(angle)),
                   int(centre[1] + length * math.sin(angle)))
            cv2.line(image, centre, end, colour,
                     thickness=int(rng.integers(1, 4)))
        else:  # an elongated ellipse
            major = rng.uniform(0.04, 0.15) * short
            minor = major / rng.uniform(3.0, 6.0)
            cv2.ellipse(image, centre, (max(int(major), 2),
                                        max(int(minor), 1)),
                        float(rng.uniform(0, 180)), 0, 360, colour, -1)


@dataclass
class Occluder:
    """A bar that crosses the frame over a video (drawn above everything).

    Attributes:
        centre: (2,) x, y at frame 0.
        velocity: (2,) pixels per frame.
        half_size: (2,) half length and half thickness in pixels.
        angle: rotation in degrees.
        colour: (3,) BGR.
    """
    centre: np.ndarray
    velocity: np.ndarray
    half_size: np.ndarray
    angle: float
    colour: np.ndarray


def sample_occluders(rng: np.random.Generator, style: SceneStyle,
                     height: int, width: int) -> List[Occluder]:
    """The moving occluders of one video (none for a style without)."""
    if style.occluders[1] == 0:
        return []
    short = min(height, width)
    count = int(rng.integers(style.occluders[0], style.occluders[1] + 1))
    occluders = []
    for _ in range(count):
        occluders.append(Occluder(
            centre=np.array([rng.uniform(0.1, 0.9) * width,
                             rng.uniform(0.1, 0.9) * height]),
            velocity=rng.uniform(-1, 1, size=2) * short * 0.03 *
            style.motion_scale,
            half_size=np.array([rng.uniform(0.25, 0.6) * short,
                                rng.uniform(0.025, 0.06) * short]),
            angle=float(rng.uniform(0, 180)),
            colour=rng.uniform(20, 235, 3)))
    return occluders


def occluder_mask(occluder: Occluder, t: int, height: int,
                  width: int) -> np.ndarray:
    """Where ``occluder`` covers frame ``t``: (H, W) bool."""
    centre = occluder.centre + occluder.velocity * t
    box = ((float(centre[0]), float(centre[1])),
           (2 * float(occluder.half_size[0]),
            2 * float(occluder.half_size[1])),
           occluder.angle)
    corners = np.round(cv2.boxPoints(box)).astype(np.int32)  # (4, 2) x, y
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [corners], 1)
    return mask.astype(bool)
