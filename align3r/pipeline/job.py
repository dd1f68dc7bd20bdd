"""One video job: input frames -> `reconstruct` -> output folder, with the output-folder rules,
the per-job cache under `OUT/.cache` (priors and pair predictions: kept while the run may need to
resume, removed after it succeeds unless asked) and resume."""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from align3r.align.config import PRESETS as ALIGN_PRESETS
from align3r.errors import Align3rError, InputError
from align3r.infer.preprocess import FrameTransform, frame_transform
from align3r.io.export.api import EXPORTS_FOLDER
from align3r.io.known_inputs import KnownFiles
from align3r.io.results import MANIFEST, save_reconstruction
from align3r.io.video import FrameSelection, VideoFrames
from align3r.pipeline.aligned_output import aligned_prior_outputs
from align3r.pipeline.full_res import full_resolution
from align3r.pipeline.reconstruct import ReconstructConfig, network_size, reconstruct
from align3r.pipeline.resources import Resources
from align3r.prior import CachedPrior, PriorCache, PriorMap
from align3r.reconstruction import Reconstruction

logger = logging.getLogger(__name__)

CACHE = ".cache"
FULL_RES = "full_res"
"""Subfolder of the full-resolution outputs: the same file layout, on the input frames' own grid."""
ALIGNED_PRIOR = "aligned_prior"
"""Subfolder of the aligned prior (`--aligned-prior`): the same file layout, with its own `full_res/`."""


@dataclass(frozen=True)
class JobOptions:
    """How the job treats its output folder, and what it writes besides the reconstruction."""

    resume: bool = False
    """Continue in a folder that holds a previous run's cache (and results)."""
    overwrite: bool = False
    """Replace the results of a finished run in the folder."""
    keep_cache: bool = False
    """Keep `OUT/.cache` (priors, pair predictions) after a successful run; by default it is removed."""
    aligned_prior: bool = False
    """Also write the prior aligned per frame onto the reconstruction's depth to `OUT/aligned_prior/`."""


def check_output_folder(out: Path, options: JobOptions) -> None:
    """Refuse a folder that would be clobbered or cannot be written, before any work starts."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    holds = [p.name for p in out.iterdir()] if out.is_dir() else []
    if (out / MANIFEST).exists() and not options.overwrite:
        raise InputError(f"{out}: holds a finished reconstruction; pass --overwrite to replace it")
    if holds and not (options.resume or options.overwrite):
        raise InputError(f"{out}: not empty; pass --resume to continue a run there or --overwrite to replace it")
    parent = out if out.is_dir() else out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{out}: cannot be created, {parent} is a file")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{out}: not writable")


def run_video(source: str | os.PathLike, out: str | os.PathLike, resources: Resources, *,
              config: ReconstructConfig = ReconstructConfig(), selection: FrameSelection = FrameSelection(),
              options: JobOptions = JobOptions(), known: KnownFiles = KnownFiles()) -> Reconstruction:
    """Reconstruct a video file, image folder or glob into the output folder `out`.

    Everything that can be checked is checked before the folder is created: the input frames
    and the known intrinsics, poses and masks (`known`); `resources` are loaded by the caller,
    once for all its videos. Priors and pair predictions are cached under `out/.cache`, so a
    rerun with `resume` after an interruption recomputes nothing cached. When the resources
    name full-resolution options, `out/full_res/` holds the same files at the frames' own
    resolution (`align3r.pipeline.full_res`), written before the main `reconstruction.json`; so
    is `out/aligned_prior/` with `options.aligned_prior` (`_save_aligned_prior`). An earlier
    result's `out/exports/` and `out/aligned_prior/` (and `out/full_res/` without the options) are
    removed with it.

    Raises:
        Align3rError: bad input, model, prior or folder (one line each).
    """
    out = Path(out)
    check_output_folder(out, options)
    if resources.prior is None:
        raise InputError(f"--prior {resources.spec.prior} needs a synthetic sequence's folder: use simulated:DIR")
    frames = VideoFrames(source, selection)  # read in blocks: a long video never whole at its own size
    names = frames.names
    known_inputs = known.load(names, frames.shape[1:3])
    config = replace(config, size=network_size(config, resources.model, frames.shape[1:3]))
    transform = frame_transform(*frames.shape[1:3], size=config.size, crop=config.crop)
    full_res = resources.spec.full_res is not None
    start = time.perf_counter()
    cache = out / CACHE
    created = not out.exists()
    cache.mkdir(parents=True, exist_ok=True)
    prior = CachedPrior(resources.prior, PriorCache(cache / "priors"))
    try:
        rec = reconstruct(frames, resources.model, prior, config,
                          names=names, cache_dir=cache, known=known_inputs, flow=resources.flow)
    except (Align3rError, torch.cuda.OutOfMemoryError) as err:
        if created:  # a user mistake found late (e.g. a bad prior file) leaves nothing behind
            shutil.rmtree(out, ignore_errors=True)
        if isinstance(err, torch.cuda.OutOfMemoryError):
            raise InputError("out of GPU memory; try --mode hierarchical, a smaller --batch-size or --size") from None
        raise
    rec.meta.update(source=str(source), model_name=resources.spec.model, prior_name=resources.spec.prior,
                    total_s=time.perf_counter() - start,
                    versions={"align3r": version("align3r"), "torch": torch.__version__})
    # outputs at the frames' own resolution hold the whole video at that resolution
    images = frames.array() if full_res or options.aligned_prior else None
    if full_res:  # before the main manifest, so a finished folder has it whole
        save_reconstruction(full_resolution(rec, images, transform, refiner=resources.refiner), out / FULL_RES,
                            overwrite=True)
    for stale in [EXPORTS_FOLDER, ALIGNED_PRIOR] + ([] if full_res else [FULL_RES]):
        shutil.rmtree(out / stale, ignore_errors=True)  # an earlier run's, which the new result would contradict
    if options.aligned_prior:  # the prior comes from the cache (or its files) the second time
        _save_aligned_prior(rec, prior.estimate(images, names), images, transform,
                            ALIGN_PRESETS[config.preset][0].min_conf_thr, out / ALIGNED_PRIOR)
    rec.meta["cache"] = {"bytes": folder_bytes(cache), "kept": options.keep_cache}
    save_reconstruction(rec, out, overwrite=True)
    if not options.keep_cache:  # what resume needs is needed no more
        shutil.rmtree(cache, ignore_errors=True)
    return rec


def _save_aligned_prior(rec: Reconstruction, prior_map: PriorMap, images: np.ndarray, transform: FrameTransform,
                        conf_threshold: float, folder: Path) -> None:
    """Write the aligned prior into `folder` (and `folder/full_res/` when the network grid is not the
    frames'), fitted on pixels above `conf_threshold` (the alignment preset's `min_conf_thr`); the fit
    goes into `rec.meta["aligned_prior"]` too."""
    on_grid, full = aligned_prior_outputs(rec, prior_map, images, transform, conf_threshold=conf_threshold)
    if full is not None:
        save_reconstruction(full, folder / FULL_RES)
    save_reconstruction(on_grid, folder)
    rec.meta["aligned_prior"] = on_grid.meta["aligned_prior"]


def folder_bytes(folder: Path) -> int:
    """The bytes of the files under `folder`."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
