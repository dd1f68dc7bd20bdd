"""Depth Anything V2 backend with a tiny randomly initialised transformers model (no download)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

transformers = pytest.importorskip("transformers")

from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil  # noqa: E402

from align3r.prior.depth_anything import DepthAnythingPrior  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    backbone = transformers.Dinov2Config(hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                                         intermediate_size=32, patch_size=14, image_size=56,
                                         out_features=["stage1", "stage2", "stage3", "stage4"],
                                         reshape_hidden_states=False)
    config = transformers.DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=16,
                                              neck_hidden_sizes=[8, 8, 16, 16], fusion_hidden_size=16,
                                              head_hidden_size=8, depth_estimation_type="relative")
    model = transformers.DepthAnythingForDepthEstimation(config).eval()
    with torch.no_grad():  # a positive, image-dependent output: random heads often end in ReLU zeros
        model.head.conv3.bias.fill_(0.5)
    processor = DPTImageProcessorPil(size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14,
                                     resample=3, do_pad=False)
    return model, processor


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 256, size=(3, 45, 70, 3), dtype=np.uint8)


def test_output_has_the_frames_size_and_is_the_uninverted_bicubic_disparity(tiny, frames):
    model, processor = tiny
    prior = DepthAnythingPrior(model, processor, name="depth-anything-v2-small", device="cpu", batch_size=2)
    out = prior.estimate(frames, ["a", "b", "c"])
    assert out.kind == "disparity_affine" and out.focal_px is None
    assert out.values.shape == (3, 45, 70) and out.values.dtype == np.float32
    with torch.no_grad():
        pixels = processor(images=[Image.fromarray(f) for f in frames], return_tensors="pt")["pixel_values"]
        raw = model(pixel_values=pixels).predicted_depth
    expected = F.interpolate(raw[:, None], size=(45, 70), mode="bicubic", align_corners=False)[:, 0]
    assert raw.shape[-2:] != (45, 70) and raw.min() > 0
    np.testing.assert_allclose(out.values, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_size_does_not_change_the_output(tiny, frames):
    model, processor = tiny
    one = DepthAnythingPrior(model, processor, name="x", device="cpu", batch_size=1).estimate(frames, list("abc"))
    three = DepthAnythingPrior(model, processor, name="x", device="cpu", batch_size=3).estimate(frames, list("abc"))
    np.testing.assert_allclose(one.values, three.values, rtol=1e-5, atol=1e-6)


def test_cache_key_names_the_prior_and_precision(tiny):
    prior = DepthAnythingPrior(*tiny, name="depth-anything-v2-small", device="cpu")
    assert prior.cache_key.startswith("depth-anything-v2-small|disparity_affine") and "float32" in prior.cache_key
