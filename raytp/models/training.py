"""One training loop for single-task, multitask and sequential training (pure torch).

``fit`` trains a ``TaskModel`` on one or more *parts* (a task with its examples and a loss
weight), interleaving their mini-batches in proportion to their sizes, evaluates the
selection task on validation after every epoch, stops early, and restores the best epoch.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from raytp.config import TrainConfig
from raytp.models.base import Backend, TaskModel
from raytp.models.metrics import binary_scores


@dataclass
class HParams:
    lr: float = 1e-2
    epochs: int = 8
    patience: int = 3
    batch_size: int = 32
    weight_decay: float = 0.0
    class_weighting: bool = True

    @classmethod
    def from_config(cls, cfg: TrainConfig, **overrides: Any) -> "HParams":
        base = dict(lr=cfg.lr, epochs=cfg.epochs, patience=cfg.patience, batch_size=cfg.batch_size,
                    weight_decay=cfg.weight_decay, class_weighting=cfg.class_weighting)
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


@dataclass
class Part:
    """One task's training examples inside a fit."""

    task: str
    idx: np.ndarray
    y: np.ndarray
    weight: float = 1.0


@dataclass
class EvalSet:
    task: str
    idx: np.ndarray
    y: np.ndarray


@dataclass
class FitResult:
    val: dict[str, float]
    best_epoch: int
    epochs: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


@torch.no_grad()
def predict_proba(model: TaskModel, backend: Backend, features: Any, idx: np.ndarray, task: str) -> np.ndarray:
    model.eval()
    out = []
    bs = backend.eval_batch_size()
    for start in range(0, len(idx), bs):
        out.append(torch.sigmoid(model(backend.batch(features, idx[start:start + bs]), task)).float().cpu().numpy())
    model.train()
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def evaluate(model: TaskModel, backend: Backend, features: Any, ev: EvalSet) -> dict[str, float]:
    return binary_scores(ev.y, predict_proba(model, backend, features, ev.idx, ev.task) >= 0.5)


def _pos_weight(y: np.ndarray, enabled: bool) -> float:
    pos = float(np.sum(y == 1))
    neg = float(np.sum(y == 0))
    return float(np.sqrt(neg / pos)) if enabled and pos > 0 and neg > 0 else 1.0


def _epoch_batches(parts: list[Part], batch_size: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    batches = []
    for p_i, part in enumerate(parts):
        order = rng.permutation(len(part.idx))
        batches += [(p_i, order[s:s + batch_size]) for s in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def fit(model: TaskModel, backend: Backend, features: Any, parts: list[Part], select: EvalSet, hp: HParams,
        seed: int, on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> FitResult:
    """Train on ``parts`` and keep the epoch with the best validation F1 of ``select.task``."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    optimizers = backend.optimizers(model, hp.lr, hp.weight_decay)
    pos_w = [torch.tensor(_pos_weight(p.y, hp.class_weighting), device=backend.device) for p in parts]
    targets = [torch.as_tensor(p.y, dtype=torch.float32, device=backend.device) for p in parts]
    best = {"f1": -1.0}
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch, stale, history = 0, 0, []
    model.train()
    epoch = 0
    for epoch in range(1, hp.epochs + 1):
        total = 0.0
        for p_i, b in _epoch_batches(parts, hp.batch_size, rng):
            part = parts[p_i]
            logits = model(backend.batch(features, part.idx[b]), part.task)
            loss = part.weight * F.binary_cross_entropy_with_logits(
                logits, targets[p_i][torch.as_tensor(b, device=backend.device)], pos_weight=pos_w[p_i])
            for opt in optimizers:
                opt.zero_grad(set_to_none=True)
            loss.backward()
            for opt in optimizers:
                opt.step()
            total += float(loss.detach())
        scores = evaluate(model, backend, features, select)
        history.append({"epoch": epoch, "loss": total, **{f"val_{k}": v for k, v in scores.items()}})
        if on_epoch is not None:
            on_epoch(epoch, scores)
        if scores["f1"] > best["f1"]:
            best, best_epoch, stale = scores, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= hp.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return FitResult(val=best, best_epoch=best_epoch, epochs=epoch, seconds=time.perf_counter() - start,
                     history=history)
