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
    flows = load_flow("dis")(np.stack([image, moved]), np.array([[0, 1], [1, 0]]))
    assert flows.shape == (2, 2, 96, 128) and flows.dtype == np.float32
    inner = (slice(None), slice(16, -16), slice(16, -16))
    np.testing.assert_allclose(np.median(flows[0][inner], axis=(1, 2)), [3, 2], atol=0.1)
    np.testing.assert_allclose(np.median(flows[1][inner], axis=(1, 2)), [-3, -2], atol=0.1)


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


def test_sea_raft_without_weights_falls_back_to_dis_with_one_warning(monkeypatch, caplog):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", "/nonexistent-hub-cache")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", "/nonexistent-hub-cache")
    with caplog.at_level("WARNING"):
        flow = load_flow("sea-raft")
    assert flow.name == "dis" and "SEA-RAFT weights unavailable" in flow.note
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "using OpenCV DIS flow instead" in warnings[0] and "\n" not in warnings[0]


def test_sea_raft_weights_named_but_missing_are_an_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no such SEA-RAFT checkpoint"):
        load_flow("sea-raft", weights=str(tmp_path / "Tartan-C-T432x960-M.pth"))
