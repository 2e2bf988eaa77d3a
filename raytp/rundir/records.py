"""Typed records of the run directory's JSON summaries, and their readers and writers.

- ``SingleTaskSummary`` (``single_task.json``): ``tasks`` maps each trained task to its summary (F1 on
  validation/test, chosen ``hyperparameters``, compute seconds, ``example_epochs``, checkpoint and signature names...).
  Everywhere else in raytp, ``single`` means that per-task mapping (``summary.tasks``), never the whole file.
- ``PruningPlan`` (``pruning.json``): the pairs that survive pruning, the space and trial count of their search.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from raytp.errors import RunDirError
from raytp.rundir.names import PRUNING, SINGLE_TASK
from raytp.rundir.store import RunDir


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``cls`` that ``d`` has (keys an older or newer raytp wrote are ignored)."""
    return {f.name: d[f.name] for f in fields(cls) if f.name in d}


@dataclass
class SingleTaskSummary:
    """What the single-task stage trained (``tasks``, in config order), what failed, and what it cost."""

    tasks: dict[str, dict[str, Any]]
    failed: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    compute_s: float = 0.0
    example_epochs: int = 0  # training examples passed forward and backward, every task x lr x seed (deterministic)
    workers: int = 0
    seeds: list[int] = field(default_factory=list)
    config_fingerprint: str | None = None
    data_fingerprint: str | None = None
    backend: str | None = None

    @classmethod
    def from_dict(cls, d: Any, where: str = SINGLE_TASK) -> "SingleTaskSummary":
        if not isinstance(d, dict) or not isinstance(d.get("tasks"), dict):
            raise RunDirError(f"{where}: needs a 'tasks' mapping")
        return cls(**_known(cls, d))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def trained(self, tasks: Iterable[str]) -> list[str]:
        """``tasks`` that have a single-task result, in the given order."""
        return [t for t in tasks if t in self.tasks]


@dataclass
class PruningPlan:
    """Kept pairs (``source``, ``target``, ``probability``, ``trials``, ``warm_start``), the narrowed grid
    ``space`` (warm start), the ``distributions`` TPE samples (``search.space``) and the pruned search's
    ``num_samples``; the rest documents how they were chosen."""

    pairs: list[dict[str, Any]]
    space: dict[str, list[Any]]
    num_samples: int
    distributions: dict[str, Any] = field(default_factory=dict)  # search.space: what TPE samples
    dropped: dict[str, list[Any]] = field(default_factory=dict)
    pairs_total: int = 0
    full_trials: int = 0
    policy: dict[str, Any] = field(default_factory=dict)
    predictor: dict[str, Any] = field(default_factory=dict)
    predictor_s: float | None = None

    @classmethod
    def from_dict(cls, plan: Any, where: str = PRUNING) -> "PruningPlan":
        """Checked: {"pairs": [{"source","target",...}], "space": {hp: [values]}, "num_samples": N, ...}."""
        if not isinstance(plan, dict) or not isinstance(plan.get("pairs"), list):
            raise RunDirError(f"{where}: field 'pairs' must be a list of {{source, target}}")
        for i, p in enumerate(plan["pairs"]):
            if not isinstance(p, dict) or not isinstance(p.get("source"), str) or not isinstance(p.get("target"), str):
                raise RunDirError(f"{where}: pairs[{i}] needs string 'source' and 'target'")
            n = p.get("trials", 1)
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise RunDirError(f"{where}: pairs[{i}].trials must be a positive integer")
        if not isinstance(plan.get("space"), dict):
            raise RunDirError(f"{where}: field 'space' must map hyperparameter names to lists of values")
        n = plan.get("num_samples")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0 or (n == 0 and plan["pairs"]):
            raise RunDirError(f"{where}: field 'num_samples' must be a positive integer")
        return cls(**_known(cls, plan))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.predictor_s is None:
            del d["predictor_s"]
        return d


def read_single_task(run: RunDir) -> SingleTaskSummary:
    if not run.has(SINGLE_TASK):
        raise RunDirError(f"{run.path(SINGLE_TASK)}: missing; run `raytp train --out {run.root}` first")
    return SingleTaskSummary.from_dict(run.read_json(SINGLE_TASK), str(run.path(SINGLE_TASK)))


def write_single_task(run: RunDir, summary: SingleTaskSummary) -> None:
    run.write_json(SINGLE_TASK, summary.to_dict())


def read_pruning_plan(run: RunDir) -> PruningPlan:
    if not run.has(PRUNING):
        raise RunDirError(f"{run.path(PRUNING)}: missing; run the predictor stage (pruning) before "
                          "`raytp search --mode pruned`")
    return PruningPlan.from_dict(run.read_json(PRUNING), str(run.path(PRUNING)))


def write_pruning_plan(run: RunDir, plan: PruningPlan) -> None:
    run.write_json(PRUNING, plan.to_dict())
