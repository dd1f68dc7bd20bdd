"""COLMAP text model: `sparse/0/{cameras,images,points3D}.txt`, `images/` and `masks/`.

Moving objects cannot live in a static model: their pixels are left out of points3D.txt and
written as COLMAP masks (`masks/<image name>.png`, 0 on moving objects, 255 elsewhere), so a
downstream static reconstruction ignores them. Points carry no tracks (no 2D observations).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from align3r.atomic import atomic_write, atomic_write_bytes
from align3r.io.export.conventions import c2w_to_colmap, pinhole_params
from align3r.io.export.frames import FrameSource, image_file
from align3r.io.export.options import ExportOptions, staged_folder
from align3r.io.export.points import fused_points


def _number(value: float) -> str:
    return repr(float(value))


def cameras_text(source: FrameSource) -> tuple[str, np.ndarray]:
    """cameras.txt (one PINHOLE camera per distinct K) and the (N,) int camera id of each frame."""
    params = pinhole_params(source.intrinsics)  # (N, 4) fx fy cx cy, half-integer pixel centres
    unique, camera_index = np.unique(params, axis=0, return_inverse=True)
    height, width = source.size
    lines = ["# Camera list with one line of data per camera:",
             "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]", f"# Number of cameras: {len(unique)}"]
    lines += [f"{c + 1} PINHOLE {width} {height} " + " ".join(map(_number, row)) for c, row in enumerate(unique)]
    return "\n".join(lines) + "\n", camera_index.reshape(-1) + 1


def images_text(source: FrameSource, camera_ids: np.ndarray, image_names: list[str]) -> str:
    """images.txt: world-to-camera qwxyz and t per frame, with an empty 2D-point line each."""
    qwxyz, t_w2c = c2w_to_colmap(source.poses_c2w)
    lines = ["# Image list with two lines of data per image:",
             "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
             "#   POINTS2D[] as (X, Y, POINT3D_ID)", f"# Number of images: {source.num_frames}"]
    for i, name in enumerate(image_names):
        pose = " ".join(map(_number, np.concatenate([qwxyz[i], t_w2c[i]])))
        lines += [f"{i + 1} {pose} {camera_ids[i]} {name}", ""]
    return "\n".join(lines) + "\n"


def write_points(path: Path, source: FrameSource, options: ExportOptions) -> int:
    """points3D.txt of the static points with confidence >= min_conf (no tracks); returns their count."""
    points = fused_points(source, min_conf=options.min_conf, static_only=True, max_points=options.max_points,
                          seed=options.seed)
    header = ("# 3D point list with one line of data per point:\n"
              "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n"
              f"# Number of points: {len(points.conf)}")
    rows = np.column_stack([np.arange(1, len(points.conf) + 1), points.pts_world.astype(np.float64), points.rgb])

    def write(tmp: Path) -> None:
        np.savetxt(tmp, rows, fmt="%d %.9g %.9g %.9g %d %d %d 0", header=header, comments="")  # %.9g: exact float32

    atomic_write(path, write)
    return len(points.conf)


def _symlink_to(target: Path) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        tmp.unlink()
        os.symlink(target, tmp)
    return write


def write_image(source: FrameSource, i: int, dest: Path, *, mode: str) -> None:
    """Frame i's image at `dest` (PNG): a copy or a symbolic link to the output folder's file."""
    original = image_file(source, i)
    if mode == "link" and original is not None:
        atomic_write(dest, _symlink_to(original.resolve()))
    elif original is not None:
        atomic_write(dest, lambda tmp: shutil.copyfile(original, tmp))
    else:
        atomic_write(dest, lambda tmp: Image.fromarray(source.image(i)).save(tmp, format="PNG"))


def write_static_mask(source: FrameSource, i: int, dest: Path) -> None:
    """Frame i's mask at `dest`: 0 on moving objects, 255 elsewhere (COLMAP and nerfstudio: 0 = ignore)."""
    mask = np.where(source.dynamic_mask(i), 0, 255).astype(np.uint8)
    atomic_write(dest, lambda tmp: Image.fromarray(mask).save(tmp, format="PNG"))


def export_colmap(source: FrameSource, dest: Path, options: ExportOptions) -> list[Path]:
    """Write the COLMAP text model into the folder `dest` (see the module docstring for the layout)."""
    image_names = [f"{name}.png" for name in source.names]
    with staged_folder(dest, overwrite=options.overwrite) as stage:
        model = stage / "sparse" / "0"
        for folder in (model, stage / "images", stage / "masks"):
            folder.mkdir(parents=True)
        cameras, camera_ids = cameras_text(source)
        atomic_write_bytes(model / "cameras.txt", cameras.encode())
        atomic_write_bytes(model / "images.txt", images_text(source, camera_ids, image_names).encode())
        write_points(model / "points3D.txt", source, options)
        for i, name in enumerate(image_names):
            write_image(source, i, stage / "images" / name, mode=options.images)
            write_static_mask(source, i, stage / "masks" / f"{name}.png")
    return [dest / "sparse" / "0", dest / "images", dest / "masks"]
