"""Frames and priors -> network inputs: the official resize and crop to multiples of 16, RGB to [-1, 1].

One `FrameTransform` describes the geometry (resize, crop, resize) that takes a (H0, W0) frame to
the network's (H, W) input (docs/method.md §10.3, `image_pose.py`, `crop_img`). The same transform
moves any per-pixel map (masks, ground-truth depth) to the network grid, maps outputs back to
the original frames, and says how intrinsics change. Pixel coordinates follow the pixel-centre
convention: integer (u, v) are pixel centres, so a resize by s maps u to (u + 0.5) s - 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch
from PIL import Image

from align3r.errors import InputError
from align3r.prior.condition import prior_points

SHORT_SIDE_SIZE = 224
"""The one `size` whose frames are resized by their short side and cropped square (`crop_img`)."""


@dataclass(frozen=True)
class FrameTransform:
    """Resize, crop, resize: how a (H0, W0) frame becomes the (H, W) network input.

    Attributes:
        input_size: (H0, W0) of the original frame.
        resized_size: (H1, W1) after the first resize (long side to `size`; short side to 224).
        crop_box: (top, left, height, width) window of the resized frame that is kept.
        output_size: (H, W), multiples of 16; it differs from the crop box's size only with
            `crop=False`, where the whole resized frame is resized again to it.
    """

    input_size: tuple[int, int]
    resized_size: tuple[int, int]
    crop_box: tuple[int, int, int, int]
    output_size: tuple[int, int]

    @property
    def upsamples(self) -> bool:
        """Whether the first resize enlarges (bicubic kernels) rather than shrinks (Lanczos)."""
        return max(self.input_size) <= max(self.resized_size)

    def pixel_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale, offset), each (2,) float64 in (u, v) order: output pixel = scale * input + offset."""
        in_hw, mid_hw, out_hw = (np.asarray(s, dtype=np.float64) for s in
                                 (self.input_size, self.resized_size, self.output_size))
        top, left, height, width = self.crop_box
        first = mid_hw / in_hw  # (2,) in (v, u) order, like the sizes
        second = out_hw / np.array([height, width], dtype=np.float64)
        offset = second * (0.5 * first - np.array([top, left])) - 0.5
        return (first * second)[::-1].copy(), offset[::-1].copy()


