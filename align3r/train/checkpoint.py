"""Training checkpoints: resume exactly, load with weights_only, and read by the official loader.

Contents: the official top-level keys (`model`, `optimizer`, `epoch` = last completed epoch,
`best_so_far`, `args` whose `.model` is the official constructor string, so the official
`load_model` builds and loads it) plus ours as plain data: `config` (the run's settings),
`progress` (position inside the run, for mid-epoch resume) and `rng` (torch generator state).
`args` is an `argparse.Namespace` holding one string; it is the only non-container object, and
our loader allow-lists exactly that class.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from align3r.atomic import atomic_write
from align3r.errors import CheckpointError
from align3r.model.checkpoint import config_to_constructor, torch_load_safely


@dataclass(frozen=True)
class Progress:
    """Where a run stands: the next micro-batch to train is `micro` of `epoch`."""

    epoch: int = 0
    micro: int = 0
    step: int = 0
    """Optimiser steps taken so far."""
    best_so_far: float = float("inf")
    """Lowest test loss median seen."""


def save_training_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer,
                             progress: Progress, config: dict[str, Any]) -> None:
    """Write a checkpoint atomically (temp file, then rename)."""
    path = Path(path)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "epoch": progress.epoch - 1 if progress.micro == 0 else progress.epoch,
             "best_so_far": progress.best_so_far,
             "args": argparse.Namespace(model=config_to_constructor(model.config)),
             "config": config, "progress": asdict(progress), "rng": {"torch": torch.get_rng_state()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_training_checkpoint(path: str | os.PathLike, model: nn.Module,
                             optimizer: torch.optim.Optimizer) -> tuple[Progress, dict[str, Any]]:
    """Restore model, optimiser and torch RNG from our checkpoint; return the progress and config.

    Raises:
        CheckpointError: unreadable or unsafe file, or not a checkpoint of this training code.
    """
    state = torch_load_safely(path)
    if not isinstance(state, dict) or not {"model", "optimizer", "progress", "config"} <= set(state):
        raise CheckpointError(f"{path}: not a training checkpoint of align3r (no progress/optimizer state)")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"]["torch"])
    return Progress(**state["progress"]), state["config"]
