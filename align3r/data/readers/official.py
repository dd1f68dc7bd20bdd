"""Readers of the five official training sets in their preprocessed `_proc` layout (docs/training.md §2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from align3r.data.readers.base import FrameRecord, SequenceReader, check_matrix, check_size, masked_depth, read_prior
from align3r.io.formats import read_gray, read_npz, read_pfm, read_rgb

StoredPose = Literal["c2w", "w2c_flipped"]
"""How `camera_pose` is stored: an OpenCV c2w, or `E·F` with E an OpenCV world-to-camera."""

FLIP_YZ = np.diag([1.0, -1.0, -1.0, 1.0])
"""F of docs/training.md §2.4: the Blender/OpenGL <-> OpenCV axis flip."""


def c2w_from_stored(stored: np.ndarray, convention: StoredPose) -> np.ndarray:
    """OpenCV camera-to-world (4, 4) float64 from a stored `camera_pose` (4, 4).

    "w2c_flipped": stored = E·F, so c2w = (stored·F)⁻¹ = E⁻¹, in the dataset's own world. The
    official reader returns stored⁻¹ = F·E⁻¹ instead (`my_PointOdyssey.py:107`), the same
    camera in a world turned 180° about x; relative poses, hence the loss, are identical.
    """
    if convention == "c2w":
        return stored
    return np.linalg.inv(stored @ FLIP_YZ)


class ProcReader(SequenceReader):
    """Shared reader of the `_proc` layout: per frame `<id>_rgb.jpg`, `<id>_depth.pfm`,
    `<id>_mask.png`, `<id>_metadata.npz` and `<id>_rgb_pred_depth_<prior>.npz` (docs/training.md §2.1).

    Depth is multiplied by `mask/255 > 0.1` (masked pixels -> 0) and by `depth_scale`.
    """

    stored_pose: ClassVar[StoredPose] = "c2w"
    depth_scale: float = 1.0
    """Multiplies the stored depth (unit conversion; 1 keeps the dataset's unit)."""

    def _frame_ids(self, path: Path) -> list[str]:
        return sorted(p.name[: -len("_rgb.jpg")] for p in path.glob("*_rgb.jpg"))

    def _frame_files(self, path: Path, frame_id: str) -> list[Path]:
        suffixes = ("_rgb.jpg", "_depth.pfm", "_mask.png", "_metadata.npz", f"_rgb_pred_depth_{self.prior}.npz")
        return [path / f"{frame_id}{suffix}" for suffix in suffixes]

    def _read(self, path: Path, frame_id: str) -> FrameRecord:
        rgb_path, depth_path, mask_path, meta_path, prior_path = self._frame_files(path, frame_id)
        rgb = read_rgb(rgb_path)
        size = rgb.shape[:2]
        valid = check_size(mask_path, read_gray(mask_path), size) / 255 > 0.1
        depth = masked_depth(check_size(depth_path, read_pfm(depth_path), size), valid) * self.depth_scale
        meta = read_npz(meta_path, ("camera_intrinsics", "camera_pose"))
        intrinsics = check_matrix(meta_path, "camera_intrinsics", meta["camera_intrinsics"], (3, 3))
        stored = check_matrix(meta_path, "camera_pose", meta["camera_pose"], (4, 4))
        prior_depth, focal = read_prior(prior_path, size)
        return FrameRecord(rgb=rgb, depth=depth.astype(np.float32), intrinsics=intrinsics.astype(np.float32),
                           c2w=c2w_from_stored(stored, self.stored_pose).astype(np.float32),
                           prior_depth=prior_depth, prior_focal=focal, label=str(rgb_path), dataset=self.name)


class PointOdysseyReader(ProcReader):
    """PointOdyssey; root = `PointOdyssey_proc` (the official reader is given its `train/`).

    Stored pose `E·F` with E the raw OpenCV world-to-camera; returned as E⁻¹ (see `c2w_from_stored`).
    """

    name = "pointodyssey"
    split_patterns = {"train": ("train/*",), "val": ("val/*",)}
    stored_pose = "w2c_flipped"


class TartanAirReader(ProcReader):
    """TartanAir; root = `Tartanair_proc`, sequences `<env>_Easy_<Pxxx>_{left,right}`.

    Stored pose: the NED c2w conjugated into OpenCV axes (`preprocess_Tartanair.py:15-31`), an
    OpenCV c2w in a permuted world; returned as is.
    """

    name = "tartanair"
    excluded = ("Hard",)


class SpringReader(ProcReader):
    """Spring; root = `spring_proc`, sequences `train/<seq>`.

    Args:
        reading: "official" returns the stored `E·F` as c2w (`my_spring.py:112`); "monst3r"
            reads the raw E as an OpenCV world-to-camera and returns E⁻¹
            (`M/dust3r/datasets/spring_dataset.py:163-164`). Which is right is unsettled
            (docs/training.md §12).
        depth_scale: the stored depth is fx/disparity, in stereo baselines (official, 1.0);
            0.065 converts it to metres (docs/training.md §11 item 9), which also makes the 400
            filter metric.
        **options: as `SequenceReader`.
    """

    name = "spring"
    split_patterns = {"train": ("train/*",)}

    def __init__(self, root: str | Path, *, reading: Literal["official", "monst3r"] = "official",
                 depth_scale: float = 1.0, **options: Any) -> None:
        self.stored_pose = "c2w" if reading == "official" else "w2c_flipped"
        self.depth_scale = depth_scale
        super().__init__(root, **options)


class SceneFlowReader(ProcReader):
    """SceneFlow (FlyingThings3D, Driving, Monkaa); root = `SceneFlow` holding the `*_proc` folders.

    Depth in scene units (baseline 1). Stored pose: Blender c2w times F, an OpenCV c2w; as is.
    """

    name = "sceneflow"
    split_patterns = {
        "train": ("Driving_proc/*/*/*/*", "Monkaa_proc/*/*", "FlyingThings3D_proc/TRAIN/*/*/*"),
        "test": ("FlyingThings3D_proc/TEST/*/*/*",),
    }


class VKITTI2Reader(ProcReader):
    """Virtual KITTI 2; root = `vkitti_2.0.3_proc`, sequences `scene<k>_{left,right}`.

    Stored pose: the inverse of the raw OpenCV world-to-camera, an OpenCV c2w; as is. Each
    sequence is listed once: the official reader lists every directory twice
    (`my_vkitti2.py:67-69`), which only duplicates every pair in the pool (docs/training.md §11 item 10).
    """

    name = "vkitti2"
