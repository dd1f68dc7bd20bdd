"""Flow estimators behind one interface, the motion masks and their errors."""

import sys
import types
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from align.goldens import ALIGN_DATA, load_pairs
from align3r.align.config import PRESETS
from align3r.align.flow import estimate_flow, motion_masks
from align3r.align.global_align import global_align
from align3r.errors import InputError, ModelNotFoundError


def _texture(height, width, seed):
    noise = np.random.default_rng(seed).random((height, width)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return np.repeat((255 * smooth).astype(np.uint8)[..., None], 3, axis=-1)


def test_dis_flow_recovers_a_translation():
    image = _texture(96, 128, 0)
    moved = np.roll(image, shift=(2, 3), axis=(0, 1))  # content moves 3 px right, 2 px down
    flow_ij, flow_ji = estimate_flow(np.stack([image, moved]), np.array([[0, 1]]), "dis")
    assert flow_ij.shape == (1, 2, 96, 128) and flow_ij.dtype == np.float32
    inner = (slice(None), slice(16, -16), slice(16, -16))
    np.testing.assert_allclose(np.median(flow_ij[0][inner], axis=(1, 2)), [3, 2], atol=0.1)
    np.testing.assert_allclose(np.median(flow_ji[0][inner], axis=(1, 2)), [-3, -2], atol=0.1)


def test_raft_without_torchvision_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision.models.optical_flow", None)
    with pytest.raises(ModelNotFoundError, match="torchvision"):
        estimate_flow(np.zeros((2, 8, 8, 3), np.uint8), np.array([[0, 1]]), "raft")


def test_raft_offline_without_cache_is_one_clear_error(monkeypatch):
    def unreachable(weights):
        raise OSError("network unreachable")
    fake = types.ModuleType("torchvision.models.optical_flow")
    fake.Raft_Large_Weights = types.SimpleNamespace(C_T_SKHT_V2="weights")
    fake.raft_large = unreachable
    monkeypatch.setitem(sys.modules, "torchvision.models.optical_flow", fake)
    with pytest.raises(ModelNotFoundError, match="not cached"):
        estimate_flow(np.zeros((2, 8, 8, 3), np.uint8), np.array([[0, 1]]), "raft")


def test_motion_masks_match_the_official_ones():
    masks = motion_masks(load_pairs("global8"), PRESETS["demo"][0])
    golden = np.load(ALIGN_DATA / "global8_demo_flow.npz")["dynamic_masks"]
    assert (masks.numpy() == golden).mean() >= 0.999 and golden.any()


def test_motion_masks_need_the_symmetrised_layout():
    pairs = load_pairs("global8")
    half = torch.arange(16)
    unsym = replace(pairs, edges=pairs.edges[half], pts3d_i_in_i=pairs.pts3d_i_in_i[half],
                    pts3d_j_in_i=pairs.pts3d_j_in_i[half], conf_i=pairs.conf_i[half],
                    conf_j=pairs.conf_j[half], flow_ij=pairs.flow_ij[half], flow_ji=pairs.flow_ji[half])
    with pytest.raises(InputError, match="symmetrised"):
        motion_masks(unsym, PRESETS["demo"][0])


def test_flow_term_on_without_flows_is_an_error_and_off_needs_none():
    pairs = load_pairs("hier12", np.array([[0, 1], [0, 2], [1, 2]]))
    with pytest.raises(InputError, match="no flow"):
        global_align(pairs, PRESETS["demo"][0])
    result = global_align(pairs, replace(PRESETS["demo"][0], niter=2, flow_weight=0.0))
    assert not result.dynamic_masks.any()
