"""What a run loads once and reuses for every video: the network, the prior, the flow estimator and the
full-resolution refiner (`load_resources`), so `--videos`, `align3r eval` and the demo pay for each once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from align3r.errors import InputError
from align3r.infer.flow import FlowEstimator, FlowName, load_flow
from align3r.model.checkpoint import TRAINED_PRIOR_KIND, load_model
from align3r.model.network import Align3RNet
from align3r.pipeline.full_res import FullResOptions, PromptDepthRefiner, load_refiner
from align3r.prior import load_prior, prior_kind
from align3r.prior.base import DepthPrior, PriorKind

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
    prior_kind: PriorKind | None = None
    """what `files:` and `simulated:` maps hold (None: metric depth)."""
    allow_prior_mismatch: bool = False
    """run a model with a prior of another kind than it was trained with (refused otherwise)."""


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


def check_prior_kind(spec: ResourceSpec) -> None:
    """Refuse a model trained with one prior kind run with another (unknown model or prior: no check).

    Raises:
        InputError: the kinds differ and `spec.allow_prior_mismatch` is False.
    """
    trained = TRAINED_PRIOR_KIND.get(spec.model)
    given = None if spec.prior == PER_SEQUENCE else prior_kind(spec.prior, spec.prior_kind)
    if trained is not None and given is not None and trained != given and not spec.allow_prior_mismatch:
        raise InputError(f"--model {spec.model} was trained with a {trained} prior but --prior {spec.prior} gives "
                         f"{given}; pick the matching model or prior (or --prior-kind for files:), or give "
                         "--allow-prior-mismatch")


def load_resources(spec: ResourceSpec) -> Resources:
    """Load everything `spec` names, once.

    Raises:
        Align3rError: an unknown or unloadable model, prior or flow estimator, or a model and prior of
            different kinds (`check_prior_kind`), one line each.
    """
    check_prior_kind(spec)
    device = pick_device(spec.device)
    model = load_model(spec.model, device=device)
    prior = None if spec.prior == PER_SEQUENCE else load_prior(spec.prior, device=device, kind=spec.prior_kind)
    flow = None if spec.flow == "none" else load_flow(spec.flow, device=device, weights=spec.flow_weights)
    refiner = None if spec.full_res is None else load_refiner(spec.full_res, device=device)
    return Resources(device, model, prior, flow, refiner, spec)
