"""Exact replay of searches from a full grid's table (pure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytp.search.distributions import check_space, default_space
from raytp.search.simulate import (AshaSim, GridTable, breadth_then_depth_arm, first_point_arm, multifidelity_arm,
                                   tpe_arm)
from raytp.search.space import grid_points

GRID = {"mode": ["multitask", "sequential"], "lr_scale": [1.0, 0.3, 3.0], "source_weight": [1.0, 0.3],
        "source_ratio": [4.0, 1.0]}


def test_asha_sim_decides_like_ray():
    sim = AshaSim(grace=2, max_t=8, rf=3)
    assert sorted(sim.rungs) == [2, 6]
    assert sim.stop_epoch([0.3] * 8) == 8  # first at each rung: nothing to compare with
    assert sim.stop_epoch([0.1] * 8) == 2  # below the cutoff (0.3) at rung 2
    assert sim.stop_epoch([0.1] * 8, protect=True) == 8  # protected: recorded, never stopped
    assert sim.stop_epoch([0.5] * 4) == 4  # ended by itself before rung 6


def _table(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    points = grid_points(GRID)
    for s, t in [("a", "x"), ("b", "x"), ("a", "y"), ("c", "y")]:
        for i, _ in enumerate(points):
            n = int(rng.integers(3, 9))
            val = list(np.maximum.accumulate(rng.uniform(0.2, 0.6, n)))
            rows.append({"source": s, "target": t, "grid_point": i, "status": "ok", "curve_f1_val": val,
                         "curve_f1_test": [v - 0.01 for v in val], "curve_s": list(np.arange(1, n + 1) * 2.0),
                         "curve_example_epochs": [int(e) for e in np.arange(1, n + 1) * 900]})
    return pd.DataFrame(rows), {"x": {"f1_val": 0.4}, "y": {"f1_val": 0.3}}


def test_replayed_arms_spend_what_they_say():
    full, single = _table()
    table = GridTable(full, GRID, single)
    r = table.trial("a", "x", 0, epochs=2)
    assert r["epochs_run"] == 2 and r["compute_s"] == 4.0 and r["gain_val"] == r["f1_val"] - 0.4
    # an ASHA-stopped trial costs the example-epochs of the epochs it ran, less than the whole trial
    whole = table.trial("a", "x", 0)
    assert r["example_epochs"] == 1800 < whole["example_epochs"] == 900 * whole["epochs_run"]
    assert GridTable(full.drop(columns="curve_example_epochs"), GRID, single).trial("a", "x", 0)["example_epochs"] is None
    a = first_point_arm(table, [("a", "x"), ("c", "y"), ("b", "x")], budget=2)
    assert list(zip(a["source"], a["target"])) == [("a", "x"), ("c", "y")] and (a["grid_point"] == 0).all()
    alloc = [{"source": "a", "target": "x", "probability": 0.9, "trials": 5},
             {"source": "c", "target": "y", "probability": 0.8, "trials": 4}]
    space = check_space(default_space())
    no_asha = tpe_arm(table, space, GRID, alloc, seed=1)
    assert len(no_asha) == 9 and not no_asha["stopped_early"].any()
    assert (no_asha[no_asha["warm"]]["grid_point"] == 0).all() and no_asha["warm"].sum() == 2
    with_asha = tpe_arm(table, space, GRID, alloc, seed=1, asha=(2, 8))
    assert len(with_asha) == 9 and with_asha["compute_s"].sum() <= no_asha["compute_s"].sum() + 1e-9
    assert with_asha["example_epochs"].sum() <= no_asha["example_epochs"].sum()
    stopped = with_asha[with_asha["stopped_early"]]
    assert (stopped["example_epochs"] == 900 * stopped["epochs_run"]).all()
    assert tpe_arm(table, space, GRID, alloc, seed=1, asha=(2, 8)).equals(with_asha)  # seeded: reproducible
    f = multifidelity_arm(table, compute_budget=40.0, seed=0)
    assert f["compute_s"].sum() <= 40.0 and len(f) >= 2


def test_breadth_then_depth_goes_deep_only_where_a_warm_trial_gained():
    full, single = _table()
    table = GridTable(full, GRID, single)
    space = check_space(default_space())
    ranked = [("a", "x"), ("c", "y"), ("b", "x"), ("a", "y")]
    warm_gain = {p: table.trial(*p, 0)["gain_val"] for p in ranked}
    arm = breadth_then_depth_arm(table, space, GRID, ranked, budget=8, seed=1, asha=(2, 8))
    warm = arm[arm["warm"]]
    assert list(zip(warm["source"], warm["target"])) == ranked and (warm["grid_point"] == 0).all()  # half: breadth
    deep = arm[~arm["warm"]]
    assert all(g > 0 for g in warm_gain.values())  # every warm trial gained: the other half is spent, in depth
    assert len(deep) == 4 and set(zip(deep["source"], deep["target"])) == {("c", "y")}  # 4 // 3 = 1 pair: the best
    # one warm trial gained (target y's baseline raised): however large the budget, only that pair goes deep
    one = GridTable(full, GRID, {"x": {"f1_val": 0.99}, "y": {"f1_val": 0.5}})
    assert [p for p in ranked if one.trial(*p, 0)["gain_val"] > 0] == [("c", "y")]
    arm_one = breadth_then_depth_arm(one, space, GRID, ranked, budget=20, seed=1)
    deep_one = arm_one[~arm_one["warm"]]
    assert set(zip(deep_one["source"], deep_one["target"])) == {("c", "y")} and len(arm_one) == 20
    assert breadth_then_depth_arm(table, space, GRID, ranked, budget=8, seed=1, asha=(2, 8)).equals(arm)
    # nothing gained: the second half of the budget is not spent
    hopeless = GridTable(full, GRID, {"x": {"f1_val": 0.99}, "y": {"f1_val": 0.99}})
    assert len(breadth_then_depth_arm(hopeless, space, GRID, ranked, budget=8, seed=1)) == 4


def test_benchmark_ablation_replays_every_arm(tmp_path):
    """benchmarks/pruned_vs_full.py's ablation on a synthetic run directory: every arm, every seed, every figure."""
    import sys
    from pathlib import Path

    from raytp.config import config_from_dict
    from raytp.search.outcomes import add_gains
    from raytp.rundir import RunDir
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import pruned_vs_full as bench

    full, _ = _table()
    single = {t: {"f1_val": v, "f1_test": v - 0.01, "compute_s": 10.0, "hyperparameters": {"lr": 0.01}}
              for t, v in {"x": 0.4, "y": 0.3}.items()}
    full = full.assign(f1_val=full["curve_f1_val"].map(lambda c: c[-1]), f1_test=full["curve_f1_test"].map(lambda c: c[-1]),
                       compute_s=full["curve_s"].map(lambda c: c[-1]), stopped_early=False,
                       example_epochs=full["curve_example_epochs"].map(lambda c: c[-1]))
    full = add_gains(full, single)
    cfg = config_from_dict({"data": {"tasks": ["x", "y", "a", "b", "c"]}, "search": {"grid": GRID},
                            "prune": {"budget_fraction": 0.3}})
    run = RunDir(tmp_path / "run", create=True)
    run.write_text("config.yaml", cfg.to_yaml())
    run.write_json("single_task.json", {"tasks": single})
    run.write_parquet("search_full.parquet", full)
    preds = full[["source", "target"]].drop_duplicates().reset_index(drop=True)
    run.write_parquet("pair_predictions.parquet", preds.assign(probability=[0.9, 0.2, 0.6, 0.4],
                                                               score_label_phi=[0.1, 0.5, 0.3, 0.2]))
    run.write_json("search_full.json", {"noise": {"margin": 0.01}})
    run.write_json("report.json", {"compute_s": {"single_task_training": 20.0, "profiling_s": 1.0,
                                                 "pair_features_s": 1.0, "predictor_s": 0.1,
                                                 "full_total": 20.0 + float(full["compute_s"].sum())},
                                   "example_epochs": {"single_task_training": 5000, "pruned_search": 0,
                                                      "pruned_total": 5000,
                                                      "full_total": 5000 + int(full["example_epochs"].sum())}})
    out = bench.ablation(tmp_path / "run", seeds=2)
    assert out["budget_trials"] == int(0.3 * 4 * 15) and set(out["arms"]) == set("abcdefghi") | {"full"}
    assert out["arms"]["full"]["gain_captured_pooled_margin"] in (None, 1.0)
    for k in "bcdefghi":
        assert out["arms"][k]["seeds"] == 2 and out["arms"][k]["time_reduction"]["mean"] < 1
    assert out["arms"]["c"]["trials"]["mean"] == out["budget_trials"]
    for k in "abcdefghi":  # time reduction in both units for every arm; the full grid saves nothing in either
        tr = out["arms"][k]["time_reduction_example_epochs"]
        assert 0 < (tr["mean"] if isinstance(tr, dict) else tr) < 1, k
    assert out["arms"]["full"]["time_reduction_example_epochs"] == pytest.approx(0.0)
    assert out["full_total_example_epochs"] == 5000 + int(full["example_epochs"].sum())
    assert set(out["by_budget_fraction"]) == {"0.1", "0.2", "0.33"}


