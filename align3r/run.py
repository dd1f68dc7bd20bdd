"""One video job: input frames -> `reconstruct` -> output folder, with the output-folder rules,
the per-job cache under `OUT/.cache` (priors and pair predictions) and resume."""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from align3r.errors import Align3rError, InputError
from align3r.infer.full_res import FullResOptions, full_resolution, load_refiner
from align3r.infer.preprocess import frame_transform
from align3r.io.export.api import EXPORTS_FOLDER
from align3r.io.results import MANIFEST
from align3r.io.video import FrameSelection, read_frames
from align3r.known import KnownFiles
from align3r.model.checkpoint import load_model
from align3r.prior import CachedPrior, PriorCache, load_prior
from align3r.reconstruct import ReconstructConfig, reconstruct
from align3r.reconstruction import Reconstruction

logger = logging.getLogger(__name__)

CACHE = ".cache"
FULL_RES = "full_res"
"""Subfolder of the full-resolution outputs: the same file layout, on the input frames' own grid."""


@dataclass(frozen=True)
class JobOptions:
    """How the job treats its output folder and where it runs."""

    resume: bool = False
    """Continue in a folder that holds a previous run's cache (and results)."""
    overwrite: bool = False
    """Replace the results of a finished run in the folder."""
    device: str = "auto"
    """`auto` (CUDA when available), `cpu`, `cuda` or `cuda:K`."""
    full_res: FullResOptions | None = None
    """Also write depth, confidence and masks at the frames' own resolution into `OUT/full_res/`
    (`align3r.infer.full_res`); None: only the network's resolution."""


def pick_device(name: str) -> torch.device:
    """The job's device; asking for CUDA where there is none is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: no CUDA device here (use --device cpu)")
    return device


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


def run_video(source: str | os.PathLike, out: str | os.PathLike, *, model: str, prior: str,
              config: ReconstructConfig = ReconstructConfig(), selection: FrameSelection = FrameSelection(),
              options: JobOptions = JobOptions(), known: KnownFiles = KnownFiles()) -> Reconstruction:
    """Reconstruct a video file, image folder or glob into the output folder `out`.

    Everything that can be checked is checked before the folder is created: the input frames,
    the known intrinsics, poses and masks (`known`), the model and the prior load first. Priors and pair predictions are cached under
    `out/.cache`, so a rerun with `resume` after an interruption recomputes nothing cached.
    With `options.full_res`, `out/full_res/` holds the same files at the frames' own resolution
    (`align3r.infer.full_res`), written before the main `reconstruction.json`. An earlier
    result's `out/exports/` (and `out/full_res/` without `full_res`) is removed with it.

    Raises:
        Align3rError: bad input, model, prior or folder (one line each).
    """
    out = Path(out)
    check_output_folder(out, options)
    device = pick_device(options.device)
    images, names = read_frames(source, selection)
    known_inputs = known.load(names, images.shape[1:3])
    network = load_model(model, device=device)
    estimator = load_prior(prior, device=device)
    refiner = None if options.full_res is None else load_refiner(options.full_res, device=device)
    start = time.perf_counter()
    cache = out / CACHE
    created = not out.exists()
    cache.mkdir(parents=True, exist_ok=True)
    try:
        rec = reconstruct(images, network, CachedPrior(estimator, PriorCache(cache / "priors")), config,
                          names=names, cache_dir=cache, known=known_inputs)
    except (Align3rError, torch.cuda.OutOfMemoryError) as err:
        if created:  # a user mistake found late (e.g. a bad prior file) leaves nothing behind
            shutil.rmtree(out, ignore_errors=True)
        if isinstance(err, torch.cuda.OutOfMemoryError):
            raise InputError("out of GPU memory; try --mode hierarchical, a smaller --batch-size or --size") from None
        raise
    rec.meta.update(source=str(source), model_name=model, prior_name=prior, total_s=time.perf_counter() - start,
                    versions={"align3r": _version(), "torch": torch.__version__})
    if options.full_res is not None:  # before the main manifest, so a finished folder has it whole
        transform = frame_transform(*images.shape[1:3], size=config.size, crop=config.crop)
        full_resolution(rec, images, transform, refiner=refiner).save(out / FULL_RES, overwrite=True)
    for stale in [EXPORTS_FOLDER] + ([FULL_RES] if options.full_res is None else []):
        shutil.rmtree(out / stale, ignore_errors=True)  # an earlier run's, which the new result would contradict
    rec.save(out, overwrite=True)
    return rec


def _version() -> str:
    from align3r import __version__

    return __version__
