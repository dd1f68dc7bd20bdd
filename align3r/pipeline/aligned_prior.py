"""The aligned prior: each frame's monocular prior kept, mapped onto align3r's depth by one robust scale and shift.

A per-frame prior is detailed but flickers in scale and shift over time; align3r's depth is
consistent over the video but coarser. Per frame we fit s, b minimising sum_i w_i rho(s p_i + b - t_i)
over the confident static pixels, in the prior's own space:
- `depth` (a `depth_metric` prior): p = prior depth, t = align3r depth, aligned depth s p + b;
- `disparity` (a `disparity_affine` prior, e.g. Depth Anything): p = prior disparity,
  t = 1 / align3r depth, aligned depth 1 / (s p + b).
A frame whose fit is ill-posed keeps align3r's depth, flagged with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from align3r.prior.base import PriorKind

logger = logging.getLogger(__name__)

FitSpace = Literal["depth", "disparity"]
RobustLoss = Literal["huber", "lad", "lstsq"]
FallbackReason = Literal["too_few_pixels", "bad_scale", "non_positive", "scale_outlier"]
SPACE_OF_KIND: dict[PriorKind, FitSpace] = {"depth_metric": "depth", "disparity_affine": "disparity"}
"""The space a prior kind is aligned in: the one where it is affine to the truth."""
MAD_TO_SIGMA = 1.4826  # median absolute deviation -> standard deviation of a Gaussian
RELATIVE_FLOOR = 1e-9  # residual scale floor, relative to the mean |target|: keeps exact fits finite


@dataclass(frozen=True)
class PriorAlignConfig:
    """Settings of the per-frame robust fit and of its fallback rules."""

    loss: RobustLoss = "huber"
    """"huber" (IRLS, threshold `huber_k` robust sigmas re-estimated each iteration), "lad"
    (IRLS of the absolute residual) or "lstsq" (plain weighted least squares)."""
    huber_k: float = 1.345
    """Huber threshold in units of the robust residual sigma (1.4826 MAD); 1.345 is the classic
    choice with 95% efficiency on Gaussian residuals."""
    iterations: int = 50
    """Most IRLS re-weightings (after the least-squares start)."""
    tolerance: float = 1e-12
    """IRLS stops once every frame's step |ds| mean|p| + |db| is below this fraction of mean|t|."""
    min_pixels: int = 100
    """A frame needs at least this many fit pixels ..."""
    min_fraction: float = 0.01
    """... and at least this fraction of its pixels, else it falls back (`too_few_pixels`)."""
    min_positive_fraction: float = 0.5
    """The aligned value s p + b (depth or disparity) must be positive on at least this fraction
    of the whole frame, else the frame falls back (`non_positive`)."""
    max_scale_ratio: float = 3.0
    """A frame whose s is more than this factor above or below the median s of the video's usable
    frames (those that pass the other rules) falls back (`scale_outlier`): a prior's scale drifts by tens of percent within a
    video, so a larger jump is a fit the prior does not explain (e.g. s near 0 and the depth a
    constant b, where align3r's depth of that frame is flat or unrelated to the prior)."""

    def __post_init__(self) -> None:
        if self.loss not in ("huber", "lad", "lstsq"):
            raise ValueError(f"loss: expected 'huber', 'lad' or 'lstsq', got {self.loss!r}")
        if (self.huber_k <= 0 or self.iterations < 0 or not 0 <= self.min_positive_fraction <= 1
                or self.max_scale_ratio <= 1):
            raise ValueError(f"huber_k > 0, iterations >= 0, 0 <= min_positive_fraction <= 1, max_scale_ratio > 1 "
                             f"expected, got {self.huber_k}, {self.iterations}, {self.min_positive_fraction}, "
                             f"{self.max_scale_ratio}")


