"""Photometric augmentation and image normalisation of training views (docs/training.md §4.4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageEnhance


@dataclass(frozen=True)
class ColorJitterConfig:
    """Ranges of the colour jitter; defaults are the official ColorJitter(0.5, 0.5, 0.5, 0.1)."""

    brightness: float = 0.5
    """Factor drawn from U[1 - b, 1 + b]."""
    contrast: float = 0.5
    """Factor drawn from U[1 - c, 1 + c]."""
    saturation: float = 0.5
    """Factor drawn from U[1 - s, 1 + s]."""
    hue: float = 0.1
    """Hue shift drawn from U[-h, h], in turns (at most 0.5)."""


def _adjust_hue(image: Image.Image, shift: float) -> Image.Image:
    """Rotate the HSV hue channel by `shift` turns, in uint8 with wrap-around."""
    hue, saturation, value = image.convert("HSV").split()
    offset = int(shift * 255) % 256  # torchvision's np.uint8(shift * 255) under numpy 1: truncate, then wrap
    hue = Image.fromarray((np.asarray(hue, dtype=np.uint8) + np.uint8(offset)).astype(np.uint8), "L")
    return Image.merge("HSV", (hue, saturation, value)).convert("RGB")


def color_jitter(rgb: np.ndarray, rng: np.random.Generator,
                 config: ColorJitterConfig = ColorJitterConfig()) -> np.ndarray:
    """Random brightness, contrast, saturation and hue, in a random order.

    The same operations and semantics as torchvision's `ColorJitter` on a PIL image (its PIL
    path, which the official dataset takes): `ImageEnhance.Brightness` (blend with black),
    `ImageEnhance.Contrast` (blend with the grey of the mean luminance), `ImageEnhance.Color`
    (blend with the grayscale image), and a uint8 HSV hue rotation. Draw order as torchvision:
    a permutation of the four operations, then the brightness, contrast, saturation and hue
    parameters, skipping an operation whose range is 0. Draws come from `rng`, not from torch's
    global generator.

    Args:
        rgb: (H, W, 3) uint8.
        rng: the view's generator.
        config: the jitter ranges.

    Returns:
        (H, W, 3) uint8.
    """
    order = rng.permutation(4)
    ranges = (config.brightness, config.contrast, config.saturation, config.hue)
    # torchvision draws, and applies, only the operations with a non-empty range.
    params = [None if r == 0 else float(rng.uniform(max(0.0, 1 - r), 1 + r)) for r in ranges[:3]]
    params.append(None if config.hue == 0 else float(rng.uniform(-config.hue, config.hue)))
    enhancers = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)
    image = Image.fromarray(rgb)
    for op in order:
        if params[op] is not None:
            image = _adjust_hue(image, params[op]) if op == 3 else enhancers[op](image).enhance(params[op])
    return np.asarray(image)


def normalize_image(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1]: ToTensor, then Normalize(0.5, 0.5) (`ImgNorm`)."""
    image = torch.tensor(rgb).permute(2, 0, 1).float() / 255
    return (image - 0.5) / 0.5
