"""SEA-RAFT flows of directed frame pairs, one batched forward per chunk."""

from __future__ import annotations

import numpy as np
import torch

from align3r.infer.flow.sea_raft import SeaRaft
from align3r.infer.flow.sea_raft_weights import load_sea_raft

DEFAULT_WEIGHTS = "sea-raft-m"
"""The official `Tartan-C-T432x960-M` weights, from the Hugging Face hub (`sea_raft_weights.HUB_MODELS`)."""


def sea_raft_flow(model: SeaRaft, images: np.ndarray, pairs: np.ndarray, *, iters: int = 20,
                  batch_size: int = 8, device: torch.device | str | None = None) -> np.ndarray:
    """Optical flow a -> b for every directed pair (a, b).

    Args:
        model: the network (`load_sea_raft`), in eval mode.
        images: (N, H, W, 3) uint8 RGB frames, any H and W.
        pairs: (P, 2) int frame indices (a, b).
        iters: refinement iterations (20 in the official flow term).
        batch_size: pairs per forward.
        device: where to run; default the model's device.

    Returns:
        (P, 2, H, W) float32 in pixels, channel 0 = x; `flow[p]` moves the pixels of frame a
        onto frame b.
    """
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images: expected (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
    if pairs.ndim != 2 or pairs.shape[1] != 2 or (len(pairs) and not 0 <= pairs.min() <= pairs.max() < len(images)):
        raise ValueError(f"pairs: expected (P, 2) indices of the {len(images)} images, got shape {pairs.shape}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    frames = torch.from_numpy(images).permute(0, 3, 1, 2)  # (N, 3, H, W) uint8
    flows = [np.zeros((0, 2, *images.shape[1:3]), np.float32)]
    with torch.inference_mode():
        for chunk in torch.from_numpy(pairs).long().split(batch_size):
            first, second = (frames[chunk[:, k]].to(device, torch.float32) for k in (0, 1))
            flows.append(model(first, second, iters=iters).cpu().numpy())  # (chunk, 2, H, W)
    return np.concatenate(flows)


class SeaRaftFlow:
    """SEA-RAFT as the official flow term runs it (20 iterations), loaded once.

    Args:
        model: the network, in eval mode, on the device to use.
        iters: refinement iterations.
    """

    name = "sea-raft"
    note = None

    def __init__(self, model: SeaRaft, *, iters: int = 20) -> None:
        self.model, self.iters = model, iters

    @classmethod
    def load(cls, weights: str | None = None, *, device: torch.device | str = "cpu") -> SeaRaftFlow:
        """The network of `weights` (default: the hub copy of the official checkpoint); see `load_sea_raft`."""
        return cls(load_sea_raft(weights or DEFAULT_WEIGHTS, device=device))

    def __call__(self, images: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """(P, 2, H, W) float32 flows a -> b of `pairs` (P, 2) between `images` (N, H, W, 3) uint8."""
        return sea_raft_flow(self.model, images, pairs, iters=self.iters)
