"""The transfer atlas as the learned predictor's knowledge: leave-tasks-out, enforced in code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytp.config import ordered_pairs
from raytp.errors import PredictorError
from raytp.predict import atlas as atlas_mod
from raytp.predict.atlas import (feature_columns, fit_atlas_predictor, leave_tasks_out, load_atlas, overlapping,
                                 task_keys)

MARK = 999.0  # the feature value only rows involving a run task carry


def _atlas(tasks: list[str], run: list[str], corpus: str = "a") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for s, t in ordered_pairs(tasks):
        inside = s in run or t in run
        x = rng.normal()
        rows.append({"source": s, "target": t, "corpus": corpus, "label_phi": MARK if inside else x,
                     "logme": rng.normal(), "random": rng.random(), "gain_val": x / 10, "gain": x / 10,
                     "train_s": 1.0, "beneficial": x > 0.3, "beneficial_test": x > 0.3})
    return pd.DataFrame(rows)


TASKS = [f"t{i}" for i in range(8)]
RUN = ["t0", "t1", "t2"]


def test_no_row_involving_a_run_task_is_trained_on():
    atlas = _atlas(TASKS, RUN)
    pred = fit_atlas_predictor(atlas, RUN, feature="label_phi")
    outside = atlas[~atlas["source"].isin(RUN) & ~atlas["target"].isin(RUN)]
    assert pred.mode_ == "learned" and pred.n_train_ == len(outside) == 5 * 4
    assert MARK not in pred.train_X_  # no overlapping row's features reached the fitted model
    assert pred.feature_names_ == ["label_phi", "logme"]  # outcomes, ids and random are never features


def test_leave_tasks_out_rows_are_disjoint_from_the_run():
    kept = leave_tasks_out(_atlas(TASKS, RUN), RUN)
    assert not ({*kept["source"], *kept["target"]} & set(RUN)) and len(kept) == 20


def test_a_slipped_overlapping_row_is_refused(monkeypatch):
    atlas = _atlas(TASKS, RUN)
    monkeypatch.setattr(atlas_mod, "leave_tasks_out", lambda a, tasks, field="prune.atlas": a)  # a broken filter
    with pytest.raises(PredictorError, match="reached the training rows"):
        fit_atlas_predictor(atlas, RUN)


def test_nothing_left_is_refused():
    with pytest.raises(PredictorError, match="nothing left to learn from"):
        fit_atlas_predictor(_atlas(["t0", "t1", "t2", "t3"], ["t0", "t1", "t2"]), ["t0", "t1", "t2"])


def test_corpus_prefixes_are_checked_across_corpora():
    # trained on corpus b's atlas, ranking corpus a's tasks: disjoint names, everything is kept
    other = _atlas(["x0", "x1", "x2", "x3"], [], corpus="b")
    assert len(leave_tasks_out(other, RUN)) == 12
    # a run task named with a prefix still excludes the unprefixed atlas task (and vice versa)
    assert overlapping(pd.DataFrame({"source": ["t0", "b:x0"], "target": ["t5", "x1"]}), ["a:t0", "x0"]).tolist() == [
        True, True]
    assert task_keys(["a:t0"]) == {"a:t0", "t0"}


def test_columns_limit_the_features_to_the_runs():
    pred = fit_atlas_predictor(_atlas(TASKS, RUN), RUN, columns=["source", "target", "logme"])
    assert pred.feature_names_ == ["logme"]
    with pytest.raises(PredictorError, match="shares no pair-feature column"):
        fit_atlas_predictor(_atlas(TASKS, RUN), RUN, columns=["textemb"])


def test_load_round_trip_and_bad_paths(tmp_path):
    atlas = _atlas(TASKS, RUN)
    path = tmp_path / "atlas_a.csv.gz"
    atlas.to_csv(path, index=False)
    back = load_atlas(path)
    assert back["beneficial"].dtype == bool and back["beneficial"].tolist() == atlas["beneficial"].tolist()
    assert feature_columns(back) == ["label_phi", "logme"]
    with pytest.raises(PredictorError, match=r"prune.atlas: .*missing.csv.gz: no such atlas file"):
        load_atlas(tmp_path / "missing.csv.gz")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(PredictorError, match="not an atlas table"):
        load_atlas(tmp_path / "bad.csv")
    (tmp_path / "bin.parquet").write_bytes(b"\x00garbage")
    with pytest.raises(PredictorError, match="cannot read"):
        load_atlas(tmp_path / "bin.parquet")


def test_the_config_path_trains_leave_tasks_out(tmp_path):
    from raytp.config import ExperimentConfig
    from raytp.pipeline import fit_predictor
    path = tmp_path / "atlas.csv.gz"
    _atlas(TASKS, RUN).to_csv(path, index=False)
    cfg = ExperimentConfig(data={"tasks": RUN}, prune={"predictor": "atlas", "atlas": str(path)})
    run_features = _atlas(RUN, RUN)[["source", "target", "label_phi", "logme"]]
    pred = fit_predictor(cfg, run_features, None)
    assert pred.mode_ == "learned" and pred.n_train_ == 20 and MARK not in pred.train_X_
    assert pred.predict_proba(run_features).shape == (6, 2)


def test_evaluate_across_corpora(tmp_path, capsys):
    import json
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import atlas as bench
    a, b = tmp_path / "atlas_a.csv.gz", tmp_path / "atlas_b.csv.gz"
    _atlas(TASKS, []).to_csv(a, index=False)
    _atlas([f"x{i}" for i in range(6)], [], corpus="b").to_csv(b, index=False)
    common = ["--out", str(tmp_path / "out"), "--quick", "--warm-cache"]
    assert bench.main(["evaluate", "--train-atlas", str(b), "--atlas", str(a), "--name", "b_to_a", *common]) == 0
    out = json.loads((tmp_path / "out" / "atlas_eval_b_to_a.json").read_text())
    assert out["pairs_ranked"] == 56 and out["train_rows"] == 30 and set(out["train_tasks"]).isdisjoint(TASKS)
    assert {"atlas_predictor", "label_phi", "logme", "random"} <= set(out["results"])
    assert "minus_label_phi" in out["results"]["atlas_predictor"]
    # within one atlas, ranking its own tasks: refused, nothing is left to learn from
    assert bench.main(["evaluate", "--atlas", str(a), *common]) == 2
    assert "nothing left to learn from" in capsys.readouterr().err


def test_evaluate_folds_leave_each_group_out(tmp_path):
    import json
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import atlas as bench
    a = tmp_path / "atlas_a.csv.gz"
    tasks = [f"t{i}" for i in range(12)]
    _atlas(tasks, []).to_csv(a, index=False)
    assert bench.main(["evaluate", "--atlas", str(a), "--folds", "3", "--name", "cv", "--out", str(tmp_path / "out"),
                       "--quick", "--warm-cache"]) == 0
    out = json.loads((tmp_path / "out" / "atlas_eval_cv.json").read_text())
    assert out["pairs_ranked"] == 3 * 4 * 3  # pairs within each group of 4 tasks
    for f in out["fold_details"]:
        assert set(f["train_tasks"]).isdisjoint(f["tasks"]) and f["train_rows"] == 8 * 7


def test_evaluate_zero_shot_only_ranks_every_pair_and_pairs_two_rankers(tmp_path):
    import json
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import atlas as bench
    a = tmp_path / "atlas_a.csv.gz"
    _atlas(TASKS, []).to_csv(a, index=False)
    common = ["--out", str(tmp_path / "out"), "--quick", "--warm-cache"]
    assert bench.main(["evaluate", "--atlas", str(a), "--zero-shot-only", "--paired", "label_phi,random",
                       "--name", "zs", *common]) == 0
    out = json.loads((tmp_path / "out" / "atlas_eval_zs.json").read_text())
    assert out["pairs_ranked"] == 56 and "atlas_predictor" not in out["results"]  # nothing fitted, every pair
    d = out["paired"]["auc_a_minus_b"]
    phi, rnd = out["auc_point"]["label_phi"], out["auc_point"]["random"]
    assert out["paired"]["a"] == "label_phi" and d["estimate"] == pytest.approx(phi - rnd)
    assert d["low"] <= d["estimate"] <= d["high"]
    with pytest.raises(SystemExit, match="rankers are"):
        bench.main(["evaluate", "--atlas", str(a), "--zero-shot-only", "--paired", "nope,random", "--name", "x",
                    *common])
