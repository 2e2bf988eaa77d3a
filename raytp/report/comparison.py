"""Pruned-vs-full comparison: every cost counted, F1 chosen by validation, baselines and bounds.

Definitions (also in report.md):
- each side's F1 for a target = the test F1 of the configuration its validation F1 selects among
  the single-task model and every pair configuration that side ran (a target whose pairs were
  all pruned keeps its single-task model);
- ``f1_loss`` = mean over targets of full F1 − pruned F1;
- ``gain_captured`` = over targets where the full search beats the single-task model, the pruned
  side's F1 gain over single-task divided by the full side's, averaged; ``gain_captured_pooled`` = the
  same targets' summed pruned gains over their summed full gains (a target whose full gain is tiny
  cannot swing it);
- ``gain_captured_pooled_beyond_margin`` (the headline with the pooled figure): the same, over the
  targets whose full-search gain exceeds the noise margin (smaller gains are noise);
- ``time_reduction`` = 1 − pruned total / full total, both including the single-task training;
  the pruned total adds profiling, pair features, the predictor, calibration runs and its search;
- ``time_reduction_example_epochs``: the same in a deterministic unit, example-epochs (training examples
  passed forward and backward, every seed, sequential source phases included; validation passes are counted
  apart as ``eval_examples`` in the tables and excluded here). Profiling, pair features and the predictor
  train no task model: 0. None for tables written before raytp counted them;
- ``intervals``: bootstrap 95 % intervals (``raytp.predict.intervals``): F1 loss and gain captured
  over targets; AUC, regret@k and NDCG@k over targets and pairs within them, with paired intervals
  of the predictor minus each baseline.
Baselines and the two reference bounds (prune everything; the oracle keeping exactly the truly
beneficial pairs) are simulated from the full search's own trials for the pairs they would keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from raytp.config import compute_units
from raytp.predict.evaluate import ndcg_at_k, regret_at_k
from raytp.predict.intervals import ranking_intervals, side_intervals
from raytp.search.outcomes import total_example_epochs


@dataclass
class Side:
    """One search's trials (status ok) plus its total compute seconds."""

    trials: pd.DataFrame
    compute_s: float


def ok_trials(trials: pd.DataFrame) -> pd.DataFrame:
    if "status" in trials:
        trials = trials[trials["status"] == "ok"]
    return trials.dropna(subset=["f1_val", "f1_test"])


def selected_f1(single: dict[str, Any], trials: pd.DataFrame, target: str) -> tuple[float, str]:
    """Test F1 of the validation-selected configuration for ``target`` and what was selected."""
    best_val, best_test, chosen = single["f1_val"], single["f1_test"], "single-task"
    rows = trials[trials["target"] == target]
    if len(rows):
        top = rows.loc[rows["f1_val"].idxmax()]
        if top["f1_val"] > best_val:
            best_val, best_test, chosen = top["f1_val"], top["f1_test"], f"{top['source']}→{target}"
    return float(best_test), chosen


def pair_truth(full: pd.DataFrame) -> pd.DataFrame:
    """One row per searched pair: the validation-selected configuration's gain and labels."""
    rows = ok_trials(full)
    best = rows.loc[rows.groupby(["source", "target"])["f1_val"].idxmax()]
    cols = [c for c in ("source", "target", "gain", "gain_val", "beneficial", "harmful") if c in best]
    return best[cols].reset_index(drop=True)


