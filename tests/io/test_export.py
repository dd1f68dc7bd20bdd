"""Exports read back by the tools they are for: pycolmap, trimesh, PyAV, PIL, our TUM reader."""

import json

import numpy as np
import pytest
import roma
import torch
from PIL import Image

from align3r.cli import main
from align3r.data.synthetic import SynthConfig, generate_sequence
from align3r.errors import InputError
from align3r.geometry import project_points
from align3r.io.export import colmap as colmap_module
from align3r.io.export import export
from align3r.io.export.conventions import c2w_to_colmap, colmap_to_c2w, opencv_to_opengl_c2w
from align3r.io.export.frames import InMemoryFrames, frame_points, point_colours
from align3r.io.export.points import frustum_corners
from align3r.io.results import OutputFolder, save_reconstruction
from align3r.io.trajectory import read_trajectory
from align3r.reconstruction import Reconstruction

MIN_CONF = 2.0


def synthetic_reconstruction(frames: int = 5, width: int = 48, height: int = 32) -> Reconstruction:
    """Exact synthetic geometry (depth 0 where no surface, moving objects masked) and a seeded confidence."""
    seq = generate_sequence(SynthConfig(frames=frames, width=width, height=height, seed=3, priors=()))
    conf = 1 + np.random.default_rng(0).exponential(2.0, seq.depths.shape).astype(np.float32)
    return Reconstruction(images=seq.images, depths=seq.depths, conf=conf, poses_c2w=seq.poses_c2w,
                          intrinsics=seq.intrinsics, dynamic_masks=seq.dynamic_masks,
                          names=[f"img{i:03d}" for i in range(frames)], meta={"source": "synthetic"})


@pytest.fixture(scope="module")
def rec() -> Reconstruction:
    return synthetic_reconstruction()


@pytest.fixture(scope="module")
def world(rec) -> np.ndarray:
    return rec.points_world()


@pytest.fixture()
def folder(rec, tmp_path):
    save_reconstruction(rec, tmp_path / "out")
    return tmp_path / "out"


def kept_mask(rec: Reconstruction, *, static_only: bool) -> np.ndarray:
    """(N, H, W) pixels an export keeps at MIN_CONF, computed independently of the exporter."""
    keep = (rec.depths > 0) & (rec.conf >= MIN_CONF)
    return keep & ~rec.dynamic_masks if static_only else keep


