"""Test session settings: one torch thread (timings do not collapse when other processes share the
cores), and the `--device` option: `pytest --device cuda` runs the device-aware tests on a GPU."""

import pytest
import torch


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default="cpu", help="torch device of the device-aware tests (cpu, cuda, cuda:K)")


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    """The device named by `--device`; the session stops at once when it is not available."""
    device = torch.device(request.config.getoption("--device"))
    if device.type == "cuda" and not torch.cuda.is_available():
        pytest.exit(f"--device {device}: no CUDA device here", returncode=2)
    return device