def side_scores(single: dict[str, dict], full: pd.DataFrame, side: pd.DataFrame, targets: list[str],
                margin: float = 0.0, intervals: bool = False, seed: int = 0) -> dict:
    """f1_loss, gain_captured (pooled, pooled beyond ``margin``, per-target mean) and per-target rows of
    ``side`` against ``full``; with ``intervals``, their bootstrap intervals over targets."""
    per_target, losses, captured, side_gain, full_gain = [], [], [], 0.0, 0.0
    for t in targets:
        base = single[t]["f1_test"]
        f_full, pick_full = selected_f1(single[t], full, t)
        f_side, pick_side = selected_f1(single[t], side, t)
        losses.append(f_full - f_side)
        row = {"target": t, "single_f1": base, "full_f1": f_full, "full_choice": pick_full,
               "pruned_f1": f_side, "pruned_choice": pick_side, "f1_loss": f_full - f_side}
        if f_full > base:
            captured.append((f_side - base) / (f_full - base))
            row["gain_captured"] = captured[-1]
            side_gain, full_gain = side_gain + f_side - base, full_gain + f_full - base
        per_target.append(row)
    beyond = [r for r in per_target if r["full_f1"] - r["single_f1"] > margin]
    beyond_full = sum(r["full_f1"] - r["single_f1"] for r in beyond)
    out = {"f1_loss": float(np.mean(losses)),
           "gain_captured": float(np.mean(captured)) if captured else None,
           "gain_captured_pooled": side_gain / full_gain if full_gain > 0 else None,
           "gain_captured_pooled_beyond_margin": (sum(r["pruned_f1"] - r["single_f1"] for r in beyond) / beyond_full
                                                  if beyond_full > 0 else None),
           "targets_with_full_gain": len(captured), "targets_beyond_margin": len(beyond), "margin": margin,
           "per_target": per_target}
    if intervals:
        out["intervals"] = side_intervals([r["single_f1"] for r in per_target], [r["full_f1"] for r in per_target],
                                          [r["pruned_f1"] for r in per_target], margin, seed=seed)
    return out


def _binary_metrics(scores: np.ndarray, kept: np.ndarray, truth: np.ndarray) -> dict[str, float | None]:
    from sklearn.metrics import roc_auc_score
    auc = float(roc_auc_score(truth, scores)) if 0 < truth.sum() < len(truth) else None
    tp = float(np.sum(kept & truth))
    return {"auc": auc, "precision": tp / kept.sum() if kept.sum() else 0.0,
            "recall": tp / truth.sum() if truth.sum() else None}


def _ranking_metrics(pairs: pd.DataFrame, score_col: str, k: int) -> dict[str, float]:
    regrets, ndcgs = [], []
    for _, g in pairs.groupby("target"):
        s, gain = g[score_col].to_numpy(float), g["gain"].to_numpy(float)
        regrets.append(regret_at_k(s, gain, k))
        ndcgs.append(ndcg_at_k(s, gain, k))
    nd = [v for v in ndcgs if np.isfinite(v)]
    return {f"regret_at_{k}": float(np.mean(regrets)), f"ndcg_at_{k}": float(np.mean(nd)) if nd else None}


def keep_like(pairs: pd.DataFrame, score_col: str, per_target: dict[str, int]) -> np.ndarray:
    """Keep, for each target, as many top-scored pairs as the predictor kept there."""
    kept = np.zeros(len(pairs), dtype=bool)
    for t, n in per_target.items():
        idx = pairs.index[pairs["target"] == t]
        order = pairs.loc[idx, score_col].fillna(-np.inf).sort_values(ascending=False, kind="stable").index[:n]
        kept[pairs.index.get_indexer(order)] = True
    return kept


def at_point(trials: pd.DataFrame, point: dict[str, Any]) -> pd.DataFrame:
    """The trials run at one grid point (``mode``, ``lr_scale``, ``lr``, ``epochs``, ``source_weight`` values)."""
    keep = np.ones(len(trials), dtype=bool)
    for k, v in point.items():
        col = trials.get(f"hp_{k}")
        if col is None:
            continue
        if k == "lr":  # hp_lr is resolved: the grid's lr times lr_scale
            col = col / trials.get("hp_lr_scale", 1.0)
        if isinstance(v, str) or v is None:
            keep &= (col == v).to_numpy() if v is not None else col.isna().to_numpy()
        else:
            keep &= np.isclose(col.astype(float).to_numpy(), float(v))
    return trials[keep]


