"""Photometric augmentation that a key frame and its references share:
colour jitter and sensor noise.

Unlike mmdet's ``PhotoMetricDistortion``, :class:`SharedColourJitter`
never permutes the colour channels nor rotates the hue: where colour tells
classes apart (a red and a blue ball, the synthetic shapes' colour
families) those would teach the model that colour means nothing."""
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SharedColourJitter(BaseTransform):
    """Random brightness, contrast and saturation, each applied with
    probability ``prob`` and drawn once per call (``cache_randomness``):
    inside ``TransformBroadcaster(share_random_params=True)`` a key frame
    and its references get the same change.

    Args:
        brightness_delta: added value drawn from +-delta (0-255 scale).
        contrast_range: (low, high) factor around the image's mean grey.
        saturation_range: (low, high) factor of the distance to grey.
        prob: probability of each of the three changes.

    Required keys: ``img`` ((H, W, 3) BGR). Modified: ``img`` (float32,
    clipped to 0-255, when anything changed).
    """

    def __init__(self, brightness_delta: float = 24.0,
                 contrast_range: Tuple[float, float] = (0.75, 1.25),
                 saturation_range: Tuple[float, float] = (0.75, 1.25),
                 prob: float = 0.5) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        for name, (low, high) in (('contrast_range', contrast_range),
                                  ('saturation_range', saturation_range)):
            if not 0 <= low <= high:
                raise ValueError(f'{name} must satisfy 0 <= low <= high, '
                                 f'got {(low, high)}')
        if brightness_delta < 0:
            raise ValueError('brightness_delta must be >= 0, got '
                             f'{brightness_delta}')
        self.brightness_delta = float(brightness_delta)
        self.contrast_range = tuple(map(float, contrast_range))
        self.saturation_range = tuple(map(float, saturation_range))
        self.prob = prob

    @cache_randomness
    def _random_params(self) -> Tuple[float, float, float]:
        """(brightness offset, contrast factor, saturation factor) of this
        call; 0, 1, 1 where a change is not applied."""
        def draw(low, high, neutral):
            if np.random.rand() >= self.prob:
                return neutral
            return float(np.random.uniform(low, high))

        return (draw(-self.brightness_delta, self.brightness_delta, 0.0),
                draw(*self.contrast_range, 1.0),
                draw(*self.saturation_range, 1.0))

    def transform(self, results: dict) -> dict:
        offset, contrast, saturation = self._random_params()
        if offset == 0.0 and contrast == 1.0 and saturation == 1.0:
            return results
        img = results['img'].astype(np.float32)  # (H, W, 3) BGR
        img = img + offset
        grey = img @ np.array([0.114, 0.587, 0.299], np.float32)  # (H, W)
        img = (img - grey.mean()) * contrast + grey.mean()
        grey = (img @ np.array([0.114, 0.587, 0.299], np.float32))[..., None]
        img = (img - grey) * saturation + grey
        results['img'] = np.clip(img, 0, 255)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness_delta='
                f'{self.brightness_delta}, contrast_range='
                f'{self.contrast_range}, saturation_range='
                f'{self.saturation_range}, prob={self.prob})')


@TRANSFORMS.register_module()
class RandomGaussianNoise(BaseTransform):
    """Add zero-mean Gaussian noise of a random strength to ``img``.

    Whether noise is added and its sigma are drawn once per call
    (``cache_randomness``), so inside ``TransformBroadcaster(
    share_random_params=True)`` a key frame and its references get noise of
    the same strength, while each frame's noise pattern is its own, as a
    camera's would be.

    Args:
        prob: probability of adding noise.
        sigma_range: (low, high) noise standard deviation in pixel values
            (0-255), drawn uniformly.
        seed: optional seed of the noise patterns (tests); by default
            numpy's global generator, which the runner seeds per worker.

    Required keys: ``img`` ((H, W, C) uint8 or float). Modified: ``img``
    (float32 when noise was added, clipped to 0-255).
    """

    def __init__(self, prob: float = 0.5,
                 sigma_range: Tuple[float, float] = (2.0, 10.0),
                 seed: Optional[int] = None) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        low, high = sigma_range
        if not 0 <= low <= high:
            raise ValueError('sigma_range must satisfy 0 <= low <= high, '
                             f'got {sigma_range}')
        self.prob = prob
        self.sigma_range = (float(low), float(high))
        self._rng = np.random.default_rng(seed) if seed is not None else None

    @cache_randomness
    def _random_sigma(self) -> float:
        """The sigma of this call, 0 for no noise."""
        if np.random.rand() >= self.prob:
            return 0.0
        return float(np.random.uniform(*self.sigma_range))

    def transform(self, results: dict) -> dict:
        sigma = self._random_sigma()
        if sigma <= 0:
            return results
        img = results['img']
        normal = self._rng.normal if self._rng is not None else \
            np.random.normal
        noisy = img.astype(np.float32) + normal(
            0.0, sigma, size=img.shape).astype(np.float32)  # (H, W, C)
        results['img'] = np.clip(noisy, 0, 255)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'sigma_range={self.sigma_range})')
