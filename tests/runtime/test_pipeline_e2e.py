"""The main job end to end on a real local Ray: `raytp run --with-full` on a tiny real experiment."""

from __future__ import annotations

import json

import yaml

from raytp.cli import main
from raytp.rundir import RunDir

TINY = {
    "data": {"tasks": ["food", "water", "shelter"], "max_train": 150, "source_max_train": 400, "max_eval": 300,
             "probe_size": 16},
    "train": {"epochs": 2, "patience": 1, "seeds": 1},
    "backend": {"hash_buckets": 4096},
    "search": {"grid": {"mode": ["multitask", "sequential"]}, "replicate": False},
    "prune": {"predictor": "learned", "calibration_pairs": 2, "policy": "top_k", "top_k": 1, "trials_per_pair": 1},
}


def test_run_with_full_writes_report_and_recommendations(tmp_path, capsys):
    import ray
    if ray.is_initialized():
        ray.shutdown()  # `raytp run` starts (and stops) its own local Ray
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "run"
    assert main(["run", "--config", str(cfg), "--out", str(out), "--with-full", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    run = RunDir(out)
    assert run.verify() == []
    full = run.read_parquet("search_full.parquet")
    assert len(full) == 6 * 2  # every ordered pair x the 2-point grid
    cal = run.read_parquet("search_calibration.parquet")
    # calibration asks for 2 pairs but is capped at a quarter of the 6 pairs: 1 pair x 2 grid points
    assert len(cal) == 1 * 2 and set(zip(cal.source, cal.target)) <= set(zip(full.source, full.target))
    plan = run.read_json("pruning.json")
    kept = {(p["source"], p["target"]) for p in plan["pairs"]}
    assert not kept & set(zip(cal.source, cal.target))  # calibration pairs are not searched twice
    pruned = run.read_parquet("search_pruned.parquet")
    assert set(zip(pruned.source, pruned.target)) <= kept
    report = summary["report"]
    for key in ("time_reduction", "f1_loss", "gain_captured", "pairs_total", "pairs_kept", "predictor",
                "baselines", "references", "per_target"):
        assert key in report
    assert report["pairs_total"] == 6
    # every cost is counted: the pruned side pays for training, profiling, features, predictor, calibration
    c = report["compute_s"]
    assert c["pruned_total"] >= c["single_task_training"] + c["profiling_s"] + float(cal["compute_s"].sum())
    assert c["full_total"] == c["single_task_training"] + c["full_search"]
    # the same in example-epochs, a deterministic unit: calibration trials are on the pruned side
    e = report["example_epochs"]
    assert e["single_task_training"] == run.read_json("single_task.json")["example_epochs"] > 0
    assert e["pruned_total"] == e["single_task_training"] + int(cal["example_epochs"].sum() + pruned["example_epochs"].sum())
    seq = full[full["hp_mode"] == "sequential"]  # a shared sequential source phase counts once
    shared = int(seq.loc[seq.duplicated(["source", "hp_lr", "hp_epochs", "hp_hidden"]), "source_example_epochs"].sum())
    assert e["full_total"] == e["single_task_training"] + int(full["example_epochs"].sum()) - shared
    assert report["time_reduction_example_epochs"] == 1 - e["pruned_total"] / e["full_total"]
    stages = run.read_json("pipeline.json")["stages"]
    assert stages["full_search"]["example_epochs"] == e["full_search"] and stages["models"]["example_epochs"] > 0
    assert (out / "plots" / "best_so_far.png").stat().st_size > 1000
    assert set(summary["recommendations"]) == {"food", "water", "shelter"}
    for answer in summary["recommendations"].values():
        assert 1 <= len(answer["recommendations"]) <= 2
