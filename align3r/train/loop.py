"""The training loop: micro-batches, accumulation, lr per step, test sets, checkpoints, resume, DDP.

One function, `fit`, runs a configured model on batch sources; it is the same code for the
released recipe on many GPUs (under `torchrun`, DDP with NCCL) and for the CPU miniature (one
process, or gloo). Differences from the official loop (docs/training.md §11) are on their lines.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from align3r.model.network import Align3RNet, PairPrediction
from align3r.settings import to_mapping
from align3r.train.checkpoint import Progress, load_training_checkpoint, save_training_checkpoint
from align3r.train.config import TrainConfig
from align3r.train.loss import PairTarget, confidence_loss, scale_shift_invariant_loss
from align3r.train.optim import apply_trainable, learning_rate, param_groups, set_learning_rate

logger = logging.getLogger(__name__)

View = dict[str, torch.Tensor]
"""A collated view record (docs/training.md §4.6): img, pred_depth, pts3d, valid_mask, camera_pose, ..."""


class BatchSource(Protocol):
    """This process's micro-batches of one epoch, deterministic given (epoch, index)."""

    def __len__(self) -> int:
        """Micro-batches per epoch for this process."""

    def micro_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[View, View]]:
        """Symmetrised (view 1, view 2) micro-batches of `epoch`, from number `start` on."""


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 without torchrun)."""

    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str | None = None) -> Distributed:
    """Join the torchrun process group if there is one (NCCL on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    chosen = torch.device("cuda", local_rank) if use_cuda else torch.device(device or "cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(chosen)
    return Distributed(dist.get_rank() if world > 1 else 0, world, chosen)


def end_distributed(env: Distributed) -> None:
    """Leave the process group together: without this, a rank that exits while another still has a
    gloo connection open can abort it (SIGABRT at interpreter exit)."""
    if env.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _to_device(view: View, device: torch.device) -> View:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in view.items()}


def forward_pair(model: torch.nn.Module, view1: View, view2: View,
                 precision: str) -> tuple[PairPrediction, PairTarget]:
    """Network outputs and ground truth of a micro-batch, both in camera 1's frame."""
    device = view1["img"].device
    context = (torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bfloat16" else nullcontext())
    with context:
        pred1, pred2 = model(view1, view2)
    pred = PairPrediction(pred1["pts3d"].float(), pred1["conf"].float(),
                          pred2["pts3d_in_other_view"].float(), pred2["conf"].float())
    target = PairTarget.from_world(view1["pts3d"], view2["pts3d"], view1["camera_pose"],
                                   view1["valid_mask"][..., 0], view2["valid_mask"][..., 0])
    return pred, target


@torch.no_grad()
def evaluate(model: torch.nn.Module, source: BatchSource, epoch: int, env: Distributed, precision: str,
             criterion: Callable = scale_shift_invariant_loss) -> dict[str, float]:
    """Mean and median of a criterion (default: the official test criterion) and its details over
    one pass of a test set."""
    model.eval()
    values: dict[str, list[float]] = {}
    for view1, view2 in source.micro_batches(epoch):
        pred, target = forward_pair(model, _to_device(view1, env.device), _to_device(view2, env.device), precision)
        loss, details = criterion(pred, target)
        for key, value in {"loss": loss.item(), **details}.items():
            values.setdefault(key, []).append(value)
    if env.world > 1:
        gathered: list[dict[str, list[float]]] = [{} for _ in range(env.world)]
        dist.all_gather_object(gathered, values)
        values = {k: [v for part in gathered for v in part[k]] for k in values}
    stats = {}
    for key, series in values.items():
        stats[f"{key}_avg"] = sum(series) / len(series)
        stats[f"{key}_med"] = statistics.median(series)
    return stats


class RunLog:
    """`log.csv` in the output folder (rank 0): one row per logged step and per test evaluation."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def write(self, row: dict[str, float | int | str]) -> None:
        if not self.enabled:
            return
        new = not self.path.exists()
        with self.path.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["kind", "key", "value", "epoch", "step"])
            for key, value in row.items():
                if key not in ("kind", "epoch", "step"):
                    writer.writerow([row["kind"], key, value, row["epoch"], row["step"]])


def _train_epoch(ddp: torch.nn.Module, optimizer: torch.optim.Optimizer, source: BatchSource,
                 progress: Progress, config: TrainConfig, env: Distributed, on_step) -> Progress:
    """Train from `progress` to the end of its epoch; `on_step(progress)` after every optimiser step."""
    ddp.train()
    micro_per_epoch = len(source) // config.accum_iter * config.accum_iter  # whole steps, docs/training.md §11 item 22
    step = progress.step
    bar = tqdm(total=micro_per_epoch, initial=progress.micro, desc=f"epoch {progress.epoch}",
               disable=not env.is_main or None, dynamic_ncols=True)
    batches = source.micro_batches(progress.epoch, progress.micro)
    for micro, (view1, view2) in zip(range(progress.micro, micro_per_epoch), batches):
        if micro % config.accum_iter == 0:  # lr at the fractional epoch of the step's first micro-batch
            set_learning_rate(optimizer, learning_rate(progress.epoch + micro / micro_per_epoch, lr=config.lr,
                                                       min_lr=config.min_lr, warmup_epochs=config.warmup_epochs,
                                                       epochs=config.epochs))
        completes_step = (micro + 1) % config.accum_iter == 0
        # Gradients are all-reduced only on a step's last micro-batch (docs/training.md §11 item 25).
        sync = ddp.no_sync() if env.world > 1 and not completes_step else nullcontext()
        with sync:
            pred, target = forward_pair(ddp, _to_device(view1, env.device), _to_device(view2, env.device),
                                        config.precision)
            loss, details = confidence_loss(pred, target, alpha=config.alpha)
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"non-finite training loss at epoch {progress.epoch}, "
                                         f"micro-batch {micro}; stopping")
            (loss / config.accum_iter).backward()
        if completes_step:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            on_step(replace(progress, micro=micro + 1, step=step), {"loss": loss.item(), **details,
                                                                   "lr": optimizer.param_groups[0]["lr"]})
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    return replace(progress, micro=micro_per_epoch, step=step)


def fit(config: TrainConfig, model: Align3RNet, train_source: BatchSource,
        test_sources: dict[str, BatchSource], env: Distributed, *, resume: bool = False) -> Progress:
    """Train `model` as `config` says; resume from `checkpoint-last.pth` when asked and present.

    The trainable set is applied once, before the optimiser and any DDP wrap exist (docs/training.md §11 item 2).
    Rank 0 writes `checkpoint-last.pth` after every epoch (and every `checkpoint_steps` steps),
    `checkpoint-<epoch>.pth` every `save_every` epochs, `checkpoint-best.pth` on a new best test
    median, `checkpoint-final.pth` at the end, and `log.csv`.
    """
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.to(env.device)
    optimizer = torch.optim.AdamW(param_groups(apply_trainable(model, config.trainable), config.weight_decay,
                                               branch_lr_scale=config.branch_lr_scale),
                                  lr=config.lr, betas=config.betas)
    progress = Progress()
    if resume and (out / "checkpoint-last.pth").exists():
        progress, _ = load_training_checkpoint(out / "checkpoint-last.pth", model, optimizer)
        logger.info("resuming at epoch %d, micro-batch %d", progress.epoch, progress.micro)
    ddp = (DistributedDataParallel(model, device_ids=[env.device.index] if env.device.type == "cuda" else None)
           if env.world > 1 else model)
    log = RunLog(out / "log.csv", env.is_main)
    settings = to_mapping(config)

    def save(name: str, state: Progress) -> None:
        if env.is_main:
            save_training_checkpoint(out / name, model, optimizer, state, settings)

    def on_step(state: Progress, values: dict[str, float]) -> None:
        if state.step % config.log_every == 0:
            log.write({"kind": "train", "epoch": state.epoch, "step": state.step, **values})
        if config.checkpoint_steps and state.step % config.checkpoint_steps == 0:
            save("checkpoint-last.pth", state)

    while progress.epoch < config.epochs:
        progress = _train_epoch(ddp, optimizer, train_source, progress, config, env, on_step)
        best = progress.best_so_far
        for name, source in test_sources.items():
            stats = evaluate(ddp, source, progress.epoch, env, config.precision)
            log.write({"kind": f"test_{name}", "epoch": progress.epoch, "step": progress.step, **stats})
            best = min(best, stats["loss_med"])
        improved = best < progress.best_so_far
        progress = replace(progress, epoch=progress.epoch + 1, micro=0, best_so_far=best)
        save("checkpoint-last.pth", progress)
        if progress.epoch % config.save_every == 0:
            save(f"checkpoint-{progress.epoch - 1}.pth", progress)
        if improved:
            save("checkpoint-best.pth", progress)
    save("checkpoint-final.pth", progress)
    return progress