def simulate(single: dict, full: pd.DataFrame, kept_pairs: pd.DataFrame, targets: list[str],
             fixed_s: float, full_total: float, point: dict[str, Any] | None = None, margin: float = 0.0,
             intervals: bool = False, cost_ee: tuple[int, int] | None = None) -> dict:
    """Figures for a policy that would search exactly ``kept_pairs`` with the full grid, or, with ``point``,
    with one trial per pair at that grid point (the pruned search's warm start: the same budget per pair).
    ``cost_ee``: (the policy's example-epochs before its search, the full side's total), for the reduction in
    example-epochs."""
    key = set(zip(kept_pairs["source"], kept_pairs["target"]))
    rows = ok_trials(full)
    rows = rows[[(s, t) in key for s, t in zip(rows["source"], rows["target"])]]
    if point is not None:
        rows = at_point(rows, point)
    scores = side_scores(single, full, rows, targets, margin, intervals)
    total = fixed_s + float(rows["compute_s"].sum())
    out = {"time_reduction": 1 - total / full_total,
           "time_reduction_example_epochs": _reduction_ee(cost_ee, rows), "f1_loss": scores["f1_loss"],
           "gain_captured": scores["gain_captured"], "gain_captured_pooled": scores["gain_captured_pooled"],
           "gain_captured_pooled_beyond_margin": scores["gain_captured_pooled_beyond_margin"],
           "pairs_kept": len(key)}
    if intervals:
        out["intervals"] = scores["intervals"]
    return out


def _reduction_ee(cost_ee: tuple[int, int] | None, rows: pd.DataFrame) -> float | None:
    """1 - (fixed + the rows' example-epochs) / full total; None without the counts."""
    if cost_ee is None or "example_epochs" not in rows or not cost_ee[1]:
        return None
    return 1 - (cost_ee[0] + float(rows["example_epochs"].fillna(0).sum())) / cost_ee[1]


def random_draws(single: dict, full: pd.DataFrame, pairs: pd.DataFrame, per_target: dict[str, int],
                 targets: list[str], fixed_s: float, full_total: float, point: dict[str, Any] | None,
                 draws: int = 200, seed: int = 0, cost_ee: tuple[int, int] | None = None) -> dict[str, Any]:
    """Spread of random rankings keeping as many pairs per target as the predictor (full grid, or one trial
    per pair at ``point``): what luck alone gives at the same budget."""
    rng = np.random.default_rng(seed)
    sims = []
    for _ in range(draws):
        scored = pairs.assign(_r=rng.random(len(pairs)))
        sims.append(simulate(single, full, scored[keep_like(scored, "_r", per_target)], targets, fixed_s,
                             full_total, point, cost_ee=cost_ee))
    cap = np.array([np.nan if s["gain_captured"] is None else s["gain_captured"] for s in sims], dtype=float)
    ee = [s["time_reduction_example_epochs"] for s in sims]
    return {"draws": draws, "time_reduction": float(np.mean([s["time_reduction"] for s in sims])),
            "time_reduction_example_epochs": float(np.mean(ee)) if sims and None not in ee else None,
            "f1_loss": float(np.mean([s["f1_loss"] for s in sims])),
            "gain_captured_mean": float(np.nanmean(cap)) if np.isfinite(cap).any() else None,
            "gain_captured_p10": float(np.nanpercentile(cap, 10)) if np.isfinite(cap).any() else None,
            "gain_captured_p90": float(np.nanpercentile(cap, 90)) if np.isfinite(cap).any() else None,
            "share_gain_captured_ge_0_8": float(np.mean(np.nan_to_num(cap, nan=0.0) >= 0.8)),
            "gain_captured_pooled_mean": float(np.mean([s["gain_captured_pooled"] or 0.0 for s in sims]))}


