"""The search space's vocabulary and checks (pure; imports nothing of raytp): ``search.space`` distributions
and ``search.grid`` as their declared discretisation. ``raytp.config`` validates with these and re-exports the
names; ``raytp.search.distributions`` samples from a checked space.

A parameter is ``{type, values | low, high, when}``:

- ``choice`` (``values``): categorical; ``uniform`` / ``loguniform`` (``low``, ``high``): floats;
  ``int`` / ``logint`` (``low``, ``high``): integers, both ends included; ``resource`` (``low``,
  optional ``high``): the training epochs ASHA allocates, from ``low`` (its grace period) up to
  ``high`` (default ``train.epochs``).
- ``when: {mode: multitask}``: the parameter only exists under that mode (``source_weight`` and
  ``source_ratio`` are multitask-only whether or not ``when`` says so; any other mode is an error).
"""

from __future__ import annotations

import math
from typing import Any

# How a pair trains (search.grid.mode), the grid's hyperparameter names, those that exist only in multitask mode.
PAIR_MODES = ("multitask", "sequential")
GRID_KEYS = ("mode", "lr", "lr_scale", "epochs", "source_weight", "source_ratio", "hidden")
MULTITASK_ONLY = ("source_weight", "source_ratio")
TYPES = ("choice", "uniform", "loguniform", "int", "logint", "resource")
NAMES, MODES = GRID_KEYS, PAIR_MODES


def default_space() -> dict[str, dict[str, Any]]:
    """The default space: mode, a log-range around the single-task lr, multitask-only weight and ratio, epochs."""
    return {
        "mode": {"type": "choice", "values": ["multitask", "sequential"]},
        "lr_scale": {"type": "loguniform", "low": 0.1, "high": 3.0},
        "source_weight": {"type": "loguniform", "low": 0.1, "high": 2.0, "when": {"mode": "multitask"}},
        "source_ratio": {"type": "loguniform", "low": 0.5, "high": 8.0, "when": {"mode": "multitask"}},
        "epochs": {"type": "resource", "low": 2},
    }


def default_grid() -> dict[str, list[Any]]:
    """The full grid's default discretisation: 2 modes x 3 learning rates, multitask x 2 weights x 2 ratios
    (source_weight and source_ratio do not multiply sequential points): 12 + 3 = 15 points per pair."""
    return {"mode": ["multitask", "sequential"], "lr_scale": [1.0, 0.3, 3.0], "source_weight": [1.0, 0.3],
            "source_ratio": [4.0, 1.0]}


def _num(key: str, spec: dict[str, Any], end: str) -> float:
    v = spec.get(end)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise ValueError(f"search.space.{key}: '{end}' must be a finite number, got {v!r}")
    return float(v)


