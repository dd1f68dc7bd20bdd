"""The camera convention and shared transforms: known answers, round trips, gradients."""

import math

import numpy as np
import pytest
import roma
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from align3r.geometry import (
    centred_intrinsics,
    check_shape,
    invert_pose,
    invert_similarity,
    nearest_rotation,
    pixel_grid,
    project_points,
    qwxyz_to_qxyzw,
    qxyzw_to_qwxyz,
    qxyzw_to_rotmat,
    rotation_angle,
    rotmat_to_qxyzw,
    similarity_matrix,
    transform_points,
    umeyama_alignment,
    unproject_depth,
)

F64 = torch.float64
K = torch.tensor([[100.0, 0.0, 31.5], [0.0, 110.0, 23.5], [0.0, 0.0, 1.0]], dtype=F64)


def random_sim3(generator: torch.Generator, batch: tuple[int, ...] = ()) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rot = qxyzw_to_rotmat(torch.randn(batch + (4,), generator=generator, dtype=F64))
    return torch.rand(batch, generator=generator, dtype=F64) + 0.5, rot, torch.randn(batch + (3,), generator=generator, dtype=F64)


def test_check_shape_names_the_argument():
    check_shape("x", torch.zeros(2, 5, 3), (None, 3))
    with pytest.raises(ValueError, match=r"pts: expected shape \(\.\.\., \*, 3\), got \(4, 2\)"):
        check_shape("pts", torch.zeros(4, 2), (None, 3))


def test_pixel_grid_is_column_row():
    grid = pixel_grid(2, 3)
    assert grid.shape == (2, 3, 2)
    assert grid[1, 2].tolist() == [2.0, 1.0]


def test_unproject_known_answer_and_project_round_trip():
    depth = torch.full((48, 64), 2.0, dtype=F64)
    pts = unproject_depth(depth, K)
    assert pts[0, 0].tolist() == pytest.approx([-31.5 * 2 / 100, -23.5 * 2 / 110, 2.0])
    uv, z = project_points(pts, K)
    torch.testing.assert_close(uv, pixel_grid(48, 64, dtype=F64))
    torch.testing.assert_close(z, depth)


def test_batched_unproject_transform_project():
    gen = torch.Generator().manual_seed(0)
    depth = torch.rand(3, 8, 10, generator=gen, dtype=F64) + 1
    ks = K.expand(3, 3, 3)
    _, rot, trans = random_sim3(gen, (3,))
    c2w = similarity_matrix(torch.ones(3, dtype=F64), rot, trans)
    pts_world = transform_points(c2w, unproject_depth(depth, ks))
    uv, z = project_points(transform_points(invert_pose(c2w), pts_world), ks)
    torch.testing.assert_close(z, depth)
    torch.testing.assert_close(uv, pixel_grid(8, 10, dtype=F64).expand(3, 8, 10, 2))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(lambda q: sum(x * x for x in q) > 1e-2),
       st.floats(0.1, 10), st.lists(st.floats(-5, 5), min_size=3, max_size=3))
def test_similarity_inverse_round_trip(q, scale, trans):
    a2b = similarity_matrix(torch.tensor(scale, dtype=F64), qxyzw_to_rotmat(torch.tensor(q, dtype=F64)),
                            torch.tensor(trans, dtype=F64))
    pts = torch.randn(7, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(transform_points(invert_similarity(a2b), transform_points(a2b, pts)), pts)
    torch.testing.assert_close(invert_similarity(a2b) @ a2b, torch.eye(4, dtype=F64))


def test_invert_pose_equals_invert_similarity_for_rigid():
    gen = torch.Generator().manual_seed(2)
    _, rot, trans = random_sim3(gen, (5,))
    c2w = similarity_matrix(torch.ones(5, dtype=F64), rot, trans)
    torch.testing.assert_close(invert_pose(c2w), invert_similarity(c2w))
    torch.testing.assert_close(invert_pose(c2w), torch.linalg.inv(c2w))


def test_umeyama_recovers_a_similarity_exactly():
    gen = torch.Generator().manual_seed(3)
    scale, rot, trans = random_sim3(gen, (4,))
    src = torch.randn(4, 20, 3, generator=gen, dtype=F64)
    dst = transform_points(similarity_matrix(scale, rot, trans), src)
    got_scale, got_rot, got_trans = umeyama_alignment(src, dst)
    torch.testing.assert_close(got_scale, scale)
    torch.testing.assert_close(got_rot, rot)
    torch.testing.assert_close(got_trans, trans)
    rigid_scale, _, _ = umeyama_alignment(src, dst, with_scale=False)
    assert torch.all(rigid_scale == 1)


def test_weighted_umeyama_ignores_zero_weight_outliers_and_agrees_with_roma():
    gen = torch.Generator().manual_seed(8)
    scale, rot, trans = random_sim3(gen)
    src = torch.randn(2, 30, 3, generator=gen, dtype=F64)
    dst = transform_points(similarity_matrix(scale, rot, trans), src)
    dst[:, :5] += 10.0  # outliers
    weights = torch.ones(2, 30, dtype=F64)
    weights[:, :5] = 0.0
    got_scale, got_rot, got_trans = umeyama_alignment(src, dst, weights=weights)
    torch.testing.assert_close(got_scale, scale.expand(2))
    torch.testing.assert_close(got_rot, rot.expand(2, 3, 3))
    torch.testing.assert_close(got_trans, trans.expand(2, 3))
    soft = torch.rand(2, 30, generator=gen, dtype=F64)
    roma_rot, roma_trans, roma_scale = roma.rigid_points_registration(src, dst, weights=soft, compute_scaling=True)
    ours = umeyama_alignment(src, dst, weights=soft)
    torch.testing.assert_close(ours[0], roma_scale)
    torch.testing.assert_close(ours[1], roma_rot)
    torch.testing.assert_close(ours[2], roma_trans)


def test_umeyama_returns_a_rotation_for_mirrored_points():
    src = torch.randn(30, 3, dtype=F64, generator=torch.Generator().manual_seed(4))
    dst = src * torch.tensor([1.0, 1.0, -1.0], dtype=F64)  # a reflection: no rotation fits exactly
    _, rot, _ = umeyama_alignment(src, dst)
    assert torch.linalg.det(rot).item() == pytest.approx(1.0)
    torch.testing.assert_close(rot @ rot.T, torch.eye(3, dtype=F64))


def test_umeyama_agrees_with_evo():
    evo_geometry = pytest.importorskip("evo.core.geometry")
    gen = np.random.default_rng(5)
    src, dst = gen.normal(size=(3, 40)), gen.normal(size=(3, 40))
    rot, trans, scale = evo_geometry.umeyama_alignment(src, dst, with_scale=True)
    ours = umeyama_alignment(torch.from_numpy(src.T), torch.from_numpy(dst.T))
    np.testing.assert_allclose(ours[0].item(), scale, rtol=1e-12)
    np.testing.assert_allclose(ours[1].numpy(), rot, atol=1e-12)
    np.testing.assert_allclose(ours[2].numpy(), trans, atol=1e-12)


def test_quaternion_known_answer_and_orders():
    quarter_turn_z = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=F64)
    qxyzw = rotmat_to_qxyzw(quarter_turn_z)
    torch.testing.assert_close(qxyzw, torch.tensor([0.0, 0.0, math.sqrt(0.5), math.sqrt(0.5)], dtype=F64))
    torch.testing.assert_close(qxyzw_to_qwxyz(qxyzw), torch.tensor([math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5)], dtype=F64))
    torch.testing.assert_close(qwxyz_to_qxyzw(qxyzw_to_qwxyz(qxyzw)), qxyzw)
    torch.testing.assert_close(qxyzw_to_rotmat(2.0 * qxyzw), quarter_turn_z)  # normalised first


