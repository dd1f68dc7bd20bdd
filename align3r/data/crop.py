"""Crops and resizes that move an image, its depth, its prior map and K together (docs/training.md §4.3).

Images are (H, W, ...) numpy arrays; sizes are written (W, H) as in the official code.
Intrinsics follow the official pixel-centre convention: integer pixel coordinates are centres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from align3r.errors import InputError

NearestMode = Literal["centred", "official"]


@dataclass(frozen=True)
class CropConfig:
    """Augmentations of the geometric pipeline; defaults are the official training values."""

    aug_f: bool = True
    """Zoom crop: keep a centred fraction `zoom_choices` of the frame, focal unchanged."""
    zoom_choices: tuple[float, ...] = (0.8, 0.9, 1.0)
    """Fractions the zoom crop draws from."""
    aug_crop: int = 16
    """Size jitter: the rescale target grows by k ~ U{0..aug_crop-1} px on both sides (none if <= 1)."""
    nearest: NearestMode = "centred"
    """Depth/prior resampling: "centred" takes source pixel floor((x + 0.5)/s) (OpenCV
    INTER_NEAREST_EXACT), aligned with the RGB and K; "official" takes floor(x/s) (INTER_NEAREST),
    half an output pixel off (docs/training.md §11 item 13)."""


@dataclass(frozen=True)
class FrameArrays:
    """The arrays of one view that are cropped and resized together.

    Attributes:
        rgb: (H, W, 3) uint8.
        depth: (H, W) float32 z-depth, 0 where invalid.
        prior_pts: (H, W, 3) float32 prior point map.
        intrinsics: (3, 3) float64 K of these arrays, pixels.
    """

    rgb: np.ndarray
    depth: np.ndarray
    prior_pts: np.ndarray
    intrinsics: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """(W, H)."""
        return self.rgb.shape[1], self.rgb.shape[0]


def crop_intrinsics(intrinsics: np.ndarray, left: float, top: float) -> np.ndarray:
    """K (3, 3) of a crop whose top-left pixel was (left, top) of the input."""
    out = np.array(intrinsics, dtype=np.float64)
    out[0, 2] -= left
    out[1, 2] -= top
    return out


def rescale_intrinsics(intrinsics: np.ndarray, scale: float, input_size: tuple[int, int],
                       output_size: tuple[int, int]) -> np.ndarray:
    """K (3, 3) after resampling by `scale` to `output_size` (W, H), floored from `input_size`·scale.

    `f' = f·s`; `c' = (c + 0.5)·s − 0.5 − ½·(input·s − output)`: pixel centres scale about the
    image corner, and the content lost by flooring the size is split evenly on both sides
    (`cropping.py`, `camera_matrix_of_crop`).
    """
    out = np.array(intrinsics, dtype=np.float64)
    margins = np.asarray(input_size, dtype=np.float64) * scale - np.asarray(output_size)
    out[:2, :] *= scale
    out[:2, 2] += 0.5 * scale - 0.5 - 0.5 * margins
    return out


def crop(frame: FrameArrays, left: int, top: int, width: int, height: int) -> FrameArrays:
    """The window of `width` x `height` pixels at (left, top), inside the frame."""
    width_in, height_in = frame.size
    if not (0 <= left and 0 <= top and left + width <= width_in and top + height <= height_in):
        raise ValueError(f"crop window {(left, top, width, height)} outside a {frame.size} frame")
    rows, cols = slice(top, top + height), slice(left, left + width)
    return FrameArrays(frame.rgb[rows, cols], frame.depth[rows, cols], frame.prior_pts[rows, cols],
                       crop_intrinsics(frame.intrinsics, left, top))


def rescale_to_cover(frame: FrameArrays, target: tuple[int, int], nearest: NearestMode) -> FrameArrays:
    """Resample so that the frame covers `target` (W, H), keeping its aspect (docs/training.md §4.3 step 5).

    Scale `s = max(W_t/W, H_t/H) + 1e-8`, output size floor((W, H)·s). RGB with PIL LANCZOS when
    shrinking, BICUBIC when enlarging; depth and prior map with nearest neighbour, so their
    values are a subset of the input's.
    """
    scale = max(target[0] / frame.size[0], target[1] / frame.size[1]) + 1e-8
    size = (math.floor(frame.size[0] * scale), math.floor(frame.size[1] * scale))
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
    rgb = np.asarray(Image.fromarray(frame.rgb).resize(size, resample=resample))
    interpolation = cv2.INTER_NEAREST_EXACT if nearest == "centred" else cv2.INTER_NEAREST
    depth = cv2.resize(frame.depth, size, interpolation=interpolation)
    prior_pts = cv2.resize(frame.prior_pts, size, interpolation=interpolation)
    return FrameArrays(rgb, depth, prior_pts, rescale_intrinsics(frame.intrinsics, scale, frame.size, size))


def crop_to_principal_point(frame: FrameArrays, label: str) -> FrameArrays:
    """The largest window centred on the rounded principal point (docs/training.md §4.3 step 1)."""
    width, height = frame.size
    cx, cy = (int(round(c)) for c in frame.intrinsics[:2, 2])  # half to even, as numpy's round
    margin_x, margin_y = min(cx, width - cx), min(cy, height - cy)
    if margin_x <= width / 5 or margin_y <= height / 5:  # `base_stereo_view_dataset.py` asserts the x margin
        raise InputError(f"{label}: principal point {(cx, cy)} too far off-centre in a {frame.size} frame")
    return crop(frame, cx - margin_x, cy - margin_y, 2 * margin_x, 2 * margin_y)


def crop_and_resize(frame: FrameArrays, resolution: tuple[int, int], rng: np.random.Generator,
                    config: CropConfig, *, label: str = "frame") -> FrameArrays:
    """The geometric pipeline of one view: frame at any size -> exactly `resolution` (W, H).

    Steps (docs/training.md §4.3): principal-point crop; zoom crop (aug_f); size jitter (aug_crop); cover
    rescale; centred crop. Draws from `rng` in that order: zoom fraction, then jitter k.

    Raises:
        InputError: portrait frames (H > 1.1·W) with a landscape target. The official code
            would transpose them and then fail (docs/training.md §11 item 20); no training set has
            any. Near-square frames keep the landscape target (the official code draws a coin
            to transpose them; we do not transpose).
    """
    frame = crop_to_principal_point(frame, label)
    width, height = frame.size
    if height > 1.1 * width and resolution[0] > resolution[1]:
        raise InputError(f"{label}: portrait frame {frame.size} not supported for a landscape target {resolution}")
    if config.aug_f:
        zoom = float(rng.choice(config.zoom_choices))
        new_width, new_height = math.floor(width * zoom), math.floor(height * zoom)
        frame = crop(frame, int((width - new_width) / 2), int((height - new_height) / 2), new_width, new_height)
    jitter = int(rng.integers(0, config.aug_crop)) if config.aug_crop > 1 else 0
    frame = rescale_to_cover(frame, (resolution[0] + jitter, resolution[1] + jitter), config.nearest)
    left = int(np.round((frame.size[0] - resolution[0]) / 2))
    top = int(np.round((frame.size[1] - resolution[1]) / 2))
    return crop(frame, left, top, resolution[0], resolution[1])

