"""Saved predictions (`--pred DIR`): one sub-folder per sequence, named as the sequence.

A sequence folder holds either our output layout (`frame_%04d.npy` depth of the i-th evaluated
frame, `pred_traj.txt` in the official `t x y z qw qx qy qz` order, `reconstruction.json`), or
another method's plain per-frame depth files (`.npy`, `.npz` key `depth`, `.pfm`, 16-bit `.png`;
sorted by name, one per evaluated frame) and one standard TUM trajectory `*.txt`
(`t x y z qx qy qz qw`).

How a depth map reaches the ground truth's pixel grid (docs/evaluation.md §5):
- other methods' maps (no `reconstruction.json`): any resolution, resized whole to the ground
  truth bilinearly with half-pixel centres (OpenCV `INTER_LINEAR`);
- our maps on the network grid: mapped back through the resize and centre crop that made the
  grid (recorded in `reconstruction.json`: `meta.input_size`, `meta.config` `size` and `crop`),
  bilinearly; the frame's pixels outside the crop are not covered and leave the valid mask;
- our maps at the input frames' size (`full_res/`; `prior/`): resized as other methods' maps,
  covering every pixel.
Besides the folder's own depth, its `prior/` (the prior alone as depth, written by
`align3r eval --model --prior`) and `aligned_prior/` (`align3r run --aligned-prior`) sub-folders,
where present, are further rows of the same table. When the folder's `full_res/` holds a result
(`align3r run --full-res`), every row is read from its `full_res/` where it has one (so that rows
compare at one resolution), else from its network grid. The protocol's alignment fixes each row's
scale; each row is scored on the pixels it covers (`valid_pixels`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from align3r.errors import InputError
from align3r.infer.preprocess import FrameTransform, frame_transform, restore_map
from align3r.io.results import MANIFEST
from align3r.io.trajectory import read_trajectory
from align3r.pipeline.job import FULL_RES
from align3r.prior.files import read_prior_file

OUR_DEPTH = re.compile(r"frame_(\d{4,})\.npy")
PLAIN_DEPTH_SUFFIXES = (".npy", ".npz", ".pfm", ".png")
OFFICIAL_TRAJECTORY = "pred_traj.txt"
PREDICTION_ROW = "prediction"
"""The folder's own depth (align3r's in our layout): the table's main row."""
PRIOR_ROW = "prior"
"""Sub-folder holding the prior alone as depth (written by `align3r eval --model --prior`)."""
ALIGNED_PRIOR_ROW = "aligned_prior"
"""Sub-folder holding the aligned prior (`align3r run --aligned-prior`)."""
ROW_ORDER = (PRIOR_ROW, PREDICTION_ROW, ALIGNED_PRIOR_ROW)
"""The depth rows of a sequence in table order."""


@dataclass(frozen=True)
class SequencePrediction:
    """Where a sequence's depth rows are and how their maps reach the evaluated frames."""

    rows: dict[str, Path]
    """row name (`ROW_ORDER`) -> folder of its per-frame depth files; the prediction row always."""
    transform: FrameTransform | None
    """the network grid's geometry of our output layout; None for other methods' folders."""


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


def network_transform(folder: Path) -> FrameTransform | None:
    """The resize and crop that made our output folder's network grid; None without `reconstruction.json`.

    `reconstruct` calls `frame_transform(*input_size, size=config.size, crop=config.crop)`; the
    manifest's `size` must be that transform's output.

    Raises:
        InputError: the manifest is unreadable, lacks those keys, or its size is not the transform's.
    """
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        height, width = (int(v) for v in manifest["meta"]["input_size"])
        size, crop = int(manifest["meta"]["config"]["size"]), bool(manifest["meta"]["config"]["crop"])
        grid = tuple(int(v) for v in manifest["size"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path}: cannot map the depth onto the evaluated frames (unreadable, or no size, "
                         f"meta.input_size, meta.config size and crop: {err!r}); rerun align3r run") from None
    transform = frame_transform(height, width, size=size, crop=crop)
    if transform.output_size != grid:
        raise InputError(f"{path}: size {grid} is not the {transform.output_size} grid its input_size and config "
                         "give; the geometry cannot be mapped onto the evaluated frames")
    return transform


def sequence_prediction(folder: Path, count: int) -> SequencePrediction:
    """A sequence's depth rows (checked to hold `count` depth files each) and their geometry.

    Raises:
        InputError: missing depth files in a row, or an unmappable `reconstruction.json`.
    """
    full_res = (folder / FULL_RES / MANIFEST).is_file()
    rows = {}
    for name in ROW_ORDER:
        row = folder if name == PREDICTION_ROW else folder / name
        if row.is_dir():
            rows[name] = row / FULL_RES if full_res and (row / FULL_RES / MANIFEST).is_file() else row
            depth_files(rows[name], count)
    return SequencePrediction(rows, network_transform(folder))


def resize_depth(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) depth -> (H, W) float32, bilinear with half-pixel centres (unchanged if already (H, W))."""
    if depth.shape == size:
        return depth.astype(np.float32)
    return cv2.resize(depth.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def to_ground_truth_grid(depth: np.ndarray, size: tuple[int, int], transform: FrameTransform | None,
                         path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One depth map on the ground truth's (H, W) grid, and the pixels it covers (module docstring).

    Args:
        depth: (h, w) map as stored.
        size: (H, W) of the ground truth.
        transform: the folder's network-grid geometry, or None for another method's folder.
        path: the map's file, for messages.

    Returns:
        depth: (H, W) float32; covered: (H, W) bool, False on the pixels the network's crop cut away.

    Raises:
        InputError: a map of our layout neither on the network grid nor at the input frames' size.
    """
    if transform is None or depth.shape == transform.input_size:
        return resize_depth(depth, size), np.ones(size, dtype=bool)
    if depth.shape != transform.output_size:
        raise InputError(f"{path}: depth of shape {depth.shape} is neither on the network grid "
                         f"{transform.output_size} nor at the frames' size {transform.input_size} ({MANIFEST})")
    restored, covered = restore_map(depth, transform, interpolation="linear", outside="edge")
    if covered.shape != size:
        covered = cv2.resize(covered.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST) > 0
    return resize_depth(restored, size), covered


def read_depths(folder: Path, size: tuple[int, int], count: int,
                transform: FrameTransform | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A row's `count` depth maps on the ground truth's grid `(H, W)`, and the pixels they cover.

    Returns:
        depth: (count, H, W) float32; covered: (count, H, W) bool.

    Raises:
        InputError: missing files, a map that is not 2-D or cannot be mapped, or non-finite values
            (naming the file).
    """
    maps, covered = [], []
    for path in depth_files(folder, count):
        depth = np.squeeze(np.asarray(read_prior_file(path)[0]))
        if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.number):
            raise InputError(f"{path}: expected one (H, W) depth map, got {depth.dtype} {depth.shape}")
        if not np.isfinite(depth).all():
            raise InputError(f"{path}: depth has NaN or infinite values")
        on_grid, inside = to_ground_truth_grid(depth, size, transform, path)
        maps.append(on_grid)
        covered.append(inside)
    return np.stack(maps), np.stack(covered)


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
