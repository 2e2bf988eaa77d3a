"""Outcomes of a search: gains against the target's single-task baseline, a noise margin, labels.

Rules (documented here and in ``SearchConfig``):

- **gain** of a configuration = its seed-mean target test F1 minus the *target's* single-task
  seed-mean test F1 (``gain_val``: the same on validation). The seeds are the same, so the
  comparison is paired on initialisation.
- **seed SD** = the pooled seed standard deviation of test F1: root mean of the per-trial and
  per-baseline seed variances.
- **margin** = max(``min_margin``, ``margin_sd`` x seed SD x sqrt(2 / seeds)): ``margin_sd``
  standard errors of a difference of two seed means.
- a configuration is **beneficial** when gain > margin, **harmful** when gain < -margin.
- a **pair** takes the label of its configuration with the best validation F1 (the one a user
  of the search would pick), so labels never peek at test F1 for selection.
- **validation labels** (``validation_margin``, ``validation_truth``): the same rules on validation F1
  only (seed SD of validation F1, label from ``gain_val``). What the pipeline itself learns from
  (the learned predictor's calibration labels, its margin): test labels are outside the label
  budget (``raytp.data.subsets``); test-F1 labels judge the pipeline, never steer it.
- **replication**: labelled pairs rerun their selected configuration on fresh seeds (with a
  fresh-seed baseline); the label holds when the fresh gain has the same sign.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from raytp.config import SearchConfig
from raytp.errors import RunDirError
from raytp.profiling.similarity import spearman as rank_correlation

OK = "ok"


def baseline_of(single: Mapping[str, Any], target: str) -> dict[str, float]:
    """The target's single-task seed-mean F1 (the baseline of every pair that targets it)."""
    try:
        s = single[target]
        return {"f1_val": float(s["f1_val"]), "f1_test": float(s["f1_test"])}
    except KeyError:
        raise RunDirError(f"single_task.json: no single-task result for target {target!r}") from None


def add_gains(df: pd.DataFrame, single: Mapping[str, Any]) -> pd.DataFrame:
    """Add baseline_f1_val/test (of each row's target) and gain / gain_val."""
    df = df.copy()
    base = {t: baseline_of(single, t) for t in df["target"].unique()}
    df["baseline_f1_val"] = df["target"].map(lambda t: base[t]["f1_val"])
    df["baseline_f1_test"] = df["target"].map(lambda t: base[t]["f1_test"])
    df["gain"] = df["f1_test"] - df["baseline_f1_test"]
    df["gain_val"] = df["f1_val"] - df["baseline_f1_val"]
    return df


def pooled_seed_sd(df: pd.DataFrame, single: Mapping[str, Any], split: str = "test") -> float:
    """Root mean seed variance of ``split`` F1 over completed trials and the single-task baselines."""
    col = f"f1_{split}_sd"
    sds = [float(x) for x in df.loc[df["status"] == OK, col].dropna()] if col in df else []
    sds += [float(s.get(col, 0.0)) for s in single.values()]
    return float(math.sqrt(np.mean(np.square(sds)))) if sds else 0.0


def noise_margin(seed_sd: float, seeds: int, search: SearchConfig) -> float:
    """``margin_sd`` standard errors of a difference of two ``seeds``-seed means, floored at ``min_margin``."""
    return float(max(search.min_margin, search.margin_sd * seed_sd * math.sqrt(2.0 / max(seeds, 1))))


def label_rows(df: pd.DataFrame, margin: float) -> pd.DataFrame:
    df = df.copy()
    ok = df["status"] == OK
    df["beneficial"] = ok & (df["gain"] > margin)
    df["harmful"] = ok & (df["gain"] < -margin)
    return df


def pair_outcomes(df: pd.DataFrame, margin: float) -> pd.DataFrame:
    """One row per ordered pair: its configuration with the best validation F1, and that one's label."""
    ok = df[df["status"] == OK]
    if ok.empty:
        return pd.DataFrame(columns=["source", "target", "trial_id", "gain", "gain_val", "label"])
    best = ok.sort_values(["f1_val", "trial_id"], ascending=[False, True]).groupby(["source", "target"]).head(1)
    best = best.sort_values(["target", "source"]).reset_index(drop=True)
    best["label"] = np.where(best["gain"] > margin, "beneficial", np.where(best["gain"] < -margin, "harmful", "neutral"))
    return best


def validation_margin(df: pd.DataFrame, single: Mapping[str, Any], search: SearchConfig, seeds: int) -> float:
    """The noise margin from the seed SD of validation F1 (no test label read)."""
    return noise_margin(pooled_seed_sd(df, single, "val"), seeds, search)


