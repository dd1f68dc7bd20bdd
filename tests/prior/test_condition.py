"""prior_points: unprojection with c = (W0/2, H0/2), per-channel min-max, invariances, bad maps."""

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from align3r.errors import InputError
from align3r.prior.condition import prior_points


def test_known_answer_two_by_three():
    depth = np.array([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]])  # (1, 2, 3): c = (1.5, 1.0)
    u, v = np.meshgrid(np.arange(3.0), np.arange(2.0))
    x, y = (u - 1.5) * depth[0] / 10, (v - 1.0) * depth[0] / 10
    expected = np.stack([(c - c.min()) / (c.max() - c.min()) for c in (x, y, depth[0])], axis=-1)
    np.testing.assert_allclose(prior_points(depth, 10.0)[0], expected, atol=1e-7)


def test_channels_span_zero_to_one_and_dtype():
    depth = np.random.default_rng(0).uniform(0.5, 9.0, size=(2, 7, 11))
    pts = prior_points(depth)
    assert pts.shape == (2, 7, 11, 3) and pts.dtype == np.float32
    np.testing.assert_allclose(pts.min(axis=(1, 2)), 0.0)
    np.testing.assert_allclose(pts.max(axis=(1, 2)), 1.0)


@settings(max_examples=25, deadline=None)
@given(focal=st.floats(1.0, 5000.0), other_focal=st.floats(1.0, 5000.0), scale=st.floats(1e-3, 1e3),
       seed=st.integers(0, 2**16))
def test_focal_and_global_scale_do_not_change_the_map(focal, other_focal, scale, seed):
    depth = np.random.default_rng(seed).uniform(0.1, 50.0, size=(1, 9, 13)).astype(np.float32)
    np.testing.assert_allclose(prior_points(depth * np.float32(scale), other_focal), prior_points(depth, focal),
                               atol=2e-6)


def test_constant_channel_becomes_zero_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="align3r.prior.condition"):
        pts = prior_points(np.full((1, 4, 6), 3.0))
    assert "constant channel" in caplog.text
    np.testing.assert_array_equal(pts[0, ..., 2], 0.0)
    assert np.isfinite(pts).all() and pts[0, ..., 0].max() == 1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_prior_is_an_input_error(bad):
    depth = np.ones((2, 4, 4))
    depth[1, 2, 3] = bad
    with pytest.raises(InputError, match=r"frame\(s\) \[1\]"):
        prior_points(depth)


def test_wrong_rank_and_focal_are_value_errors():
    with pytest.raises(ValueError, match="prior_depth"):
        prior_points(np.ones((4, 4)))
    with pytest.raises(ValueError, match="focal"):
        prior_points(np.ones((1, 4, 4)), 0.0)
