"""Pair training on a small real subset: both modes, gains against the target's baseline."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from raytp.config import config_from_dict
from raytp.search.outcomes import add_gains, label_rows, noise_margin, pair_outcomes
from raytp.search.pairs import PairPoint, PairTrainer, SourceCache, shuffled_labels, train_pair
from tests.conftest import small_config_dict
from tests.search.rundir import single_task_results


@pytest.fixture(scope="module")
def setup(disaster):
    cfg = config_from_dict(small_config_dict(train={"epochs": 3, "patience": 2, "seeds": 2, "batch_size": 32}))
    ds = disaster.select_tasks(cfg.data.tasks)
    single, backend, features = single_task_results(cfg, ds)
    return cfg, ds, single, backend, features


@pytest.mark.parametrize("mode", ["multitask", "sequential"])
def test_both_modes_train_and_report_each_epoch(setup, mode):
    cfg, ds, single, backend, features = setup
    base = single.tasks["water"]
    tr = PairTrainer(backend, features, ds, cfg, "food", "water", PairPoint(mode, 1e-2, 3, 0.5), cfg.seeds(),
                     baseline_f1_val=base["f1_val"])
    reports = []
    while not tr.done:
        reports.append(tr.step())
    assert 1 <= len(reports) <= 3 and [r["epoch"] for r in reports] == list(range(1, len(reports) + 1))
    last = reports[-1]
    assert 0.0 < last["f1_val"] <= 1 and 0.0 < last["f1_test"] <= 1
    assert len(last["f1_test_seeds"]) == 2 and last["f1_test_sd"] >= 0
    assert math.isclose(last["gain_val"], last["f1_val"] - base["f1_val"])
    # the reported validation F1 is the best so far: it never decreases
    assert all(a["f1_val"] <= b["f1_val"] + 1e-12 for a, b in zip(reports, reports[1:]))
    assert last["mode"] == mode and last["target"] == "water" and last["source"] == "food"


def test_sequential_source_phase_is_cached_per_source(setup):
    cfg, ds, single, backend, features = setup
    cache = SourceCache()
    point = PairPoint("sequential", 1e-2, 2)
    a = train_pair(backend, features, ds, cfg, "food", "water", point, cache=cache)
    b = train_pair(backend, features, ds, cfg, "food", "shelter", point, cache=cache)
    assert cache.misses == 2 and cache.hits == 2  # 2 seeds trained once, reused for the second target
    assert a["source_seconds"] > 0 and b["source_seconds"] < a["source_seconds"]
    c = train_pair(backend, features, ds, cfg, "food", "water", point, cache=SourceCache())
    assert c["f1_test_seeds"] == a["f1_test_seeds"]  # a cache hit changes nothing but time
    # example-epochs charge the source phase whether cached or not: the figure is the same in any worker order
    assert b["source_example_epochs"] == a["source_example_epochs"] > 0
    assert c["example_epochs"] == a["example_epochs"]


def test_example_epochs_are_deterministic_where_seconds_are_not(setup):
    """Two identical trainings: the same example-epochs (training passes, every seed and epoch) while their
    seconds differ; an early-stopped trainer counts only the epochs it trained."""
    cfg, ds, single, backend, features = setup
    point = PairPoint("multitask", 1e-2, 3, 0.5)
    runs = [train_pair(backend, features, ds, cfg, "food", "water", point) for _ in range(2)]
    assert runs[0]["example_epochs"] == runs[1]["example_epochs"] > 0
    assert runs[0]["eval_examples"] == runs[1]["eval_examples"] > 0
    assert runs[0]["seconds"] != runs[1]["seconds"]
    tr = PairTrainer(backend, features, ds, cfg, "food", "water", point, cfg.seeds())
    first = tr.step()  # stopped after one epoch, as ASHA would
    assert 0 < first["example_epochs"] < runs[0]["example_epochs"]


def test_shuffled_source_keeps_size_and_positive_rate(setup):
    cfg, ds, *_ = setup
    from raytp.data.subsets import source_train
    y = ds.y("food", source_train(ds, "food", cfg.data))
    z = shuffled_labels(ds, "food", cfg)
    assert len(z) == len(y) and z.sum() == y.sum() and not np.array_equal(z, y)


def test_gain_uses_the_target_baseline_not_the_source():
    single = {"food": {"f1_val": 0.50, "f1_test": 0.48, "f1_test_sd": 0.01},
              "water": {"f1_val": 0.30, "f1_test": 0.32, "f1_test_sd": 0.01}}
    df = pd.DataFrame([{"trial_id": "a", "source": "food", "target": "water", "f1_val": 0.36, "f1_test": 0.37,
                        "f1_test_sd": 0.01, "status": "ok"},
                       {"trial_id": "b", "source": "water", "target": "food", "f1_val": 0.49, "f1_test": 0.44,
                        "f1_test_sd": 0.01, "status": "ok"}])
    df = add_gains(df, single)
    assert df["gain"].tolist() == pytest.approx([0.05, -0.04])  # against water's 0.32 and food's 0.48
    assert df["gain_val"].tolist() == pytest.approx([0.06, -0.01])
    df = label_rows(df, margin=0.02)
    assert df["beneficial"].tolist() == [True, False] and df["harmful"].tolist() == [False, True]
    pairs = pair_outcomes(df, 0.02)
    assert dict(zip(pairs["target"], pairs["label"])) == {"water": "beneficial", "food": "harmful"}


def test_noise_margin_rule():
    cfg = config_from_dict({"search": {"margin_sd": 2.0, "min_margin": 0.01}})
    assert noise_margin(0.015, 3, cfg.search) == pytest.approx(2 * 0.015 * math.sqrt(2 / 3))
    assert noise_margin(0.001, 3, cfg.search) == 0.01
