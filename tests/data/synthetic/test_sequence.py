"""Generated sequences carry exact, mutually consistent ground truth."""

import numpy as np
import pytest
import torch

from align3r.data.synthetic import PRIOR_PRESETS, SynthConfig, build_scene, generate_sequence
from align3r.data.synthetic.render import render_frame, trace
from align3r.data.synthetic.scene import FAR_MIN
from align3r.errors import InputError
from align3r.geometry import invert_pose, project_points, transform_points, unproject_depth

CASES = [dict(setting="indoor", camera_motion="orbit", seed=1), dict(setting="outdoor", camera_motion="walk", seed=2),
         dict(setting="indoor", camera_motion="rotation", seed=3), dict(setting="outdoor", camera_motion="static", seed=4)]


def small(**fields) -> SynthConfig:
    return SynthConfig(**({"frames": 5, "width": 80, "height": 60, "dynamic_objects": 3, "static_objects": 4,
                           "priors": PRIOR_PRESETS["exact"]} | fields))


def surface_points_world(config: SynthConfig, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """World points (H, W, 3) of frame `frame` from its depth, K and pose, and its primitive ids."""
    scene = build_scene(config)
    rendered = render_frame(scene, frame)
    pts_in_cam = unproject_depth(torch.from_numpy(rendered.depth.astype(np.float64)),
                                 torch.from_numpy(scene.intrinsics[frame]))
    return transform_points(torch.from_numpy(scene.c2w[frame]), pts_in_cam).numpy(), rendered.primitive_ids


def check_reprojection(config: SynthConfig, i: int, j: int, *, moving: bool) -> float:
    """Points of frame i (static, or moved with their object) land on frame j's surface.

    Casts a ray through each projected point in frame j: the surface it meets is never behind
    the point (1e-4 relative); where it is not in front (the point is visible), it is the same
    primitive and 3D positions agree to 1e-4 relative. Returns the fraction found visible.
    """
    scene = build_scene(config)
    pts_world_i, ids_i = surface_points_world(config, i)
    dynamic = scene.dynamic[np.maximum(ids_i, 0)]
    keep = (ids_i >= 0) & (dynamic if moving else ~dynamic)
    pts, ids = pts_world_i[keep], ids_i[keep]
    if moving:  # carry each point with its object from frame i to frame j
        motion = scene.o2w[j, ids] @ np.linalg.inv(scene.o2w[i, ids])  # (P, 4, 4) world_i -> world_j
        pts = (motion[:, :3, :3] @ pts[:, :, None])[:, :, 0] + motion[:, :3, 3]
    w2c_j = invert_pose(torch.from_numpy(scene.c2w[j]))
    uv, z = project_points(transform_points(w2c_j, torch.from_numpy(pts)), torch.from_numpy(scene.intrinsics[j]))
    uv, z = uv.numpy(), z.numpy()
    inside = (z > 0) & (uv[:, 0] > -0.5) & (uv[:, 0] < config.width - 0.5) & (uv[:, 1] > -0.5) & (uv[:, 1] < config.height - 0.5)
    k = scene.intrinsics[j]
    dirs = np.stack([(uv[inside, 0] - k[0, 2]) / k[0, 0], (uv[inside, 1] - k[1, 2]) / k[1, 1], np.ones(inside.sum())])
    depth_j, ids_j = trace(scene, j, dirs)
    assert np.all(depth_j <= z[inside] * (1 + 1e-4))  # never floating in front of a surface
    visible = depth_j >= z[inside] * (1 - 1e-4)
    np.testing.assert_array_equal(ids_j[visible], ids[inside][visible])
    pts_j = transform_points(w2c_j, torch.from_numpy(pts[inside][visible])).numpy()
    position_error = np.linalg.norm(dirs[:, visible].T * depth_j[visible, None] - pts_j, axis=1)
    assert np.all(position_error <= 1e-4 * np.linalg.norm(pts_j, axis=1))
    return float(visible.mean())


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['setting']}-{c['camera_motion']}")
def test_static_pixels_reproject_onto_other_frames(case):
    config = small(**case)
    visible = [check_reprojection(config, i, j, moving=False) for i, j in [(0, 4), (2, 1)]]
    assert min(visible) > 0.3


def test_moving_pixels_reproject_with_their_object():
    config = small(setting="indoor", camera_motion="orbit", seed=6, dynamic_objects=4)
    assert check_reprojection(config, 1, 3, moving=True) > 0.3


