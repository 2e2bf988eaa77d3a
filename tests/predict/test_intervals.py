"""Bootstrap intervals: they contain the estimate, narrow with more data, repeat for a seed."""

from __future__ import annotations

import numpy as np
import pytest

from raytp.predict.intervals import auc, bootstrap, ranking_intervals, resample, side_intervals, side_stats


def _pairs(n_targets: int, per_target: int = 7, seed: int = 0):
    """Pairs whose gain follows a noisy score: a real but imperfect ranking."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_targets), per_target)
    signal = rng.normal(size=len(groups))
    gains = 0.02 * signal + 0.02 * rng.normal(size=len(groups))
    return signal, gains > 0.02, gains, groups


def test_auc_matches_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(1)
    s = rng.integers(0, 4, 50).astype(float)
    y = rng.random(50) < 0.3
    assert auc(s, y) == pytest.approx(roc_auc_score(y, s))
    assert np.isnan(auc(s, np.zeros(50, dtype=bool)))


def test_resample_draws_targets_then_pairs_within_them():
    groups = np.array(["a"] * 3 + ["b"] * 5)
    idx, gid = resample(groups, np.random.default_rng(0))
    assert len(np.unique(gid)) == 2
    for g in np.unique(gid):  # every drawn target keeps its size and only its own rows
        rows = idx[gid == g]
        assert len(set(groups[rows])) == 1 and len(rows) == (groups == groups[rows[0]]).sum()
    idx, gid = resample(groups, np.random.default_rng(0), within=False)
    for g in np.unique(gid):  # targets only: each drawn target is whole
        assert sorted(idx[gid == g]) == list(np.flatnonzero(groups == groups[idx[gid == g][0]]))


def test_intervals_contain_the_estimate_and_repeat_for_a_seed():
    s, y, g, grp = _pairs(8)
    a = ranking_intervals(s, y, g, grp, n_boot=300, seed=3)
    b = ranking_intervals(s, y, g, grp, n_boot=300, seed=3)
    c = ranking_intervals(s, y, g, grp, n_boot=300, seed=4)
    assert a == b and a != c
    for name in ("auc", "regret_at_3", "ndcg_at_3"):
        r = a[name]
        assert r["low"] <= r["estimate"] <= r["high"] and r["low"] < r["high"], (name, r)
        assert r["level"] == 0.95 and r["n"] > 250
    assert a["auc"]["estimate"] == pytest.approx(auc(s, y))


def test_intervals_narrow_with_more_targets():
    small = ranking_intervals(*_pairs(6, seed=5), n_boot=300)["auc"]
    large = ranking_intervals(*_pairs(60, seed=5), n_boot=300)["auc"]
    assert (large["high"] - large["low"]) < 0.6 * (small["high"] - small["low"])


def test_paired_difference_with_itself_is_exactly_zero_and_a_worse_score_is_below():
    s, y, g, grp = _pairs(20, seed=2)
    noise = np.random.default_rng(9).normal(size=len(s))
    r = ranking_intervals(s, y, g, grp, against={"self": s, "noise": noise}, n_boot=300)
    assert r["auc_minus_self"]["low"] == r["auc_minus_self"]["high"] == 0.0
    assert r["auc_minus_noise"]["low"] > 0  # the informative score beats a random one, interval and all


def test_side_figures_on_a_hand_table():
    single = [0.50, 0.50, 0.50, 0.50]
    full = [0.60, 0.52, 0.50, 0.55]  # gains 0.10, 0.02, 0, 0.05
    side = [0.60, 0.51, 0.49, 0.50]  # captured 0.10, 0.01, -, 0.00
    st = side_stats(single, full, side, margin=0.03)
    everything, ids = np.arange(4), np.arange(4)
    assert st["f1_loss"](everything, ids) == pytest.approx((0 + 0.01 + 0.01 + 0.05) / 4)
    assert st["gain_captured_pooled"](everything, ids) == pytest.approx(0.11 / 0.17)
    assert st["gain_captured_pooled_beyond_margin"](everything, ids) == pytest.approx(0.10 / 0.15)
    assert st["gain_captured_mean"](everything, ids) == pytest.approx((1 + 0.5 + 0) / 3)
    r = side_intervals(single, full, side, margin=0.03, n_boot=400)
    assert r["f1_loss"]["low"] <= r["f1_loss"]["estimate"] <= r["f1_loss"]["high"]
    assert r["gain_captured_pooled"]["low"] <= r["gain_captured_pooled"]["estimate"] <= r["gain_captured_pooled"]["high"]


def test_too_few_finite_replicates_give_no_interval():
    r = bootstrap({"nan": lambda i, g: float("nan")}, np.arange(5), n_boot=50)
    assert r["nan"] == {"estimate": None, "low": None, "high": None, "level": 0.95, "n": 0}
