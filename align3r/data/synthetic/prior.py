"""Monocular depth priors simulated from ground truth, in the two styles of the real priors.

"depth-anything": relative inverse depth, `disparity_affine = s_i / depth + t_i` with a random
per-frame scale and shift, no focal length. "depth-pro": metric depth with a per-frame scale
error and a focal-length estimate. Both get a smooth low-frequency multiplicative warp,
blurred depth edges and per-pixel noise. Every corruption has its own strength; with all
strengths 0 the prior is the ground truth exactly (depth-pro) or exactly 1 / depth
(depth-anything). The random draws do not depend on the strengths, so changing one strength
leaves the other corruptions as they were.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

PriorStyle = Literal["depth-anything", "depth-pro"]
PRIOR_STYLES: tuple[PriorStyle, ...] = ("depth-anything", "depth-pro")
FAR_DEPTH = 1e4  # metres where no surface: Depth Pro's own cap (inverse depth >= 1e-4)
WARP_WAVES = 3


@dataclass(frozen=True)
class PriorConfig:
    """One simulated prior; every strength 0 gives the exact prior."""

    style: PriorStyle = "depth-pro"
    """"depth-anything" (affine disparity, no focal) or "depth-pro" (metric depth + focal)."""
    scale_error: float = 0.1
    """depth-pro: per-frame scale uniform in 1 +- this; depth-anything: log-std of the affine scale."""
    shift: float = 0.2
    """depth-anything: per-frame shift up to this times the frame's median disparity."""
    warp: float = 0.05
    """amplitude (log) of a smooth multiplicative warp over the image."""
    blur_px: float = 1.0
    """Gaussian sigma in pixels blurring depth edges (applied to disparity)."""
    noise: float = 0.01
    """relative per-pixel Gaussian noise."""
    focal_error: float = 0.03
    """depth-pro: the focal estimate is uniform in f (1 +- this)."""


def exact_prior(style: PriorStyle) -> PriorConfig:
    """A prior without any corruption: ground truth depth, or exactly 1 / depth."""
    return PriorConfig(style=style, scale_error=0.0, shift=0.0, warp=0.0, blur_px=0.0, noise=0.0,
                       focal_error=0.0)


PRIOR_PRESETS: dict[str, tuple[PriorConfig, ...]] = {
    "realistic": (PriorConfig(style="depth-anything"), PriorConfig(style="depth-pro")),
    "exact": (exact_prior("depth-anything"), exact_prior("depth-pro")),
}


@dataclass(frozen=True, eq=False)
class PriorMaps:
    """A simulated prior for every frame; exactly one of the two maps is set."""

    style: PriorStyle
    """which real prior it mimics."""
    disparity_affine: np.ndarray | None
    """(N, H, W) float32 inverse depth up to a per-frame affine map (depth-anything), else None."""
    depth_metric: np.ndarray | None
    """(N, H, W) float32 metric depth, FAR_DEPTH where no surface (depth-pro), else None."""
    focal_px: np.ndarray | None
    """(N,) float64 focal-length estimate in pixels (depth-pro), else None."""

    @property
    def stored(self) -> np.ndarray:
        """(N, H, W) the map the official prior files keep under `depth`."""
        stored = self.depth_metric if self.disparity_affine is None else self.disparity_affine
        assert stored is not None
        return stored


def _warp_field(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W) smooth field, roughly in [-1, 1]: a few plane waves of 0.3-1.5 cycles per image.

    Each wave cos(a(u) + b(v)) is expanded as cos a cos b - sin a sin b: outer products of
    per-column and per-row factors instead of a cosine per pixel.
    """
    u, v = np.linspace(0.0, 1.0, width), np.linspace(0.0, 1.0, height)
    freq = rng.uniform(0.3, 1.5, size=(WARP_WAVES, 2)) * rng.choice([-1.0, 1.0], size=(WARP_WAVES, 2))
    phase = rng.uniform(0.0, 2 * np.pi, size=WARP_WAVES)
    field = np.zeros((height, width))
    for (freq_u, freq_v), offset in zip(freq, phase):
        along_u, along_v = 2 * np.pi * freq_u * u + offset, 2 * np.pi * freq_v * v
        field += np.outer(np.cos(along_v), np.cos(along_u)) - np.outer(np.sin(along_v), np.sin(along_u))
    return field / np.sqrt(WARP_WAVES)


def _corrupt(rng: np.random.Generator, values: np.ndarray, disparity: np.ndarray,
             config: PriorConfig) -> np.ndarray:
    """Blur (through disparity), warp and noise of one frame's map `values` (H, W) float64."""
    warp = _warp_field(rng, *values.shape)
    noise = rng.normal(size=values.shape)
    if config.blur_px > 0:
        blurred = cv2.GaussianBlur(disparity, ksize=(0, 0), sigmaX=config.blur_px)
        if config.style == "depth-anything":
            values = blurred
        else:
            values = np.where(blurred > 0, 1.0 / np.maximum(blurred, 1.0 / FAR_DEPTH), FAR_DEPTH)
    if config.warp > 0:
        values = values * np.exp(config.warp * warp)
    if config.noise > 0:
        values = values * (1.0 + config.noise * noise)
    return values


def simulate_prior(depth: np.ndarray, valid: np.ndarray, focal_px: np.ndarray, config: PriorConfig, *,
                   seed: int) -> PriorMaps:
    """Simulate a monocular prior from exact depth.

    Args:
        depth: (N, H, W) ground-truth z-depth, metres (any value where invalid).
        valid: (N, H, W) bool, a surface was hit.
        focal_px: (N,) true focal lengths in pixels.
        config: style and corruption strengths.
        seed: with the style, fixes every random draw.

    Returns:
        PriorMaps of the style.
    """
    rng = np.random.default_rng([seed, zlib.crc32(config.style.encode())])
    maps, focals = [], []
    for depth_i, valid_i, focal_i in zip(depth.astype(np.float64), valid, focal_px):
        log_scale, shift, scale, focal = rng.normal(), rng.uniform(), rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
        disparity = np.zeros_like(depth_i)
        disparity[valid_i] = 1.0 / depth_i[valid_i]
        if config.style == "depth-anything":
            values = _corrupt(rng, disparity, disparity, config)
            median = float(np.median(disparity[valid_i])) if valid_i.any() else 0.0
            values = np.exp(config.scale_error * log_scale) * values + config.shift * shift * median
        else:
            values = _corrupt(rng, np.where(valid_i, depth_i, FAR_DEPTH), disparity, config)
            values = np.minimum(values * (1.0 + config.scale_error * scale), FAR_DEPTH)
            focals.append(focal_i * (1.0 + config.focal_error * focal))
        maps.append(values.astype(np.float32))
    stacked = np.stack(maps)
    if config.style == "depth-anything":
        return PriorMaps(style=config.style, disparity_affine=stacked, depth_metric=None, focal_px=None)
    return PriorMaps(style=config.style, disparity_affine=None, depth_metric=stacked,
                     focal_px=np.asarray(focals, dtype=np.float64))
