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
    """Flows of edges by DIS, one pair of frames at a time."""

    name = "dis"

    def __call__(self, images: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flows i -> j and j -> i of every edge (i, j) of `images` (N, H, W, 3) uint8: each (E, 2, H, W)."""
        flow_ij = np.stack([dis_flow(images[i], images[j]) for i, j in edges.tolist()])
        flow_ji = np.stack([dis_flow(images[j], images[i]) for i, j in edges.tolist()])
        return flow_ij, flow_ji
