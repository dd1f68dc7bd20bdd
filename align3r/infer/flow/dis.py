"""OpenCV's DIS optical flow: CPU, offline, no weights."""

from __future__ import annotations

import cv2
import numpy as np


def dis_flow(image_a: np.ndarray, image_b: np.ndarray) -> np.ndarray:
    """OpenCV DIS optical flow (medium preset) a -> b.

    Args:
        image_a, image_b: (H, W, 3) uint8 RGB.

    Returns:
        (2, H, W) float32 flow in pixels, channel 0 = x.
    """
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in (image_a, image_b)]
    return dis.calc(gray[0], gray[1], None).transpose(2, 0, 1).astype(np.float32)


class DisFlow:
    """Flows of directed pairs by DIS, one pair at a time.

    Args:
        note: why DIS runs instead of the flow asked for, or None.
    """

    name = "dis"

    def __init__(self, note: str | None = None) -> None:
        self.note = note

    def __call__(self, images: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """(P, 2, H, W) float32 flows a -> b of `pairs` (P, 2) between `images` (N, H, W, 3) uint8."""
        return np.stack([dis_flow(images[a], images[b]) for a, b in pairs.tolist()])
