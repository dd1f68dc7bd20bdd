"""The output folder of a reconstruction: official file names (so existing scripts read it) and ours.

Per frame i (N frames, network resolution):
- `frame_%04d.npy` z-depth float32 (official), `frame_%04d_rgb.png` the RGB the network saw;
- `conf_%d.npy` and `init_conf_%d.npy`: log of the raw confidence, float32 (official; equal,
  since we do not run the official `clean_pointcloud`);
- `dynamic_mask_%d.png`: motion mask x 255 (official).
Per video: `pred_traj.txt` (official: `t x y z qw qx qy qz`, camera-to-world), `pred_intrinsics.txt`
(official: 9 values of K per row, `%.6f`), `trajectory_tum.txt` (standard TUM, `qx qy qz qw`,
read by evo), `cameras.npz` (exact float64 `poses_c2w` and `intrinsics`), `quality.png` (the quality
report drawn, when `meta` holds one; `io.quality_plot`) and `reconstruction.json` (frame names, size,
the file list, meta), written last: a folder without it is not a result.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from align3r.atomic import atomic_write_bytes
from align3r.errors import InputError
from align3r.io.quality_plot import QUALITY_PLOT, quality_png
from align3r.io.trajectory import write_trajectory
from align3r.reconstruction import Reconstruction

MANIFEST = "reconstruction.json"
FORMAT = "align3r-reconstruction"
VERSION = 1


def _frame_files(i: int) -> dict[str, str]:
    return {"depth": f"frame_{i:04d}.npy", "rgb": f"frame_{i:04d}_rgb.png", "conf": f"conf_{i}.npy",
            "init_conf": f"init_conf_{i}.npy", "dynamic_mask": f"dynamic_mask_{i}.png"}


def _write_frames(rec: Reconstruction, stage: Path) -> None:
    log_conf = np.log(rec.conf.astype(np.float64)).astype(np.float32)
    for i in range(rec.num_frames):
        files = _frame_files(i)
        np.save(stage / files["depth"], rec.depths[i].astype(np.float32))
        np.save(stage / files["conf"], log_conf[i])
        np.save(stage / files["init_conf"], log_conf[i])
        Image.fromarray(rec.images[i]).save(stage / files["rgb"])
        Image.fromarray(rec.dynamic_masks[i].astype(np.uint8) * 255).save(stage / files["dynamic_mask"])


def _write_cameras(rec: Reconstruction, stage: Path) -> None:
    timestamps = np.arange(rec.num_frames, dtype=np.float64)
    write_trajectory(stage / "pred_traj.txt", timestamps, rec.poses_c2w, fmt="official")
    write_trajectory(stage / "trajectory_tum.txt", timestamps, rec.poses_c2w, fmt="tum")
    np.savetxt(stage / "pred_intrinsics.txt", rec.intrinsics.reshape(-1, 9), fmt="%.6f")
    np.savez(stage / "cameras.npz", poses_c2w=rec.poses_c2w.astype(np.float64),
             intrinsics=rec.intrinsics.astype(np.float64))


def save_reconstruction(rec: Reconstruction, folder: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write `rec` into `folder` (created if needed; other files there are left alone).

    Every file is staged in a hidden folder and moved into place; `reconstruction.json` last.

    Raises:
        InputError: `folder` already holds a reconstruction and `overwrite` is False.
    """
    folder = Path(folder)
    old = folder / MANIFEST
    if old.exists() and not overwrite:
        raise InputError(f"{folder} already holds a reconstruction; pass --overwrite to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=folder, prefix=".partial-"))
    try:
        _write_frames(rec, stage)
        _write_cameras(rec, stage)
        plot = quality_png(rec)
        if plot is not None:
            (stage / QUALITY_PLOT).write_bytes(plot)
        files = sorted(p.name for p in stage.iterdir())
        stale = set(json.loads(old.read_text()).get("files", [])) - set(files) if old.exists() else set()
        old.unlink(missing_ok=True)  # the folder stops being a result until the new manifest lands
        for name in stale:
            (folder / name).unlink(missing_ok=True)
        for name in files:
            os.replace(stage / name, folder / name)
        manifest = {"format": FORMAT, "version": VERSION, "names": list(rec.names),
                    "size": list(rec.depths.shape[1:]), "files": files + [MANIFEST], "meta": rec.meta}
        atomic_write_bytes(old, json.dumps(manifest, indent=2).encode())
    finally:
        shutil.rmtree(stage, ignore_errors=True)


class OutputFolder:
    """Lazy, per-frame access to a saved reconstruction (the viewer and exports read it so)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        try:
            manifest = json.loads((self.folder / MANIFEST).read_text())
        except (OSError, json.JSONDecodeError):
            raise InputError(f"{self.folder}: not a reconstruction folder (no readable {MANIFEST})") from None
        if manifest.get("format") != FORMAT or manifest.get("version", 0) > VERSION:
            raise InputError(f"{self.folder / MANIFEST}: not a reconstruction of this align3r version")
        self.names: list[str] = manifest["names"]
        self.size: tuple[int, int] = tuple(manifest["size"])
        self.meta: dict[str, Any] = manifest["meta"]
        cameras = np.load(self.folder / "cameras.npz")
        self.poses_c2w: np.ndarray = cameras["poses_c2w"]
        self.intrinsics: np.ndarray = cameras["intrinsics"]

    @property
    def num_frames(self) -> int:
        return len(self.names)

    def _path(self, kind: str, i: int) -> Path:
        return self.folder / _frame_files(i)[kind]

    def depth(self, i: int) -> np.ndarray:
        """(H, W) float32 z-depth of frame i."""
        return np.load(self._path("depth", i))

    def conf(self, i: int) -> np.ndarray:
        """(H, W) float32 raw confidence of frame i."""
        return np.exp(np.load(self._path("conf", i)).astype(np.float64)).astype(np.float32)

    def image(self, i: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB of frame i."""
        return np.asarray(Image.open(self._path("rgb", i)).convert("RGB"))

    def dynamic_mask(self, i: int) -> np.ndarray:
        """(H, W) bool motion mask of frame i."""
        return np.asarray(Image.open(self._path("dynamic_mask", i))) > 127


def load_reconstruction(folder: str | os.PathLike) -> Reconstruction:
    """All of a saved reconstruction in memory."""
    out = OutputFolder(folder)
    frames = range(out.num_frames)
    return Reconstruction(images=np.stack([out.image(i) for i in frames]),
                          depths=np.stack([out.depth(i) for i in frames]),
                          conf=np.stack([out.conf(i) for i in frames]), poses_c2w=out.poses_c2w,
                          intrinsics=out.intrinsics, dynamic_masks=np.stack([out.dynamic_mask(i) for i in frames]),
                          names=out.names, meta=out.meta)