def test_colmap_conversion_known_answer_and_round_trip():
    c2w = np.eye(4)[None].copy()
    c2w[0, :3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # camera turned +90 degrees about world z
    c2w[0, :3, 3] = [1.0, 2.0, 3.0]
    qwxyz, t_w2c = c2w_to_colmap(c2w)
    np.testing.assert_allclose(qwxyz[0], [np.sqrt(0.5), 0, 0, -np.sqrt(0.5)], atol=1e-12)  # -90 degrees about z
    np.testing.assert_allclose(t_w2c[0], [-2.0, 1.0, -3.0], atol=1e-12)  # -R^T t
    poses = np.tile(np.eye(4), (20, 1, 1))
    poses[:, :3, :3] = roma.random_rotmat(20, dtype=torch.float64).numpy()
    poses[:, :3, 3] = np.random.default_rng(1).normal(size=(20, 3))
    np.testing.assert_allclose(colmap_to_c2w(*c2w_to_colmap(poses)), poses, atol=1e-12)
    np.testing.assert_array_equal(opencv_to_opengl_c2w(opencv_to_opengl_c2w(poses)), poses)


def test_colmap_model_reads_back_with_pycolmap(rec, world, folder):
    pycolmap = pytest.importorskip("pycolmap")
    result = export(folder, "colmap", min_conf=MIN_CONF)
    assert result.notes and "moving objects" in result.notes[0]
    model = pycolmap.Reconstruction(folder / "exports" / "colmap" / "sparse" / "0")
    assert len(model.images) == rec.num_frames and len(model.points3D) == kept_mask(rec, static_only=True).sum()
    images = sorted(model.images.values(), key=lambda image: image.name)
    for i, image in enumerate(images):
        assert image.name == f"{rec.names[i]}.png"
        np.testing.assert_allclose(image.cam_from_world().matrix(), np.linalg.inv(rec.poses_c2w[i])[:3], atol=1e-9)
        camera = model.cameras[image.camera_id]
        k = rec.intrinsics[i]
        np.testing.assert_allclose(camera.params, [k[0, 0], k[1, 1], k[0, 2] + 0.5, k[1, 2] + 0.5], atol=1e-12)
        # A pixel's world point projects back to that pixel (COLMAP centres pixels at +0.5).
        v, u = np.argwhere(rec.depths[i] > 0)[len(np.argwhere(rec.depths[i] > 0)) // 2]
        uv = camera.img_from_cam(image.cam_from_world() * world[i, v, u].astype(np.float64))
        np.testing.assert_allclose(uv, [u + 0.5, v + 0.5], atol=1e-3)
        mask = np.asarray(Image.open(folder / "exports" / "colmap" / "masks" / f"{image.name}.png"))
        np.testing.assert_array_equal(mask == 0, rec.dynamic_masks[i])
        copied = np.asarray(Image.open(folder / "exports" / "colmap" / "images" / image.name))
        np.testing.assert_array_equal(copied, rec.images[i])
    colours = {tuple(p.color) for p in model.points3D.values()}
    static_colours = {tuple(c) for c in rec.images[kept_mask(rec, static_only=True)]}
    assert colours <= static_colours


def test_colmap_linked_images_point_at_the_output_folder(folder):
    export(folder, "colmap", images="link")
    linked = folder / "exports" / "colmap" / "images" / "img002.png"
    assert linked.is_symlink() and linked.resolve() == (folder / "frame_0002_rgb.png").resolve()


def test_fused_and_static_ply_load_with_expected_points_and_colours(rec, world, folder):
    trimesh = pytest.importorskip("trimesh")
    for static_only in (False, True):
        dest = folder / f"static_{static_only}.ply"
        export(folder, "ply", dest, min_conf=MIN_CONF, static_only=static_only)
        cloud = trimesh.load(dest)
        keep = kept_mask(rec, static_only=static_only)
        np.testing.assert_allclose(cloud.vertices, world[keep], atol=1e-5)  # frame by frame, row-major
        np.testing.assert_array_equal(cloud.colors[:, :3], rec.images[keep])


def test_per_frame_ply_sequence(rec, folder):
    trimesh = pytest.importorskip("trimesh")
    result = export(folder, "ply", per_frame=True, min_conf=MIN_CONF, max_points=50)
    assert [p.name for p in result.paths] == [f"{name}.ply" for name in rec.names]
    for i, path in enumerate(result.paths):
        cloud = trimesh.load(path)
        assert len(cloud.vertices) == min(50, kept_mask(rec, static_only=False)[i].sum())
        assert {tuple(c) for c in cloud.colors[:, :3]} <= {tuple(c) for c in rec.images[i].reshape(-1, 3)}


def test_glb_holds_points_frustums_and_trajectory(rec, folder):
    trimesh = pytest.importorskip("trimesh")
    export(folder, "glb", min_conf=MIN_CONF, max_points=100)
    scene = trimesh.load(folder / "exports" / "scene.glb")
    clouds = [g for g in scene.geometry.values() if isinstance(g, trimesh.PointCloud)]
    paths = [g for g in scene.geometry.values() if isinstance(g, trimesh.path.Path3D)]
    assert len(clouds) == 1 and len(clouds[0].vertices) == rec.num_frames * (100 // rec.num_frames)
    assert {tuple(c) for c in clouds[0].colors[:, :3]} <= {tuple(c) for c in rec.images.reshape(-1, 3)}
    assert len(paths) == 1 and len(paths[0].vertices) == 2 * (8 * rec.num_frames + rec.num_frames - 1)  # LINES pairs
    centres = {tuple(np.round(c, 5)) for c in rec.poses_c2w[:, :3, 3]}
    assert centres <= {tuple(np.round(v, 5)) for v in paths[0].vertices}


def test_nerfstudio_transforms_map_back_to_ours(rec, folder):
    export(folder, "nerfstudio", depth_scale=1e-3)
    root = folder / "exports" / "nerfstudio"
    meta = json.loads((root / "transforms.json").read_text())
    assert meta["depth_unit_scale_factor"] == 1e-3 and (root / meta["ply_file_path"]).is_file()
    assert len(meta["frames"]) == len(rec.names)  # the loop below cannot notice a dropped frame
    for i, frame in enumerate(meta["frames"]):
        c2w_gl = np.array(frame["transform_matrix"])
        np.testing.assert_allclose(c2w_gl @ np.diag([1.0, -1, -1, 1]), rec.poses_c2w[i], atol=1e-12)
        np.testing.assert_allclose(-c2w_gl[:3, 2], rec.poses_c2w[i, :3, 2], atol=1e-12)  # OpenGL looks down -z
        k = rec.intrinsics[i]
        assert (frame["fl_x"], frame["cx"], frame["cy"]) == (k[0, 0], k[0, 2] + 0.5, k[1, 2] + 0.5)
        depth = np.asarray(Image.open(root / frame["depth_file_path"])).astype(np.float64) * 1e-3
        near = rec.depths[i] < 65.5
        np.testing.assert_allclose(depth[near], rec.depths[i][near], atol=0.5e-3 + 1e-6)
        assert (np.asarray(Image.open(root / frame["mask_path"])) == 0).tolist() == rec.dynamic_masks[i].tolist()


def test_depth_png16_round_trips_within_the_quantisation_step(rec, folder):
    export(folder, "depth")
    root = folder / "exports" / "depth"
    scale = json.loads((root / "depth_scale.json").read_text())["scale"]
    assert scale == pytest.approx(rec.depths.max() / 65535)
    for i, name in enumerate(rec.names):
        png = Image.open(root / f"{name}.png")
        assert png.mode.startswith("I;16") or png.mode == "I"
        counts = np.asarray(png).astype(np.float64)
        np.testing.assert_allclose(counts * scale, rec.depths[i], atol=scale / 2 + 1e-6 * rec.depths.max())
        assert ((counts == 0) == (rec.depths[i] == 0)).all()
    export(folder, "depth", folder / "npy", depth_format="npy")
    assert np.array_equal(np.load(folder / "npy" / "img003.npy"), rec.depths[3])


def test_mp4_decodes_to_every_frame_side_by_side(rec, folder):
    av = pytest.importorskip("av")
    export(folder, "mp4", fps=5)
    with av.open(str(folder / "exports" / "video.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    height, width = rec.images.shape[1:3]
    assert len(frames) == rec.num_frames and frames[0].shape == (height, 3 * width, 3)
    rgb_error = np.abs(frames[2][:, :width].astype(float) - rec.images[2]).mean()
    assert rgb_error < 12, rgb_error  # lossy H.264 of the left panel: close to the image
    depth_panel = frames[2][:, width:2 * width].astype(float).mean(axis=-1)
    no_surface = rec.depths[2] == 0
    assert depth_panel[no_surface].mean() < 30 < depth_panel[~no_surface].mean()  # black where no depth


def test_tum_trajectory_reads_back(rec, folder):
    export(folder, "tum", folder / "traj.txt")
    stamps, poses = read_trajectory(folder / "traj.txt", fmt="tum")
    np.testing.assert_allclose(poses, rec.poses_c2w, atol=1e-12)
    assert stamps.tolist() == list(range(rec.num_frames))


def test_in_memory_reconstruction_equals_folder_export(rec, folder, tmp_path):
    with pytest.raises(InputError, match="destination"):
        export(rec, "ply")
    export(rec, "ply", tmp_path / "memory.ply")
    export(OutputFolder(folder), "ply", tmp_path / "folder.ply")
    assert (tmp_path / "memory.ply").read_bytes() == (tmp_path / "folder.ply").read_bytes()


def test_bad_options_are_input_errors(folder):
    with pytest.raises(InputError, match="unknown export format"):
        export(folder, "obj")
    with pytest.raises(InputError, match="unknown setting"):
        export(folder, "ply", min_confidence=3)
    with pytest.raises(InputError, match="max_points"):
        export(folder, "ply", max_points=0)


def test_cli_bad_input_one_line_exit_2_nothing_written(folder, tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing"), "--format", "ply"]) == 2
    assert main(["export", str(folder), "--format", "tum"]) == 0
    before = (folder / "exports" / "trajectory_tum.txt").read_bytes()
    assert main(["export", str(folder), "--format", "tum"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("align3r export: error:") for line in err)
    assert (folder / "exports" / "trajectory_tum.txt").read_bytes() == before


def test_failed_folder_export_leaves_nothing(folder, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(colmap_module, "write_static_mask", fail)
    with pytest.raises(OSError, match="disk full"):
        export(folder, "colmap")
    assert not (folder / "exports").exists() or not any((folder / "exports").iterdir())


def test_cli_export_prints_what_is_lost(folder, capsys):
    assert main(["export", str(folder), "--format", "colmap", "--min-conf", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("note: colmap: a static format; moving objects") and out[-1].startswith("wrote ")


def test_frustum_corners_project_to_the_image_corners(rec):
    corners = frustum_corners(rec.intrinsics, (32, 48), 2.0)  # (N, 4, 3) camera frames
    uv, z = project_points(torch.from_numpy(corners), torch.from_numpy(rec.intrinsics))
    np.testing.assert_allclose(uv[0].numpy(), [[-0.5, -0.5], [47.5, -0.5], [47.5, 31.5], [-0.5, 31.5]], atol=1e-9)
    assert (z.numpy() == 2.0).all()


def test_point_colours_by_mode(rec):
    points = frame_points(InMemoryFrames(rec), 1)
    assert np.array_equal(point_colours(points, "rgb", log_conf_range=(0, 1)), points.rgb)
    dynamic = point_colours(points, "dynamic", log_conf_range=(0, 1))
    assert points.dynamic.any() and (dynamic[points.dynamic] == (230, 40, 40)).all()
    assert (dynamic[~points.dynamic, 0] == dynamic[~points.dynamic, 1]).all()  # grey elsewhere
    by_conf = point_colours(points, "confidence", log_conf_range=(0.0, 2.0))
    low, high = np.argmin(points.conf), np.argmax(points.conf)
    assert by_conf[low, 2] > by_conf[low, 0] and by_conf[high, 0] > by_conf[high, 2]  # turbo: blue low, red high
