"""Ground-truth files of the evaluation sets: Sintel `.dpt` depth and `.cam` cameras, 16-bit PNG depth.

Every reader fails with one `InputError` line naming the file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from align3r.errors import InputError

SINTEL_TAG = 202021.25
"""Float tag at the start of every Sintel `.dpt` and `.cam` file."""
INVALID_DEPTH = -1.0
"""Value of missing PNG depth (stored 0), as the official `depth_read` functions return it."""


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read {what} ({err.strerror or err})") from None


def _check_tag(path: Path, data: bytes, size: int, what: str) -> None:
    if len(data) < size or np.frombuffer(data, "<f4", count=1)[0] != np.float32(SINTEL_TAG):
        raise InputError(f"{path}: not a Sintel {what} file (expected tag {SINTEL_TAG} and {size} bytes)")


def read_dpt(path: Path) -> np.ndarray:
    """Sintel depth: float32 tag, int32 width, int32 height, then float32 rows.

    Returns:
        (H, W) float32 z-depth, rows top to bottom.
    """
    data = _read_bytes(path, "Sintel depth")
    _check_tag(path, data, 12, "depth (.dpt)")
    width, height = (int(v) for v in np.frombuffer(data, "<i4", count=2, offset=4))
    if width <= 0 or height <= 0 or len(data) < 12 + 4 * width * height:
        raise InputError(f"{path}: truncated Sintel depth ({width}x{height} needs {12 + 4 * width * height} bytes)")
    return np.frombuffer(data, "<f4", count=width * height, offset=12).reshape(height, width).copy()


def read_sintel_cam(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Sintel camera: float32 tag, 3x3 intrinsics and 3x4 world-to-camera extrinsics (float64).

    Returns:
        c2w: (4, 4) float64 camera-to-world (the inverse of the extrinsics, as `pose_test.py` does).
        intrinsics: (3, 3) float64 K in pixels of the 1024x436 frame.
    """
    data = _read_bytes(path, "Sintel camera")
    _check_tag(path, data, 4 + 8 * 21, "camera (.cam)")
    intrinsics = np.frombuffer(data, "<f8", count=9, offset=4).reshape(3, 3).copy()
    w2c = np.eye(4)
    w2c[:3] = np.frombuffer(data, "<f8", count=12, offset=4 + 8 * 9).reshape(3, 4)
    if not np.isfinite(w2c).all() or abs(np.linalg.det(w2c[:3, :3])) < 1e-6:
        raise InputError(f"{path}: the extrinsics are not a finite rigid transform")
    if not np.isfinite(intrinsics).all() or intrinsics[0, 0] <= 0 or intrinsics[1, 1] <= 0:
        raise InputError(f"{path}: the intrinsics are not a finite pinhole K with positive focals")
    return np.linalg.inv(w2c), intrinsics


def read_png_depth(path: Path, units_per_metre: float) -> np.ndarray:
    """16-bit PNG depth (Bonn, TUM: 5000 per metre; KITTI: 256 per metre).

    Returns:
        (H, W) float32 depth in metres, `INVALID_DEPTH` where the file stores 0.
    """
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if stored is None:
        raise InputError(f"{path}: missing or unreadable depth PNG")
    if stored.dtype != np.uint16 or stored.ndim != 2:
        raise InputError(f"{path}: depth PNG must be single-channel 16-bit, got {stored.dtype} {stored.shape}")
    depth = (stored / units_per_metre).astype(np.float32)
    depth[stored == 0] = INVALID_DEPTH
    return depth
