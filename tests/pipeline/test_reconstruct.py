"""`choose_mode`: global alignment while its footprint fits the budget and half the free memory."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from align3r.errors import InputError
from align3r.infer.graph import pair_graph
from align3r.pipeline import reconstruct
from align3r.pipeline.reconstruct import GLOBAL_BYTES_PER_PIXEL_EDGE, ReconstructConfig, choose_mode

CPU = torch.device("cpu")


def test_auto_goes_hierarchical_where_global_would_outgrow_the_default_budget() -> None:
    """tiny's 128x64 grid: 100 frames (950 edges, 0.93 GB) global, 400 frames (3950 edges) not."""
    config = ReconstructConfig()
    assert len(pair_graph(100, config.graph)) * 128 * 64 * GLOBAL_BYTES_PER_PIXEL_EDGE < 1e9
    assert choose_mode(100, 64, 128, config, CPU) == "global"
    assert choose_mode(400, 64, 128, config, CPU) == "hierarchical"
    assert choose_mode(400, 64, 128, replace(config, mode="global"), CPU) == "global"
    assert choose_mode(4, 2000, 2000, config, CPU) == "global"  # too few frames for a hierarchy


def test_the_budget_boundary_is_the_footprint() -> None:
    needed = len(pair_graph(40, "swinstride-5-noncyclic")) * 96 * 128 * GLOBAL_BYTES_PER_PIXEL_EDGE
    assert choose_mode(40, 96, 128, ReconstructConfig(align_memory_gb=needed / 1e9), CPU) == "global"
    assert choose_mode(40, 96, 128, ReconstructConfig(align_memory_gb=0.999 * needed / 1e9), CPU) == "hierarchical"


def test_half_the_free_memory_caps_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 1 GB free, a 0.6 GB alignment goes hierarchical whatever the budget."""
    pages = {"SC_AVPHYS_PAGES": 1_000_000_000 // 4096, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(reconstruct.os, "sysconf", pages.__getitem__)
    edges = len(pair_graph(40, "swinstride-5-noncyclic"))
    height = round(0.6e9 / (edges * 128 * GLOBAL_BYTES_PER_PIXEL_EDGE))
    assert choose_mode(40, height, 128, ReconstructConfig(align_memory_gb=100), CPU) == "hierarchical"
    assert choose_mode(40, height // 2, 128, ReconstructConfig(align_memory_gb=100), CPU) == "global"


@pytest.mark.parametrize("budget", [0.0, -1.0, float("nan")])
def test_a_budget_must_be_positive(budget: float) -> None:
    with pytest.raises(InputError, match="--align-memory must be above 0 GB"):
        ReconstructConfig(align_memory_gb=budget)
