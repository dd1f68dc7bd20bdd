"""Regenerate docs/viewer.png and docs/mp4_frame.png from a synthetic result (needs viser,
playwright, Chromium at /usr/bin/chromium, PyAV): python docs/make_screenshots.py"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

from align3r.data.synthetic import SynthConfig, generate_sequence
from align3r.io.export import export
from align3r.io.view import Viewer
from align3r.io.results import save_reconstruction
from align3r.reconstruction import Reconstruction

DOCS = Path(__file__).parent
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def synthetic_result(folder: Path) -> None:
    """A 24-frame synthetic video saved as a result, confidence falling with depth (for the colours)."""
    seq = generate_sequence(SynthConfig(frames=24, width=256, height=160, seed=5, camera_motion="walk", priors=()))
    conf = (1 + 20 / (1 + seq.depths)).astype(np.float32)
    rec = Reconstruction(images=seq.images, depths=seq.depths, conf=conf, poses_c2w=seq.poses_c2w,
                         intrinsics=seq.intrinsics, dynamic_masks=seq.dynamic_masks,
                         names=[f"frame_{i:06d}" for i in range(24)], meta={})
    save_reconstruction(rec, folder)


def overview(viewer: Viewer) -> None:
    """Look at the middle of the trajectory from above and behind its cameras."""
    poses = viewer.source.poses_c2w
    centre, forward, down = poses[:, :3, 3].mean(axis=0), poses[:, :3, 2].mean(axis=0), poses[:, :3, 1].mean(axis=0)
    distance = viewer.scale.median_depth
    for client in viewer.server.get_clients().values():
        client.camera.position = centre - 0.5 * distance * forward - 0.6 * distance * down
        client.camera.look_at = centre + 0.6 * distance * forward


def viewer_screenshot(folder: Path, dest: Path) -> None:
    viewer = Viewer(folder, port=8097)
    viewer.frame.value = 12
    viewer.budget.value = 200_000
    viewer.show_all.value = True
    try:
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(profile, executable_path="/usr/bin/chromium", headless=True,
                                                           args=FLAGS, viewport={"width": 1280, "height": 760})
            page = browser.new_page()
            page.goto(viewer.url)
            page.get_by_text("Timeline").wait_for()
            page.add_style_tag(content=".mantine-Notifications-root { display: none; }")  # the software-WebGL notice
            overview(viewer)
            time.sleep(8)
            page.screenshot(path=str(dest))
            browser.close()
    finally:
        viewer.close()


def mp4_frame(folder: Path, dest: Path) -> None:
    video = export(folder, "mp4", folder / "video.mp4").paths[0]
    with av.open(str(video)) as container:
        frame = next(f for k, f in enumerate(container.decode(video=0)) if k == 12)
    Image.fromarray(frame.to_ndarray(format="rgb24")).save(dest)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        synthetic_result(Path(tmp) / "out")
        viewer_screenshot(Path(tmp) / "out", DOCS / "viewer.png")
        mp4_frame(Path(tmp) / "out", DOCS / "mp4_frame.png")
