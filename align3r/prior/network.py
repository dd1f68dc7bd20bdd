"""Prior networks through transformers: the optional import, offline-safe hub snapshots, device and batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from align3r.errors import ModelNotFoundError, require
from align3r.hub import fetch_snapshot, hub_cache
from align3r.io.progress import track

PRIOR_REPOS: dict[str, str] = {
    "depth-anything-v2-small": "depth-anything/Depth-Anything-V2-Small-hf",
    "depth-anything-v2-base": "depth-anything/Depth-Anything-V2-Base-hf",
    "depth-anything-v2-large": "depth-anything/Depth-Anything-V2-Large-hf",
    "depth-pro": "apple/DepthPro-hf",
}
"""Prior names -> transformers checkpoints on the hub (the official prior is DA-V2 Large)."""

SNAPSHOT_FILES = ("*.json", "*.safetensors")
"""The files of a transformers checkpoint on the hub."""


def import_transformers() -> ModuleType:
    """The `transformers` module, or `MissingDependency` naming the extra to install."""
    return require("transformers", "priors", feature="network priors (depth-anything, depth-pro; "
                                                     "else --prior files:DIR) and --full-res")


def snapshot(name: str) -> Path:
    """Local folder of the checkpoint of prior `name`, from the hub cache or downloaded.

    Raises:
        ModelNotFoundError: not cached and the hub is offline or refuses; fails at once.
    """
    repo_id = PRIOR_REPOS[name]
    folder, reason = fetch_snapshot(repo_id, SNAPSHOT_FILES)
    if folder is not None:
        return folder
    raise ModelNotFoundError(
        f"prior {name!r} ({repo_id}) is not in the Hugging Face cache {hub_cache()} and cannot be "
        f"downloaded ({reason}); compute the priors elsewhere and pass --prior files:DIR (one map per frame)")


def inference_device(device: torch.device | str | None) -> torch.device:
    """`device`, or CUDA when available and CPU otherwise."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class HubNetwork:
    """A transformers network on its inference device in float32, in eval mode.

    Args:
        model: the network.
        processor: its image processor, or None.
        name: what the network is called (a cache key, the output's meta).
        device: where the network runs (None: CUDA if available).
        batch_size: frames per forward pass.
    """

    def __init__(self, model: torch.nn.Module, processor: object, *, name: str,
                 device: torch.device | str | None = None, batch_size: int = 4) -> None:
        self.name = name
        self.device = inference_device(device)
        self.dtype = torch.float32  # on every device, as the official priors run
        self.model = model.to(self.device, self.dtype).eval()
        self.processor = processor
        self.batch_size = batch_size


def frame_batches(frames: np.ndarray, batch_size: int, *, desc: str) -> Iterator[np.ndarray]:
    """Consecutive batches of at most `batch_size` frames, with progress (`align3r.io.progress`)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    starts = range(0, len(frames), batch_size)
    for start in track(starts, stage=desc, total=len(starts), unit="batch"):
        yield frames[start:start + batch_size]
