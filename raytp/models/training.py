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
    class_weight_power: float = 0.5  # positives weigh (neg/pos) ** power
    tune_threshold: bool = False  # choose the decision threshold on validation (else 0.5)

    @classmethod
    def from_config(cls, cfg: TrainConfig, **overrides: Any) -> "HParams":
        base = dict(lr=cfg.lr, epochs=cfg.epochs, patience=cfg.patience, batch_size=cfg.batch_size,
                    weight_decay=cfg.weight_decay, class_weighting=cfg.class_weighting,
                    tune_threshold=cfg.tune_threshold)
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


@dataclass
class Part:
    """One task's training examples inside a fit."""

    task: str
    idx: np.ndarray
    y: np.ndarray
    weight: float = 1.0
    per_epoch: int | None = None  # draw only this many examples per epoch, cycling through the part (None: all)


class _Cycle:
    """Endless reshuffled passes over ``n`` examples, handed out ``k`` at a time."""

    def __init__(self, n: int, rng: np.random.Generator):
        self.n, self.rng, self.order = n, rng, np.zeros(0, dtype=np.int64)

    def take(self, k: int) -> np.ndarray:
        while len(self.order) < k:
            self.order = np.concatenate([self.order, self.rng.permutation(self.n)])
        out, self.order = self.order[:k], self.order[k:]
        return out


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
    threshold: float = 0.5  # decision threshold to apply on test (tuned on validation when asked)
    example_epochs: int = 0  # training examples passed forward and backward (one epoch over n examples: n)
    eval_examples: int = 0  # validation examples scored after each epoch (forward only; counted apart)


@torch.no_grad()
def predict_proba(model: TaskModel, backend: Backend, features: Any, idx: np.ndarray, task: str) -> np.ndarray:
    model.eval()
    out = []
    bs = backend.eval_batch_size()
    for start in range(0, len(idx), bs):
        out.append(torch.sigmoid(model(backend.batch(features, idx[start:start + bs]), task)).float().cpu().numpy())
    model.train()
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def best_threshold(y: np.ndarray, proba: np.ndarray) -> float:
    """The decision threshold that maximises positive-class F1 on (y, proba): exact, by one sort.

    F1 at "top k predicted positive" is 2·TP_k / (k + P); cuts fall only between distinct scores,
    and the threshold is the midpoint of the two scores around the best cut."""
    y = np.asarray(y).astype(bool)
    proba = np.asarray(proba, dtype=np.float64)
    if len(y) == 0 or not y.any():
        return 0.5
    order = np.argsort(-proba, kind="stable")
    ps, tp = proba[order], np.cumsum(y[order])
    k = np.arange(1, len(ps) + 1)
    f1 = 2.0 * tp / (k + y.sum())
    cut_ok = np.append(ps[:-1] > ps[1:], True)  # a cut after position i separates distinct scores
    f1[~cut_ok] = -1.0
    i = int(np.argmax(f1))
    return float((ps[i] + ps[i + 1]) / 2.0) if i + 1 < len(ps) else float(np.nextafter(ps[i], -np.inf))


def evaluate(model: TaskModel, backend: Backend, features: Any, ev: EvalSet,
             threshold: float | None = 0.5) -> dict[str, float]:
    """Positive-class scores of ``ev.task``; ``threshold=None`` tunes it on ``ev`` (reported as "threshold")."""
    proba = predict_proba(model, backend, features, ev.idx, ev.task)
    thr = best_threshold(ev.y, proba) if threshold is None else threshold
    return {**binary_scores(ev.y, proba >= thr), "threshold": float(thr)}


def _pos_weight(y: np.ndarray, enabled: bool, power: float = 0.5) -> float:
    """Loss weight of positives: (neg/pos) ** power (0.5: sqrt, 1: balanced), or 1 when disabled."""
    pos = float(np.sum(y == 1))
    neg = float(np.sum(y == 0))
    return float((neg / pos) ** power) if enabled and pos > 0 and neg > 0 else 1.0


def batch_examples(batches: list[tuple[int, np.ndarray]]) -> int:
    """Training examples in one epoch's batches: the deterministic cost unit (example-epochs) of that epoch."""
    return int(sum(len(b) for _, b in batches))


