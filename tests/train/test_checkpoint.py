"""Training checkpoints restore everything, load weights_only, and read as official checkpoints."""

import torch

from align3r import load_model
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet
from align3r.train.checkpoint import Progress, load_training_checkpoint, save_training_checkpoint
from align3r.train.optim import OFFICIAL_TRAINABLE, apply_trainable, param_groups


def model_and_optimizer(seed: int):
    torch.manual_seed(seed)
    model = Align3RNet(PRESETS["small_linear"])
    optimizer = torch.optim.AdamW(param_groups(apply_trainable(model, OFFICIAL_TRAINABLE), 0.05), betas=(0.9, 0.95))
    return model, optimizer


def one_step(model, optimizer):
    views = [{"img": torch.rand(1, 3, 32, 32), "pred_depth": torch.rand(1, 32, 32, 3)} for _ in range(2)]
    pred1, _ = model(*views)
    pred1["pts3d"].mean().backward()
    optimizer.step()
    optimizer.zero_grad()


def test_round_trip_restores_model_optimizer_progress_and_rng(tmp_path):
    model, optimizer = model_and_optimizer(0)
    one_step(model, optimizer)
    progress = Progress(epoch=3, micro=7, step=25, best_so_far=0.5)
    save_training_checkpoint(tmp_path / "checkpoint-last.pth", model, optimizer, progress, {"lr": 5e-5})
    expected_draw = torch.rand(3)

    other, other_optimizer = model_and_optimizer(1)
    restored, config = load_training_checkpoint(tmp_path / "checkpoint-last.pth", other, other_optimizer)
    assert restored == progress and config == {"lr": 5e-5}
    assert torch.equal(torch.rand(3), expected_draw)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    rng = torch.get_rng_state()
    one_step(model, optimizer)
    torch.set_rng_state(rng)  # same inputs: the optimiser moments must carry over exactly
    one_step(other, other_optimizer)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters()))


def test_checkpoint_reads_as_an_official_one(tmp_path):
    model, optimizer = model_and_optimizer(0)
    save_training_checkpoint(tmp_path / "c.pth", model, optimizer, Progress(epoch=5), {})
    state = torch.load(tmp_path / "c.pth", weights_only=False)
    assert state["epoch"] == 4 and state["args"].model.startswith("AsymmetricCroCo3DStereo(")
    loaded = load_model(tmp_path / "c.pth")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
