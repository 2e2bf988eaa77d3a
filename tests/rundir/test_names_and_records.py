"""The run directory's vocabulary: artifact names live in one module; typed records round-trip and refuse bad files."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import raytp
from raytp.config import load_config
from raytp.errors import RunDirError
from raytp.rundir import (PruningPlan, RunDir, SingleTaskSummary, names, prepare_run_dir, read_pruning_plan,
                          read_single_task, write_pruning_plan, write_single_task)

PACKAGE = Path(raytp.__file__).parent
ARTIFACT = re.compile(r"[\w/{}-]+\.(json|parquet|safetensors|yaml|md)")
NOT_RUN_DIR = {"config.json"}  # a pretrained model folder's file (models/encoders.py), not an artifact


def _string_pieces(tree: ast.AST) -> list[tuple[int, str]]:
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_artifact_names_are_spelled_only_in_rundir_names():
    offenders = []
    for py in sorted(PACKAGE.rglob("*.py")):
        if py == PACKAGE / "rundir" / "names.py":
            continue
        for line, s in _string_pieces(ast.parse(py.read_text())):
            if ARTIFACT.fullmatch(s.strip("/")) and s not in NOT_RUN_DIR:
                offenders.append(f"{py.relative_to(PACKAGE)}:{line}: {s!r}")
    assert offenders == []


def test_the_scan_catches_an_offender(tmp_path):
    tree = ast.parse('"""Docs may say pruning.json."""\nX = "pruning.json"\nY = f"single_task/{t}/summary.json"\n')
    hits = [s for _, s in _string_pieces(tree) if ARTIFACT.fullmatch(s.strip("/"))]
    assert hits == ["pruning.json", "/summary.json"]


def test_names_and_their_kinds():
    assert names.search_table("full") == names.SEARCH_FULL == "search_full.parquet"
    assert names.search_summary("pruned") == "search_pruned.json" and names.CALIBRATION.startswith("search_")
    assert names.checkpoint_path("food").startswith("single_task/food/")
    kinds = {rel: names.artifact_kind(rel) for rel in (names.PRUNING, names.PAIR_FEATURES, names.signature_path("a"),
                                                       names.CONFIG, names.REPORT_MD, "notes.bin")}
    assert list(kinds.values()) == ["json", "parquet", "tensors", "text", "text", "bytes"]


def _summary() -> SingleTaskSummary:
    return SingleTaskSummary(tasks={"food": {"f1_val": 0.5, "hyperparameters": {"lr": 0.01}},
                                    "water": {"f1_val": 0.4, "hyperparameters": {"lr": 0.003}}},
                             failed={"shelter": "RayActorError: died"}, attempts={"food": 1, "water": 1, "shelter": 3},
                             wall_s=3.0, compute_s=5.0, workers=2, seeds=[0, 1], config_fingerprint="abc")


def test_single_task_summary_round_trips_through_the_run_directory(tmp_path):
    run = RunDir(tmp_path / "run", create=True)
    write_single_task(run, _summary())
    assert read_single_task(run) == _summary()
    assert list(json.loads((tmp_path / "run" / names.SINGLE_TASK).read_text())) == [
        "tasks", "failed", "attempts", "wall_s", "compute_s", "example_epochs", "workers", "seeds",
        "config_fingerprint", "data_fingerprint", "backend"]  # the file's layout (example_epochs since the cost unit)
    assert _summary().trained(["shelter", "water", "food"]) == ["water", "food"]


def test_pruning_plan_round_trips_and_omits_an_unset_cost(tmp_path):
    run = RunDir(tmp_path / "run", create=True)
    plan = PruningPlan(pairs=[{"source": "food", "target": "water", "probability": 0.9, "warm_start": {}}],
                       space={"mode": ["multitask"]}, num_samples=1, pairs_total=2, full_trials=2)
    write_pruning_plan(run, plan)
    assert "predictor_s" not in run.read_json(names.PRUNING) and read_pruning_plan(run) == plan
    plan.predictor_s = 0.5
    write_pruning_plan(run, plan)
    assert read_pruning_plan(run).predictor_s == 0.5


@pytest.mark.parametrize("content, message", [
    ({"pairs": {"food": "water"}, "space": {}, "num_samples": 1}, "field 'pairs' must be a list"),
    ({"pairs": [{"source": "food"}], "space": {}, "num_samples": 1}, "pairs[0] needs string 'source' and 'target'"),
    ({"pairs": [], "space": [], "num_samples": 0}, "field 'space'"),
    ({"pairs": [{"source": "a", "target": "b"}], "space": {}, "num_samples": 0}, "'num_samples' must be a positive"),
    ({"pairs": [], "space": {}, "num_samples": True}, "'num_samples' must be a positive"),
])
def test_malformed_plans_are_one_line_errors_naming_the_file(tmp_path, content, message):
    run = RunDir(tmp_path / "run", create=True)
    run.write_json(names.PRUNING, content)
    with pytest.raises(RunDirError, match=re.escape(message)) as e:
        read_pruning_plan(run)
    assert str(run.path(names.PRUNING)) in str(e.value)


def test_missing_or_shapeless_summaries_are_refused(tmp_path):
    run = RunDir(tmp_path / "run", create=True)
    with pytest.raises(RunDirError, match="single_task.json: missing; run `raytp train"):
        read_single_task(run)
    with pytest.raises(RunDirError, match="pruning.json: missing"):
        read_pruning_plan(run)
    run.write_json(names.SINGLE_TASK, {"tasks": ["food"]})
    with pytest.raises(RunDirError, match="needs a 'tasks' mapping"):
        read_single_task(run)


def test_a_run_directory_belongs_to_one_config(tmp_path):
    cfg = load_config()
    prepare_run_dir(str(tmp_path / "run"), cfg)
    assert (tmp_path / "run" / names.CONFIG).is_file()
    with pytest.raises(RunDirError, match="different config"):
        prepare_run_dir(str(tmp_path / "run"), load_config(None, {"seed": 1}))
    with pytest.raises(RunDirError, match="nothing to resume"):
        prepare_run_dir(str(tmp_path / "other"), cfg, resume=True)
    assert not (tmp_path / "other").exists()
