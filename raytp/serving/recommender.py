"""Answer "which sources should I train with for target X, how sure are you, with which settings?" from a run directory.

Pure: no Ray, no HTTP. ``Recommender.from_run_dir(path)`` reads what the run has (``single_task.json`` is required;
``pair_predictions.parquet``, ``search_pruned.parquet`` and ``search_full.parquet`` are used when present) and
precomputes every answer, so queries are dictionary look-ups.

- ``probability``: the predictor's P(beneficial) for the pair (None when the run has no predictions).
- ``observed_gain`` / ``hyperparameters``: from the searched trial with the best validation F1 for the pair
  (status ok, across both search tables); None when the pair was not searched.
- ``basis``: ``"measured"`` when the pair was searched, ``"predicted"`` when it only has a prediction.
  Pairs with neither are not recommended (``pair()`` still describes them, with basis ``"none"``).

Sources are ranked by probability (highest first); pairs without a probability follow, by observed gain.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from raytp.errors import RaytpError, RunDirError
from raytp.rundir import RunDir
from raytp.rundir.names import PAIR_PREDICTIONS, SEARCH_FULL, SEARCH_PRUNED, SINGLE_TASK

SEARCHES = {"pruned": SEARCH_PRUNED, "full": SEARCH_FULL}
DEFAULT_K = 5

__all__ = ["Recommender", "UnknownTaskError", "QueryError", "DEFAULT_K"]


class UnknownTaskError(RaytpError):
    """A query names a task the run directory does not know."""


class QueryError(RaytpError):
    """A query is well-formed but out of range (k, source == target)."""


def _num(v: Any) -> float | None:
    """A finite float, or None for missing / NaN values."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _native(v: Any) -> Any:
    """numpy / pandas scalars as plain Python values; NaN as None."""
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass(frozen=True)
class _Measured:
    """The best searched trial of one pair, and how many trials it took."""

    observed_gain: float | None
    hyperparameters: dict[str, Any]
    best_trial: dict[str, Any]
    trials: int
    failed_trials: int
    searched_in: list[str]


