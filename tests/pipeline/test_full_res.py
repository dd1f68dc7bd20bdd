"""Full-resolution outputs (`align3r.pipeline.full_res`, `align3r run --full-res`) against exact ground truth.

The frames are 160x100; at `--size 64` the network sees a 64x40 resize cropped to 64x32, so 10 rows
at the top and bottom of each frame are outside the crop.
"""

import logging

import numpy as np
import pytest
import torch
from helpers.job_fixtures import job, run  # noqa: F401  (fixtures: this module's `sequence` written, `align3r run`)

from align3r.data.synthetic import SynthConfig, generate_sequence
from align3r.data.synthetic.render import pixel_rays, trace
from align3r.data.synthetic.sequence import build_scene
from align3r.geometry import invert_pose, transform_points, unproject_depth
from align3r.infer import runner
from align3r.infer.pairs import PairPredictions
from align3r.infer.preprocess import frame_transform, transform_intrinsics
from align3r.io.results import load_reconstruction
from align3r.pipeline.full_res import FullResOptions, fit_scale_shift, full_resolution, load_refiner, restore_intrinsics
from align3r.reconstruction import Reconstruction

CONFIG = SynthConfig(frames=4, width=160, height=100, seed=3, setting="indoor")
BORDER = 10  # original rows above and below the crop


@pytest.fixture(scope="module")
def sequence():
    return generate_sequence(CONFIG)


@pytest.fixture(scope="module")
def transform():
    return frame_transform(CONFIG.height, CONFIG.width, size=64)


@pytest.fixture(scope="module")
def network_grid(sequence, transform):
    """Exact (N, 32, 64) depth and K on the network grid: the same scene ray-cast at its pixel centres."""
    scene = build_scene(CONFIG)
    k_net = transform_intrinsics(torch.from_numpy(sequence.intrinsics), transform).numpy()
    height, width = transform.output_size
    depth = np.stack([trace(scene, i, pixel_rays(k_net[i], height, width))[0].reshape(height, width)
                      for i in range(CONFIG.frames)])
    return depth.astype(np.float32), k_net


def network_rec(sequence, network_grid, conf=None, masks=None) -> Reconstruction:
    depth, k_net = network_grid
    n, h, w = depth.shape
    return Reconstruction(images=np.zeros((n, h, w, 3), np.uint8), depths=depth,
                          conf=np.full((n, h, w), 2.0, np.float32) if conf is None else conf,
                          poses_c2w=sequence.poses_c2w, intrinsics=k_net,
                          dynamic_masks=np.zeros((n, h, w), bool) if masks is None else masks,
                          names=[f"{i:06d}" for i in range(n)], meta={"mode": "test"})


def test_transform_crops_a_border(transform):
    assert transform.resized_size == (40, 64) and transform.crop_box == (4, 0, 32, 64)


