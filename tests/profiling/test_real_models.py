"""End to end on real data: three single-task models sharing one initialisation -> signatures ->
pair features (with phi, LogME, TextEmb) -> zero-shot predictor -> pruning plan."""

import numpy as np
import pytest
import torch

from raytp.config import config_from_dict
from raytp.data.subsets import probe_indices
from raytp.models.registry import make_backend
from raytp.models.single import train_single
from raytp.predict import TransferPredictor, build_pruning_plan
from raytp.profiling import compute_signatures, pair_features, task_vectors, textemb_table
from tests.conftest import small_config_dict


@pytest.fixture(scope="module")
def trained(disaster):
    cfg = config_from_dict(small_config_dict(train={"epochs": 2, "seeds": 1}))
    ds = disaster.select_tasks(cfg.data.tasks)
    backend = make_backend(cfg.backend)
    feats = backend.featurize(ds.texts)
    runs = {t: train_single(backend, feats, ds, t, cfg, cfg.train.lr, cfg.seed) for t in cfg.data.tasks}
    return cfg, ds, backend, feats, runs


def test_signatures_to_pruning_plan(trained, tmp_path):
    cfg, ds, backend, feats, runs = trained
    # 128 probe texts from the 400 validation labels in budget: every task has positives among them (LogME)
    probe = probe_indices(ds, cfg.data.model_copy(update={"probe_size": 128}))
    sigs = {t: compute_signatures(r.model, backend, feats, probe, t, cfg.profiling) for t, r in runs.items()}
    for s in sigs.values():
        assert s["responses/hidden"].shape == (len(probe), cfg.backend.hidden)
        assert torch.isfinite(s["layer_conductance/hidden"]).all()
    from raytp.models.encoders import embed_texts
    vec = task_vectors(ds, cfg.data.tasks, cfg.data, embed=lambda texts: embed_texts(texts, cache_dir=tmp_path))
    single = {t: {"f1_val": r.metrics["f1_val"], "hyperparameters": {"lr": r.lr}} for t, r in runs.items()}
    table = pair_features(sigs, dataset=ds, data_cfg=cfg.data, probe_idx=probe, single=single,
                          textemb=textemb_table(vec), top_k=cfg.profiling.top_k)
    assert len(table) == 6
    for col in ("label_phi", "logme", "textemb", "responses/hidden/cka", "layer_conductance/hidden/cosine",
                "input_ig/cosine", "input_ig/spearman", "input_ig/topk"):
        assert table[col].notna().all(), col
    assert (table["label_phi"] > 0).all()  # food, water, shelter co-occur in this corpus
    # same task against itself would be 1: different tasks are less similar but not unrelated
    assert (table["responses/hidden/cka"] < 1).all() and (table["responses/hidden/cka"] > 0).all()
    pred = TransferPredictor(mode="zero-shot", feature=cfg.prune.zero_shot_feature).fit(table)
    scored = table[["source", "target"]].assign(probability=pred.predict_proba(table)[:, 1])
    plan = build_pruning_plan(scored, cfg.search.grid, cfg.prune.model_copy(update={"policy": "top_k"}), single=single,
                              predictor=pred.to_dict())
    per_target = min(cfg.prune.top_k, len(cfg.data.tasks) - 1)
    assert len(plan.pairs) == 3 * per_target and {p["target"] for p in plan.pairs} == set(cfg.data.tasks)
    assert np.all([p["warm_start"]["lr"] == cfg.train.lr for p in plan.pairs])
