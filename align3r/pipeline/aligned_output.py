"""The `--aligned-prior` outputs: the prior, aligned per frame onto a reconstruction's depth, as
reconstructions of their own (same cameras, confidence and masks), on the network grid and on the
prior's own (the input frames') grid.

The fit (`pipeline.aligned_prior`) runs on the network grid, on the confident static pixels:
raw confidence above the alignment's `min_conf_thr` and outside the motion masks. The prior is
brought onto that grid by `resize_map` (nearest pixel), so the fitted s, b apply unchanged to the
prior's own values at the input resolution; there the fallback depth (fallback frames, pixels
whose aligned value is not positive) is the reconstruction's depth upsampled bilinearly
(`full_resolution` without a refiner), and so are the confidence and the masks.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from align3r.infer.preprocess import FrameTransform, resize_maps
from align3r.pipeline.aligned_prior import (
    AlignedPrior,
    PriorAlignConfig,
    aligned_prior_depth,
    apply_prior_fit,
    confident_static,
)
from align3r.pipeline.full_res import full_resolution
from align3r.prior.base import PriorMap
from align3r.reconstruction import Reconstruction


def _numbers(values: np.ndarray) -> list[float | None]:
    """(N,) floats as a JSON list, NaN as None."""
    return [None if not np.isfinite(v) else float(v) for v in values]


def fit_summary(aligned: AlignedPrior, names: list[str], conf_threshold: float,
                config: PriorAlignConfig) -> dict[str, Any]:
    """The per-frame fit as JSON-ready `meta["aligned_prior"]`: space, threshold, loss, s, b,
    residual, fit pixels, replaced pixels and `fallback` (frame name -> reason)."""
    return {"space": aligned.space, "conf_threshold": conf_threshold, "loss": config.loss,
            "scale": _numbers(aligned.scale), "shift": _numbers(aligned.shift),
            "residual": _numbers(aligned.residual), "pixels": aligned.pixels.tolist(),
            "replaced": aligned.replaced.tolist(),
            "fallback": {names[k]: reason for k, reason in enumerate(aligned.reasons) if reason is not None}}


def aligned_prior_outputs(rec: Reconstruction, prior: PriorMap, frames: np.ndarray, transform: FrameTransform, *,
                          conf_threshold: float, config: PriorAlignConfig = PriorAlignConfig()
                          ) -> tuple[Reconstruction, Reconstruction | None]:
    """The aligned prior of `rec`'s frames on the network grid, and on the input grid when it differs.

    Args:
        rec: the reconstruction, (N, H, W) on the network grid.
        prior: the prior of the same frames at the input resolution, values (N, H0, W0).
        frames: (N, H0, W0, 3) uint8, the input frames.
        transform: the network input's `FrameTransform` of those frames.
        conf_threshold: raw confidence a fit pixel must exceed.
        config: the robust fit's settings.

    Returns:
        on_grid: `rec` with the aligned prior's depths; its meta without the quality report (which
            is the reconstruction's) and with `meta["aligned_prior"]` (`fit_summary`).
        full: the same at (H0, W0) with `meta["full_res"]` of `full_resolution`, `replaced`
            counted on that grid; None when the network grid is the input grid.
    """
    prior_grid = resize_maps(prior.values, transform)  # (N, H, W)
    aligned = aligned_prior_depth(prior_grid, prior.kind, rec.depths,
                                  confident_static(rec.conf, rec.dynamic_masks, conf_threshold), config=config)
    summary = fit_summary(aligned, rec.names, conf_threshold, config)
    meta = {key: value for key, value in rec.meta.items() if key != "quality"}
    on_grid = replace(rec, depths=aligned.depths, meta={**meta, "aligned_prior": summary})
    if transform.input_size == transform.output_size:
        return on_grid, None
    upsampled = full_resolution(rec, frames, transform)
    aligned_full = apply_prior_fit(aligned, prior.values, upsampled.depths)
    full_meta = {**meta, "full_res": upsampled.meta["full_res"],
                 "aligned_prior": {**summary, "replaced": aligned_full.replaced.tolist()}}
    return on_grid, replace(upsampled, depths=aligned_full.depths, meta=full_meta)
