"""Monocular depth priors behind one interface, and their conversion to the prior branch's input."""

from __future__ import annotations

from pathlib import Path

import torch

from align3r.errors import InputError
from align3r.prior.base import DepthPrior, PriorKind, PriorMap
from align3r.prior.cache import CachedPrior, PriorCache
from align3r.prior.condition import prior_points
from align3r.prior.files import FilesPrior
from align3r.prior.network import PRIOR_REPOS
from align3r.prior.simulated import sequence_prior

PRIOR_NAMES = (*PRIOR_REPOS, "files:DIR", "simulated:SEQUENCE_DIR")


def _network_prior(name: str, device: torch.device | str | None, batch_size: int | None) -> DepthPrior:
    options = {"device": device} if batch_size is None else {"device": device, "batch_size": batch_size}
    if name == "depth-pro":
        from align3r.prior.depth_pro import DepthProPrior
        return DepthProPrior.from_pretrained(name, **options)
    from align3r.prior.depth_anything import DepthAnythingPrior
    return DepthAnythingPrior.from_pretrained(name, **options)


def prior_kind(name: str, kind: PriorKind | None = None) -> PriorKind | None:
    """What the prior `name` gives (`kind` for `files:` and `simulated:`), without loading it; None: unknown name."""
    if name.partition(":")[0] in ("files", "simulated"):
        return kind or "depth_metric"
    if name not in PRIOR_REPOS:
        return None
    return "depth_metric" if name == "depth-pro" else "disparity_affine"


def load_prior(name: str, *, device: torch.device | str | None = None, batch_size: int | None = None,
               kind: PriorKind | None = None, cache_dir: str | Path | None = None) -> DepthPrior:
    """The prior called `name`.

    Args:
        name: `depth-anything-v2-{small,base,large}` or `depth-pro` (transformers, hub weights),
            `files:DIR` (one map per frame, see `prior.files`), or `simulated:DIR` (a synthetic
            sequence folder's simulated prior).
        device: where a network prior runs (None: CUDA if available).
        batch_size: frames per forward pass of a network prior (None: its default).
        kind: for `files:` and `simulated:`, what the maps hold (default `depth_metric`;
            `disparity_affine` for Depth Anything maps and the generator's depth-anything style).
        cache_dir: keep per-frame outputs of network priors there, so reruns reuse them.

    Raises:
        InputError: unknown name, or `kind` given for a network prior.
        ModelNotFoundError: a network prior not cached while offline.
        Align3rError: transformers is not installed.
    """
    source, _, argument = name.partition(":")
    if source in ("files", "simulated") and argument:
        make = FilesPrior if source == "files" else sequence_prior
        return make(argument, kind=kind or "depth_metric")
    if name not in PRIOR_REPOS:
        raise InputError(f"unknown prior {name!r}; choose one of {', '.join(PRIOR_NAMES)}")
    if kind is not None:
        raise InputError(f"kind={kind!r} applies to files: and simulated: priors only; {name} says its own")
    prior = _network_prior(name, device, batch_size)
    return prior if cache_dir is None else CachedPrior(prior, PriorCache(cache_dir))


__all__ = ["PRIOR_NAMES", "CachedPrior", "DepthPrior", "FilesPrior", "PriorCache", "PriorKind", "PriorMap",
           "load_prior", "prior_kind", "prior_points", "sequence_prior"]
