"""Colour jitter with torchvision's ColorJitter semantics, and image normalisation (docs/training.md §4.4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from align3r.data.augment import ColorJitterConfig, color_jitter, normalize_image

ONLY = {name: ColorJitterConfig(**{k: (v if k == name else 0.0) for k, v in vars(ColorJitterConfig()).items()})
        for name in ("brightness", "contrast", "saturation", "hue")}


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(8, 10, 3), dtype=np.uint8)


def _drawn_factor(seed: int, low: float, high: float) -> float:
    rng = np.random.default_rng(seed)
    rng.permutation(4)
    return float(rng.uniform(low, high))


def test_brightness_scales_the_pixels() -> None:
    rgb = _image()
    factor = _drawn_factor(3, 0.5, 1.5)
    out = color_jitter(rgb, np.random.default_rng(3), ONLY["brightness"])
    assert np.abs(out.astype(float) - np.clip(rgb * factor, 0, 255)).max() <= 1


def test_contrast_blends_with_the_mean_grey() -> None:
    rgb = _image()
    factor = _drawn_factor(5, 0.5, 1.5)
    luma = (rgb @ np.array([299, 587, 114]) / 1000).mean()  # PIL's "L" conversion
    out = color_jitter(rgb, np.random.default_rng(5), ONLY["contrast"])
    assert np.abs(out.astype(float) - np.clip(luma + factor * (rgb - luma), 0, 255)).max() <= 1.5


def test_saturation_blends_with_the_grayscale_image() -> None:
    rgb = _image()
    factor = _drawn_factor(6, 0.5, 1.5)
    gray = (rgb @ np.array([299, 587, 114]) / 1000)[..., None]
    out = color_jitter(rgb, np.random.default_rng(6), ONLY["saturation"])
    assert np.abs(out.astype(float) - np.clip(gray + factor * (rgb - gray), 0, 255)).max() <= 1.5


class _FixedDraws:
    """A generator stand-in that draws the identity order and a given hue shift."""

    def __init__(self, shift: float) -> None:
        self.shift = shift

    def permutation(self, n: int) -> np.ndarray:
        return np.arange(n)

    def uniform(self, low: float, high: float) -> float:
        return self.shift


@pytest.mark.parametrize(("shift", "expected"), [
    (1 / 3, (0, 255, 0)),    # +85/255 turn: 120°
    (-1 / 3, (6, 0, 255)),   # int(-85) wraps to 171/255 turn: 241.4°, blue with a little red
    (0.0, (255, 0, 0)),
])
def test_hue_rotates_in_turns_with_wrap_around(shift: float, expected: tuple[int, int, int]) -> None:
    config = ColorJitterConfig(brightness=0, contrast=0, saturation=0, hue=0.5)
    red = np.zeros((2, 2, 3), dtype=np.uint8)
    red[..., 0] = 255
    out = color_jitter(red, _FixedDraws(shift), config)
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_jitter_is_deterministic_given_the_generator_and_changes_with_it() -> None:
    rgb = _image(1)
    first = color_jitter(rgb, np.random.default_rng(7))
    np.testing.assert_array_equal(first, color_jitter(rgb, np.random.default_rng(7)))
    assert not np.array_equal(first, color_jitter(rgb, np.random.default_rng(8)))
    assert first.dtype == np.uint8 and first.shape == rgb.shape


def test_draw_order_is_a_permutation_then_the_four_parameters() -> None:
    rng = np.random.default_rng(11)
    color_jitter(_image(), rng)
    reference = np.random.default_rng(11)
    reference.permutation(4)
    reference.uniform(size=4)
    assert rng.integers(1 << 30) == reference.integers(1 << 30)


def test_empty_ranges_draw_nothing_and_leave_the_image() -> None:
    none = ColorJitterConfig(brightness=0, contrast=0, saturation=0, hue=0)
    rng = np.random.default_rng(2)
    np.testing.assert_array_equal(color_jitter(_image(), rng, none), _image())
    reference = np.random.default_rng(2)
    reference.permutation(4)
    assert rng.integers(1 << 30) == reference.integers(1 << 30)


def test_normalize_image_to_minus_one_one_channels_first() -> None:
    rgb = np.array([[[0, 255, 51]]], dtype=np.uint8)
    out = normalize_image(rgb)
    assert out.shape == (3, 1, 1) and out.dtype == torch.float32
    torch.testing.assert_close(out.flatten(), torch.tensor([-1.0, 1.0, -0.6]))
