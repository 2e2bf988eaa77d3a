"""Train and score one single-task model (pure torch): the baseline every pair is measured against."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raytp.config import ExperimentConfig
from raytp.data.dataset import MultiTaskDataset
from raytp.data.subsets import eval_split, target_train
from raytp.models.base import Backend, TaskModel
from raytp.models.batched import SeedBatch, can_batch
from raytp.models.training import EvalSet, HParams, Part, evaluate, fit


def eval_sets(ds: MultiTaskDataset, task: str, cfg: ExperimentConfig) -> tuple[EvalSet, EvalSet]:
    val = eval_split(ds, task, "validation", cfg.data)
    test = eval_split(ds, task, "test", cfg.data)
    return EvalSet(task, val, ds.y(task, val)), EvalSet(task, test, ds.y(task, test))


def target_part(ds: MultiTaskDataset, task: str, cfg: ExperimentConfig) -> Part:
    idx = target_train(ds, task, cfg.data)
    return Part(task, idx, ds.y(task, idx))


@dataclass
class SingleRun:
    """One single-task model trained with one learning rate and one seed."""

    model: TaskModel
    lr: float
    seed: int
    metrics: dict[str, float]


def train_single(backend: Backend, features: Any, ds: MultiTaskDataset, task: str, cfg: ExperimentConfig,
                 lr: float, seed: int) -> SingleRun:
    val, test = eval_sets(ds, task, cfg)
    model = backend.new_model([task], seed)
    res = fit(model, backend, features, [target_part(ds, task, cfg)], val, HParams.from_config(cfg.train, lr=lr), seed)
    te = evaluate(model, backend, features, test, res.threshold)  # threshold chosen on validation
    metrics = {"f1_val": res.val["f1"], "precision_val": res.val["precision"], "recall_val": res.val["recall"],
               "f1_test": te["f1"], "precision_test": te["precision"], "recall_test": te["recall"],
               "epochs": res.epochs, "best_epoch": res.best_epoch, "seconds": res.seconds,
               "threshold": res.threshold, "example_epochs": res.example_epochs, "eval_examples": res.eval_examples}
    return SingleRun(model, lr, seed, metrics)


@dataclass
class TaskOutcome:
    """The single-task stage's result for one task: chosen learning rate, seed-mean metrics, one model."""

    task: str
    summary: dict[str, Any]
    model: TaskModel  # the chosen lr's model at the base seed (shared initialisation across tasks)
    runs: list[dict[str, Any]] = field(default_factory=list)


def train_seeds(backend: Backend, features: Any, ds: MultiTaskDataset, task: str, cfg: ExperimentConfig,
                lr: float) -> list[SingleRun]:
    """``train_single`` for every seed of the config: as one stacked model when ``train.batch_seeds`` and the
    backend allow it (same per-seed results), else one after another."""
    seeds = cfg.seeds()
    if not (cfg.train.batch_seeds and can_batch(backend)):
        return [train_single(backend, features, ds, task, cfg, lr, s) for s in seeds]
    val, test = eval_sets(ds, task, cfg)
    batch = SeedBatch(backend.new_models([task], seeds), backend, features, [target_part(ds, task, cfg)], val,
                      HParams.from_config(cfg.train, lr=lr), seeds, evals=(test,))
    results = batch.fit()  # each seed's best epoch restored
    tests = batch.evaluate(test, list(range(len(seeds))), [r.threshold for r in results])
    batch.release()  # each model its own weights: one of them outlives the stack (checkpoint, signatures)
    runs = []
    for v, res, te in zip(batch.views, results, tests):
        metrics = {"f1_val": res.val["f1"], "precision_val": res.val["precision"], "recall_val": res.val["recall"],
                   "f1_test": te["f1"], "precision_test": te["precision"], "recall_test": te["recall"],
                   "epochs": res.epochs, "best_epoch": res.best_epoch, "seconds": res.seconds,
                   "threshold": res.threshold, "example_epochs": res.example_epochs,
                   "eval_examples": res.eval_examples}
        runs.append(SingleRun(v.model, lr, v.seed, metrics))
    return runs


def run_task(backend: Backend, features: Any, ds: MultiTaskDataset, task: str, cfg: ExperimentConfig) -> TaskOutcome:
    """Try every learning rate of the pool over every seed; choose by mean validation F1."""
    start = time.perf_counter()
    by_lr: dict[float, list[SingleRun]] = {}
    for lr in cfg.train.pool():
        by_lr[lr] = train_seeds(backend, features, ds, task, cfg, lr)
    best_lr = max(by_lr, key=lambda lr: np.mean([r.metrics["f1_val"] for r in by_lr[lr]]))
    chosen = by_lr[best_lr]
    f1v = np.array([r.metrics["f1_val"] for r in chosen])
    f1t = np.array([r.metrics["f1_test"] for r in chosen])
    summary = {
        "f1_val": float(f1v.mean()), "f1_test": float(f1t.mean()),
        "f1_val_sd": float(f1v.std(ddof=1)) if len(f1v) > 1 else 0.0,
        "f1_test_sd": float(f1t.std(ddof=1)) if len(f1t) > 1 else 0.0,
        "f1_val_seeds": f1v.tolist(), "f1_test_seeds": f1t.tolist(),
        "precision_test": float(np.mean([r.metrics["precision_test"] for r in chosen])),
        "recall_test": float(np.mean([r.metrics["recall_test"] for r in chosen])),
        "hyperparameters": {"lr": best_lr, "epochs": int(round(np.mean([r.metrics["best_epoch"] for r in chosen])))},
        "train_examples": int(len(target_train(ds, task, cfg.data))),
        "positives_train": int(ds.y(task, target_train(ds, task, cfg.data)).sum()),
        "seconds": time.perf_counter() - start,
        # deterministic cost of the stage: every lr x seed trained (examples passed forward and backward)
        "example_epochs": int(sum(r.metrics["example_epochs"] for rs in by_lr.values() for r in rs)),
        "eval_examples": int(sum(r.metrics["eval_examples"] for rs in by_lr.values() for r in rs)),
    }
    runs = [{"lr": r.lr, "seed": r.seed, **r.metrics} for rs in by_lr.values() for r in rs]
    return TaskOutcome(task, summary, chosen[0].model, runs)