def compare(single: dict[str, dict], full: pd.DataFrame, pruned: pd.DataFrame, predictions: pd.DataFrame,
            costs: dict[str, float], k: int = 3, first_point: dict[str, Any] | None = None,
            margin: float = 0.0, seed: int = 0) -> dict[str, Any]:
    """The report: see the module docstring. ``predictions`` has source, target, probability, kept and
    optional ``score_<baseline>`` columns; ``costs`` the pruned side's extra compute seconds by item.
    ``first_point``: the pruned search's warm-start grid point; baselines are then also simulated at the
    same budget (one trial per kept pair at that point) and random rankings drawn 200 times.
    ``margin``: the full search's noise margin (for the beyond-margin gain captured); ``seed``: the
    bootstrap's."""
    targets = list(single)
    train_s = sum(s["compute_s"] - s.get("profiling_s", 0.0) * _units(s) for s in single.values())
    profiling_s = sum(s.get("profiling_s", 0.0) * _units(s) for s in single.values())
    full_ok, pruned_ok = ok_trials(full), ok_trials(pruned)
    full_total = train_s + float(full["compute_s"].sum())
    extra = {"profiling_s": profiling_s, **costs}
    fixed = train_s + sum(extra.values())  # the pruned side's cost before its search
    pruned_total = fixed + float(pruned["compute_s"].sum())
    ee = example_epochs_costs(single, full, pruned)
    cost_ee = (ee["pruned_total"] - ee["pruned_search"], ee["full_total"]) if ee else None
    scores = side_scores(single, full_ok, pruned_ok, targets, margin, intervals=True, seed=seed)

    truth = pair_truth(full)
    pairs = predictions.merge(truth, on=["source", "target"], how="inner")
    y = pairs["beneficial"].to_numpy(bool)
    kept = pairs["kept"].to_numpy(bool)
    per_target_kept = pairs[kept].groupby("target").size().to_dict()
    score_cols = [c for c in pairs.columns if c.startswith("score_")]
    gains, groups = pairs["gain"].to_numpy(float), pairs["target"].to_numpy()
    predictor = {**_binary_metrics(pairs["probability"].to_numpy(float), kept, y),
                 **_ranking_metrics(pairs, "probability", k),
                 "intervals": ranking_intervals(pairs["probability"].to_numpy(float), y, gains, groups, k,
                                                against={c.removeprefix("score_"): pairs[c].to_numpy(float)
                                                         for c in score_cols}, seed=seed)}
    baselines = {}
    for col in score_cols:
        b_kept = keep_like(pairs, col, per_target_kept)
        sim = simulate(single, full, pairs[b_kept], targets, train_s, full_total, margin=margin, cost_ee=cost_ee)
        baselines[col.removeprefix("score_")] = {**_binary_metrics(pairs[col].fillna(pairs[col].min()).to_numpy(float),
                                                                   b_kept, y),
                                                 **_ranking_metrics(pairs.fillna({col: -1e9}), col, k),
                                                 "intervals": ranking_intervals(pairs[col].to_numpy(float), y, gains,
                                                                                groups, k, seed=seed),
                                                 "simulated": sim}
        if first_point is not None:
            baselines[col.removeprefix("score_")]["simulated_first_point"] = simulate(
                single, full, pairs[b_kept], targets, fixed, full_total, first_point, margin, intervals=True,
                cost_ee=cost_ee)
    references = {
        "prune_all": simulate(single, full, pairs.iloc[0:0], targets, train_s, full_total, margin=margin,
                              cost_ee=cost_ee),
        "oracle": simulate(single, full, pairs[y], targets, train_s, full_total, margin=margin, cost_ee=cost_ee),
        "predictor_kept_full_grid": simulate(single, full, pairs[kept], targets, fixed, full_total, margin=margin,
                                             cost_ee=cost_ee),
    }
    if first_point is not None:
        references["predictor_first_point"] = simulate(single, full, pairs[kept], targets, fixed, full_total,
                                                       first_point, margin, intervals=True, cost_ee=cost_ee)
        references["random_first_point_draws"] = random_draws(single, full, pairs, per_target_kept, targets, fixed,
                                                              full_total, first_point, cost_ee=cost_ee)
    return {
        "time_reduction": 1 - pruned_total / full_total,
        "time_reduction_example_epochs": (1 - ee["pruned_total"] / ee["full_total"]) if ee and ee["full_total"]
        else None,
        "f1_loss": scores["f1_loss"],
        "gain_captured": scores["gain_captured"],
        "gain_captured_pooled": scores["gain_captured_pooled"],
        "gain_captured_pooled_beyond_margin": scores["gain_captured_pooled_beyond_margin"],
        "targets_with_full_gain": scores["targets_with_full_gain"],
        "targets_beyond_margin": scores["targets_beyond_margin"],
        "margin": margin,
        "intervals": scores["intervals"],
        "pairs_total": int(len(pairs)),
        "pairs_kept": int(kept.sum()),
        "pairs_beneficial": int(y.sum()),
        "pairs_harmful": int(pairs["harmful"].sum()) if "harmful" in pairs else None,
        "compute_s": {"single_task_training": train_s, **extra, "pruned_search": float(pruned["compute_s"].sum()),
                      "full_search": float(full["compute_s"].sum()), "pruned_total": pruned_total,
                      "full_total": full_total},
        "example_epochs": ee,
        "trials": {"full": int(len(full)), "pruned": int(len(pruned))},
        "predictor": predictor,
        "baselines": baselines,
        "references": references,
        "per_target": scores["per_target"],
        "paper_anchor": {"time_reduction": 0.835, "f1_loss": 0.034},
    }


