"""load_prior: names, options, the optional transformers extra, offline hub failing at once."""

import sys
import time

import pytest

from align3r.errors import Align3rError, InputError, ModelNotFoundError
from align3r.prior import CachedPrior, FilesPrior, load_prior


def test_files_prior_with_kind(tmp_path):
    prior = load_prior(f"files:{tmp_path}", kind="disparity_affine")
    assert isinstance(prior, FilesPrior) and prior.kind == "disparity_affine" and prior.name == f"files:{tmp_path}"


@pytest.mark.parametrize("name", ["depth-anything-v3", "simulated", "files:"])
def test_unknown_names(name):
    with pytest.raises(InputError, match="choose one of .*depth-pro.*files:DIR"):
        load_prior(name)


def test_kind_is_refused_for_network_priors():
    with pytest.raises(InputError, match="kind"):
        load_prior("depth-pro", kind="depth_metric")


@pytest.fixture
def offline_empty_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize("name, repo", [("depth-anything-v2-large", "Depth-Anything-V2-Large-hf"),
                                        ("depth-pro", "apple/DepthPro-hf")])
def test_offline_with_empty_cache_fails_at_once_with_one_line(offline_empty_cache, name, repo):
    start = time.monotonic()
    with pytest.raises(ModelNotFoundError) as err:
        load_prior(name, cache_dir="unused")
    message = str(err.value)
    assert time.monotonic() - start < 5
    assert "\n" not in message and name in message and repo in message and "files:DIR" in message


def test_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(Align3rError, match=r"pip install 'align3r\[priors\]'"):
        load_prior("depth-anything-v2-small")


def test_cache_dir_wraps_network_priors(monkeypatch, tmp_path):
    import align3r.prior as prior_module

    class Fake:
        name, cache_key = "depth-pro", "depth-pro|x"

    monkeypatch.setattr(prior_module, "_network_prior", lambda name, device, batch_size: Fake())
    wrapped = load_prior("depth-pro", cache_dir=tmp_path)
    assert isinstance(wrapped, CachedPrior) and wrapped.cache.root == tmp_path and wrapped.name == "depth-pro"
    assert isinstance(load_prior("depth-pro"), Fake)
