"""Pair training (pure torch, any backend): let a source task help a target task.

Two modes, both starting from the base seed's shared initialisation (``backend.new_model``),
with the target limited to its single-task label budget (``subsets.target_train``) and the
source contributing ``subsets.source_train``:

- ``multitask``: one encoder, a target head and a source head, trained jointly on both tasks'
  mini-batches (source loss × ``source_weight``); epochs selected on target validation F1.
- ``sequential``: train on the source first (early stopping on the source's own validation F1),
  then add a fresh target head and fine-tune everything on the target.

A configuration trains over several seeds in lockstep (``PairTrainer.step`` = one target epoch
for every seed) so a scheduler can read the seed-mean validation F1 after every epoch. With
``train.batch_seeds`` (default) and an MLP backend the seeds are one stacked model
(``raytp.models.batched.SeedBatch``), with the same per-seed results as training them one by one.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from raytp.config import PAIR_MODES, ExperimentConfig
from raytp.data.dataset import MultiTaskDataset
from raytp.data.subsets import source_train
from raytp.errors import ConfigError
from raytp.models.base import Backend
from raytp.models.batched import SeedBatch, SeedView, can_batch, own_state
from raytp.models.single import eval_sets, target_part
from raytp.models.training import EvalSet, Fitter, HParams, Part, evaluate, fit


@dataclass(frozen=True)
class PairPoint:
    """One grid point, fully resolved. ``source_weight`` only matters for ``multitask``."""

    mode: str
    lr: float
    epochs: int
    source_weight: float = 1.0
    source_ratio: float | None = None  # multitask: None = search.source_ratio
    hidden: int | None = None  # hashed / frozen-encoder hidden size; None = backend.hidden

    def __post_init__(self) -> None:
        if self.mode not in PAIR_MODES:
            raise ConfigError(f"search.grid.mode: unknown mode {self.mode!r}; use multitask or sequential")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SourceCache:
    """Per-process LRU of sequential source-phase weights.

    The source phase depends only on (data, source labels, seed, learning rate, epochs), not on the
    target, so the trials of one source that run in the same worker process share it. Its seconds are
    counted once, in the trial that trained it; its example-epochs (kept with the weights) are charged to
    every trial that uses it, so that figure does not depend on which worker ran which trial first.
    Trials are ordered source-major to make hits likely.
    """

    def __init__(self, max_entries: int = 6):
        self.max_entries = max_entries
        self._items: OrderedDict[tuple, dict] = OrderedDict()
        self._cost: dict[tuple, tuple[int, int]] = {}  # (example_epochs, eval_examples) of the phase that trained it
        self.hits = self.misses = 0

    def get(self, key: tuple) -> dict | None:
        state = self._items.get(key)
        if state is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return state

    def put(self, key: tuple, state: dict, cost: tuple[int, int] = (0, 0)) -> None:
        self._items[key] = copy.deepcopy(state)
        self._cost[key] = cost
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._cost.pop(self._items.popitem(last=False)[0], None)

    def cost(self, key: tuple) -> tuple[int, int]:
        """(example_epochs, eval_examples) the source phase stored under ``key`` took to train."""
        return self._cost.get(key, (0, 0))

    def clear(self) -> None:
        self._items.clear()
        self._cost.clear()


SOURCE_CACHE = SourceCache()


def _mean_sd(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


class PairTrainer:
    """source → target under one ``PairPoint``, over ``seeds`` in lockstep.

    ``step()`` trains one more target epoch for every seed still running and returns the
    seed-mean metrics of each seed's best epoch so far (validation F1, its gain over
    ``baseline_f1_val`` when given, and test F1 of that epoch); ``finish()`` runs to the end.
    """

    def __init__(self, backend: Backend, features: Any, ds: MultiTaskDataset, cfg: ExperimentConfig,
                 source: str, target: str, point: PairPoint, seeds: list[int],
                 baseline_f1_val: float | None = None, source_labels: np.ndarray | None = None,
                 cache: SourceCache | None = SOURCE_CACHE):
        if source == target:
            raise ConfigError(f"pair {source}->{target}: source and target must differ")
        self.backend, self.features, self.ds, self.cfg = backend, features, ds, cfg
        self.source, self.target, self.point, self.seeds = source, target, point, list(seeds)
        self.baseline_f1_val = baseline_f1_val
        self.hp = HParams.from_config(cfg.train, lr=point.lr, epochs=point.epochs)
        self.val, self.test = eval_sets(ds, target, cfg)
        src_idx = source_train(ds, source, cfg.data)
        src_y = ds.y(source, src_idx) if source_labels is None else np.asarray(source_labels, dtype=np.int64)
        if len(src_y) != len(src_idx):
            raise ConfigError(f"pair {source}->{target}: {len(src_y)} source labels for {len(src_idx)} examples")
        ratio = cfg.search.source_ratio if point.source_ratio is None else point.source_ratio
        per_epoch = int(round(ratio * len(target_part(ds, target, cfg).idx)))
        self.source_part = Part(source, src_idx, src_y, weight=point.source_weight, per_epoch=max(1, per_epoch))
        self._labels_digest = hashlib.sha1(np.ascontiguousarray(src_y).tobytes()).hexdigest()
        self.cache = cache
        self.target_part = target_part(ds, target, cfg)
        self.source_seconds = 0.0
        self.source_examples = self.source_eval_examples = 0  # the sequential source phase's, every seed
        self._start = time.perf_counter()
        self.batch: SeedBatch | None = None  # the seeds as one stacked model (train.batch_seeds, MLP backends)
        if cfg.train.batch_seeds and can_batch(backend):
            self.batch = self._seed_batch()
            self.fitters: list[Fitter] | list[SeedView] = self.batch.views
        else:
            self.fitters = [self._fitter(s) for s in self.seeds]
        self._test: list[dict[str, float] | None] = [None] * len(self.seeds)
        self._test_epoch = [0] * len(self.seeds)  # the epoch each seed's test scores are from
        self.epoch = 0

    def _fitter(self, seed: int) -> Fitter:
        if self.point.mode == "multitask":
            model = self.backend.new_model([self.target, self.source], seed)  # target head first: same init as single-task
            return Fitter(model, self.backend, self.features, [self.target_part, self.source_part], self.val, self.hp, seed,
                          keep_best_state=False)
        t0 = time.perf_counter()
        model = self.backend.new_model([self.source], seed)
        src_hp = replace(self.hp, patience=1)  # 6,000 source examples: stop at the first epoch without progress
        key = self._source_key(seed, src_hp)
        state = self.cache.get(key) if self.cache is not None else None
        if state is None:
            src_val = EvalSet(self.source, *self._source_val())
            res = fit(model, self.backend, self.features, [Part(self.source, self.source_part.idx, self.source_part.y)],
                      src_val, src_hp, seed)
            cost = (res.example_epochs, res.eval_examples)
            if self.cache is not None:
                self.cache.put(key, model.state_dict(), cost)
        else:
            model.load_state_dict(state)
            cost = self.cache.cost(key)
        self.source_examples += cost[0]
        self.source_eval_examples += cost[1]
        model.add_head(self.target, seed)
        self.source_seconds += time.perf_counter() - t0
        return Fitter(model, self.backend, self.features, [self.target_part], self.val, self.hp, seed,
                      keep_best_state=False)

    def _source_key(self, seed: int, src_hp: HParams) -> tuple:
        return (id(self.features), self.backend.name, self.source, self._labels_digest, seed, src_hp.lr, src_hp.epochs,
                self.cfg.fingerprint())

    def _seed_batch(self) -> SeedBatch:
        """``_fitter`` for all seeds at once, as one stacked model (the sequential source phase batched too)."""
        if self.point.mode == "multitask":
            models = self.backend.new_models([self.target, self.source], self.seeds)
            return SeedBatch(models, self.backend, self.features, [self.target_part, self.source_part], self.val,
                             self.hp, self.seeds, keep_best_state=False, evals=(self.test,))
        t0 = time.perf_counter()
        models = self.backend.new_models([self.source], self.seeds)
        src_hp = replace(self.hp, patience=1)
        keys = [self._source_key(s, src_hp) for s in self.seeds]
        states = [self.cache.get(k) if self.cache is not None else None for k in keys]
        todo = [i for i, st in enumerate(states) if st is None]
        if todo:
            src = SeedBatch([models[i] for i in todo], self.backend, self.features,
                            [Part(self.source, self.source_part.idx, self.source_part.y)],
                            EvalSet(self.source, *self._source_val()), src_hp, [self.seeds[i] for i in todo])
            for i, res in zip(todo, src.fit()):
                self.source_examples += res.example_epochs
                self.source_eval_examples += res.eval_examples
                if self.cache is not None:
                    self.cache.put(keys[i], own_state(models[i]), (res.example_epochs, res.eval_examples))
            del src
        for m, st, k in zip(models, states, keys):
            if st is not None:
                m.load_state_dict(st)
                cost = self.cache.cost(k)
                self.source_examples += cost[0]
                self.source_eval_examples += cost[1]
        for m, s in zip(models, self.seeds):
            m.add_head(self.target, s)
        self.source_seconds += time.perf_counter() - t0
        return SeedBatch(models, self.backend, self.features, [self.target_part], self.val, self.hp, self.seeds,
                         keep_best_state=False, evals=(self.test,))

    def _source_val(self) -> tuple[np.ndarray, np.ndarray]:
        src_val, _ = eval_sets(self.ds, self.source, self.cfg)
        return src_val.idx, src_val.y

    @property
    def done(self) -> bool:
        return all(f.done for f in self.fitters)

    def step(self) -> dict[str, Any]:
        """One more target epoch for every unfinished seed; returns ``summary()``.

        A seed whose validation F1 improved is scored on test right away (with its tuned threshold),
        so the summary after any epoch is complete: a trial stopped early still has test metrics."""
        if self.batch is not None:
            self.batch.run_epoch()
            better = [i for i, f in enumerate(self.fitters) if f.epoch and f.best_epoch == f.epoch]
            better = [i for i in better if self._test_epoch[i] != self.fitters[i].epoch]
            thresholds = [self.fitters[i].threshold for i in better]
            for i, te in zip(better, self.batch.evaluate(self.test, better, thresholds)):
                self._test[i], self._test_epoch[i] = te, self.fitters[i].epoch
            self.epoch += 1
            return self.summary()
        for i, f in enumerate(self.fitters):
            if f.done:
                continue
            f.run_epoch()
            if f.best_epoch == f.epoch:
                self._test[i] = evaluate(f.model, self.backend, self.features, self.test, f.threshold)
        self.epoch += 1
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """Seed-mean metrics of each seed's best epoch so far (``gain_val`` when a baseline was given)."""
        per_seed = []
        for seed, f, te in zip(self.seeds, self.fitters, self._test):
            te = te or {"f1": 0.0, "precision": 0.0, "recall": 0.0}
            val = f.best if f.best_epoch else {"f1": 0.0, "precision": 0.0, "recall": 0.0}
            per_seed.append({"f1_val": val["f1"], "precision_val": val["precision"], "recall_val": val["recall"],
                             "f1_test": te["f1"], "precision_test": te["precision"], "recall_test": te["recall"],
                             "best_epoch": f.best_epoch})
        out: dict[str, Any] = {"source": self.source, "target": self.target, **self.point.as_dict(),
                               "epoch": self.epoch}
        for key in ("f1_val", "f1_test", "precision_val", "recall_val", "precision_test", "recall_test"):
            mean, sd = _mean_sd([r[key] for r in per_seed])
            out[key] = mean
            if key in ("f1_val", "f1_test"):
                out[f"{key}_sd"] = sd
                out[f"{key}_seeds"] = [r[key] for r in per_seed]
        if self.baseline_f1_val is not None:
            out["gain_val"] = out["f1_val"] - self.baseline_f1_val
        out["best_epoch"] = float(np.mean([r["best_epoch"] for r in per_seed]))
        out["seeds"] = list(self.seeds)
        out["seconds"] = time.perf_counter() - self._start
        out["source_seconds"] = self.source_seconds
        # deterministic cost: training examples passed forward and backward (source phase included, cached or not)
        # and validation examples scored; test scoring is measurement, not search cost, and is not counted
        out["example_epochs"] = self.source_examples + int(sum(f.example_epochs for f in self.fitters))
        out["eval_examples"] = self.source_eval_examples + int(sum(f.eval_examples for f in self.fitters))
        out["source_example_epochs"] = self.source_examples
        return out

    def finish(self) -> dict[str, Any]:
        """Train the remaining epochs and return the final ``summary()``."""
        out = self.summary()
        while not self.done:
            out = self.step()
        return out


def train_pair(backend: Backend, features: Any, ds: MultiTaskDataset, cfg: ExperimentConfig, source: str,
               target: str, point: PairPoint, seeds: list[int] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Train source → target under ``point`` over ``seeds`` (default: the config's) and return seed-mean metrics."""
    return PairTrainer(backend, features, ds, cfg, source, target, point, seeds or cfg.seeds(), **kwargs).finish()


def shuffled_labels(ds: MultiTaskDataset, source: str, cfg: ExperimentConfig, seed: int = 0) -> np.ndarray:
    """The source's training labels permuted: a control source with the same size and positive rate but no task."""
    y = ds.y(source, source_train(ds, source, cfg.data))
    return np.random.default_rng(10_007 + seed).permutation(y)
