"""Ray casting against analytic primitives: closed-form depths, surface frames, speed."""

import time

import numpy as np
import pytest

from align3r.data.synthetic.render import intersect, pixel_rays, render_frame, surface_frame, trace
from align3r.data.synthetic.scene import Primitive, Scene, intrinsics_from_fov
from align3r.data.synthetic.sequence import SynthConfig, build_scene
from align3r.data.synthetic.textures import Material

MATERIAL = Material(pattern="checker", color_a=(0.2, 0.3, 0.4), color_b=(0.8, 0.7, 0.6), period=0.5,
                    angle=0.3, noise_seed=1)


def pose(translation, rotation=np.eye(3)):
    o2w = np.eye(4)
    o2w[:3, :3], o2w[:3, 3] = rotation, translation
    return o2w


def one_primitive_scene(prim: Primitive, o2w: np.ndarray, *, height: int = 24, width: int = 32) -> Scene:
    """The camera at the world origin looking along +z (c2w = identity), one primitive."""
    return Scene(setting="outdoor", camera_motion="static", primitives=(prim,), o2w=o2w[None, None],
                 dynamic=np.zeros(1, dtype=bool), c2w=np.eye(4)[None],
                 intrinsics=intrinsics_from_fov(width, height, np.deg2rad(60))[None],
                 light_dir=np.array([0.0, 0.0, -1.0]), height=height, width=width)


