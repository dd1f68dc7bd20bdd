"""Pair predictions: the network's per-edge arrays, in memory or in a memory-mapped store on disk."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from align3r.geometry import check_shape


@dataclass(frozen=True)
class PairPredictions:
    """What the network returns for an ordered pair list (ALIGNMENT.md §1.2), one scene.

    Attributes:
        edges: (E, 2) int64 frame indices (i, j) local to the scene; view1 = i, view2 = j.
        pts3d_i_in_i: (E, H, W, 3) float32 frame i's points in camera i.
        pts3d_j_in_i: (E, H, W, 3) float32 frame j's points in camera i.
        conf_i: (E, H, W) float32 raw confidence (>= 1) of pts3d_i_in_i.
        conf_j: (E, H, W) float32 raw confidence of pts3d_j_in_i.
        flow_ij: (E, 2, H, W) optical flow frame i -> j in pixels (channel 0 = x), or None.
        flow_ji: (E, 2, H, W) optical flow frame j -> i, or None.
    """

    edges: torch.Tensor
    pts3d_i_in_i: torch.Tensor
    pts3d_j_in_i: torch.Tensor
    conf_i: torch.Tensor
    conf_j: torch.Tensor
    flow_ij: torch.Tensor | None = None
    flow_ji: torch.Tensor | None = None

    def __post_init__(self) -> None:
        num_edges, height, width = self.conf_i.shape
        check_shape("edges", self.edges, (num_edges, 2))
        for name in ("pts3d_i_in_i", "pts3d_j_in_i"):
            check_shape(name, getattr(self, name), (num_edges, height, width, 3))
        check_shape("conf_j", self.conf_j, (num_edges, height, width))
        for name in ("flow_ij", "flow_ji"):
            if getattr(self, name) is not None:
                check_shape(name, getattr(self, name), (num_edges, 2, height, width))

    @property
    def num_frames(self) -> int:
        """1 + the largest frame index."""
        return int(self.edges.max()) + 1

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> PairPredictions:
        """Copy onto a device with float arrays in `dtype` (edges stay int64)."""
        def move(x: torch.Tensor | None) -> torch.Tensor | None:
            return None if x is None else x.to(device=device, dtype=dtype)
        return PairPredictions(self.edges.to(device), move(self.pts3d_i_in_i),
                               move(self.pts3d_j_in_i), move(self.conf_i), move(self.conf_j),
                               move(self.flow_ij), move(self.flow_ji))
