"""One pass over a video at full resolution -> what the pipeline keeps of it, on the network's grid.

A long video never sits in memory at its own resolution (issue 17): frames and priors are read in
blocks of `BLOCK_BYTES`, each block's prior computed (`DepthPrior.estimate`), both turned into the
network's inputs (`align3r.infer.preprocess.grid_views`, exactly what `prepare_views` gives) and
dropped. What stays grows with the video only at the network's size (128x96: 0.2 MB per frame).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from align3r.errors import InputError
from align3r.infer.preprocess import FrameTransform, grid_views, resize_maps
from align3r.io.progress import Progress
from align3r.io.video import VideoFrames, frame_chunks
from align3r.prior.base import DepthPrior, PriorKind, PriorMap

BLOCK_BYTES = 256 * 2**20
"""Full-resolution frames and prior maps read at once (7 bytes per pixel: RGB and a float32 map)."""


@dataclass(frozen=True)
class GridInputs:
    """A video's network inputs on the (H, W) grid, and digests of what they were made from.

    Attributes:
        images: (N, H, W, 3) uint8 RGB (`resize_rgb`); normalised per batch by `normalize_rgb`.
        prior_pts: (N, H, W, 3) float32, the normalised prior point maps the network is conditioned on.
        prior: the raw prior (depth or disparity) on the grid, nearest pixel (`resize_maps`).
        frames_digest: sha256 of the frames at full resolution.
        prior_digest: sha256 of the prior maps at full resolution.
        prior_s: seconds spent in the prior itself.
    """

    images: np.ndarray
    prior_pts: np.ndarray
    prior: PriorMap
    frames_digest: str
    prior_digest: str
    prior_s: float


def block_frames(height: int, width: int) -> int:
    """Frames per block at (height, width): `BLOCK_BYTES` of RGB and float32 prior, at least 1."""
    return max(1, BLOCK_BYTES // (7 * height * width))


def read_grid_inputs(frames: np.ndarray | VideoFrames, names: Sequence[str], prior: DepthPrior,
                     transform: FrameTransform) -> GridInputs:
    """The network inputs of every frame, from one pass over blocks of the frames.

    Args:
        frames: (N, H0, W0, 3) uint8 RGB, an array or a `VideoFrames` read block by block.
        names: N frame names (file priors are matched by them).
        prior: the monocular depth prior.
        transform: the network input's `FrameTransform` of (H0, W0).

    Raises:
        InputError: the prior's kind changes between blocks, or a prior map is not finite.
    """
    images, pts, raw = [], [], []
    kind: PriorKind | None = None
    frames_digest, prior_digest = hashlib.sha256(), hashlib.sha256()
    prior_s, start = 0.0, 0
    with Progress("inputs", len(frames), unit="frame") as progress:
        for block in frame_chunks(frames, block_frames(*transform.input_size)):
            clock = time.perf_counter()
            prior_map = prior.estimate(block, names[start:start + len(block)])
            prior_s += time.perf_counter() - clock
            if kind not in (None, prior_map.kind):
                raise InputError(f"{prior.name}: prior kind changed from {kind} to {prior_map.kind} within the video")
            kind = prior_map.kind
            frames_digest.update(np.ascontiguousarray(block).tobytes())
            prior_digest.update(np.ascontiguousarray(prior_map.values).tobytes())
            rgb, prior_pts = grid_views(block, prior_map.values, transform, first_index=start)
            images.append(rgb)
            pts.append(prior_pts)
            raw.append(resize_maps(prior_map.values, transform))
            start += len(block)
            progress.update(len(block))
    return GridInputs(np.concatenate(images), np.concatenate(pts), PriorMap(kind, np.concatenate(raw)),
                      frames_digest.hexdigest(), prior_digest.hexdigest(), prior_s)
