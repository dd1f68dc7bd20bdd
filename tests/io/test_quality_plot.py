"""quality.png: drawn from a saved report, skipped with one warning without matplotlib, shown by the viewer."""

import io
import logging
import socket
import sys
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from align3r.data.synthetic import SynthConfig, generate_sequence
from align3r.io.quality_plot import PLOT_SIZE, QUALITY_PLOT, quality_png
from align3r.io.results import load_reconstruction, save_reconstruction
from align3r.reconstruction import Reconstruction


@pytest.fixture(scope="module")
def rec() -> Reconstruction:
    """A synthetic video with a quality report whose frame 2 is flagged."""
    seq = generate_sequence(SynthConfig(frames=5, width=64, height=48, seed=3, priors=()))
    quality = {"frame_median_conf": [4.0, 4.1, 1.2, 4.0, 3.9], "frame_median_residual": [0.01, 0.01, 0.2, 0.01, 0.01],
               "step_translation": [0.01, 0.02, 0.01, 0.01], "step_rotation_deg": [0.5, 3.0, 0.4, 0.5],
               "frame_consistency": [0.01, 0.05, 0.1, 0.05, None], "consistency_pairs": {"flow": 8, "reprojection": 0},
               "frame_prior_scale": [1.0, 1.1, None, 0.9, 1.0], "prior_scale_spread": 0.07,
               "flagged": {"f2": ["low confidence", "high pair residual"]}}
    return Reconstruction(images=seq.images, depths=seq.depths, conf=np.full(seq.depths.shape, 4.0, np.float32),
                          poses_c2w=seq.poses_c2w, intrinsics=seq.intrinsics, dynamic_masks=seq.dynamic_masks,
                          names=[f"f{i}" for i in range(5)], meta={"quality": quality})


def test_saved_folder_holds_the_plot_of_its_report(rec, tmp_path):
    save_reconstruction(rec, tmp_path / "out")
    image = Image.open(tmp_path / "out" / QUALITY_PLOT)
    assert image.format == "PNG" and image.size == PLOT_SIZE
    assert load_reconstruction(tmp_path / "out").meta == rec.meta
    red = np.asarray(image.convert("RGB")).astype(int)
    assert ((red[..., 0] > 200) & (red[..., 1] < 120)).sum() > 50  # the flagged frame's ring and bands
    assert quality_png(replace(rec, meta={})) is None  # no report, no plot


def test_without_matplotlib_one_warning_and_no_plot(rec, tmp_path, monkeypatch, caplog):
    for name in ("matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    with caplog.at_level(logging.WARNING, logger="align3r.io.quality_plot"):
        save_reconstruction(rec, tmp_path / "out")
    assert [r.getMessage() for r in caplog.records] == [
        "quality.png not drawn: it needs matplotlib (pip install 'align3r[report]')"]
    assert not (tmp_path / "out" / QUALITY_PLOT).exists()
    assert load_reconstruction(tmp_path / "out").num_frames == 5


def test_viewer_shows_the_plot_and_the_flagged_frames(rec, tmp_path):
    pytest.importorskip("viser")
    from align3r.io.view import Viewer, quality_markdown

    save_reconstruction(rec, tmp_path / "out")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    viewer = Viewer(tmp_path / "out", port=port)
    try:
        shown = viewer.quality_image.image
        expected = np.asarray(Image.open(io.BytesIO((tmp_path / "out" / QUALITY_PLOT).read_bytes())).convert("RGB"))
        np.testing.assert_array_equal(shown, expected)
    finally:
        viewer.close()
    text = quality_markdown(rec.meta["quality"])
    assert "**1 frame(s) flagged**" in text and "- f2: low confidence, high pair residual" in text
    assert "median 5.00 %" in text and "spread: 7.0 %" in text
