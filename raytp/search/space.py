"""The search space: ordered task pairs x a hyperparameter grid, resolved per target.

Grid keys (``search.grid``): ``mode``, ``lr``, ``lr_scale``, ``epochs``, ``source_weight``.
A missing ``lr`` is the target's single-task chosen learning rate; ``lr_scale`` multiplies it;
a missing ``epochs`` is ``train.epochs`` (a maximum: early stopping on target validation F1);
``source_weight`` only applies to ``multitask``: ``sequential`` points are not multiplied by it
(their ``source_weight`` is recorded as None).
"""

from __future__ import annotations

from typing import Any

from raytp.config import GRID_KEYS, ExperimentConfig, grid_points, ordered_pairs
from raytp.errors import ConfigError, RunDirError
from raytp.search.pairs import PairPoint


def first_point(space: dict[str, Any]) -> dict[str, Any]:
    """The space's first value of every hyperparameter: the warm-start point each kept pair is tried at first
    (hyperparameters without a non-empty list of values are left out)."""
    return {k: v[0] for k, v in space.items() if isinstance(v, list) and v}


def resolve_point(point: dict[str, Any], target_summary: dict[str, Any], cfg: ExperimentConfig) -> PairPoint:
    """A concrete ``PairPoint`` for one target (its single-task lr fills a missing ``lr``)."""
    unknown = set(point) - set(GRID_KEYS)
    if unknown:
        raise ConfigError(f"search space: unknown hyperparameter(s) {sorted(unknown)}; known: {list(GRID_KEYS)}")
    base_lr = point.get("lr")
    if base_lr is None:
        base_lr = (target_summary.get("hyperparameters") or {}).get("lr", cfg.train.lr)
    lr = float(base_lr) * float(point.get("lr_scale", 1.0))
    weight = point.get("source_weight")
    return PairPoint(mode=str(point.get("mode", "multitask")), lr=lr, epochs=int(point.get("epochs", cfg.train.epochs)),
                     source_weight=1.0 if weight is None else float(weight))


def hp_columns(point: dict[str, Any], resolved: PairPoint) -> dict[str, Any]:
    """``hp_<name>`` columns of a results row: the resolved lr/epochs, the grid's own lr_scale/source_weight."""
    return {"hp_mode": resolved.mode, "hp_lr": resolved.lr, "hp_lr_scale": float(point.get("lr_scale", 1.0)),
            "hp_epochs": resolved.epochs,
            "hp_source_weight": resolved.source_weight if resolved.mode == "multitask" else None}


def trial_configs(pairs: list[tuple[str, str]], points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One trial config per (pair, point), source-major then point then target (good for the source cache)."""
    by_source: dict[str, list[str]] = {}
    for s, t in pairs:
        by_source.setdefault(s, []).append(t)
    return [{"source": s, "target": t, "point": dict(p)} for s, targets in by_source.items()
            for p in points for t in targets]


def full_space(cfg: ExperimentConfig, single: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ordered pair of the config's tasks x every grid point, checked against the single-task results."""
    tasks = list(cfg.data.tasks)
    missing = [t for t in tasks if t not in single]
    if missing:
        raise RunDirError(f"single_task.json: no single-task result for task(s) {missing}; re-run `raytp train`")
    return trial_configs(ordered_pairs(tasks), grid_points(cfg.search.grid))
