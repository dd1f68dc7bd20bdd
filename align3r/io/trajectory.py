"""Camera trajectories as text files: the official `pred_traj.txt` variant and standard TUM.

Both formats hold one camera-to-world pose per line after a time stamp: `t x y z` then a unit
quaternion, ordered (w, x, y, z) in the official variant (`"official"`, written by the
official `save_tum_poses`) and (x, y, z, w) in standard TUM (`"tum"`, read by evo). Lines
starting with `#` and blank lines are skipped on reading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch

from align3r.atomic import atomic_write_bytes
from align3r.errors import InputError
from align3r.geometry import check_shape, qwxyz_to_qxyzw, qxyzw_to_qwxyz, qxyzw_to_rotmat, rotmat_to_qxyzw

TrajectoryFormat = Literal["official", "tum"]
FORMATS: tuple[TrajectoryFormat, ...] = ("official", "tum")
UNIT_TOLERANCE = 1e-3
"""Largest | |q| - 1 | read as a rotation (files with 4 decimals are within ~1e-4)."""


def c2w_to_rows(timestamps: np.ndarray, c2w: np.ndarray, *, fmt: TrajectoryFormat) -> np.ndarray:
    """Poses to file rows.

    Args:
        timestamps: (N,) seconds or frame indices.
        c2w: (N, 4, 4) camera-to-world rigid transforms.
        fmt: "official" -> `t x y z qw qx qy qz`; "tum" -> `t x y z qx qy qz qw`.

    Returns:
        (N, 8) float64 rows, quaternions with w >= 0.
    """
    c2w_t = torch.as_tensor(np.asarray(c2w, dtype=np.float64))
    check_shape("c2w", c2w_t, (4, 4))
    qxyzw = rotmat_to_qxyzw(c2w_t[:, :3, :3])
    quat = qxyzw_to_qwxyz(qxyzw) if fmt == "official" else qxyzw
    stamps = torch.as_tensor(np.asarray(timestamps, dtype=np.float64))[:, None]
    return torch.cat([stamps, c2w_t[:, :3, 3], quat], dim=1).numpy()


def rows_to_c2w(rows: np.ndarray, *, fmt: TrajectoryFormat) -> tuple[np.ndarray, np.ndarray]:
    """File rows (N, 8) in `fmt` -> time stamps (N,) and c2w (N, 4, 4), both float64."""
    rows_t = torch.as_tensor(np.asarray(rows, dtype=np.float64))
    check_shape("rows", rows_t, (8,))
    quat = rows_t[:, 4:]
    qxyzw = qwxyz_to_qxyzw(quat) if fmt == "official" else quat
    c2w = torch.eye(4, dtype=torch.float64).repeat(len(rows_t), 1, 1)
    c2w[:, :3, :3] = qxyzw_to_rotmat(qxyzw)
    c2w[:, :3, 3] = rows_t[:, 1:4]
    return rows_t[:, 0].numpy(), c2w.numpy()


def read_trajectory(path: str | Path, *, fmt: TrajectoryFormat) -> tuple[np.ndarray, np.ndarray]:
    """Read a trajectory file.

    Args:
        path: text file, one pose per line.
        fmt: "official" (`t x y z qw qx qy qz`) or "tum" (`t x y z qx qy qz qw`).

    Returns:
        timestamps (N,) float64 and c2w (N, 4, 4) float64.

    Raises:
        InputError: missing file, a line without 8 numbers, non-finite values, a quaternion of
            norm other than 1.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown trajectory format {fmt!r} (known: {', '.join(FORMATS)})")
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise InputError(f"cannot read trajectory {path}: {err.strerror}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.replace(",", " ").split()
        try:
            row = [float(f) for f in fields]
        except ValueError:
            row = []
        if len(row) != 8 or not np.all(np.isfinite(row)) or not any(row[4:]):
            raise InputError(f"{path}:{number}: expected 8 finite numbers 't x y z' + a non-zero "
                             f"quaternion ({fmt} order), got {line.strip()!r}")
        norm = float(np.linalg.norm(row[4:]))
        if abs(norm - 1) > UNIT_TOLERANCE:
            raise InputError(f"{path}:{number}: quaternion of norm {norm:.6g} is not a rotation (unit norm)")
        rows.append(row)
    if not rows:
        raise InputError(f"trajectory {path} holds no poses")
    return rows_to_c2w(np.array(rows), fmt=fmt)


def write_trajectory(path: str | Path, timestamps: np.ndarray, c2w: np.ndarray, *,
                     fmt: TrajectoryFormat) -> None:
    """Write a trajectory file atomically (temp file, then `os.replace`), shortest exact floats.

    Args:
        path: destination file.
        timestamps: (N,) seconds or frame indices.
        c2w: (N, 4, 4) camera-to-world rigid transforms.
        fmt: "official" (`t x y z qw qx qy qz`) or "tum" (`t x y z qx qy qz qw`).
    """
    rows = c2w_to_rows(timestamps, c2w, fmt=fmt)
    text = "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in rows)
    atomic_write_bytes(path, text.encode())
