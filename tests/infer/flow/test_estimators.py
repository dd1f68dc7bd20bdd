"""Flow estimators behind one interface and their errors."""

import sys
import types

import cv2
import numpy as np
import pytest

from align3r.errors import InputError, ModelNotFoundError
from align3r.infer.flow import load_flow


def _texture(height, width, seed):
    noise = np.random.default_rng(seed).random((height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return np.repeat((255 * smooth).astype(np.uint8)[..., None], 3, axis=-1)


def test_dis_flow_recovers_a_translation():
    image = _texture(96, 128, 0)
    moved = np.roll(image, shift=(2, 3), axis=(0, 1))  # content moves 3 px right, 2 px down
    flow_ij, flow_ji = load_flow("dis")(np.stack([image, moved]), np.array([[0, 1]]))
    assert flow_ij.shape == (1, 2, 96, 128) and flow_ij.dtype == np.float32
    inner = (slice(None), slice(16, -16), slice(16, -16))
    np.testing.assert_allclose(np.median(flow_ij[0][inner], axis=(1, 2)), [3, 2], atol=0.1)
    np.testing.assert_allclose(np.median(flow_ji[0][inner], axis=(1, 2)), [-3, -2], atol=0.1)


def test_raft_without_torchvision_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision.models.optical_flow", None)
    with pytest.raises(ModelNotFoundError, match="torchvision"):
        load_flow("raft")


def test_raft_offline_without_cache_is_one_clear_error(monkeypatch):
    def unreachable(weights):
        raise OSError("network unreachable")
    fake = types.ModuleType("torchvision.models.optical_flow")
    fake.Raft_Large_Weights = types.SimpleNamespace(C_T_SKHT_V2="weights")
    fake.raft_large = unreachable
    monkeypatch.setitem(sys.modules, "torchvision.models.optical_flow", fake)
    with pytest.raises(ModelNotFoundError, match="not cached"):
        load_flow("raft")


def test_unknown_flow_is_one_clear_error():
    with pytest.raises(InputError, match="unknown flow"):
        load_flow("farneback")
