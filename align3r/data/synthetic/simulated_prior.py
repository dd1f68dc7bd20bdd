"""A synthetic sequence's simulated prior held in memory, as a depth prior the pipeline can call."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from align3r.data.synthetic.prior import PriorMaps
from align3r.errors import InputError
from align3r.prior.base import PriorKind, PriorMap, check_frames


class SimulatedPrior:
    """Precomputed priors of a synthetic sequence's frames, looked up by frame name.

    Args:
        prior: the simulated maps of the sequence's frames, (N, H0, W0).
        names: the N frame names, in the order of `prior`.
    """

    name = "simulated"

    def __init__(self, prior: PriorMap, names: Sequence[str]) -> None:
        if len(names) != len(prior):
            raise ValueError(f"names: expected {len(prior)} frame names, got {len(names)}")
        self.prior = prior
        self.positions = {name: i for i, name in enumerate(names)}

    @classmethod
    def from_maps(cls, maps: PriorMaps, names: Sequence[str] | None = None) -> SimulatedPrior:
        """The generator's simulated prior of one style (`SyntheticSequence.priors[style]`).

        Args:
            maps: disparity (depth-anything style) or metric depth and focal (depth-pro style).
            names: the frame names; default the writer's `000000`, `000001`, ...
        """
        kind: PriorKind = "depth_metric" if maps.disparity_affine is None else "disparity_affine"
        values = maps.stored
        names = [f"{i:06d}" for i in range(len(values))] if names is None else names
        return cls(PriorMap(kind, np.asarray(values, dtype=np.float32), maps.focal_px), names)

    @property
    def cache_key(self) -> None:
        return None

    def estimate(self, frames: np.ndarray, names: Sequence[str]) -> PriorMap:
        """The simulated maps of the frames `names` (a subset of the sequence's, any order)."""
        check_frames(frames, names)
        unknown = [name for name in names if name not in self.positions]
        if unknown:
            raise InputError(f"the simulated prior has no frame(s) {unknown[:3]}; it covers its own sequence only")
        selected = self.prior.select([self.positions[name] for name in names])
        if selected.values.shape[1:] != frames.shape[1:3]:
            raise InputError(f"simulated priors are {selected.values.shape[1:]}, the frames "
                             f"{frames.shape[1:3]}; use the frames of the same sequence")
        return selected