def example_epochs_costs(single: dict[str, dict], full: pd.DataFrame, pruned: pd.DataFrame) -> dict[str, int] | None:
    """Each side's example-epochs by item, as ``compute_s`` itemises seconds (profiling, pair features and the
    predictor train no task model: 0); None when a table or a task summary predates the count."""
    if "example_epochs" not in full or "example_epochs" not in pruned or \
            any("example_epochs" not in s for s in single.values()):
        return None
    train = int(sum(int(s["example_epochs"]) for s in single.values()))
    full_s, pruned_s = total_example_epochs(full), total_example_epochs(pruned)
    return {"single_task_training": train, "profiling": 0, "pair_features": 0, "predictor": 0,
            "pruned_search": pruned_s, "full_search": full_s, "pruned_total": train + pruned_s,
            "full_total": train + full_s}


def _units(summary: dict) -> float:
    res = summary.get("resources", {})
    return compute_units(res.get("CPU", 1.0), res.get("GPU", 0.0))


# -- rendering --------------------------------------------------------------------------------------

def best_so_far(single: dict[str, dict], trials: pd.DataFrame, offset_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative compute seconds, mean over targets of the validation-selected test F1) per finished trial."""
    order = trials.sort_values("finished_at") if "finished_at" in trials else trials
    current = {t: (s["f1_val"], s["f1_test"]) for t, s in single.items()}
    xs, ys = [offset_s], [float(np.mean([v[1] for v in current.values()]))]
    spent = offset_s
    for _, r in order.iterrows():
        spent += float(r["compute_s"])
        if r.get("status", "ok") == "ok" and r["target"] in current and r["f1_val"] > current[r["target"]][0]:
            current[r["target"]] = (r["f1_val"], r["f1_test"])
        xs.append(spent)
        ys.append(float(np.mean([v[1] for v in current.values()])))
    return np.array(xs), np.array(ys)


def plot_report(report: dict, single: dict[str, dict], full: pd.DataFrame, pruned: pd.DataFrame,
                predictions: pd.DataFrame, out_dir) -> list[str]:
    """Best-so-far F1 against compute for both searches, and predicted probability vs observed gain."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pathlib import Path
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c = report["compute_s"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    x, y = best_so_far(single, full, c["single_task_training"])
    ax.step(x, y, where="post", label=f"full grid ({len(full)} trials)", color="#777")
    offset = c["pruned_total"] - c["pruned_search"]
    x, y = best_so_far(single, pruned, offset)
    ax.step(x, y, where="post", label=f"pruned ({len(pruned)} trials)", color="#c33")
    ax.set_xlabel("compute seconds (incl. single-task stage, profiling, predictor)")
    ax.set_ylabel("mean target F1 (test, chosen on validation)")
    ax.set_title(f"time saved {report['time_reduction']:.1%}, F1 loss {report['f1_loss']:.3f}")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    files = [str(out / "best_so_far.png")]
    fig.savefig(files[0], dpi=120)
    plt.close(fig)

    truth = pair_truth(full)
    m = predictions.merge(truth, on=["source", "target"], how="left")
    tasks = list(single)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, col, title, cmap in ((axes[0], "probability", "predicted P(beneficial)", "viridis"),
                                 (axes[1], "gain", "observed gain (full search, test F1)", "RdBu")):
        mat = m.pivot(index="source", columns="target", values=col).reindex(index=tasks, columns=tasks)
        vmax = np.nanmax(np.abs(mat.to_numpy())) if col == "gain" and np.isfinite(mat.to_numpy()).any() else None
        im = ax.imshow(mat.to_numpy(float), cmap=cmap, vmin=-vmax if vmax else None, vmax=vmax)
        ax.set_xticks(range(len(tasks)), tasks, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(tasks)), tasks, fontsize=8)
        ax.set_xlabel("target")
        ax.set_ylabel("source")
        ax.set_title(title, fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046)
        if col == "gain":
            kept = m[m["kept"]]
            ax.scatter([tasks.index(t) for t in kept["target"]], [tasks.index(s) for s in kept["source"]],
                       marker="s", facecolors="none", edgecolors="k", s=80, label="kept")
            ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    files.append(str(out / "pair_heatmap.png"))
    fig.savefig(files[1], dpi=120)
    plt.close(fig)
    return files


