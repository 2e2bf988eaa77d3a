"""Judging a predictor (or any score) on pair outcomes, leaving targets out.

Leave-targets-out: for each target, the predictor is fitted on the pairs of every *other* target
and scores only this target's pairs; its outcomes are never seen while fitting. (Pairs where the
held-out task is the source stay in training: they are other targets' outcomes.)

Metrics over the pooled out-of-fold scores:
- ``auc``: ROC-AUC of "beneficial" (NaN with one class).
- ``precision`` / ``recall``: of "beneficial" among pairs kept (P >= threshold, or the top ``keep``).
- ``regret@k``: per target, best gain available minus best gain among its top-k ranked sources
  (F1 points, >= 0), averaged over targets.
- ``ndcg@k``: per target, NDCG of the ranking with relevance max(gain, 0); targets with no positive
  gain are skipped; averaged.
Ties between scores are broken by row order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from raytp.errors import PredictorError
from raytp.predict.predictor import TransferPredictor, clone, default_features

Factory = Callable[[], Any]


def _order(scores: np.ndarray) -> np.ndarray:
    s = np.where(np.isfinite(scores), scores, -np.inf)
    return np.argsort(-s, kind="stable")


def regret_at_k(scores: np.ndarray, gains: np.ndarray, k: int) -> float:
    """Best gain available minus best gain among the top-k scored rows (one target)."""
    g = np.asarray(gains, dtype=np.float64)
    top = _order(np.asarray(scores, dtype=np.float64))[:k]
    return float(np.nanmax(g) - np.nanmax(g[top])) if len(g) else float("nan")


def ndcg_at_k(scores: np.ndarray, gains: np.ndarray, k: int) -> float:
    """NDCG@k with relevance max(gain, 0); NaN when no row has a positive gain."""
    rel = np.clip(np.nan_to_num(np.asarray(gains, dtype=np.float64), nan=0.0), 0.0, None)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.sort(rel)[::-1][:k]
    idcg = float((ideal * disc[:len(ideal)]).sum())
    if idcg <= 0:
        return float("nan")
    got = rel[_order(np.asarray(scores, dtype=np.float64))[:k]]
    return float((got * disc[:len(got)]).sum() / idcg)


def evaluate_scores(scores: np.ndarray, y: np.ndarray, gains: np.ndarray, groups: np.ndarray,
                    ks: Sequence[int] = (1, 3), threshold: float | None = 0.5, keep: int | None = None) -> dict[str, Any]:
    """Metrics of any per-pair score (predictor probability or a baseline column) against outcomes."""
    from sklearn.metrics import roc_auc_score
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    gains = np.asarray(gains, dtype=np.float64)
    groups = np.asarray(groups)
    if not (len(scores) == len(y) == len(gains) == len(groups)):
        raise PredictorError("scores, outcomes, gains and groups differ in length")
    finite = np.where(np.isfinite(scores), scores, np.nanmin(scores[np.isfinite(scores)]) - 1
                      if np.isfinite(scores).any() else 0.0)
    out: dict[str, Any] = {"pairs": int(len(y)), "beneficial": int(y.sum())}
    out["auc"] = float(roc_auc_score(y, finite)) if 0 < y.sum() < len(y) else float("nan")
    if keep is not None:
        kept = np.zeros(len(y), dtype=bool)
        kept[_order(scores)[:keep]] = True
    else:
        kept = scores >= (0.5 if threshold is None else threshold)
    out["kept"] = int(kept.sum())
    out["precision"] = float(y[kept].mean()) if kept.any() else float("nan")
    out["recall"] = float(y[kept].sum() / y.sum()) if y.any() else float("nan")
    for k in ks:
        reg, nd = [], []
        for g in pd.unique(groups):
            m = groups == g
            reg.append(regret_at_k(scores[m], gains[m], k))
            nd.append(ndcg_at_k(scores[m], gains[m], k))
        out[f"regret@{k}"] = float(np.nanmean(reg)) if np.isfinite(reg).any() else float("nan")
        out[f"ndcg@{k}"] = float(np.nanmean(nd)) if np.isfinite(nd).any() else float("nan")
    return out


def _factory(predictor: TransferPredictor | Factory | None) -> Factory:
    if predictor is None:
        return TransferPredictor
    if isinstance(predictor, TransferPredictor):
        return lambda: clone(predictor)
    return predictor


def leave_targets_out_proba(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray,
                            predictor: TransferPredictor | Factory | None = None) -> np.ndarray:
    """Out-of-fold P(beneficial): each group's rows scored by a predictor fitted without that group."""
    make = _factory(predictor)
    y = np.asarray(y)
    groups = np.asarray(groups)
    if len(X) != len(y) or len(X) != len(groups):
        raise PredictorError(f"{len(X)} feature rows, {len(y)} outcomes and {len(groups)} groups")
    proba = np.full(len(X), np.nan)
    for g in pd.unique(groups):
        test = groups == g
        est = make().fit(X.loc[~test], y[~test])
        proba[test] = est.predict_proba(X.loc[test])[:, 1]
    return proba


