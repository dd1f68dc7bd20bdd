"""Per-frame prior cache: reruns compute nothing, new frames only are computed, writes are atomic."""

import logging

import numpy as np
import pytest

from align3r.prior.base import PriorMap
from align3r.prior.cache import CachedPrior, PriorCache, frame_key
from align3r.prior.files import FilesPrior


class CountingPrior:
    """Depth = mean pixel value + 1 + frame-independent ramp; focal = 100 + red of pixel (0, 0)."""

    name = "counting"

    def __init__(self, settings: str = "a") -> None:
        self.settings = settings
        self.computed: list[str] = []

    @property
    def cache_key(self) -> str:
        return f"counting|{self.settings}"

    def estimate(self, frames, names):
        self.computed.extend(names)
        ramp = np.linspace(0, 1, frames.shape[1] * frames.shape[2]).reshape(frames.shape[1:3])
        values = frames.mean(axis=-1) + 1 + ramp
        return PriorMap("depth_metric", values.astype(np.float32), 100.0 + frames[:, 0, 0, 0])


@pytest.fixture
def frames():
    return np.random.default_rng(0).integers(0, 256, size=(4, 6, 8, 3), dtype=np.uint8)


def test_rerun_reads_everything_from_the_cache(tmp_path, frames):
    names = list("abcd")
    first_prior = CountingPrior()
    first = CachedPrior(first_prior, PriorCache(tmp_path)).estimate(frames, names)
    again_prior = CountingPrior()
    again = CachedPrior(again_prior, PriorCache(tmp_path)).estimate(frames, names)
    assert first_prior.computed == names and again_prior.computed == []
    np.testing.assert_array_equal(again.values, first.values)
    np.testing.assert_array_equal(again.focal_px, first.focal_px)
    assert again.kind == "depth_metric"
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".npz"] * 4  # no temporary files left


def test_only_new_frames_and_new_settings_are_computed(tmp_path, frames):
    CachedPrior(CountingPrior(), PriorCache(tmp_path)).estimate(frames[:2], ["a", "b"])
    prior = CountingPrior()
    out = CachedPrior(prior, PriorCache(tmp_path)).estimate(frames[[2, 0, 3]], ["c", "a", "d"])
    assert prior.computed == ["c", "d"]
    np.testing.assert_array_equal(out.values, CountingPrior().estimate(frames[[2, 0, 3]], list("cad")).values)
    other = CountingPrior(settings="b")
    CachedPrior(other, PriorCache(tmp_path)).estimate(frames[:1], ["a"])
    assert other.computed == ["a"]


def test_key_depends_on_pixels_and_prior(frames):
    changed = frames[0].copy()
    changed[0, 0, 0] ^= 1
    keys = {frame_key(frames[0], "p"), frame_key(changed, "p"), frame_key(frames[0], "q")}
    assert len(keys) == 3 and frame_key(frames[0].copy(), "p") in keys


def test_unreadable_entry_is_recomputed(tmp_path, frames, caplog):
    prior = CountingPrior()
    CachedPrior(prior, PriorCache(tmp_path)).estimate(frames[:1], ["a"])
    next(tmp_path.iterdir()).write_bytes(b"garbage")
    again = CountingPrior()
    with caplog.at_level(logging.WARNING):
        CachedPrior(again, PriorCache(tmp_path)).estimate(frames[:1], ["a"])
    assert again.computed == ["a"] and "recomputing" in caplog.text


def test_priors_without_cache_key_pass_through(tmp_path, frames):
    maps = tmp_path / "maps"
    maps.mkdir()
    for name in "ab":
        np.save(maps / f"{name}.npy", np.ones((6, 8), np.float32))
    out = CachedPrior(FilesPrior(maps), PriorCache(tmp_path / "cache")).estimate(frames[:2], ["a", "b"])
    assert out.values.shape == (2, 6, 8) and not (tmp_path / "cache").exists()
