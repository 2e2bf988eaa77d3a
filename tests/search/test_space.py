"""The search space helpers (pure)."""

from __future__ import annotations

from raytp.search.space import first_point


def test_first_point_is_each_hyperparameters_first_value():
    space = {"mode": ["multitask", "sequential"], "lr_scale": [1.0, 0.3], "epochs": [], "source_weight": 2.0}
    assert first_point(space) == {"mode": "multitask", "lr_scale": 1.0}  # no values / not a list: left out
    assert first_point({}) == {}


def test_default_grid_has_at_least_12_points_and_discretises_the_space():
    from raytp.config import load_config
    from raytp.search.distributions import check_grid_in_space
    from raytp.search.space import grid_points
    cfg = load_config()
    points = grid_points(cfg.search.grid)
    assert len(points) >= 12
    assert points[0] == {"mode": "multitask", "lr_scale": 1.0, "source_weight": 1.0, "source_ratio": 4.0}
    assert all("source_weight" not in p and "source_ratio" not in p for p in points if p["mode"] == "sequential")
    check_grid_in_space(cfg.search.grid, cfg.search.space)  # no error


def test_space_sampling_is_conditional_and_inside_the_ranges():
    import optuna

    from raytp.search.distributions import check_space, default_space, suggest
    space = check_space(default_space() | {"hidden": {"type": "logint", "low": 32, "high": 256}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    modes = set()
    for _ in range(30):
        p = suggest(study.ask(), space, {"epochs": 8})
        modes.add(p["mode"])
        assert 0.1 <= p["lr_scale"] <= 3.0 and 32 <= p["hidden"] <= 256 and p["epochs"] == 8
        assert ("source_weight" in p) == ("source_ratio" in p) == (p["mode"] == "multitask")
    assert modes == {"multitask", "sequential"}


def test_space_errors_name_the_key():
    import pytest

    from raytp.config import config_from_dict
    from raytp.errors import ConfigError
    cases = [({"lr_scale": {"type": "normal", "low": 0.1, "high": 1}}, "search.space.lr_scale: unknown distribution"),
             ({"lr_scale": {"type": "uniform", "low": 2, "high": 1}}, "search.space.lr_scale: low 2 > high 1"),
             ({"source_ratio": {"type": "loguniform", "low": 0, "high": 4}}, "search.space.source_ratio: a log range"),
             ({"source_weight": {"type": "uniform", "low": 0.1, "high": 1, "when": {"mode": "sequential"}}},
              "search.space.source_weight: only exists under mode multitask"),
             ({"mode": {"type": "choice", "values": ["joint"]}}, "search.space.mode: unknown mode"),
             ({"epochs": {"type": "uniform", "low": 1, "high": 4}}, "search.space.epochs: 'resource'"),
             ({"dropout": {"type": "uniform", "low": 0, "high": 0.5}}, "search.space.dropout: unknown hyperparameter")]
    for space, fragment in cases:
        with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
            config_from_dict({"search": {"space": space}})
    with pytest.raises(ConfigError, match=r"search\.space\.hidden: the transformer backend"):
        config_from_dict({"backend": {"name": "transformer"},
                          "search": {"space": {"mode": {"type": "choice", "values": ["multitask"]},
                                               "hidden": {"type": "int", "low": 8, "high": 16}},
                                     "grid": {"mode": ["multitask"]}}})


def test_schedule_and_target_studies_learn_per_target():
    from raytp.search.distributions import check_space, default_space
    from raytp.search.tpe import TargetStudies, schedule
    alloc = [{"source": "a", "target": "x", "probability": 0.9, "trials": 3},
             {"source": "b", "target": "x", "probability": 0.5, "trials": 2},
             {"source": "a", "target": "y", "probability": 0.7, "trials": 2}]
    order = schedule(alloc)
    assert order == {"x": [("a", True), ("b", True), ("a", False), ("b", False), ("a", False)],
                     "y": [("a", True), ("a", False)]}
    warm = {"mode": "multitask", "lr_scale": 1.0, "source_weight": 1.0, "source_ratio": 4.0}
    st = TargetStudies(check_space(default_space()), alloc, seed=0, warm=warm, fixed={"epochs": 8})
    asked = []
    while (t := st.ask(str(len(asked)))) is not None:
        asked.append(t)
        st.tell(str(len(asked) - 1), 0.1 if t["point"]["mode"] == "multitask" else -0.1)
    assert len(asked) == st.total == 7
    assert [a["target"] for a in asked[:4]] == ["x", "y", "x", "y"]  # targets take turns
    assert all(a["point"] == {**warm, "epochs": 8} for a in asked if a["warm"])
    assert {t: len(s.trials) for t, s in st.studies.items()} == {"x": 5, "y": 2}  # each study sees only its target
