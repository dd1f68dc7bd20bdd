"""Writing frames in the official `_proc` layout (docs/training.md §2.1), e.g. to export synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from align3r.io.formats import write_pfm


def write_proc_frame(folder: Path, frame_id: str, *, rgb: np.ndarray, depth: np.ndarray, valid: np.ndarray,
                     intrinsics: np.ndarray, camera_pose: np.ndarray, priors: dict[str, tuple[np.ndarray, float]],
                     jpeg_quality: int = 75) -> None:
    """Write one frame's five `_proc` files into `folder` (created if needed).

    Args:
        folder: the sequence directory.
        frame_id: the file prefix, e.g. "0042".
        rgb: (H, W, 3) uint8, saved as `<id>_rgb.jpg` (official: PIL's default quality 75).
        depth: (H, W) float z-depth, saved as is to `<id>_depth.pfm`.
        valid: (H, W) bool, saved as `<id>_mask.png` (255 where True).
        intrinsics: (3, 3) K of the stored frame.
        camera_pose: (4, 4) pose in the dataset's stored convention (docs/training.md §2.4).
        priors: prior name -> ((H, W) map, focal), saved as `<id>_rgb_pred_depth_<name>.npz`.
        jpeg_quality: JPEG quality of the RGB.
    """
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(folder / f"{frame_id}_rgb.jpg", quality=jpeg_quality)
    write_pfm(folder / f"{frame_id}_depth.pfm", depth)
    Image.fromarray(valid.astype(np.uint8) * 255).save(folder / f"{frame_id}_mask.png")
    np.savez(folder / f"{frame_id}_metadata.npz", camera_intrinsics=np.asarray(intrinsics, dtype=np.float32),
             camera_pose=np.asarray(camera_pose, dtype=np.float32))
    for name, (prior, focal) in priors.items():
        np.savez(folder / f"{frame_id}_rgb_pred_depth_{name}.npz", depth=np.asarray(prior, dtype=np.float32),
                 focallength_px=np.float32(focal))
