"""Kill-and-resume of a small full search: what a crash costs, and whether any trial is lost or repeated.

Each repetition builds a fresh run directory (single-task baselines trained in-process), starts
`raytp search --mode full` in its own process group, waits until some trials have finished (the Tune
experiment's result files), SIGKILLs the whole group (driver, Ray and trial workers: a lost node), then
runs `raytp search --mode full --resume` and compares the results table with the expected trial set.

Per repetition: trials expected / completed / duplicated / lost, trials finished before the kill and
whether any of them was run again, the trial-seconds thrown away (in-flight trials' last reported time,
a lower bound), and wall seconds of the killed and the resumed run. Not --quick: one uninterrupted
search too, so the extra wall time a crash cost can be stated.

    python benchmarks/fault_tolerance.py --quick            # 1 repetition, 3 tasks x 2 grid points
    python benchmarks/fault_tolerance.py --reps 5 --out bench-out
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import conclude, machine, parser  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TASKS = ["food", "water", "shelter"]


def small_config(grid_lr: list[float] | None = None) -> dict[str, Any]:
    grid: dict[str, Any] = {"mode": ["multitask", "sequential"]}
    search: dict[str, Any] = {"grid": grid, "replicate": False}
    if grid_lr:  # the grid discretises search.space: give it an absolute lr range
        grid["lr"] = grid_lr
        search["space"] = {"mode": {"type": "choice", "values": ["multitask", "sequential"]},
                           "lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
                           "epochs": {"type": "resource", "low": 1}}
    return {"data": {"tasks": TASKS, "max_train": 100, "source_max_train": 300, "max_eval": 200, "probe_size": 16},
            "train": {"epochs": 2, "patience": 2, "seeds": 1},
            "backend": {"hash_buckets": 2 ** 12},
            "resources": {"cpus_per_worker": 1.0, "max_retries": 0},
            "search": search}


def make_run(path: Path, cfg_dict: dict[str, Any]) -> tuple[Path, list[tuple]]:
    """A run directory with config.yaml + single_task.json (trained here, no Ray); returns it and the expected
    trial set {(source, target, hp_mode, hp_lr)}."""
    from raytp.config import config_from_dict
    from raytp.data import load_experiment_data
    from raytp.models.registry import make_backend
    from raytp.models.single import run_task
    from raytp.search.space import full_space
    from raytp.rundir import RunDir
    cfg = config_from_dict(cfg_dict)
    ds = load_experiment_data(cfg)
    backend = make_backend(cfg.backend)
    feats = backend.featurize(ds.texts)
    single = {"tasks": {t: run_task(backend, feats, ds, t, cfg).summary for t in cfg.data.tasks},
              "seeds": cfg.seeds(), "backend": cfg.backend.name, "config_fingerprint": cfg.fingerprint(), "failed": {}}
    run = RunDir(path, create=True)
    run.write_text("config.yaml", cfg.to_yaml())
    run.write_json("single_task.json", single)
    expected = [(t["source"], t["target"], t["point"].get("mode"), t["point"].get("lr")) for t in full_space(cfg, single["tasks"])]
    return path, expected


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_ADDRESS": "", "RAY_USAGE_STATS_ENABLED": "0",
            "TUNE_GLOBAL_CHECKPOINT_S": "1",  # save the experiment state every second: a crash loses less
            "PYTHONUNBUFFERED": "1"}


def search_cmd(run: Path, resume: bool) -> list[str]:
    exe = Path(sys.executable).with_name("raytp")
    return [str(exe), "search", "--mode", "full", "--run", str(run), "--no-replicate", "--json",
            *(["--resume"] if resume else [])]


def trial_progress(run: Path) -> dict[str, dict[str, Any]]:
    """{trial_id: {"done": bool, "last": last result as JSON, "trial_s": last reported}} from the newest experiment
    state Tune saved (what a restore will see); empty before the first save."""
    exp = run / "tune" / "search_full"
    states = sorted(exp.glob("experiment_state-*.json")) if exp.is_dir() else []
    for _ in range(5):
        try:
            data = json.loads(states[-1].read_text()) if states else {"trial_data": []}
            break
        except (OSError, json.JSONDecodeError):  # replaced while we read it
            time.sleep(0.05)
            states = sorted(exp.glob("experiment_state-*.json"))
    else:
        return {}
    out = {}
    for trial_json, runtime_json in data["trial_data"]:
        trial, runtime = json.loads(trial_json), json.loads(runtime_json)
        last = runtime.get("last_result") or {}
        out[trial["trial_id"]] = {"done": trial.get("status") == "TERMINATED", "status": trial.get("status"),
                                  "last": json.dumps(last, sort_keys=True, default=str),
                                  "trial_s": float(last.get("trial_s", 0.0) or 0.0)}
    return out


def kill_and_resume(run: Path, expected: list[tuple], kill_after_done: int, timeout: float = 420) -> dict[str, Any]:
    """One crash: SIGKILL the search's process group once ``kill_after_done`` trials finished; resume; count."""
    import pandas as pd
    t0 = time.perf_counter()
    proc = subprocess.Popen(search_cmd(run, False), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            prog = trial_progress(run)
            if sum(p["done"] for p in prog.values()) >= kill_after_done:
                break
            time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(f"the search ended before the kill (rc {proc.returncode}): "
                               f"{proc.stderr.read().decode()[-1500:]}")
        if time.monotonic() >= deadline:
            raise RuntimeError("no trial finished in time")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver, its local Ray and every trial worker at once
        proc.wait(timeout=60)
        proc.stderr.close()
    killed_wall = time.perf_counter() - t0
    at_kill = trial_progress(run)
    done_before = {k: v for k, v in at_kill.items() if v["done"]}
    in_flight_lost = sum(v["trial_s"] for v in at_kill.values() if not v["done"])

    t1 = time.perf_counter()
    res = subprocess.run(search_cmd(run, True), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
    resumed_wall = time.perf_counter() - t1
    if res.returncode != 0:
        raise RuntimeError(f"resume failed (rc {res.returncode}): {res.stderr[-2000:]}")
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    after = trial_progress(run)
    rerun = [k for k, v in done_before.items() if after.get(k, {}).get("last") != v["last"]]

    from raytp.rundir import RunDir
    df = RunDir(run).read_parquet("search_full.parquet")
    lr = df["hp_lr"] if "hp_lr" in df else pd.Series([None] * len(df))
    got = [(s, t, m, None if expected[0][3] is None else float(v))
           for s, t, m, v in zip(df["source"], df["target"], df["hp_mode"], lr)]
    exp_set = {e if e[3] is None else (*e[:3], float(e[3])) for e in expected}
    return {"trials_expected": len(expected), "trials_completed": len(set(got) & exp_set),
            "rows": len(df), "duplicated": len(got) - len(set(got)), "lost": len(exp_set - set(got)),
            "unexpected": len(set(got) - exp_set), "failed_trials": int((df["status"] != "ok").sum()),
            "finished_before_kill": len(done_before), "finished_trials_rerun": len(rerun),
            "in_flight_at_kill": len(at_kill) - len(done_before), "in_flight_compute_lost_s": in_flight_lost,
            "killed_run_wall_s": killed_wall, "resumed_run_wall_s": resumed_wall,
            "summary_trials": summary.get("trials"), "trial_ids_unique": bool(df["trial_id"].is_unique)}


def uninterrupted(run: Path, timeout: float = 420) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(search_cmd(run, False), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return time.perf_counter() - t0


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5, help="kill-and-resume repetitions (default 5; --quick: 1)")
    args = p.parse_args()
    reps = 1 if args.quick else args.reps
    cfg = small_config(None if args.quick else [3e-3, 1e-2])
    out = Path(args.out) / "fault_tolerance"
    baseline_wall = None
    if not args.quick:
        run, _ = make_run(out / "uninterrupted", cfg)
        baseline_wall = uninterrupted(run)
        print(f"uninterrupted search: {baseline_wall:.1f} s")
    results = []
    for i in range(reps):
        run, expected = make_run(out / f"rep{i}", cfg)
        r = kill_and_resume(run, expected, kill_after_done=2 + i % 3)
        if baseline_wall is not None:
            r["extra_wall_s"] = r["killed_run_wall_s"] + r["resumed_run_wall_s"] - baseline_wall
        results.append(r)
        print(f"rep {i}: expected {r['trials_expected']} completed {r['trials_completed']} duplicated "
              f"{r['duplicated']} lost {r['lost']}; finished before kill {r['finished_before_kill']} "
              f"(rerun {r['finished_trials_rerun']}); in-flight compute lost {r['in_flight_compute_lost_s']:.1f} s; "
              f"wall killed {r['killed_run_wall_s']:.1f} s + resumed {r['resumed_run_wall_s']:.1f} s")
    ok = all(r["lost"] == 0 and r["duplicated"] == 0 and r["finished_trials_rerun"] == 0 for r in results)
    print("target (0 lost, 0 duplicated, no finished trial rerun):", "met" if ok else "MISSED")
    return conclude(args, "fault_tolerance.json", {
        "machine": machine(), "quick": args.quick, "config": cfg, "uninterrupted_wall_s": baseline_wall,
        "repetitions": results, "target_met": ok,
        "notes": "in_flight_compute_lost_s is a lower bound (time after a trial's last report is lost too); "
                 "extra_wall_s includes a second Ray start-up and featurisation."},
        [] if ok else ["0 trials lost, 0 duplicated, no finished trial rerun"])


if __name__ == "__main__":
    sys.exit(main())
