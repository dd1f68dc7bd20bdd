"""This process's symmetrised micro-batches per epoch: the training loop's data side (docs/training.md §3.3-§3.4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from torch.utils.data import DataLoader, Dataset

from align3r.data.pairs import AspectBatchSampler, EpochMix, symmetrize
from align3r.data.views import collate_pairs

OfficialView = dict[str, object]
"""A batched view as the official code passes it: tensors (2B, ...) keyed as in docs/training.md §4.6."""


class PairBatches:
    """Micro-batches of a pair dataset for one process, deterministic given (epoch, position).

    With `shuffle` (training), batches come from `AspectBatchSampler` (one aspect ratio per
    micro-batch, this rank's share) and an `EpochMix` is redrawn at every epoch. Without
    (test sets), items go in order at aspect index 0, rank r taking every world-th micro-batch,
    the last ones dropped so that every rank has as many.

    Args:
        dataset: an `EpochMix`, a `PairDataset` (items `(index, ar_index)`), or, without
            `shuffle`, any dataset of (view 1, view 2) indexed by int (e.g. `held_out_pairs`).
        batch_size: pairs per micro-batch (before symmetrisation).
        world_size, rank: this process's place among the data-parallel ranks.
        shuffle: training order (above) or the fixed test order.
        layout: rank layout of the training sampler (see `AspectBatchSampler`).
        num_workers: DataLoader worker processes.
        seed: the sampler's seed (official 777).
    """

    def __init__(self, dataset: Dataset, *, batch_size: int = 2, world_size: int = 1, rank: int = 0,
                 shuffle: bool = True, layout: Literal["official", "interleaved"] = "official",
                 num_workers: int = 0, seed: int = 777) -> None:
        self.dataset, self.num_workers = dataset, num_workers
        self.batch_size, self.world_size, self.rank, self.shuffle = batch_size, world_size, rank, shuffle
        self.sampler = None
        if shuffle:
            ratios = len(getattr(dataset, "resolutions", (0,)))
            self.sampler = AspectBatchSampler(len(dataset), batch_size, ratios, world_size=world_size, rank=rank,
                                              seed=seed, layout=layout)

    def __len__(self) -> int:
        """Micro-batches per epoch for this process."""
        if self.sampler is not None:
            return len(self.sampler)
        return len(self.dataset) // (self.batch_size * self.world_size)

    def _batches(self, epoch: int) -> list[list]:
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
            return list(self.sampler)
        items = range(len(self) * self.batch_size * self.world_size)
        batches = [list(items[k:k + self.batch_size]) for k in range(0, len(items), self.batch_size)]
        return batches[self.rank::self.world_size]

    def micro_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[OfficialView, OfficialView]]:
        """Symmetrised (view 1, view 2) micro-batches of `epoch`, from number `start` on (2B rows each).

        Positions before `start` are not loaded, and every item's draws depend only on (epoch,
        index), so a resumed epoch continues exactly.
        """
        if isinstance(self.dataset, EpochMix):
            self.dataset.set_epoch(epoch)
        loader = DataLoader(self.dataset, batch_sampler=self._batches(epoch)[start:], collate_fn=collate_pairs,
                            num_workers=self.num_workers, pin_memory=torch.cuda.is_available())
        for view1, view2 in loader:
            first, second = symmetrize(view1, view2)
            yield first.as_official_dict(), second.as_official_dict()
