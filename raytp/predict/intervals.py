"""Bootstrap 95 % intervals for the figures a pruning is judged by (pure numpy).

Resampling is hierarchical: targets are drawn with replacement, then (``within=True``) the pairs of
each drawn target are drawn with replacement; a target drawn twice counts as two targets. Pair
metrics (AUC, regret@k, NDCG@k) resample both levels; per-target figures (F1 loss, gain captured)
resample targets, their unit. The interval is the percentile interval of the replicates (NaN
replicates, e.g. an AUC with one class, are left out; ``n`` says how many counted). Every interval
comes with its point estimate on the original data, and the same seed gives the same interval.

``paired`` intervals of a difference (predictor minus baseline) use the same resamples for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from raytp.predict.evaluate import ndcg_at_k, regret_at_k

N_BOOT = 1000
LEVEL = 0.95
Stat = Callable[[np.ndarray, np.ndarray], float]  # (row indices, group id per row) -> figure


def resample(groups: np.ndarray, rng: np.random.Generator, within: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One hierarchical bootstrap sample: (row indices, a fresh group id per drawn target)."""
    groups = np.asarray(groups)
    labels = list(dict.fromkeys(groups.tolist()))
    members = [np.flatnonzero(groups == g) for g in labels]
    idx, gid = [], []
    for k, j in enumerate(rng.integers(0, len(labels), len(labels))):
        rows = members[j]
        if within:
            rows = rows[rng.integers(0, len(rows), len(rows))]
        idx.append(rows)
        gid.append(np.full(len(rows), k))
    return np.concatenate(idx), np.concatenate(gid)


def bootstrap(stats: Mapping[str, Stat], groups: np.ndarray, *, within: bool = True, n_boot: int = N_BOOT,
              seed: int = 0, level: float = LEVEL) -> dict[str, dict[str, Any]]:
    """Point estimate and percentile interval of each statistic, all over the same resamples.

    Returns {name: {"estimate", "low", "high", "level", "n"}}; low/high are None when fewer than
    ten replicates are finite."""
    groups = np.asarray(groups)
    _, codes = np.unique(groups, return_inverse=True)
    everything = np.arange(len(groups))
    rng = np.random.default_rng(seed)
    reps: dict[str, list[float]] = {name: [] for name in stats}
    for _ in range(n_boot):
        idx, gid = resample(groups, rng, within)
        for name, fn in stats.items():
            reps[name].append(fn(idx, gid))
    out = {}
    tail = (1 - level) / 2 * 100
    for name, fn in stats.items():
        v = np.asarray(reps[name], dtype=np.float64)
        v = v[np.isfinite(v)]
        est = fn(everything, codes)
        ok = len(v) >= 10
        out[name] = {"estimate": _num(est), "low": float(np.percentile(v, tail)) if ok else None,
                     "high": float(np.percentile(v, 100 - tail)) if ok else None, "level": level, "n": int(len(v))}
    return out


def _num(v: float) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


# -- pair metrics --------------------------------------------------------------------------------------------

def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """ROC-AUC with ties counted half (NaN with one class)."""
    from scipy.stats import rankdata
    y = np.asarray(y, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    r = rankdata(scores)
    return float((r[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _per_group(fn: Callable[[np.ndarray, np.ndarray], float], scores: np.ndarray, gains: np.ndarray,
               gid: np.ndarray) -> float:
    vals = [fn(scores[gid == g], gains[gid == g]) for g in np.unique(gid)]
    vals = [v for v in vals if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def ranking_stats(scores: np.ndarray, y: np.ndarray, gains: np.ndarray, k: int = 3) -> dict[str, Stat]:
    """AUC, regret@k and NDCG@k of one score over pairs (NaN scores rank last)."""
    s = np.asarray(scores, dtype=np.float64)
    s = np.where(np.isfinite(s), s, (np.nanmin(s[np.isfinite(s)]) - 1) if np.isfinite(s).any() else 0.0)
    y, g = np.asarray(y, dtype=bool), np.asarray(gains, dtype=np.float64)
    return {"auc": lambda i, gid: auc(s[i], y[i]),
            f"regret_at_{k}": lambda i, gid: _per_group(lambda a, b: regret_at_k(a, b, k), s[i], g[i], gid),
            f"ndcg_at_{k}": lambda i, gid: _per_group(lambda a, b: ndcg_at_k(a, b, k), s[i], g[i], gid)}


def ranking_intervals(scores: np.ndarray, y: np.ndarray, gains: np.ndarray, groups: np.ndarray, k: int = 3,
                      against: Mapping[str, np.ndarray] | None = None, **kw: Any) -> dict[str, dict[str, Any]]:
    """Intervals of AUC, regret@k, NDCG@k over targets and pairs within them; with ``against``
    ({name: other scores}), also paired intervals of the difference (this score minus each other)."""
    stats = ranking_stats(scores, y, gains, k)
    for name, other in (against or {}).items():
        o = ranking_stats(other, y, gains, k)
        for m in list(ranking_stats(scores, y, gains, k)):
            stats[f"{m}_minus_{name}"] = _minus(stats[m], o[m])
    return bootstrap(stats, groups, within=True, **kw)


def _minus(a: Stat, b: Stat) -> Stat:
    return lambda i, gid: a(i, gid) - b(i, gid)


# -- per-target figures of a pruned side ---------------------------------------------------------------------

def side_stats(single: Sequence[float], full: Sequence[float], side: Sequence[float],
               margin: float = 0.0) -> dict[str, Stat]:
    """F1 loss (mean of full − side), pooled gain captured over targets the full search improved and over
    those it improved beyond ``margin``, and the per-target mean of gain ratios, over target indices."""
    b, f, p = (np.asarray(v, dtype=np.float64) for v in (single, full, side))

    def pooled(i: np.ndarray, beyond: float) -> float:
        m = (f[i] - b[i]) > beyond
        den = float((f[i][m] - b[i][m]).sum())
        return float((p[i][m] - b[i][m]).sum() / den) if den > 0 else float("nan")

    def mean_ratio(i: np.ndarray) -> float:
        m = (f[i] - b[i]) > 0
        return float(np.mean((p[i][m] - b[i][m]) / (f[i][m] - b[i][m]))) if m.any() else float("nan")

    return {"f1_loss": lambda i, gid: float(np.mean(f[i] - p[i])),
            "gain_captured_pooled": lambda i, gid: pooled(i, 0.0),
            "gain_captured_pooled_beyond_margin": lambda i, gid: pooled(i, margin),
            "gain_captured_mean": lambda i, gid: mean_ratio(i)}


def side_intervals(single: Sequence[float], full: Sequence[float], side: Sequence[float], margin: float = 0.0,
                   **kw: Any) -> dict[str, dict[str, Any]]:
    """Intervals of ``side_stats`` over targets (one row per target)."""
    return bootstrap(side_stats(single, full, side, margin), np.arange(len(single)), within=False, **kw)
