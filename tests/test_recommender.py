"""The pure recommender against real run directories written through RunDir."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from raytp.errors import RaytpError, RunDirError
from raytp.serving.recommender import QueryError, Recommender, UnknownTaskError
from raytp.rundir import RunDir
from tests.recommender_runs import TASKS, write_run


@pytest.fixture
def full_run(tmp_path):
    write_run(tmp_path / "run", searches=("pruned", "full"), failed_pair=("water", "food"))
    return tmp_path / "run"


def test_tasks_match_single_task_json(full_run):
    rec = Recommender.from_run_dir(full_run)
    st = RunDir(full_run).read_json("single_task.json")["tasks"]
    names = [t["name"] for t in rec.tasks()]
    assert names == sorted(TASKS)
    for t in rec.tasks():
        assert t["f1_test"] == pytest.approx(st[t["name"]]["f1_test"])
        assert t["hyperparameters"] == st[t["name"]]["hyperparameters"]


def test_recommend_ranks_by_probability_and_marks_basis(full_run):
    rec = Recommender.from_run_dir(full_run)
    preds = RunDir(full_run).read_parquet("pair_predictions.parquet")
    out = rec.recommend("food", k=len(TASKS) - 1)
    assert out["target"] == "food"
    recs = out["recommendations"]
    expected = preds[preds.target == "food"].sort_values("probability", ascending=False)
    assert [r["source"] for r in recs] == list(expected.source)
    assert [r["probability"] for r in recs] == pytest.approx(list(expected.probability))
    # the full search covers every pair except the one whose trials all failed
    for r in recs:
        if r["source"] == "water":
            assert r["basis"] == "predicted" and r["observed_gain"] is None and r["hyperparameters"] is None
        else:
            assert r["basis"] == "measured" and isinstance(r["observed_gain"], float)
            assert set(r["hyperparameters"]) == {"mode", "source_weight", "lr"}


def test_observed_gain_is_gain_of_best_val_trial(full_run):
    rec = Recommender.from_run_dir(full_run)
    run = RunDir(full_run)
    trials = pd.concat([run.read_parquet("search_pruned.parquet"), run.read_parquet("search_full.parquet")])
    g = trials[(trials.source == "shelter") & (trials.target == "food") & (trials.status == "ok")]
    best = g.loc[g.f1_val.idxmax()]
    p = rec.pair("shelter", "food")
    assert p["observed_gain"] == pytest.approx(best.gain)
    assert p["hyperparameters"]["mode"] == best.hp_mode
    assert p["search"]["trials"] == len(trials[(trials.source == "shelter") & (trials.target == "food")])
    assert p["baseline"]["f1_test"] == pytest.approx(best.baseline_f1_test)


def test_failed_pair_reports_failures_but_no_measurement(full_run):
    p = Recommender.from_run_dir(full_run).pair("water", "food")
    assert p["basis"] == "predicted" and p["search"] is None and p["observed_gain"] is None


def test_k_default_and_range(full_run):
    rec = Recommender.from_run_dir(full_run)
    assert len(rec.recommend("food")["recommendations"]) == 5
    assert len(rec.recommend("food", 1)["recommendations"]) == 1
    for bad in (0, -1, len(TASKS), 100, True, 2.5, "3"):
        with pytest.raises(QueryError, match="k must be"):
            rec.recommend("food", bad)


def test_unknown_tasks_and_same_pair(full_run):
    rec = Recommender.from_run_dir(full_run)
    with pytest.raises(UnknownTaskError, match="unknown target task 'pizza'"):
        rec.recommend("pizza")
    with pytest.raises(UnknownTaskError, match="unknown source"):
        rec.pair("pizza", "food")
    with pytest.raises(QueryError, match="must differ"):
        rec.pair("food", "food")


def test_predictions_only_run_is_all_predicted(tmp_path):
    write_run(tmp_path / "r", searches=())
    recs = Recommender.from_run_dir(tmp_path / "r").recommend("water", 5)["recommendations"]
    assert len(recs) == 5 and {r["basis"] for r in recs} == {"predicted"}


def test_search_only_run_ranks_by_observed_gain(tmp_path):
    write_run(tmp_path / "r", predictions=False, searches=("full",))
    rec = Recommender.from_run_dir(tmp_path / "r")
    recs = rec.recommend("water", 5)["recommendations"]
    gains = [r["observed_gain"] for r in recs]
    assert gains == sorted(gains, reverse=True) and {r["basis"] for r in recs} == {"measured"}
    assert rec.info()["artifacts"] == ["single_task.json", "search_full.parquet"]


def test_single_task_only_run_recommends_nothing(tmp_path):
    write_run(tmp_path / "r", predictions=False, searches=())
    rec = Recommender.from_run_dir(tmp_path / "r")
    assert rec.recommend("food", 3)["recommendations"] == []
    assert rec.pair("water", "food")["basis"] == "none"


def test_run_without_single_task_is_rejected(tmp_path):
    run = RunDir(tmp_path / "r", create=True)
    run.write_json("other.json", {})
    with pytest.raises(RunDirError, match="no single_task.json"):
        Recommender.from_run_dir(tmp_path / "r")
    with pytest.raises(RunDirError, match="not found"):
        Recommender.from_run_dir(tmp_path / "missing")


def test_tampered_artifact_is_rejected(full_run):
    (full_run / "single_task.json").write_text(json.dumps({"tasks": {}}))
    with pytest.raises(RunDirError, match="checksum"):
        Recommender.from_run_dir(full_run)


def test_malformed_artifacts_are_rejected(tmp_path):
    run = RunDir(tmp_path / "r", create=True)
    run.write_json("single_task.json", {"tasks": {"food": {}}})
    with pytest.raises(RaytpError, match="at least two tasks"):
        Recommender.from_run_dir(tmp_path / "r")
    run.write_json("single_task.json", {"tasks": {"food": {}, "water": {}}})
    run.write_parquet("pair_predictions.parquet", pd.DataFrame({"source": ["food"], "target": ["water"]}))
    with pytest.raises(RunDirError, match="missing column"):
        Recommender.from_run_dir(tmp_path / "r")


def test_cli_recommend_from_run_dir(full_run, capsys):
    from raytp.cli import main
    assert main(["recommend", "--run", str(full_run), "--target", "food", "--k", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == Recommender.from_run_dir(full_run).recommend("food", 3)
    assert main(["recommend", "--run", str(full_run), "--target", "food"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "sources for target 'food'" and table[1].split()[:2] == ["rank", "source"]
    assert len(table) == 3 + 5 and "measured" in table[3]


@pytest.mark.parametrize("argv, message", [
    (["--target", "pizza"], "unknown target task 'pizza'"),
    (["--target", "food", "--k", "0"], "k must be"),
])
def test_cli_recommend_bad_input_exits_2(full_run, capsys, argv, message):
    from raytp.cli import main
    assert main(["recommend", "--run", str(full_run), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_recommend_unreachable_url_exits_2(capsys):
    import socket
    from raytp.cli import main
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["recommend", "--url", f"http://127.0.0.1:{port}", "--target", "food", "--timeout", "2"]) == 2
    assert "cannot reach" in capsys.readouterr().err
