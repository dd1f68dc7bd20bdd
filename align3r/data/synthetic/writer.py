"""A synthetic sequence on disk (docs/synthetic.md layout), written atomically with reproducible bytes.

```
OUT/rgb/NNNNNN.png            RGB
OUT/depth/NNNNNN.npy          float32 z-depth, 0 where no surface
OUT/mask/NNNNNN.png           dynamic mask, 0 / 255
OUT/cameras.npz               intrinsics (N, 3, 3), cam2world (N, 4, 4)
OUT/prior/<style>/NNNNNN.npz  `depth` (H, W) float32 [+ `focallength_px` for depth-pro]
OUT/meta.json                 seed, parameters, versions
```
The folder is built under a temporary name beside OUT and renamed into place, so OUT is either
absent or complete. Archives carry a fixed time stamp, so one seed gives identical bytes.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from align3r.data.synthetic.prior import PRIOR_STYLES, PriorMaps
from align3r.data.synthetic.sequence import SyntheticSequence
from align3r.errors import InputError

ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """`np.savez` with a fixed time stamp per member (numpy stamps the current time)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_TIME), buffer.getvalue())


def _write_contents(sequence: SyntheticSequence, root: Path) -> None:
    for sub in ("rgb", "depth", "mask"):
        (root / sub).mkdir()
    for index, (rgb, depth, mask) in enumerate(zip(sequence.images, sequence.depths, sequence.dynamic_masks)):
        name = f"{index:06d}"
        Image.fromarray(rgb).save(root / "rgb" / f"{name}.png")
        np.save(root / "depth" / f"{name}.npy", depth)
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "mask" / f"{name}.png")
    save_npz(root / "cameras.npz", {"intrinsics": sequence.intrinsics, "cam2world": sequence.poses_c2w})
    for style, maps in sequence.priors.items():
        folder = root / "prior" / style
        folder.mkdir(parents=True)
        for index, stored in enumerate(maps.stored):
            arrays = {"depth": stored}
            if maps.focal_px is not None:
                arrays["focallength_px"] = np.float64(maps.focal_px[index])
            save_npz(folder / f"{index:06d}.npz", arrays)
    (root / "meta.json").write_text(json.dumps(dict(sequence.meta), indent=1, sort_keys=True) + "\n")


def check_output(out: Path, *, overwrite: bool) -> None:
    """Raise InputError when `out` exists and is not an empty folder, unless `overwrite`."""
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"output {out} exists and is not empty; choose another folder or pass --overwrite")


def write_sequence(sequence: SyntheticSequence, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write `sequence` to the folder `out` atomically.

    Args:
        sequence: what to write.
        out: destination folder; must not exist (or be empty) unless `overwrite`.
        overwrite: replace an existing folder (only after the new one is complete).

    Returns:
        The folder written.

    Raises:
        InputError: `out` exists and is not empty without `overwrite`, or its parent is not writable.
    """
    out = Path(out)
    check_output(out, overwrite=overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as err:
        raise InputError(f"cannot create output {out}: {err.strerror}") from None
    try:
        _write_contents(sequence, tmp)
        tmp.chmod(0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_sequence(root: str | Path) -> SyntheticSequence:
    """Read a folder written by `write_sequence` back into arrays.

    Raises:
        InputError: the folder or one of its files is missing.
    """
    root = Path(root)
    try:
        meta = json.loads((root / "meta.json").read_text())
        names = sorted(p.stem for p in (root / "rgb").glob("*.png"))
        images = np.stack([np.asarray(Image.open(root / "rgb" / f"{n}.png").convert("RGB")) for n in names])
        depths = np.stack([np.load(root / "depth" / f"{n}.npy") for n in names])
        masks = np.stack([np.asarray(Image.open(root / "mask" / f"{n}.png")) > 0 for n in names])
        with np.load(root / "cameras.npz") as cameras:
            intrinsics, c2w = cameras["intrinsics"], cameras["cam2world"]
        priors = {}
        for style in PRIOR_STYLES:
            if (root / "prior" / style).is_dir():
                files = [dict(np.load(root / "prior" / style / f"{n}.npz")) for n in names]
                stored = np.stack([f["depth"] for f in files])
                focal = np.array([f["focallength_px"] for f in files]) if "focallength_px" in files[0] else None
                priors[style] = PriorMaps(style=style, disparity_affine=stored if focal is None else None,
                                          depth_metric=stored if focal is not None else None, focal_px=focal)
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"cannot read synthetic sequence {root}: {err}") from None
    return SyntheticSequence(images=images, depths=depths, valid_masks=depths > 0, dynamic_masks=masks,
                             intrinsics=intrinsics, poses_c2w=c2w, priors=priors, meta=meta)
