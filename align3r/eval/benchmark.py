"""`align3r eval`: one benchmark, one protocol; saved predictions (or our pipeline's) in, metrics.json and metrics.md out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from align3r.errors import InputError
from align3r.eval.datasets import DATASETS, Task
from align3r.eval.pipeline import PipelineOptions, predict_benchmark
from align3r.eval.protocol import TASK_PROTOCOLS, BenchmarkResult, ProtocolName, evaluate_depth, evaluate_pose
from align3r.eval.report import check_output, write_report


@dataclass(frozen=True)
class BenchmarkJob:
    """What to evaluate and where the results go."""

    task: Task
    """"depth" or "pose"."""
    dataset: str
    """a name of `DATASETS`."""
    root: Path
    """the dataset's top folder (docs/evaluation.md §3)."""
    out: Path
    """folder for metrics.json and metrics.md (and `predictions/` when the pipeline runs)."""
    pred: Path | None = None
    """one prediction folder per sequence, named as the sequence; None: run the pipeline."""
    pipeline: PipelineOptions | None = None
    """model and prior to run on every sequence when `pred` is None."""
    protocol: ProtocolName | None = None
    """None: the task's official protocol (depth `scale-shift`, pose `sim3`)."""
    overwrite: bool = False
    """replace metrics already in `out`; with `pipeline`, also reconstruct every sequence afresh."""


def run_benchmark(job: BenchmarkJob) -> BenchmarkResult:
    """Evaluate `job.pred` (or run the pipeline into `out/predictions` first) and write the report.

    With `pred`, nothing is written on bad input. The pipeline keeps each finished sequence,
    so a rerun after an error or interruption continues.

    Raises:
        Align3rError: unknown dataset or protocol, a task the dataset has no ground truth for,
            missing folders, sequences or frames, unreadable files, results already in `out`,
            neither or both of `pred` and `pipeline`.
    """
    if (job.pred is None) == (job.pipeline is None):
        raise InputError("give either --pred DIR (saved predictions) or --model M --prior P (run the pipeline)")
    if job.dataset not in DATASETS:
        raise InputError(f"--dataset: unknown {job.dataset!r} (known: {', '.join(DATASETS)})")
    protocol = job.protocol or TASK_PROTOCOLS[job.task][0]
    if protocol not in TASK_PROTOCOLS[job.task]:
        raise InputError(f"--protocol {protocol} does not apply to {job.task} "
                         f"(choose {', '.join(TASK_PROTOCOLS[job.task])})")
    dataset_class = DATASETS[job.dataset]
    if job.task not in dataset_class.tasks:
        raise InputError(f"{job.dataset} has no {job.task} ground truth (it has: {', '.join(dataset_class.tasks)})")
    if job.pred is not None and not job.pred.is_dir():
        raise InputError(f"--pred {job.pred}: folder not found")
    check_output(job.out, overwrite=job.overwrite)
    dataset = dataset_class(job.root)
    pred = job.pred
    if job.pipeline is not None:
        pred = job.out / "predictions"
        predict_benchmark(dataset, job.task, job.pipeline, pred, overwrite=job.overwrite)
    if job.task == "depth":
        result = evaluate_depth(dataset, pred, protocol)
    else:
        result = evaluate_pose(dataset, pred)
    write_report(result, job.out)
    return result