def frame_transform(height: int, width: int, *, size: int = 512, crop: bool = True,
                    square_ok: bool = False) -> FrameTransform:
    """The official inference geometry for a (height, width) frame (`image_pose.py`, `crop_img`).

    Long side resized to `size` (each side `round(side * size / long)`), then the centred window
    of the largest multiples of 16 is cropped (`crop=True`, the demo) or the whole frame is
    resized to that size (`crop=False`, the video-depth evaluation). `size=224` instead resizes
    the short side to 224 and crops the centred square. A square frame without `square_ok` is
    cropped to 4:3 (512x512 -> 512x384), which the official code means (`halfh = 3*halfw/4`) but
    crashes on when a prior is given (a float row index).

    Raises:
        InputError: the frame is so elongated that a side would have no 16-pixel block.
    """
    if size < 16:
        raise InputError(f"size must be at least 16 pixels, got {size}")
    long_edge = round(size * max(width / height, height / width)) if size == SHORT_SIDE_SIZE else size
    scale = long_edge / max(width, height)
    resized_w, resized_h = round(width * scale), round(height * scale)
    cx, cy = resized_w // 2, resized_h // 2
    if size == SHORT_SIDE_SIZE:
        half_w = half_h = min(cx, cy)
    else:
        half_w, half_h = (2 * cx // 16) * 8, (2 * cy // 16) * 8
        if resized_w == resized_h and not square_ok:
            half_h = (3 * half_w // 4) // 8 * 8
    if half_w == 0 or half_h == 0:
        raise InputError(f"a {width}x{height} frame resized to {resized_w}x{resized_h} leaves no 16-pixel "
                         "block on one side; crop the frames to a less elongated shape")
    output = (2 * half_h, 2 * half_w)
    if crop or size == SHORT_SIDE_SIZE:
        box = (cy - half_h, cx - half_w, *output)
    else:
        box = (0, 0, resized_h, resized_w)
    return FrameTransform((height, width), (resized_h, resized_w), box, output)


def _crop(array: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, left, height, width = box
    return array[top:top + height, left:left + width]


def resize_rgb(image: np.ndarray, transform: FrameTransform) -> np.ndarray:
    """Apply `transform` to an RGB frame with the official Pillow kernels.

    Lanczos when shrinking, bicubic when enlarging (`_resize_pil_image`); the second resize of
    `crop=False` is always Lanczos (`crop_img`).

    Args:
        image: (H0, W0, 3) uint8.

    Returns:
        (H, W, 3) uint8.
    """
    pil = Image.fromarray(image)
    kernel = Image.Resampling.BICUBIC if transform.upsamples else Image.Resampling.LANCZOS
    pil = pil.resize(transform.resized_size[::-1], kernel)
    top, left, height, width = transform.crop_box
    pil = pil.crop((left, top, left + width, top + height))
    pil = pil.resize(transform.output_size[::-1], Image.Resampling.LANCZOS)  # a no-op at equal size
    return np.asarray(pil)


def resize_prior_pts(prior_pts: np.ndarray, transform: FrameTransform) -> np.ndarray:
    """Apply `transform` to a normalised prior point map with the official OpenCV kernels.

    Lanczos-4 when shrinking, bicubic when enlarging (`resize_numpy_image`), bicubic for the
    second resize of `crop=False` (`crop_img`). Values may overshoot [0, 1] slightly.

    Args:
        prior_pts: (H0, W0, 3) float32.

    Returns:
        (H, W, 3) float32.
    """
    kernel = cv2.INTER_CUBIC if transform.upsamples else cv2.INTER_LANCZOS4
    resized = cv2.resize(prior_pts, transform.resized_size[::-1], interpolation=kernel)
    cropped = _crop(resized, transform.crop_box)
    return cv2.resize(cropped, transform.output_size[::-1], interpolation=cv2.INTER_CUBIC)  # no-op at equal size


def resize_map(array: np.ndarray, transform: FrameTransform) -> np.ndarray:
    """Apply `transform` to any per-pixel map (mask, ground-truth depth, labels), nearest pixel.

    Each output pixel takes the input pixel whose centre is nearest to its own centre mapped
    back through the whole transform, so values never mix (invalid depth stays invalid).

    Args:
        array: (H0, W0, *) of any dtype.

    Returns:
        (H, W, *) of the same dtype.
    """
    if array.shape[:2] != transform.input_size:
        raise ValueError(f"array: expected shape ({transform.input_size[0]}, {transform.input_size[1]}, *), "
                         f"got {array.shape}")
    scale, offset = transform.pixel_affine()
    height, width = transform.output_size
    cols = np.clip(np.floor((np.arange(width) - offset[0]) / scale[0] + 0.5), 0, transform.input_size[1] - 1)
    rows = np.clip(np.floor((np.arange(height) - offset[1]) / scale[1] + 0.5), 0, transform.input_size[0] - 1)
    return array[rows.astype(np.int64)[:, None], cols.astype(np.int64)[None, :]]


def resize_maps(maps: np.ndarray, transform: FrameTransform) -> np.ndarray:
    """`resize_map` of each of N maps: (N, H0, W0, *) -> (N, H, W, *)."""
    return np.stack([resize_map(m, transform) for m in maps])


def _linear_along(array: np.ndarray, coords: np.ndarray, *, axis: int) -> np.ndarray:
    """Linear interpolation of `array` at fractional indices `coords` along `axis`, edges clamped."""
    size = array.shape[axis]
    coords = np.clip(coords, 0, size - 1)
    low = np.clip(np.floor(coords), 0, size - 2).astype(np.int64)
    weight = (coords - low).reshape((-1,) + (1,) * (array.ndim - axis - 1))
    return np.take(array, low, axis=axis) * (1 - weight) + np.take(array, low + 1, axis=axis) * weight


def restore_map(array: np.ndarray, transform: FrameTransform, *,
                interpolation: Literal["nearest", "linear"] = "nearest",
                outside: Literal["zero", "edge"] = "zero") -> tuple[np.ndarray, np.ndarray]:
    """Map a per-pixel output on the network grid back onto the original frame.

    Args:
        array: (H, W, *) on the network grid.
        interpolation: "nearest" for any dtype; "linear" (bilinear, float64 result) for numbers.
        outside: what the original pixels the crop cut away get: "zero", or "edge", the same
            interpolation at coordinates clamped to the network grid (each such pixel copies
            the crop's nearest edge row or column: OpenCV's BORDER_REPLICATE).

    Returns:
        restored: (H0, W0, *), 0 where `valid` is False unless `outside="edge"`.
        valid: (H0, W0) bool, False on the original pixels the crop cut away.
    """
    if array.shape[:2] != transform.output_size:
        raise ValueError(f"array: expected shape ({transform.output_size[0]}, {transform.output_size[1]}, *), "
                         f"got {array.shape}")
    scale, offset = transform.pixel_affine()
    height, width = transform.input_size
    u = np.arange(width) * scale[0] + offset[0]  # (W0,) output column of each input column
    v = np.arange(height) * scale[1] + offset[1]  # (H0,)
    out_h, out_w = transform.output_size
    valid = ((v >= -0.5) & (v <= out_h - 0.5))[:, None] & ((u >= -0.5) & (u <= out_w - 0.5))[None, :]
    if interpolation == "nearest":
        cols = np.clip(np.floor(u + 0.5), 0, out_w - 1).astype(np.int64)
        rows = np.clip(np.floor(v + 0.5), 0, out_h - 1).astype(np.int64)
        restored = array[rows[:, None], cols[None, :]]
    else:
        restored = _linear_along(_linear_along(array, v, axis=0), u, axis=1)
    if outside == "edge":
        return restored, valid
    mask = valid.reshape(valid.shape + (1,) * (restored.ndim - 2))
    return np.where(mask, restored, np.zeros((), dtype=restored.dtype)), valid


def transform_intrinsics(intrinsics: torch.Tensor, transform: FrameTransform) -> torch.Tensor:
    """Intrinsics of the network grid from those of the original frame (pixel-centre convention).

    Args:
        intrinsics: (*, 3, 3) K of the original frame, pixels.

    Returns:
        (*, 3, 3) K of the (H, W) network input: f scaled, c = scale * c + offset per axis.
    """
    scale, offset = transform.pixel_affine()
    affine = torch.tensor([[scale[0], 0.0, offset[0]], [0.0, scale[1], offset[1]], [0.0, 0.0, 1.0]],
                          dtype=intrinsics.dtype, device=intrinsics.device)
    return affine @ intrinsics


def normalize_rgb(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [-1, 1]: ToTensor then Normalize(0.5, 0.5) (`ImgNorm`)."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255).sub(0.5).div(0.5)


def prepare_views(images: np.ndarray, prior_depth: np.ndarray, *, size: int = 512, crop: bool = True,
                  square_ok: bool = False) -> dict[str, torch.Tensor]:
    """Network inputs of a video's frames and their priors, as the official `load_images` makes them.

    The prior is unprojected and min-max normalised at full resolution (`prior_points`), then
    resized and cropped like the RGB by `frame_transform(H0, W0, ...)` (docs/method.md §10.4). The
    focal length and a global scale of the prior do not change the result.

    Args:
        images: (N, H0, W0, 3) uint8 RGB frames.
        prior_depth: (N, H0, W0) prior maps at the frames' resolution (metric depth or
            Depth Anything disparity, used as-is), finite.
        size, crop, square_ok: see `frame_transform`.

    Returns:
        The official view keys: `img` (N, 3, H, W) float32 in [-1, 1]; `pred_depth`
        (N, H, W, 3) float32, the normalised prior point map (`prior_pts` in this package);
        `true_shape` (N, 2) int32, (H, W) per frame.

    Raises:
        InputError: prior maps not finite or not of the frames' size, or a frame too elongated to crop.
    """
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images: expected (N, H0, W0, 3) uint8, got {images.shape} {images.dtype}")
    transform = frame_transform(*images.shape[1:3], size=size, crop=crop, square_ok=square_ok)
    rgb, pts = grid_views(images, prior_depth, transform)
    return {"img": normalize_rgb(rgb),
            "pred_depth": torch.from_numpy(pts),
            "true_shape": torch.tensor([transform.output_size] * len(images), dtype=torch.int32)}


def grid_views(images: np.ndarray, prior_depth: np.ndarray, transform: FrameTransform, *,
               first_index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The network's RGB and normalised prior point maps of frames, before normalising the RGB.

    One frame at a time, so that the float64 unprojection at full resolution (`prior_points`,
    per map) never holds more than one frame.

    Args:
        images: (N, H0, W0, 3) uint8 RGB frames.
        prior_depth: (N, H0, W0) their prior maps, finite.
        transform: `frame_transform` of (H0, W0).
        first_index: the video's index of the first frame, for the messages.

    Returns:
        rgb: (N, H, W, 3) uint8 (`resize_rgb`); prior_pts: (N, H, W, 3) float32 (`resize_prior_pts`).

    Raises:
        InputError: prior maps of another size than the frames, or not finite.
    """
    if prior_depth.shape != images.shape[:3]:
        raise InputError(f"prior maps of shape {prior_depth.shape} do not match the frames' {images.shape[:3]}; "
                         "a prior must have its frame's resolution")
    rgb = np.stack([resize_rgb(image, transform) for image in images])
    pts = np.stack([resize_prior_pts(prior_points(depth[None], first_index=first_index + k)[0], transform)
                    for k, depth in enumerate(prior_depth)])
    return rgb, pts


def prepare_view(image: np.ndarray, prior_depth: np.ndarray, size: int = 512, crop: bool = True, *,
                 square_ok: bool = False) -> dict[str, torch.Tensor]:
    """One frame's network inputs: `prepare_views` of (H0, W0, 3) and (H0, W0), with N = 1."""
    return prepare_views(image[None], np.asarray(prior_depth)[None], size=size, crop=crop, square_ok=square_ok)