@dataclass(frozen=True, eq=False)
class PriorFit:
    """One scale and shift per frame mapping the prior onto align3r's depth, in `space`.

    Attributes:
        space: the fit space ("depth": s p + b ~ depth; "disparity": s p + b ~ 1 / depth).
        scale: (N,) float64 fitted s; kept for fallback frames for diagnosis, NaN where no fit exists.
        shift: (N,) float64 fitted b, in the units of the target (depth or inverse depth).
        residual: (N,) float64 median over the fit pixels of |s p + b - t| / |t|, the robust
            relative residual of the fit; NaN without fit pixels.
        pixels: (N,) int64 number of fit pixels.
        fallback: (N,) bool, frames whose fit is ill-posed: they keep align3r's depth.
        reasons: N entries, the FallbackReason of a fallback frame, None for a fitted one.
    """

    space: FitSpace
    scale: np.ndarray
    shift: np.ndarray
    residual: np.ndarray
    pixels: np.ndarray
    fallback: np.ndarray
    reasons: tuple[FallbackReason | None, ...]


@dataclass(frozen=True, eq=False)
class AlignedPrior(PriorFit):
    """The aligned prior depth of N frames, with its fit.

    Attributes:
        depths: (N, H, W) float32 z-depth in align3r's units: the aligned prior, align3r's depth
            in fallback frames and at `replaced` pixels.
        replaced: (N,) int64 pixels of fitted frames where the aligned value s p + b (depth or
            disparity) is not positive or not finite and align3r's depth is kept instead; 0 in
            fallback frames.
    """

    depths: np.ndarray = field(kw_only=True)
    replaced: np.ndarray = field(kw_only=True)


def _check_maps(reference: np.ndarray, **maps: np.ndarray | None) -> None:
    """Raise ValueError unless `reference` is (N, H, W) and every given map has its shape."""
    if reference.ndim != 3:
        raise ValueError(f"prior: expected shape (N, H, W), got {reference.shape}")
    for name, values in maps.items():
        if values is not None and values.shape != reference.shape:
            raise ValueError(f"{name}: expected shape {reference.shape}, got {values.shape}")


def confident_static(conf: np.ndarray, dynamic_masks: np.ndarray, conf_threshold: float) -> np.ndarray:
    """(N, H, W) bool fit pixels: raw confidence (N, H, W) above `conf_threshold` and not on a moving
    object ((N, H, W) bool `dynamic_masks`)."""
    return (conf > conf_threshold) & ~dynamic_masks


