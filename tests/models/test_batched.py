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
    batch = SeedBatch(be.new_models(tasks, SEEDS), be, feats, parts, val, hp, SEEDS)
    # the stacked table is the seeds' own tables laid end to end, not a copy
    assert batch.stack.table.data_ptr() == batch.views[0].model.encoder.bag.weight.data_ptr()
    results = batch.fit()
    for f, v, r in zip(alone, batch.views, results):
        assert [h["val_f1"] for h in v.history] == pytest.approx([h["val_f1"] for h in f.history], abs=1e-6)
        assert r.best_epoch == f.best_epoch and r.epochs == f.epoch
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


def test_transformer_is_not_batched():
    from raytp.models.transformer import TransformerBackend
    assert not getattr(TransformerBackend, "stackable", False)
    assert can_batch(make_backend(config_from_dict({}).backend))
