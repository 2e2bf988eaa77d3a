"""A small Python API mirroring the CLI, for notebooks::

    import raytp
    cfg = raytp.load_config("exp.yaml", {"data.tasks": ["food", "water", "shelter"]})
    summary = raytp.train(cfg, "runs/exp")
    raytp.read_results("runs/exp")["single_task"]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raytp.config import ExperimentConfig, load_config
from raytp.data import load_experiment_data
from raytp.rundir import RunDir, SingleTaskSummary, check_run_dir, load_run_config, names, prepare_run_dir

__all__ = ["load_config", "train", "read_results", "run_config"]


def train(cfg: ExperimentConfig, run_dir: str | Path, resume: bool = False, progress: bool = True) -> SingleTaskSummary:
    """Single-task stage: one model per task, trained concurrently on Ray actors; returns the summary."""
    from raytp.runtime.cluster import check_fits, ray_session
    from raytp.runtime.single_task import run_single_task_stage

    check_run_dir(str(run_dir), cfg, resume=resume)  # fail fast, before data loading and Ray
    ds = load_experiment_data(cfg)
    with ray_session(cfg.resources):
        check_fits(cfg.resources)  # before the run directory is touched: a refused run leaves it as it was
        run = prepare_run_dir(str(run_dir), cfg, resume=resume)
        return run_single_task_stage(cfg, ds, run, resume=resume, progress=progress)


def run_config(run_dir: str | Path) -> ExperimentConfig:
    """The config a run directory was made with."""
    return load_run_config(RunDir(run_dir))


def read_results(run_dir: str | Path) -> dict[str, Any]:
    """Every result table/summary present in a run directory (checksums verified)."""
    run = RunDir(run_dir)
    out: dict[str, Any] = {}
    for rel in (names.SINGLE_TASK, names.search_summary("full"), names.search_summary("pruned"), names.REPORT,
                names.PRUNING):
        if run.has(rel):
            out[rel.rsplit(".", 1)[0]] = run.read_json(rel)
    for rel in (names.SEARCH_FULL, names.SEARCH_PRUNED, names.PAIR_FEATURES, names.PAIR_PREDICTIONS):
        if run.has(rel):
            out[rel.replace(".", "_")] = run.read_parquet(rel)
    return out
