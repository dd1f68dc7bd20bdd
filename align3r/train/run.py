"""A training run from its config: model, data sources, process group, then `fit`."""

from __future__ import annotations

import logging

import torch

from align3r.data.batches import PairBatches
from align3r.data.crop import CropConfig
from align3r.data.pairs import EpochMix, PairDataset, held_out_pairs
from align3r.data.readers import make_reader
from align3r.data.views import ViewConfig
from align3r.errors import InputError
from align3r.model.checkpoint import load_model
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet
from align3r.train.checkpoint import Progress
from align3r.train.config import TrainConfig
from align3r.train.loop import Distributed, end_distributed, fit, init_distributed

logger = logging.getLogger(__name__)


def build_model(config: TrainConfig) -> Align3RNet:
    """The preset's network, with `pretrained` weights when given (a missing prior branch starts
    at zero). Seeded identically on every rank (docs/training.md §11 item 23)."""
    if config.model not in PRESETS:
        raise InputError(f"unknown model preset {config.model!r} (known: {', '.join(PRESETS)})")
    torch.manual_seed(config.seed)
    if config.pretrained is None:
        return Align3RNet(PRESETS[config.model])
    model = load_model(config.pretrained)
    if model.config != PRESETS[config.model]:
        raise InputError(f"{config.pretrained}: its architecture is not the {config.model!r} preset")
    return model.train()


def build_sources(config: TrainConfig, env: Distributed) -> tuple[PairBatches, dict[str, PairBatches]]:
    """This process's training micro-batches and one fixed held-out source per test set."""
    if not config.train_data:
        raise InputError("train_data is empty: list at least one {name, root, pairs_per_epoch}")
    view = ViewConfig(crop=CropConfig(aug_f=config.aug_zoom, aug_crop=config.aug_crop, nearest=config.nearest))
    members = [(mix.pairs_per_epoch,
                PairDataset(make_reader(mix.name, mix.root, prior=config.prior,
                                        on_error="skip" if config.skip_unreadable else "raise"),
                            resolutions=config.resolutions, config=view, seed=config.seed,
                            max_gap=config.max_gap, skip_unreadable=config.skip_unreadable))
               for mix in config.train_data]
    train = PairBatches(EpochMix(members, seed=config.seed), batch_size=config.batch_size, world_size=env.world,
                        rank=env.rank, layout=config.sampler_layout, num_workers=config.num_workers)
    side = config.test_resolution
    tests = {mix.name: PairBatches(held_out_pairs(make_reader(mix.name, mix.root, prior=config.prior),
                                                  count=mix.pairs_per_epoch, resolution=(side, side),
                                                  seed=config.seed, max_gap=config.max_gap),
                                   batch_size=config.batch_size, world_size=env.world, rank=env.rank,
                                   shuffle=False, num_workers=config.num_workers)
             for mix in config.test_data}
    return train, tests


def train(config: TrainConfig, *, resume: bool = False, device: str | None = None) -> Progress:
    """Run (or resume) a training run, in this process or as one rank of a torchrun job."""
    if config.threads:
        torch.set_num_threads(config.threads)
    env = init_distributed(device)
    train_source, test_sources = build_sources(config, env)
    logger.info("rank %d/%d on %s: %d micro-batches per epoch", env.rank, env.world, env.device, len(train_source))
    progress = fit(config, build_model(config), train_source, test_sources, env, resume=resume)
    end_distributed(env)
    return progress