def test_quaternion_round_trip_has_non_negative_w():
    rot = roma.random_rotmat(100, dtype=F64)
    qxyzw = rotmat_to_qxyzw(rot)
    assert torch.all(qxyzw[:, 3] >= 0)
    torch.testing.assert_close(qxyzw_to_rotmat(qxyzw), rot)


def test_nearest_rotation_cleans_and_keeps():
    rot = roma.random_rotmat(20, dtype=F64, device="cpu")
    torch.testing.assert_close(nearest_rotation(rot), rot)
    noisy = rot + 1e-4 * torch.randn(20, 3, 3, dtype=F64, generator=torch.Generator().manual_seed(7))
    cleaned = nearest_rotation(noisy)
    torch.testing.assert_close(cleaned @ cleaned.transpose(-1, -2), torch.eye(3, dtype=F64).expand(20, 3, 3))
    from scipy.spatial.transform import Rotation
    np.testing.assert_allclose(cleaned.numpy(), Rotation.from_matrix(noisy.numpy()).as_matrix(), atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 1e-7, 0.3, math.pi / 2, math.pi - 1e-6, math.pi])
def test_rotation_angle_known_answers(angle):
    axis = torch.tensor([0.2, -0.5, 0.7], dtype=F64)
    rot = roma.rotvec_to_rotmat(angle * axis / axis.norm())
    assert rotation_angle(rot).item() == pytest.approx(angle, abs=1e-12)


def test_gradients_float64():
    gen = torch.Generator().manual_seed(6)
    depth = (torch.rand(4, 5, generator=gen, dtype=F64) + 1).requires_grad_()
    k = K.clone().requires_grad_()
    assert torch.autograd.gradcheck(unproject_depth, (depth, k))
    pts = (torch.randn(6, 3, generator=gen, dtype=F64) + torch.tensor([0, 0, 4.0], dtype=F64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda p, kk: project_points(p, kk)[0], (pts, k))
    a2b = similarity_matrix(*random_sim3(gen)).requires_grad_()
    assert torch.autograd.gradcheck(transform_points, (a2b, pts))
    src = torch.randn(8, 3, generator=gen, dtype=F64).requires_grad_()
    dst = transform_points(a2b.detach(), src.detach()) + 0.1 * torch.randn(8, 3, generator=gen, dtype=F64)
    assert torch.autograd.gradcheck(lambda s: umeyama_alignment(s, dst), (src,))
    q = torch.randn(3, 4, generator=gen, dtype=F64).requires_grad_()
    assert torch.autograd.gradcheck(qxyzw_to_rotmat, (q,))
    assert torch.autograd.gradcheck(lambda qq: rotation_angle(qxyzw_to_rotmat(qq)), (q,))


def test_centred_intrinsics_closed_form_and_gradient():
    focals = torch.tensor([[20.0, 30.0]], dtype=torch.float64, requires_grad=True)
    k = centred_intrinsics(focals, 24, 32)
    assert k.shape == (1, 2, 3, 3)
    torch.testing.assert_close(k[0, 1], torch.tensor([[30.0, 0, 16], [0, 30, 12], [0, 0, 1]], dtype=torch.float64))
    (grad,) = torch.autograd.grad(k.sum(), focals)
    torch.testing.assert_close(grad, torch.full_like(focals, 2.0))