@dataclass
class Recommender:
    """Precomputed answers for one run directory (see the module docstring for the meaning of each field)."""

    run_dir: str
    single_task: dict[str, dict[str, Any]]
    probabilities: dict[tuple[str, str], float] = field(default_factory=dict)
    kept: dict[tuple[str, str], bool] = field(default_factory=dict)
    measured: dict[tuple[str, str], _Measured] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    config_fingerprint: str | None = None
    loaded_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self._task_list = [self._task_entry(t) for t in sorted(self.single_task)]
        self._ranked = {t: self._rank(t) for t in self.single_task}

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_run_dir(cls, path: str | Path) -> "Recommender":
        """Load a run directory; single_task.json is required, everything else is optional."""
        run = RunDir(path)
        artifacts = run.manifest()["artifacts"]
        if SINGLE_TASK not in artifacts:
            raise RunDirError(f"{run.root}: no {SINGLE_TASK}; run the single-task stage first (raytp train)")
        st = run.read_json(SINGLE_TASK)
        tasks = st.get("tasks") if isinstance(st, dict) else None
        if not isinstance(tasks, dict) or len(tasks) < 2:
            raise RunDirError(f"{run.root / SINGLE_TASK}: needs a 'tasks' mapping with at least two tasks")
        single = {str(t): (v if isinstance(v, dict) else {}) for t, v in tasks.items()}
        used = [SINGLE_TASK]

        probabilities: dict[tuple[str, str], float] = {}
        kept: dict[tuple[str, str], bool] = {}
        if PAIR_PREDICTIONS in artifacts:
            df = run.read_parquet(PAIR_PREDICTIONS)
            _require_columns(df, ["source", "target", "probability"], run.root / PAIR_PREDICTIONS)
            has_kept = "kept" in df.columns
            for row in df.itertuples(index=False):
                key = (str(row.source), str(row.target))
                p = _num(row.probability)
                if p is not None:
                    probabilities[key] = p
                if has_kept and not pd.isna(row.kept):
                    kept[key] = bool(row.kept)
            used.append(PAIR_PREDICTIONS)

        frames = []
        for label, rel in SEARCHES.items():
            if rel in artifacts:
                df = run.read_parquet(rel)
                _require_columns(df, ["source", "target", "f1_val", "gain"], run.root / rel)
                frames.append(df.assign(_searched_in=label))
                used.append(rel)
        measured = _best_trials(pd.concat(frames, ignore_index=True)) if frames else {}

        return cls(run_dir=str(run.root), single_task=single, probabilities=probabilities, kept=kept,
                   measured=measured, artifacts=used, config_fingerprint=st.get("config_fingerprint"))

    # -- queries -------------------------------------------------------------------------------
    def tasks(self) -> list[dict[str, Any]]:
        """Every task with its single-task F1 (validation, test, test SD) and chosen hyperparameters."""
        return list(self._task_list)

    def task_names(self) -> list[str]:
        return sorted(self.single_task)

    def max_k(self) -> int:
        return len(self.single_task) - 1

    def recommend(self, target: str, k: int | None = None) -> dict[str, Any]:
        """The top-k sources for ``target`` (k in 1..tasks-1, default min(5, tasks-1)); fewer when fewer are known."""
        self._check_task(target, "target")
        if k is None:
            k = min(DEFAULT_K, self.max_k())
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.max_k():
            raise QueryError(f"k must be an integer between 1 and {self.max_k()} (the number of other tasks), got {k!r}")
        return {"target": target, "recommendations": self._ranked[target][:k]}

    def pair(self, source: str, target: str) -> dict[str, Any]:
        """Everything known about one ordered pair (source -> target)."""
        self._check_task(source, "source")
        self._check_task(target, "target")
        if source == target:
            raise QueryError(f"source and target must differ (both are {source!r})")
        key = (source, target)
        m = self.measured.get(key)
        base = self.single_task[target]
        out = self._summary(source, target)
        out.update({
            "target": target,
            "kept": self.kept.get(key),
            "baseline": {"f1_val": _num(base.get("f1_val")), "f1_test": _num(base.get("f1_test")),
                         "f1_test_sd": _num(base.get("f1_test_sd"))},
            "search": None if m is None else {"trials": m.trials, "failed_trials": m.failed_trials,
                                              "searched_in": m.searched_in, "best_trial": m.best_trial},
        })
        return out

    def info(self) -> dict[str, Any]:
        """Which run directory and artifacts the answers rest on."""
        return {"run_dir": self.run_dir, "artifacts": list(self.artifacts), "config_fingerprint": self.config_fingerprint,
                "tasks": len(self.single_task), "predicted_pairs": len(self.probabilities),
                "measured_pairs": len(self.measured), "loaded_at": self.loaded_at}

    # -- internals -----------------------------------------------------------------------------
    def _check_task(self, name: str, role: str) -> None:
        if name not in self.single_task:
            known = ", ".join(self.task_names())
            raise UnknownTaskError(f"unknown {role} task {name!r}; known tasks: {known}")

    def _task_entry(self, name: str) -> dict[str, Any]:
        v = self.single_task[name]
        hp = v.get("hyperparameters")
        return {"name": name, "f1_val": _num(v.get("f1_val")), "f1_test": _num(v.get("f1_test")),
                "f1_test_sd": _num(v.get("f1_test_sd")),
                "hyperparameters": {str(a): _native(b) for a, b in hp.items()} if isinstance(hp, dict) else None}

    def _summary(self, source: str, target: str) -> dict[str, Any]:
        key = (source, target)
        m = self.measured.get(key)
        p = self.probabilities.get(key)
        basis = "measured" if m is not None else ("predicted" if p is not None else "none")
        return {"source": source, "probability": p,
                "observed_gain": None if m is None else m.observed_gain,
                "hyperparameters": None if m is None else dict(m.hyperparameters), "basis": basis}

    def _rank(self, target: str) -> list[dict[str, Any]]:
        rows = [self._summary(s, target) for s in self.single_task if s != target]
        rows = [r for r in rows if r["basis"] != "none"]

        def key(r: dict[str, Any]) -> tuple:
            p, g = r["probability"], r["observed_gain"]
            return (p is None, -(p or 0.0), g is None, -(g or 0.0), r["source"])
        return sorted(rows, key=key)


def _require_columns(df: pd.DataFrame, cols: list[str], path: Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise RunDirError(f"{path}: missing column(s) {missing}")


def _best_trials(df: pd.DataFrame) -> dict[tuple[str, str], _Measured]:
    """Per pair: the ok trial with the best f1_val (its gain and hp_* values), trial counts, which tables."""
    status = df["status"].astype(str) if "status" in df.columns else pd.Series("ok", index=df.index)
    ok_mask = (status == "ok") & df["f1_val"].notna()
    hp_cols = [c for c in df.columns if c.startswith("hp_")]
    detail_cols = [c for c in ["trial_id", "f1_val", "f1_test", "baseline_f1_val", "baseline_f1_test", "gain",
                               "gain_val", "beneficial", "harmful", "compute_s"] if c in df.columns]
    out: dict[tuple[str, str], _Measured] = {}
    for (src, tgt), g in df.groupby(["source", "target"], sort=False):
        ok = g[ok_mask.loc[g.index]]
        if ok.empty:
            continue  # searched but every trial failed: nothing measured
        best = ok.loc[ok["f1_val"].astype(float).idxmax()]
        hps = {c[3:]: _native(best[c]) for c in hp_cols if _native(best[c]) is not None}
        out[(str(src), str(tgt))] = _Measured(
            observed_gain=_num(best["gain"]), hyperparameters=hps,
            best_trial={c: _native(best[c]) for c in detail_cols},
            trials=int(len(g)), failed_trials=int(len(g) - len(ok)),
            searched_in=sorted(set(g["_searched_in"])))
    return out
