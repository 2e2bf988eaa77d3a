"""Seeded example subsets: a task's training labels as a target or a source, evaluation splits.

**The label budget** (one rule for everything the pipeline decides from: pair features, task
statistics, LogME, the predictor's training data and thresholds): a task's labels may be read
only on its ``max_train`` target training examples (``target_train``) when it plays the target,
its ``source_max_train`` examples (``source_train``) when it plays the source, and its
validation examples (``eval_split``). Test labels and every other training label are out of
budget (``in_budget`` marks the examples a task's labels may be read on at all).
"""

from __future__ import annotations

import numpy as np

from raytp.config import DataConfig
from raytp.data.dataset import MISSING, MultiTaskDataset


def _first_n(ds: MultiTaskDataset, split: str, task: str, n: int | None, seed: int) -> np.ndarray:
    idx = ds.indices(split, task)
    if n is not None and len(idx) > n:
        # one permutation per split (not per task): tasks over the same texts get the same subset
        order = np.random.default_rng(seed).permutation(len(ds))
        rank = np.empty(len(ds), dtype=np.int64)
        rank[order] = np.arange(len(ds))
        idx = idx[np.argsort(rank[idx], kind="stable")][:n]
        idx.sort()
    return idx


def target_train(ds: MultiTaskDataset, task: str, cfg: DataConfig) -> np.ndarray:
    """Training examples ``task`` sees as a target (its label budget)."""
    return _first_n(ds, "train", task, cfg.max_train, cfg.subset_seed)


def source_train(ds: MultiTaskDataset, task: str, cfg: DataConfig) -> np.ndarray:
    """Training examples ``task`` contributes as a source."""
    return _first_n(ds, "train", task, cfg.source_max_train, cfg.subset_seed)


def eval_split(ds: MultiTaskDataset, task: str, split: str, cfg: DataConfig) -> np.ndarray:
    """Validation or test examples of ``task`` (capped by ``max_eval``)."""
    return _first_n(ds, split, task, cfg.max_eval, cfg.subset_seed + 1)


def pair_label_examples(ds: MultiTaskDataset, source: str, target: str, cfg: DataConfig) -> np.ndarray:
    """Training examples both tasks of source -> target have labels for within their budgets (sorted)."""
    return np.intersect1d(source_train(ds, source, cfg), target_train(ds, target, cfg))


def validation_labels(ds: MultiTaskDataset, task: str, idx: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """``task``'s labels on ``idx``, ``MISSING`` wherever ``idx`` is outside its validation budget."""
    idx = np.asarray(idx, dtype=np.int64)
    y = ds.y(task, idx)
    y[~np.isin(idx, eval_split(ds, task, "validation", cfg))] = MISSING
    return y


def in_budget(ds: MultiTaskDataset, task: str, cfg: DataConfig) -> np.ndarray:
    """Boolean mask over examples: where any role of ``task`` may read its label (see the module docstring)."""
    mask = np.zeros(len(ds), dtype=bool)
    for idx in (target_train(ds, task, cfg), source_train(ds, task, cfg), eval_split(ds, task, "validation", cfg)):
        mask[idx] = True
    return mask


def probe_shares(available: dict[str, int], size: int) -> dict[str, int]:
    """How many probe texts each corpus gives: an equal share each, the remainder to the largest.

    A corpus with fewer texts than its share gives them all, and the shortfall goes to the
    others, largest first (ties by name). The shares add up to min(size, total available)."""
    order = sorted(available, key=lambda c: (-available[c], c))
    size = min(size, sum(available.values()))
    share = {c: size // len(order) for c in order} if order else {}
    if order:
        share[order[0]] += size - sum(share.values())
    take = {c: min(share[c], available[c]) for c in order}
    left = size - sum(take.values())
    while left > 0:
        for c in order:
            extra = min(left, available[c] - take[c])
            take[c] += extra
            left -= extra
    return take


def probe_indices(ds: MultiTaskDataset, cfg: DataConfig) -> np.ndarray:
    """The shared probe set for signatures: the same validation texts for every task.

    Drawn from the validation examples within the label budget (each task's ``eval_split``, so
    LogME can read their labels). One corpus: ``probe_size`` of them drawn at random (seed
    ``subset_seed + 2``).
    Several corpora (``ds.corpus``): validation examples annotated for at least one task, drawn
    from every corpus involved so that signatures of tasks from different corpora are compared
    on the same texts: an equal share per corpus, the remainder to the largest
    (``probe_shares``), each corpus sampled in name order from one generator seeded with
    ``subset_seed + 2`` (deterministic)."""
    # within the validation budget (``max_eval``): LogME reads the probe texts' labels
    idx = np.unique(np.concatenate([eval_split(ds, t, "validation", cfg) for t in ds.tasks]
                                   + [np.zeros(0, dtype=np.int64)])).astype(np.int64)
    rng = np.random.default_rng(cfg.subset_seed + 2)
    corpora = np.unique(ds.corpus[idx].astype(str)) if len(idx) else np.zeros(0)
    if len(corpora) <= 1:
        return np.sort(rng.choice(idx, size=min(cfg.probe_size, len(idx)), replace=False))
    idx = idx[(ds.labels[idx] != MISSING).any(axis=1)]
    corpus = ds.corpus[idx].astype(str)
    pools = {c: idx[corpus == c] for c in np.unique(corpus)}
    take = probe_shares({c: len(v) for c, v in pools.items()}, cfg.probe_size)
    picked = [rng.choice(pools[c], size=take[c], replace=False) for c in sorted(pools)]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
