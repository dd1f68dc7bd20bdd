"""SEA-RAFT: official keys, the official golden flows, checkpoint loading and the edge-batched call."""

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.model_goldens import recipe_draw, recipe_tensor

from align3r.errors import CheckpointError, ModelNotFoundError
from align3r.infer.flow import sea_raft_weights
from align3r.infer.flow.sea_raft import SeaRaft, SeaRaftConfig
from align3r.infer.flow.sea_raft_flow import sea_raft_flow
from align3r.infer.flow.sea_raft_weights import load_sea_raft, save_sea_raft

GOLDEN = Path(__file__).parents[2] / "goldens" / "infer" / "flow"
MANIFEST = json.loads((GOLDEN / "manifest_sea_raft.json").read_text())
TOL_4, TOL_20 = 1e-3, 1e-2  # px, the golden's README


def recipe_state_dict() -> dict[str, torch.Tensor]:
    """The golden's weights: per key without `module.`, PCG64 seeded with crc32(key), in manifest order."""
    state_dict = {}
    for official_key, shape, _ in MANIFEST:
        key = official_key.removeprefix("module.")
        if key.endswith(".num_batches_tracked"):
            state_dict[key] = torch.zeros((), dtype=torch.int64)
        elif key.endswith(".running_var"):
            state_dict[key] = torch.from_numpy((1 + 0.02 * np.abs(recipe_draw(key, shape))).astype(np.float32))
        else:
            state_dict[key] = recipe_tensor(key, shape)
    return state_dict


@pytest.fixture(scope="module")
def official_pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recipe weights as the released checkpoint stores them: a state dict with `module.` keys."""
    path = tmp_path_factory.mktemp("sea_raft") / "Tartan-C-T432x960-M.pth"
    torch.save({f"module.{k}": v for k, v in recipe_state_dict().items()}, path)
    return path


@pytest.fixture(scope="module")
def recipe_model(official_pth: Path) -> SeaRaft:
    return load_sea_raft(official_pth)


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    return dict(np.load(GOLDEN / "sea_raft_golden.npz"))


def as_batch(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 255]."""
    return torch.from_numpy(image).permute(2, 0, 1)[None].float()


def max_error(ours: torch.Tensor, ref: np.ndarray) -> float:
    return float(np.abs(ours.numpy() - ref.astype(np.float32)).max())


def test_state_dict_equals_official_manifest() -> None:
    ours = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in SeaRaft().state_dict().items()]
    assert ours == [[k.removeprefix("module."), shape, dtype] for k, shape, dtype in MANIFEST]


def test_config_defaults_equal_official_json(golden: dict[str, np.ndarray]) -> None:
    official = json.loads(str(golden["config"]))
    ours = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(SeaRaftConfig()).items()}
    assert ours == {k: official[k] for k in ours if k != "corr_levels"} | {"corr_levels": 4}


@pytest.mark.parametrize("source", ["pth", "safetensors"])
def test_golden_flows(source: str, official_pth: Path, recipe_model: SeaRaft, golden: dict[str, np.ndarray],
                      tmp_path: Path) -> None:
    if source == "safetensors":
        save_sea_raft(recipe_model, tmp_path)
        model = load_sea_raft(tmp_path / "model.safetensors")
    else:
        model = load_sea_raft(official_pth)
    image1, image2 = as_batch(golden["image1"]), as_batch(golden["image2"])
    with torch.no_grad():
        ab = model(image1, image2, iters=20, keep_all=True)[:, 0]  # (21, 2, H, W)
        ba = model(image2, image1, iters=20)[0]
    assert ab.shape == (21, 2, 180, 260) and ba.shape == (2, 180, 260)
    assert max_error(ab[:2], golden["flow_ab_iters20_first2"]) <= TOL_4
    assert max_error(ab[4], golden["flow_ab_iters4"]) <= TOL_4
    assert max_error(ab[20], golden["flow_ab_iters20"]) <= TOL_20
    assert max_error(ba, golden["flow_ba_iters20"]) <= TOL_20


def test_last_prediction_needs_no_others(recipe_model: SeaRaft, golden: dict[str, np.ndarray]) -> None:
    image1, image2 = as_batch(golden["image1"]), as_batch(golden["image2"])
    with torch.no_grad():
        assert torch.equal(recipe_model(image1, image2, iters=4)[0],
                           recipe_model(image1, image2, iters=4, keep_all=True)[-1, 0])


