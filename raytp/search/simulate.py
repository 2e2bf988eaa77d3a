"""Exact simulation of searches from the full grid's table (pure): the ablation's engine.

F1 of a configuration is deterministic for given seeds, and every full-grid row carries its per-epoch
curves (``curve_f1_val``, ``curve_f1_test``, ``curve_s``, ``curve_example_epochs``), so a search that only
visits grid points can be replayed exactly: a trial stopped after epoch ``e`` has the validation / test F1,
the seconds and the example-epochs the live trial had after ``e`` epochs (example-epochs: None for a table
written before raytp counted them). Trials run one after another (concurrency 1): ASHA sees every earlier
trial's rung values, TPE every earlier result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from raytp.search.distributions import discretised
from raytp.search.outcomes import SOURCE_PHASE_KEY
from raytp.config import grid_points
from raytp.search.tpe import TargetStudies


class AshaSim:
    """Asynchronous successive halving as Ray's ASHAScheduler decides it: rungs at grace x rf^k < max_t; a trial
    reaching a rung is stopped when below the (1 - 1/rf) quantile of the values recorded there before it."""

    def __init__(self, grace: int, max_t: int, rf: float = 3):
        self.rf = rf
        self.rungs: dict[int, list[float]] = {}
        m = grace
        while m < max_t:
            self.rungs[int(m)] = []
            m *= rf

    def stop_epoch(self, values: list[float], protect: bool = False) -> int:
        """Epochs the trial runs (its curve length when never stopped)."""
        for m in sorted(self.rungs):
            if m > len(values):
                break
            v = values[m - 1]
            rec = self.rungs[m]
            cutoff = float(np.nanpercentile(rec, (1 - 1 / self.rf) * 100)) if rec else None
            rec.append(v)
            if cutoff is not None and v < cutoff and not protect:
                return m
        return len(values)


class GridTable:
    """The full search's rows indexed by (source, target, grid point) with each target's baseline."""

    def __init__(self, full: pd.DataFrame, grid: dict[str, list[Any]], single: dict[str, Any], units: float = 1.0):
        self.points = grid_points(grid)
        self._index = {_key(p): i for i, p in enumerate(self.points)}
        ok = full[(full["status"] == "ok") & full["curve_f1_val"].notna()]
        self.rows = {(r.source, r.target, int(r.grid_point)): r for r in ok.itertuples(index=False)}
        self.base_val = {t: float(s["f1_val"]) for t, s in single.items()}
        self.units = units

    def index(self, point: dict[str, Any]) -> int:
        return self._index[_key(point)]

    def has(self, source: str, target: str, i: int) -> bool:
        return (source, target, i) in self.rows

    def trial(self, source: str, target: str, i: int, epochs: int | None = None) -> dict[str, Any]:
        """The row as a trial stopped after ``epochs`` (None: as it ran)."""
        r = self.rows[(source, target, i)]
        n = len(r.curve_f1_val) if epochs is None else min(int(epochs), len(r.curve_f1_val))
        ee = getattr(r, "curve_example_epochs", None)
        ee = int(ee[n - 1]) if ee is not None and not isinstance(ee, float) and len(ee) >= n else None
        return {"source": source, "target": target, "grid_point": i, "epochs_run": n,
                "stopped_early": n < len(r.curve_f1_val), "f1_val": float(r.curve_f1_val[n - 1]),
                "f1_test": float(r.curve_f1_test[n - 1]), "compute_s": float(r.curve_s[n - 1]) * self.units,
                "example_epochs": ee, "gain_val": float(r.curve_f1_val[n - 1]) - self.base_val[target],
                "status": "ok", **{c: getattr(r, c) for c in PHASE_COLUMNS if hasattr(r, c)}}

    def curve_gain(self, source: str, target: str, i: int) -> list[float]:
        r = self.rows[(source, target, i)]
        return [float(v) - self.base_val[target] for v in r.curve_f1_val]


# what total_example_epochs needs to count a shared sequential source phase once
PHASE_COLUMNS = ("hp_mode", "source_example_epochs", *SOURCE_PHASE_KEY[1:])


def _key(point: dict[str, Any]) -> tuple:
    return tuple(sorted((k, v) for k, v in point.items() if k != "epochs"))


def first_point_arm(table: GridTable, ranked: list[tuple[str, str]], budget: int) -> pd.DataFrame:
    """The ``budget`` most probable pairs, one trial each at the grid's first point, run to the end."""
    rows = [table.trial(s, t, 0) for s, t in ranked if table.has(s, t, 0)][:budget]
    return pd.DataFrame(rows)


