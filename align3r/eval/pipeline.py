"""`align3r eval --model M --prior P`: our pipeline on every sequence of a benchmark, saved in our output layout.

Each sequence's evaluated frames go through `reconstruct` with the benchmark's official settings
(docs/evaluation.md §1.3, §2.1-2.2) into `PRED/<sequence>/`, which `--pred PRED` then scores. A
sequence whose folder already holds a finished reconstruction is skipped, and an interrupted
one resumes from its pair cache, so a rerun continues where it stopped. Depth stays at the
network's resolution and is resized to the ground truth bilinearly (the official fallback of
§1.3; the PromptDA upsampling is not applied).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from align3r.io.formats import read_rgb
from align3r.errors import InputError
from align3r.eval.datasets import EvalDataset, Task
from align3r.io.results import MANIFEST, save_reconstruction
from align3r.prior import CachedPrior, PriorCache, load_prior
from align3r.prior.base import DepthPrior
from align3r.pipeline.reconstruct import ReconstructConfig, reconstruct
from align3r.pipeline.job import CACHE
from align3r.pipeline.resources import PER_SEQUENCE, Resources, ResourceSpec, load_resources

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class PipelineOptions:
    """Which model and prior to run, and the few settings a user may change from the official ones."""

    model: str
    """model name, .pth, folder or hub id (`align3r.load_model`)."""
    prior: str
    """prior name (`align3r.load_prior`), or `simulated` for synthetic sequences."""
    device: str = "auto"
    """`auto`, `cpu`, `cuda` or `cuda:K`."""
    size: int | None = None
    """long side of the network input; None: the model's training size (official: 512)."""
    niter: int | None = None
    """alignment iterations; None: official 300."""
    flow: str | None = None
    """`sea-raft`, `raft`, `dis` or `none`; None: official (pose SEA-RAFT, depth none)."""


def official_config(task: Task, dataset: str, prior: str) -> ReconstructConfig:
    """The official settings of a benchmark run.

    Depth (`tool/depth_test.py`): resize (no crop), hierarchical plain-family alignment.
    Pose (`tool/pose_test.py`): centre crop, global flow-family alignment on a window graph,
    `swinstride-5-noncyclic` for Sintel with the Depth Pro model, else `swin-5-noncyclic`.
    """
    if task == "depth":
        return ReconstructConfig(crop=False, mode="hierarchical", preset="depth_test", flow="none")
    graph = "swinstride-5-noncyclic" if dataset == "sintel" and "pro" in prior else "swin-5-noncyclic"
    return ReconstructConfig(crop=True, mode="global", preset="pose_test", graph=graph, flow="sea-raft")


def _config(task: Task, dataset: str, options: PipelineOptions) -> ReconstructConfig:
    config = official_config(task, dataset, options.prior)
    changes = {"size": options.size, "niter": options.niter, "flow": options.flow}
    return replace(config, **{k: v for k, v in changes.items() if v is not None})


def _read_frames(paths: list[Path]) -> np.ndarray:
    """(N, H, W, 3) uint8 of the evaluated images; InputError if their sizes differ."""
    frames = [read_rgb(path) for path in paths]
    for path, frame in zip(paths, frames):
        if frame.shape != frames[0].shape:
            raise InputError(f"{path}: image of size {frame.shape[:2]} differs from the sequence's {frames[0].shape[:2]}")
    return np.stack(frames)


def pipeline_resources(task: Task, dataset: str, options: PipelineOptions) -> Resources:
    """The network, prior and flow estimator of a benchmark run, loaded once for all its sequences."""
    config = _config(task, dataset, options)
    return load_resources(ResourceSpec(model=options.model, prior=options.prior, flow=config.flow, device=options.device))


def predict_benchmark(dataset: EvalDataset, task: Task, options: PipelineOptions, pred_root: Path, *,
                      resources: Resources | None = None, quiet: bool = False) -> None:
    """Reconstruct every sequence of `dataset` for `task` into `pred_root/<sequence>/` (our output layout).

    `resources` default to `pipeline_resources(task, dataset.name, options)`.

    Raises:
        Align3rError: the model or prior cannot be loaded, unreadable frames, a failed run.
    """
    config = _config(task, dataset.name, options)
    resources = resources or pipeline_resources(task, dataset.name, options)
    sequences = dataset.sequences()
    for sequence in tqdm(sequences, desc=f"reconstruct {dataset.name}", unit="seq",
                         disable=quiet or not sys.stderr.isatty()):
        folder = pred_root / sequence
        if (folder / MANIFEST).is_file():
            logger.info("%s: already reconstructed, skipped", folder)
            continue
        paths = dataset.image_paths(sequence, task)
        prior: DepthPrior = resources.prior or load_prior(f"{PER_SEQUENCE}:{dataset.folder(sequence)}")
        cache = folder / CACHE
        cache.mkdir(parents=True, exist_ok=True)
        rec = reconstruct(_read_frames(paths), resources.model, CachedPrior(prior, PriorCache(cache / "priors")), config,
                          names=[p.stem for p in paths], cache_dir=cache, flow=resources.flow)
        rec.meta.update(benchmark=dataset.name, task=task, sequence=sequence, model_name=options.model,
                        prior_name=options.prior)
        save_reconstruction(rec, folder, overwrite=True)
