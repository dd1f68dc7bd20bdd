"""Frames from videos, folders and globs: order, selection, orientation, sizes and bad input."""

import logging

import av
import numpy as np
import pytest
from PIL import Image

from align3r.errors import InputError
from align3r.io.video import FrameSelection, VideoFrames, frame_chunks, natural_key, read_frames


def write_video(path, frames: np.ndarray, fps: int = 10) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264rgb" if "libx264rgb" in av.codecs_available else "ffv1", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "rgb24" if stream.codec_context.name == "libx264rgb" else "bgr0"
        if stream.codec_context.name == "libx264rgb":
            stream.options = {"qp": "0"}  # lossless
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def numbered_frames(n: int, height: int = 32, width: int = 48) -> np.ndarray:
    """Frame k is filled with the value 10*k, so order is visible after decoding."""
    return np.stack([np.full((height, width, 3), 10 * k, np.uint8) for k in range(n)])


def test_natural_sort():
    names = ["f10.png", "f2.png", "f1.png"]
    assert sorted(names, key=natural_key) == ["f1.png", "f2.png", "f10.png"]


def test_folder_natural_order_stride_and_max(tmp_path):
    for k, image in enumerate(numbered_frames(12)):
        Image.fromarray(image).save(tmp_path / f"img_{k}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    images, names = read_frames(tmp_path)
    assert names == [f"img_{k}" for k in range(12)]
    assert [int(im[0, 0, 0]) for im in images] == [10 * k for k in range(12)]
    images, names = read_frames(str(tmp_path / "img_*.png"), FrameSelection(stride=3, max_frames=3))
    assert names == ["img_0", "img_3", "img_6"]


def test_video_frames_stride_and_start_time(tmp_path):
    write_video(tmp_path / "v.mkv", numbered_frames(20))
    images, names = read_frames(tmp_path / "v.mkv")
    assert images.shape == (20, 32, 48, 3)
    assert np.abs(images[:, 0, 0, 0].astype(int) - np.arange(20) * 10).max() <= 2
    images, names = read_frames(tmp_path / "v.mkv", FrameSelection(stride=2, start_time=1.0))
    assert names[0] == "frame_000010" and len(names) == 5


def test_exif_orientation_is_applied(tmp_path):
    # Four flat quadrants (JPEG-safe) with four different colours: every wrong rotation or flip
    # puts another colour in some corner.
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:10, :20], stored[:10, 20:], stored[10:, :20], stored[10:, 20:] = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    for k in range(2):
        image.save(tmp_path / f"{k}.jpg", exif=exif, quality=100, subsampling=0)  # no chroma blur at the edges
    images, _ = read_frames(tmp_path)
    assert images.shape == (2, 40, 20, 3)
    displayed = np.rot90(stored, k=-1)  # (40, 20, 3): clockwise, stored top-left -> displayed top-right
    assert np.abs(images.astype(int) - displayed).max() <= 8  # JPEG error is small on flat quadrants


def test_mixed_sizes_are_resized_with_one_warning(tmp_path, caplog):
    for k, size in enumerate([(48, 32), (96, 64), (50, 30)]):
        Image.new("RGB", size).save(tmp_path / f"{k}.png")
    with caplog.at_level(logging.WARNING):
        images, _ = read_frames(tmp_path)
    assert images.shape == (3, 32, 48, 3)
    assert caplog.text.count("different sizes") == 1


def _empty_folder(d):
    (d / "empty").mkdir()
    return d / "empty"


def _corrupt_video(d):
    (d / "bad.mp4").write_bytes(b"not a video at all")
    return d / "bad.mp4"


def _single_image(d):
    Image.new("RGB", (8, 8)).save(d / "one.png")
    return d / "one.png"


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.mp4", "no such file"),
    (_empty_folder, "holds no images"),
    (_corrupt_video, "unreadable or corrupt video"),
    (_single_image, "a single image"),
    (lambda d: str(d / "*.nothing"), "no such video, folder, or images"),
])
@pytest.mark.parametrize("reader", [read_frames, VideoFrames])
def test_bad_inputs_raise_one_line(tmp_path, make, message, reader):
    with pytest.raises(InputError, match=message) as info:
        reader(make(tmp_path))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("reader", [read_frames, VideoFrames])
def test_one_frame_is_not_enough(tmp_path, reader):
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    with pytest.raises(InputError, match="at least 2"):
        reader(tmp_path)
    (tmp_path / "b.png").write_bytes(b"garbage")
    with pytest.raises(InputError, match="b.png: unreadable image"):
        reader(tmp_path)


def test_video_frames_read_in_blocks_equal_the_frames_read_at_once(tmp_path):
    write_video(tmp_path / "v.mkv", numbered_frames(11))
    selection = FrameSelection(stride=2)
    images, names = read_frames(tmp_path / "v.mkv", selection)
    frames = VideoFrames(tmp_path / "v.mkv", selection)
    assert frames.names == names and len(frames) == 6 and frames.shape == images.shape == (6, 32, 48, 3)
    blocks = list(frame_chunks(frames, 4))
    assert [len(b) for b in blocks] == [4, 2]
    np.testing.assert_array_equal(np.concatenate(blocks), images)
    np.testing.assert_array_equal(frames.array(), images)
    assert [len(b) for b in frame_chunks(images, 4)] == [4, 2]  # arrays are cut the same way


def test_frames_that_change_between_passes_are_refused(tmp_path):
    for k, image in enumerate(numbered_frames(3)):
        Image.fromarray(image).save(tmp_path / f"img_{k}.png")
    frames = VideoFrames(tmp_path)
    (tmp_path / "img_2.png").unlink()
    with pytest.raises(InputError, match="changed while it was read .2 frames instead of 3"):
        frames.array()


def test_bad_selection_is_rejected():
    with pytest.raises(InputError, match="stride"):
        FrameSelection(stride=0)