def tpe_arm(table: GridTable, space: dict[str, dict[str, Any]], grid: dict[str, list[Any]],
            allocation: list[dict[str, Any]], seed: int, asha: tuple[int, int] | None = None,
            protect_warm: bool = True, sampler: str = "tpe") -> pd.DataFrame:
    """Per-target TPE over the space discretised to the grid (the allocation's trials, warm start first), with
    ``asha=(grace, max_t)`` one ASHA per target; every trial is a full-grid row replayed exactly."""
    studies = TargetStudies(discretised(space, grid), allocation, seed=seed, warm=table.points[0], sampler=sampler)
    ashas: dict[str, AshaSim] = {}
    rows, n = [], 0
    while (t := studies.ask(str(n))) is not None:
        i = table.index(t["point"])
        s, tgt = t["source"], t["target"]
        if not table.has(s, tgt, i):
            studies.tell(str(n), None)
        else:
            epochs = None
            if asha is not None:
                sim = ashas.setdefault(tgt, AshaSim(*asha))
                epochs = sim.stop_epoch(table.curve_gain(s, tgt, i), protect=protect_warm and t["warm"])
            row = table.trial(s, tgt, i, epochs) | {"warm": t["warm"]}
            rows.append(row)
            studies.tell(str(n), row["gain_val"])
        n += 1
    return pd.DataFrame(rows)


def multifidelity_arm(table: GridTable, compute_budget: float, seed: int, grace: int = 1, max_t: int = 8,
                      rf: float = 3) -> pd.DataFrame:
    """No predictor: every (pair, grid point) enters in random order under one ASHA (from ``grace`` epochs up,
    gains compared across all targets, as a plain Ray Tune user would) until ``compute_budget`` is spent."""
    rng = np.random.default_rng(seed)
    keys = sorted(table.rows)
    order = rng.permutation(len(keys))
    sim = AshaSim(grace, max_t, rf)
    rows, spent = [], 0.0
    for j in order:
        s, t, i = keys[j]
        row = table.trial(s, t, i, sim.stop_epoch(table.curve_gain(s, t, i)))
        if spent + row["compute_s"] > compute_budget and rows:
            break
        rows.append(row)
        spent += row["compute_s"]
    return pd.DataFrame(rows)


def breadth_then_depth_arm(table: GridTable, space: dict[str, dict[str, Any]], grid: dict[str, list[Any]],
                           ranked: list[tuple[str, str]], budget: int, seed: int,
                           asha: tuple[int, int] | None = None, protect_warm: bool = True,
                           per_pair: int = 3) -> pd.DataFrame:
    """Breadth first, then depth where the trials themselves showed promise (exploratory, issue 13).

    Half the budget goes to warm-start trials (the grid's first point, run to the end) on the most probable pairs,
    one each; the other half to TPE (+ per-target ASHA) on the pairs whose warm trial gained most on validation
    (only those with a positive gain; ``per_pair`` further trials each, the best pair first). When no warm trial
    gained, the second half is not spent. The deep pairs' warm trials are the first half's (replayed identically:
    their studies are told that result, and it is counted once)."""
    warm = first_point_arm(table, ranked, max(1, budget // 2))
    rest = budget - len(warm)
    if warm.empty or rest <= 0:
        return warm.assign(warm=True)
    promising = warm[warm["gain_val"] > 0].sort_values(["gain_val", "source", "target"], ascending=[False, True, True])
    chosen = promising.head(max(1, rest // per_pair))
    if chosen.empty:
        return warm.assign(warm=True)
    extra = np.full(len(chosen), rest // len(chosen))
    extra[: rest - int(extra.sum())] += 1
    allocation = [{"source": r.source, "target": r.target, "probability": float(r.gain_val), "trials": 1 + int(e)}
                  for r, e in zip(chosen.itertuples(index=False), extra)]
    deep = tpe_arm(table, space, grid, allocation, seed, asha=asha, protect_warm=protect_warm)
    deep = deep[~deep["warm"].astype(bool)] if len(deep) else deep
    return pd.concat([warm.assign(warm=True), deep], ignore_index=True)
