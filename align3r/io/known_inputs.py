"""What the user knows of a video (intrinsics, camera poses, motion masks): files -> checked arrays
at the input frames' resolution (`pipeline.known_grid` puts them on the network grid)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from align3r.errors import InputError
from align3r.io.trajectory import FORMATS, TrajectoryFormat, read_trajectory
from align3r.io.video import IMAGE_SUFFIXES

logger = logging.getLogger(__name__)

PosesMode = Literal["fixed", "init"]
POSES_MODES: tuple[PosesMode, ...] = ("fixed", "init")


def _finite_stack(array: np.ndarray, shape: tuple[int, int], source: str, what: str) -> np.ndarray:
    """`array` as (N, *shape) float64 with finite values, else InputError naming `source`."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 3 or array.shape[1:] != shape:
        raise InputError(f"{source}: {what} must be (N, {shape[0]}, {shape[1]}), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(f"{source}: {what} hold NaN or infinite values")
    return array


def check_intrinsics(k: np.ndarray, source: str) -> np.ndarray:
    """(N, 3, 3) float64 pinhole K (no skew, positive focals, finite), else InputError naming `source`."""
    k = _finite_stack(k, (3, 3), source, "intrinsics")
    if (k[:, 0, 0] <= 0).any() or (k[:, 1, 1] <= 0).any():
        raise InputError(f"{source}: focal lengths must be positive, got fx {k[:, 0, 0].min():g}, fy {k[:, 1, 1].min():g}")
    if np.abs(k[:, [1, 2, 2], [0, 0, 1]]).max() > 0 or np.abs(k[:, 2, 2] - 1).max() > 0:
        raise InputError(f"{source}: not a pinhole K (rows [fx 0 cx], [0 fy cy], [0 0 1])")
    if np.abs(k[:, 0, 1]).max() > 0:
        raise InputError(f"{source}: skewed intrinsics (K[0, 1] != 0) are not supported")
    return k


def check_poses(c2w: np.ndarray, source: str) -> np.ndarray:
    """(N, 4, 4) float64 rigid camera-to-world poses, else InputError naming `source`."""
    c2w = _finite_stack(c2w, (4, 4), source, "camera-to-world poses")
    rot = c2w[:, :3, :3]
    orthonormal = np.abs(rot.transpose(0, 2, 1) @ rot - np.eye(3)).max(axis=(1, 2)) < 1e-6
    bad = np.flatnonzero(~orthonormal | (np.linalg.det(rot) <= 0) | np.any(c2w[:, 3] != [0, 0, 0, 1], axis=-1))
    if len(bad):
        raise InputError(f"{source}: pose {bad[0]} is not a rigid transform (rotation and last row [0 0 0 1])")
    return c2w


def check_count(array: np.ndarray, num_frames: int, source: str, what: str) -> None:
    if len(array) != num_frames:
        raise InputError(f"{source}: {len(array)} {what} for {num_frames} frames; give one per frame read "
                         "(after --stride, --max-frames and --start-time)")


@dataclass(frozen=True)
class KnownInputs:
    """What the user knows of a video, at the input frames' resolution (N frames of H0 x W0).

    The aligner has one focal length per frame and the principal point (W/2, H/2) of the network
    grid (official `optimize_pp=False`): fx != fy is used as sqrt(fx fy), and an off-centre
    principal point is not used; both warn. Known intrinsics are held fixed and returned as
    given (moved to the network grid).

    Attributes:
        intrinsics: (N, 3, 3) float64 K in pixels of the original frames, or None.
        poses_c2w: (N, 4, 4) float64 OpenCV camera-to-world poses, or None; the scene takes
            their world and scale.
        poses_mode: `fixed`: not optimised, returned unchanged; `init`: the initial poses.
        dynamic_masks: (N, H0, W0) bool, True on moving pixels, or None. They replace the
            self-derived motion masks in the flow term and are the output masks.
    """

    intrinsics: np.ndarray | None = None
    poses_c2w: np.ndarray | None = None
    poses_mode: PosesMode = "fixed"
    dynamic_masks: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.poses_mode not in POSES_MODES:
            raise InputError(f"poses_mode must be {' or '.join(POSES_MODES)}, got {self.poses_mode!r}")
        if self.intrinsics is not None:
            object.__setattr__(self, "intrinsics", check_intrinsics(self.intrinsics, "intrinsics"))
        if self.poses_c2w is not None:
            object.__setattr__(self, "poses_c2w", check_poses(self.poses_c2w, "poses_c2w"))
        if self.dynamic_masks is not None and (self.dynamic_masks.ndim != 3 or self.dynamic_masks.dtype != bool):
            raise InputError(f"dynamic_masks must be (N, H0, W0) bool, got {self.dynamic_masks.shape} "
                             f"{self.dynamic_masks.dtype}")

    @property
    def fixed_c2w(self) -> np.ndarray | None:
        """(N, 4, 4) poses to return unchanged (`fixed` mode), else None."""
        return self.poses_c2w if self.poses_mode == "fixed" else None

    def summary(self) -> dict[str, Any]:
        """What was given, for the reconstruction's meta."""
        return {"intrinsics": self.intrinsics is not None,
                "poses": None if self.poses_c2w is None else self.poses_mode,
                "dynamic_masks": self.dynamic_masks is not None}


def _read_rows(path: Path, what: str) -> list[tuple[int, list[float]]]:
    """(line number, finite numbers) of every non-blank, non-`#` line of a text file."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {what} {path}: {getattr(err, 'strerror', None) or err}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = [float(f) for f in line.replace(",", " ").split()]
        except ValueError:
            raise InputError(f"{path}:{number}: expected numbers, got {line.strip()!r}") from None
        if not np.all(np.isfinite(row)):
            raise InputError(f"{path}:{number}: NaN or infinite value in {line.strip()!r}")
        rows.append((number, row))
    if not rows:
        raise InputError(f"{what} file {path} holds no numbers")
    return rows


def read_intrinsics(path: str | Path, num_frames: int) -> np.ndarray:
    """K per frame from a text file: one 3x3 K (3 rows of 3), or 1 or N rows of 9 (K row-major,
    like `pred_intrinsics.txt`), or 1 or N rows of 4 (`fx fy cx cy`); one K serves every frame.

    Returns:
        (N, 3, 3) float64.

    Raises:
        InputError: missing file, other layouts, a count other than 1 or N, non-finite values,
            or not a pinhole K.
    """
    path = Path(path)
    rows = [row for _, row in _read_rows(path, "intrinsics")]
    lengths = {len(row) for row in rows}
    if lengths == {3} and len(rows) == 3:
        k = np.array(rows)[None]
    elif lengths == {9}:
        k = np.array(rows).reshape(-1, 3, 3)
    elif lengths == {4}:
        fx, fy, cx, cy = np.array(rows).T
        k = np.zeros((len(rows), 3, 3))
        k[:, 0, 0], k[:, 1, 1], k[:, 0, 2], k[:, 1, 2], k[:, 2, 2] = fx, fy, cx, cy, 1
    else:
        raise InputError(f"{path}: expected one 3x3 K (3 rows of 3), or rows of 9 (K row-major) or of 4 "
                         f"(fx fy cx cy); got {len(rows)} rows of {', '.join(map(str, sorted(lengths)))} numbers")
    if len(k) == 1:
        k = np.repeat(k, num_frames, axis=0)
    check_count(k, num_frames, str(path), "intrinsics")
    return check_intrinsics(k, str(path))


def read_poses(path: str | Path, num_frames: int, *, fmt: TrajectoryFormat) -> np.ndarray:
    """(N, 4, 4) float64 camera-to-world poses of a trajectory file (`read_trajectory`), one per frame."""
    _, c2w = read_trajectory(path, fmt=fmt)
    check_count(c2w, num_frames, str(path), "poses")
    return check_poses(c2w, str(path))


def _mask_path(folder: Path, name: str) -> Path:
    found = [folder / f"{name}{s}" for s in sorted(IMAGE_SUFFIXES) if (folder / f"{name}{s}").is_file()]
    if not found:
        raise InputError(f"{folder}: no mask for frame {name!r} (expected {name}.png or another image)")
    if len(found) > 1:
        raise InputError(f"{folder}: several masks for frame {name!r} ({', '.join(p.name for p in found)}); keep one")
    return found[0]


def read_masks(folder: str | Path, names: Sequence[str], size: tuple[int, int]) -> np.ndarray:
    """One mask image per frame, `folder/<frame name>.<image suffix>`; nonzero (grey level) = dynamic.

    A mask of another size than the frame is resized (nearest) with a warning.

    Args:
        folder: the mask folder.
        names: N frame names (file stems).
        size: (H0, W0) of the frames.

    Returns:
        (N, H0, W0) bool.

    Raises:
        InputError: missing folder, a frame without a mask or with several, an unreadable image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: mask folder not found")
    masks, resized = [], []
    for name in names:
        path = _mask_path(folder, name)
        try:
            with Image.open(path) as image:
                mask = np.asarray(image.convert("L")) > 0
        except (UnidentifiedImageError, OSError) as err:
            raise InputError(f"{path}: unreadable mask image ({err})") from None
        if mask.shape != tuple(size):
            resized.append(path.name)
            mask = cv2.resize(mask.astype(np.uint8), size[::-1], interpolation=cv2.INTER_NEAREST) > 0
        masks.append(mask)
    if resized:
        logger.warning("%d mask(s) of another size than the frames (%s ...) resized (nearest) to %dx%d",
                       len(resized), resized[0], size[1], size[0])
    return np.stack(masks)


@dataclass(frozen=True)
class KnownFiles:
    """Where `align3r run` reads what the user knows (`--focal`, `--intrinsics`, `--poses`, `--masks`)."""

    focal: float | None = None
    """One focal length in pixels of the original frames, principal point at the centre."""
    intrinsics: Path | None = None
    """Text file of K (see `read_intrinsics`); not with `focal`."""
    poses: Path | None = None
    """Trajectory file, one camera-to-world pose per frame."""
    poses_format: TrajectoryFormat | None = None
    """`tum` (`t x y z qx qy qz qw`, default) or `official` (`pred_traj.txt`, `qw` first)."""
    poses_mode: PosesMode | None = None
    """`fixed` (default) or `init`, see `KnownInputs`."""
    masks: Path | None = None
    """Folder of one mask image per frame, same stem as the frame."""

    def __post_init__(self) -> None:
        if self.focal is not None and self.intrinsics is not None:
            raise InputError("give --focal or --intrinsics, not both")
        if self.focal is not None and not (np.isfinite(self.focal) and self.focal > 0):
            raise InputError(f"--focal must be a positive number of pixels, got {self.focal}")
        if self.poses is None and (self.poses_format is not None or self.poses_mode is not None):
            raise InputError("--poses-format and --poses-mode need --poses FILE")
        if self.poses_format is not None and self.poses_format not in FORMATS:
            raise InputError(f"--poses-format must be {' or '.join(FORMATS)}, got {self.poses_format!r}")
        if self.poses_mode is not None and self.poses_mode not in POSES_MODES:
            raise InputError(f"--poses-mode must be {' or '.join(POSES_MODES)}, got {self.poses_mode!r}")

    def load(self, names: Sequence[str], size: tuple[int, int]) -> KnownInputs | None:
        """Read and check everything named, for N frames `names` of `size` (H0, W0); None when nothing is."""
        if self.focal is None and self.intrinsics is None and self.poses is None and self.masks is None:
            return None
        num_frames, (height, width) = len(names), size
        intrinsics = None
        if self.focal is not None:
            intrinsics = np.repeat(np.array([[[self.focal, 0, width / 2], [0, self.focal, height / 2], [0, 0, 1]]]),
                                   num_frames, axis=0)
        elif self.intrinsics is not None:
            intrinsics = read_intrinsics(self.intrinsics, num_frames)
        poses = None if self.poses is None else read_poses(self.poses, num_frames, fmt=self.poses_format or "tum")
        masks = None if self.masks is None else read_masks(self.masks, names, size)
        return KnownInputs(intrinsics, poses, self.poses_mode or "fixed", masks)
