"""The README tables are generated from the committed benchmark JSON (benchmarks/results/): never drift."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.test_report import _full, _single

ROOT = Path(__file__).resolve().parents[1]


def _tables():
    spec = importlib.util.spec_from_file_location("bench_tables", ROOT / "benchmarks" / "tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_results_block_matches_its_json():
    tables = _tables()
    found = 0
    for path in tables.FILES:
        for name, body in tables.blocks(path.read_text()):
            found += 1
            assert body.strip() == tables.render(name).strip(), \
                f"{path.name}: table results:{name} disagrees with its JSON; run python benchmarks/tables.py"
    assert tables.main(["--check"]) == 0
    assert found == 0 or tables.RESULTS.is_dir()


def _report(tmp_path: Path, f1_shift: float = 0.0) -> Path:
    from raytp.report import compare
    full = _full()
    pruned = full[full["trial_id"] == "t0"].copy()
    pruned["f1_test"] += f1_shift
    preds = pd.DataFrame({"source": full["source"], "target": full["target"],
                          "probability": [0.9, 0.1, 0.2, 0.3, 0.4, 0.5], "kept": [True] + [False] * 5,
                          "score_random": [0.1, 0.9, 0.5, 0.4, 0.3, 0.2]})
    r = compare(_single(), full, pruned, preds, costs={}, first_point={"mode": "multitask"}, margin=0.05)
    r.update(benchmark="toy", task_set="declared", machine={"cpus": 2, "date": "today", "load_avg": [1.5, 1, 1]},
             caches="cold (fresh)", pruned_side="searched")
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "toy.json").write_text(json.dumps(r, default=float))
    return tmp_path


def test_a_block_is_rewritten_from_its_json_and_a_changed_json_changes_it(tmp_path):
    tables = _tables()
    results = _report(tmp_path / "a")
    text = "intro\n<!-- results:toy:start -->\nSTALE\n<!-- results:toy:end -->\nafter\n" \
           "<!-- results:toy/rankers:start -->\n<!-- results:toy/rankers:end -->\n"
    new = tables.regenerate(text, results)
    assert new.startswith("intro\n") and "after\n" in new and "STALE" not in new
    assert "Task set **declared**" in new
    assert "time reduction" in new and "**raytp predictor**" in new and "[" in new
    assert tables.regenerate(new, results) == new  # idempotent
    changed = _report(tmp_path / "b", f1_shift=-0.05)  # the pruned side loses F1: the table must change
    assert tables.regenerate(new, changed) != new
    assert [n for n, _ in tables.blocks(new)] == ["toy", "toy/rankers"]


def test_check_names_every_missed_target_and_sets_the_exit_code(tmp_path, capsys):
    import argparse
    import sys
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _common import finish, missed_targets
    targets = {"time_reduction": (">=", 0.85), "f1_loss": ("<=", 0.02), "gain": (">=", 0.8)}
    assert missed_targets({"time_reduction": 0.9, "f1_loss": 0.01, "gain": 0.8}, targets) == []
    missed = missed_targets({"time_reduction": 0.84, "f1_loss": 0.01, "gain": None}, targets)
    assert missed == ["time_reduction = 0.84 (target >= 0.85)", "gain = missing (target >= 0.8)"]
    args = argparse.Namespace(out=str(tmp_path / "out"), results=str(tmp_path / "res"), quick=False, check=True,
                              caches="cold")
    out = {"run_dir": "/abs/machine/path/run"}
    assert finish(args, "x.json", out, {"time_reduction": 0.84}, {"time_reduction": (">=", 0.85)}) == 1
    assert "target missed: time_reduction" in capsys.readouterr().out
    saved = json.loads((tmp_path / "res" / "x.json").read_text())
    assert saved["targets_missed"] and saved["caches"] == "cold" and not saved["run_dir"].startswith("/")
    args.check = False
    assert finish(args, "x.json", {}, {"time_reduction": 0.84}, {"time_reduction": (">=", 0.85)}) == 0


def test_families_view_lists_feature_groups_and_scores(tmp_path):
    tables = _tables()
    results = _report(tmp_path / "f")
    r = json.loads((results / "toy.json").read_text())
    r["predictor_evaluation"] = {"pairs": 6, "beneficial": 2, "learned_by_feature_group": [
        {"group": "gradient_attribution", "n_features": 3, "auc": 0.61, "regret@3": 0.01},
        {"group": "representation", "n_features": 2, "auc": None, "regret@3": 0.02}],
        "scores": {"signature_only": {"auc": 0.7, "regret@3": 0.0}}}
    (results / "toy.json").write_text(json.dumps(r, default=float))
    out = tables.regenerate("<!-- results:toy/families:start -->\n<!-- results:toy/families:end -->\n", results)
    assert "| gradient_attribution | 3 | 0.610 | 0.010 |" in out and "| representation | 2 | — | 0.020 |" in out
    assert "| signature_only | 0.700 | 0.000 |" in out and "Task set **declared**" in out


def test_sets_view_has_one_row_per_json_and_names_the_best_other_ranker(tmp_path):
    tables = _tables()
    res = _report(tmp_path)
    text = tables.render("toy,toy/sets", res)
    rows = [line for line in text.splitlines() if line.startswith("| toy")]
    assert len(rows) == 2 and "(declared)" in rows[0]
    with pytest.raises(SystemExit, match="missing"):
        tables.render("toy,nothere/sets", res)