def _epoch_batches(parts: list[Part], batch_size: int, rng: np.random.Generator,
                   cycles: dict[int, _Cycle] | None = None) -> list[tuple[int, np.ndarray]]:
    batches = []
    for p_i, part in enumerate(parts):
        if part.per_epoch is not None and cycles is not None and part.per_epoch < len(part.idx):
            order = cycles.setdefault(p_i, _Cycle(len(part.idx), rng)).take(part.per_epoch)
        else:
            order = rng.permutation(len(part.idx))
        batches += [(p_i, order[s:s + batch_size]) for s in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class Fitter:
    """One training run advanced an epoch at a time, so several seeds can train in lockstep.

    ``run_epoch()`` trains one epoch, scores ``select`` on validation and remembers the best
    epoch; ``done`` turns true after ``hp.epochs`` epochs or ``hp.patience`` epochs without
    improvement; ``result()`` restores the best epoch's weights.
    """

    def __init__(self, model: TaskModel, backend: Backend, features: Any, parts: list[Part], select: EvalSet,
                 hp: HParams, seed: int, keep_best_state: bool = True):
        self.keep_best_state = keep_best_state  # False: skip copying weights (callers that score each best epoch)
        self.model, self.backend, self.features, self.parts, self.select, self.hp = \
            model, backend, features, parts, select, hp
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        self.optimizers = backend.optimizers(model, hp.lr, hp.weight_decay)
        self.pos_w = [torch.tensor(_pos_weight(p.y, hp.class_weighting, hp.class_weight_power), device=backend.device)
                      for p in parts]
        self.targets = [torch.as_tensor(p.y, dtype=torch.float32, device=backend.device) for p in parts]
        self.best: dict[str, float] = {"f1": -1.0}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_epoch = self.epoch = self.stale = 0
        self.history: list[dict[str, float]] = []
        self.seconds = 0.0
        self.example_epochs = self.eval_examples = 0
        self._cycles: dict[int, _Cycle] = {}

    @property
    def done(self) -> bool:
        return self.epoch >= self.hp.epochs or self.stale >= self.hp.patience

    def run_epoch(self) -> dict[str, float]:
        """Train one epoch and return the validation scores of the selection task."""
        start = time.perf_counter()
        model, backend, dev = self.model, self.backend, self.backend.device
        model.train()
        total = 0.0
        batches = _epoch_batches(self.parts, self.hp.batch_size, self.rng, self._cycles)
        self.example_epochs += batch_examples(batches)
        self.eval_examples += len(self.select.idx)
        for p_i, b in batches:
            part = self.parts[p_i]
            logits = model(backend.batch(self.features, part.idx[b]), part.task)
            loss = part.weight * F.binary_cross_entropy_with_logits(
                logits, self.targets[p_i][torch.as_tensor(b, device=dev)], pos_weight=self.pos_w[p_i])
            for opt in self.optimizers:
                opt.zero_grad(set_to_none=True)
            loss.backward()
            for opt in self.optimizers:
                opt.step()
            total += float(loss.detach())
        self.epoch += 1
        scores = evaluate(model, backend, self.features, self.select, None if self.hp.tune_threshold else 0.5)
        self.history.append({"epoch": self.epoch, "loss": total, **{f"val_{k}": v for k, v in scores.items()}})
        if scores["f1"] > self.best["f1"]:
            self.best, self.best_epoch, self.stale = scores, self.epoch, 0
            if self.keep_best_state:
                self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.stale += 1
        self.seconds += time.perf_counter() - start
        return scores

    @property
    def threshold(self) -> float:
        """Decision threshold of the best epoch (tuned on validation, or 0.5)."""
        return float(self.best.get("threshold", 0.5))

    def result(self) -> FitResult:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return FitResult(val=self.best, best_epoch=self.best_epoch, epochs=self.epoch, seconds=self.seconds,
                         history=self.history, threshold=self.threshold, example_epochs=self.example_epochs,
                         eval_examples=self.eval_examples)


def fit(model: TaskModel, backend: Backend, features: Any, parts: list[Part], select: EvalSet, hp: HParams,
        seed: int, on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> FitResult:
    """Train on ``parts`` and keep the epoch with the best validation F1 of ``select.task``."""
    fitter = Fitter(model, backend, features, parts, select, hp, seed)
    while not fitter.done:
        scores = fitter.run_epoch()
        if on_epoch is not None:
            on_epoch(fitter.epoch, scores)
    return fitter.result()
