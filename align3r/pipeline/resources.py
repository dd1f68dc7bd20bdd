"""What a run loads once and reuses for every video: the network, the prior, the flow estimator and the
full-resolution refiner (`load_resources`), so `--videos`, `align3r eval` and the demo pay for each once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from align3r.errors import InputError
from align3r.infer.flow import FlowEstimator, FlowName, load_flow
from align3r.model.checkpoint import load_model
from align3r.model.network import Align3RNet
from align3r.pipeline.full_res import FullResOptions, PromptDepthRefiner, load_refiner
from align3r.prior import load_prior
from align3r.prior.base import DepthPrior

PER_SEQUENCE = "simulated"
"""Prior name whose prior is each synthetic sequence's own (`simulated:<sequence folder>`): not loaded here."""


@dataclass(frozen=True)
class ResourceSpec:
    """What to load, by name."""

    model: str
    """model name, .pth, folder or hub id (`align3r.load_model`)."""
    prior: str
    """prior name (`align3r.load_prior`), or `simulated` for each synthetic sequence's own."""
    flow: FlowName | Literal["none"] = "sea-raft"
    """flow estimator (`align3r.infer.flow`), or `none`."""
    flow_weights: str | None = None
    """SEA-RAFT weights (None: the hub copy of the official checkpoint, DIS when it cannot be had)."""
    device: str = "auto"
    """`auto` (CUDA when available), `cpu`, `cuda` or `cuda:K`."""
    full_res: FullResOptions | None = None
    """the full-resolution refiner's options, or None when no full-resolution output is made."""


@dataclass(frozen=True)
class Resources:
    """Everything loaded, on one device."""

    device: torch.device
    model: Align3RNet
    prior: DepthPrior | None
    """None for `simulated`: the caller loads each sequence's own."""
    flow: FlowEstimator | None
    """None: no flow term."""
    refiner: PromptDepthRefiner | None
    """None: no full-resolution output, or bilinear upsampling (the refiner could not be loaded)."""
    spec: ResourceSpec


def pick_device(name: str) -> torch.device:
    """The run's device; asking for CUDA where there is none is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: no CUDA device here (use --device cpu)")
    return device


def load_resources(spec: ResourceSpec) -> Resources:
    """Load everything `spec` names, once.

    Raises:
        Align3rError: an unknown or unloadable model, prior or flow estimator (one line each).
    """
    device = pick_device(spec.device)
    model = load_model(spec.model, device=device)
    prior = None if spec.prior == PER_SEQUENCE else load_prior(spec.prior, device=device)
    flow = None if spec.flow == "none" else load_flow(spec.flow, device=device, weights=spec.flow_weights)
    refiner = None if spec.full_res is None else load_refiner(spec.full_res, device=device)
    return Resources(device, model, prior, flow, refiner, spec)
