"""Evaluation sets in their official layouts (docs/evaluation.md §1.2, §2.2, §3): sequences, frames, ground truth.

One small class per dataset over `EvalDataset`; `DATASETS` maps the CLI name to the class.
`--root` is the dataset's own top folder (`data/sintel`, `data/bonn`, `data/tum`,
`data/PointOdyssey_proc`, `data/SceneFlow/FlyingThings3D_proc`, `data/kitti`, or a folder of
synthetic sequences). Images and ground truth are paired by rank in their sorted folders,
never by time stamp, as the official scripts do.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from align3r.errors import InputError
from align3r.eval.gt_files import read_dpt, read_png_depth, read_sintel_cam
from align3r.eval.metrics import DEPTH_MAX
from align3r.io.formats import read_npy, read_npz, read_pfm
from align3r.io.trajectory import read_trajectory

Task = Literal["depth", "pose"]
BONN_SEQUENCES = tuple(f"rgbd_bonn_{s}" for s in ("balloon2", "crowd2", "crowd3", "person_tracking2", "synchronous"))
SINTEL_SEQUENCES = ("alley_1", "alley_2", "ambush_2", "ambush_4", "ambush_5", "ambush_6", "ambush_7", "bamboo_1",
                    "bamboo_2", "bandage_1", "bandage_2", "cave_2", "cave_4", "market_2", "market_5", "market_6",
                    "mountain_1", "shaman_2", "shaman_3", "sleeping_1", "sleeping_2", "temple_2", "temple_3")


def _sorted_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files of `folder` whose names end with one of `suffixes`, sorted by name; InputError if none."""
    if not folder.is_dir():
        raise InputError(f"{folder}: folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffixes))
    if not files:
        raise InputError(f"{folder}: no {' or '.join(suffixes)} files")
    return files


def _child_folders(top: Path) -> dict[str, Path]:
    """The visible sub-folders of `top` by name, sorted; none if `top` is not a folder.

    Raises:
        InputError: `top` cannot be listed.
    """
    if not top.is_dir():
        return {}
    try:
        return {p.name: p for p in sorted(top.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    except OSError as err:
        raise InputError(f"{top}: cannot list the folder ({err.strerror or err})") from None


def _bottom_folders(top: Path) -> dict[str, Path]:
    """Folders below `top` without sub-folders, keyed by their path relative to `top` ('A/0001').

    Raises:
        InputError: `top` is not a folder or cannot be listed.
    """
    if not top.is_dir():
        raise InputError(f"{top}: folder not found; is --root the dataset's top folder?")
    try:
        folders = [p for p in top.rglob("*") if p.is_dir() and not any(c.is_dir() for c in p.iterdir())]
    except OSError as err:
        raise InputError(f"{top}: cannot list the folder ({err.strerror or err})") from None
    return {p.relative_to(top).as_posix(): p for p in sorted(folders)}


class EvalDataset:
    """Shared reader: sequence list, evaluated frames and ground truth of one benchmark.

    Subclasses name their layout through the class attributes and four small hooks:
    `_sequence_folders`, `_images`, `_depth_files` and `_read_depth`, plus `_poses` for
    pose benchmarks and `_cameras` where every frame's camera is stored (the temporal alignment error).

    Args:
        root: the dataset's top folder.
    """

    name: ClassVar[str]
    tasks: ClassVar[tuple[Task, ...]] = ("depth",)
    """what the dataset has ground truth for."""
    official_sequences: ClassVar[tuple[str, ...] | None] = None
    """the official list: those absent are reported (`missing_sequences`), not required; None: no list."""
    listed_only: ClassVar[bool] = False
    """evaluate only the official list's sequences present (Bonn: its folder holds more); False:
    every sequence folder present, as the official scripts list them (`os.listdir`)."""
    depth_max: ClassVar[float] = DEPTH_MAX
    """upper bound of valid ground-truth depth and the clip of aligned depth (official 70)."""
    depth_frames: ClassVar[int | None] = 110
    """depth: the first this many images of a sequence (official 110); None: all."""
    pose_frames: ClassVar[int | None] = None
    """pose: the first this many images and ground-truth rows; None: all."""
    image_suffixes: ClassVar[tuple[str, ...]] = (".png",)

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"--root {self.root}: folder not found")

    def sequences(self) -> list[str]:
        """The sequences present, in evaluation order (official scripts: those found on disk).

        Raises:
            InputError: no sequence is present.
        """
        found = self._folders
        names = [s for s in self.official_sequences if s in found] if self.listed_only else list(found)
        if not names:
            raise InputError(f"{self.root}: no {self.name} sequences found; is --root the dataset's top folder?")
        return names

    def missing_sequences(self) -> list[str]:
        """The official sequences absent from `root`, in official order; none without an official list."""
        return [s for s in self.official_sequences or () if s not in self._folders]

    def image_paths(self, sequence: str, task: Task) -> list[Path]:
        """The evaluated frames of `sequence` for `task`, in order."""
        limit = self.depth_frames if task == "depth" else self.pose_frames
        return self._images(self.folder(sequence))[:limit]

    def depth_gt(self, sequence: str) -> np.ndarray:
        """(N, H, W) float32 ground-truth depth of the evaluated frames; invalid pixels as stored.

        Raises:
            InputError: fewer depth files than images, or maps of different sizes.
        """
        folder = self.folder(sequence)
        images = self.image_paths(sequence, "depth")
        files = self._depth_files(folder, images)
        if len(files) < len(images):
            raise InputError(f"{folder}: {len(images)} evaluated images but only {len(files)} depth maps")
        maps = [self._read_depth(path) for path in files[:len(images)]]
        for path, depth in zip(files, maps):
            if depth.shape != maps[0].shape:
                raise InputError(f"{path}: depth of size {depth.shape} differs from the sequence's {maps[0].shape}")
        return np.stack(maps).astype(np.float32)

    def pose_gt(self, sequence: str) -> np.ndarray:
        """(N, 4, 4) float64 ground-truth camera-to-world of the evaluated frames (rows 0..N-1).

        Raises:
            InputError: the dataset has no poses, or fewer poses than evaluated images.
        """
        if "pose" not in self.tasks:
            raise InputError(f"{self.name} has no camera ground truth; evaluate depth instead")
        folder = self.folder(sequence)
        count = len(self.image_paths(sequence, "pose"))
        c2w = self._poses(folder)
        if len(c2w) < count:
            raise InputError(f"{folder}: {count} evaluated images but only {len(c2w)} ground-truth poses")
        return c2w[:count]

    def depth_cameras(self, sequence: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Ground-truth cameras of the depth-evaluated frames, where the dataset stores each frame's.

        Returns:
            (c2w (N, 4, 4) float64, intrinsics (N, 3, 3) float64 pixels), or None when the dataset
            has no per-frame cameras (Bonn and TUM: trajectories paired by row, no intrinsics).

        Raises:
            InputError: fewer cameras than evaluated frames.
        """
        folder = self.folder(sequence)
        cameras = self._cameras(folder)
        if cameras is None:
            return None
        count = len(self.image_paths(sequence, "depth"))
        if len(cameras[0]) < count:
            raise InputError(f"{folder}: {count} evaluated images but only {len(cameras[0])} ground-truth cameras")
        return cameras[0][:count], cameras[1][:count]

    @cached_property
    def _folders(self) -> dict[str, Path]:
        return self._sequence_folders()

    def folder(self, sequence: str) -> Path:
        """The folder of `sequence` (its images, for most layouts)."""
        if sequence not in self._folders:
            raise InputError(f"{self.root}: no {self.name} sequence {sequence!r}")
        return self._folders[sequence]

    def _sequence_folders(self) -> dict[str, Path]:
        """Sequence name -> its folder, in the official order."""
        raise NotImplementedError

    def _images(self, folder: Path) -> list[Path]:
        """All images of a sequence, sorted."""
        raise NotImplementedError

    def _depth_files(self, folder: Path, images: list[Path]) -> list[Path]:
        """The ground-truth depth files paired by rank with `images`."""
        raise NotImplementedError

    def _read_depth(self, path: Path) -> np.ndarray:
        """(H, W) ground-truth depth of one file."""
        raise NotImplementedError

    def _poses(self, folder: Path) -> np.ndarray:
        """(M, 4, 4) camera-to-world of every ground-truth row of a sequence."""
        raise NotImplementedError

    def _cameras(self, folder: Path) -> tuple[np.ndarray, np.ndarray] | None:
        """(M, 4, 4) camera-to-world and (M, 3, 3) intrinsics of every frame, or None if not stored."""
        return None


class SintelDataset(EvalDataset):
    """MPI Sintel, clean pass; root = `data/sintel` (`training/clean`, `training/depth`, `training/camdata_left`).

    Every sequence folder of `training/clean` (officially the 23 training sequences), all frames
    (< 110) for depth and pose; GT 1024x436.
    """

    name = "sintel"
    tasks = ("depth", "pose")
    official_sequences = SINTEL_SEQUENCES

    def _sequence_folders(self) -> dict[str, Path]:
        return _child_folders(self.root / "training" / "clean")

    def _images(self, folder: Path) -> list[Path]:
        return _sorted_files(folder, self.image_suffixes)

    def _depth_files(self, folder: Path, images: list[Path]) -> list[Path]:
        return _sorted_files(self.root / "training" / "depth" / folder.name, (".dpt",))

    def _read_depth(self, path: Path) -> np.ndarray:
        return read_dpt(path)

    def _poses(self, folder: Path) -> np.ndarray:
        """Positions are not centred as `pose_test.py` does: the Sim(3) alignment absorbs the shift."""
        return self._cameras(folder)[0]

    def _cameras(self, folder: Path) -> tuple[np.ndarray, np.ndarray]:
        cams = [read_sintel_cam(path) for path in
                _sorted_files(self.root / "training" / "camdata_left" / folder.name, (".cam",))]
        return np.stack([c2w for c2w, _ in cams]), np.stack([k for _, k in cams])


class BonnDataset(EvalDataset):
    """Bonn RGB-D Dynamic; root = `data/bonn`, sequences `rgbd_bonn_dataset/rgbd_bonn_<name>`.

    The five official sequences in the prepared `rgb_110`, `depth_110` (PNG / 5000, 0 invalid)
    and `groundtruth_110.txt` (TUM); depth: 110 frames, pose: the first 30. GT 640x480.
    """

    name = "bonn"
    tasks = ("depth", "pose")
    official_sequences = BONN_SEQUENCES
    listed_only = True
    pose_frames = 30
    prepared = "110"
    units_per_metre = 5000.0

    def _sequence_folders(self) -> dict[str, Path]:
        return _child_folders(self.root / "rgbd_bonn_dataset")

    def _images(self, folder: Path) -> list[Path]:
        return _sorted_files(folder / f"rgb_{self.prepared}", self.image_suffixes)

    def _depth_files(self, folder: Path, images: list[Path]) -> list[Path]:
        return _sorted_files(folder / f"depth_{self.prepared}", (".png",))

    def _read_depth(self, path: Path) -> np.ndarray:
        return read_png_depth(path, self.units_per_metre)

    def _poses(self, folder: Path) -> np.ndarray:
        return read_trajectory(folder / f"groundtruth_{self.prepared}.txt", fmt="tum")[1]


class TumDataset(BonnDataset):
    """TUM RGB-D dynamics; root = `data/tum`, every folder a sequence (`rgbd_dataset_freiburg3_...`).

    Prepared `rgb_50`, `depth_50`, `groundtruth_50.txt`; depth: all 50 prepared frames (the cap is
    110, as for every set), pose: the first 30.
    """

    name = "tum"
    official_sequences = None
    listed_only = False
    prepared = "50"

    def _sequence_folders(self) -> dict[str, Path]:
        return _child_folders(self.root)


class PointOdysseyDataset(EvalDataset):
    """PointOdyssey validation set; root = `data/PointOdyssey_proc`, sequences the bottom folders of `val/`.

    Frames `<k>_rgb.jpg|png` (the first 110) with `<k>_depth.pfm` beside them.
    """

    name = "pointodyssey"
    split = "val"
    sequence_step = 1
    image_suffixes = ("rgb.jpg", "rgb.png")

    def _sequence_folders(self) -> dict[str, Path]:
        folders = _bottom_folders(self.root / self.split) if (self.root / self.split).is_dir() else {}
        return dict(list(folders.items())[::self.sequence_step])

    def _images(self, folder: Path) -> list[Path]:
        return _sorted_files(folder, self.image_suffixes)

    def _depth_files(self, folder: Path, images: list[Path]) -> list[Path]:
        return [path.with_name(path.name.rsplit("rgb.", 1)[0] + "depth.pfm") for path in images]

    def _read_depth(self, path: Path) -> np.ndarray:
        return read_pfm(path)


class FlyingThingsDataset(PointOdysseyDataset):
    """FlyingThings3D test set; root = `data/SceneFlow/FlyingThings3D_proc`, every 20th bottom folder of `TEST/`."""

    name = "flyingthings3d"
    split = "TEST"
    sequence_step = 20


class KittiDataset(EvalDataset):
    """KITTI depth (the video-depth layout of MonST3R / CUT3R `prepare_kitti.py`); root = `data/kitti`.

    `depth_selection/val_selection_cropped/image_gathered/<drive>_02/*.png` and
    `.../groundtruth_depth_gathered/<drive>_02/*.png` (16-bit, / 256, 0 invalid), the first 110
    frames of each validation drive. No upper depth bound (those evaluations pass max_depth=None).
    """

    name = "kitti"
    depth_max = float("inf")

    def _gathered(self, kind: str) -> Path:
        return self.root / "depth_selection" / "val_selection_cropped" / f"{kind}_gathered"

    def _sequence_folders(self) -> dict[str, Path]:
        return _child_folders(self._gathered("image"))

    def _images(self, folder: Path) -> list[Path]:
        return _sorted_files(folder, self.image_suffixes)

    def _depth_files(self, folder: Path, images: list[Path]) -> list[Path]:
        return _sorted_files(self._gathered("groundtruth_depth") / folder.name, (".png",))

    def _read_depth(self, path: Path) -> np.ndarray:
        return read_png_depth(path, 256.0)


class SyntheticDataset(EvalDataset):
    """Our generator's sequences (`align3r synth`); root = a folder of sequence folders or one sequence.

    `rgb/*.png`, `depth/*.npy` (0 where no surface) and `cameras.npz` (`cam2world`); all frames.
    """

    name = "synthetic"
    tasks = ("depth", "pose")
    depth_frames = None

    def _sequence_folders(self) -> dict[str, Path]:
        if (self.root / "cameras.npz").is_file():
            return {self.root.name: self.root}
        return {name: p for name, p in _child_folders(self.root).items() if (p / "cameras.npz").is_file()}

    def _images(self, folder: Path) -> list[Path]:
        return _sorted_files(folder / "rgb", self.image_suffixes)

    def _depth_files(self, folder: Path, images: list[Path]) -> list[Path]:
        return _sorted_files(folder / "depth", (".npy",))

    def _read_depth(self, path: Path) -> np.ndarray:
        return read_npy(path)

    def _poses(self, folder: Path) -> np.ndarray:
        return read_npz(folder / "cameras.npz", ("cam2world",))["cam2world"].astype(np.float64)

    def _cameras(self, folder: Path) -> tuple[np.ndarray, np.ndarray]:
        cameras = read_npz(folder / "cameras.npz", ("cam2world", "intrinsics"))
        return cameras["cam2world"].astype(np.float64), cameras["intrinsics"].astype(np.float64)


DATASETS: dict[str, type[EvalDataset]] = {cls.name: cls for cls in (
    SintelDataset, BonnDataset, TumDataset, PointOdysseyDataset, FlyingThingsDataset, KittiDataset, SyntheticDataset)}
