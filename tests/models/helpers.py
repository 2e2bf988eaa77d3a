"""Helpers of the backend tests: small one-task configs and real disaster-response subsets."""

from __future__ import annotations

import numpy as np

from raytp.config import ExperimentConfig, config_from_dict
from raytp.data.dataset import MultiTaskDataset
from raytp.data.subsets import eval_split, target_train


def experiment(task: str, backend: dict, train: dict | None = None, max_train: int = 300,
               max_eval: int = 300) -> ExperimentConfig:
    """A one-seed config over ``task`` (a second task only because configs require two)."""
    other = "food" if task != "food" else "water"
    return config_from_dict({
        "data": {"tasks": [task, other], "max_train": max_train, "max_eval": max_eval},
        "backend": backend,
        "train": {"seeds": 1, "batch_size": 32, **(train or {})},
    })


def subset(ds: MultiTaskDataset, task: str, cfg: ExperimentConfig) -> MultiTaskDataset:
    """Only the texts ``cfg`` trains and evaluates ``task`` on (same subsets: ``max_*`` caps are not hit twice)."""
    one = ds.select_tasks([task])
    idx = np.concatenate([target_train(one, task, cfg.data), eval_split(one, task, "validation", cfg.data),
                          eval_split(one, task, "test", cfg.data)])
    return MultiTaskDataset(texts=[one.texts[i] for i in idx], tasks=[task], labels=one.labels[idx],
                            split=one.split[idx], provenance={"name": "disaster-response subset"})


def trivial_f1(y: np.ndarray) -> float:
    """F1 of predicting every example positive: 2p / (1 + p)."""
    p = float(np.mean(y))
    return 2 * p / (1 + p)
