"""SEA-RAFT flows of a scene graph's edges, both directions in one batched forward per chunk."""

from __future__ import annotations

import numpy as np
import torch

from align3r.infer.flow.sea_raft import SeaRaft


def sea_raft_flow(model: SeaRaft, images: np.ndarray, edges: np.ndarray, *, iters: int = 20,
                  batch_size: int = 4, device: torch.device | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Optical flow i -> j and j -> i for every edge (i, j).

    Each chunk of `batch_size` edges runs as one forward of 2 * batch_size pairs: the i -> j
    pairs, then the j -> i pairs.

    Args:
        model: the network (`load_sea_raft`), in eval mode.
        images: (N, H, W, 3) uint8 RGB frames, any H and W.
        edges: (E, 2) int frame indices (i, j).
        iters: refinement iterations (20 in the official flow term).
        batch_size: edges per forward.
        device: where to run; default the model's device.

    Returns:
        flow_ij, flow_ji: (E, 2, H, W) float32 in pixels, channel 0 = x; `flow_ij[e]` moves
        the pixels of frame i onto frame j.
    """
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images: expected (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
    if edges.ndim != 2 or edges.shape[1] != 2 or (len(edges) and not 0 <= edges.min() <= edges.max() < len(images)):
        raise ValueError(f"edges: expected (E, 2) indices of the {len(images)} images, got shape {edges.shape}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    frames = torch.from_numpy(images).permute(0, 3, 1, 2)  # (N, 3, H, W) uint8
    pairs = torch.from_numpy(edges).long()
    flows = []
    with torch.inference_mode():
        for chunk in pairs.split(batch_size):
            first = frames[torch.cat([chunk[:, 0], chunk[:, 1]])].to(device, torch.float32)
            second = frames[torch.cat([chunk[:, 1], chunk[:, 0]])].to(device, torch.float32)
            flows.append(model(first, second, iters=iters).cpu())  # (2 * chunk, 2, H, W)
    height, width = images.shape[1:3]
    if not flows:
        empty = np.zeros((0, 2, height, width), np.float32)
        return empty, empty.copy()
    flow_ij = torch.cat([flow[: len(flow) // 2] for flow in flows])
    flow_ji = torch.cat([flow[len(flow) // 2:] for flow in flows])
    return flow_ij.numpy(), flow_ji.numpy()
