"""The training loop learns, freezes what it should, and resumes exactly after an interruption."""

import pytest
import torch

from align3r.geometry import transform_points, unproject_depth
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet
from align3r.train.config import TrainConfig
from align3r.train.loop import Distributed, fit

H, W = 32, 48


def make_view(gen: torch.Generator, c2w: torch.Tensor) -> dict:
    """A fronto-parallel textured plane at a random depth, seen by a camera with pose c2w."""
    depth = (2 + torch.rand((), generator=gen)) * torch.ones(2, H, W) + 0.1 * torch.rand(2, H, W, generator=gen)
    k = torch.tensor([[40.0, 0, W / 2], [0, 40.0, H / 2], [0, 0, 1]])
    pts = transform_points(c2w, unproject_depth(depth, k.expand(2, 3, 3)))
    img = torch.rand(2, 3, H, W, generator=gen) * 2 - 1
    prior = (depth - depth.amin()) / (depth.amax() - depth.amin())
    return {"img": img, "pred_depth": prior[..., None].expand(2, H, W, 3).contiguous(), "pts3d": pts,
            "camera_pose": c2w, "valid_mask": torch.ones(2, H, W, 2, dtype=torch.bool),
            "true_shape": torch.tensor([[H, W]] * 2)}


class ToySource:
    """Deterministic micro-batches from (epoch, index); `fail_at` simulates a kill."""

    def __init__(self, length: int, fail_at: tuple[int, int] | None = None) -> None:
        self.length, self.fail_at = length, fail_at

    def __len__(self) -> int:
        return self.length

    def micro_batches(self, epoch: int, start: int = 0):
        for index in range(start, self.length):
            if (epoch, index) == self.fail_at:
                raise KeyboardInterrupt
            gen = torch.Generator().manual_seed(1000 * epoch + index)
            c2w = torch.eye(4).expand(2, 4, 4).clone()
            c2w[:, :3, 3] = torch.rand(2, 3, generator=gen) * 0.2
            yield make_view(gen, torch.eye(4).expand(2, 4, 4).clone()), make_view(gen, c2w)


def config(tmp_path, **kw) -> TrainConfig:
    settings = dict(output_dir=str(tmp_path), model="tiny", epochs=2, warmup_epochs=0.5, lr=1e-3,
                    accum_iter=2, log_every=1, save_every=1)
    return TrainConfig(**{**settings, **kw})


def fresh_model() -> Align3RNet:
    torch.manual_seed(0)
    return Align3RNet(PRESETS["tiny"])


ENV = Distributed(0, 1, torch.device("cpu"))


def test_fit_trains_only_the_trainable_set_and_writes_checkpoints(tmp_path):
    model = fresh_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    progress = fit(config(tmp_path), model, ToySource(6), {"toy": ToySource(2)}, ENV)
    assert (progress.epoch, progress.step) == (2, 6)
    after = model.state_dict()
    for key in ("patch_embed.proj.weight", "enc_blocks.0.attn.qkv.weight", "decoder_embed.weight", "mask_token"):
        assert torch.equal(before[key], after[key]), key
    for key in ("dec_blocks.0.attn.qkv.weight", "zero_convs.0.0.weight", "downstream_head2.dpt.head.4.bias"):
        assert not torch.equal(before[key], after[key]), key
    names = {p.name for p in tmp_path.iterdir()}
    assert {"checkpoint-last.pth", "checkpoint-final.pth", "checkpoint-best.pth", "checkpoint-0.pth",
            "checkpoint-1.pth", "log.csv"} <= names
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert any(r.startswith("test_toy,loss_med,") for r in rows) and any(r.startswith("train,loss,") for r in rows)


def test_training_lowers_the_loss_on_a_fixed_batch(tmp_path):
    class OneBatch(ToySource):
        def micro_batches(self, epoch, start=0):
            for index in range(start, self.length):
                yield next(ToySource(1).micro_batches(0))

    model = fresh_model()
    fit(config(tmp_path, epochs=1, warmup_epochs=0.0), model, OneBatch(40), {}, ENV)
    losses = [float(r.split(",")[2]) for r in (tmp_path / "log.csv").read_text().splitlines()
              if r.startswith("train,loss,")]
    assert losses[-1] < losses[0] - 0.2


@pytest.mark.parametrize("fail_at", [(1, 0), (1, 3)])
def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path, fail_at):
    reference = fresh_model()
    fit(config(tmp_path / "a"), reference, ToySource(6), {}, ENV)

    interrupted = fresh_model()
    with pytest.raises(KeyboardInterrupt):
        fit(config(tmp_path / "b", checkpoint_steps=1), interrupted, ToySource(6, fail_at=fail_at), {}, ENV)
    resumed = fresh_model()
    torch.manual_seed(123)  # the run's RNG comes from the checkpoint, not from here
    progress = fit(config(tmp_path / "b", checkpoint_steps=1), resumed, ToySource(6), {}, ENV, resume=True)
    assert progress.step == 6
    for (key, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), key