def test_a_sampled_hidden_size_and_source_ratio_reach_the_trainer(disaster):
    """``hidden`` builds the pair model with that hidden layer (features reused); ``source_ratio`` sets the source
    examples drawn per epoch."""
    from raytp.config import config_from_dict
    from raytp.models.registry import make_backend
    from raytp.search.pairs import PairTrainer
    from raytp.search.space import hp_columns, resolve_point
    from tests.conftest import small_config_dict
    cfg = config_from_dict(small_config_dict(data={"max_train": 60, "source_max_train": 200, "max_eval": 100},
                                             train={"epochs": 1, "seeds": 1}, backend={"hash_buckets": 2 ** 10}))
    ds = disaster.select_tasks(cfg.data.tasks)
    point = {"mode": "multitask", "lr_scale": 1.0, "source_ratio": 2.0, "hidden": 16}
    resolved = resolve_point(point, {"hyperparameters": {"lr": 0.01}}, cfg)
    assert (resolved.hidden, resolved.source_ratio) == (16, 2.0)
    assert hp_columns(point, resolved, cfg)["hp_hidden"] == 16
    backend = make_backend(cfg.backend.model_copy(update={"hidden": resolved.hidden}))
    features = make_backend(cfg.backend).featurize(ds.texts)
    t = PairTrainer(backend, features, ds, cfg, cfg.data.tasks[0], cfg.data.tasks[1], resolved, [0])
    assert t.source_part.per_epoch == 2 * len(t.target_part.idx)
    assert t.fitters[0].model.encoder.hidden_size == 16
    assert 0 <= t.finish()["f1_test"] <= 1
