"""Optical flow estimators for the flow term and the motion masks: SEA-RAFT (official), torchvision
RAFT, OpenCV DIS. Takes network-grid frames (N, H, W, 3) uint8 and directed frame pairs (P, 2);
gives the flow a -> b of each pair, (P, 2, H, W) float32 pixels, channel 0 = x."""

from __future__ import annotations

import logging
from typing import Literal, Protocol

import numpy as np
import torch

from align3r.errors import CheckpointError, InputError, ModelNotFoundError, first_line
from align3r.infer.flow.dis import DisFlow
from align3r.infer.flow.raft import TorchvisionRaft
from align3r.infer.flow.sea_raft_flow import SeaRaftFlow

logger = logging.getLogger(__name__)

FlowName = Literal["sea-raft", "raft", "dis"]
FLOW_NAMES: tuple[FlowName, ...] = ("sea-raft", "raft", "dis")
"""`sea-raft`: the official flow network; `raft`: torchvision's RAFT-large; `dis`: OpenCV, offline."""


class FlowEstimator(Protocol):
    """Flows of directed frame pairs, loaded once and called per batch of pairs."""

    name: str
    note: str | None
    """Why this estimator runs instead of the one asked for (a fallback), else None."""

    def __call__(self, images: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """(P, 2, H, W) float32 flows a -> b of `pairs` (P, 2) between `images` (N, H, W, 3) uint8."""


def load_flow(name: FlowName, *, device: torch.device | str = "cpu", weights: str | None = None) -> FlowEstimator:
    """The flow estimator called `name`, loaded once.

    SEA-RAFT's weights come from `weights` (an official .pth, safetensors, folder or hub id) or,
    by default, the hub copy of the official `Tartan-C-T432x960-M`. When the default weights
    cannot be had (offline and not cached), DIS runs instead: one warning says so, and the
    estimator's `note` keeps why (the reconstruction records it).

    Raises:
        InputError: an unknown name.
        ModelNotFoundError, CheckpointError: weights named explicitly that cannot be loaded, or
            torchvision's RAFT unavailable.
    """
    if name == "dis":
        return DisFlow()
    if name == "raft":
        return TorchvisionRaft(device)
    if name != "sea-raft":
        raise InputError(f"unknown flow {name!r}; choose one of {', '.join(FLOW_NAMES)}")
    try:
        return SeaRaftFlow.load(weights, device=device)
    except (ModelNotFoundError, CheckpointError) as err:
        if weights is not None:
            raise
        note = f"SEA-RAFT weights unavailable ({first_line(err)})"
        logger.warning("flow: %s; using OpenCV DIS flow instead (--flow-weights PATH gives the official .pth)",
                       note.split(" (")[0])
        return DisFlow(note=note)


__all__ = ["FLOW_NAMES", "DisFlow", "FlowEstimator", "FlowName", "SeaRaftFlow", "TorchvisionRaft", "load_flow"]