def _weighted_line(p: torch.Tensor, t: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row weighted least squares of t ~ s p + b, centred for conditioning.

    Args:
        p, t, w: (N, M) float64 values and non-negative weights (0 outside the fit pixels).

    Returns:
        s, b: (N,); NaN where the weights are all 0 or p is constant on the weighted pixels.
    """
    total = w.sum(dim=1)
    p_mean = (w * p).sum(dim=1) / total
    t_mean = (w * t).sum(dim=1) / total
    p_centred = p - p_mean[:, None]
    s = (w * p_centred * (t - t_mean[:, None])).sum(dim=1) / (w * p_centred ** 2).sum(dim=1)
    return s, t_mean - s * p_mean


def _masked_median(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, M) values, (N, M) bool -> (N,) median over each row's masked entries (NaN when none)."""
    return torch.nanmedian(torch.where(mask, values, torch.nan), dim=1).values


def _irls(p: torch.Tensor, t: torch.Tensor, w: torch.Tensor, used: torch.Tensor,
          config: PriorAlignConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Robust s, b (N,) by iteratively reweighted least squares from the least-squares fit.

    Args:
        p, t: (N, M) float64 prior and target in the fit space.
        w: (N, M) float64 base weights (confidence), 0 outside `used`.
        used: (N, M) bool fit pixels.
        config: the loss and its iteration settings.
    """
    s, b = _weighted_line(p, t, w)
    if config.loss == "lstsq":
        return s, b
    total = w.sum(dim=1)
    p_ref = (w * p.abs()).sum(dim=1) / total  # (N,) mean |p|
    t_ref = (w * t.abs()).sum(dim=1) / total  # (N,) mean |t|
    floor = RELATIVE_FLOOR * t_ref
    for _ in range(config.iterations):
        r = (s[:, None] * p + b[:, None] - t).abs()  # (N, M)
        if config.loss == "huber":
            sigma = MAD_TO_SIGMA * _masked_median(r, used)
            delta = config.huber_k * torch.maximum(torch.nan_to_num(sigma), floor)
            robust = delta[:, None] / torch.maximum(r, delta[:, None])  # 1 inside, delta / |r| outside
        else:
            robust = 1 / torch.maximum(r, floor[:, None])
        s_new, b_new = _weighted_line(p, t, w * robust)
        step = ((s_new - s).abs() * p_ref + (b_new - b).abs()) / t_ref
        s, b = s_new, b_new
        if not bool((step > config.tolerance).any()):  # NaN steps (frames without a fit) stop nothing
            break
    return s, b


def fit_frame_scale_shift(prior: np.ndarray, depth: np.ndarray, mask: np.ndarray, *, space: FitSpace,
                          weights: np.ndarray | None = None,
                          config: PriorAlignConfig = PriorAlignConfig()) -> PriorFit:
    """Fit one scale and shift per frame from the prior to align3r's depth, robustly.

    Minimises sum_i w_i rho(s p_i + b - t_i) per frame over the fit pixels: those of `mask` where the
    depth is finite and positive, the prior finite and the weight positive, with t = depth (`space="depth"`) or t = 1 / depth
    (`space="disparity"`), rho the loss of `config`, in float64. A frame falls back when it has
    fewer than max(min_pixels, min_fraction H W) fit pixels (`too_few_pixels`), when s is not finite
    or not positive (`bad_scale`), when s p + b is positive on less than `min_positive_fraction` of
    the whole frame (`non_positive`), or when s is more than `max_scale_ratio` times above or below
    the median s of the frames that pass the other rules (`scale_outlier`).

    Args:
        prior: (N, H, W) prior values p (depth or affine-invariant disparity), on the depth's grid.
        depth: (N, H, W) align3r z-depth of the same frames and grid.
        mask: (N, H, W) bool pixels to fit on (confident and static; the caller's choice).
        space: "depth" or "disparity" (see `SPACE_OF_KIND`).
        weights: (N, H, W) non-negative per-pixel weights (e.g. the confidence), or None for 1;
            pixels of weight 0 are not fit pixels.
        config: loss, iterations and fallback thresholds.

    Returns:
        PriorFit of the N frames.

    Raises:
        ValueError: shapes differ or `space` is unknown.
    """
    _check_maps(prior, depth=depth, mask=mask, weights=weights)
    if space not in ("depth", "disparity"):
        raise ValueError(f"space: expected 'depth' or 'disparity', got {space!r}")
    n, height, width = prior.shape
    p_all = torch.from_numpy(np.asarray(prior, dtype=np.float64)).reshape(n, -1)  # (N, M)
    d = torch.from_numpy(np.asarray(depth, dtype=np.float64)).reshape(n, -1)
    used = torch.from_numpy(np.asarray(mask, dtype=bool)).reshape(n, -1)
    used = used & torch.isfinite(p_all) & torch.isfinite(d) & (d > 0)
    w = used.double()
    if weights is not None:
        w_all = torch.from_numpy(np.asarray(weights, dtype=np.float64)).reshape(n, -1)
        used = used & torch.isfinite(w_all) & (w_all > 0)
        w = torch.where(used, w_all, 0.0)
    p = torch.where(used, p_all, 0.0)
    t = torch.where(used, d if space == "depth" else 1 / d, 0.0)
    s, b = _irls(p, t, w, used, config)
    pixels = used.sum(dim=1)
    residual = _masked_median((s[:, None] * p + b[:, None] - t).abs() / t.abs(), used)
    positive = (s[:, None] * p_all + b[:, None] > 0).double().mean(dim=1)  # over the whole frame
    reasons = _fallback_reasons(pixels.numpy(), s.numpy(), positive.numpy(), height * width, config)
    return PriorFit(space=space, scale=s.numpy(), shift=b.numpy(), residual=residual.numpy(),
                    pixels=pixels.numpy(), fallback=np.array([r is not None for r in reasons]), reasons=reasons)


def _fallback_reasons(pixels: np.ndarray, scale: np.ndarray, positive_fraction: np.ndarray, frame_pixels: int,
                      config: PriorAlignConfig) -> tuple[FallbackReason | None, ...]:
    """The reason each frame falls back (first rule that applies), None when its fit is usable."""
    needed = max(config.min_pixels, config.min_fraction * frame_pixels)
    reasons: list[FallbackReason | None] = []
    for count, s, fraction in zip(pixels, scale, positive_fraction):
        if count < needed:
            reasons.append("too_few_pixels")
        elif not np.isfinite(s) or s <= 0:
            reasons.append("bad_scale")
        elif fraction < config.min_positive_fraction:
            reasons.append("non_positive")
        else:
            reasons.append(None)
    usable = [s for s, reason in zip(scale, reasons) if reason is None]
    if usable:
        typical = float(np.median(usable))
        reasons = ["scale_outlier" if r is None and max(s / typical, typical / s) > config.max_scale_ratio else r
                   for s, r in zip(scale, reasons)]
    return tuple(reasons)


def apply_prior_fit(fit: PriorFit, prior: np.ndarray, depth: np.ndarray) -> AlignedPrior:
    """The aligned prior depth of a fit, on any grid the prior values and a fallback depth share.

    The aligned depth is s p + b in `depth` space and 1 / (s p + b) in `disparity` space. Where that
    value (depth or disparity) is not positive, or not finite, the pixel takes `depth` and is
    counted in `replaced`; fallback frames take `depth` everywhere. Since s and b act pixel by
    pixel, the fit of one grid applies to the same prior values resampled onto another.

    Args:
        fit: the per-frame fit of N frames (`fit_frame_scale_shift`).
        prior: (N, H', W') prior values of the fit's kind, on any grid.
        depth: (N, H', W') align3r z-depth on that grid, used where the prior is not.

    Returns:
        AlignedPrior: depths (N, H', W') float32 and the fit.

    Raises:
        ValueError: shapes differ, or do not have the fit's N frames.
    """
    _check_maps(prior, depth=depth)
    if len(prior) != len(fit.scale):
        raise ValueError(f"prior: expected {len(fit.scale)} frames, got {len(prior)}")
    values = fit.scale[:, None, None] * np.asarray(prior, np.float64) + fit.shift[:, None, None]  # (N, H', W')
    usable = np.isfinite(values) & (values > 0)
    with np.errstate(divide="ignore"):
        aligned = values if fit.space == "depth" else 1 / values
    usable &= np.isfinite(aligned) & ~fit.fallback[:, None, None]
    depths = np.where(usable, aligned, depth).astype(np.float32)
    replaced = np.where(fit.fallback, 0, (~usable).sum(axis=(1, 2)))
    return AlignedPrior(space=fit.space, scale=fit.scale, shift=fit.shift, residual=fit.residual,
                        pixels=fit.pixels, fallback=fit.fallback, reasons=fit.reasons,
                        depths=depths, replaced=replaced.astype(np.int64))


def aligned_prior_depth(prior: np.ndarray, kind: PriorKind, depth: np.ndarray, mask: np.ndarray, *,
                        weights: np.ndarray | None = None,
                        config: PriorAlignConfig = PriorAlignConfig()) -> AlignedPrior:
    """Each frame's prior mapped onto align3r's depth by its own robust scale and shift.

    Fits on the grid given (`fit_frame_scale_shift`), then maps the prior through the fit
    (`apply_prior_fit`): s p + b for a `depth_metric` prior, 1 / (s p + b) for a
    `disparity_affine` one, align3r's depth where that is not positive and in fallback frames
    (logged as one warning naming them).

    Args:
        prior: (N, H, W) prior values of `kind`, resized by the caller to the depth's grid.
        kind: "depth_metric" or "disparity_affine".
        depth: (N, H, W) align3r z-depth (one scale for the video).
        mask: (N, H, W) bool pixels to fit on: confident and static.
        weights: (N, H, W) non-negative per-pixel fit weights (e.g. confidence), or None for 1.
        config: loss, iterations and fallback thresholds.

    Returns:
        AlignedPrior: depths (N, H, W) float32 and the per-frame fit.

    Raises:
        ValueError: shapes differ or `kind` is unknown.
    """
    if kind not in SPACE_OF_KIND:
        raise ValueError(f"kind: expected one of {sorted(SPACE_OF_KIND)}, got {kind!r}")
    fit = fit_frame_scale_shift(prior, depth, mask, space=SPACE_OF_KIND[kind], weights=weights, config=config)
    failed = [f"{k} ({r})" for k, r in enumerate(fit.reasons) if r is not None]
    if failed:
        logger.warning("prior alignment ill-posed in %d of %d frames, which keep align3r's depth: %s",
                       len(failed), len(fit.reasons), ", ".join(failed))
    return apply_prior_fit(fit, prior, depth)
