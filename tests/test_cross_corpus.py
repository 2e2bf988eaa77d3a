"""Cross-corpus task sets on the real disaster-response corpus, split into two disjoint halves.

The packaged ``raytp/configs/cross_corpus.yaml`` loads, describes (no example shared across the
halves), and its probe set covers both halves. Missing labels are missing, not negative: a task
never trains or is evaluated on the other half's examples, label phi across halves is NaN, the
learned predictor copes with it, and joint training over disjoint examples trains.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raytp.config import config_from_dict, load_config
from raytp.data.combine import subset
from raytp.data.dataset import MISSING
from raytp.data.describe import describe
from raytp.data.loading import load_experiment_data
from raytp.data.subsets import probe_indices
from raytp.models.registry import make_backend
from raytp.models.single import eval_sets, target_part, train_single
from raytp.models.training import HParams, Part, fit
from raytp.predict.predictor import TransferPredictor
from raytp.profiling.pair_features import label_phi, task_pair_statistics

CONFIG = Path(str(files("raytp") / "configs" / "cross_corpus.yaml"))
HALF_A = ["food", "shelter", "floods", "request"]
HALF_B = ["water", "medical_help", "storm", "buildings"]


@pytest.fixture(scope="module")
def cross():
    cfg = load_config(CONFIG)
    return cfg, load_experiment_data(cfg)


def test_packaged_config_loads_two_disjoint_halves(cross):
    cfg, ds = cross
    assert load_config("raytp/configs/cross_corpus.yaml").fingerprint() == cfg.fingerprint()
    assert cfg.data.tasks == HALF_A + HALF_B and cfg.data.corpus_names() == ["half-a", "half-b"]
    assert ds.tasks == HALF_A + HALF_B and len(ds) == 26248  # every message in exactly one half
    ids = ds.columns["id"].astype(np.int64)
    half = (ids // 2) % 2
    np.testing.assert_array_equal(ds.corpus == "half-b", half == 1)
    assert not set(ids[half == 0]) & set(ids[half == 1])
    for t in HALF_A + HALF_B:
        own = "half-a" if t in HALF_A else "half-b"
        annotated = ds.labels[:, ds.task_index(t)] != MISSING
        assert set(ds.corpus[annotated]) == {own}
        for s in ("train", "validation", "test"):
            assert ds.positives()[t][s] >= 50, (t, s)


def test_describe_shows_no_shared_examples_across_halves(cross):
    _, ds = cross
    d = describe(ds)
    sh = d["shared_examples"]
    assert sh["groups"] == [HALF_A, HALF_B]
    for t in HALF_A:
        assert sh["shares_with"][t] == [u for u in HALF_A if u != t]
    assert all(p["phi"] is None for p in d["cooccurrence"]["top_pairs"]
               if (p["a"] in HALF_A) != (p["b"] in HALF_A))


def test_probe_set_covers_both_halves(cross):
    cfg, ds = cross
    p = probe_indices(ds, cfg.data)
    assert len(p) == cfg.data.probe_size and (ds.split[p] == "validation").all()
    assert int((ds.corpus[p] == "half-a").sum()) == int((ds.corpus[p] == "half-b").sum()) == cfg.data.probe_size // 2
    np.testing.assert_array_equal(p, probe_indices(ds, cfg.data))


def test_label_phi_is_nan_across_halves_and_finite_within(cross):
    cfg, ds = cross
    assert np.isnan(label_phi(ds, "food", "water"))
    assert np.isnan(label_phi(ds, "buildings", "request"))
    assert label_phi(ds, "food", "request") > 0.2  # same half: real co-occurrence
    stats = task_pair_statistics(ds, cfg.data, ds.tasks)
    cross_pair = stats["source"].isin(HALF_A) != stats["target"].isin(HALF_A)
    assert stats.loc[cross_pair, "label_phi"].isna().all() and len(stats[cross_pair]) == 32
    assert stats.loc[~cross_pair, "label_phi"].notna().all()
    # if MISSING counted as negative, phi would exist (and be negative) across halves
    as_negative = ds.labels.copy()
    as_negative[as_negative == MISSING] = 0
    a, b = as_negative[:, ds.task_index("food")], as_negative[:, ds.task_index("water")]
    assert np.corrcoef(a, b)[0, 1] < 0


def _pair_table(cfg, ds, seed=0):
    """Task statistics of every ordered pair plus stand-ins for model-based features."""
    rng = np.random.default_rng(seed)
    single = {t: {"f1_val": float(v)} for t, v in zip(ds.tasks, rng.uniform(0.3, 0.7, len(ds.tasks)))}
    X = task_pair_statistics(ds, cfg.data, ds.tasks, single)
    X["responses/hidden/cka"] = rng.random(len(X))
    y = (X["responses/hidden/cka"] + 0.3 * rng.random(len(X)) > 0.65).to_numpy()
    return X, y


@pytest.mark.parametrize("estimator", ["gbm", "logreg"])
def test_learned_predictor_copes_with_nan_phi(cross, estimator):
    cfg, ds = cross
    X, y = _pair_table(cfg, ds)
    assert X["label_phi"].isna().sum() == 32 and 0 < y.sum() < len(y)
    pred = TransferPredictor(mode="learned", estimator=estimator).fit(X, y)
    assert pred.fallback_ is None and "label_phi" in pred.feature_names_
    proba = pred.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert TransferPredictor.from_json(pred.to_json()).predict_proba(X) == pytest.approx(proba)


@pytest.mark.parametrize("estimator", ["gbm", "logreg"])
def test_learned_predictor_trained_on_cross_pairs_only(cross, estimator):
    """A calibration sample of cross-corpus pairs has no label_phi at all: it is left out, not zero."""
    cfg, ds = cross
    X, y = _pair_table(cfg, ds, seed=1)
    cross_pair = (X["source"].isin(HALF_A) != X["target"].isin(HALF_A)).to_numpy()
    assert 0 < y[cross_pair].sum() < cross_pair.sum()
    pred = TransferPredictor(mode="learned", estimator=estimator).fit(X[cross_pair], y[cross_pair])
    assert "label_phi" not in pred.feature_names_ and "responses/hidden/cka" in pred.feature_names_
    proba = pred.predict_proba(X)
    assert np.isfinite(proba).all()
    restored = TransferPredictor.from_json(pred.to_json())
    assert restored.feature_names_ == pred.feature_names_ and restored.predict_proba(X) == pytest.approx(proba)


# -- training over disjoint examples --------------------------------------------------------------

class Recorder:
    """Which examples each task head sees: backend.batch remembers the indices, model.forward the task."""

    def __init__(self, backend):
        self.calls: list[tuple[str, np.ndarray]] = []
        self._last = None
        inner = backend.batch

        def batch(features, idx):
            self._last = np.asarray(idx).copy()
            return inner(features, idx)
        backend.batch = batch

    def watch(self, model):
        inner = model.forward

        def forward(batch, task):
            self.calls.append((task, self._last))
            return inner(batch, task)
        model.forward = forward
        return model


@pytest.fixture(scope="module")
def small(cross):
    """1,200 examples of each half (the real corpus structure), a hashed backend and its features."""
    cfg, ds = cross
    rng = np.random.default_rng(0)
    keep = np.zeros(len(ds), dtype=bool)
    for c in ("half-a", "half-b"):
        keep[rng.choice(np.flatnonzero(ds.corpus == c), 1200, replace=False)] = True
    sub = subset(ds, keep)
    scfg = config_from_dict({"data": {"datasets": [d.model_dump(mode="json") for d in cfg.data.datasets],
                                      "max_train": 200, "source_max_train": 400, "max_eval": 100},
                             "backend": {"hash_buckets": 2 ** 12, "embed_dim": 16, "hidden": 16},
                             "train": {"epochs": 2, "patience": 2, "seeds": 1}})
    backend = make_backend(scfg.backend)
    return scfg, sub, backend, backend.featurize(sub.texts)


def _corpus_of(ds, task):
    return "half-a" if task in HALF_A else "half-b"


def test_single_task_fit_never_sees_the_other_half(small):
    cfg, ds, backend, features = small
    rec = Recorder(backend)
    model = rec.watch(backend.new_model(["food"], 0))
    backend.new_model = lambda tasks, seed, _m=model: _m  # train_single builds its model through the backend
    try:
        run = train_single(backend, features, ds, "food", cfg, lr=1e-2, seed=0)
    finally:
        del backend.new_model
    assert rec.calls and 0 <= run.metrics["f1_test"] <= 1
    seen = np.concatenate([idx for _, idx in rec.calls])
    assert set(ds.corpus[seen]) == {"half-a"}
    assert (ds.labels[seen, ds.task_index("food")] != MISSING).all()
    part = target_part(ds, "food", cfg)
    assert set(part.y.tolist()) == {0, 1} and len(part.idx) == 200


def test_joint_fit_over_disjoint_examples_selects_on_target_validation(small):
    cfg, ds, backend, features = small
    a, b = "food", "water"
    rec = Recorder(backend)
    model = rec.watch(backend.new_model([a, b], 0))
    part_a = target_part(ds, a, cfg)
    idx_b = ds.indices("train", b)[:300]
    part_b = Part(b, idx_b, ds.y(b, idx_b), weight=0.5)
    val, _ = eval_sets(ds, a, cfg)
    res = fit(model, backend, features, [part_a, part_b], val, HParams.from_config(cfg.train, lr=1e-2), seed=0)
    assert res.epochs >= 1 and 0 <= res.val["f1"] <= 1
    for task in (a, b):
        seen = np.concatenate([idx for t, idx in rec.calls if t == task])
        assert set(ds.corpus[seen]) == {_corpus_of(ds, task)}, task
        assert (ds.labels[seen, ds.task_index(task)] != MISSING).all()
    # evaluation (no grad) scores task a on its own validation examples only
    val_seen = np.concatenate([idx for t, idx in rec.calls if t == a and (ds.split[idx] == "validation").any()])
    assert set(ds.split[val_seen]) == {"validation"} and set(ds.corpus[val_seen]) == {"half-a"}
    assert set(val_seen.tolist()) == set(val.idx.tolist())
    assert len(val.idx) == 100 and not np.isin(val.idx, ds.indices("validation", b)).any()


@pytest.mark.parametrize("mode", ["multitask", "sequential"])
def test_pair_training_across_halves_trains_both_modes(small, mode):
    pairs = pytest.importorskip("raytp.search.pairs")
    cfg, ds, backend, features = small
    # the recorder watches per-seed models (batched seeds draw the same per-seed examples in one stacked model)
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"batch_seeds": False})})
    rec = Recorder(backend)
    orig = backend.new_model
    backend.new_model = lambda tasks, seed: rec.watch(orig(tasks, seed))
    try:
        out = pairs.train_pair(backend, features, ds, cfg, "storm", "floods", pairs.PairPoint(mode, 1e-2, 2, 0.5),
                               seeds=[0], cache=None)
    finally:
        del backend.new_model
    assert 0 <= out["f1_val"] <= 1 and 0 <= out["f1_test"] <= 1
    for task in ("storm", "floods"):
        seen = np.concatenate([idx for t, idx in rec.calls if t == task])
        assert set(ds.corpus[seen]) == {_corpus_of(ds, task)}, task