def evaluate_leave_targets_out(X: pd.DataFrame, y: np.ndarray, gains: np.ndarray, groups: np.ndarray,
                               predictor: TransferPredictor | Factory | None = None, ks: Sequence[int] = (1, 3),
                               threshold: float | None = None) -> dict[str, Any]:
    """Leave-targets-out metrics of a predictor; ``threshold`` defaults to the predictor's own."""
    proba = leave_targets_out_proba(X, y, groups, predictor)
    if threshold is None:
        threshold = predictor.threshold if isinstance(predictor, TransferPredictor) else 0.5
    out = evaluate_scores(proba, y, gains, groups, ks, threshold)
    out["proba"] = proba.tolist()
    return out


def feature_groups(X: pd.DataFrame) -> dict[str, list[str]]:
    """Feature groups of a pair table for ablation, by signal family (``raytp.predict.families``): task
    statistics, phi, the two signature families apart (gradient attribution, representation) and
    together (``signatures``: every column with a ``/``), the model-based baselines, all."""
    from raytp.predict.families import GRADIENT_ATTRIBUTION, REPRESENTATION, TASK_STATISTICS, family_columns
    cols = default_features(X)
    stats = family_columns(cols, TASK_STATISTICS)
    phi = [c for c in ("label_phi",) if c in cols]
    sigs = [c for c in cols if "/" in c]
    grad, rep = family_columns(cols, GRADIENT_ATTRIBUTION), family_columns(cols, REPRESENTATION)
    groups = {"task_stats": stats, "phi": phi, "signatures": sigs, "gradient_attribution": grad,
              "representation": rep, "task_stats+phi": stats + phi, "task_stats+signatures": stats + sigs,
              "task_stats+gradient_attribution": stats + grad, "task_stats+representation": stats + rep,
              "baselines": [c for c in ("textemb", "logme") if c in cols], "all": cols}
    return {k: v for k, v in groups.items() if v}


def ablation(X: pd.DataFrame, y: np.ndarray, gains: np.ndarray, groups: np.ndarray,
             predictor: TransferPredictor | None = None, feature_sets: dict[str, list[str]] | None = None,
             ks: Sequence[int] = (1, 3)) -> pd.DataFrame:
    """Leave-targets-out metrics of the learned predictor restricted to each feature group (one row each)."""
    base = predictor or TransferPredictor(mode="learned")
    rows = []
    for name, cols in (feature_sets or feature_groups(X)).items():
        p = clone(base).set_params(mode="learned", features=list(cols))
        m = evaluate_leave_targets_out(X, y, gains, groups, p, ks)
        m.pop("proba")
        rows.append({"group": name, "n_features": len(cols), **m})
    return pd.DataFrame(rows)


def evaluate_baselines(X: pd.DataFrame, y: np.ndarray, gains: np.ndarray, groups: np.ndarray,
                       keep: int | None = None, ks: Sequence[int] = (1, 3)) -> dict[str, dict[str, Any]]:
    """Metrics of every baseline column present in ``X`` (see ``BASELINES``), each ranking pairs by
    its score (NaN last) and keeping the same number of pairs ``keep`` (default: its top half)."""
    from raytp.predict.baselines import BASELINES
    out = {}
    for name, col in BASELINES.items():
        if col in X.columns:
            scores = X[col].to_numpy(dtype=np.float64)
            out[name] = evaluate_scores(scores, y, gains, groups, ks, keep=len(X) // 2 if keep is None else keep)
    return out
