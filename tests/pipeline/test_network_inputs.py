"""One pass over blocks of a video gives exactly the network inputs of the whole video at once."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from align3r.errors import InputError
from align3r.infer.preprocess import frame_transform, prepare_views, resize_map
from align3r.pipeline import network_inputs
from align3r.pipeline.network_inputs import read_grid_inputs
from align3r.prior.base import PriorMap


class RecordingPrior:
    """A metric prior computed from each frame alone (depth 1 + red / 64), recording its calls."""

    name, cache_key = "recording", None

    def __init__(self, nan_frame: int | None = None) -> None:
        self.calls: list[list[str]] = []
        self.nan_frame = nan_frame

    def estimate(self, frames: np.ndarray, names: list[str]) -> PriorMap:
        self.calls.append(list(names))
        values = 1.0 + frames[..., 0].astype(np.float32) / 64
        for k, name in enumerate(names):
            if name == f"f{self.nan_frame}":
                values[k, 3, 5] = np.nan
        return PriorMap("depth_metric", values)


@pytest.fixture
def video() -> tuple[np.ndarray, list[str]]:
    frames = np.random.default_rng(0).integers(0, 256, (5, 45, 70, 3), dtype=np.uint8)
    return frames, [f"f{k}" for k in range(5)]


def test_blocks_give_the_inputs_of_the_whole_video(video, monkeypatch: pytest.MonkeyPatch) -> None:
    frames, names = video
    monkeypatch.setattr(network_inputs, "BLOCK_BYTES", 2 * 7 * 45 * 70)  # two frames per block
    transform = frame_transform(45, 70, size=64)
    prior = RecordingPrior()
    grid = read_grid_inputs(frames, names, prior, transform)
    assert prior.calls == [["f0", "f1"], ["f2", "f3"], ["f4"]]
    whole = prepare_views(frames, prior.estimate(frames, names).values, size=64)
    torch.testing.assert_close(torch.from_numpy(grid.prior_pts), whole["pred_depth"], rtol=0, atol=0)
    images = torch.from_numpy(grid.images).permute(0, 3, 1, 2).float().div(255).sub(0.5).div(0.5)
    torch.testing.assert_close(images, whole["img"], rtol=0, atol=0)
    values = prior.estimate(frames, names).values
    np.testing.assert_array_equal(grid.prior.values, np.stack([resize_map(v, transform) for v in values]))
    assert grid.prior.kind == "depth_metric" and grid.images.shape == (5, 32, 64, 3)
    assert grid.frames_digest == hashlib.sha256(frames.tobytes()).hexdigest()
    assert grid.prior_digest == hashlib.sha256(values.tobytes()).hexdigest()


def test_a_bad_prior_map_is_named_by_its_frame_in_the_video(video, monkeypatch: pytest.MonkeyPatch) -> None:
    frames, names = video
    monkeypatch.setattr(network_inputs, "BLOCK_BYTES", 2 * 7 * 45 * 70)
    with pytest.raises(InputError, match=r"frame\(s\) \[3\] have NaN"):
        read_grid_inputs(frames, names, RecordingPrior(nan_frame=3), frame_transform(45, 70, size=64))
