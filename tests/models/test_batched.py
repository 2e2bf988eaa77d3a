"""Batched seeds (models/batched.py): the S seeds of a configuration as one stacked model give each seed the
results it gets when trained alone (own init, data order, early stopping, threshold), on real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from raytp.config import config_from_dict
from raytp.models.batched import SeedBatch, can_batch
from raytp.models.registry import make_backend
from raytp.models.single import eval_sets, target_part
from raytp.models.training import Fitter, HParams, Part
from raytp.search.pairs import PairPoint, PairTrainer, SourceCache
from tests.conftest import small_config_dict

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def setup(disaster):
    cfg = config_from_dict(small_config_dict(train={"epochs": 4, "patience": 2, "seeds": 3}))
    ds = disaster.select_tasks(cfg.data.tasks)
    be = make_backend(cfg.backend)
    return cfg, ds, be, be.featurize(ds.texts)


def _parts(cfg, ds, two: bool) -> list[Part]:
    from raytp.data.subsets import source_train
    parts = [target_part(ds, "water", cfg)]
    if two:
        idx = source_train(ds, "food", cfg.data)
        parts.append(Part("food", idx, ds.y("food", idx), weight=0.5, per_epoch=300))
    return parts


@pytest.mark.parametrize("two_parts", [False, True])
def test_seed_batch_matches_one_fitter_per_seed(setup, two_parts):
    cfg, ds, be, feats = setup
    val, _ = eval_sets(ds, "water", cfg)
    parts = _parts(cfg, ds, two_parts)
    tasks = [p.task for p in parts]
    hp = HParams.from_config(cfg.train, lr=1e-2)
    alone = []
    for s in SEEDS:
        f = Fitter(be.new_model(tasks, s), be, feats, parts, val, hp, s)
        while not f.done:
            f.run_epoch()
        alone.append(f)
    models = be.new_models(tasks, SEEDS)  # initial tables from the process cache: the same weights as new_model
    for s, m in zip(SEEDS, models):
        for a, b in zip(be.new_model(tasks, s).parameters(), m.parameters()):
            assert torch.equal(a, b)
    batch = SeedBatch(models, be, feats, parts, val, hp, SEEDS)
    # the stacked table holds only the buckets the trial's texts use
    assert batch.stack.buckets < be.cfg.hash_buckets and batch.stack.table.shape[0] == 3 * batch.stack.buckets
    results = batch.fit()
    for f, v, r in zip(alone, batch.views, results):
        assert [h["val_f1"] for h in v.history] == pytest.approx([h["val_f1"] for h in f.history], abs=1e-6)
        assert r.best_epoch == f.best_epoch and r.epochs == f.epoch
        # the deterministic cost unit: the same count batched or not, and only the epochs a seed trained
        per_epoch = sum(min(len(p.idx), p.per_epoch or len(p.idx)) for p in parts)
        assert r.example_epochs == f.result().example_epochs == f.epoch * per_epoch > 0
        assert r.eval_examples == f.epoch * len(val.idx)
        assert abs(r.threshold - f.threshold) < 1e-4
        f.result()  # restore the best epoch of the sequential run too
        for a, b in zip(f.model.parameters(), v.model.parameters()):
            assert torch.allclose(a, b, atol=1e-4)
    # the seeds really differ (own init and data order), so the comparison above can fail
    assert len({round(r.val["f1"], 9) for r in results}) > 1 or len({r.best_epoch for r in results}) > 1


@pytest.mark.parametrize("mode", ["multitask", "sequential"])
def test_pair_trainer_batched_equals_unbatched(setup, mode):
    cfg, ds, be, feats = setup
    point = PairPoint(mode, 1e-2, 4, 0.5)
    out = {}
    for batched in (True, False):
        c = cfg.model_copy(update={"train": cfg.train.model_copy(update={"batch_seeds": batched})})
        tr = PairTrainer(be, feats, ds, c, "food", "water", point, SEEDS, cache=SourceCache())
        assert (tr.batch is not None) == batched
        out[batched] = tr.finish()
    for key in ("f1_val_seeds", "f1_test_seeds"):
        assert np.allclose(out[True][key], out[False][key], atol=1e-6, rtol=0), key
    assert out[True]["best_epoch"] == out[False]["best_epoch"]
    for key in ("example_epochs", "eval_examples", "source_example_epochs"):  # the same cost in both paths
        assert out[True][key] == out[False][key], key
    assert out[True]["example_epochs"] > 0 and (out[True]["source_example_epochs"] > 0) == (mode == "sequential")


def test_transformer_is_not_batched():
    from raytp.models.transformer import TransformerBackend
    assert not getattr(TransformerBackend, "stackable", False)
    assert can_batch(make_backend(config_from_dict({}).backend))


def test_single_task_seeds_batched_equal_unbatched(setup):
    """The single-task stage's seeds: same metrics per seed, and each returned model is its best epoch's own copy."""
    from raytp.models.single import train_seeds
    from raytp.models.training import evaluate
    cfg, ds, be, feats = setup
    runs = {}
    for batched in (True, False):
        c = cfg.model_copy(update={"train": cfg.train.model_copy(update={"batch_seeds": batched})})
        runs[batched] = train_seeds(be, feats, ds, "water", c, 1e-2)
    _, test = eval_sets(ds, "water", cfg)
    for a, b in zip(runs[True], runs[False]):
        assert a.seed == b.seed
        for k in ("f1_val", "f1_test", "best_epoch", "epochs"):
            assert a.metrics[k] == pytest.approx(b.metrics[k], abs=1e-6), k
        assert a.model.encoder.bag.weight.shape == (cfg.backend.hash_buckets, cfg.backend.embed_dim)
        # the batched model alone (outside its stack) scores what the stack scored
        assert evaluate(a.model, be, feats, test, a.metrics["threshold"])["f1"] == pytest.approx(a.metrics["f1_test"])
    ptrs = {r.model.encoder.fc.weight.data_ptr() for r in runs[True]}
    assert len(ptrs) == len(SEEDS)


@pytest.mark.parametrize("name", ["frozen-encoder", "transformer"])
def test_other_backends_with_batch_seeds(name, disaster, tiny_bert_dir, embedding_cache):
    """frozen-encoder: stacked (AdamW arithmetic), same per-seed results as unbatched; transformer: the
    sequential loop (its seeds share one pretrained encoder copy each, too big to stack cheaply)."""
    from raytp.models.single import train_seeds
    from tests.models.helpers import experiment, subset
    if name == "frozen-encoder":
        cfg = experiment("earthquake", {"name": name, "cache_dir": embedding_cache, "max_length": 32},
                         {"seeds": 2, "epochs": 3}, max_train=200, max_eval=100)
    else:
        cfg = experiment("earthquake", {"name": name, "model": tiny_bert_dir, "max_length": 32},
                         {"seeds": 2, "epochs": 1, "lr": 3e-3}, max_train=64, max_eval=64)
    ds = subset(disaster, "earthquake", cfg)
    be = make_backend(cfg.backend)
    feats = be.featurize(ds.texts)
    assert can_batch(be) == (name == "frozen-encoder")
    out = {}
    for batched in (True, False):
        c = cfg.model_copy(update={"train": cfg.train.model_copy(update={"batch_seeds": batched})})
        out[batched] = train_seeds(be, feats, ds, "earthquake", c, cfg.train.lr)
    for a, b in zip(out[True], out[False]):
        for k in ("f1_val", "f1_test", "best_epoch"):
            assert a.metrics[k] == pytest.approx(b.metrics[k], abs=1e-6), (k, a.metrics, b.metrics)


def test_csr_rows_matches_scipy_row_indexing():
    import scipy.sparse as sp

    from raytp.models.batched import csr_rows
    rng = np.random.default_rng(3)
    m = sp.random(200, 1000, density=0.02, format="csr", random_state=4)
    m[5] = 0  # an empty row
    m.eliminate_zeros()
    for rows in (rng.integers(0, 200, 64), np.array([5]), np.array([5, 7, 5]), np.arange(200)):
        ids, lens = csr_rows(m.indptr.astype(np.int64), m.indices.astype(np.int64), rows)
        sub = m[rows]
        assert np.array_equal(ids, sub.indices) and np.array_equal(lens, np.diff(sub.indptr))