@pytest.mark.parametrize("case", CASES[:2], ids=lambda c: c["setting"])
def test_dynamic_masks_are_exactly_the_pixels_whose_surface_moves(case):
    config = small(**case)
    scene, sequence = build_scene(config), generate_sequence(config)
    for i in range(config.frames):
        pts_world, ids = surface_points_world(config, i)
        j = i + 1 if i + 1 < config.frames else i - 1
        motion = scene.o2w[j, np.maximum(ids, 0)] @ np.linalg.inv(scene.o2w[i, np.maximum(ids, 0)])  # (H, W, 4, 4)
        moved_to = (motion[..., :3, :3] @ pts_world[..., None])[..., 0] + motion[..., :3, 3]
        moved = (np.linalg.norm(moved_to - pts_world, axis=-1) > 1e-9) & (ids >= 0)
        np.testing.assert_array_equal(sequence.dynamic_masks[i], moved)
    assert sequence.dynamic_masks.any()


def test_same_seed_same_arrays_other_seed_other_scene():
    first, second = generate_sequence(small(seed=7)), generate_sequence(small(seed=7))
    for name in ("images", "depths", "valid_masks", "dynamic_masks", "intrinsics", "poses_c2w"):
        assert getattr(first, name).tobytes() == getattr(second, name).tobytes(), name
    for style in first.priors:
        assert first.priors[style].stored.tobytes() == second.priors[style].stored.tobytes()
    assert first.meta == second.meta
    assert not np.array_equal(first.images, generate_sequence(small(seed=8)).images)


def test_outputs_have_the_documented_shapes_and_conventions():
    sequence = generate_sequence(small(setting="outdoor", seed=2))
    n, h, w = 5, 60, 80
    assert sequence.images.shape == (n, h, w, 3) and sequence.images.dtype == np.uint8
    assert sequence.depths.shape == (n, h, w) and sequence.depths.dtype == np.float32
    assert sequence.intrinsics.shape == (n, 3, 3) and sequence.poses_c2w.shape == (n, 4, 4)
    np.testing.assert_array_equal(sequence.valid_masks, sequence.depths > 0)
    assert (~sequence.valid_masks).any() and (sequence.depths > FAR_MIN - 100).any()  # sky and far background
    rot = sequence.poses_c2w[:, :3, :3]
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.tile(np.eye(3), (n, 1, 1)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
    np.testing.assert_allclose(sequence.intrinsics[:, :2, 2], [[(w - 1) / 2, (h - 1) / 2]] * n)
    assert sequence.valid_masks[:, 0].mean() < sequence.valid_masks[:, -1].mean()  # y down: sky at the top


def test_camera_motion_styles():
    centres = {m: build_scene(small(camera_motion=m, frames=6, seed=9)).c2w for m in ("rotation", "static", "orbit")}
    rotation, static, orbit = centres["rotation"], centres["static"], centres["orbit"]
    assert np.all(rotation[:, :3, 3] == rotation[0, :3, 3])  # pure rotation: one centre
    assert np.degrees(np.arccos(np.clip((np.trace(rotation[0, :3, :3].T @ rotation[-1, :3, :3]) - 1) / 2, -1, 1))) > 5
    assert 0 < np.abs(static[:, :3, 3] - static[0, :3, 3]).max() < 0.01  # near-static: millimetres
    assert np.linalg.norm(orbit[-1, :3, 3] - orbit[0, :3, 3]) > 0.5


@pytest.mark.parametrize("count", [1, 4])
def test_dynamic_object_count(count):
    scene = build_scene(small(dynamic_objects=count, seed=10))
    assert scene.dynamic.sum() == count
    moving = scene.o2w[:, scene.dynamic]
    assert np.all(np.abs(np.diff(moving[:, :, :3, 3], axis=0)).sum(-1) > 1e-3)  # never at rest


@pytest.mark.parametrize("fields, message", [({"frames": 0}, "frames"), ({"width": 4}, "size"),
                                             ({"setting": "space"}, "setting"), ({"camera_motion": "fly"}, "camera"),
                                             ({"dynamic_objects": 5}, "dynamic"), ({"fov_deg": (80.0, 60.0)}, "fov"),
                                             ({"priors": PRIOR_PRESETS["exact"][:1] * 2}, "priors")])
def test_bad_config_raises_input_error(fields, message):
    with pytest.raises(InputError, match=message):
        SynthConfig(**fields)
