"""Build a small real run directory (config.yaml + single_task.json) without the Ray stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raytp.config import ExperimentConfig
from raytp.data.dataset import MultiTaskDataset
from raytp.models.registry import make_backend
from raytp.models.single import run_task
from raytp.rundir import CONFIG, RunDir, SingleTaskSummary, write_single_task


def single_task_results(cfg: ExperimentConfig, ds: MultiTaskDataset) -> tuple[SingleTaskSummary, Any, Any]:
    """``single_task.json`` content for ``cfg``'s tasks (trained here, in-process), plus backend and features."""
    backend = make_backend(cfg.backend)
    features = backend.featurize(ds.texts)
    tasks = {t: run_task(backend, features, ds, t, cfg).summary for t in cfg.data.tasks}
    return (SingleTaskSummary(tasks=tasks, seeds=cfg.seeds(), backend=cfg.backend.name,
                              config_fingerprint=cfg.fingerprint()), backend, features)


def make_run_dir(path: Path, cfg: ExperimentConfig, summary: SingleTaskSummary) -> RunDir:
    run = RunDir(path, create=True)
    run.write_text(CONFIG, cfg.to_yaml())
    write_single_task(run, summary)
    return run
