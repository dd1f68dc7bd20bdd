"""`--metric`: one robust factor from the metric prior puts the reconstruction in metres."""

import numpy as np
import pytest
from helpers.job_fixtures import job, oracle, run, sequence  # noqa: F401  (fixtures: written sequence, exact pairs)

from align3r.data.synthetic.simulated_prior import SimulatedPrior
from align3r.errors import InputError, ReconstructionError
from align3r.io.results import load_reconstruction
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet
from align3r.pipeline.metric_scale import metric_factor, rescale
from align3r.pipeline.reconstruct import ReconstructConfig, reconstruct
from align3r.reconstruction import Reconstruction


def test_factor_is_the_median_ratio_and_ignores_what_is_not_usable():
    depths = np.full((2, 10, 20), 2.0)
    prior = np.full((2, 10, 20), 5.0)
    prior[0, :3] = 500.0  # 15 % of the pixels wildly off: the median does not move
    usable = np.ones((2, 10, 20), bool)
    usable[1, :, :5] = False
    prior[1, :, :5] = np.nan
    assert metric_factor(depths, prior, usable) == (2.5, 2 * 200 - 50)
    with pytest.raises(ReconstructionError, match="undetermined"):
        metric_factor(depths, prior, np.zeros_like(usable))


def test_rescale_moves_camera_centres_and_depths_only():
    c2w = np.tile(np.eye(4), (2, 1, 1))
    c2w[1, :3, 3] = [1.0, 2.0, 3.0]
    rec = Reconstruction(images=np.zeros((2, 4, 6, 3), np.uint8), depths=np.ones((2, 4, 6), np.float32),
                         conf=np.ones((2, 4, 6), np.float32), poses_c2w=c2w,
                         intrinsics=np.tile(np.eye(3), (2, 1, 1)), dynamic_masks=np.zeros((2, 4, 6), bool),
                         names=["a", "b"])
    scaled = rescale(rec, 2.0)
    np.testing.assert_array_equal(scaled.poses_c2w[1, :3, 3], [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(scaled.poses_c2w[:, :3, :3], c2w[:, :3, :3])
    assert scaled.depths.dtype == np.float32 and (scaled.depths == 2).all()
    np.testing.assert_allclose(scaled.points_world(), 2 * rec.points_world(), rtol=1e-6)


def _median_ratio_to_gt(depths: np.ndarray, sequence) -> float:
    valid = sequence.valid_masks & ~sequence.dynamic_masks
    return float(np.median(depths[valid] / sequence.depths[valid]))


def test_metric_run_is_in_the_priors_metres(job, sequence, tmp_path, capsys):  # noqa: F811
    assert run(job, tmp_path / "plain") == 0
    assert run(job, tmp_path / "metric", "--metric") == 0
    assert "metric scale: x" in capsys.readouterr().out
    plain, metric = load_reconstruction(tmp_path / "plain"), load_reconstruction(tmp_path / "metric")
    prior = sequence.priors["depth-pro"].stored  # the simulated prior, with its own scale error
    prior_error = abs(np.log(_median_ratio_to_gt(prior, sequence)))
    assert abs(np.log(_median_ratio_to_gt(plain.depths, sequence))) > 0.3  # the gauge's arbitrary scale
    assert abs(np.log(_median_ratio_to_gt(metric.depths, sequence))) <= prior_error + 0.01
    factor = metric.meta["metric"]["factor"]
    np.testing.assert_allclose(metric.poses_c2w[:, :3, 3], factor * plain.poses_c2w[:, :3, 3], rtol=1e-5, atol=1e-6)


def test_metric_needs_a_metric_prior(sequence):  # noqa: F811
    names = [f"{i:06d}" for i in range(len(sequence.images))]
    disparity = SimulatedPrior.from_maps(sequence.priors["depth-anything"], names)
    with pytest.raises(InputError, match="--metric needs a metric depth prior"):
        reconstruct(sequence.images, Align3RNet(PRESETS["tiny"]), disparity, ReconstructConfig(metric=True, flow="none"),
                    names=names)
