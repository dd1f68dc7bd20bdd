"""Benchmark results as files: `metrics.json` (every number) and `metrics.md` (one table), written atomically.

```
## depth: sintel: per-sequence scale & shift (LAD, official)

| sequence | Abs Rel | Sq Rel | RMSE | Log RMSE | δ < 1.25 | δ < 1.25^2 | δ < 1.25^3 | valid_pixels |
|---|---|---|---|---|---|---|---|---|
| alley_1 | 0.1234 | ... |
| average (valid-pixel weighted) | ... |
```
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from align3r.atomic import atomic_write_bytes
from align3r.errors import InputError
from align3r.eval.protocol import PROTOCOLS, BenchmarkResult

FILES = ("metrics.json", "metrics.md")
HIDDEN_COLUMNS = ("scale", "shift")
"""Per-sequence values kept in metrics.json but left out of the table."""


def to_json(result: BenchmarkResult) -> dict[str, object]:
    """The metrics.json content: task, dataset, protocol (name and title), sequences, average."""
    content = asdict(result) | {"protocol_title": PROTOCOLS[result.protocol]}
    if result.depth_max is not None and math.isinf(result.depth_max):
        content["depth_max"] = None  # no upper bound; JSON has no infinity
    return content


def _cell(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def to_markdown(result: BenchmarkResult) -> str:
    """One table: a row per sequence, then the dataset average; the protocol in the heading."""
    columns = [c for c in next(iter(result.sequences.values())) if c not in HIDDEN_COLUMNS]
    weighting = "valid-pixel weighted" if result.task == "depth" else "mean over sequences"
    lines = [f"## {result.task}: {result.dataset}: {PROTOCOLS[result.protocol]}", "",
             "| sequence | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(_cell(metrics[c]) for c in columns) + " |"
              for name, metrics in result.sequences.items()]
    total = sum(m["valid_pixels"] for m in result.sequences.values()) if "valid_pixels" in columns else None
    average = [_cell(result.average[c]) if c in result.average else str(total) for c in columns]
    lines.append(f"| average ({weighting}) | " + " | ".join(average) + " |")
    return "\n".join(lines) + "\n"


def check_output(out: Path, *, overwrite: bool) -> None:
    """InputError if `out` already holds results (without `overwrite`) or is not a folder."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder")
    if not overwrite and any((out / name).exists() for name in FILES):
        raise InputError(f"--out {out} already holds {FILES[0]}; choose another folder or pass --overwrite")


def write_report(result: BenchmarkResult, out: Path) -> None:
    """Write metrics.json and metrics.md into `out` (created if needed), each atomically."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"--out {out}: cannot create the folder ({err.strerror})") from None
    text = json.dumps(to_json(result), indent=1, ensure_ascii=False) + "\n"
    atomic_write_bytes(out / FILES[0], text.encode())
    atomic_write_bytes(out / FILES[1], to_markdown(result).encode())
