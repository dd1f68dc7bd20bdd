"""`PairPredictions`: the network's per-edge point maps and confidences (and the flows), in memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import torch

from align3r.geometry import check_shape


@dataclass(frozen=True)
class PairPredictions:
    """The network's predictions for an ordered edge list of one scene: the infer -> align contract.

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

    @classmethod
    def cat(cls, parts: Sequence[PairPredictions]) -> PairPredictions:
        """The edges of `parts` one after the other (flows kept only when every part has them)."""
        def joined(name: str) -> torch.Tensor | None:
            tensors = [getattr(part, name) for part in parts]
            return None if any(t is None for t in tensors) else torch.cat(tensors)
        return cls(**{field.name: joined(field.name) for field in fields(cls)})

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> PairPredictions:
        """Copy onto a device with float arrays in `dtype` (edges stay int64)."""
        def move(x: torch.Tensor | None) -> torch.Tensor | None:
            return None if x is None else x.to(device=device, dtype=dtype)
        return replace(self, edges=self.edges.to(device),
                       **{field.name: move(getattr(self, field.name)) for field in fields(self) if field.name != "edges"})
