"""Seeded, stratified train/validation/test split for multi-label data that ships without one.

Stratum of an example: its *rarest* positive task (the task with the fewest positives over the
whole data set), or "no positive" when it has none. This is the usual cheap approximation of
multi-label stratification: rare tasks, the ones that risk having no positive in a small split,
are spread over the splits explicitly, and frequent tasks follow by chance because their
positives are shuffled inside every stratum. Within each stratum the examples are permuted with
the seed and cut by the fractions; a stratum of at least 3 examples always gives validation and
test at least one example each, so a task with >= 3 positives has a positive in every split
whenever it is the rarest label of at least 3 of its examples (always true for the rarest tasks).

Examples are never grouped (e.g. by event): a tweet's event may appear in several splits.
"""

from __future__ import annotations

import numpy as np


def _cut(n: int, fraction: float) -> int:
    k = int(round(n * fraction))
    return max(k, 1) if n >= 3 and fraction > 0 else k


def stratified_split(labels: np.ndarray, val_fraction: float = 0.1, test_fraction: float = 0.1,
                     seed: int = 0) -> np.ndarray:
    """Return one of "train"/"validation"/"test" per row of ``labels`` (n_examples x n_tasks; 1 = positive, 0 or -1 otherwise).

    Deterministic in (labels, fractions, seed); independent of the texts and of row content
    other than the labels. ``test_fraction=0`` gives no test rows (data whose test set ships apart).
    """
    if not (0 < val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"bad split fractions: validation {val_fraction}, test {test_fraction}")
    labels = np.asarray(labels)
    n = labels.shape[0]
    out = np.full(n, "train", dtype=object)
    if n == 0:
        return out
    pos = labels == 1
    if labels.ndim == 2 and labels.shape[1] > 0:
        counts = pos.sum(axis=0)
        # rank tasks rarest-first (ties by column order) and take each example's rarest positive task
        rarity = np.argsort(np.argsort(counts, kind="stable"), kind="stable")
        ranked = np.where(pos, rarity[None, :], labels.shape[1])
        stratum = ranked.min(axis=1)
    else:
        stratum = np.zeros(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    for s in np.unique(stratum):
        idx = np.flatnonzero(stratum == s)
        idx = idx[rng.permutation(len(idx))]
        n_test = _cut(len(idx), test_fraction)
        n_val = _cut(len(idx), val_fraction)
        if n_test + n_val >= len(idx):  # tiny stratum (1-2 examples): keep training data first
            n_test = min(n_test, max(len(idx) - 1, 0))
            n_val = min(n_val, max(len(idx) - 1 - n_test, 0))
        out[idx[:n_test]] = "test"
        out[idx[n_test:n_test + n_val]] = "validation"
    return out


__all__ = ["stratified_split"]
