"""Reader of our synthetic sequences (docs/synthetic.md), the sixth training set (docs/training.md §13.2)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from align3r.data.readers.base import FrameRecord, SequenceReader, check_matrix, check_size, masked_depth, read_prior
from align3r.errors import InputError
from align3r.io.formats import read_npy, read_npz, read_rgb


class SyntheticReader(SequenceReader):
    """Synthetic sequences: `rgb/<id>.png`, `depth/<id>.npy`, `cameras.npz` (`intrinsics` N x 3 x 3,
    `cam2world` N x 4 x 4, OpenCV, indexed by the integer frame id) and
    `prior/<style>/<id>.npz` (`depth`, and `focallength_px` for the depth-pro style; without
    it the prior focal is the GT fx, the official rule for Depth Anything training files).

    `root` is one sequence folder (it holds `cameras.npz`) or a folder of sequence folders.
    Depth is metric; non-finite depth (no surface) becomes 0. The `mask/` folder holds dynamic
    masks, not validity, and is not read.
    """

    name = "synthetic"
    prior_styles: ClassVar[dict[str, str]] = {"depthpro": "depth-pro", "depthanything": "depth-anything"}
    """Prior name -> the generator's style folder under `prior/`."""

    def _sequence_dirs(self, split: str) -> list[Path]:
        if (self.root / "cameras.npz").is_file():
            return [self.root]
        return [p for p in super()._sequence_dirs(split) if (p / "cameras.npz").is_file()]

    def _frame_ids(self, path: Path) -> list[str]:
        return sorted(p.stem for p in (path / "rgb").glob("*.png"))

    def _frame_files(self, path: Path, frame_id: str) -> list[Path]:
        prior_dir = path / "prior" / self.prior_styles[self.prior]
        return [path / "rgb" / f"{frame_id}.png", path / "depth" / f"{frame_id}.npy",
                prior_dir / f"{frame_id}.npz", path / "cameras.npz"]

    def _read(self, path: Path, frame_id: str) -> FrameRecord:
        rgb_path, depth_path, prior_path, cameras_path = self._frame_files(path, frame_id)
        rgb = read_rgb(rgb_path)
        size = rgb.shape[:2]
        depth = masked_depth(check_size(depth_path, read_npy(depth_path).astype(np.float32), size))
        cameras = read_npz(cameras_path, ("intrinsics", "cam2world"))
        index = int(frame_id) if frame_id.isdigit() else -1
        if not 0 <= index < len(cameras["intrinsics"]) == len(cameras["cam2world"]):
            raise InputError(f"{cameras_path}: has no camera for frame {frame_id}")
        intrinsics = check_matrix(cameras_path, "intrinsics", cameras["intrinsics"][index], (3, 3))
        c2w = check_matrix(cameras_path, "cam2world", cameras["cam2world"][index], (4, 4))
        # The depth-anything style stores no focal; like the official training files, use the GT fx
        # (docs/training.md §2.5).
        prior_depth, focal = read_prior(prior_path, size, default_focal=float(intrinsics[0, 0]))
        return FrameRecord(rgb=rgb, depth=depth, intrinsics=intrinsics.astype(np.float32),
                           c2w=c2w.astype(np.float32), prior_depth=prior_depth, prior_focal=focal,
                           label=str(rgb_path), dataset=self.name)
