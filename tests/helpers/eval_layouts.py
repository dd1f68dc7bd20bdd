"""Test helper: miniature evaluation sets in each official layout, written from the synthetic generator.

`write_benchmark(name, root, sequences)` writes every sequence in dataset `name`'s layout and
returns the ground truth exactly as the dataset's reader must give it back (quantised as the
files store it, invalid pixels as the official readers return them), so tests compare with
known answers.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from align3r.data.synthetic import SynthConfig, SyntheticSequence, generate_sequence, write_sequence
from align3r.eval.datasets import BONN_SEQUENCES, SINTEL_SEQUENCES
from align3r.eval.gt_files import SINTEL_TAG
from align3r.io.formats import write_pfm
from align3r.io.trajectory import write_trajectory

PNG_UNITS = {"bonn": 5000.0, "tum": 5000.0, "kitti": 256.0}


@lru_cache(maxsize=8)
def tiny_sequence(seed: int, frames: int = 4) -> SyntheticSequence:
    """A 16x12 indoor synthetic sequence (depth 1.5-10 m, every pixel a surface)."""
    return generate_sequence(SynthConfig(frames=frames, width=16, height=12, seed=seed, setting="indoor", priors=()))


def with_invalid_pixels(depth: np.ndarray, dataset: str) -> np.ndarray:
    """(N, H, W) copy with the pixels the protocol must ignore: a missing corner (0), and for float
    formats also far depth (80 > 70) and a value below 1e-3 (KITTI has no upper bound)."""
    depth = depth.copy()
    depth[:, :2, :3] = 0.0
    if dataset not in PNG_UNITS:
        depth[:, -1, -2:] = 80.0
        depth[:, -2, 0] = 1e-4
    return depth


def official_sequences(name: str, count: int) -> list[str]:
    """Sequence names a miniature `name` set uses (the official list where there is one)."""
    fixed = {"sintel": SINTEL_SEQUENCES, "bonn": BONN_SEQUENCES}
    if name in fixed:
        return list(fixed[name])
    if name == "flyingthings3d":
        return [f"A/{20 * i:04d}" for i in range(count)]
    return [f"seq_{i}" for i in range(count)]


def _write_png_depth(path: Path, depth: np.ndarray, units: float) -> np.ndarray:
    stored = np.round(np.clip(depth, 0, None) * units).astype(np.uint16)
    Image.fromarray(stored).save(path)
    read_back = (stored / units).astype(np.float32)
    read_back[stored == 0] = -1.0
    return read_back


def _write_dpt(path: Path, depth: np.ndarray) -> None:
    header = np.array([SINTEL_TAG], "<f4").tobytes() + np.array(depth.shape[::-1], "<i4").tobytes()
    path.write_bytes(header + depth.astype("<f4").tobytes())


def _write_cam(path: Path, intrinsics: np.ndarray, c2w: np.ndarray) -> None:
    w2c = np.linalg.inv(c2w)[:3]
    path.write_bytes(np.array([SINTEL_TAG], "<f4").tobytes() + intrinsics.astype("<f8").tobytes()
                     + w2c.astype("<f8").tobytes())


def _write_sintel(root: Path, name: str, seq: SyntheticSequence, depth: np.ndarray) -> np.ndarray:
    folders = [root / "training" / kind / name for kind in ("clean", "depth", "camdata_left")]
    for folder in folders:
        folder.mkdir(parents=True)
    for i, (rgb, d) in enumerate(zip(seq.images, depth), start=1):
        Image.fromarray(rgb).save(folders[0] / f"frame_{i:04d}.png")
        _write_dpt(folders[1] / f"frame_{i:04d}.dpt", d)
        _write_cam(folders[2] / f"frame_{i:04d}.cam", seq.intrinsics[i - 1], seq.poses_c2w[i - 1])
    return depth


def _write_rgbd(root: Path, name: str, seq: SyntheticSequence, depth: np.ndarray, dataset: str) -> np.ndarray:
    top = root / "rgbd_bonn_dataset" / name if dataset == "bonn" else root / name
    prepared = "110" if dataset == "bonn" else "50"
    (top / f"rgb_{prepared}").mkdir(parents=True)
    (top / f"depth_{prepared}").mkdir()
    stamps = 1548266469.5 + 0.033 * np.arange(len(depth))
    read_back = []
    for stamp, rgb, d in zip(stamps, seq.images, depth):
        Image.fromarray(rgb).save(top / f"rgb_{prepared}" / f"{stamp:.6f}.png")
        read_back.append(_write_png_depth(top / f"depth_{prepared}" / f"{stamp:.6f}.png", d, PNG_UNITS[dataset]))
    write_trajectory(top / f"groundtruth_{prepared}.txt", stamps + 0.004, seq.poses_c2w, fmt="tum")
    return np.stack(read_back)


def _write_proc(root: Path, name: str, seq: SyntheticSequence, depth: np.ndarray, split: str) -> np.ndarray:
    folder = root / split / name
    folder.mkdir(parents=True)
    for i, (rgb, d) in enumerate(zip(seq.images, depth)):
        Image.fromarray(rgb).save(folder / f"{i:05d}_rgb.jpg")
        write_pfm(folder / f"{i:05d}_depth.pfm", d)
    return depth


def _write_kitti(root: Path, name: str, seq: SyntheticSequence, depth: np.ndarray) -> np.ndarray:
    top = root / "depth_selection" / "val_selection_cropped"
    (top / "image_gathered" / name).mkdir(parents=True)
    (top / "groundtruth_depth_gathered" / name).mkdir(parents=True)
    read_back = []
    for i, (rgb, d) in enumerate(zip(seq.images, depth), start=5):
        Image.fromarray(rgb).save(top / "image_gathered" / name / f"{i:010d}.png")
        read_back.append(_write_png_depth(top / "groundtruth_depth_gathered" / name / f"{i:010d}.png", d, 256.0))
    return np.stack(read_back)


def write_benchmark(dataset: str, root: Path, sequences: dict[str, SyntheticSequence]) -> dict[str, np.ndarray]:
    """Write `sequences` (name -> sequence) under `root` in `dataset`'s layout.

    Returns:
        name -> (N, H, W) float32 ground truth as the reader must return it.
    """
    expected = {}
    for name, seq in sequences.items():
        depth = with_invalid_pixels(seq.depths, dataset)
        if dataset == "sintel":
            expected[name] = _write_sintel(root, name, seq, depth)
        elif dataset in ("bonn", "tum"):
            expected[name] = _write_rgbd(root, name, seq, depth, dataset)
        elif dataset in ("pointodyssey", "flyingthings3d"):
            expected[name] = _write_proc(root, name, seq, depth, "val" if dataset == "pointodyssey" else "TEST")
        elif dataset == "kitti":
            expected[name] = _write_kitti(root, name, seq, depth)
        else:
            write_sequence(replace(seq, depths=depth), root / name)
            expected[name] = depth
    if dataset == "flyingthings3d":  # the folders between the evaluated every-20th ones
        for index in range(20 * len(sequences) - 19):
            (root / "TEST" / "A" / f"{index:04d}").mkdir(parents=True, exist_ok=True)
    return expected


def write_predictions(pred_root: Path, depths: dict[str, np.ndarray], poses: dict[str, np.ndarray] | None = None) -> None:
    """Our output layout per sequence: `frame_%04d.npy` and, with `poses`, `pred_traj.txt`."""
    for name, depth in depths.items():
        folder = pred_root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, d in enumerate(depth):
            np.save(folder / f"frame_{i:04d}.npy", d.astype(np.float32))
    for name, c2w in (poses or {}).items():
        (pred_root / name).mkdir(parents=True, exist_ok=True)
        write_trajectory(pred_root / name / "pred_traj.txt", np.arange(len(c2w), dtype=np.float64), c2w,
                         fmt="official")
