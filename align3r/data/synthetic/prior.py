"""Monocular depth priors simulated from ground truth, in the two styles of the real priors.

"depth-anything": relative inverse depth, `disparity_affine = s_i / depth + t_i` with a random
per-frame scale and shift, no focal length. "depth-pro": metric depth with a per-frame scale
error and a focal-length estimate.

Two families of corruption. The frame corruptions are drawn independently per frame: the
affine or scale error, a smooth low-frequency multiplicative warp, blurred depth edges and
per-pixel noise. The video corruptions give the error structure of a per-frame prior run on a
video: a per-frame scale (and, for disparity, shift) that drifts slowly and flickers from frame
to frame, a warp shared by all frames, depth bleeding across object edges (which also wipes out
structures thinner than its reach) and a compressed far field. For depth-pro the drifting scale
is the error of the focal estimate: Depth Pro's metric depth is f_px / (w * its canonical
inverse depth) with the focal length f_px it estimates itself (Bochkovskii et al., "Depth Pro",
arXiv:2410.02073), so a focal error scales the depth by the same factor.

Every corruption has its own strength; with all strengths 0 the prior is the ground truth
exactly (depth-pro) or exactly 1 / depth (depth-anything). The random draws do not depend on
the strengths, so changing one strength leaves the other corruptions as they were.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np
from scipy.signal import lfilter

from align3r.errors import InputError

PriorStyle = Literal["depth-anything", "depth-pro"]
PRIOR_STYLES: tuple[PriorStyle, ...] = ("depth-anything", "depth-pro")
FAR_DEPTH = 1e4  # metres where no surface: Depth Pro's own cap (inverse depth >= 1e-4)
WARP_WAVES = 3
VIDEO_STREAM = 1
"""Third seed word of the generator of the video corruptions: `[seed, crc32(style), 1]`."""


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
    """amplitude (log) of a smooth multiplicative warp over the image, drawn anew for each frame."""
    blur_px: float = 1.0
    """Gaussian sigma in pixels blurring depth edges (applied to disparity)."""
    noise: float = 0.01
    """relative per-pixel Gaussian noise."""
    focal_error: float = 0.03
    """depth-pro: the focal estimate is uniform in f (1 +- this)."""
    drift: float = 0.0
    """log-std of a per-frame scale that wanders slowly over the video (a mean-reverting random
    walk, see `drift_frames`); depth-pro: the log error of the focal estimate, which scales the
    depth by the same factor."""
    flicker: float = 0.0
    """log-std of a frame-to-frame independent jitter added to that per-frame log scale."""
    drift_frames: float = 12.0
    """correlation length of the drifts in frames: consecutive frames correlate by exp(-1 / this)."""
    shift_drift: float = 0.0
    """depth-anything: std of a slowly wandering per-frame disparity shift, in units of the video's
    median disparity (a walk like that of `drift`, drawn separately)."""
    shift_flicker: float = 0.0
    """depth-anything: std of a frame-to-frame independent disparity shift, same unit."""
    warp_static: float = 0.0
    """amplitude (log) of one smooth multiplicative warp over the image shared by all frames."""
    edge_bleed: float = 0.0
    """weight (0-1) of a blurred disparity mixed in at a depth edge, falling linearly to 0 at
    `edge_radius` from it; pixels farther away are untouched."""
    edge_radius: float = 0.02
    """reach of the bleeding from a depth edge, as a fraction of the image width."""
    edge_jump: float = 0.1
    """relative depth step between neighbouring pixels that makes an edge (a surface next to no
    surface always does)."""
    far_knee: float = 3.0
    """beyond this multiple of the video's median depth the far field is compressed."""
    far_gamma: float = 1.0
    """slope of log depth beyond the knee: 1 leaves the far field exact, below 1 compresses it."""

    def __post_init__(self) -> None:
        checks = [(0.0 <= self.edge_bleed <= 1.0, f"edge_bleed must be in [0, 1] (got {self.edge_bleed})"),
                  (self.edge_radius > 0 and self.edge_jump > 0 and self.drift_frames > 0,
                   "edge_radius, edge_jump and drift_frames must be > 0"),
                  (self.far_knee > 0 and self.far_gamma > 0, "far_knee and far_gamma must be > 0")]
        for ok, message in checks:
            if not ok:
                raise InputError(f"PriorConfig: {message}")