def validation_truth(df: pd.DataFrame, margin: float) -> pd.DataFrame:
    """One row per pair: its best-validation configuration's ``gain_val``, labelled beneficial / harmful
    by ``gain_val`` against ``margin`` (columns source, target, gain_val, beneficial, harmful)."""
    ok = df[df["status"] == OK] if "status" in df else df
    ok = ok.dropna(subset=["f1_val"])
    if ok.empty:
        return pd.DataFrame(columns=["source", "target", "gain_val", "beneficial", "harmful"])
    best = ok.sort_values(["f1_val", "trial_id"], ascending=[False, True]).groupby(["source", "target"]).head(1)
    out = best[["source", "target", "gain_val"]].reset_index(drop=True)
    out["beneficial"] = out["gain_val"] > margin
    out["harmful"] = out["gain_val"] < -margin
    return out


def spearman(a: Any, b: Any) -> float | None:
    """``raytp.profiling.similarity.spearman`` over the pairs where both are known; None (JSON-ready) with fewer
    than 3 of them or a constant side."""
    a, b = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
    ok = ~np.isnan(a) & ~np.isnan(b)
    if ok.sum() < 3 or len(np.unique(a[ok])) < 2 or len(np.unique(b[ok])) < 2:
        return None
    return float(rank_correlation(a[ok], b[ok]))


