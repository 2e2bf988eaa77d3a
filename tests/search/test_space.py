"""The search space helpers (pure)."""

from __future__ import annotations

from raytp.search.space import first_point


def test_first_point_is_each_hyperparameters_first_value():
    space = {"mode": ["multitask", "sequential"], "lr_scale": [1.0, 0.3], "epochs": [], "source_weight": 2.0}
    assert first_point(space) == {"mode": "multitask", "lr_scale": 1.0}  # no values / not a list: left out
    assert first_point({}) == {}