def sphere_depth(dirs: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Closed form: smallest t with |t d - c| = r, inf on a miss."""
    a, b = (dirs * dirs).sum(0), centre @ dirs
    disc = b * b - a * (centre @ centre - radius ** 2)
    return np.where(disc >= 0, (b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)


def test_plane_facing_the_camera_has_constant_depth():
    scene = one_primitive_scene(Primitive("plane", (100.0, 100.0, 0.0), MATERIAL), pose([0.0, 0.0, 3.5]))
    frame = render_frame(scene, 0)
    np.testing.assert_array_equal(frame.depth, np.float32(3.5))
    assert (frame.primitive_ids == 0).all()


def test_sphere_depth_matches_closed_form():
    centre = np.array([0.3, -0.2, 5.0])
    scene = one_primitive_scene(Primitive("sphere", (1.0, 1.0, 1.0), MATERIAL), pose(centre))
    dirs = pixel_rays(scene.intrinsics[0], scene.height, scene.width)
    depth, ids = trace(scene, 0, dirs)
    expected = sphere_depth(dirs, centre, 1.0)
    assert np.isfinite(expected).sum() > 50 and np.isinf(expected).sum() > 50
    np.testing.assert_allclose(depth, expected, rtol=1e-12)
    np.testing.assert_array_equal(ids, np.where(np.isfinite(expected), 0, -1))


def test_box_and_cylinder_known_depths():
    centre_ray = np.array([[0.0], [0.0], [1.0]])
    box = Primitive("box", (1.0, 0.5, 0.25), MATERIAL)
    assert intersect(box, np.array([0.0, 0.0, -5.0]), centre_ray)[0] == pytest.approx(4.75)
    rays = np.array([[0.0, 0.1, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, -1.0]])
    np.testing.assert_allclose(intersect(box, np.array([0.0, 0.0, -5.0]), rays), [4.75, 4.75, np.inf, np.inf])
    cylinder = Primitive("cylinder", (0.5, 0.5, 1.0), MATERIAL)
    assert intersect(cylinder, np.array([0.0, 0.0, -5.0]), centre_ray)[0] == pytest.approx(4.0)  # cap
    side_view = np.array([[1.0], [0.0], [0.0]])
    assert intersect(cylinder, np.array([-5.0, 0.0, 0.3]), side_view)[0] == pytest.approx(4.5)
    assert intersect(cylinder, np.array([-5.0, 0.0, 1.3]), side_view)[0] == np.inf


def test_room_is_closed_and_holds_the_camera():
    scene = build_scene(SynthConfig(frames=4, width=96, height=64, seed=13, setting="indoor", camera_motion="walk"))
    for frame in range(4):
        rendered = render_frame(scene, frame)
        assert (rendered.primitive_ids >= 0).all() and (rendered.depth > 0).all()  # no ray leaves the room
    assert {p.kind for p in scene.primitives[:6]} == {"plane"}


def test_rotated_and_moved_primitive_renders_at_its_pose():
    quarter_turn = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # cylinder axis -> world -y
    scene = one_primitive_scene(Primitive("cylinder", (0.5, 0.5, 2.0), MATERIAL), pose([0.0, 0.0, 4.0], quarter_turn))
    frame = render_frame(scene, 0)
    row, col = (scene.height - 1) // 2, (scene.width - 1) // 2
    x = (col - scene.intrinsics[0, 0, 2]) / scene.intrinsics[0, 0, 0]
    # the side: the circle x^2 + (z - 4)^2 = 0.25 in the x-z plane, along the ray (x t, ., t)
    a, b, c = x * x + 1, -4.0, 16.0 - 0.25
    assert frame.depth[row, col] == pytest.approx((-b - np.sqrt(b * b - a * c)) / a, rel=1e-6)
    assert (frame.primitive_ids[:, col] == 0).all()  # the axis spans the whole image height


INSIDE = {  # implicit "strictly inside" tests of each solid, in its own frame
    "box": lambda p, size: np.all(np.abs(p) < np.asarray(size)[:, None], axis=0),
    "sphere": lambda p, size: np.linalg.norm(p, axis=0) < size[0],
    "cylinder": lambda p, size: (np.hypot(p[0], p[1]) < size[0]) & (np.abs(p[2]) < size[2]),
}


@pytest.mark.parametrize("prim", [Primitive("box", (1.0, 0.6, 0.3), MATERIAL), Primitive("sphere", (0.7,) * 3, MATERIAL),
                                  Primitive("cylinder", (0.5, 0.5, 0.8), MATERIAL)], ids=lambda p: p.kind)
def test_surface_frame_normals_cross_the_surface(prim):
    rng = np.random.default_rng(0)
    origin = np.array([3.0, -2.0, 1.5])
    dirs = rng.uniform(-0.25, 0.25, size=(3, 400)) - origin[:, None]  # aimed inside the solid
    t = intersect(prim, origin, dirs)
    assert np.isfinite(t).all()
    points = origin[:, None] + t * dirs
    normals, uv = surface_frame(prim, points)
    assert uv.shape == (2, 400)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=0), 1.0, rtol=1e-12)
    step = 1e-6
    ahead = INSIDE[prim.kind](points + step * normals, prim.size)
    behind = INSIDE[prim.kind](points - step * normals, prim.size)
    assert np.all(ahead != behind)  # a normal crosses the surface (its sign is free)


@pytest.mark.parametrize("prim,points,expected_uv", [
    (Primitive("plane", (1.0, 1.0, 0.0), MATERIAL), [[0.3, -0.4, 0.0]], [[0.3, -0.4]]),
    # box faces: +x -> (y, z), +y -> (z, x), -z -> (x, y)
    (Primitive("box", (1.0, 0.6, 0.3), MATERIAL), [[1.0, 0.2, -0.1], [0.5, 0.6, 0.1], [0.3, -0.2, -0.3]],
     [[0.2, -0.1], [0.1, 0.5], [0.3, -0.2]]),
    # sphere: (arc length along the equator from +x, height)
    (Primitive("sphere", (0.7,) * 3, MATERIAL), [[0.0, 0.7, 0.0], [-0.7, 0.0, 0.0], [0.0, 0.0, 0.7]],
     [[0.7 * np.pi / 2, 0.0], [0.7 * np.pi, 0.0], [0.0, 0.7]]),
    # cylinder: side as the sphere, cap (x, y)
    (Primitive("cylinder", (0.5, 0.5, 0.8), MATERIAL), [[0.0, -0.5, 0.3], [0.1, 0.2, 0.8]],
     [[-0.5 * np.pi / 2, 0.3], [0.1, 0.2]]),
], ids=lambda v: v.kind if isinstance(v, Primitive) else "")
def test_surface_frame_uv_is_known_on_each_kind(prim, points, expected_uv):
    _, uv = surface_frame(prim, np.array(points).T)
    np.testing.assert_allclose(uv, np.array(expected_uv).T, atol=1e-12)


def test_render_is_fast_at_512x288():
    scene = build_scene(SynthConfig(frames=3, width=512, height=288, seed=5, dynamic_objects=4, static_objects=6))
    render_frame(scene, 0)
    seconds = []
    for frame in range(3):
        start = time.thread_time()
        render_frame(scene, frame)
        seconds.append(time.thread_time() - start)
    assert np.median(seconds) < 0.1  # CPU time of this thread: one core
