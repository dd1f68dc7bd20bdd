"""The frame record every dataset reader returns, and the shared reader base (docs/training.md §4.1)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, get_args

import numpy as np

from align3r.errors import InputError
from align3r.io.formats import prior_focal, read_npz

logger = logging.getLogger(__name__)

PriorName = Literal["depthpro", "depthanything"]
OnError = Literal["raise", "skip"]


@dataclass(frozen=True)
class FrameRecord:
    """One stored frame as a reader hands it to the view pipeline.

    Attributes:
        rgb: (H, W, 3) uint8 RGB.
        depth: (H, W) float32 z-depth in the dataset's unit; 0 where masked or non-finite.
        intrinsics: (3, 3) float32 K of the stored frame, pixels.
        c2w: (4, 4) float32 OpenCV camera-to-world (the dataset's world frame, see each reader).
        prior_depth: (H, W) float32 prior as stored: metric depth (Depth Pro) or relative
            disparity (Depth Anything), never inverted (docs/training.md §2.5).
        prior_focal: the prior file's focal in pixels (`focallength_px`).
        label: path of the RGB file (the official `label` and `instance`).
        dataset: name of the reader that produced it.
    """

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: np.ndarray
    c2w: np.ndarray
    prior_depth: np.ndarray
    prior_focal: float
    label: str
    dataset: str


@dataclass(frozen=True)
class Sequence:
    """One sequence directory and its frame ids, in reading order (sorted)."""

    name: str
    path: Path
    frame_ids: tuple[str, ...]


class SequenceReader:
    """Base of all readers: finds sequences, checks their files, reads frames.

    Subclasses say where sequences are (`split_patterns`, `excluded`), which frames a sequence
    has (`_frame_ids`), which files a frame needs (`_frame_files`) and how to read them
    (`_read`). Sequences and frames are sorted, so pair indices do not depend on the
    filesystem (unlike the official `os.listdir`, docs/training.md §11 item 15).

    Args:
        root: the dataset folder (each subclass documents which one).
        split: a key of `split_patterns`.
        prior: which prior file a frame uses.
        on_error: a frame with a missing file raises `InputError` naming the file ("raise"),
            or is dropped, counted in `skipped` and logged ("skip").
    """

    name: ClassVar[str]
    split_patterns: ClassVar[dict[str, tuple[str, ...]]] = {"train": ("*",)}
    """Glob patterns (relative to root) of the sequence directories of each split."""
    excluded: ClassVar[tuple[str, ...]] = ()
    """Sequence directories whose name contains one of these are left out."""

    def __init__(self, root: str | Path, *, split: str = "train", prior: PriorName = "depthpro",
                 on_error: OnError = "raise") -> None:
        self.root = Path(root)
        self.prior = prior
        self.on_error = on_error
        self.skipped: list[str] = []
        """One line per frame dropped for a missing file (on_error="skip")."""
        if prior not in get_args(PriorName):
            raise InputError(f"{self.name}: unknown prior {prior!r}; choose one of {', '.join(get_args(PriorName))}")
        if split not in self.split_patterns:
            raise InputError(f"{self.name}: unknown split {split!r}; choose one of {', '.join(self.split_patterns)}")
        if not self.root.is_dir():
            raise InputError(f"{self.root}: {self.name} root folder does not exist")
        self.sequences = tuple(s for s in map(self._scan, self._sequence_dirs(split)) if s.frame_ids)
        if not self.sequences:
            raise InputError(f"{self.root}: no {self.name} sequence with frames for split {split!r}")
        if self.skipped:
            logger.warning("%s: skipped %d frame(s) with missing files, first: %s",
                           self.name, len(self.skipped), self.skipped[0])

    def _sequence_dirs(self, split: str) -> list[Path]:
        found = {p for pattern in self.split_patterns[split] for p in self.root.glob(pattern) if p.is_dir()}
        return sorted(p for p in found if not any(word in p.name for word in self.excluded))

    def _scan(self, path: Path) -> Sequence:
        listing: dict[Path, set[str]] = {}  # folder -> its file names, listed once

        def exists(file: Path) -> bool:
            if file.parent not in listing:
                listing[file.parent] = _names(file.parent)
            return file.name in listing[file.parent]

        kept = []
        for frame_id in self._frame_ids(path):
            missing = [f for f in self._frame_files(path, frame_id) if not exists(f)]
            if not missing:
                kept.append(frame_id)
            elif self.on_error == "skip":
                self.skipped.append(f"{missing[0]}: missing")
            else:
                raise InputError(f"{missing[0]}: missing {self.name} file; regenerate it or pass on_error='skip'")
        return Sequence(str(path.relative_to(self.root)), path, tuple(kept))

    def read_frame(self, sequence: int, frame: int) -> FrameRecord:
        """The record of frame `frame` (position in the sequence) of sequence `sequence`.

        Raises:
            InputError: a file is missing, unreadable or of the wrong size (names the file).
        """
        seq = self.sequences[sequence]
        return self._read(seq.path, seq.frame_ids[frame])

    def _frame_ids(self, path: Path) -> list[str]:
        raise NotImplementedError

    def _frame_files(self, path: Path, frame_id: str) -> list[Path]:
        raise NotImplementedError

    def _read(self, path: Path, frame_id: str) -> FrameRecord:
        raise NotImplementedError


def _names(folder: Path) -> set[str]:
    try:
        return {entry.name for entry in folder.iterdir()}
    except OSError:
        return set()


def masked_depth(depth: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """(H, W) float32 depth with non-finite values, and pixels where `valid` is False, set to 0."""
    keep = np.isfinite(depth) if valid is None else np.isfinite(depth) & valid
    return np.where(keep, depth, 0).astype(np.float32)


def check_size(path: Path, array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return `array` if its shape is exactly `size` (H, W), else raise InputError naming `path`."""
    if array.shape != size:
        raise InputError(f"{path}: map of shape {array.shape} does not match the RGB frame's {size}; "
                         "store it as one channel at the image resolution")
    return array


def check_matrix(path: Path, key: str, array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return `array` as float64 if it has `shape` and is finite, else raise InputError naming `path`."""
    array = np.asarray(array, dtype=np.float64)
    if array.shape != shape or not np.isfinite(array).all():
        raise InputError(f"{path}: {key} must be a finite {shape[0]}x{shape[1]} matrix, got shape {array.shape}")
    return array


def read_prior(path: Path, size: tuple[int, int], *, default_focal: float | None = None) -> tuple[np.ndarray, float]:
    """A prior file's map ((H, W) float32, finite, at the frame's `size`) and focal in pixels.

    `default_focal` stands in for a missing `focallength_px` (else the key is required).
    """
    prior = read_npz(path, ("depth",) if default_focal is not None else ("depth", "focallength_px"),
                     optional=("focallength_px",))
    depth = check_size(path, np.asarray(prior["depth"], dtype=np.float32), size)
    if not np.isfinite(depth).all():
        raise InputError(f"{path}: prior depth has non-finite values")
    if "focallength_px" not in prior:
        return depth, float(default_focal)
    return depth, prior_focal(path, prior["focallength_px"])
