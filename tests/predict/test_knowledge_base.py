"""The knowledge base of earlier runs: pair features joined with each run's searched outcomes."""

from __future__ import annotations

import pandas as pd
import pytest

from raytp.config import ExperimentConfig
from raytp.errors import RunDirError
from raytp.pipeline import knowledge_base
from raytp.rundir.names import PAIR_FEATURES
from raytp.rundir import RunDir


def _run(path, gains: dict[tuple[str, str], float], pruned: dict[tuple[str, str], float] | None = None) -> str:
    run = RunDir(path, create=True)
    run.write_text("config.yaml", ExperimentConfig(data={"tasks": ["food", "water"]}).to_yaml())
    run.write_json("single_task.json", {"tasks": {t: {"f1_val": 0.5, "f1_test": 0.5, "f1_val_sd": 0.0}
                                                  for t in ("food", "water")}})
    pairs = list(gains)
    run.write_parquet(PAIR_FEATURES, pd.DataFrame({"source": [s for s, _ in pairs], "target": [t for _, t in pairs],
                                                   "label_phi": [0.1 * i for i in range(len(pairs))]}))

    def table(g: dict) -> pd.DataFrame:
        return pd.DataFrame([{"trial_id": f"{s}-{t}", "source": s, "target": t, "f1_val": 0.5 + v, "f1_test": 0.5 + v,
                              "gain": v, "gain_val": v, "beneficial": v > 0.03, "harmful": v < -0.03, "status": "ok"}
                             for (s, t), v in g.items()])
    run.write_parquet("search_full.parquet", table(gains))
    if pruned:
        run.write_parquet("search_pruned.parquet", table(pruned))
    return str(run.root)


def test_labels_come_from_validation_not_test(tmp_path):
    a = _run(tmp_path / "a", {("food", "water"): 0.05, ("water", "food"): -0.04})
    run = RunDir(a)
    full = run.read_parquet("search_full.parquet")
    full["f1_test"], full["gain"], full["beneficial"] = 0.0, -0.5, False  # test results outside the label budget
    run.write_parquet("search_full.parquet", full)
    kb = knowledge_base([a]).set_index(["source", "target"])
    assert kb.loc[("food", "water"), "beneficial"] and not kb.loc[("water", "food"), "beneficial"]


def test_runs_with_the_same_task_names_all_count(tmp_path):
    a = _run(tmp_path / "a", {("food", "water"): 0.05, ("water", "food"): -0.04})
    b = _run(tmp_path / "b", {("food", "water"): -0.05, ("water", "food"): 0.00})  # other data, same names
    kb = knowledge_base([a, b])
    assert len(kb) == 4
    assert sorted(kb.loc[(kb["source"] == "food") & (kb["target"] == "water"), "beneficial"]) == [False, True]


def test_a_pair_searched_twice_in_one_run_counts_once_with_the_full_outcome(tmp_path):
    a = _run(tmp_path / "a", {("food", "water"): 0.05, ("water", "food"): -0.04},
             pruned={("food", "water"): -0.01})
    kb = knowledge_base([a])
    assert len(kb) == 2 and kb.set_index(["source", "target"]).loc[("food", "water"), "gain_val"] == pytest.approx(0.05)


def test_no_searched_pairs_is_an_error(tmp_path):
    run = RunDir(tmp_path / "empty", create=True)
    run.write_parquet(PAIR_FEATURES, pd.DataFrame({"source": ["a"], "target": ["b"]}))
    with pytest.raises(RunDirError, match="no searched pairs"):
        knowledge_base([str(run.root)])