def test_save_load_round_trip_is_bit_identical(recipe_model: SeaRaft, tmp_path: Path) -> None:
    save_sea_raft(recipe_model, tmp_path)
    loaded = load_sea_raft(tmp_path)
    before, after = recipe_model.state_dict(), loaded.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert json.loads((tmp_path / "config.json").read_text())["block_dims"] == [64, 128, 256]
    images = torch.randint(0, 256, (2, 3, 121, 130), generator=torch.Generator().manual_seed(0)).float()
    with torch.no_grad():
        assert torch.equal(recipe_model(images[:1], images[1:], iters=2), loaded(images[:1], images[1:], iters=2))


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert message and "\n" not in message
    return message


@pytest.mark.parametrize("source", ["pth", "safetensors"])
def test_truncated_checkpoint(source: str, official_pth: Path, recipe_model: SeaRaft, tmp_path: Path) -> None:
    if source == "pth":
        path = tmp_path / "cut.pth"
        path.write_bytes(official_pth.read_bytes()[: official_pth.stat().st_size // 2])
    else:
        save_sea_raft(recipe_model, tmp_path)
        path = tmp_path / "model.safetensors"
        path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(CheckpointError) as err:
        load_sea_raft(path)
    assert "truncated" in one_line(err)


def test_foreign_checkpoints(tmp_path: Path) -> None:
    other = tmp_path / "other.pth"
    torch.save({"model": {"encoder.weight": torch.zeros(3, 3)}}, other)
    with pytest.raises(CheckpointError) as err:
        load_sea_raft(other)
    assert "not a SEA-RAFT checkpoint" in one_line(err)

    wrong_shape = recipe_state_dict()
    wrong_shape["flow_head.2.weight"] = torch.zeros(4, 256, 3, 3)
    torch.save(wrong_shape, other)
    with pytest.raises(CheckpointError) as err:
        load_sea_raft(other)
    assert "flow_head.2.weight" in one_line(err)

    extra = recipe_state_dict() | {"module.extra.weight": torch.zeros(1)}
    torch.save(extra, other)
    with pytest.raises(CheckpointError) as err:
        load_sea_raft(other)
    assert "1 unexpected" in one_line(err)


def test_config_file_must_agree_with_weights(recipe_model: SeaRaft, tmp_path: Path) -> None:
    save_sea_raft(recipe_model, tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"dim": 96, "lr": 4e-4}))
    with pytest.raises(CheckpointError) as err:
        load_sea_raft(tmp_path)
    assert "dim=96" in one_line(err)


def test_missing_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        load_sea_raft(tmp_path / "absent.pth")
    one_line(err)
    with pytest.raises(ModelNotFoundError) as err:
        load_sea_raft(tmp_path)  # a folder without model.safetensors
    one_line(err)
    monkeypatch.setattr(sea_raft_weights, "fetch_snapshot", lambda repo_id, patterns: (None, "offline"))
    with pytest.raises(ModelNotFoundError) as err:
        load_sea_raft("sea-raft-m")
    assert "MemorySlices/Tartan-C-T432x960-M" in one_line(err) and "offline" in one_line(err)


def test_sea_raft_flow_equals_per_pair_calls(recipe_model: SeaRaft) -> None:
    model = recipe_model
    images = np.random.default_rng(0).integers(0, 256, (3, 121, 134, 3), dtype=np.uint8)
    pairs = np.array([[0, 1], [2, 0], [1, 0]])
    flows = sea_raft_flow(model, images, pairs, iters=3, batch_size=2)
    assert flows.shape == (3, 2, 121, 134) and flows.dtype == np.float32
    frames = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        for p, (a, b) in enumerate(pairs):
            np.testing.assert_allclose(flows[p], model(frames[[a]], frames[[b]], iters=3)[0].numpy(), atol=1e-5)


def test_inputs_are_checked(recipe_model: SeaRaft) -> None:
    images = np.zeros((2, 120, 200, 3), np.uint8)
    with pytest.raises(ValueError, match="pairs"):
        sea_raft_flow(recipe_model, images, np.array([[0, 2]]))
    with pytest.raises(ValueError, match="images"):
        sea_raft_flow(recipe_model, images.astype(np.float32), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="at least 121 x 121"):
        sea_raft_flow(recipe_model, images, np.array([[0, 1]]))
