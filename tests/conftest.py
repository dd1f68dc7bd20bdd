"""Test session settings: one torch thread, so that timings do not collapse when other processes
share the cores (with 2 threads and a busy machine a step can take 10x longer)."""

import torch


def pytest_configure(config) -> None:
    torch.set_num_threads(1)
