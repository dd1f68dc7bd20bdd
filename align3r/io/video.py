"""Frames from a video file (PyAV), a folder of images or a glob, as RGB uint8 arrays."""

from __future__ import annotations

import glob
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from align3r.errors import InputError, require

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif"})


@dataclass(frozen=True)
class FrameSelection:
    """Which frames of the input to read."""

    stride: int = 1
    """Keep every stride-th frame."""
    max_frames: int | None = None
    """Stop after this many kept frames (None: all)."""
    start_time: float = 0.0
    """Seconds into a video to start at (videos only)."""

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise InputError(f"--stride must be at least 1, got {self.stride}")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"--max-frames must be at least 1, got {self.max_frames}")
        if self.start_time < 0:
            raise InputError(f"--start-time must not be negative, got {self.start_time}")


@dataclass(frozen=True)
class Frame:
    """One input frame.

    Attributes:
        image: (H, W, 3) uint8 RGB, upright (EXIF orientation or video rotation applied).
        name: the file stem for images, `frame_NNNNNN` (decoded frame index) for videos.
    """

    image: np.ndarray
    name: str


def natural_key(path: str) -> list[object]:
    """Sort key under which frame_2 comes before frame_10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path)]


def list_images(source: str | Path) -> list[Path]:
    """Image files of a folder or a glob pattern, naturally sorted."""
    text = str(source)
    if Path(text).is_dir():
        paths = [p for p in Path(text).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        if not paths:
            raise InputError(f"{text}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    else:
        paths = [Path(p) for p in glob.glob(text) if Path(p).suffix.lower() in IMAGE_SUFFIXES]
        if not paths:
            raise InputError(f"{text}: no such video, folder, or images matching the pattern")
    return sorted(paths, key=lambda p: natural_key(str(p)))


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file, turned upright by its EXIF orientation."""
    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(f"{path}: unreadable image ({err})") from None


def _iter_video(path: Path, selection: FrameSelection) -> Iterator[Frame]:
    av = require("av", "video", feature="reading videos")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path}: no video stream")
            stream = container.streams.video[0]
            if selection.start_time > 0:
                container.seek(int(selection.start_time / stream.time_base), stream=stream, backward=True)
            rate = float(stream.average_rate or stream.guessed_rate or 1)
            for decoded, frame in enumerate(container.decode(stream)):
                if frame.time is not None and frame.time < selection.start_time:
                    continue
                index = round(frame.time * rate) if frame.time is not None else decoded
                # rot90 turns counter-clockwise, as the display matrix rotation is given
                image = np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), k=round(frame.rotation / 90)))
                yield Frame(image, f"frame_{index:06d}")
    except av.FFmpegError as err:
        raise InputError(f"{path}: unreadable or corrupt video ({err})") from None


def _iter_unselected(source: str | Path, selection: FrameSelection) -> Iterator[Frame]:
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise InputError(f"{path}: a single image; give a video, a folder or a glob of frames")
        yield from _iter_video(path, selection)
        return
    for image_path in list_images(source):
        yield Frame(read_image(image_path), image_path.stem)


def iter_frames(source: str | Path, selection: FrameSelection = FrameSelection()) -> Iterator[Frame]:
    """Yield the selected frames of a video, a folder of images or a glob, one at a time.

    Frames whose size differs from the first one's are resized to it, with one warning.
    """
    size = None
    kept = 0
    warned = False
    for index, frame in enumerate(_iter_unselected(source, selection)):
        if index % selection.stride:
            continue
        if size is None:
            size = frame.image.shape[:2]
        elif frame.image.shape[:2] != size:
            if not warned:
                logger.warning("%s: frames of different sizes; resizing to the first frame's %dx%d",
                               source, size[1], size[0])
                warned = True
            frame = Frame(np.asarray(Image.fromarray(frame.image).resize((size[1], size[0]), Image.LANCZOS)),
                          frame.name)
        yield frame
        kept += 1
        if selection.max_frames is not None and kept >= selection.max_frames:
            return


def _check_exists(source: str | Path) -> None:
    if not Path(source).exists() and not glob.has_magic(str(source)):
        raise InputError(f"{source}: no such file or folder")


def _checked(source: str | Path, count: int) -> None:
    if count < 2:
        raise InputError(f"{source}: {count} frame(s) selected; a reconstruction needs at least 2")


def read_frames(source: str | Path, selection: FrameSelection = FrameSelection()) -> tuple[np.ndarray, list[str]]:
    """All selected frames at once (a long video at full resolution may not fit: see `VideoFrames`).

    Returns:
        images: (N, H, W, 3) uint8 RGB; names: N frame names.

    Raises:
        InputError: missing or unreadable input, no frames, or a single frame.
    """
    _check_exists(source)
    frames: list[Frame | None] = list(iter_frames(source, selection))
    _checked(source, len(frames))
    names = [frame.name for frame in frames]
    images = np.empty((len(frames), *frames[0].image.shape), np.uint8)
    for index, frame in enumerate(frames):  # each decoded frame freed once copied: one video in memory, not two
        images[index], frames[index] = frame.image, None
    return images, names


class VideoFrames:
    """The selected frames of a video, folder or glob, decoded again for each pass instead of held.

    What the pipeline reads a long video through: 795 frames of 768x576 are 1 GB of RGB, and it
    keeps only the network's small frames (`frame_chunks`). Construction decodes the input once to
    count, name and check its frames. Array-like where the pipeline needs it (`len`, `shape`,
    `dtype`, `ndim`), without indexing.

    Raises:
        InputError: as `read_frames`.
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, source: str | Path, selection: FrameSelection = FrameSelection()) -> None:
        _check_exists(source)
        self.source, self.selection = source, selection
        self.names: list[str] = []
        frame_shape: tuple[int, ...] = ()
        for frame in iter_frames(source, selection):
            self.names.append(frame.name)
            frame_shape = frame.image.shape
        _checked(source, len(self.names))
        self.shape = (len(self.names), *frame_shape)
        """(N, H, W, 3), as an array of the frames would have."""

    def __len__(self) -> int:
        return len(self.names)

    def chunks(self, size: int) -> Iterator[np.ndarray]:
        """(n <= size, H, W, 3) uint8 blocks of consecutive frames, in order.

        Raises:
            InputError: the input changed since it was counted.
        """
        block: list[np.ndarray] = []
        count = 0
        for frame in iter_frames(self.source, self.selection):
            block.append(frame.image)
            count += 1
            if len(block) == size:
                yield np.stack(block)
                block = []
        if block:
            yield np.stack(block)
        if count != len(self):
            raise InputError(f"{self.source}: changed while it was read ({count} frames instead of {len(self)})")

    def array(self) -> np.ndarray:
        """(N, H, W, 3) uint8, every frame at once (for outputs at the frames' own resolution)."""
        images = np.empty(self.shape, np.uint8)
        start = 0
        for block in self.chunks(16):
            images[start:start + len(block)] = block
            start += len(block)
        return images


def frame_chunks(frames: np.ndarray | VideoFrames, size: int) -> Iterator[np.ndarray]:
    """Blocks of at most `size` consecutive frames of an array or a `VideoFrames`, in order."""
    if isinstance(frames, VideoFrames):
        yield from frames.chunks(size)
        return
    for start in range(0, len(frames), size):
        yield frames[start:start + size]
