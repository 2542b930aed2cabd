"""Photometric augmentation shared by a key frame and its references."""
import numpy as np
import pytest
from mmcv.transforms import TransformBroadcaster

from vis.datasets import RandomGaussianNoise, SharedColourJitter


def test_noise_strength_is_shared_and_patterns_are_not():
    np.random.seed(0)
    noise = TransformBroadcaster(
        transforms=[dict(type='RandomGaussianNoise', prob=1.0,
                         sigma_range=(5.0, 30.0))],
        share_random_params=True)
    img = np.full((40, 50, 3), 128, np.uint8)
    out = noise(dict(img=[img, img.copy()]))
    key, ref = out['img']
    assert key.dtype == np.float32
    assert key.std() == pytest.approx(ref.std(), rel=0.1)  # one sigma
    assert 5.0 * 0.9 < key.std() < 30.0 * 1.1
    assert not np.array_equal(key, ref)  # patterns of their own


def test_noise_probability_zero_leaves_the_image():
    img = np.random.default_rng(0).integers(0, 255, (8, 8, 3), np.uint8)
    out = RandomGaussianNoise(prob=0.0)(dict(img=img))
    assert out['img'] is img
    with pytest.raises(ValueError, match='sigma_range'):
        RandomGaussianNoise(sigma_range=(3.0, 1.0))


def _broadcast(transform, img, seed=0):
    np.random.seed(seed)
    wrapper = TransformBroadcaster(transforms=[transform],
                                   share_random_params=True)
    return wrapper(dict(img=[img, img.copy()]))['img']


def test_colour_jitter_by_hand():
    # brightness +10 only: every pixel 10 up
    jitter = SharedColourJitter(brightness_delta=10.0,
                                contrast_range=(1.0, 1.0),
                                saturation_range=(1.0, 1.0), prob=1.0)
    jitter._random_params = lambda: (10.0, 1.0, 1.0)
    img = np.array([[[10, 20, 30], [100, 50, 0]]], np.uint8)  # (1, 2, 3)
    out = jitter(dict(img=img))['img']
    assert np.allclose(out, img.astype(np.float32) + 10)
    # saturation 0: every pixel becomes its grey value in all channels
    jitter._random_params = lambda: (0.0, 1.0, 0.0)
    out = jitter(dict(img=img))['img']
    grey = img.astype(np.float32) @ np.array([0.114, 0.587, 0.299])
    assert np.allclose(out, np.repeat(grey[..., None], 3, axis=2), atol=1e-4)
    # contrast 2 around the mean grey
    jitter._random_params = lambda: (0.0, 2.0, 1.0)
    out = jitter(dict(img=img))['img']
    mean = grey.mean()
    assert np.allclose(out, np.clip((img - mean) * 2 + mean, 0, 255),
                       atol=1e-4)


def test_colour_jitter_is_shared_and_keeps_channel_order():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (16, 16, 3)).astype(np.uint8)
    img[..., 2] = 250  # a red image stays the reddest channel
    img[..., :2] //= 4
    for seed in range(20):
        key, ref = _broadcast(dict(type='SharedColourJitter', prob=1.0),
                              img, seed)
        assert np.array_equal(key, ref)  # one change for both frames
        assert (key[..., 2] >= key[..., 1]).all()
        assert (key[..., 2] >= key[..., 0]).all()


def test_colour_jitter_probability_zero_and_bad_ranges():
    img = np.zeros((4, 4, 3), np.uint8)
    out = SharedColourJitter(prob=0.0)(dict(img=img))
    assert out['img'] is img
    with pytest.raises(ValueError, match='contrast_range'):
        SharedColourJitter(contrast_range=(1.5, 1.0))
    with pytest.raises(ValueError, match='brightness_delta'):
        SharedColourJitter(brightness_delta=-1)
