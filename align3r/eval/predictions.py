"""Another method's saved predictions (`--pred DIR`): one sub-folder per sequence, named as the sequence.

A sequence folder holds either our output layout (`frame_%04d.npy` depth of the i-th evaluated
frame, `pred_traj.txt` in the official `t x y z qw qx qy qz` order), or plain per-frame depth
files (`.npy`, `.npz` key `depth`, `.pfm`, 16-bit `.png`; sorted by name, one per evaluated
frame) and one standard TUM trajectory `*.txt` (`t x y z qx qy qz qw`). Depth may have any
resolution and any scale: it is resized to the ground truth bilinearly with half-pixel centres
(OpenCV `INTER_LINEAR`, docs/evaluation.md §5); the alignment of the protocol fixes the scale.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from align3r.errors import InputError
from align3r.io.trajectory import read_trajectory
from align3r.prior.files import read_prior_file

OUR_DEPTH = re.compile(r"frame_(\d{4,})\.npy")
PLAIN_DEPTH_SUFFIXES = (".npy", ".npz", ".pfm", ".png")
OFFICIAL_TRAJECTORY = "pred_traj.txt"


def prediction_folder(pred_root: Path, sequence: str) -> Path:
    """`pred_root/sequence`, or InputError naming the missing sequence."""
    folder = pred_root / sequence
    if not folder.is_dir():
        raise InputError(f"--pred {pred_root}: no predictions for sequence {sequence} (expected folder {folder})")
    return folder


def depth_files(folder: Path, count: int) -> list[Path]:
    """The `count` depth files of a prediction folder, in frame order.

    Raises:
        InputError: a `frame_%04d.npy` of 0..count-1 is missing, or the plain files are not `count`.
    """
    ours = {int(m.group(1)): p for p in folder.iterdir() if (m := OUR_DEPTH.fullmatch(p.name))}
    if ours:
        missing = [i for i in range(count) if i not in ours]
        if missing:
            raise InputError(f"{folder}: frame_{missing[0]:04d}.npy is missing ({count} evaluated frames)")
        return [ours[i] for i in range(count)]
    plain = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PLAIN_DEPTH_SUFFIXES)
    if len(plain) != count:
        raise InputError(f"{folder}: {len(plain)} depth files ({', '.join(PLAIN_DEPTH_SUFFIXES)}) for "
                         f"{count} evaluated frames; store one per frame or frame_%04d.npy")
    return plain


def resize_depth(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) depth -> (H, W) float32, bilinear with half-pixel centres (unchanged if already (H, W))."""
    if depth.shape == size:
        return depth.astype(np.float32)
    return cv2.resize(depth.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def read_depths(folder: Path, size: tuple[int, int], count: int) -> np.ndarray:
    """(count, H, W) float32 predicted depth at the ground truth's size `(H, W)`.

    Raises:
        InputError: missing files, a map that is not 2-D, or non-finite values (naming the file).
    """
    maps = []
    for path in depth_files(folder, count):
        depth = np.squeeze(np.asarray(read_prior_file(path)[0]))
        if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.number):
            raise InputError(f"{path}: expected one (H, W) depth map, got {depth.dtype} {depth.shape}")
        if not np.isfinite(depth).all():
            raise InputError(f"{path}: depth has NaN or infinite values")
        maps.append(resize_depth(depth, size))
    return np.stack(maps)


def read_poses(folder: Path, count: int) -> np.ndarray:
    """(count, 4, 4) float64 predicted camera-to-world, paired with the ground truth by row.

    `pred_traj.txt` (official order) if present, else the folder's one other `.txt` (standard TUM).

    Raises:
        InputError: no or several trajectories, or a row count other than `count`.
    """
    path = folder / OFFICIAL_TRAJECTORY
    if path.is_file():
        _, c2w = read_trajectory(path, fmt="official")
    else:
        candidates = sorted(folder.glob("*.txt"))
        if len(candidates) != 1:
            raise InputError(f"{folder}: expected {OFFICIAL_TRAJECTORY} or one TUM trajectory .txt, "
                             f"found {len(candidates)} .txt files")
        path = candidates[0]
        _, c2w = read_trajectory(path, fmt="tum")
    if len(c2w) != count:
        raise InputError(f"{path}: {len(c2w)} poses for {count} evaluated frames")
    return c2w
