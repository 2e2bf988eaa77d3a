"""Sampling the pair-training search space (pure, no Ray): a point from an Optuna trial (define-by-run, so
conditional parameters exist only under their mode), the ASHA resource, the space discretised to the grid.
The space's vocabulary and checks are in ``raytp.config_space`` (re-exported here)."""

from __future__ import annotations

from typing import Any

from raytp.config_space import (MULTITASK_ONLY, TYPES, check_grid_in_space, check_param, check_space, contains,
                                default_grid, default_space)

__all__ = ["MULTITASK_ONLY", "TYPES", "active", "check_grid_in_space", "check_param", "check_space", "contains",
           "default_grid", "default_space", "discretised", "resource_range", "suggest"]


def active(space: dict[str, dict[str, Any]], mode: str) -> list[str]:
    """Parameters that exist under ``mode`` (conditional ones only under their mode), the resource excluded."""
    return [k for k, s in space.items() if s["type"] != "resource" and k != "mode"
            and s.get("when", {}).get("mode", mode) == mode]


def resource_range(space: dict[str, dict[str, Any]], max_epochs: int) -> tuple[int, int]:
    """(grace period, max epochs) of ASHA's resource; without an ``epochs`` resource: (1, max_epochs)."""
    spec = space.get("epochs")
    if spec is None or spec["type"] != "resource":
        return 1, max_epochs
    high = int(spec.get("high", max_epochs))
    return min(int(spec["low"]), high), high


def suggest(trial: Any, space: dict[str, dict[str, Any]], fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """A point sampled from an Optuna trial (define-by-run: conditional parameters only under their mode).

    ``fixed`` values are asked for as one-value categoricals on the trial's ``fixed_`` side (they are not part of
    what the sampler models); the resource is not sampled (ASHA allocates it)."""
    point: dict[str, Any] = {}
    modes = space.get("mode", {}).get("values", ["multitask"])
    point["mode"] = trial.suggest_categorical("mode", modes)
    for k in active(space, point["mode"]):
        s = space[k]
        t = s["type"]
        if t == "choice":
            point[k] = trial.suggest_categorical(k, s["values"])
        elif t in ("uniform", "loguniform"):
            point[k] = trial.suggest_float(k, s["low"], s["high"], log=t == "loguniform")
        else:
            point[k] = trial.suggest_int(k, s["low"], s["high"], log=t == "logint")
    point.update(fixed or {})
    return point


def discretised(space: dict[str, dict[str, Any]], grid: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    """The space restricted to the grid's values (each a ``choice``): what a simulation over the full grid's
    table can sample exactly; parameters without grid values keep only their first point (not searched)."""
    out: dict[str, dict[str, Any]] = {}
    for k, s in space.items():
        if s["type"] == "resource":
            out[k] = s
        elif k in grid:
            out[k] = {"type": "choice", "values": list(grid[k]), **({"when": s["when"]} if "when" in s else {})}
    return out
