"""The S seeds of one configuration trained as one model (pure torch): stacked parameters, one step for all.

For the MLP backends (hashed n-grams, frozen-encoder embeddings): input -> Linear + ReLU -> one
linear head per task. The seeds' dense parameters are stacked along a leading seed axis and each
seed's ``TaskModel`` points at *views* of the stacks. The hashed table is stacked compacted: only
the buckets the trial's texts use (training parts and declared evaluation sets), S x that many
rows; ``StackedMLP.sync`` (done by ``SeedView.result``/``SeedBatch.release``) writes them back into
each model's full table. Per training step, every seed's own mini-batch (own data order, own
part/head) is gathered in one call (one ``embedding_bag`` over the stacked table, or one index into
the embedding matrix), padded to the longest batch, and goes through ``bmm``; each seed keeps its
own initialisation, early stopping, best epoch and threshold.

The optimiser reproduces torch's Adam / AdamW / SparseAdam arithmetic per seed: dense parameters
are updated only where a seed (and, for heads, the head it used) took the step, like a parameter
whose gradient is ``None``; the table rows a step touched are updated with SparseAdam's formula
through ``index_select``/``index_add_`` (cheaper than ``sparse_mask`` on the full table). Per-seed
F1 matches the sequential ``Fitter`` (tests/models/test_batched.py); weights differ by float
summation order only (~1e-7).
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from raytp.models.base import Backend, TaskModel
from raytp.models.metrics import binary_scores
from raytp.models.training import (EvalSet, FitResult, HParams, Part, _Cycle, _epoch_batches, _pos_weight,
                                   batch_examples, best_threshold)

BETAS, EPS = (0.9, 0.999), 1e-8  # torch's Adam / SparseAdam defaults, which the backends use


def can_batch(backend: Backend) -> bool:
    """Whether ``backend``'s encoders are the stackable MLP (hashed, frozen-encoder); the transformer is not."""
    return bool(getattr(backend, "stackable", False))


def csr_rows(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The column ids of CSR ``rows`` (concatenated, in order) and each row's length: what
    ``matrix[rows].indices`` / ``np.diff(matrix[rows].indptr)`` give, without scipy's per-call overhead."""
    starts, ends = indptr[rows], indptr[rows + 1]
    lens = ends - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), lens
    # position j of the output reads indices[starts[r] + (j - first output position of r)]
    jump = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return indices[jump + np.arange(total)], lens


