"""Benchmark results as files: `metrics.json` (every number) and `metrics.md` (one table), written atomically.

```
## depth: sintel: per-sequence scale & shift (LAD, official)

| sequence | Abs Rel | Sq Rel | RMSE | Log RMSE | δ < 1.25 | δ < 1.25^2 | δ < 1.25^3 | valid_pixels | TAE |
|---|---|---|---|---|---|---|---|---|---|
| alley_1 | 0.1234 | ... |
| average (valid-pixel weighted; TAE: mean over sequences) | ... |
```
With further depth rows (the prior alone, the aligned prior) a `depth` column names each row of a
sequence; a dataset folder lacking official sequences gets a line naming them under the heading.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from align3r.atomic import atomic_write_bytes
from align3r.errors import InputError
from align3r.eval.predictions import ALIGNED_PRIOR_ROW, PREDICTION_ROW, PRIOR_ROW, ROW_ORDER
from align3r.eval.protocol import PROTOCOLS, TAE_KEY, BenchmarkResult, MetricRow

FILES = ("metrics.json", "metrics.md")
HIDDEN_COLUMNS = ("scale", "shift")
"""Per-sequence values kept in metrics.json but left out of the table."""
ROW_LABELS = {PRIOR_ROW: "prior alone", PREDICTION_ROW: "align3r", ALIGNED_PRIOR_ROW: "aligned prior"}
"""Depth row name -> its label in the table's `depth` column (shown when there are several rows)."""


def to_json(result: BenchmarkResult) -> dict[str, object]:
    """The metrics.json content: task, dataset, protocol (name and title), sequences, average, the further
    depth rows, and which official sequences are missing (`missing`, `complete`)."""
    content = asdict(result) | {"protocol_title": PROTOCOLS[result.protocol], "complete": result.complete}
    if result.depth_max is not None and math.isinf(result.depth_max):
        content["depth_max"] = None  # no upper bound; JSON has no infinity
    return content


def _cell(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def missing_line(result: BenchmarkResult) -> str:
    """'N official <dataset> sequence(s) missing from the dataset folder: a, b' (an incomplete result)."""
    return (f"{len(result.missing)} official {result.dataset} sequence(s) missing from the dataset folder: "
            f"{', '.join(result.missing)}")


def _average_label(result: BenchmarkResult, columns: list[str]) -> str:
    """The first cell of the average rows: how each column is averaged."""
    if result.task == "pose":
        return "average (mean over sequences)"
    return "average (valid-pixel weighted" + ("; TAE: mean over sequences)" if TAE_KEY in columns else ")")


def to_markdown(result: BenchmarkResult) -> str:
    """One table: a row per sequence (per depth row when there are several), then the dataset averages;
    the protocol in the heading."""
    rows = {PREDICTION_ROW: MetricRow(result.sequences, result.average)} | result.rows
    order = [name for name in ROW_ORDER if name in rows]
    columns = [c for c in next(iter(result.sequences.values())) if c not in HIDDEN_COLUMNS]
    labelled = len(order) > 1
    head = ["sequence", "depth"] if labelled else ["sequence"]
    lines = [f"## {result.task}: {result.dataset}: {PROTOCOLS[result.protocol]}", ""]
    if result.missing:
        lines += [f"Incomplete: {missing_line(result)}.", ""]
    lines += ["| " + " | ".join(head + columns) + " |", "|---" * (len(head) + len(columns)) + "|"]

    def line(name: str, row: str, metrics: dict[str, float]) -> str:
        label = [name, ROW_LABELS[row]] if labelled else [name]
        return "| " + " | ".join(label + [_cell(metrics[c]) if c in metrics else "–" for c in columns]) + " |"

    for sequence in result.sequences:
        lines += [line(sequence, row, rows[row].sequences[sequence]) for row in order]
    for row in order:
        average = dict(rows[row].average)
        if "valid_pixels" in columns:
            average["valid_pixels"] = sum(m["valid_pixels"] for m in rows[row].sequences.values())
        lines.append(line(_average_label(result, columns), row, average))
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
