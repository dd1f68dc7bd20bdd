"""Depth Pro backend with a tiny randomly initialised transformers model (no download)."""

import cv2
import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from align3r.errors import CheckpointError  # noqa: E402
from align3r.prior.depth_pro import DepthProInput, DepthProPrior  # noqa: E402

INPUT = DepthProInput(size=128)


def tiny_model(use_fov_model: bool = True) -> torch.nn.Module:
    torch.manual_seed(0)
    backbone = dict(model_type="dinov2", hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=32, patch_size=4, image_size=32)
    config = transformers.DepthProConfig(
        patch_size=32, fusion_hidden_size=16, intermediate_hook_ids=[1, 0], intermediate_feature_dims=[8, 8],
        scaled_images_ratios=[0.25, 0.5, 1], scaled_images_overlap_ratios=[0.0, 0.5, 0.25],
        scaled_images_feature_dims=[16, 16, 8], use_fov_model=use_fov_model, num_fov_head_layers=1,
        image_model_config=backbone, patch_model_config=backbone, fov_model_config=backbone)
    return transformers.DepthProForDepthEstimation(config).eval()


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 256, size=(2, 40, 60, 3), dtype=np.uint8)


def test_returns_metric_depth_at_the_frames_size_and_the_fov_focal(model, frames):
    out = DepthProPrior(model, network_input=INPUT, device="cpu", batch_size=2).estimate(frames, ["a", "b"])
    assert out.kind == "depth_metric" and out.values.shape == (2, 40, 60) and out.values.dtype == np.float32
    assert out.focal_px.shape == (2,) and out.focal_px.dtype == np.float64

    rgb = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1  # mean = std = 0.5
    pixels = torch.nn.functional.interpolate(rgb, size=(128, 128), mode="bilinear", align_corners=False)
    with torch.no_grad():
        raw = model(pixel_values=pixels)
    fov = raw.field_of_view.numpy().astype(np.float64)
    expected_focal = 30.0 / np.tan(np.deg2rad(fov) / 2)  # 0.5 * W0 / tan(fov / 2)
    np.testing.assert_allclose(out.focal_px, expected_focal, rtol=1e-5)
    for i in range(2):  # OpenCV's bilinear = torch's align_corners=False (no antialias), in float64
        inverse = cv2.resize(raw.predicted_depth[i].numpy().astype(np.float64) * 60 / expected_focal[i], (60, 40),
                             interpolation=cv2.INTER_LINEAR)
        inverse = np.clip(inverse, 1e-4, 1e4)
        assert (1 / inverse).std() > 0.1  # not a constant map
        np.testing.assert_allclose(1 / out.values[i], inverse, rtol=1e-4, atol=1e-4 * inverse.max())


def test_batch_size_does_not_change_the_output(model, frames):
    one = DepthProPrior(model, network_input=INPUT, device="cpu", batch_size=1).estimate(frames, ["a", "b"])
    two = DepthProPrior(model, network_input=INPUT, device="cpu", batch_size=2).estimate(frames, ["a", "b"])
    np.testing.assert_allclose(one.values, two.values, rtol=1e-5)
    np.testing.assert_allclose(one.focal_px, two.focal_px, rtol=1e-6)


def test_model_without_fov_head_is_refused():
    with pytest.raises(CheckpointError, match="field-of-view"):
        DepthProPrior(tiny_model(use_fov_model=False), network_input=INPUT, device="cpu")


def test_input_settings_come_from_the_preprocessor_config(tmp_path):
    assert DepthProInput.from_folder(tmp_path) == DepthProInput()
    (tmp_path / "preprocessor_config.json").write_text(
        '{"size": {"height": 768, "width": 768}, "image_mean": [0.4, 0.5, 0.6], "image_std": [0.2, 0.3, 0.4]}')
    assert DepthProInput.from_folder(tmp_path) == DepthProInput(768, (0.4, 0.5, 0.6), (0.2, 0.3, 0.4))
