"""The transfer atlas (benchmarks/atlas.py) resumes: pairs already in its table are not trained again, a pair cut
off part-way is, and the tables hold outcomes and features only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import atlas  # noqa: E402

from raytp.rundir import RunDir  # noqa: E402
from tests.conftest import small_config_dict  # noqa: E402


def test_atlas_resumes_pair_by_pair(tmp_path, ray_local):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(small_config_dict(train={"epochs": 2})))
    argv = ["--config", str(cfg), "--tasks", "food,water,shelter", "--seeds", "2", "--chunk-pairs", "2",
            "--grid", json.dumps({"mode": ["multitask", "sequential"]}), "--quick", "--warm-cache",
            "--no-progress", "--out", str(tmp_path / "out")]
    assert atlas.main([*argv, "--max-pairs", "2"]) == 0
    run = RunDir(tmp_path / "out" / "atlas_tiny")
    first = run.read_parquet(atlas.TRIALS)
    assert sorted({(s, t) for s, t in zip(first["source"], first["target"])}) == [("food", "shelter"), ("food", "water")]
    assert len(first) == 4

    # interrupted part-way through a pair: its surviving trial is dropped and the pair trained again
    cut = first[first["trial_id"] != "food>shelter#1"]
    run.write_parquet(atlas.TRIALS, cut)
    assert atlas.main([*argv, "--max-pairs", "4"]) == 0
    second = run.read_parquet(atlas.TRIALS)
    assert len(second) == 8 and second["trial_id"].is_unique
    kept = second.set_index("trial_id").loc[["food>water#0", "food>water#1"], "train_s"]
    assert kept.tolist() == first.set_index("trial_id").loc[["food>water#0", "food>water#1"], "train_s"].tolist()
    redone = second.set_index("trial_id").loc["food>shelter#0", "train_s"]
    assert redone != first.set_index("trial_id").loc["food>shelter#0", "train_s"]  # trained again, not copied

    table = pd.read_csv(tmp_path / "out" / "atlas_tiny.csv.gz")
    assert len(table) == 4 and set(table["corpus"]) == {"tiny"}
    for col in ("label_phi", "logme", "textemb", "gain_val", "beneficial", "gain", "beneficial_test"):
        assert col in table.columns
    assert not {"message", "text", "texts"} & set(table.columns)
    summary = json.loads((tmp_path / "out" / "atlas_tiny.json").read_text())
    assert summary["pairs_in_atlas"] == 4 and summary["pairs_total"] == 6
    assert summary["timing"]["wall_s_per_pair_seed"] > 0 and summary["timing"]["projected_full_atlas_s"] > 0

    # the same tables from a run that already holds the full search (atlas.py from-run): same rows, same outcomes
    run.write_parquet("search_full.parquet", second)
    run.write_json("search_full.json", {"wall_s": 1.0})
    assert atlas.main(["from-run", "--run", str(run.root), "--corpus", "tinyrun", "--quick",
                       "--out", str(tmp_path / "out")]) == 0
    again = pd.read_csv(tmp_path / "out" / "atlas_tinyrun.csv.gz")
    pd.testing.assert_frame_equal(again.drop(columns="corpus"), table.drop(columns="corpus"))
