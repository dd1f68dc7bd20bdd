"""`align3r run --aligned-prior`: a prior with a known per-frame flicker, mapped back onto our depth,
written as output folders (network grid and the prior's own grid) that the readers take."""

import numpy as np
import pytest
from helpers.job_fixtures import job, oracle, run, sequence  # noqa: F401  (fixtures)
from PIL import Image

from align3r.cli import main
from align3r.infer.preprocess import frame_transform
from align3r.io.results import load_reconstruction
from align3r.pipeline.full_res import full_resolution

FLICKER = np.array([1.0, 1.25, 0.8, 1.0, 1.1, 0.9])
"""The prior's per-frame scale error: prior depth = true depth / FLICKER."""
CONSTANT = 3
"""The frame whose prior map is constant: no scale can be fitted, it falls back."""


def flickering_prior(sequence, folder, upsample: int = 1):
    """files: prior maps of the sequence's depth with `FLICKER` (frame `CONSTANT` a constant map)."""
    folder.mkdir()
    for i, depth in enumerate(sequence.depths):
        values = np.full_like(depth, 2.0) if i == CONSTANT else depth / FLICKER[i]
        np.save(folder / f"{i:06d}.npy", values.repeat(upsample, 0).repeat(upsample, 1).astype(np.float32))
    return folder


def test_aligned_prior_maps_each_frames_prior_onto_our_depth(job, sequence, tmp_path):
    prior = flickering_prior(sequence, tmp_path / "prior")
    assert run(job, tmp_path / "out", "--prior", f"files:{prior}", "--aligned-prior") == 0
    ours, aligned = load_reconstruction(tmp_path / "out"), load_reconstruction(tmp_path / "out" / "aligned_prior")
    for name in ("poses_c2w", "intrinsics", "dynamic_masks", "images"):
        np.testing.assert_array_equal(getattr(aligned, name), getattr(ours, name))
    assert aligned.names == ours.names and not (tmp_path / "out" / "aligned_prior" / "full_res").exists()
    fit = ours.meta["aligned_prior"]
    assert fit == aligned.meta["aligned_prior"] and "quality" not in aligned.meta
    assert fit["space"] == "depth" and fit["conf_threshold"] == 3.0 and fit["fallback"] == {"000003": "bad_scale"}
    fitted = [i for i in range(6) if i != CONSTANT]
    scale, shift = np.array(fit["scale"], float)[fitted], np.array(fit["shift"], float)[fitted]
    # an independent least-squares line on the same pixels: confident (> 3) and static
    maps = np.stack([np.load(prior / f"{i:06d}.npy") for i in range(6)]).astype(np.float64)
    usable = (ours.conf > 3.0) & ~ours.dynamic_masks
    lines = np.array([np.polyfit(maps[i][usable[i]], ours.depths[i][usable[i]], 1) for i in fitted])
    np.testing.assert_allclose(scale, lines[:, 0], rtol=2e-3)
    np.testing.assert_allclose(shift, lines[:, 1], atol=2e-3 * np.median(ours.depths))
    # the flicker is in the scales, and gone from the aligned prior
    assert np.std(scale / FLICKER[fitted]) < 0.005 * np.mean(scale / FLICKER[fitted])
    np.testing.assert_allclose(aligned.depths[fitted], (scale[:, None, None] * maps[fitted] + shift[:, None, None])
                               .astype(np.float32), rtol=1e-6)
    np.testing.assert_array_equal(aligned.depths[CONSTANT], ours.depths[CONSTANT])
    per_frame = np.median(aligned.depths / sequence.depths, axis=(1, 2))
    assert np.ptp(per_frame) < 0.01 * np.median(per_frame)
    # a rerun without the option removes the folder, which the new result would contradict
    assert run(job, tmp_path / "out", "--overwrite") == 0
    assert not (tmp_path / "out" / "aligned_prior").exists()
    assert "aligned_prior" not in load_reconstruction(tmp_path / "out").meta


def test_aligned_prior_at_the_priors_own_resolution_is_read_by_export_and_view(job, sequence, tmp_path):
    (tmp_path / "frames").mkdir()
    for i, image in enumerate(sequence.images):  # 2x the network grid: 96x128 frames, network 48x64
        Image.fromarray(image.repeat(2, 0).repeat(2, 1)).save(tmp_path / "frames" / f"{i:06d}.png")
    prior = flickering_prior(sequence, tmp_path / "prior", upsample=2)
    assert main(["run", str(tmp_path / "frames"), "-o", str(tmp_path / "out"), "--model", str(job / "model"),
                 "--prior", f"files:{prior}", "--aligned-prior", "--size", "64", "--niter", "10", "--flow", "none",
                 "--device", "cpu", "--quiet"]) == 0
    ours = load_reconstruction(tmp_path / "out")
    full = load_reconstruction(tmp_path / "out" / "aligned_prior" / "full_res")
    assert full.depths.shape == (6, 96, 128) and ours.depths.shape == (6, 48, 64)
    fit = full.meta["aligned_prior"]
    maps = np.stack([np.load(prior / f"{i:06d}.npy") for i in range(6)]).astype(np.float64)
    fitted = [i for i in range(6) if i != CONSTANT]
    scale, shift = np.array(fit["scale"], float)[fitted, None, None], np.array(fit["shift"], float)[fitted, None, None]
    np.testing.assert_allclose(full.depths[fitted], (scale * maps[fitted] + shift).astype(np.float32), rtol=1e-6)
    frames = np.stack([np.asarray(Image.open(tmp_path / "frames" / f"{i:06d}.png")) for i in range(6)])
    upsampled = full_resolution(ours, frames, frame_transform(96, 128, size=64))
    np.testing.assert_array_equal(full.depths[CONSTANT], upsampled.depths[CONSTANT])  # fallback: our depth
    np.testing.assert_allclose(full.intrinsics, upsampled.intrinsics)
    assert fit["fallback"] == ours.meta["aligned_prior"]["fallback"] == {"000003": "bad_scale"}
    assert full.meta["full_res"]["method"] == "bilinear"
    for folder in ("aligned_prior", "aligned_prior/full_res"):
        assert main(["export", str(tmp_path / "out" / folder), "--format", "tum", "-o", str(tmp_path / "t.txt"),
                     "--overwrite"]) == 0
    pytest.importorskip("viser")
    from align3r.io.view import Viewer

    viewer = Viewer(tmp_path / "out" / "aligned_prior", port=0)  # opens and draws the aligned prior's points
    try:
        assert viewer.source.num_frames == 6 and len(viewer.frame_cloud.points) > 0
    finally:
        viewer.close()
