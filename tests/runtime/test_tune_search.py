"""Full grid and pruned searches on a real local Ray (tiny real subset)."""

from __future__ import annotations

import math

import pytest

from raytp.config import config_from_dict
from tests.conftest import small_config_dict
from tests.search.rundir import make_run_dir, single_task_results


def tiny_cfg():
    return config_from_dict(small_config_dict(
        data={"max_train": 100, "source_max_train": 300, "max_eval": 200},
        train={"epochs": 2, "patience": 2, "seeds": 2},
        backend={"hash_buckets": 2 ** 12},
        resources={"cpus_per_worker": 1.0, "max_retries": 0},
        search={"grid": {"mode": ["multitask", "sequential"]}, "replicate": True}))


@pytest.fixture(scope="module")
def tiny(disaster):
    cfg = tiny_cfg()
    ds = disaster.select_tasks(cfg.data.tasks)
    single, _, _ = single_task_results(cfg, ds)
    return cfg, ds, single


def test_full_search_grid_rows_and_failure(tiny, ray_local, tmp_path):
    from raytp.runtime.tune_search import run_full_search
    cfg, ds, single = tiny
    run = make_run_dir(tmp_path / "run", cfg, single)
    summary = run_full_search(cfg, ds, single.tasks, run, progress=False, fail_on=("food>water",))
    df = run.read_parquet("search_full.parquet")
    assert len(df) == 6 * 2 and df["trial_id"].is_unique
    assert set(zip(df["source"], df["target"])) == {(s, t) for s in cfg.data.tasks for t in cfg.data.tasks if s != t}
    failed = df[df["status"] == "failed"]
    assert set(zip(failed["source"], failed["target"])) == {("food", "water")} and len(failed) == 2
    assert failed["error"].str.contains("injected failure").all() and failed["f1_test"].isna().all()
    ok = df[df["status"] == "ok"]
    assert len(ok) == 10 and ok["f1_test"].between(0, 1).all()
    for r in ok.itertuples():  # the baseline is the target's, never the source's
        assert r.baseline_f1_test == single.tasks[r.target]["f1_test"]
        assert math.isclose(r.gain, r.f1_test - r.baseline_f1_test)
    assert set(ok["hp_mode"]) == {"multitask", "sequential"} and ok["compute_s"].gt(0).all()
    assert summary["trials"] == 12 and summary["trials_failed"] == 2 and summary["pairs_total"] == 6
    assert summary["compute_s"] == pytest.approx(ok["compute_s"].sum()) and summary["wall_s"] > 0
    assert set(summary["best"]) == set(cfg.data.tasks) and summary["noise"]["seed_sd"] >= 0
    assert summary["noise"]["replicated"] == summary["pairs_beneficial"] + summary["pairs_harmful"]
    assert run.read_json("search_full.json")["trials"] == 12
    # example-epochs: every ok row counts what it trained, epoch by epoch; the injected failure trained nothing
    assert ok["example_epochs"].gt(0).all() and ok["eval_examples"].gt(0).all()
    assert (ok["curve_example_epochs"].map(lambda c: int(c[-1])) == ok["example_epochs"]).all()
    assert ok["curve_example_epochs"].map(lambda c: all(a < b for a, b in zip(c, c[1:]))).all()
    # a sequential source phase the search shares (same source, lr, epochs, hidden size) is counted once
    seq = ok[ok["hp_mode"] == "sequential"]
    shared = int(seq.loc[seq.duplicated(["source", "hp_lr", "hp_epochs", "hp_hidden"]), "source_example_epochs"].sum())
    assert seq["source_example_epochs"].gt(0).all() and shared > 0
    assert failed["example_epochs"].eq(0).all() and summary["example_epochs"] == int(ok["example_epochs"].sum()) - shared
    assert not run.verify()


def test_pruned_search_on_two_pairs(tiny, ray_local, tmp_path):
    from raytp.runtime.tune_search import run_pruned_search
    cfg, ds, single = tiny
    run = make_run_dir(tmp_path / "run", cfg, single)
    pairs = [{"source": "food", "target": "water"}, {"source": "shelter", "target": "food"}]
    summary = run_pruned_search(cfg, ds, single.tasks, run, pairs, {"mode": ["multitask", "sequential"],
                                                              "lr_scale": [1.0, 0.3]}, num_samples=4, progress=False)
    df = run.read_parquet("search_pruned.parquet")
    assert len(df) == 4 and summary["trials"] == 4
    assert set(zip(df["source"], df["target"])) <= {("food", "water"), ("shelter", "food")}
    assert (df["status"] == "ok").all() and df["gain_val"].notna().all()
    assert df["hp_lr_scale"].isin([1.0, 0.3]).all()
    assert summary["pairs_total"] == len(set(zip(df["source"], df["target"])))


