"""`align3r train` end to end on synthetic sequences: one process, resume, stage 2, torchrun DDP."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from align3r import load_model
from align3r.cli import main
from align3r.data.synthetic import SynthConfig, generate_sequence, write_sequence
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet
from align3r.settings import load_yaml
from align3r.train.config import TrainConfig
from align3r.train.optim import ALL_BUT_PRIOR_BRANCH
from align3r.train.run import build_model


@pytest.fixture(scope="module")
def sequences(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    for split, seed in (("train", 0), ("test", 1)):  # indoor: every pixel has a valid depth
        write_sequence(generate_sequence(SynthConfig(frames=6, width=170, height=96, seed=seed, setting="indoor")),
                       root / split / f"seq{seed}")
    return root


def write_config(path: Path, data: Path, out: Path, **extra) -> Path:
    config = {"output_dir": str(out), "model": "tiny", "resolutions": [[128, 96], [128, 64]], "test_resolution": 96,
              "aug_crop": 4, "epochs": 2, "warmup_epochs": 1, "lr": 3e-4, "accum_iter": 2, "log_every": 1,
              "train_data": [{"name": "synthetic", "root": str(data / "train"), "pairs_per_epoch": 8}],
              "test_data": [{"name": "synthetic", "root": str(data / "test"), "pairs_per_epoch": 4}], **extra}
    path.write_text(yaml.safe_dump(config))
    return path


def test_train_resume_and_stage_two_from_stage_one(sequences, tmp_path, capsys):
    stage1 = write_config(tmp_path / "s1.yaml", sequences, tmp_path / "s1", trainable=list(ALL_BUT_PRIOR_BRANCH))
    assert main(["train", str(stage1), "--set", "epochs=1"]) == 0
    assert main(["train", str(stage1), "--resume"]) == 0  # continues with the second epoch only
    assert "trained to epoch 2 (4 optimiser steps)" in capsys.readouterr().out
    final = load_model(tmp_path / "s1" / "checkpoint-final.pth")
    assert all(not zc[0].weight.any() for zc in final.zero_convs)  # the branch stayed out of stage 1

    stage2 = load_yaml(TrainConfig, write_config(tmp_path / "s2.yaml", sequences, tmp_path / "s2",
                                                 pretrained=str(tmp_path / "s1" / "checkpoint-final.pth")))
    start = build_model(stage2).eval()
    views = [{"img": torch.rand(1, 3, 64, 96), "pred_depth": torch.rand(1, 64, 96, 3)} for _ in range(2)]
    with torch.no_grad():  # step 0 of stage 2 is exactly stage 1 (zero convs)
        assert torch.equal(start(*views)[1]["pts3d_in_other_view"], final.eval()(*views)[1]["pts3d_in_other_view"])


def test_bad_config_is_one_line(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("epochz: 3\n")
    assert main(["train", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "unknown setting(s) epochz" in err


def test_torchrun_ddp_equals_one_process_with_the_global_batch(sequences, tmp_path):
    """2 ranks x 1 pair per micro-batch == 1 process x 2 pairs (gradients averaged over ranks equal the
    pooled mean here, since every pixel is valid, so every pair weighs the same)."""
    common = dict(epochs=1, threads=1, sampler_layout="interleaved")
    ddp = write_config(tmp_path / "ddp.yaml", sequences, tmp_path / "ddp", batch_size=1, **common)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             "--nproc-per-node", "2", "-m", "align3r", "train", str(ddp)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr  # whole: a rank's own abort message comes before torchrun's summary
    assert result.stdout.count("trained to epoch 1") == 1  # rank 0 only
    single = write_config(tmp_path / "one.yaml", sequences, tmp_path / "one", batch_size=2, **common)
    assert main(["train", str(single)]) == 0
    states = [torch.load(tmp_path / run / "checkpoint-final.pth", weights_only=False) for run in ("ddp", "one")]
    assert states[0]["progress"]["step"] == states[1]["progress"]["step"] == 2
    torch.manual_seed(0)  # the runs' seed: this is their initial state
    start = Align3RNet(PRESETS["tiny"]).state_dict()
    moved = 0
    for key, value in states[0]["model"].items():
        torch.testing.assert_close(value, states[1]["model"][key], rtol=1e-4, atol=1e-6, msg=key)
        moved += not torch.equal(value, start[key])
    assert moved > 100
