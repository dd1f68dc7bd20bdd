"""The depth-prior interface: `DepthPrior.estimate(frames, names) -> PriorMap`, outputs named by invariance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

PriorKind = Literal["depth_metric", "disparity_affine"]
"""What a prior map holds: metric z-depth (Depth Pro), or relative inverse depth known up to an
affine map (Depth Anything V2). Both are used as the "Z" of the conditioning point map as they
are: the official code never inverts the disparity (docs/method.md §10.1)."""


@dataclass(frozen=True)
class PriorMap:
    """The prior of N frames, at the frames' own resolution.

    Attributes:
        kind: what `values` holds (see PriorKind).
        values: (N, H0, W0) float32, finite.
        focal_px: (N,) float64 focal lengths in pixels where the prior estimates one (Depth
            Pro, files with `focallength_px`), else None. It does not change the conditioning
            (min-max normalisation removes it, docs/method.md §10.2).
    """

    kind: PriorKind
    values: np.ndarray
    focal_px: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.values.ndim != 3:
            raise ValueError(f"values: expected shape (N, H0, W0), got {self.values.shape}")
        if self.focal_px is not None and self.focal_px.shape != self.values.shape[:1]:
            raise ValueError(f"focal_px: expected shape ({len(self.values)},), got {self.focal_px.shape}")

    def __len__(self) -> int:
        return len(self.values)

    def select(self, index: Sequence[int] | np.ndarray) -> PriorMap:
        """The maps of the frames at positions `index`."""
        index = np.asarray(index, dtype=np.int64)
        focal = None if self.focal_px is None else self.focal_px[index]
        return PriorMap(self.kind, self.values[index], focal)


def concat_priors(parts: Sequence[PriorMap]) -> PriorMap:
    """One PriorMap of the frames of `parts`, in order; all parts share kind and focal presence."""
    kinds = {p.kind for p in parts}
    with_focal = {p.focal_px is not None for p in parts}
    if len(kinds) != 1 or len(with_focal) != 1:
        raise ValueError(f"cannot concatenate priors of kinds {sorted(kinds)} with and without focal")
    focal = np.concatenate([p.focal_px for p in parts]) if with_focal == {True} else None
    return PriorMap(parts[0].kind, np.concatenate([p.values for p in parts]), focal)


class DepthPrior(Protocol):
    """A monocular depth estimator, or a source of precomputed priors."""

    name: str
    """The name `load_prior` resolves (e.g. `depth-anything-v2-large`, `files:DIR`)."""

    @property
    def cache_key(self) -> str | None:
        """Name and settings that determine the output for a given frame; None when the output
        does not come from the frame's pixels alone (files, simulated) and must not be cached."""
        ...

    def estimate(self, frames: np.ndarray, names: Sequence[str]) -> PriorMap:
        """Priors of N frames.

        Args:
            frames: (N, H0, W0, 3) uint8 RGB.
            names: N frame names (file stems), used by priors read from disk.

        Returns:
            PriorMap with values (N, H0, W0).
        """
        ...


def check_frames(frames: np.ndarray, names: Sequence[str]) -> None:
    """Raise ValueError unless `frames` is (N, H0, W0, 3) uint8 with N names."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames: expected (N, H0, W0, 3) uint8, got {frames.shape} {frames.dtype}")
    if len(names) != len(frames):
        raise ValueError(f"names: expected {len(frames)} frame names, got {len(names)}")
