"""The quality report: depth consistency between neighbours, the prior's per-frame scale, flags, and
`quality.png` written by `align3r run`."""

import io
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers.job_fixtures import job, oracle, run, sequence  # noqa: F401  (fixtures)
from PIL import Image

from align3r.geometry import invert_pose, pixel_grid, project_points, transform_points, unproject_depth
from align3r.infer.pairs import PairPredictions
from align3r.io.quality_plot import PLOT_SIZE, QUALITY_PLOT
from align3r.pipeline.consistency import neighbour_consistency
from align3r.pipeline.quality import prior_scales, quality_report
from align3r.prior.base import PriorMap
from align3r.reconstruction import Reconstruction

FLICKER = np.array([1.0, 1.2, 0.9, 1.1, 0.8, 1.05])
"""A per-frame scale error of a prior."""


@pytest.fixture
def exact(sequence) -> Reconstruction:
    """The synthetic sequence as a reconstruction: exact depths and cameras, confident everywhere."""
    return Reconstruction(images=sequence.images, depths=sequence.depths, conf=np.full(sequence.depths.shape, 5.0,
                                                                                        np.float32),
                          poses_c2w=sequence.poses_c2w, intrinsics=sequence.intrinsics,
                          dynamic_masks=sequence.dynamic_masks, names=[f"{i:06d}" for i in range(6)])


def exact_flow(rec: Reconstruction, a: int, b: int) -> np.ndarray:
    """(2, H, W) float32 flow a -> b of the exact geometry (each pixel's projection into b, minus the pixel)."""
    c2w, k = torch.from_numpy(rec.poses_c2w), torch.from_numpy(rec.intrinsics)
    pts = transform_points(invert_pose(c2w[b]) @ c2w[a], unproject_depth(torch.from_numpy(rec.depths[a]).double(), k[a]))
    uv, _ = project_points(pts, k[b])
    return (uv - pixel_grid(*rec.depths.shape[1:], dtype=torch.float64)).permute(2, 0, 1).float().numpy()


def exact_pairs(rec: Reconstruction, edges: np.ndarray) -> PairPredictions:
    """The pair predictions of `edges` (E, 2) that agree exactly with `rec`."""
    edges_t = torch.from_numpy(edges)
    c2w, k = torch.from_numpy(rec.poses_c2w), torch.from_numpy(rec.intrinsics)
    pts = unproject_depth(torch.from_numpy(rec.depths).double(), k)
    i, j = edges_t[:, 0], edges_t[:, 1]
    pts_j_in_i = transform_points(invert_pose(c2w[i]) @ c2w[j], pts[j])
    conf = torch.full(pts[i].shape[:-1], 5.0)
    return PairPredictions(edges=edges_t, pts3d_i_in_i=pts[i].float(), pts3d_j_in_i=pts_j_in_i.float(),
                           conf_i=conf, conf_j=conf)


def test_exact_depths_are_consistent_and_a_rescaled_frame_is_not(exact):
    consistency, pairs_by = neighbour_consistency(exact, conf_threshold=3.0)
    assert pairs_by == {"flow": 0, "reprojection": 10}  # 2 (N - 1) directed neighbour pairs
    assert consistency.max() < 1e-4
    depths = exact.depths.copy()
    depths[3] *= 1.1  # frame 3 alone 10 % too far
    consistency, _ = neighbour_consistency(replace(exact, depths=depths), conf_threshold=3.0)
    assert consistency[3] == pytest.approx(0.1, abs=0.005)
    assert consistency[[0, 5]].max() < 1e-4
    np.testing.assert_allclose(consistency[[2, 4]], 0.1 / 2, atol=0.005)  # one of their two neighbours is off


