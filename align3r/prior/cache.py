"""Priors kept on disk per frame, keyed by the frame's pixels and the prior's name and settings."""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from align3r.atomic import atomic_write_bytes
from align3r.prior.base import DepthPrior, PriorMap, check_frames, concat_priors

logger = logging.getLogger(__name__)


def frame_key(frame: np.ndarray, prior_key: str) -> str:
    """SHA-256 hex digest of a (H0, W0, 3) uint8 frame's shape and bytes and a prior's cache key."""
    digest = hashlib.sha256(prior_key.encode())
    digest.update(repr(frame.shape).encode())
    digest.update(np.ascontiguousarray(frame).tobytes())
    return digest.hexdigest()


class PriorCache:
    """A folder of per-frame priors: `<root>/<frame_key>.npz` holding `depth`, `kind` and, when
    the prior has one, `focallength_px`. Files are written to a temporary name, then renamed."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npz"

    def load(self, key: str) -> PriorMap | None:
        """The stored prior of one frame (N = 1), or None if absent or unreadable."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                focal = archive["focallength_px"][None] if "focallength_px" in archive.files else None
                return PriorMap(str(archive["kind"]), archive["depth"][None], focal)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            logger.warning("%s: unreadable cached prior (%s); recomputing it", path, err)
            return None

    def save(self, key: str, prior: PriorMap) -> None:
        """Store a one-frame prior (N = 1) atomically."""
        arrays = {"depth": prior.values[0].astype(np.float32), "kind": np.str_(prior.kind)}
        if prior.focal_px is not None:
            arrays["focallength_px"] = np.float64(prior.focal_px[0])
        self.root.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(self.path(key), buffer.getvalue())


class CachedPrior:
    """A DepthPrior that computes only the frames its cache lacks; priors without a cache key
    (files, simulated) pass through.

    Args:
        prior: the prior to cache.
        cache: where its per-frame outputs are kept.
    """

    def __init__(self, prior: DepthPrior, cache: PriorCache) -> None:
        self.prior = prior
        self.cache = cache
        self.name = prior.name

    @property
    def cache_key(self) -> str | None:
        return self.prior.cache_key

    def estimate(self, frames: np.ndarray, names: Sequence[str]) -> PriorMap:
        """As `prior.estimate`, reading stored frames and storing the computed ones."""
        check_frames(frames, names)
        prior_key = self.prior.cache_key
        if prior_key is None:
            return self.prior.estimate(frames, names)
        keys = [frame_key(frame, prior_key) for frame in frames]
        per_frame = [self.cache.load(key) for key in keys]
        missing = [i for i, stored in enumerate(per_frame) if stored is None]
        logger.info("%s: %d of %d frame priors cached", self.name, len(frames) - len(missing), len(frames))
        if missing:
            fresh = self.prior.estimate(frames[missing], [names[i] for i in missing])
            for position, index in enumerate(missing):
                per_frame[index] = fresh.select([position])
                self.cache.save(keys[index], per_frame[index])
        return concat_priors(per_frame)
