"""`align3r eval --model M --prior P`: our pipeline on every sequence of a benchmark, saved in our output layout.

Each sequence's evaluated frames go through `reconstruct` with the benchmark's official settings
(docs/evaluation.md §1.3, §2.1-2.2) into `PRED/<sequence>/`, which `--pred PRED` then scores.
Each folder records the settings it was made with (`eval_settings` in its `reconstruction.json`
meta: model, prior, size, crop, mode, graph, preset, iterations, flow): a rerun skips a finished
sequence made with the same settings, reconstructs one made with other settings again, and resumes
an interrupted one from its pair cache; `overwrite` deletes each folder (cache included) and
recomputes it. Depth runs also write `prior/frame_%04d.npy`, the prior alone as depth at the
frames' resolution (a disparity prior inverted, `prior_depth`), the table's `prior alone` row.
Depth stays at the network's resolution and is resized to the ground truth bilinearly (the official
fallback of §1.3; the PromptDA upsampling is not applied).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from align3r.errors import InputError
from align3r.eval.datasets import EvalDataset, Task
from align3r.eval.predictions import PRIOR_ROW
from align3r.io.formats import read_rgb
from align3r.io.progress import track
from align3r.io.results import MANIFEST, save_reconstruction
from align3r.pipeline.job import CACHE
from align3r.pipeline.reconstruct import ReconstructConfig, reconstruct
from align3r.pipeline.resources import PER_SEQUENCE, Resources, ResourceSpec, load_resources
from align3r.prior import CachedPrior, PriorCache, load_prior
from align3r.prior.base import PriorMap

logger = logging.getLogger(__name__)

DISPARITY_FLOOR = 1e-6
"""An affine disparity prior is inverted to depth as 1 / max(d, this x the frame's largest |d|)."""


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


def eval_settings(options: PipelineOptions, config: ReconstructConfig) -> dict[str, object]:
    """The settings a sequence's prediction depends on, as recorded with it (`eval_settings` meta)."""
    return {"model": options.model, "prior": options.prior, "size": config.size, "crop": config.crop,
            "mode": config.mode, "graph": config.graph, "preset": config.preset, "niter": config.niter,
            "flow": config.flow}


def _recorded_settings(folder: Path) -> dict[str, object] | None:
    """The `eval_settings` of a finished prediction folder; None if it is unfinished or unreadable."""
    try:
        return json.loads((folder / MANIFEST).read_text())["meta"].get("eval_settings")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def prior_depth(prior: PriorMap) -> np.ndarray:
    """(N, H0, W0) float32 depth of a prior: metric depth as it is, affine disparity inverted.

    The disparity is floored at `DISPARITY_FLOOR` times each frame's largest |d| first, so that
    zero and negative disparity become far depth, which the protocol's clip bounds. Its unknown
    shift is not removed: the depth protocols fit a scale and shift of depth, not of disparity.
    """
    if prior.kind == "depth_metric":
        return prior.values.astype(np.float32)
    floor = DISPARITY_FLOOR * np.abs(prior.values).max(axis=(1, 2), keepdims=True)
    return (1.0 / np.maximum(prior.values, floor)).astype(np.float32)


def _write_prior(folder: Path, prior: PriorMap) -> None:
    """`folder/prior/frame_%04d.npy`: the prior alone as depth (an earlier run's files replaced)."""
    target = folder / PRIOR_ROW
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for i, depth in enumerate(prior_depth(prior)):
        np.save(target / f"frame_{i:04d}.npy", depth)


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
                      resources: Resources | None = None, overwrite: bool = False) -> None:
    """Reconstruct every sequence of `dataset` for `task` into `pred_root/<sequence>/` (our output layout).

    A sequence finished with the same `eval_settings` is skipped, one finished with others is
    reconstructed again; `overwrite` deletes every sequence's folder first. `resources` default to
    `pipeline_resources(task, dataset.name, options)`.

    Raises:
        Align3rError: the model or prior cannot be loaded, unreadable frames, a failed run.
    """
    config = _config(task, dataset.name, options)
    settings = eval_settings(options, config)
    resources = resources or pipeline_resources(task, dataset.name, options)
    sequences = dataset.sequences()
    for sequence in track(sequences, stage=f"reconstruct {dataset.name}", total=len(sequences), unit="seq"):
        folder = pred_root / sequence
        if overwrite:
            shutil.rmtree(folder, ignore_errors=True)
        recorded = _recorded_settings(folder)
        if recorded == settings:
            logger.info("%s: already reconstructed with these settings, skipped", folder)
            continue
        if recorded is not None:
            logger.info("%s: made with other settings (%s), reconstructed again", folder, recorded)
        paths = dataset.image_paths(sequence, task)
        names = [p.stem for p in paths]
        frames = _read_frames(paths)
        cache = folder / CACHE
        cache.mkdir(parents=True, exist_ok=True)
        prior = CachedPrior(resources.prior or load_prior(f"{PER_SEQUENCE}:{dataset.folder(sequence)}"),
                            PriorCache(cache / "priors"))
        rec = reconstruct(frames, resources.model, prior, config, names=names, cache_dir=cache, flow=resources.flow)
        rec.meta.update(benchmark=dataset.name, task=task, sequence=sequence, model_name=options.model,
                        prior_name=options.prior, eval_settings=settings)
        if task == "depth":  # before the manifest, so a finished folder has it whole
            _write_prior(folder, prior.estimate(frames, names))
        save_reconstruction(rec, folder, overwrite=True)
