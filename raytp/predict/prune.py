"""Pruning (pure): which pairs survive, and a narrower hyperparameter space for them.

Policies over pairs scored with P(beneficial):
- ``threshold``: every pair with probability >= threshold.
- ``top_k``: the k most probable sources of each target.
- ``budget``: the most probable pairs while kept pairs x trials per pair stays within
  ``budget_fraction`` of the full search's trials (pairs x ``config.grid_points``), minus trials already
  spent (e.g. on calibration pairs).

Space narrowing: grid values whose mean gain over earlier results (calibration trials, validation
gain when present) is below -margin are dropped (never all values of a hyperparameter), and each
kept pair gets warm-start values from its target's best single-task settings (learning rate).
``build_pruning_plan`` returns the dict written as RUN_DIR/pruning.json.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from raytp.config import PruneConfig, grid_points
from raytp.errors import PredictorError
from raytp.rundir.records import PruningPlan

POLICIES = ("threshold", "top_k", "budget")


def _check_scored(scored: pd.DataFrame) -> pd.DataFrame:
    missing = {"source", "target", "probability"} - set(scored.columns)
    if missing:
        raise PredictorError(f"scored pairs lack column(s) {sorted(missing)}")
    if scored.duplicated(["source", "target"]).any():
        raise PredictorError("scored pairs contain duplicate (source, target) rows")
    if not np.isfinite(scored["probability"].to_numpy(dtype=float)).all():
        raise PredictorError("scored pairs contain a non-finite probability")
    # most probable first; ties by source, target for determinism
    return scored.sort_values(["probability", "source", "target"], ascending=[False, True, True], kind="stable")


def select_pairs(scored: pd.DataFrame, policy: str, *, threshold: float = 0.5, top_k: int = 1,
                 budget_fraction: float = 0.15, trials_per_pair: int = 2, full_trials: int | None = None,
                 spent_trials: int = 0) -> list[dict[str, Any]]:
    """Kept pairs as [{"source", "target", "probability"}], most probable first."""
    ranked = _check_scored(scored)
    if policy == "threshold":
        kept = ranked[ranked["probability"] >= threshold]
    elif policy == "top_k":
        if top_k < 1:
            raise PredictorError(f"top_k must be >= 1, got {top_k}")
        kept = ranked.groupby("target", sort=False).head(top_k)
    elif policy == "budget":
        if full_trials is None or full_trials < 1:
            raise PredictorError("the budget policy needs the full search's trial count (full_trials >= 1)")
        if not 0 < budget_fraction <= 1:
            raise PredictorError(f"budget_fraction must be in (0, 1], got {budget_fraction}")
        allowed = math.floor(budget_fraction * full_trials + 1e-9) - spent_trials
        kept = ranked.head(max(0, allowed // max(1, trials_per_pair)))
    else:
        raise PredictorError(f"unknown pruning policy {policy!r}; use {', '.join(POLICIES)}")
    return [{"source": str(r.source), "target": str(r.target), "probability": float(r.probability)}
            for r in kept.itertuples(index=False)]


def hopeless_values(grid: Mapping[str, list], outcomes: pd.DataFrame | None, margin: float,
                    min_trials: int = 2) -> dict[str, list]:
    """Grid values whose mean gain in ``outcomes`` (columns ``hp_<name>`` and ``gain_val`` or ``gain``)
    is below -margin over at least ``min_trials`` trials (marginal means over the other hyperparameters);
    the best value of each hyperparameter is always kept."""
    if outcomes is None or len(outcomes) == 0:
        return {}
    gain_col = "gain_val" if "gain_val" in outcomes.columns else "gain"
    if gain_col not in outcomes.columns:
        raise PredictorError("earlier results need a gain_val or gain column")
    dropped: dict[str, list] = {}
    for hp, values in grid.items():
        col = f"hp_{hp}"
        if col not in outcomes.columns or len(values) < 2:
            continue
        means = {}
        for v in values:
            g = outcomes.loc[outcomes[col] == v, gain_col].dropna()
            if len(g) >= min_trials:
                means[v] = float(g.mean())
        bad = [v for v, m in means.items() if m < -margin]
        if bad and len(bad) == len(values):
            bad.remove(max(means, key=means.get))
        if bad:
            dropped[hp] = bad
    return dropped


def _nearest(values: list, target: float) -> Any:
    return min(values, key=lambda v: abs(math.log(float(v)) - math.log(float(target))))


def warm_start(grid: Mapping[str, list], hyperparameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Warm-start values from the target's single-task ``hyperparameters`` (the ones its summary chose).

    lr: the grid value nearest (in log scale) to the target's chosen lr, or that lr itself when
    the grid does not search lr (the pair trainer then uses it)."""
    hps = hyperparameters or {}
    out: dict[str, Any] = {}
    lr = hps.get("lr")
    if lr is not None and float(lr) > 0:
        out["lr"] = _nearest(grid["lr"], lr) if "lr" in grid else float(lr)
    return out


def build_pruning_plan(scored: pd.DataFrame, grid: Mapping[str, list], cfg: PruneConfig, *,
                       single: Mapping[str, Mapping[str, Any]] | None = None, outcomes: pd.DataFrame | None = None,
                       margin: float = 0.01, predictor: Mapping[str, Any] | None = None,
                       spent_trials: int = 0) -> PruningPlan:
    """The pruning plan (RUN_DIR/pruning.json): kept pairs, narrowed space, trial count, policy, predictor.
    ``single``: the per-task single-task summaries (their ``hyperparameters`` give the warm starts)."""
    full_trials = len(scored) * len(grid_points(grid))  # sequential points take no source_weight
    pairs = select_pairs(scored, cfg.policy, threshold=cfg.threshold, top_k=cfg.top_k,
                         budget_fraction=cfg.budget_fraction, trials_per_pair=cfg.trials_per_pair,
                         full_trials=full_trials, spent_trials=spent_trials)
    dropped = hopeless_values(grid, outcomes, margin)
    space = {hp: [v for v in values if v not in dropped.get(hp, [])] for hp, values in grid.items()}
    for p in pairs:
        p["warm_start"] = warm_start(space, (single or {}).get(p["target"], {}).get("hyperparameters"))
    per_pair = min(cfg.trials_per_pair, len(grid_points(space)))
    return PruningPlan(
        pairs=pairs, space=space, dropped=dropped, num_samples=len(pairs) * per_pair, pairs_total=int(len(scored)),
        full_trials=full_trials,
        policy={"name": cfg.policy, "threshold": cfg.threshold, "top_k": cfg.top_k,
                "budget_fraction": cfg.budget_fraction, "trials_per_pair": cfg.trials_per_pair,
                "spent_trials": spent_trials, "margin": margin},
        predictor=dict(predictor or {}))
