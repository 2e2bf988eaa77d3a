"""Pruning policies and hyperparameter-space narrowing."""

import json

import pandas as pd
import pytest

from raytp.config import PruneConfig
from raytp.errors import PredictorError
from raytp.predict.prune import build_pruning_plan, hopeless_values, select_pairs, warm_start
from raytp.search.space import grid_points


@pytest.fixture
def scored():
    return pd.DataFrame({"source": ["a", "b", "c", "a", "b", "c"], "target": ["x", "x", "x", "y", "y", "y"],
                         "probability": [0.9, 0.2, 0.6, 0.1, 0.7, 0.4]})


def keys(pairs):
    return [(p["source"], p["target"]) for p in pairs]


def test_threshold_policy(scored):
    assert keys(select_pairs(scored, "threshold", threshold=0.5)) == [("a", "x"), ("b", "y"), ("c", "x")]
    assert select_pairs(scored, "threshold", threshold=0.95) == []


def test_top_k_policy_is_per_target(scored):
    assert sorted(keys(select_pairs(scored, "top_k", top_k=1))) == [("a", "x"), ("b", "y")]
    kept = select_pairs(scored, "top_k", top_k=2)
    assert sorted(keys(kept)) == [("a", "x"), ("b", "y"), ("c", "x"), ("c", "y")]
    assert [p["probability"] for p in kept] == sorted([p["probability"] for p in kept], reverse=True)


def test_budget_policy_counts_trials(scored):
    # full search: 6 pairs x 4 grid points = 24 trials; 25% = 6 trials = 3 pairs at 2 trials each
    assert keys(select_pairs(scored, "budget", budget_fraction=0.25, trials_per_pair=2, full_trials=24)) == \
        [("a", "x"), ("b", "y"), ("c", "x")]
    # trials already spent on calibration come out of the budget
    assert len(select_pairs(scored, "budget", budget_fraction=0.25, trials_per_pair=2, full_trials=24,
                            spent_trials=4)) == 1
    with pytest.raises(PredictorError):
        select_pairs(scored, "budget", budget_fraction=0.25)


def test_bad_requests(scored):
    with pytest.raises(PredictorError):
        select_pairs(scored, "everything")
    with pytest.raises(PredictorError):
        select_pairs(scored.drop(columns="probability"), "top_k")
    with pytest.raises(PredictorError):
        select_pairs(pd.concat([scored, scored.head(1)]), "top_k")


def test_hopeless_values_dropped_but_never_all():
    grid = {"mode": ["multitask", "sequential"], "source_weight": [0.5, 1.0]}
    outcomes = pd.DataFrame({"hp_mode": ["multitask", "multitask", "sequential", "sequential"],
                             "hp_source_weight": [0.5, 1.0, 0.5, 1.0], "gain_val": [-0.05, -0.05, 0.04, 0.04]})
    assert hopeless_values(grid, outcomes, margin=0.01) == {"mode": ["multitask"]}
    all_bad = outcomes.assign(gain_val=[-0.05, -0.04, -0.03, -0.02], hp_source_weight=[0.5] * 4)
    assert hopeless_values(grid, all_bad, margin=0.01)["mode"] == ["multitask"]  # the best value survives
    assert hopeless_values(grid, None, margin=0.01) == {}


def test_warm_start_from_single_task_lr():
    hps = {"lr": 0.004, "epochs": 5}
    assert warm_start({"mode": ["multitask"]}, hps) == {"lr": 0.004}
    assert warm_start({"lr": [1e-3, 1e-2, 1e-1]}, hps) == {"lr": 1e-2}  # nearest in log scale
    assert warm_start({"lr": [1e-3]}, None) == {}


def test_build_plan_is_json_ready(scored):
    grid = {"mode": ["multitask", "sequential"], "source_weight": [0.5, 1.0]}
    outcomes = pd.DataFrame({"hp_mode": ["multitask"] * 2 + ["sequential"] * 2, "gain": [-0.05, -0.03, 0.02, 0.0]})
    single = {"x": {"hyperparameters": {"lr": 0.01}}, "y": {"hyperparameters": {"lr": 0.02}}}
    plan = build_pruning_plan(scored, grid, PruneConfig(policy="top_k", top_k=1, trials_per_pair=4), single=single,
                              outcomes=outcomes, margin=0.01, predictor={"mode": "zero-shot"})
    json.dumps(plan.to_dict(), allow_nan=False)
    assert sorted(keys(plan.pairs)) == [("a", "x"), ("b", "y")]
    assert plan.space == {"mode": ["sequential"], "source_weight": [0.5, 1.0]}
    assert plan.num_samples == 2 * 1  # 4 trials per pair requested, one point left (sequential takes no weight)
    assert plan.pairs_total == 6 and plan.full_trials == 6 * 3  # multitask x 2 weights + sequential
    assert {p["target"]: p["warm_start"]["lr"] for p in plan.pairs} == {"x": 0.01, "y": 0.02}
    assert plan.policy["name"] == "top_k" and plan.predictor == {"mode": "zero-shot"}


def test_budget_counts_the_real_grid_with_source_weight(scored):
    """``source_weight`` multiplies only multitask points: 3 points per pair here, not 2 x 2."""
    grid = {"mode": ["multitask", "sequential"], "source_weight": [0.5, 1.0]}
    assert len(grid_points(grid)) == 3
    cfg = PruneConfig(policy="budget", budget_fraction=0.25, trials_per_pair=1)
    plan = build_pruning_plan(scored, grid, cfg)
    assert plan.full_trials == len(scored) * 3 == 18
    assert len(plan.pairs) == 4  # floor(0.25 x 18) trials, one per kept pair (2 x 2 points would allow 6)
