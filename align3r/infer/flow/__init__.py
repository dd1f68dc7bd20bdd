"""Optical flow estimators for the flow term and the motion masks: SEA-RAFT (official), torchvision
RAFT, OpenCV DIS. Takes network-grid frames (N, H, W, 3) uint8 and edges (E, 2); gives the flows
i -> j and j -> i of every edge, (E, 2, H, W) float32 pixels, channel 0 = x."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
import torch

from align3r.errors import InputError
from align3r.infer.flow.dis import DisFlow
from align3r.infer.flow.raft import TorchvisionRaft

FlowName = Literal["raft", "dis"]
FLOW_NAMES: tuple[FlowName, ...] = ("raft", "dis")


class FlowEstimator(Protocol):
    """Flows of the edges of a graph, loaded once and called per batch of edges."""

    name: str

    def __call__(self, images: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(flow_ij, flow_ji), each (E, 2, H, W) float32, for `images` (N, H, W, 3) uint8 and `edges` (E, 2)."""


def load_flow(name: FlowName, *, device: torch.device | str = "cpu") -> FlowEstimator:
    """The flow estimator called `name`, loaded once.

    Raises:
        InputError: an unknown name.
        ModelNotFoundError: the estimator's weights cannot be had.
    """
    if name == "dis":
        return DisFlow()
    if name == "raft":
        return TorchvisionRaft(device)
    raise InputError(f"unknown flow {name!r}; choose one of {', '.join(FLOW_NAMES)}")


__all__ = ["FLOW_NAMES", "DisFlow", "FlowEstimator", "FlowName", "TorchvisionRaft", "load_flow"]
