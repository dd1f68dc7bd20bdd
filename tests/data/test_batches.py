"""Per-process symmetrised micro-batches for the training loop (docs/training.md §3.3-§3.4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from align3r.data.batches import PairBatches
from align3r.data.pairs import EpochMix, PairDataset, held_out_pairs
from align3r.data.readers import make_reader
from align3r.data.readers.write import write_proc_frame

RESOLUTIONS = ((32, 24), (32, 16))


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory):
    root: Path = tmp_path_factory.mktemp("vkitti2")
    for k in range(8):
        prior = np.random.default_rng(k).uniform(1, 5, size=(30, 40))
        write_proc_frame(root / "scene0000_left", f"{k:05d}", rgb=np.full((30, 40, 3), 20 * k, dtype=np.uint8),
                         depth=np.full((30, 40), 1 + k, dtype=np.float32), valid=np.ones((30, 40), bool),
                         intrinsics=[[30, 0, 19.5], [0, 30, 14.5], [0, 0, 1]], camera_pose=np.eye(4),
                         priors={"depthpro": (prior, 30.0)})
    return make_reader("vkitti2", root)


def _mix(reader) -> EpochMix:
    return EpochMix([(12, PairDataset(reader, resolutions=RESOLUTIONS))], seed=3)


def test_micro_batches_are_symmetrised_official_dicts(reader) -> None:
    source = PairBatches(_mix(reader), batch_size=2)
    batches = list(source.micro_batches(0))
    assert len(batches) == len(source) == 6
    view1, view2 = batches[0]
    assert view1["img"].shape[0] == 4 and view1["pred_depth"].shape[-1] == 3 and "prior_pts" not in view1
    assert view1["instance"][1] == view2["instance"][0] and view1["instance"][0] == view2["instance"][1]
    assert torch.equal(view1["pts3d"][1], view2["pts3d"][0])
    assert {tuple(v1["img"].shape[2:]) for v1, _ in batches} == {(24, 32), (16, 32)}


def test_resuming_mid_epoch_continues_exactly(reader) -> None:
    source = PairBatches(_mix(reader), batch_size=2)
    full = [v1["img"] for v1, _ in source.micro_batches(1)]
    resumed = [v1["img"] for v1, _ in PairBatches(_mix(reader), batch_size=2).micro_batches(1, start=4)]
    assert len(resumed) == 2 and all(torch.equal(a, b) for a, b in zip(full[4:], resumed))
    other = [v1["img"] for v1, _ in source.micro_batches(2)]
    assert not all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(full, other))


def test_interleaved_ranks_give_the_single_process_global_batch(reader) -> None:
    single = list(PairBatches(_mix(reader), batch_size=4, layout="interleaved").micro_batches(0))
    ranks = [list(PairBatches(_mix(reader), batch_size=2, world_size=2, rank=r, layout="interleaved").micro_batches(0))
             for r in range(2)]
    assert len(single) == 3 and [len(r) for r in ranks] == [3, 3]
    for step, (view1, _) in enumerate(single):
        joined = torch.cat([ranks[0][step][0]["img"], ranks[1][step][0]["img"]])
        assert torch.equal(view1["img"], joined)


def test_test_sets_go_in_order_split_across_ranks(reader) -> None:
    test_set = held_out_pairs(reader, count=10, resolution=(24, 24), seed=0)
    ranks = [PairBatches(test_set, batch_size=2, world_size=2, rank=r, shuffle=False) for r in range(2)]
    assert [len(r) for r in ranks] == [2, 2]
    labels = [v1["label"][0] for r in ranks for v1, _ in r.micro_batches(0)]
    expected = [test_set[k][0].label for k in (0, 4, 2, 6)]
    assert labels == expected