def test_pruned_search_rejects_unknown_pair(tiny, ray_local, tmp_path):
    from raytp.errors import RaytpError
    from raytp.runtime.tune_search import run_pruned_search
    cfg, ds, single = tiny
    run = make_run_dir(tmp_path / "run", cfg, single)
    with pytest.raises(RaytpError, match="pruning.json: pair food>nope"):
        run_pruned_search(cfg, ds, single.tasks, run, [{"source": "food", "target": "nope"}], {}, 1, progress=False)


def test_cli_pruned_needs_pruning_json(tiny, tmp_path, capsys):
    from raytp.cli import main
    cfg, ds, single = tiny
    make_run_dir(tmp_path / "run", cfg, single)
    assert main(["search", "--mode", "pruned", "--run", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "pruning.json: missing" in err and "Traceback" not in err


def test_cli_pruned_search_json(tiny, ray_local, tmp_path, capsys):
    import json

    from raytp.cli import main
    cfg, ds, single = tiny
    run = make_run_dir(tmp_path / "run", cfg, single)
    run.write_json("pruning.json", {"pairs": [{"source": "water", "target": "shelter", "probability": 0.9}],
                                    "space": {"mode": ["sequential"]}, "num_samples": 2})
    assert main(["search", "--mode", "pruned", "--run", str(tmp_path / "run"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["trials"] == 2 and summary["pairs_total"] == 1 and summary["mode"] == "pruned"
    pruned = summary["pruned"]  # trials run, stopped early, per-target best configuration, compute
    assert pruned["trials_run"] == 2 and pruned["stopped_early"] >= 0 and pruned["compute_s"] > 0
    assert pruned["per_target"]["shelter"]["best"]["hyperparameters"]["mode"] == "sequential"
    assert len(run.read_parquet("search_pruned.parquet")) == 2


def _late_bloomer(config):
    from ray import tune
    x = CONFIGS[config["i"]]["x"]
    for it in range(1, 9):  # x > 0: steady scores; x == 0: worst until iteration 6, then best
        tune.report({"score": float(x) if x > 0 else (100.0 if it >= 6 else -100.0)})


CONFIGS = [{"pair": "s>a", "x": 30}, {"pair": "s>a", "x": 20}, {"pair": "s>a", "x": 10},
           {"pair": "s>b", "x": 3}, {"pair": "s>b", "x": 0, "_warm": True}, {"pair": "s>b", "x": 0}]


@pytest.mark.parametrize("protect, iterations", [(True, [8, 2, 2, 8, 8, 2]), (False, [8, 2, 2, 8, 2, 2])])
def test_per_target_asha_compares_only_trials_of_one_target(ray_local, tmp_path, protect, iterations):
    """Target a's trials score 30, 20, 10 (ASHA stops the 2nd and 3rd at the grace period: below a's cutoff);
    target b's 3, then 0 until iteration 6 (a late bloomer) twice. b's first trial is compared only with b's, so
    it runs to max_t (one ASHA over both targets would stop it: 3 < 30); b's 0-trials fall below b's own cutoff at
    iteration 2 unless protected as a warm start (the 5th is, the 6th is not)."""
    from ray import tune
    from raytp.runtime.per_target import PerTargetASHA

    class Indexed(PerTargetASHA):  # the grid-searched index stands for a config with pair / _warm keys
        def on_trial_add(self, tune_controller, trial):
            trial.config.update(CONFIGS[trial.config["i"]])
            super().on_trial_add(tune_controller, trial)

    scheduler = Indexed(grace_period=2, max_t=8, reduction_factor=3, protect_warm=protect, metric="score")
    tuner = tune.Tuner(tune.with_resources(_late_bloomer, {"cpu": 1}),
                       param_space={"i": tune.grid_search(list(range(len(CONFIGS))))},
                       tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=1),
                       run_config=tune.RunConfig(storage_path=str(tmp_path), name="asha", verbose=0))
    grid = tuner.fit()
    iters = sorted((r.config["i"], r.metrics["training_iteration"]) for r in (grid[i] for i in range(len(grid))))
    assert [n for _, n in iters] == iterations


def test_pruned_search_allocates_per_target_tpe_and_resumes(tiny, ray_local, tmp_path):
    from raytp.runtime.tune_search import run_pruned_search
    cfg, ds, single = tiny
    run = make_run_dir(tmp_path / "run", cfg, single)
    pairs = [{"source": "food", "target": "water", "probability": 0.9, "trials": 3},
             {"source": "shelter", "target": "water", "probability": 0.5, "trials": 1},
             {"source": "water", "target": "food", "probability": 0.7, "trials": 2}]
    space = {"mode": ["multitask", "sequential"], "lr_scale": [1.0, 0.3]}
    summary = run_pruned_search(cfg, ds, single.tasks, run, pairs, space, num_samples=6, progress=False,
                                distributions=cfg.search.space)
    df = run.read_parquet("search_pruned.parquet")
    assert len(df) == 6 and (df["status"] == "ok").all()
    assert df.groupby(["source", "target"]).size().to_dict() == {("food", "water"): 3, ("shelter", "water"): 1,
                                                                 ("water", "food"): 2}
    warm = df[df["warm"]]
    assert len(warm) == 3 and (warm["hp_mode"] == "multitask").all() and (warm["hp_lr_scale"] == 1.0).all()
    sampled = df[~df["warm"]]
    assert sampled["hp_lr_scale"].between(0.1, 3.0).all() and (sampled["hp_epochs"] == cfg.train.epochs).all()
    assert df["curve_f1_val"].map(len).eq(df["epochs_run"]).all()
    p = summary["pruned"]
    assert p["trials_run"] == 6 and p["per_target"]["water"]["trials"] == 4 and p["per_target"]["food"]["trials"] == 2
    assert p["stopped_early"] == int(df["stopped_early"].sum()) and p["compute_s"] > 0
    assert p["per_target"]["water"]["best"]["hyperparameters"]["mode"] in ("multitask", "sequential")
    # --resume of a finished search: the same trials, none rerun
    again = run_pruned_search(cfg, ds, single.tasks, run, pairs, space, num_samples=6, progress=False,
                              distributions=cfg.search.space, resume=True)
    df2 = run.read_parquet("search_pruned.parquet")
    key = ["source", "target", "f1_val", "wall_s", "warm"]
    assert again["trials"] == 6
    assert sorted(map(tuple, df2[key].to_numpy().tolist())) == sorted(map(tuple, df[key].to_numpy().tolist()))


def test_pruned_trial_reproduces_the_full_grid_row(tiny, ray_local, tmp_path):
    """A live pruned trial at a grid point gives the full grid's row for the same pair, point and seeds,
    to the last digit: what lets the report simulate other rankings from the full grid's rows."""
    from raytp.report.comparison import at_point
    from raytp.runtime.tune_search import run_full_search, run_pruned_search
    from raytp.search.space import first_point
    cfg, ds, single = tiny
    run = make_run_dir(tmp_path / "run", cfg, single)
    space = {"mode": ["multitask", "sequential"]}
    run_full_search(cfg, ds, single.tasks, run, progress=False, pairs=[("water", "food")], replicate=False)
    run_pruned_search(cfg, ds, single.tasks, run, [{"source": "water", "target": "food"}], space, num_samples=1,
                      progress=False)
    full, pruned = run.read_parquet("search_full.parquet"), run.read_parquet("search_pruned.parquet")
    assert len(pruned) == 1 and pruned["status"].eq("ok").all()
    point = first_point(space)
    row = at_point(full, point)
    assert len(row) == 1 and at_point(pruned, point).shape[0] == 1
    for col in ("f1_val", "f1_test", "f1_val_sd", "f1_test_sd", "gain", "gain_val", "epochs_run", "best_epoch",
                "example_epochs", "eval_examples"):
        assert pruned[col].iloc[0] == row[col].iloc[0], col  # exact, not approximate
    other = at_point(full, {"mode": "sequential"})  # the check can fail: another point gives another F1
    assert other["f1_val"].iloc[0] != pruned["f1_val"].iloc[0]


def test_ctrl_c_during_a_search_ends_with_one_line_and_a_resumable_state(tiny, tmp_path):
    """SIGINT to `raytp search --mode full` (a subprocess with its own Ray) once a trial has reported: exit 130,
    one `raytp: interrupted` line and no traceback, and Tune state that --resume can restore."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path
    cfg, ds, single = tiny
    # long enough that the search is still running when the signal arrives, on a quiet machine too
    # (6 pairs x 12 points, one trial at a time, 6 epochs each)
    big = cfg.model_copy(update={"search": cfg.search.model_copy(update={
        "grid": {"mode": ["multitask", "sequential"], "lr_scale": [1.0, 0.3, 3.0, 0.5, 2.0, 0.1]}, "replicate": False,
        "max_concurrent_trials": 1}), "train": cfg.train.model_copy(update={"epochs": 6, "patience": 6})})
    run = make_run_dir(tmp_path / "run", big, single)
    exp = Path(run.root) / "tune" / "search_full"
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYTP_API_TOKEN")}
    log = (tmp_path / "search.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "raytp.cli", "search", "--run", str(run.root), "--mode", "full"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.stat().st_size > 0 for p in exp.glob("full_*/result.json")):
                break  # a trial has reported: the search is under way (72 trials, one at a time)
            time.sleep(0.5)
        assert proc.poll() is None, (tmp_path / "search.log").read_text()[-2000:]
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
    out = (tmp_path / "search.log").read_text()
    assert code == 130, out[-2000:]
    assert "Traceback" not in out and "TypeError" not in out, out[-2000:]
    ours = [ln for ln in out.splitlines() if ln.startswith("raytp: ")]
    assert len(ours) == 1 and ours[0].startswith("raytp: interrupted: full search stopped"), out[-2000:]
    assert "--resume" in ours[0] and not run.has("search_full.parquet")
    from ray import tune

    from raytp.rundir import names
    assert tune.Tuner.can_restore(str(exp)) and run.has(names.tune_state_record("search_full"))