def exact_prior(style: PriorStyle) -> PriorConfig:
    """A prior without any corruption: ground truth depth, or exactly 1 / depth."""
    return PriorConfig(style=style, scale_error=0.0, shift=0.0, warp=0.0, blur_px=0.0, noise=0.0,
                       focal_error=0.0)


def calibrated_prior(style: PriorStyle) -> PriorConfig:
    """A prior with the error structure and sizes of the real one on video.

    Tuned so that the prior alone, on held-out synthetic videos, scores near the published
    prior-alone numbers (benchmarks/prior_calibration.md): Depth Anything V2 Large against the
    DepthCrafter / Video Depth Anything video-depth tables (per-sequence scale and shift in
    disparity) and their temporal alignment error; Depth Pro against Uni4D's Bonn row and Video
    Depth Anything's temporal alignment error of metric models. The frame corruptions are off:
    the video ones replace them.
    """
    if style == "depth-anything":
        return replace(exact_prior(style), drift=0.025, flicker=0.003, drift_frames=24.0, shift_drift=0.012,
                       shift_flicker=0.002, warp_static=0.225, edge_bleed=0.5, edge_radius=0.02, far_gamma=0.75)
    return replace(exact_prior(style), drift=0.05, flicker=0.02, drift_frames=12.0, warp_static=0.06,
                   edge_bleed=0.8, edge_radius=0.015, far_gamma=0.8)


PRIOR_PRESETS: dict[str, tuple[PriorConfig, ...]] = {
    "realistic": (PriorConfig(style="depth-anything"), PriorConfig(style="depth-pro")),
    "exact": (exact_prior("depth-anything"), exact_prior("depth-pro")),
    "calibrated": (calibrated_prior("depth-anything"), calibrated_prior("depth-pro")),
}
"""Simulated priors by name, one config per style. "realistic": mild frame corruptions, mostly
undone by one scale and shift per video (the first tiny model's data); "exact": no corruption;
"calibrated": the error structure and sizes of the real priors on video (the tiny recipe's data)."""


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


def mean_reverting_walk(steps: np.ndarray, correlation_frames: float) -> np.ndarray:
    """A stationary AR(1) walk of unit variance over the last axis.

    x_0 = e_0 and x_i = r x_(i-1) + sqrt(1 - r^2) e_i with r = exp(-1 / correlation_frames):
    over a few correlation lengths it wanders like a random walk, but its spread does not grow
    with the video's length, so one strength means the same for 24 and 500 frames.

    Args:
        steps: (..., N) standard normal draws e.
        correlation_frames: frames over which the correlation falls to 1/e.

    Returns:
        (..., N) float64 walk x.
    """
    ratio = np.exp(-1.0 / correlation_frames)
    innovations = np.array(steps, dtype=np.float64) * np.sqrt(1.0 - ratio ** 2)
    innovations[..., 0] = steps[..., 0]
    return lfilter([1.0], [1.0, -ratio], innovations, axis=-1)


