"""Single-file readers (PFM, RGB, mask PNG, npz, npy, a prior's focal) that fail with one line naming the file."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from align3r.errors import InputError

_PFM_HEADER = re.compile(rb"^(P[fF])\s+(\d+)\s+(\d+)\s+(-?[\d.eE+-]+)\s")


def read_pfm(path: Path) -> np.ndarray:
    """A grayscale or colour PFM image, rows top-to-bottom.

    Returns:
        (H, W) float32 for `Pf`, (H, W, 3) for `PF`. The file stores rows bottom-to-top and a
        negative scale for little-endian data (the PFM standard).
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read PFM ({err.strerror or err})") from None
    match = _PFM_HEADER.match(data)
    if match is None:
        raise InputError(f"{path}: not a PFM file (expected a 'Pf W H scale' header)")
    channels = 3 if match.group(1) == b"PF" else 1
    width, height, scale = int(match.group(2)), int(match.group(3)), float(match.group(4))
    dtype = np.dtype("<f4" if scale < 0 else ">f4")
    count = width * height * channels
    payload = data[match.end():]
    if len(payload) < count * 4:
        raise InputError(f"{path}: truncated PFM ({len(payload)} of {count * 4} data bytes)")
    image = np.frombuffer(payload, dtype=dtype, count=count).astype(np.float32)
    shape = (height, width, 3) if channels == 3 else (height, width)
    return np.ascontiguousarray(image.reshape(shape)[::-1])


def write_pfm(path: Path, image: np.ndarray) -> None:
    """Write a (H, W) or (H, W, 3) float array as little-endian PFM (rows bottom-to-top)."""
    image = np.asarray(image, dtype="<f4")
    kind = b"PF" if image.ndim == 3 else b"Pf"
    height, width = image.shape[:2]
    path.write_bytes(kind + b"\n%d %d\n-1\n" % (width, height) + np.ascontiguousarray(image[::-1]).tobytes())


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file (no EXIF rotation: dataset frames are stored upright)."""
    return _read_image(path, "RGB")


def read_gray(path: Path) -> np.ndarray:
    """(H, W) uint8 of a single-channel PNG (a validity or dynamic mask)."""
    return _read_image(path, "L")


def _read_image(path: Path, mode: str) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert(mode))
    except FileNotFoundError:
        raise InputError(f"{path}: missing image") from None
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(f"{path}: unreadable image ({err})") from None


def read_npz(path: Path, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The named arrays of an npz file (loaded without pickles); `optional` ones only if present."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in keys if k not in archive.files]
            if missing:
                raise InputError(f"{path}: npz lacks {', '.join(missing)} (has {', '.join(archive.files)})")
            return {k: archive[k] for k in (*keys, *optional) if k in archive.files}
    except FileNotFoundError:
        raise InputError(f"{path}: missing npz") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise InputError(f"{path}: unreadable npz ({err})") from None


def read_npy(path: Path) -> np.ndarray:
    """One array of an npy file (loaded without pickles)."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: missing npy") from None
    except (OSError, ValueError, EOFError) as err:
        raise InputError(f"{path}: unreadable npy ({err})") from None


def prior_focal(path: Path, value: np.ndarray) -> float:
    """The prior's focal from `focallength_px`: a scalar, or K's [0, 0] when stored as 3x3.

    Some official files store a 3x3 matrix (`my_sceneflow.py:172-173`).
    """
    value = np.asarray(value, dtype=np.float64)
    if value.shape == (3, 3):
        value = value[0, 0]
    if value.size != 1 or not np.isfinite(value).all() or value.item() <= 0:
        raise InputError(f"{path}: focallength_px must be one positive number or a 3x3 K, got shape {value.shape}")
    return float(value.item())