def test_stored_flows_give_the_correspondences(exact):
    flows = {(a, b): exact_flow(exact, a, b) for a in range(6) for b in (a - 1, a + 1) if 0 <= b < 6}
    by_flow, pairs_by = neighbour_consistency(exact, conf_threshold=3.0, flow_of=lambda a, b: flows[(a, b)])
    assert pairs_by == {"flow": 10, "reprojection": 0}
    np.testing.assert_allclose(by_flow, neighbour_consistency(exact, conf_threshold=3.0)[0], atol=1e-5)
    shifted = {pair: flow + np.array([4.0, 0.0], np.float32)[:, None, None] for pair, flow in flows.items()}
    wrong, _ = neighbour_consistency(exact, conf_threshold=3.0, flow_of=lambda a, b: shifted[(a, b)])
    assert wrong.min() > 10 * by_flow.max()  # the flow, not the cameras, chose the pixels compared
    _, pairs_by = neighbour_consistency(exact, conf_threshold=3.0, flow_of=lambda a, b: flows.get((a, b)) if a < b
                                           else None)
    assert pairs_by == {"flow": 5, "reprojection": 5}


def test_unconfident_and_moving_pixels_take_no_part(exact):
    consistency, _ = neighbour_consistency(replace(exact, conf=np.ones_like(exact.conf)), conf_threshold=3.0)
    assert np.isnan(consistency).all()
    depths = np.where(exact.dynamic_masks, 3 * exact.depths, exact.depths)  # nonsense on moving objects only
    consistency, _ = neighbour_consistency(replace(exact, depths=depths), conf_threshold=3.0)
    assert consistency.max() < 1e-3


@pytest.mark.parametrize("kind", ["depth_metric", "disparity_affine"])
def test_prior_scales_measure_the_prior_flicker(exact, kind):
    values = exact.depths / FLICKER[:, None, None] if kind == "depth_metric" else FLICKER[:, None, None] / exact.depths
    values[4] = 2.0  # a constant map: no scale (fallback)
    scale, spread = prior_scales(exact, PriorMap(kind, values.astype(np.float32)), conf_threshold=3.0)
    expected = FLICKER if kind == "depth_metric" else 1 / FLICKER
    expected = np.where(np.arange(6) == 4, np.nan, expected)
    expected /= np.nanmedian(expected)
    np.testing.assert_allclose(scale, expected, rtol=1e-4)
    assert spread == pytest.approx(1.4826 * np.nanmedian(np.abs(expected - 1)), rel=1e-4)


def test_report_flags_the_inconsistent_frame_and_holds_its_numbers(exact):
    depths = exact.depths.copy()
    depths[3] *= 1.1
    edges = np.array([(i, i + 1) for i in range(5)] + [(i + 1, i) for i in range(5)])
    prior = PriorMap("depth_metric", (exact.depths / FLICKER[:, None, None]).astype(np.float32))
    report = quality_report(replace(exact, depths=depths), edges, lambda e: exact_pairs(exact, e),
                            conf_threshold=3.0, prior=prior)
    assert "depth inconsistent with neighbours" in report["flagged"]["000003"]
    assert len(report["frame_consistency"]) == 6 and report["consistency_pairs"]["reprojection"] == 10
    assert report["prior_scale_spread"] > 0.05 and len(report["frame_prior_scale"]) == 6
    json.dumps(report, allow_nan=False)  # JSON-ready: no NaN
    plain = quality_report(exact, edges, lambda e: exact_pairs(exact, e), conf_threshold=3.0)
    assert plain["flagged"] == {} and plain["frame_prior_scale"] is None and plain["prior_scale_spread"] is None


def decoded(path) -> np.ndarray:
    image = Image.open(io.BytesIO(path.read_bytes()))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB"))


def test_run_writes_quality_png_that_follows_the_video(job, tmp_path):
    assert run(job, tmp_path / "six") == 0
    assert run(job, tmp_path / "four", "--max-frames", "4") == 0
    manifest = json.loads((tmp_path / "six" / "reconstruction.json").read_text())
    assert QUALITY_PLOT in manifest["files"]
    quality = manifest["meta"]["quality"]
    assert len(quality["frame_consistency"]) == 6 and quality["consistency_pairs"] == {"flow": 0, "reprojection": 10}
    assert len(quality["frame_prior_scale"]) == 6 and quality["prior_scale_spread"] is not None
    six, four = decoded(tmp_path / "six" / QUALITY_PLOT), decoded(tmp_path / "four" / QUALITY_PLOT)
    assert six.shape == four.shape == (PLOT_SIZE[1], PLOT_SIZE[0], 3)
    assert six.std() > 10  # drawn, not blank
    assert (np.abs(six.astype(int) - four).max(axis=-1) > 64).mean() > 0.005  # other frames, other plot
