"""`align3r demo` with the shipped tiny models: the full pipeline offline, scored against exact GT."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

from align3r import load_model
from align3r.cli import main
from align3r.data.synthetic import generate_sequence
from align3r.eval.demo import DEMO_VIDEO, HELD_OUT_SEED
from align3r.eval.metrics import pose_metrics, video_depth_metrics
from align3r.infer.preprocess import frame_transform, resize_map
from align3r.io.results import load_reconstruction
from align3r.model.config import PRESETS


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(output folder, printed text) of one `align3r demo` run."""
    out = tmp_path_factory.mktemp("demo") / "out"
    capture = pytest.MonkeyPatch()
    printed = []
    capture.setattr("builtins.print", lambda *a, **k: printed.append(" ".join(map(str, a))))
    try:
        code = main(["demo", "-o", str(out), "--quiet"])
    finally:
        capture.undo()
    assert code == 0
    return out, "\n".join(printed)


def _row(text: str, label: str) -> list[float]:
    (line,) = [row for row in text.splitlines() if row.startswith(f"| {label}")]
    return [float(v) if v.strip() not in ("–", "") else np.nan for v in line.strip("|").split("|")[1:]]


def test_shipped_models_are_the_tiny_preset_with_and_without_the_prior():
    """Align3R-tiny uses its prior branch; DUSt3R-tiny, the ablation's control, has its zero
    convolutions at exactly 0, so the prior cannot change its output."""
    for name, uses_prior in (("tiny", True), ("tiny-dust3r", False)):
        model = load_model(name)
        assert model.config == PRESETS["tiny"]
        assert sum(p.numel() for p in model.parameters()) == 9_931_848
        zero_convs = [p for key, p in model.named_parameters() if key.startswith("zero_convs")]
        assert any(p.abs().sum() > 0 for p in zero_convs) == uses_prior, name


def recipe_seeds() -> set[int]:
    """Seeds of every sequence the tiny recipe trains or tests on, read from training/tiny itself:
    the pool folders its YAML configs read, with the seeds render_pool.py gives those folders
    under the arguments train_tiny.sh passes (its defaults)."""
    recipe = Path(__file__).parents[2] / "training" / "tiny"
    spec = importlib.util.spec_from_file_location("render_pool", recipe / "render_pool.py")
    render_pool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_pool)
    render_call = next(line for line in (recipe / "train_tiny.sh").read_text().splitlines()
                       if line.startswith("python") and "render_pool.py" in line)
    assert render_call.split()[2:] == ["data/tiny"], render_call  # the pool is rendered with the defaults
    seeds = set()
    for config in sorted(recipe.glob("*.yaml")):
        settings = yaml.safe_load(config.read_text())
        for data in settings["train_data"] + settings["test_data"]:
            pool, split = data["root"].rsplit("/", 1)
            assert pool == "data/tiny", (config.name, data["root"])
            seeds |= set(render_pool.pool_seeds()[split])
    return seeds


def test_demo_video_is_held_out():
    seeds = recipe_seeds()
    assert len(seeds) == 170  # 150 training and 20 test sequences: the recipe's folders were all found
    assert DEMO_VIDEO.seed not in seeds
    assert all(HELD_OUT_SEED + k not in seeds for k in range(10))  # benchmarks/ablation.py's default videos


def test_demo_writes_a_readable_reconstruction_of_the_video(demo):
    out, _ = demo
    rec = load_reconstruction(out)
    sequence = generate_sequence(DEMO_VIDEO)
    assert rec.num_frames == len(sequence.images) == 24
    assert np.isfinite(rec.depths).all() and (rec.depths > 0).all()
    assert (out / "trajectory_tum.txt").is_file() and (out / "pred_intrinsics.txt").is_file()


def test_demo_scores_its_output_against_the_ground_truth(demo):
    """The printed metrics of Align3R-tiny are those of the written depths and poses; every row's depth
    beats a trivial estimate by far; the prior alone has no poses."""
    out, text = demo
    rec = load_reconstruction(out)
    sequence = generate_sequence(DEMO_VIDEO)
    transform = frame_transform(*sequence.images.shape[1:3], size=128, crop=True)
    gt = np.stack([resize_map(d, transform) for d in np.where(sequence.valid_masks, sequence.depths, 0)])
    ours = video_depth_metrics(rec.depths, gt)
    poses = pose_metrics(rec.poses_c2w, sequence.poses_c2w)
    abs_rel, delta1, _, ate, rpe_trans, rpe_rot = _row(text, "Align3R-tiny")
    assert abs_rel == pytest.approx(ours.abs_rel, abs=1e-4) and delta1 == pytest.approx(ours.delta1, abs=1e-4)
    assert (ate, rpe_trans, rpe_rot) == pytest.approx((poses.ate, poses.rpe_trans, poses.rpe_rot_deg), abs=1e-3)
    constant = video_depth_metrics(np.ones_like(gt), gt)  # best scale & shift of a flat map: 0.36
    for method in ("DUSt3R-tiny", "Align3R-tiny"):
        assert _row(text, method)[0] < 0.5 * constant.abs_rel, method
    prior_abs_rel, _, prior_tae, *poses_cells = _row(text, "prior alone")
    assert 0 < prior_abs_rel < 0.5 * constant.abs_rel and prior_tae > 0 and np.isnan(poses_cells).all()


def test_demo_refuses_to_overwrite(demo, capsys):
    out, _ = demo
    before = (out / "reconstruction.json").read_bytes()
    assert main(["demo", "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("holds a finished reconstruction; pass --overwrite to replace it") and "\n" not in err
    assert (out / "reconstruction.json").read_bytes() == before
