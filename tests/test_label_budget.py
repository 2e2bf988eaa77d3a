"""The label budget, enforced: flipping every label outside it changes no pair feature and no pruning plan.

A user with the configured budget has, per task, its ``max_train`` target labels, its
``source_max_train`` source examples and its validation labels (``max_eval``) — nothing else.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest
import torch

from raytp.config import ExperimentConfig
from raytp.data.dataset import MultiTaskDataset
from raytp.data.subsets import in_budget, pair_label_examples, probe_indices, source_train, target_train
from raytp.pipeline import calibration_labels, predict_stage
from raytp.profiling.pair_features import label_phi, pair_features
from raytp.profiling.textemb import task_vectors, textemb_table
from raytp.rundir import RunDir
from raytp.rundir.names import PAIR_FEATURES, PRUNING

TASKS = ["a", "b", "c", "d"]
WORDS = {"a": "flood", "b": "water", "c": "food", "d": "roof"}


def _dataset(seed: int = 0) -> MultiTaskDataset:
    """Four correlated tasks over one corpus (every example annotated for every task)."""
    rng = np.random.default_rng(seed)
    n_train, n_val, n_test = 1200, 200, 200
    n = n_train + n_val + n_test
    z = rng.random(n) < 0.3
    labels = np.stack([(z ^ (rng.random(n) < p)).astype(np.int8) for p in (0.05, 0.15, 0.3, 0.45)], 1)
    texts = [" ".join([f"w{k}" for k in rng.integers(0, 40, 5)] + [WORDS[t] for j, t in enumerate(TASKS)
                                                                   if labels[i, j] == 1 and rng.random() < 0.7])
             for i in range(n)]
    split = np.array(["train"] * n_train + ["validation"] * n_val + ["test"] * n_test, dtype=object)
    return MultiTaskDataset(texts, list(TASKS), labels, split)


def _cfg() -> ExperimentConfig:
    return ExperimentConfig(data={"tasks": TASKS, "max_train": 60, "source_max_train": 400, "max_eval": 120,
                                  "probe_size": 48})


def _embed(texts) -> np.ndarray:
    """A real (if simple) text embedding: hashed word counts in 64 dimensions."""
    out = np.zeros((len(texts), 64))
    for i, t in enumerate(texts):
        for w in t.split():
            out[i, zlib.crc32(w.encode()) % 64] += 1.0
    return out


def _signatures(n_probe: int) -> dict:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(n_probe, 8))
    sigs = {}
    for i, t in enumerate(TASKS):
        resp = torch.from_numpy(base + 0.3 * (i + 1) * rng.normal(size=base.shape)).float()
        sigs[t] = {"responses/hidden": resp, "layer_conductance/hidden": resp.mean(0),
                   "layer_conductance_examples/hidden": resp * 0.5}
    return sigs


def _single() -> dict:
    return {t: {"f1_val": 0.3 + 0.05 * i, "f1_test": 0.3, "hyperparameters": {"lr": 0.01}}
            for i, t in enumerate(TASKS)}


def _features(ds: MultiTaskDataset, cfg: ExperimentConfig) -> pd.DataFrame:
    """The pair feature table exactly as ``features_stage`` builds it (TextEmb with ``_embed``)."""
    probe = probe_indices(ds, cfg.data)
    textemb = textemb_table(task_vectors(ds, TASKS, cfg.data, embed=_embed), TASKS)
    return pair_features(_signatures(len(probe)), dataset=ds, data_cfg=cfg.data, probe_idx=probe,
                         single=_single(), textemb=textemb, top_k=cfg.profiling.top_k, seed=cfg.seed, tasks=TASKS)


def _plan(tmp, features: pd.DataFrame, cfg: ExperimentConfig, **kw) -> dict:
    run = RunDir(tmp, create=True)
    run.write_json("single_task.json", {"tasks": _single()})
    run.write_parquet(PAIR_FEATURES, features)
    predict_stage(cfg, run, **kw)
    plan = run.read_json(PRUNING)
    plan.pop("predictor_s")
    return plan


def _flip_outside_budget(ds: MultiTaskDataset, cfg: ExperimentConfig) -> MultiTaskDataset:
    labels = ds.labels.copy()
    for j, t in enumerate(ds.tasks):
        out = ~in_budget(ds, t, cfg.data)
        labels[out, j] = 1 - labels[out, j]
    return MultiTaskDataset(list(ds.texts), list(ds.tasks), labels, ds.split.copy())


def test_out_of_budget_labels_change_no_feature_and_no_plan(tmp_path):
    cfg = _cfg()
    ds = _dataset()
    flipped = _flip_outside_budget(ds, cfg)
    # the flip is not vacuous: most labels are outside the budget, and phi over the whole split sees them
    assert (flipped.labels != ds.labels).mean() > 0.5
    assert label_phi(flipped, "a", "b") != pytest.approx(label_phi(ds, "a", "b"))
    probe = probe_indices(ds, cfg.data)  # the probe texts (LogME reads their labels) lie inside every task's budget
    assert len(probe) == cfg.data.probe_size and all(in_budget(ds, t, cfg.data)[probe].all() for t in TASKS)
    before, after = _features(ds, cfg), _features(flipped, cfg)
    assert before["label_phi"].notna().all() and before["logme"].notna().all()
    pd.testing.assert_frame_equal(before, after)
    assert _plan(tmp_path / "before", before, cfg) == _plan(tmp_path / "after", after, cfg)


def test_phi_reads_each_role_within_its_own_budget():
    """phi(s -> t) reads t only on its max_train target labels and s only on its source examples."""
    cfg = _cfg()
    ds = _dataset()
    assert len(pair_label_examples(ds, "a", "b", cfg.data)) == cfg.data.max_train  # nested budgets, one corpus
    labels = ds.labels.copy()
    j = ds.task_index("b")
    extra = np.setdiff1d(source_train(ds, "b", cfg.data), target_train(ds, "b", cfg.data))
    labels[extra, j] = 1 - labels[extra, j]  # b's labels that only its source role may read
    flipped = MultiTaskDataset(list(ds.texts), list(ds.tasks), labels, ds.split.copy())
    before = _features(ds, cfg).set_index(["source", "target"])
    after = _features(flipped, cfg).set_index(["source", "target"])
    as_target = [(s, "b") for s in TASKS if s != "b"]
    as_source = [("b", t) for t in TASKS if t != "b"]
    pd.testing.assert_series_equal(before.loc[as_target, "label_phi"], after.loc[as_target, "label_phi"])
    assert (before.loc[as_target, "target_positives"] == after.loc[as_target, "target_positives"]).all()
    assert (before.loc[as_source, "source_positives"] != after.loc[as_source, "source_positives"]).all()


def _calibration_trials(rng) -> pd.DataFrame:
    rows = []
    for i, (s, t) in enumerate([(s, t) for t in TASKS for s in TASKS if s != t][:8]):
        for k, mode in enumerate(("multitask", "sequential")):
            f1v = 0.3 + rng.normal(0, 0.05)
            rows.append({"trial_id": f"c{i}-{k}", "source": s, "target": t, "hp_mode": mode, "hp_lr": 0.01,
                         "hp_lr_scale": 1.0, "f1_val": f1v, "f1_val_sd": 0.01, "gain_val": f1v - 0.3,
                         "f1_test": 0.3 + rng.normal(0, 0.05), "f1_test_sd": abs(rng.normal(0, 0.03)),
                         "status": "ok", "compute_s": 1.0})
    df = pd.DataFrame(rows)
    df["gain"] = df["f1_test"] - 0.3
    df["beneficial"] = df["gain"] > 0.02
    return df


def test_learned_predictor_and_its_margin_never_read_test_labels(tmp_path):
    """The learned predictor's calibration labels and thresholds come from validation F1 only."""
    cfg = _cfg().model_copy(update={"prune": _cfg().prune.model_copy(update={"predictor": "learned"})})
    feats = _features(_dataset(), cfg)
    trials = _calibration_trials(np.random.default_rng(3))
    other = trials.copy()  # same validation results, other test results
    rng = np.random.default_rng(99)
    other["f1_test"] = 0.3 + rng.normal(0, 0.1, len(other))
    other["f1_test_sd"] = rng.random(len(other)) * 0.1
    other["gain"] = other["f1_test"] - 0.3
    other["beneficial"] = ~other["beneficial"]
    single = {"tasks": _single()}
    (lab1, m1), (lab2, m2) = (calibration_labels(cfg, feats, t, single["tasks"]) for t in (trials, other))
    assert m1 == m2 and lab1["beneficial"].any() and not lab1["beneficial"].all()
    pd.testing.assert_frame_equal(lab1, lab2)
    pairs = set(zip(trials["source"], trials["target"]))
    plans = [_plan(tmp_path / str(i), feats, cfg, labelled=lab, exclude=pairs, spent_trials=len(t), margin=m,
                   outcomes=t) for i, (lab, m, t) in enumerate(((lab1, m1, trials), (lab2, m2, other)))]
    assert plans[0] == plans[1] and plans[0]["predictor"]["mode_"] == "learned"
