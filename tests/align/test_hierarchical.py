"""Clip plan, stitching, and the scale-consistent stitching against the official rigid one."""

from dataclasses import replace

import numpy as np
import pytest
import roma
import torch
from helpers.align_goldens import ALIGN_DATA, abs_rel_one_scale, ate, load_pairs
from helpers.synthetic_pairs import ROOM_HALF_SIZE, box_depth, trajectory

from align3r.align.config import PRESETS, HierarchyConfig
from align3r.align.global_align import global_align
from align3r.align.hierarchical import clip_plan, hierarchical_align, scene_edges, stitch
from align3r.align.oracle import oracle_pairs
from align3r.errors import InputError


@pytest.mark.parametrize("frames, start, keyframes, sizes", [
    (24, 10, [0, 10, 20], [10, 10, 4]),
    (12, 50, [0, 10], [10, 2]),
    (20, 10, [0, 9, 18], [9, 9, 2]),  # 10 divides 20 -> 9
    (5, 10, [0, 3], [3, 2]),
])
def test_clip_plan_official_rule(frames, start, keyframes, sizes):
    ours = clip_plan(frames, start)
    assert ours[0].tolist() == keyframes and ours[1].tolist() == sizes


def test_clip_plan_rejects_short_videos():
    with pytest.raises(InputError, match="at least 5 frames"):
        clip_plan(4, 10)


class _Clip:
    """The fields of AlignResult that stitching reads."""

    def __init__(self, c2w, depths):
        self.c2w, self.depths = c2w, depths


def test_similarity_stitching_undoes_a_clip_scale_and_frame():
    gen = torch.Generator().manual_seed(0)
    world_c2w = torch.eye(4).repeat(3, 1, 1)
    world_c2w[:, :3, :3] = roma.random_rotmat(3, generator=gen)
    world_c2w[:, :3, 3] = torch.randn(3, 3, generator=gen)
    world_depths = 1 + torch.rand(3, 4, 5, generator=gen)
    clip_frame = torch.eye(4)  # clip world = world moved rigidly, then scaled by 1/2.5
    clip_frame[:3, :3], clip_frame[:3, 3] = roma.random_rotmat(generator=gen), torch.tensor([1.0, -2, 3])
    clip_c2w = clip_frame @ world_c2w
    clip_c2w[:, :3, 3] /= 2.5
    clip = _Clip(clip_c2w, world_depths / 2.5)
    c2w, depths, scale = stitch(clip, world_c2w[0], world_depths[0], "similarity")
    torch.testing.assert_close(c2w, world_c2w, atol=1e-5, rtol=0)
    torch.testing.assert_close(depths, world_depths)
    assert float(scale) == pytest.approx(2.5)
    c2w, depths, scale = stitch(clip, world_c2w[0], world_depths[0], "rigid")
    torch.testing.assert_close(c2w[0], world_c2w[0])
    torch.testing.assert_close(depths, clip.depths)
    assert float(scale) == 1.0
    assert (c2w[1:, :3, 3] - world_c2w[1:, :3, 3]).abs().max() > 0.1  # rigid keeps the clip scale


def test_scale_consistent_stitching_brings_hierarchical_depth_close_to_global():
    """hier24 synthetic video: global on every stored pair vs hierarchical with each stitching."""
    gt = np.load(ALIGN_DATA / "hier24_gt.npz")["depths"]
    config = replace(PRESETS["demo"][0], niter=50, flow_weight=0.0)
    global_error = abs_rel_one_scale(global_align(load_pairs("hier24"), config).depths.numpy(), gt)
    errors = {}
    for mode in ("rigid", "similarity"):
        result = hierarchical_align(lambda edges: load_pairs("hier24", edges), 24, config,
                                    HierarchyConfig(stitching=mode))
        errors[mode] = abs_rel_one_scale(result.depths.numpy(), gt)
    assert errors["rigid"] > 4 * global_error  # official: each clip in its own scale
    assert errors["similarity"] < 1.5 * global_error


def test_nested_keyframe_levels_keep_scenes_small_and_recover_exact_geometry():
    """60 exact frames, at most 5 keyframes per scene: keyframes of keyframes, then clips."""
    frames, focal, height, width = 60, 30.0, 24, 32
    c2w = trajectory(frames, seed=3)
    depths = box_depth(c2w, focal, height, width)
    k = torch.tensor([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=torch.float64)
    hierarchy = replace(PRESETS["align3r"][1], max_keyframes=5)
    scenes = scene_edges(frames, hierarchy)
    assert len(scenes) == 1 + 2 + 7 and max(len(e) for e in scenes) <= 2 * 5 * 4
    config = replace(PRESETS["align3r"][0], niter=60, flow_weight=0.0, temporal_weight=0.0)
    result = hierarchical_align(
        lambda edges: oracle_pairs(c2w, depths, k.expand(frames, 3, 3), edges, seed=int(edges.sum())),
        frames, config, hierarchy)
    assert result.loss_curves.shape == (len(scenes), 60)
    assert ate(result.c2w.double().numpy(), c2w.numpy()) < 2e-3 * 2 * ROOM_HALF_SIZE
    assert abs_rel_one_scale(result.depths.numpy(), depths.numpy()) < 5e-3
