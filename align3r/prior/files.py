"""Priors computed elsewhere: one map per frame in a folder, matched by file stem.

Formats:
- `.npy`: one (H0, W0) float array.
- `.npz`: key `depth` (H0, W0) and optionally `focallength_px` (a number, or a 3x3 K), the
  official prior file layout; Depth Anything files store their disparity under `depth`.
- `.png`: single-channel 16-bit; the map is the value divided by `PNG_SCALE` (millimetres ->
  metres for metric depth).
- `.pfm`: single-channel (`Pf`).
- `.exr` is not read (no small, well-kept reader is a dependency): convert to one of the above.

Every map must have its frame's size, finite values, not only zeros, and, for metric depth, no
negative values (affine disparity may be negative). Each violation raises InputError naming
the file.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from align3r.errors import InputError
from align3r.io.formats import prior_focal, read_npy, read_pfm
from align3r.prior.base import PriorKind, PriorMap, check_frames

logger = logging.getLogger(__name__)

PNG_SCALE = 1000.0
"""16-bit PNG value per unit of the map (1000: millimetres for metric depth)."""
SUFFIXES = (".npy", ".npz", ".png", ".pfm", ".exr")


def _read_npz_prior(path: Path) -> tuple[np.ndarray, float | None]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "depth" not in archive.files:
                raise InputError(f"{path}: npz lacks 'depth' (has {', '.join(archive.files) or 'nothing'})")
            focal = archive["focallength_px"] if "focallength_px" in archive.files else None
            depth = archive["depth"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(f"{path}: unreadable npz ({err})") from None
    return depth, None if focal is None else prior_focal(path, focal)


def _read_png16(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"{path}: unreadable PNG")
    if image.dtype != np.uint16 or image.ndim != 2:
        raise InputError(f"{path}: a PNG prior must be single-channel 16-bit (value / {PNG_SCALE:g}), "
                         f"got {image.dtype} with shape {image.shape}")
    return image / PNG_SCALE


def read_prior_file(path: Path) -> tuple[np.ndarray, float | None]:
    """A prior map file's (H, W) map as stored (not yet validated) and focal in pixels (npz only)."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz_prior(path)
    if suffix == ".npy":
        return read_npy(path), None
    if suffix == ".png":
        return _read_png16(path), None
    if suffix == ".pfm":
        return read_pfm(path), None
    if suffix == ".exr":
        raise InputError(f"{path}: EXR priors are not supported; convert them to .npy, .npz, .pfm or 16-bit .png")
    raise InputError(f"{path}: unknown prior format (use {', '.join(SUFFIXES[:-1])})")


def check_prior_map(path: Path, values: np.ndarray, size: tuple[int, int], kind: PriorKind) -> np.ndarray:
    """`values` as (H0, W0) float32 if it is a usable prior of a frame of `size`, else InputError naming `path`."""
    values = np.asarray(values)
    if values.shape != size:
        raise InputError(f"{path}: prior map of shape {values.shape} does not match its frame's {size}; "
                         "store one channel at the frame's resolution")
    if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
        raise InputError(f"{path}: prior map has NaN, infinite or non-numeric values")
    if not values.any():
        raise InputError(f"{path}: prior map is all zeros")
    if kind == "depth_metric" and (values < 0).any():
        raise InputError(f"{path}: metric depth prior has negative values (min {values.min():g})")
    return values.astype(np.float32)


class FilesPrior:
    """Prior maps read from `folder/<frame name>.<npy|npz|png|pfm>`.

    Args:
        folder: the folder of maps.
        kind: what the maps hold (metric depth by default; `disparity_affine` for Depth
            Anything files).
        name: the prior's name (default `files:<folder>`).
    """

    def __init__(self, folder: str | Path, *, kind: PriorKind = "depth_metric", name: str | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: prior folder not found")
        self.name = name or f"files:{self.folder}"
        self.kind = kind

    @property
    def cache_key(self) -> None:
        return None

    def _path(self, name: str) -> Path:
        found = [self.folder / f"{name}{s}" for s in SUFFIXES if (self.folder / f"{name}{s}").is_file()]
        if not found:
            raise InputError(f"{self.folder}: no prior map for frame {name!r} "
                             f"(expected {name}{'|'.join(SUFFIXES[:-1])})")
        if len(found) > 1:
            raise InputError(f"{self.folder}: several prior maps for frame {name!r} "
                             f"({', '.join(p.name for p in found)}); keep one")
        return found[0]

    def estimate(self, frames: np.ndarray, names: Sequence[str]) -> PriorMap:
        """The stored maps of the frames `names`: PriorMap (N, H0, W0), focal if every file has one."""
        check_frames(frames, names)
        maps, focals = [], []
        for name in names:
            path = self._path(name)
            values, focal = read_prior_file(path)
            maps.append(check_prior_map(path, values, frames.shape[1:3], self.kind))
            focals.append(focal)
        if any(f is not None for f in focals) and None in focals:
            logger.warning("%s: only some prior files have focallength_px; ignoring the focal lengths", self.folder)
        focal_px = None if None in focals else np.array(focals, dtype=np.float64)
        return PriorMap(self.kind, np.stack(maps), focal_px)