def check_param(key: str, spec: Any) -> dict[str, Any]:
    """One parameter checked (one-line ``ValueError`` naming ``search.space.<key>``); returns it normalised."""
    where = f"search.space.{key}"
    if key not in NAMES:
        raise ValueError(f"{where}: unknown hyperparameter; known: {', '.join(NAMES)}")
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: must be a mapping with 'type', got {type(spec).__name__}")
    extra = set(spec) - {"type", "values", "low", "high", "when"}
    if extra:
        raise ValueError(f"{where}: unknown field(s) {sorted(extra)}; use type, values, low, high, when")
    kind = spec.get("type")
    if kind not in TYPES:
        raise ValueError(f"{where}: unknown distribution {kind!r}; use one of {', '.join(TYPES)}")
    out: dict[str, Any] = {"type": kind}
    if kind == "choice":
        vals = spec.get("values")
        if not isinstance(vals, list) or not vals:
            raise ValueError(f"{where}: choice needs a non-empty list 'values'")
        if key == "mode" and set(vals) - set(MODES):
            raise ValueError(f"{where}: unknown mode(s) {sorted(set(vals) - set(MODES), key=str)}; "
                             "use multitask or sequential")
        if key != "mode" and not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in vals):
            raise ValueError(f"{where}: values must be positive numbers")
        out["values"] = list(vals)
    else:
        if "values" in spec:
            raise ValueError(f"{where}: {kind} takes low/high, not values")
        if key == "mode":
            raise ValueError(f"{where}: mode is categorical; use type: choice")
        low = _num(key, spec, "low")
        high = _num(key, spec, "high") if (kind != "resource" or spec.get("high") is not None) else None
        if high is not None and low > high:
            raise ValueError(f"{where}: low {low:g} > high {high:g}")
        if kind.startswith("log") and (low <= 0 or (high is not None and high <= 0)):
            raise ValueError(f"{where}: a log range must be above zero, got [{low:g}, {high:g}]")
        if kind in ("int", "logint", "resource") and (low != int(low) or (high is not None and high != int(high))):
            raise ValueError(f"{where}: {kind} needs integer low/high")
        if (kind == "resource") != (key == "epochs"):
            raise ValueError(f"{where}: 'resource' is the epochs ASHA allocates: only epochs, and epochs only as resource")
        if kind == "resource" and low < 1:
            raise ValueError(f"{where}: low (ASHA's grace period) must be >= 1")
        if key in ("lr", "lr_scale", "source_weight", "source_ratio", "hidden") and low <= 0:
            raise ValueError(f"{where}: low must be > 0")
        ints = kind in ("int", "logint", "resource")
        out["low"] = int(low) if ints else low
        if high is not None:
            out["high"] = int(high) if ints else high
    when = spec.get("when")
    if when is not None:
        if not isinstance(when, dict) or set(when) != {"mode"} or when["mode"] not in MODES:
            raise ValueError(f"{where}: 'when' must be {{mode: multitask}} or {{mode: sequential}}")
        if key == "mode":
            raise ValueError(f"{where}: mode cannot be conditional")
        if key in MULTITASK_ONLY and when["mode"] != "multitask":
            raise ValueError(f"{where}: only exists under mode multitask, not {when['mode']}")
        out["when"] = {"mode": when["mode"]}
    elif key in MULTITASK_ONLY:
        out["when"] = {"mode": "multitask"}
    return out


def check_space(space: Any) -> dict[str, dict[str, Any]]:
    """The whole space checked and normalised (first error raised, naming its key)."""
    if not isinstance(space, dict) or not space:
        raise ValueError("search.space: must be a non-empty mapping of hyperparameter -> distribution")
    out = {str(k): check_param(str(k), v) for k, v in space.items()}
    if "lr" in out and "lr_scale" in out:
        raise ValueError("search.space.lr: give lr or lr_scale, not both")
    modes = out.get("mode", {}).get("values", ["multitask"])
    for k, spec in out.items():
        m = spec.get("when", {}).get("mode")
        if m is not None and m not in modes:
            raise ValueError(f"search.space.{k}: conditional on mode {m}, which search.space.mode does not contain")
    return out


def contains(spec: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` lies inside the distribution ``spec``."""
    if spec["type"] == "choice":
        return value in spec["values"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if spec["type"] in ("int", "logint", "resource") and value != int(value):
        return False
    high = spec.get("high", math.inf)
    return spec["low"] - 1e-12 <= float(value) <= high + 1e-12


def check_grid_in_space(grid: dict[str, list[Any]], space: dict[str, dict[str, Any]]) -> None:
    """Every grid value inside its parameter's distribution (the grid discretises the space)."""
    for k, vals in grid.items():
        if k not in space:
            raise ValueError(f"search.grid.{k}: not a parameter of search.space ({', '.join(space)})")
        for v in vals:
            if not contains(space[k], v):
                raise ValueError(f"search.grid.{k}: value {v!r} lies outside search.space.{k} {_describe(space[k])}")


def _describe(spec: dict[str, Any]) -> str:
    if spec["type"] == "choice":
        return f"choice {spec['values']}"
    return f"{spec['type']} [{spec['low']}, {spec.get('high', 'train.epochs')}]"
