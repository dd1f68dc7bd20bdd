"""files: backend: each format round-trips, each kind of bad file is refused naming the file."""

import cv2
import numpy as np
import pytest

from align3r.errors import InputError
from align3r.io.formats import write_pfm
from align3r.prior.files import PNG_SCALE, FilesPrior

H, W = 12, 20


@pytest.fixture
def frames():
    return np.zeros((2, H, W, 3), dtype=np.uint8)


@pytest.fixture
def depth():
    return np.random.default_rng(0).uniform(0.5, 30.0, size=(2, H, W)).astype(np.float32)


def write(path, values, suffix):
    if suffix == ".npy":
        np.save(path.with_suffix(".npy"), values)
    elif suffix == ".npz":
        np.savez(path.with_suffix(".npz"), depth=values)
    elif suffix == ".png":
        cv2.imwrite(str(path.with_suffix(".png")), np.round(values * PNG_SCALE).astype(np.uint16))
    else:
        write_pfm(path.with_suffix(".pfm"), values)


@pytest.mark.parametrize("suffix, atol", [(".npy", 0), (".npz", 0), (".pfm", 0), (".png", 0.5 / PNG_SCALE)])
def test_each_format_round_trips(tmp_path, frames, depth, suffix, atol):
    for name, values in zip(("f0", "f1"), depth):
        write(tmp_path / name, values, suffix)
    out = FilesPrior(tmp_path).estimate(frames, ["f0", "f1"])
    assert out.kind == "depth_metric" and out.focal_px is None and out.values.dtype == np.float32
    np.testing.assert_allclose(out.values, depth, rtol=0, atol=atol + 1e-6)


def test_npz_focal_as_number_or_matrix_and_matching_by_stem(tmp_path, frames, depth):
    np.savez(tmp_path / "b.npz", depth=depth[0], focallength_px=np.float64(321.0))
    np.savez(tmp_path / "a.npz", depth=depth[1], focallength_px=np.diag([123.0, 124.0, 1.0]))
    out = FilesPrior(tmp_path, kind="disparity_affine").estimate(frames, ["b", "a"])
    assert out.kind == "disparity_affine"
    np.testing.assert_array_equal(out.focal_px, [321.0, 123.0])
    np.testing.assert_array_equal(out.values, depth)


def test_focal_dropped_when_only_some_files_have_it(tmp_path, frames, depth, caplog):
    np.savez(tmp_path / "a.npz", depth=depth[0], focallength_px=np.float64(321.0))
    np.save(tmp_path / "b.npy", depth[1])
    assert FilesPrior(tmp_path).estimate(frames, ["a", "b"]).focal_px is None
    assert "only some" in caplog.text


def bad_maps():
    finite = np.ones((H, W), np.float32)
    nan, inf, negative = finite.copy(), finite.copy(), finite.copy()
    nan[1, 1], inf[2, 2], negative[3, 3] = np.nan, np.inf, -0.5
    return [(np.ones((H + 1, W), np.float32), "does not match"), (finite[None], "does not match"),
            (nan, "NaN"), (inf, "infinite"), (np.zeros((H, W), np.float32), "all zeros"),
            (negative, "negative")]


@pytest.mark.parametrize("values, message", bad_maps())
def test_bad_maps_are_refused_naming_the_file(tmp_path, frames, values, message):
    np.save(tmp_path / "f0.npy", np.ones((H, W), np.float32))
    np.save(tmp_path / "f1.npy", values)
    with pytest.raises(InputError, match=message) as err:
        FilesPrior(tmp_path).estimate(frames, ["f0", "f1"])
    assert str(tmp_path / "f1.npy") in str(err.value) and "\n" not in str(err.value)


def test_negative_values_are_allowed_in_affine_disparity(tmp_path, frames):
    values = np.linspace(-0.1, 2.0, H * W, dtype=np.float32).reshape(H, W)
    for name in ("f0", "f1"):
        np.save(tmp_path / f"{name}.npy", values)
    assert FilesPrior(tmp_path, kind="disparity_affine").estimate(frames, ["f0", "f1"]).values.min() < 0


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "no prior map for frame 'f1'"),
    (lambda d: (np.save(d / "f1.npy", np.ones((H, W))), np.savez(d / "f1.npz", depth=np.ones((H, W)))),
     "several prior maps"),
    (lambda d: cv2.imwrite(str(d / "f1.png"), np.full((H, W), 7, np.uint8)), "16-bit"),
    (lambda d: (d / "f1.exr").write_bytes(b"v/1\x01"), "EXR priors are not supported"),
    (lambda d: np.savez(d / "f1.npz", disparity=np.ones((H, W))), "lacks 'depth'"),
    (lambda d: (d / "f1.npz").write_bytes(b"not a zip"), "unreadable npz"),
    (lambda d: np.savez(d / "f1.npz", depth=np.ones((H, W)), focallength_px=-3.0), "focallength_px"),
])
def test_bad_files_are_refused_naming_them(tmp_path, frames, setup, message):
    np.save(tmp_path / "f0.npy", np.ones((H, W), np.float32))
    setup(tmp_path)
    with pytest.raises(InputError, match=message) as err:
        FilesPrior(tmp_path).estimate(frames, ["f0", "f1"])
    assert "f1" in str(err.value)


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="prior folder not found"):
        FilesPrior(tmp_path / "nope")