def test_bilinear_depth_matches_the_exact_depth_at_full_resolution(sequence, network_grid, transform):
    u = np.arange(64, dtype=np.float32)
    conf = np.broadcast_to(1 + u / 10, (CONFIG.frames, 32, 64)).copy()  # linear in u: bilinear is exact
    masks = np.broadcast_to(u >= 32, (CONFIG.frames, 32, 64)).copy()
    full = full_resolution(network_rec(sequence, network_grid, conf, masks), sequence.images, transform)
    n, h0, w0 = sequence.depths.shape
    assert full.depths.shape == (n, h0, w0) and full.conf.shape == (n, h0, w0)
    assert full.images.shape == (n, h0, w0, 3) and full.dynamic_masks.shape == (n, h0, w0)
    np.testing.assert_allclose(full.intrinsics, sequence.intrinsics, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(full.poses_c2w, sequence.poses_c2w)
    info = full.meta["full_res"]
    assert info["method"] == "bilinear" and info["observed_box"] == [BORDER, 0, h0 - 2 * BORDER, w0]
    rel = np.abs(full.depths / sequence.depths - 1)
    inside, border = rel[:, BORDER:-BORDER], np.concatenate([rel[:, :BORDER], rel[:, -BORDER:]], axis=1)
    # measured: inside median 3e-4, mean 0.0068 (edges of objects); border median 0.016, mean 0.035
    assert np.median(inside) < 2e-3 and inside.mean() < 0.02
    assert np.median(border) < 0.05 and border.mean() < 0.1
    u0 = (np.arange(w0) + 0.5) * 0.4 - 0.5  # network column of each original column
    np.testing.assert_allclose(full.conf[0, 50], 1 + np.clip(u0, 0, 63) / 10, rtol=1e-6)
    np.testing.assert_array_equal(full.conf[:, :BORDER], full.conf[:, BORDER:BORDER + 1].repeat(BORDER, axis=1))
    np.testing.assert_array_equal(full.dynamic_masks[0, 0], np.arange(w0) >= 80)


def test_restore_intrinsics_inverts_transform_intrinsics_without_crop(sequence):
    transform = frame_transform(100, 160, size=64, crop=False)
    k_net = transform_intrinsics(torch.from_numpy(sequence.intrinsics), transform).numpy()
    np.testing.assert_allclose(restore_intrinsics(k_net, transform), sequence.intrinsics, rtol=0, atol=1e-9)


def test_fit_scale_shift_known_answers():
    target = np.linspace(1.0, 5.0, 200).reshape(10, 20)
    valid = np.ones_like(target, dtype=bool)
    assert fit_scale_shift((target - 0.3) / 2, target, valid) == pytest.approx((2.0, 0.3))
    flat = np.full_like(target, 2.0)  # no spread: no affine fit, the scale only
    scale, shift = fit_scale_shift(flat, target, valid)
    assert shift == 0 and scale == pytest.approx(target.mean() / 2)


@pytest.fixture(scope="module")
def prompt_model(tmp_path_factory):
    """A tiny random Prompt Depth Anything model with its image processor, saved to a folder."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("prompt_da")
    backbone = dict(model_type="dinov2", image_size=56, patch_size=14, hidden_size=32, num_hidden_layers=4,
                    num_attention_heads=2, intermediate_size=64, out_indices=[1, 2, 3, 4],
                    reshape_hidden_states=False)
    config = transformers.PromptDepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32,
                                                    neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
                                                    head_hidden_size=8)
    torch.manual_seed(0)
    transformers.PromptDepthAnythingForDepthEstimation(config).save_pretrained(folder)
    transformers.PromptDepthAnythingImageProcessorPil(size={"height": 56, "width": 84}, keep_aspect_ratio=True,
                                                      ensure_multiple_of=14).save_pretrained(folder)
    return folder


def test_prompt_depth_anything_output_keeps_our_scale(sequence, network_grid, transform, prompt_model):
    refiner = load_refiner(FullResOptions(model=str(prompt_model)), device="cpu")
    assert refiner is not None
    rec = network_rec(sequence, network_grid)
    full = full_resolution(rec, sequence.images, transform, refiner=refiner)
    bilinear = full_resolution(rec, sequence.images, transform)
    assert full.meta["full_res"]["method"] == "prompt-depth-anything"
    assert full.depths.shape == sequence.depths.shape and np.isfinite(full.depths).all() and (full.depths > 0).all()
    inside = (slice(None), slice(BORDER, -BORDER))
    for ours, refined in zip(bilinear.depths[inside], full.depths[inside]):  # the re-fit: our mean per frame
        assert refined.mean() == pytest.approx(ours.mean(), rel=1e-3)
    # a random model has no depth structure, so only the scale is ours: median ratio measured 1.13
    ratio = np.median(full.depths[inside] / bilinear.depths[inside])
    assert abs(ratio - 1) < 0.25


class AffineOracle:
    """A stand-in for Prompt Depth Anything that knows the exact depth, up to a per-frame affine map."""

    name = "oracle"

    def __init__(self, depths: np.ndarray) -> None:
        self.depths = depths

    def __call__(self, frames: np.ndarray, prompt: np.ndarray) -> np.ndarray:
        assert prompt.shape == (len(frames), 40, 64)  # the whole frame at the network's pixel density
        gain = np.arange(1, len(frames) + 1, dtype=np.float32)[:, None, None]
        return 0.5 * gain * self.depths + gain  # positive, in the wrong scale and offset


def test_the_refit_puts_a_model_depth_in_our_scale_border_included(sequence, network_grid, transform):
    rec = network_rec(sequence, network_grid)
    full = full_resolution(rec, sequence.images, transform, refiner=AffineOracle(sequence.depths))
    info = full.meta["full_res"]
    # measured: scale x gain 1.989-1.993, shift -1.961..-1.972 (fitted to our bilinear depth, whose
    # object edges are blurred); relative error median 0.0018, max 0.011, border median 0.0013
    np.testing.assert_allclose(np.array(info["scale"]) * np.arange(1, 5), 2.0, rtol=0.01)
    np.testing.assert_allclose(info["shift"], -2.0, rtol=0.04)
    rel = np.abs(full.depths / sequence.depths - 1)
    assert np.median(rel) < 0.005 and rel.max() < 0.03 and np.median(rel[:, :BORDER]) < 0.005


def test_an_unloadable_model_warns_once_and_falls_back(monkeypatch, caplog, tmp_path):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with caplog.at_level(logging.WARNING):
        assert load_refiner(FullResOptions(model="no-such-owner/no-such-prompt-model")) is None
        assert load_refiner(FullResOptions(model=str(tmp_path))) is None  # a folder without a model
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("upsampling depth bilinearly" in line for line in lines)


# --- the CLI (the shared `job` and `run`, with --size 64), on exact pair predictions of the network grid ---

@pytest.fixture(autouse=True)
def oracle(monkeypatch, sequence, network_grid):
    """The network's pair predictions replaced by the exact point maps of the network grid."""
    depth, k_net = network_grid
    pts_cam = unproject_depth(torch.from_numpy(depth).double(), torch.from_numpy(k_net))  # (N, H, W, 3)
    c2w = torch.from_numpy(sequence.poses_c2w)

    def exact_pairs(model, load, edges, *, batch_size, device, precision="fp32"):
        for ids in torch.arange(len(edges)).split(batch_size):
            i, j = edges[ids, 0], edges[ids, 1]
            pts_j_in_i = transform_points(invert_pose(c2w[i]) @ c2w[j], pts_cam[j])
            conf = torch.full(pts_j_in_i.shape[:-1], 5.0)
            yield runner.PairBatch(ids, PairPredictions(edges=edges[ids], pts3d_i_in_i=pts_cam[i].float(),
                                                        pts3d_j_in_i=pts_j_in_i.float(), conf_i=conf, conf_j=conf))

    monkeypatch.setattr("align3r.pipeline.reconstruct.infer_pairs", exact_pairs)


def test_cli_full_res_writes_the_subfolder(job, sequence, transform, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # the default model: not cached
    with caplog.at_level(logging.WARNING):  # the CLI's stderr handler; pytest catches the records
        assert run(job, tmp_path / "out", "--full-res") == 0
    assert caplog.text.count("cannot load Prompt Depth Anything") == 1, caplog.text
    rec, full = load_reconstruction(tmp_path / "out"), load_reconstruction(tmp_path / "out" / "full_res")
    assert rec.depths.shape == (4, 32, 64) and full.depths.shape == (4, 100, 160)
    assert (tmp_path / "out" / "full_res" / "pred_intrinsics.txt").exists()
    assert full.meta["full_res"]["method"] == "bilinear"
    np.testing.assert_array_equal(full.images, sequence.images)
    np.testing.assert_array_equal(full.poses_c2w, rec.poses_c2w)
    # exact pairs: right up to one global scale, at full resolution too
    scale = np.median(sequence.depths / full.depths)
    rel = np.abs(full.depths[:, BORDER:-BORDER] * scale / sequence.depths[:, BORDER:-BORDER] - 1)
    assert np.median(rel) < 0.01
    assert full.intrinsics[0, 0, 0] == pytest.approx(sequence.intrinsics[0, 0, 0], rel=0.02)
    # the aligner's principal point is the network grid's (W/2, H/2) (`centred_intrinsics`), mapped back exactly
    np.testing.assert_allclose(full.intrinsics, restore_intrinsics(rec.intrinsics, transform), rtol=0, atol=1e-9)

    assert run(job, tmp_path / "out", "--overwrite") == 0  # without --full-res: the old subfolder goes
    assert not (tmp_path / "out" / "full_res").exists()


def test_cli_full_res_with_a_prompt_depth_anything_folder(job, tmp_path, prompt_model, caplog):
    with caplog.at_level(logging.WARNING):
        assert run(job, tmp_path / "out", "--full-res", "--full-res-model", str(prompt_model)) == 0
    assert "cannot load" not in caplog.text
    full = load_reconstruction(tmp_path / "out" / "full_res")
    assert full.meta["full_res"]["method"] == "prompt-depth-anything" and len(full.meta["full_res"]["scale"]) == 4
    assert full.depths.shape == (4, 100, 160) and (full.depths > 0).all()


def test_cli_full_res_model_without_full_res_is_one_line_exit_2(job, tmp_path, capsys):
    assert run(job, tmp_path / "out", "--full-res-model", "x") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--full-res-model only applies with --full-res" in err
    assert not (tmp_path / "out").exists()
