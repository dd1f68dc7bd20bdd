"""What the user knows of a video (`io.known_inputs.KnownInputs`, input frames' pixels) moved onto the
network grid as the aligner's `KnownCameras`."""

from __future__ import annotations

import logging

import numpy as np
import torch

from align3r.align.known_cameras import KnownCameras
from align3r.errors import InputError
from align3r.infer.preprocess import FrameTransform, resize_maps, transform_intrinsics
from align3r.io.known_inputs import KnownInputs, check_count

logger = logging.getLogger(__name__)

CENTRE_TOLERANCE = 0.01
"""A principal point further than this fraction of the long side from (W/2, H/2) warns."""
ASPECT_TOLERANCE = 1e-3
"""fx / fy further than this from 1 warns."""


def network_intrinsics(known: KnownInputs, transform: FrameTransform) -> np.ndarray | None:
    """(N, 3, 3) float64 known K on the network grid of `transform`, or None."""
    if known.intrinsics is None:
        return None
    return transform_intrinsics(torch.from_numpy(known.intrinsics), transform).numpy()


def known_cameras(known: KnownInputs, transform: FrameTransform, num_frames: int) -> KnownCameras:
    """The same knowledge on the network grid of `transform` (float64 focals and poses).

    Raises:
        InputError: counts or mask sizes that do not match the N frames of (H0, W0).
    """
    for array, what in ((known.intrinsics, "intrinsics"), (known.poses_c2w, "poses"),
                        (known.dynamic_masks, "dynamic masks")):
        if array is not None:
            check_count(array, num_frames, what, what)
    k = network_intrinsics(known, transform)
    focals = None if k is None else _focals(torch.from_numpy(k), transform.output_size)
    masks = None
    if known.dynamic_masks is not None:
        if known.dynamic_masks.shape[1:] != transform.input_size:
            raise InputError(f"dynamic masks of size {known.dynamic_masks.shape[1:]} do not match the frames' "
                             f"{transform.input_size}")
        masks = torch.from_numpy(resize_maps(known.dynamic_masks, transform))
    c2w = None if known.poses_c2w is None else torch.from_numpy(known.poses_c2w)
    return KnownCameras(c2w, known.poses_mode == "fixed", focals, masks)


def _focals(k: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N,) float64 focal lengths of K (N, 3, 3) on the (H, W) network grid, warning about what
    the aligner cannot use."""
    fx, fy = k[:, 0, 0], k[:, 1, 1]
    height, width = size
    offset = (k[:, :2, 2] - torch.tensor([width / 2, height / 2], dtype=k.dtype)).abs().max()
    if offset > CENTRE_TOLERANCE * max(height, width):
        logger.warning("the known principal point is up to %.1f px (at %dx%d) from the image centre; the aligner "
                       "uses the centre (W/2, H/2)", float(offset), width, height)
    if float((fx / fy - 1).abs().max()) > ASPECT_TOLERANCE:
        logger.warning("known fx and fy differ (up to %.2f%%); the aligner uses one focal, sqrt(fx fy)",
                       100 * float((fx / fy - 1).abs().max()))
    return torch.sqrt(fx * fy)
