"""Frozen dataclass configs from plain mappings (YAML files, CLI overrides); unknown keys are errors."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from align3r.errors import InputError

ConfigT = TypeVar("ConfigT")


def _coerce(value: Any, annotation: Any, *, key: str) -> Any:
    """Turn a YAML/CLI value into the field's type (tuples from lists, nested dataclasses)."""
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation) and isinstance(value, Mapping):
        return from_mapping(annotation, value, prefix=f"{key}.")
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return None if value is None else _coerce(value, options[0], key=key)
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(annotation)
        inner = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        return tuple(_coerce(v, inner if inner is not None else args[k], key=key) for k, v in enumerate(value))
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_mapping(cls: type[ConfigT], values: Mapping[str, Any], *, prefix: str = "") -> ConfigT:
    """Build `cls` from a mapping of its field names; other keys raise InputError."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise InputError(f"unknown setting(s) {', '.join(prefix + k for k in unknown)} "
                         f"(known: {', '.join(sorted(fields))})")
    try:
        return cls(**{k: _coerce(v, hints[k], key=prefix + k) for k, v in values.items()})
    except (TypeError, ValueError) as err:
        raise InputError(f"invalid settings: {err}") from None


def to_mapping(config: Any) -> dict[str, Any]:
    """Plain dict (lists for tuples) of a dataclass config, for YAML, JSON and checkpoints."""
    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return {k: plain(v) for k, v in dataclasses.asdict(config).items()}


def load_yaml(cls: type[ConfigT], path: str | Path, overrides: Mapping[str, Any] | None = None) -> ConfigT:
    """Read a YAML file of `cls` fields, apply `overrides` (dotted keys not supported), build it."""
    import yaml

    try:
        values = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"{path}: unreadable config ({str(err).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise InputError(f"{path}: a config file must be a mapping of settings")
    return from_mapping(cls, {**values, **(overrides or {})})