def video_factors(rng: np.random.Generator, config: PriorConfig, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame scale and shift of the video corruptions: a slow walk plus a frame-to-frame jitter.

    Args:
        rng: the video corruptions' generator; draws 4 N normals whatever the strengths.
        config: drift, flicker, drift_frames, shift_drift and shift_flicker are used.
        frames: N.

    Returns:
        log_scale: (N,) float64 log of the per-frame scale.
        shift: (N,) float64 per-frame disparity shift, in units of the video's median disparity.
    """
    slow = mean_reverting_walk(rng.normal(size=(2, frames)), config.drift_frames)
    jitter = rng.normal(size=(2, frames))
    return (config.drift * slow[0] + config.flicker * jitter[0],
            config.shift_drift * slow[1] + config.shift_flicker * jitter[1])


def depth_edges(depth: np.ndarray, valid: np.ndarray, jump: float) -> np.ndarray:
    """Pixels on either side of a depth discontinuity.

    Args:
        depth: (N, H, W) positive depth where valid.
        valid: (N, H, W) bool, a surface was hit.
        jump: relative step |log(d_a / d_b)| > log(1 + jump) between 4-neighbours that makes an
            edge; a valid pixel next to an invalid one always does.

    Returns:
        (N, H, W) bool edge pixels.
    """
    log_depth = np.log(np.where(valid, depth, 1.0))
    edges = np.zeros(depth.shape, dtype=bool)
    for axis in (-1, -2):
        step = (np.abs(np.diff(log_depth, axis=axis)) > np.log1p(jump)) | (np.diff(valid, axis=axis) != 0)
        first = [slice(None)] * 3
        first[axis] = slice(None, -1)
        second = [slice(None)] * 3
        second[axis] = slice(1, None)
        edges[tuple(first)] |= step
        edges[tuple(second)] |= step
    return edges


def bleed_edges(disparity: np.ndarray, edges: np.ndarray, radius_px: float, bleed: float) -> np.ndarray:
    """Mix a blurred disparity in near depth edges, so depth bleeds across object boundaries.

    weight = bleed * max(0, 1 - distance to the nearest edge pixel / radius_px), and the blurred
    map is a Gaussian of sigma radius_px / 2: pixels at radius_px or more from every edge keep
    their value exactly. A structure thinner than about radius_px is mixed with its background
    over its whole width, as real priors lose thin structures.

    Args:
        disparity: (N, H, W) float64 inverse depth, 0 where no surface.
        edges: (N, H, W) bool edge pixels, e.g. from `depth_edges`.
        radius_px: reach of the bleeding, pixels (> 0).
        bleed: weight of the blurred map on an edge pixel, in [0, 1].

    Returns:
        (N, H, W) float64 bled disparity.
    """
    bled = np.empty_like(disparity)
    for index, (frame, edge) in enumerate(zip(disparity, edges)):
        distance = cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        weight = bleed * np.clip(1.0 - distance / radius_px, 0.0, 1.0)
        blurred = cv2.GaussianBlur(frame, ksize=(0, 0), sigmaX=radius_px / 2)
        bled[index] = frame + weight * (blurred - frame)
    return bled


def compress_far(depth: np.ndarray, valid: np.ndarray, knee: float, gamma: float) -> np.ndarray:
    """Depth with the far field compressed, as monocular priors flatten distant structure.

    Beyond k = knee * the median valid depth of the video, d -> k (d / k) ** gamma: continuous
    and increasing, with log depth growing `gamma` times as fast as the truth.

    Args:
        depth: (N, H, W) depth, any value where invalid.
        valid: (N, H, W) bool, a surface was hit (some must be).
        knee: multiple of the median depth where compression starts.
        gamma: log-depth slope beyond the knee (1: none).

    Returns:
        (N, H, W) float64, equal to `depth` up to the knee and where invalid.
    """
    start = knee * float(np.median(depth[valid]))
    far = valid & (depth > start)
    compressed = np.array(depth, dtype=np.float64)
    compressed[far] = start * (depth[far] / start) ** gamma
    return compressed


def _perceived_geometry(depth: np.ndarray, valid: np.ndarray, config: PriorConfig) -> tuple[np.ndarray, np.ndarray]:
    """The geometry the prior sees before its scale errors: far field compressed, edges bled.

    Args:
        depth: (N, H, W) float64 ground-truth depth.
        valid: (N, H, W) bool.
        config: far_knee, far_gamma and the edge fields are used.

    Returns:
        depth_map: (N, H, W) float64, FAR_DEPTH where nothing is seen.
        disparity: (N, H, W) float64, 0 where nothing is seen.
    """
    disparity = np.zeros_like(depth)
    if config.far_gamma == 1.0 and config.edge_bleed == 0.0:
        disparity[valid] = 1.0 / depth[valid]
        return np.where(valid, depth, FAR_DEPTH), disparity
    if valid.any():
        disparity[valid] = 1.0 / compress_far(depth, valid, config.far_knee, config.far_gamma)[valid]
    if config.edge_bleed > 0:
        radius_px = config.edge_radius * depth.shape[-1]
        disparity = bleed_edges(disparity, depth_edges(depth, valid, config.edge_jump), radius_px, config.edge_bleed)
    return np.where(disparity > 0, 1.0 / np.maximum(disparity, 1.0 / FAR_DEPTH), FAR_DEPTH), disparity


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


def _frame_maps(rng: np.random.Generator, depth_map: np.ndarray, disparity: np.ndarray, valid: np.ndarray,
                focal_px: np.ndarray, config: PriorConfig) -> tuple[np.ndarray, np.ndarray]:
    """The frame corruptions, frame by frame.

    Returns:
        maps: (N, H, W) float64 disparity (depth-anything) or depth capped at FAR_DEPTH (depth-pro).
        focal_px: (N,) float64 focal estimates (depth-pro; the true ones for depth-anything).
    """
    maps, focals = [], []
    for depth_i, disparity_i, valid_i, focal_i in zip(depth_map, disparity, valid, focal_px):
        log_scale, shift, scale, focal = rng.normal(), rng.uniform(), rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
        if config.style == "depth-anything":
            values = _corrupt(rng, disparity_i, disparity_i, config)
            median = float(np.median(disparity_i[valid_i])) if valid_i.any() else 0.0
            values = np.exp(config.scale_error * log_scale) * values + config.shift * shift * median
        else:
            values = _corrupt(rng, depth_i, disparity_i, config)
            values = np.minimum(values * (1.0 + config.scale_error * scale), FAR_DEPTH)
            focal_i = focal_i * (1.0 + config.focal_error * focal)
        maps.append(values)
        focals.append(focal_i)
    return np.stack(maps), np.asarray(focals, dtype=np.float64)


def simulate_prior(depth: np.ndarray, valid: np.ndarray, focal_px: np.ndarray, config: PriorConfig, *,
                   seed: int) -> PriorMaps:
    """Simulate a monocular prior from exact depth.

    Args:
        depth: (N, H, W) ground-truth z-depth, metres (any value where invalid).
        valid: (N, H, W) bool, a surface was hit.
        focal_px: (N,) true focal lengths in pixels.
        config: style and corruption strengths.
        seed: with the style, fixes every random draw: the frame corruptions draw from
            `default_rng([seed, crc32(style)])`, the video ones from
            `default_rng([seed, crc32(style), VIDEO_STREAM])` (`video_factors`, then the static warp).

    Returns:
        PriorMaps of the style.
    """
    style_key = zlib.crc32(config.style.encode())
    video_rng = np.random.default_rng([seed, style_key, VIDEO_STREAM])
    log_scale, shift = video_factors(video_rng, config, len(depth))
    scale = np.exp(log_scale[:, None, None] + config.warp_static * _warp_field(video_rng, *depth.shape[1:]))
    depth_map, disparity = _perceived_geometry(depth.astype(np.float64), valid, config)
    maps, focals = _frame_maps(np.random.default_rng([seed, style_key]), depth_map, disparity, valid,
                               np.asarray(focal_px, dtype=np.float64), config)
    if config.style == "depth-anything":
        median = float(np.median(disparity[valid])) if valid.any() else 0.0
        disparity_affine = scale * maps + shift[:, None, None] * median
        return PriorMaps(style=config.style, disparity_affine=disparity_affine.astype(np.float32),
                         depth_metric=None, focal_px=None)
    depth_metric = np.minimum(scale * maps, FAR_DEPTH)
    return PriorMaps(style=config.style, disparity_affine=None, depth_metric=depth_metric.astype(np.float32),
                     focal_px=focals * np.exp(log_scale))
