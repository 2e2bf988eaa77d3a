"""Task names cannot escape the run directory: one name rule at load time, and RunDir refuses every path that
resolves outside the run directory, on reads and writes alike."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from raytp.cli import main
from raytp.config import config_from_dict
from raytp.data.table import load_table
from raytp.errors import ConfigError, DataError, RunDirError
from raytp.task_names import task_name_problem
from raytp.serving.recommender import Recommender
from raytp.rundir import RunDir
from tests.recommender_runs import write_run

BAD_NAMES = ["../../x", "", ".", "..", "a/b", "/etc/passwd", "a\\b", " food", "food\n", "x" * 129, "-rf", "a b"]
GOOD_NAMES = ["food", "medical_help", "Request-SearchAndRescue", "trecis:food", "v1.2", "x" * 128]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_rule_refuses(name):
    assert task_name_problem(name) is not None


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_rule_accepts(name):
    assert task_name_problem(name) is None


@pytest.mark.parametrize("name", ["../../x", "", ".", "a/b"])
def test_config_task_name_refused(name):
    with pytest.raises(ConfigError, match=r"field 'data\.tasks.*not allowed"):
        config_from_dict({"data": {"tasks": ["food", name]}})


def test_corpus_prefix_and_tasks_checked():
    with pytest.raises(ConfigError, match="not allowed"):
        config_from_dict({"data": {"datasets": [{"name": "disaster-response", "tasks": ["food", "../x"]}]}})


def test_cli_traversal_task_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"tasks": ["food", "../../outside"]}}))
    code = main(["train", "--config", str(cfg), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "data.tasks" in err and "'../../outside'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists() and not (tmp_path / "outside").exists()


def test_table_label_column_named_in_error(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("text,../evil,ok\n" + "".join(f"t{i},{i % 2},{(i // 2) % 2}\n" for i in range(40)))
    with pytest.raises(DataError, match=r"label column '\.\./evil'"):
        load_table(p, label_columns=["../evil", "ok"], split_column=None)
    ds = load_table(p, split_column=None)  # auto mode: the column is ignored, with the reason recorded
    assert "../evil" not in ds.tasks and "task name" in ds.provenance["ignored_columns"]["../evil"]


@pytest.mark.parametrize("rel", ["single_task/../../outside/summary.json", "../x.json", "/tmp/abs.json",
                                 "single_task//summary.json", "./x.json", "a/./b.json"])
def test_rundir_refuses_escaping_names(tmp_path, rel):
    run = RunDir(tmp_path / "run", create=True)
    run.write_json("single_task.json", {"ok": 1})
    with pytest.raises(RunDirError):
        run.write_json(rel, {"evil": 1})
    with pytest.raises(RunDirError):
        run.read_bytes(rel)
    with pytest.raises(RunDirError):
        run.forget(rel)
    assert not (tmp_path / "outside").exists() and not Path("/tmp/abs.json").exists()
    assert run.read_json("single_task.json") == {"ok": 1}  # the manifest is intact
    assert run.verify() == []


def test_rundir_refuses_symlink_out(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    run = RunDir(tmp_path / "run", create=True)
    os.symlink(outside, tmp_path / "run" / "single_task")
    with pytest.raises(RunDirError, match="outside the run directory"):
        run.write_json("single_task/food/summary.json", {"x": 1})
    assert list(outside.iterdir()) == []


def test_recommender_refuses_crafted_task_names(tmp_path):
    run = write_run(tmp_path / "run", tasks=["food", "water", "shelter"])
    st = run.read_json("single_task.json")
    st["tasks"]["../../x"] = st["tasks"]["food"]
    run.write_json("single_task.json", st)
    with pytest.raises(RunDirError, match="not allowed"):
        Recommender.from_run_dir(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "single_task.json").read_text())["tasks"]