def best_per_target(df: pd.DataFrame, single: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per target: the pair configuration with the best validation F1, and whether it beats single-task there."""
    out: dict[str, dict[str, Any]] = {}
    ok = df[df["status"] == OK]
    for target in sorted(single):
        rows = ok[ok["target"] == target]
        base = single[target]
        if rows.empty:
            continue
        r = rows.sort_values(["f1_val", "trial_id"], ascending=[False, True]).iloc[0]
        hp = {k[3:]: _plain(r[k]) for k in rows.columns if k.startswith("hp_")}
        out[target] = {"source": r["source"], "trial_id": r["trial_id"], "hyperparameters": hp,
                       "f1_val": float(r["f1_val"]), "f1_test": float(r["f1_test"]), "gain": float(r["gain"]),
                       "gain_val": float(r["gain_val"]), "single_task_f1_test": float(base["f1_test"]),
                       "beats_single_task_on_val": bool(r["f1_val"] > base["f1_val"])}
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def replication_rate(replication: list[dict[str, Any]]) -> float | None:
    """Share of replicated labelled pairs whose fresh-seed gain kept the label's sign."""
    held = [r["holds"] for r in replication if r.get("holds") is not None]
    return float(np.mean(held)) if held else None


SOURCE_PHASE_KEY = ("source", "hp_lr", "hp_epochs", "hp_hidden")  # what a sequential source phase depends on


def total_example_epochs(df: pd.DataFrame) -> int | None:
    """The trials' summed ``example_epochs`` (None for a table written before raytp counted them).

    Each trial's count charges its sequential source phase; a search trains each distinct source phase
    (source, lr, epochs, hidden size) once and shares it (``SourceCache``), so where the rows say which
    phase they used (``source_example_epochs`` and the key's columns) a phase is counted once per table.
    Deterministic either way: it does not depend on which worker ran which trial."""
    if "example_epochs" not in df:
        return None
    total = int(df["example_epochs"].fillna(0).sum())
    cols = [c for c in SOURCE_PHASE_KEY if c in df]
    if "source_example_epochs" not in df or len(cols) < 2 or "hp_mode" not in df:
        return total
    seq = df[(df["hp_mode"] == "sequential") & (df["source_example_epochs"].fillna(0) > 0)]
    if seq.empty:
        return total
    charged = int(seq["source_example_epochs"].sum())
    once = int(seq.drop_duplicates(cols)["source_example_epochs"].sum())
    return total - charged + once


def summarize(df: pd.DataFrame, single: Mapping[str, Any], search: SearchConfig, seeds: int, wall_s: float,
              replication: list[dict[str, Any]] | None = None, mode: str = "full") -> dict[str, Any]:
    """The summary object ``raytp search --json`` prints (and search_<mode>.json stores)."""
    sd = pooled_seed_sd(df, single)
    margin = noise_margin(sd, seeds, search)
    pairs = pair_outcomes(df, margin)
    ok = df[df["status"] == OK]
    n_pairs = int(df[["source", "target"]].drop_duplicates().shape[0])
    compute_s = float(df["compute_s"].fillna(0).sum())
    labelled = pairs[pairs["label"] != "neutral"]
    control = [r for r in (replication or []) if r.get("control_gain") is not None]
    return {
        "mode": mode,
        "trials": int(len(df)),
        "trials_failed": int((df["status"] == "failed").sum()),
        "trials_stopped_early": int(df["stopped_early"].fillna(False).sum()) if "stopped_early" in df else 0,
        "compute_s": compute_s,
        "example_epochs": total_example_epochs(df),
        "train_s": float(ok["train_s"].sum()) if "train_s" in ok else None,
        "wall_s": float(wall_s),
        "trials_per_minute": float(len(df) / wall_s * 60.0) if wall_s > 0 else None,
        "pairs_total": n_pairs,
        "pairs_beneficial": int((pairs["label"] == "beneficial").sum()),
        "pairs_harmful": int((pairs["label"] == "harmful").sum()),
        "beneficial": [f"{r.source}->{r.target}" for r in pairs.itertuples() if r.label == "beneficial"],
        "harmful": [f"{r.source}->{r.target}" for r in pairs.itertuples() if r.label == "harmful"],
        "best": best_per_target(df, single),
        "noise": {
            "seed_sd": sd,
            "seeds": seeds,
            "margin": margin,
            "rule": f"margin = max({search.min_margin}, {search.margin_sd} x seed_sd x sqrt(2/{seeds})); "
                    "pair label = label of its best-validation configuration",
            "share_pairs_beneficial": float((pairs["label"] == "beneficial").mean()) if len(pairs) else 0.0,
            "share_pairs_harmful": float((pairs["label"] == "harmful").mean()) if len(pairs) else 0.0,
            "share_configs_beneficial": float((ok["gain"] > margin).mean()) if len(ok) else 0.0,
            "share_configs_harmful": float((ok["gain"] < -margin).mean()) if len(ok) else 0.0,
            "gain_spearman_val_test": spearman(ok["gain_val"], ok["gain"]),
            "gain_spearman_val_test_pairs": spearman(pairs["gain_val"], pairs["gain"]),
            "replicated": len(replication or []),
            "replication_rate": replication_rate(replication or []),
            "labelled_pairs": int(len(labelled)),
            "control_mean_gain_real": float(np.mean([r["fresh_gain"] for r in control])) if control else None,
            "control_mean_gain_shuffled": float(np.mean([r["control_gain"] for r in control])) if control else None,
        },
        "replication": list(replication or []),
    }


def grid_value(df: pd.DataFrame, margin: float) -> dict[str, Any]:
    """Does the grid matter? Per pair (rows with a ``grid_point`` index; 0 = the first point): the gain of the
    configuration validation selects minus the first point's gain (``selected_over_first``, what a search over
    the grid adds for a user), the best test gain minus the first point's (``best_over_first``, what it could
    add), and which point validation selected; plus, over the pairs labelled beneficial, the share whose
    selected point is not the first."""
    if "grid_point" not in df or df.empty:
        return {}
    rows = df[(df["status"] == OK) & df["grid_point"].notna()].dropna(subset=["f1_val", "gain"])
    per_pair, beneficial_not_first, beneficial = [], 0, 0
    for (s, t), g in rows.groupby(["source", "target"], sort=True):
        first = g[g["grid_point"] == 0]
        if first.empty:
            continue
        g0 = float(first["gain"].iloc[0])
        sel = g.loc[g["f1_val"].idxmax()]
        entry = {"pair": f"{s}->{t}", "first_gain": g0, "selected_point": int(sel["grid_point"]),
                 "selected_over_first": float(sel["gain"]) - g0, "best_over_first": float(g["gain"].max()) - g0,
                 "points": int(len(g))}
        if float(sel["gain"]) > margin:
            beneficial += 1
            beneficial_not_first += int(sel["grid_point"] != 0)
        per_pair.append(entry)
    if not per_pair:
        return {}
    sel_over = np.array([p["selected_over_first"] for p in per_pair])
    best_over = np.array([p["best_over_first"] for p in per_pair])
    return {"pairs": len(per_pair),
            "selected_over_first_mean": float(sel_over.mean()), "selected_over_first_median": float(np.median(sel_over)),
            "best_over_first_mean": float(best_over.mean()), "best_over_first_median": float(np.median(best_over)),
            "share_pairs_selected_not_first": float(np.mean([p["selected_point"] != 0 for p in per_pair])),
            "beneficial_pairs": beneficial,
            "share_beneficial_selected_not_first": beneficial_not_first / beneficial if beneficial else None,
            "per_pair": per_pair,
            "definition": "selected = the pair's configuration with the best validation F1; gains are test F1 over "
                          "the target's single-task model; first = the grid's first point (the pruned warm start)"}
