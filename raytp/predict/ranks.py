"""Rank scaling and the NaN-aware mean rank: how zero-shot rankers combine several scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata


def rank_scale(values: np.ndarray) -> np.ndarray:
    """Ranks scaled into [0, 1] (ties share their mean rank; NaN -> 0; one finite value -> 0.5)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(len(v))
    ok = np.isfinite(v)
    n = int(ok.sum())
    if n == 1:
        out[ok] = 0.5
    elif n > 1:
        out[ok] = (rankdata(v[ok]) - 1) / (n - 1)
    return out


def mean_rank(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Per row, the mean over ``columns`` of each one's rank scaled into [0, 1] among its finite values;
    a value that is NaN is left out of its row's mean; NaN where a row has no finite value."""
    ranks = []
    for v in columns:
        v = np.asarray(v, dtype=np.float64)
        r = np.full(len(v), np.nan)
        ok = np.isfinite(v)
        r[ok] = rank_scale(v[ok])
        ranks.append(r)
    stacked = np.vstack(ranks)
    count = np.isfinite(stacked).sum(axis=0)
    return np.where(count > 0, np.nansum(stacked, axis=0) / np.maximum(count, 1), np.nan)