def own_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A state dict of copies holding only this model's elements (a deepcopy of a view copies the whole stack)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class StackedMLP:
    """The parameters of S same-shaped ``TaskModel``s as stacked tensors.

    The dense layers' stacks are the models' parameters (each model's become views of them). The
    embedding table is stacked *compacted*: only ``rows`` (the buckets the trial's texts use) of each
    seed, (S x len(rows), D); ``sync`` writes them back into the models' full tables."""

    def __init__(self, models: list[TaskModel], tasks: list[str], rows: np.ndarray | None = None):
        enc = models[0].encoder
        self.S, self.tasks, self.models = len(models), list(tasks), models
        self.has_bag = hasattr(enc, "bag")
        self.table: torch.Tensor | None = None
        with torch.no_grad():
            if self.has_bag:
                dev = enc.bag.weight.device
                rows = np.arange(enc.bag.weight.shape[0]) if rows is None else rows
                self.rows = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=dev)
                self.table = torch.cat([m.encoder.bag.weight.detach().index_select(0, self.rows) for m in models]
                                       ).requires_grad_()
            self.buckets = len(self.rows) if self.has_bag else 0
            self.w1 = torch.stack([m.encoder.fc.weight.detach() for m in models]).requires_grad_()  # (S, H, D)
            self.b1 = torch.stack([m.encoder.fc.bias.detach() for m in models]).requires_grad_()  # (S, H)
            self.wh = torch.stack([torch.cat([m.heads[t].weight.detach() for t in tasks]) for m in models]
                                  ).requires_grad_()  # (S, K, H)
            self.bh = torch.stack([torch.cat([m.heads[t].bias.detach() for t in tasks]) for m in models]
                                  ).requires_grad_()  # (S, K)
        for s, m in enumerate(models):  # re-point each model's dense parameters to views of the stacks
            m.encoder.fc.weight = nn.Parameter(self.w1.detach()[s])
            m.encoder.fc.bias = nn.Parameter(self.b1.detach()[s])
            for k, t in enumerate(tasks):
                m.heads[t].weight = nn.Parameter(self.wh.detach()[s, k:k + 1])
                m.heads[t].bias = nn.Parameter(self.bh.detach()[s, k:k + 1])

    def seed_table(self, s: int) -> torch.Tensor:
        return self.table.detach()[s * self.buckets:(s + 1) * self.buckets]

    @torch.no_grad()
    def sync(self, seeds: list[int] | None = None) -> None:
        """Write the trained table rows back into the models' full tables."""
        if self.has_bag:
            for s in range(self.S) if seeds is None else seeds:
                self.models[s].encoder.bag.weight.index_copy_(0, self.rows, self.seed_table(s))

    def snapshot(self, s: int) -> list[torch.Tensor]:
        """Copies of seed ``s``'s parameters (compact table rows included)."""
        out = [p.detach()[s].clone() for p in self.dense()]
        return out + ([self.seed_table(s).clone()] if self.has_bag else [])

    @torch.no_grad()
    def restore(self, s: int, snap: list[torch.Tensor]) -> None:
        for p, v in zip(self.dense(), snap):
            p[s].copy_(v)
        if self.has_bag:
            self.seed_table(s).copy_(snap[-1])

    def dense(self) -> list[torch.Tensor]:
        return [self.w1, self.b1, self.wh, self.bh]

    def logits(self, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """(S, B, D) inputs, head index per seed (S,) -> (S, B) logits (the same arithmetic as ``nn.Linear``)."""
        h = torch.relu(torch.baddbmm(self.b1.unsqueeze(1), x, self.w1.transpose(1, 2)))
        ar = torch.arange(self.S, device=x.device)
        w, b = self.wh[ar, k].unsqueeze(1), self.bh[ar, k].view(self.S, 1, 1)  # (S, 1, H), (S, 1, 1)
        return torch.baddbmm(b, w, h.transpose(1, 2)).squeeze(1)


class _BatchedAdam:
    """torch's Adam (L2 weight decay) / AdamW (decoupled) on stacked dense tensors and SparseAdam on the
    table, applied per seed (and per head) only where ``mask`` says that slice took the step."""

    def __init__(self, stack: StackedMLP, lr: float, weight_decay: float, decoupled: bool,
                 trained_rows: np.ndarray | None = None):
        """``trained_rows``: the table rows (of one seed) that training can touch; SparseAdam's moments are kept
        for those only (zero elsewhere, never read), which makes them a fraction of the table's size."""
        self.stack, self.lr, self.wd, self.decoupled = stack, lr, weight_decay, decoupled
        # per-slice step counts: one per seed for the encoder, one per (seed, head) for the heads
        self.state = [(torch.zeros_like(p), torch.zeros_like(p), np.zeros(p.shape[:n], dtype=np.int64))
                      for p, n in zip(stack.dense(), (1, 1, 2, 2))]
        if stack.table is not None:  # SparseAdam's two moments side by side: one gather, one scatter per step
            n = stack.buckets
            rows = np.arange(n) if trained_rows is None else np.asarray(trained_rows, dtype=np.int64)
            slot = np.full(n, -1, dtype=np.int64)
            slot[rows] = np.arange(len(rows))
            self.n_slots = len(rows)
            self.slot = torch.from_numpy(slot).to(stack.table.device)
            self.sparse_mv = torch.zeros(stack.S * len(rows), 2, stack.table.shape[1], dtype=stack.table.dtype,
                                         device=stack.table.device)
            self.sparse_step = 0

    @torch.no_grad()
    def step(self, active: np.ndarray, used: np.ndarray) -> None:
        """``active`` (S,) bool: seeds that stepped; ``used`` (S, K) bool: the head each of them used."""
        b1, b2 = BETAS
        for p, (m, v, steps) in zip(self.stack.dense(), self.state):
            mask_np = used if steps.ndim == 2 else active
            steps[mask_np] += 1
            grad = p.grad
            if self.wd != 0 and not self.decoupled:
                grad = grad.add(p, alpha=self.wd)
            n = np.maximum(steps, 1).astype(np.float64)
            shape = mask_np.shape + (1,) * (p.dim() - mask_np.ndim)
            step_size = torch.as_tensor(-(self.lr / (1 - b1 ** n)), dtype=p.dtype, device=p.device).view(shape)
            bc2_sqrt = torch.as_tensor((1 - b2 ** n) ** 0.5, dtype=p.dtype, device=p.device).view(shape)
            new_m = m.lerp(grad, 1 - b1)
            new_v = v.mul(b2).addcmul_(grad, grad, value=1 - b2)
            denom = (new_v.sqrt() / bc2_sqrt).add_(EPS)
            new_p = p.mul(1 - self.lr * self.wd) if (self.wd != 0 and self.decoupled) else p
            new_p = new_p + step_size * new_m / denom  # addcdiv's order: value * t1 / t2
            if mask_np.all():
                m.copy_(new_m), v.copy_(new_v), p.copy_(new_p)
            else:
                mask = torch.as_tensor(mask_np, device=p.device).view(shape)
                m.copy_(torch.where(mask, new_m, m)), v.copy_(torch.where(mask, new_v, v))
                p.copy_(torch.where(mask, new_p, p))
        if self.stack.table is not None and self.stack.table.grad is not None:
            self._sparse_step(self.stack.table.grad)

    def _sparse_step(self, grad: torch.Tensor) -> None:
        """SparseAdam's update of the rows the step touched, one step count for the table (all active seeds
        step together, as each seed's own SparseAdam would)."""
        b1, b2 = BETAS
        grad = grad.coalesce()
        rows, values = grad._indices()[0], grad._values()
        if values.numel() == 0:
            return
        self.sparse_step += 1
        p = self.stack.table
        slots = torch.div(rows, self.stack.buckets, rounding_mode="floor") * self.n_slots \
            + self.slot[rows % self.stack.buckets]
        old = self.sparse_mv.index_select(0, slots)  # (U, 2, D)
        old_m, old_v = old[:, 0], old[:, 1]
        upd = torch.empty_like(old)
        torch.mul(values.sub(old_m), 1 - b1, out=upd[:, 0])
        torch.mul(values.pow(2).sub_(old_v), 1 - b2, out=upd[:, 1])
        self.sparse_mv.index_add_(0, slots, upd)
        numer = upd[:, 0].add_(old_m)
        denom = upd[:, 1].add_(old_v).sqrt_().add_(EPS)
        bc1, bc2 = 1 - b1 ** self.sparse_step, 1 - b2 ** self.sparse_step
        step_size = self.lr * math.sqrt(bc2) / bc1
        p.data.index_add_(0, rows, -step_size * numer.div_(denom))


class SeedView:
    """One seed inside a ``SeedBatch``, with the attributes of a ``Fitter`` (done, best, threshold, result())."""

    def __init__(self, model: TaskModel, seed: int, hp: HParams, keep_best_state: bool, stack: StackedMLP, i: int):
        self.model, self.seed, self.hp, self.keep_best_state = model, seed, hp, keep_best_state
        self.stack, self.i = stack, i
        self.rng = np.random.default_rng(seed)
        self.cycles: dict[int, _Cycle] = {}
        self.best: dict[str, float] = {"f1": -1.0}
        self.best_state: list[torch.Tensor] | None = None
        self.best_epoch = self.epoch = self.stale = 0
        self.history: list[dict[str, float]] = []
        self.seconds = 0.0
        self.example_epochs = self.eval_examples = 0

    @property
    def done(self) -> bool:
        return self.epoch >= self.hp.epochs or self.stale >= self.hp.patience

    @property
    def threshold(self) -> float:
        return float(self.best.get("threshold", 0.5))

    def result(self) -> FitResult:
        """The fit's result; the model holds the best epoch's weights (when kept) or the last epoch's."""
        if self.best_state is not None:
            self.stack.restore(self.i, self.best_state)
        self.stack.sync([self.i])
        return FitResult(val=self.best, best_epoch=self.best_epoch, epochs=self.epoch, seconds=self.seconds,
                         history=self.history, threshold=self.threshold, example_epochs=self.example_epochs,
                         eval_examples=self.eval_examples)


class SeedBatch:
    """Several seeds of one configuration (same parts, evaluation and hyperparameters) trained in one stack.

    ``run_epoch()`` trains one epoch for every unfinished seed; ``views[i]`` reads like the ``Fitter``
    of seed i; ``evaluate()`` scores chosen seeds on an evaluation set in one batched pass."""

    def __init__(self, models: list[TaskModel], backend: Backend, features: Any, parts: list[Part], select: EvalSet,
                 hp: HParams, seeds: list[int], keep_best_state: bool = True, evals: tuple[EvalSet, ...] = ()):
        """``evals``: evaluation sets besides ``select`` that ``evaluate`` will be asked about."""
        if not can_batch(backend):
            raise ValueError(f"backend {backend.name!r} cannot batch seeds")
        self.backend, self.features, self.parts, self.select, self.hp = backend, features, parts, select, hp
        self.dev = backend.device
        tasks = list(models[0].heads.keys())
        self.head_of = [tasks.index(p.task) for p in parts]
        for s in seeds:
            torch.manual_seed(s)  # as each Fitter would (no randomness inside these models)
        self.evals = [select, *evals]
        rows = trained = None
        if hasattr(models[0].encoder, "bag"):  # compact the table to the buckets this trial's texts use
            used = np.concatenate([p.idx for p in parts] + [e.idx for e in self.evals])
            rows = np.unique(features[used].indices)
            remap = np.full(features.shape[1], -1, dtype=np.int32)
            remap[rows] = np.arange(len(rows), dtype=np.int32)
            self.features = features.copy()
            self.features.indices = remap[self.features.indices]  # rows outside ``used`` are never read
            self._indptr, self._indices = self.features.indptr.astype(np.int64), self.features.indices.astype(np.int64)
            trained = np.unique(self.features[np.concatenate([p.idx for p in parts])].indices)
        self.stack = StackedMLP(models, tasks, rows)
        decoupled = backend.name != "hashed"  # hashed: SparseAdam + Adam (L2); frozen-encoder: AdamW
        self.opt = _BatchedAdam(self.stack, hp.lr, hp.weight_decay, decoupled, trained)
        self.views = [SeedView(m, s, hp, keep_best_state, self.stack, i) for i, (m, s) in enumerate(zip(models, seeds))]
        self.pos_w = [_pos_weight(p.y, hp.class_weighting, hp.class_weight_power) for p in parts]
        self._eval_cache: dict[int, Any] = {}

    @property
    def done(self) -> bool:
        return all(v.done for v in self.views)

    # -- inputs -------------------------------------------------------------------------------------------------

    def _inputs(self, per_seed: list[np.ndarray | None], width: int) -> torch.Tensor:
        """(S, width, D) inputs: seed s's examples ``per_seed[s]`` (None: no examples), padded."""
        S = self.stack.S
        if self.stack.has_bag:
            chosen = [(s, ix) for s, ix in enumerate(per_seed) if ix is not None and len(ix)]
            counts = np.zeros(S * width, dtype=np.int64)
            ids = np.zeros(0, dtype=np.int64)
            if chosen:
                ids, row_len = csr_rows(self._indptr, self._indices, np.concatenate([ix for _, ix in chosen]))
                pos = np.concatenate([s * width + np.arange(len(ix)) for s, ix in chosen])
                counts[pos] = row_len
                ids += np.repeat(np.concatenate([np.full(len(ix), s * self.stack.buckets) for s, ix in chosen]),
                                 row_len)
            offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
            emb = F.embedding_bag(torch.from_numpy(ids).to(self.dev), self.stack.table,
                                  torch.from_numpy(offsets).to(self.dev), mode="mean", sparse=True)
            return emb.view(S, width, -1)
        idx = np.zeros((S, width), dtype=np.int64)
        for s, ix in enumerate(per_seed):
            if ix is not None:
                idx[s, :len(ix)] = ix
        return self.features[torch.as_tensor(idx, device=self.features.device)]

    # -- training -----------------------------------------------------------------------------------------------

    def run_epoch(self) -> list[dict[str, float] | None]:
        """Train one epoch for every unfinished seed; return each seed's validation scores (None: finished)."""
        start = time.perf_counter()
        S = self.stack.S
        active = np.array([not v.done for v in self.views])
        plans = [(_epoch_batches(self.parts, self.hp.batch_size, v.rng, v.cycles) if a else None)
                 for v, a in zip(self.views, active)]
        n_steps = max(len(p) for p in plans if p is not None)
        totals = np.zeros(S)
        for step in range(n_steps):
            per_seed: list[np.ndarray | None] = [None] * S
            head = np.zeros(S, dtype=np.int64)
            used = np.zeros((S, len(self.stack.tasks)), dtype=bool)
            width = 1
            y = []
            for s, plan in enumerate(plans):
                if plan is None:
                    continue
                p_i, b = plan[step]
                part = self.parts[p_i]
                per_seed[s] = part.idx[b]
                head[s] = self.head_of[p_i]
                used[s, head[s]] = True
                width = max(width, len(b))
                y.append((s, p_i, part.y[b]))
            target = np.zeros((S, width), dtype=np.float32)
            mask = np.zeros((S, width), dtype=np.float32)
            pos_w = np.ones((S, 1), dtype=np.float32)
            weight = np.zeros(S, dtype=np.float32)
            count = np.ones(S, dtype=np.float32)
            for s, p_i, yb in y:
                target[s, :len(yb)], mask[s, :len(yb)] = yb, 1.0
                pos_w[s, 0], weight[s], count[s] = self.pos_w[p_i], self.parts[p_i].weight, len(yb)
            x = self._inputs(per_seed, width)
            logits = self.stack.logits(x, torch.as_tensor(head, device=self.dev))
            t = lambda a: torch.from_numpy(a).to(self.dev)  # noqa: E731
            per_elem = F.binary_cross_entropy_with_logits(logits, t(target), pos_weight=t(pos_w), reduction="none")
            loss = t(weight) * ((per_elem * t(mask)).sum(1) / t(count))
            for p in self.stack.dense() + ([self.stack.table] if self.stack.table is not None else []):
                p.grad = None
            loss.sum().backward()
            self.opt.step(active, used)
            totals += loss.detach().cpu().numpy().astype(np.float64)
        live = [i for i in range(S) if active[i]]
        scores = self.evaluate(self.select, live, None if self.hp.tune_threshold else [0.5] * len(live))
        out: list[dict[str, float] | None] = [None] * S
        share = (time.perf_counter() - start) / max(1, len(live))
        for i, sc in zip(live, scores):
            v = self.views[i]
            v.epoch += 1
            v.history.append({"epoch": v.epoch, "loss": float(totals[i]), **{f"val_{k}": x for k, x in sc.items()}})
            if sc["f1"] > v.best["f1"]:
                v.best, v.best_epoch, v.stale = sc, v.epoch, 0
                if v.keep_best_state:
                    v.best_state = self.stack.snapshot(i)
            else:
                v.stale += 1
            v.seconds += share
            v.example_epochs += batch_examples(plans[i])
            v.eval_examples += len(self.select.idx)
            out[i] = sc
        return out

    def fit(self) -> list[FitResult]:
        while not self.done:
            self.run_epoch()
        return [v.result() for v in self.views]

    # -- evaluation ---------------------------------------------------------------------------------------------

    @torch.no_grad()
    def predict(self, ev: EvalSet, seeds: list[int]) -> np.ndarray:
        """(len(seeds), n) positive-class probabilities of ``ev.task`` for the chosen seeds, one pass per chunk."""
        if not seeds:
            return np.zeros((0, len(ev.idx)), dtype=np.float32)
        if not any(ev is e for e in self.evals):
            raise ValueError(f"evaluation set of {ev.task!r} was not declared to this SeedBatch (evals=)")
        k = torch.full((self.stack.S,), self.stack.tasks.index(ev.task), dtype=torch.long, device=self.dev)
        bs = max(1, self.backend.eval_batch_size() // len(seeds))
        out = []
        for start in range(0, len(ev.idx), bs):
            chunk = ev.idx[start:start + bs]
            x = self._inputs([chunk if s in seeds else None for s in range(self.stack.S)], len(chunk))
            out.append(torch.sigmoid(self.stack.logits(x, k))[seeds].float().cpu().numpy())
        return np.concatenate(out, axis=1) if out else np.zeros((len(seeds), 0), dtype=np.float32)

    def evaluate(self, ev: EvalSet, seeds: list[int], thresholds: list[float] | None) -> list[dict[str, float]]:
        """Scores of ``ev`` for each chosen seed; ``thresholds=None`` tunes each seed's threshold on ``ev``."""
        proba = self.predict(ev, seeds)
        out = []
        for j in range(len(seeds)):
            thr = best_threshold(ev.y, proba[j]) if thresholds is None else thresholds[j]
            out.append({**binary_scores(ev.y, proba[j] >= thr), "threshold": float(thr)})
        return out

    def release(self) -> None:
        """Give every seed's model its own copy of its weights (so one model can outlive the stack)."""
        self.stack.sync()
        for v in self.views:
            state = own_state(v.model)
            for name, p in list(v.model.named_parameters()):
                mod_name, _, attr = name.rpartition(".")
                setattr(v.model.get_submodule(mod_name), attr, nn.Parameter(state[name]))


