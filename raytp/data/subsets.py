"""Seeded example subsets: a task's training labels as a target or a source, evaluation splits."""

from __future__ import annotations

import numpy as np

from raytp.config import DataConfig
from raytp.data.dataset import MultiTaskDataset


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


def probe_indices(ds: MultiTaskDataset, cfg: DataConfig) -> np.ndarray:
    """The shared probe set for signatures: the same validation texts for every task."""
    idx = ds.indices("validation")
    rng = np.random.default_rng(cfg.subset_seed + 2)
    return np.sort(rng.choice(idx, size=min(cfg.probe_size, len(idx)), replace=False))
