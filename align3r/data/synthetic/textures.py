"""Procedural surface textures: checkerboards, stripes, value noise and colour gradients.

A texture is evaluated at 2D surface coordinates in metres (`uv`), fixed to the surface, so a
moving object carries its texture. Every pattern is overlaid with fine value noise, which
gives the matcher detail to lock onto at every scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Pattern = Literal["checker", "stripes", "noise", "gradient"]
PATTERNS: tuple[Pattern, ...] = ("checker", "stripes", "noise", "gradient")
NOISE_TABLE_SIZE = 64


@dataclass(frozen=True)
class Material:
    """How a surface looks; all lengths in metres."""

    pattern: Pattern
    """the base pattern blending `color_a` and `color_b`."""
    color_a: tuple[float, float, float]
    """RGB in [0, 1]."""
    color_b: tuple[float, float, float]
    """RGB in [0, 1]."""
    period: float
    """cell size of checker, stripes and noise; wavelength of the gradient."""
    angle: float
    """direction of stripes and gradient in the uv plane, radians."""
    noise_seed: int
    """seed of this material's value-noise table."""


def sample_material(rng: np.random.Generator, *, period_range: tuple[float, float]) -> Material:
    """A random material: pattern, two distinct colours, period in `period_range` (metres)."""
    color_a = rng.uniform(0.15, 0.95, size=3)
    color_b = np.clip(color_a + rng.choice([-1.0, 1.0], size=3) * rng.uniform(0.25, 0.6, size=3), 0.05, 1.0)
    return Material(pattern=PATTERNS[rng.integers(len(PATTERNS))],
                    color_a=tuple(float(c) for c in color_a), color_b=tuple(float(c) for c in color_b),
                    period=float(rng.uniform(*period_range)), angle=float(rng.uniform(0.0, np.pi)),
                    noise_seed=int(rng.integers(2**31)))


def value_noise(uv: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Smooth value noise in [0, 1]: smoothstep-bilinear interpolation of a periodic table.

    Args:
        uv: (2, M) coordinates in table cells.
        table: (T + 1, T + 1) random values in [0, 1], last row and column repeating the first.

    Returns:
        (M,) noise values.
    """
    size = table.shape[0] - 1
    cell = np.floor(uv)
    frac = uv - cell
    weight = frac * frac * (3.0 - 2.0 * frac)
    index = cell.astype(np.int32) % size
    flat = table.ravel()
    corner = index[0] * (size + 1) + index[1]
    top = flat[corner] + (flat[corner + 1] - flat[corner]) * weight[1]
    bottom = flat[corner + size + 1] + (flat[corner + size + 2] - flat[corner + size + 1]) * weight[1]
    return top + (bottom - top) * weight[0]


def noise_table(seed: int) -> np.ndarray:
    """(T + 1, T + 1) float32 periodic value-noise table of a material."""
    table = np.random.default_rng(seed).random((NOISE_TABLE_SIZE, NOISE_TABLE_SIZE), dtype=np.float32)
    return np.pad(table, ((0, 1), (0, 1)), mode="wrap")


def texture_rgb(material: Material, uv: np.ndarray) -> np.ndarray:
    """Albedo of `material` at surface coordinates.

    Args:
        material: the surface's material.
        uv: (2, M) surface coordinates in metres.

    Returns:
        (3, M) RGB albedo in [0, 1], uv's float dtype.
    """
    table = noise_table(material.noise_seed)
    cells = uv / material.period
    if material.pattern == "checker":
        blend = (np.floor(cells[0]) + np.floor(cells[1])) % 2
    elif material.pattern == "noise":
        blend = value_noise(cells * 2.0, table)
    else:
        along = cells[0] * np.cos(material.angle) + cells[1] * np.sin(material.angle)
        blend = np.floor(along) % 2 if material.pattern == "stripes" else 0.5 + 0.5 * np.sin(2 * np.pi * along)
    detail = 0.8 + 0.4 * value_noise(cells * 8.0 + 17.0, table)  # fine grain, offset from the base noise
    color_a = np.asarray(material.color_a, dtype=np.float32)[:, None]
    color_b = np.asarray(material.color_b, dtype=np.float32)[:, None]
    return np.clip((color_a + (color_b - color_a) * blend) * detail, 0.0, 1.0)
