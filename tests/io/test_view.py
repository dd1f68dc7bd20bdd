"""The viewer: pose conversion, server-side state, and a real headless Chromium drawing the scene."""

import io
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from align3r.data.synthetic import SynthConfig, generate_sequence
from align3r.io.results import save_reconstruction
from align3r.reconstruction import Reconstruction

viser = pytest.importorskip("viser")

from align3r.cli import main  # noqa: E402
from align3r.io.view import Viewer, c2w_to_wxyz_position, frustum_scale, thumbnail  # noqa: E402  (needs viser)

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]  # WebGL on the CPU
BROWSER_BUDGET_S = 45


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    seq = generate_sequence(SynthConfig(frames=6, width=96, height=64, seed=3, priors=()))
    conf = 1 + np.random.default_rng(0).exponential(2.0, seq.depths.shape).astype(np.float32)
    rec = Reconstruction(images=seq.images, depths=seq.depths, conf=conf, poses_c2w=seq.poses_c2w,
                         intrinsics=seq.intrinsics, dynamic_masks=seq.dynamic_masks,
                         names=[f"f{i}" for i in range(6)], meta={})
    out = tmp_path_factory.mktemp("view") / "out"
    save_reconstruction(rec, out)
    return out


def test_c2w_to_viser_pose_known_answer():
    c2w = np.eye(4)
    c2w[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # +90 degrees about z
    c2w[:3, 3] = [1, 2, 3]
    wxyz, position = c2w_to_wxyz_position(c2w)
    np.testing.assert_allclose(wxyz, [np.sqrt(0.5), 0, 0, np.sqrt(0.5)], atol=1e-12)
    np.testing.assert_allclose(viser.transforms.SO3(wxyz).as_matrix(), c2w[:3, :3], atol=1e-12)
    assert position.tolist() == [1, 2, 3]
    assert thumbnail(np.zeros((600, 1000, 3), np.uint8), side=256).shape == (150, 250, 3)


def test_frustum_scale_undoes_viser_volume_normalisation():
    fov, aspect, depth = 1.0, 1.5, 2.0
    x, y = np.tan(fov / 2) * aspect, np.tan(fov / 2)
    scale = frustum_scale(depth, fov, aspect)
    assert 1.0 / np.cbrt(x * y * 1.0 / 3.0) * scale == pytest.approx(depth)  # viser's z of the image plane


def test_cli_view_of_a_missing_folder_is_one_line_exit_2(tmp_path, capsys):
    assert main(["view", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_viewer_follows_the_timeline_and_fuses_frames(folder):
    viewer = Viewer(folder, port=free_port(), frame_points_max=500)
    try:
        assert viewer.url.startswith("http://127.0.0.1:")
        viewer.frame.value = 4
        wxyz, position = c2w_to_wxyz_position(viewer.source.poses_c2w[4])
        np.testing.assert_allclose(viewer.current_camera.position, position)
        np.testing.assert_allclose(np.abs(viewer.current_camera.wxyz @ wxyz), 1, atol=1e-9)
        viewer.budget.value = 1200
        viewer.show_all.value = True
        assert len(viewer.all_cloud.points) == 6 * (1200 // 6)
        viewer.min_conf.value = 3.0
        expected = 6 * (1200 // 6) * np.mean(np.stack([viewer.source.conf(i) for i in range(6)]) >= 3.0)
        assert abs(len(viewer.all_cloud.points) - expected) < 0.15 * expected  # a threshold on the same draw
        assert (viewer.frame_cloud.points.shape[0] <= 500) and viewer.frame_cloud.points.dtype == np.float32
        viewer.show_all.value = False
        assert viewer.all_cloud is None
    finally:
        viewer.close()


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def scene_pixels(page, right_edge: float) -> np.ndarray:
    """Screenshot of the 3D view left of the control panel, (H, W', 3) float."""
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(np.float64)
    return shot[:, : int(right_edge)]


def remaining_ms(deadline: float) -> float:
    return max(1.0, (deadline - time.monotonic()) * 1000)


def wait_for(predicate, deadline: float, what: str):
    while time.monotonic() < deadline:
        value = predicate()
        if value is not None:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_real_browser_draws_the_scene_and_the_slider_changes_it(folder, tmp_path):
    if chromium_path() is None:
        pytest.skip("no Chromium installed (apt-get install -y chromium) for the browser test")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    deadline = time.monotonic() + BROWSER_BUDGET_S
    viewer = Viewer(folder, port=free_port())
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(  # a fresh --user-data-dir
                tmp_path / "profile", executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1000, "height": 700})
            try:
                page = browser.new_page()
                page.goto(viewer.url, timeout=remaining_ms(deadline))
                page.get_by_text("Timeline").wait_for(timeout=remaining_ms(deadline))
                page.add_style_tag(content=".mantine-Notifications-root { display: none; }")  # software-WebGL notice
                right_edge = page.get_by_text("Timeline").bounding_box()["x"] - 30

                def drawn():
                    pixels = scene_pixels(page, right_edge)
                    coloured = (np.abs(pixels - pixels[5, 5]).sum(axis=-1) > 30).mean()  # differs from background
                    return pixels if coloured > 0.02 and pixels.std() > 10 else None

                before = wait_for(drawn, deadline, "the point cloud to be drawn")
                slider = page.get_by_role("slider").first
                slider.focus()
                page.keyboard.press("End")
                wait_for(lambda: True if viewer.frame.value == 5 else None, deadline, "the slider to reach the server")
                after = wait_for(lambda: (lambda px: px if np.abs(px - before).mean() > 2 else None)(
                    scene_pixels(page, right_edge)), deadline, "the picture to change")
                assert np.abs(after - before).mean() > 2
            finally:
                browser.close()
    finally:
        viewer.close()