def report_markdown(r: dict) -> str:
    def f(v: Any) -> str:
        return "—" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    iv = r.get("intervals", {})

    def ci(value: Any, interval: dict | None) -> str:
        if not interval or interval.get("low") is None:
            return f(value)
        return f"{f(value)} [{interval['low']:.3f}, {interval['high']:.3f}]"

    lines = ["# raytp: pruned vs full search", "",
             "Brackets: bootstrap 95 % intervals (targets resampled; for AUC, regret and NDCG also the pairs within "
             "each target).", "",
             "| figure | pruned [95 % interval] | paper anchor |", "|---|---|---|",
             f"| time reduction | {f(r['time_reduction'])} | 0.835 |",
             *([f"| time reduction in example-epochs (deterministic: training passes, every seed) | "
                f"{f(r['time_reduction_example_epochs'])} | — |"] if r.get("time_reduction_example_epochs") is not None
               else []),
             f"| F1 loss (mean over targets) | {ci(r['f1_loss'], iv.get('f1_loss'))} | 0.034 |",
             f"| **gain captured, pooled over the {r.get('targets_beyond_margin', '—')} targets the full search improved "
             f"beyond the noise margin ({f(r.get('margin'))})** | "
             f"{ci(r.get('gain_captured_pooled_beyond_margin'), iv.get('gain_captured_pooled_beyond_margin'))} | — |",
             f"| **gain captured, pooled over the {r['targets_with_full_gain']} targets the full search improved** "
             f"(sum of gains / sum of full gains) | {ci(r.get('gain_captured_pooled'), iv.get('gain_captured_pooled'))} "
             f"| — |",
             f"| gain captured, per-target mean (secondary: swayed by tiny full gains) | "
             f"{ci(r['gain_captured'], iv.get('gain_captured_mean'))} | — |",
             f"| pairs kept / total | {r['pairs_kept']} / {r['pairs_total']} (beneficial: {r['pairs_beneficial']}, harmful: {f(r['pairs_harmful'])}) | — |",
             f"| trials pruned / full | {r['trials']['pruned']} / {r['trials']['full']} | — |", "",
             "## Ranking quality (truth: the full search's beneficial pairs)", "",
             "Simulated from the full search's trials for the pairs each ranker keeps (as many per target as the "
             "predictor): with the full grid, and at the same budget (one trial per pair at the warm-start point; "
             "pooled gain captured with its interval).", "",
             "| ranker | AUC | precision | recall | regret@3 | NDCG@3 | full grid: time red. / F1 loss / gain captured "
             "| same budget: time red. / F1 loss / pooled gain captured |",
             "|---|---|---|---|---|---|---|---|"]

    def trio(s: dict | None) -> str:
        return "—" if not s else f"{f(s['time_reduction'])} / {f(s['f1_loss'])} / {f(s['gain_captured'])}"

    def pooled_trio(s: dict | None) -> str:
        if not s:
            return "—"
        return (f"{f(s['time_reduction'])} / {f(s['f1_loss'])} / "
                f"{ci(s.get('gain_captured_pooled'), s.get('intervals', {}).get('gain_captured_pooled'))}")

    def ranks(m: dict) -> str:
        i = m.get("intervals", {})
        return (f"{ci(m['auc'], i.get('auc'))} | {f(m['precision'])} | {f(m['recall'])} | "
                f"{ci(m.get('regret_at_3'), i.get('regret_at_3'))} | {ci(m.get('ndcg_at_3'), i.get('ndcg_at_3'))}")
    p, refs = r["predictor"], r["references"]
    lines.append(f"| **predictor** | {ranks(p)} | {trio(refs.get('predictor_kept_full_grid'))} "
                 f"| {pooled_trio(refs.get('predictor_first_point'))} |")
    for name, b in r["baselines"].items():
        lines.append(f"| {name} | {ranks(b)} | {trio(b['simulated'])} | {pooled_trio(b.get('simulated_first_point'))} |")
    diffs = [(name, p.get("intervals", {}).get(f"auc_minus_{name}")) for name in r["baselines"]]
    diffs = [(n, d) for n, d in diffs if d and d.get("low") is not None]
    if diffs:
        lines += ["", "Predictor AUC minus each baseline's (paired bootstrap, 95 %): " + "; ".join(
            f"{n} {d['estimate']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
            f"{' (not above: the interval includes 0)' if d['low'] <= 0 else ''}" for n, d in diffs) + "."]
    draws = refs.get("random_first_point_draws")
    if draws:
        lines += ["", f"Random rankings at the same budget ({draws['draws']} draws): gain captured mean "
                      f"{f(draws['gain_captured_mean'])} (10th-90th percentile {f(draws['gain_captured_p10'])}–"
                      f"{f(draws['gain_captured_p90'])}), {draws['share_gain_captured_ge_0_8']:.0%} of draws reach 0.8; "
                      f"pooled gain captured mean {f(draws['gain_captured_pooled_mean'])}."]
    lines += ["", "## Reference bounds (simulated from the full search's trials)", "",
              "| bound | time reduction | F1 loss | gain captured | pairs |", "|---|---|---|---|---|"]
    for name, b in refs.items():
        if "pairs_kept" in b:
            lines.append(f"| {name} | {f(b['time_reduction'])} | {f(b['f1_loss'])} | {f(b['gain_captured'])} | "
                         f"{b['pairs_kept']} |")
    lines += ["", "## Compute seconds", "", "| item | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in r["compute_s"].items()]
    if r.get("example_epochs"):
        lines += ["", "## Example-epochs", "",
                  "Training examples passed forward and backward, every seed (validation passes excluded): the same "
                  "on any machine and load.", "", "| item | example-epochs |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in r["example_epochs"].items()]
    lines += ["", "## Per target", "", "| target | single F1 | full F1 (choice) | pruned F1 (choice) | loss |",
              "|---|---|---|---|---|"]
    for t in r["per_target"]:
        lines.append(f"| {t['target']} | {f(t['single_f1'])} | {f(t['full_f1'])} ({t['full_choice']}) | "
                     f"{f(t['pruned_f1'])} ({t['pruned_choice']}) | {f(t['f1_loss'])} |")
    lines += ["", "![best so far](plots/best_so_far.png)", "", "![pairs](plots/pair_heatmap.png)", ""]
    return "\n".join(lines)
