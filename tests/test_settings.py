"""Configs from YAML and overrides: types coerced, unknown keys rejected with one line."""

from dataclasses import dataclass

import pytest

from align3r.errors import InputError
from align3r.settings import from_mapping, load_yaml, to_mapping


@dataclass(frozen=True)
class Inner:
    size: tuple[int, int] = (512, 288)


@dataclass(frozen=True)
class Outer:
    lr: float = 5e-5
    names: tuple[str, ...] = ("a",)
    inner: Inner = Inner()
    limit: int | None = None


def test_round_trip_and_coercion(tmp_path):
    config = Outer(lr=1e-4, names=("x", "y"), inner=Inner((128, 96)), limit=3)
    assert from_mapping(Outer, to_mapping(config)) == config
    (tmp_path / "c.yaml").write_text("lr: 1\nnames: [p]\ninner: {size: [64, 48]}\n")
    loaded = load_yaml(Outer, tmp_path / "c.yaml", {"limit": 7})
    assert loaded == Outer(lr=1.0, names=("p",), inner=Inner((64, 48)), limit=7)
    assert isinstance(loaded.lr, float)


def test_unknown_keys_are_errors(tmp_path):
    with pytest.raises(InputError, match="unknown setting.*inner.sise"):
        from_mapping(Outer, {"inner": {"sise": [1, 2]}})
    (tmp_path / "bad.yaml").write_text("- just\n- a list\n")
    with pytest.raises(InputError, match="must be a mapping"):
        load_yaml(Outer, tmp_path / "bad.yaml")
