"""Tune's overhead on the full grid, two source trees side by side in one run (issue 15).

The same full grid (the default regime and 15-point grid on ``--tasks``) runs once per tree, alternating, each in a
fresh process with its own local Ray: ``--before`` (a checkout of an earlier commit, e.g. ``git worktree add
/tmp/before a191158``) against this tree. Per arm: the search's wall time, trials per minute, the share of slot
time not spent training (``overhead_share``), and the driver's CPU seconds (the Tune controller competes with the
trial workers for the same cores). Per-seed F1 must not differ between the trees (the change is bookkeeping only).

    python benchmarks/tune_overhead.py --before /tmp/before [--tasks food,water,shelter] [--reps 2]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import conclude, machine, parser  # noqa: E402

HERE = Path(__file__).resolve().parents[1]

ARM = r"""
import json, resource, sys, time
from raytp.api import train
from raytp.config import load_config
from raytp.data import load_experiment_data
from raytp.runtime.cluster import ray_session
from raytp.runtime.tune_search import run_full_search
from raytp.rundir import RunDir
import raytp
tasks, out = sys.argv[1].split(","), sys.argv[2]
cfg = load_config(None, {"data.tasks": tasks, "name": "tune-overhead", "search.replicate": False})
with ray_session(cfg.resources):
    single = train(cfg, out, progress=False)
    ds = load_experiment_data(cfg)
    c0 = time.process_time()
    s = run_full_search(cfg, ds, single.tasks, RunDir(out), progress=False, replicate=False)
    driver_cpu = time.process_time() - c0
df = RunDir(out).read_parquet("search_full.parquet").sort_values(["source", "target", "grid_point"])
print(json.dumps({"trials": int(len(df)), "failed": int((df["status"] != "ok").sum()),
                  "wall_s": s["wall_s"], "overhead_share": s["overhead_share"], "driver_cpu_s": driver_cpu,
                  "train_s": float(df["train_s"].sum()), "trials_per_minute": s["trials_per_minute"],
                  "f1_test": [float(v) for v in df["f1_test"]]}))
"""


def commit_of(tree: Path) -> str:
    """The tree's git commit (with ``+dirty`` when it has uncommitted changes): what the JSON records, not a path."""
    rev = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
    return (rev.stdout.strip() or "unknown") + ("+dirty" if dirty.stdout.strip() else "")


def run_arm(tree: Path, tasks: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryDirectory(prefix="tune-overhead-") as tmp:
        proc = subprocess.run([sys.executable, "-c", ARM, tasks, str(Path(tmp) / "run")], env=env, cwd=tree,
                              capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"arm {tree} failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="a source tree (checkout) of the code to compare against")
    p.add_argument("--tasks", default="food,water,shelter")
    p.add_argument("--reps", type=int, default=2, help="runs per arm, alternating before / after")
    args = p.parse_args()
    before, after = Path(args.before).resolve(), HERE
    if not (before / "raytp" / "__init__.py").is_file():
        raise SystemExit(f"--before {before}: not a raytp source tree")
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for rep in range(args.reps):
        for arm in (("before", "after") if rep % 2 == 0 else ("after", "before")):
            t0 = time.perf_counter()
            runs[arm].append({**run_arm(before if arm == "before" else after, args.tasks), "load_avg": os.getloadavg(),
                              "process_wall_s": time.perf_counter() - t0})
            r = runs[arm][-1]
            print(f"[{arm}] {r['trials']} trials, search {r['wall_s']:.1f} s, overhead {r['overhead_share']:.1%}, "
                  f"driver CPU {r['driver_cpu_s']:.1f} s", flush=True)
    mean = lambda arm, k: sum(r[k] for r in runs[arm]) / len(runs[arm])  # noqa: E731
    f1_same = all(a["f1_test"] == b["f1_test"] for a, b in zip(runs["before"], runs["after"]))
    out = {"benchmark": "tune_overhead", "machine": machine(), "tasks": args.tasks.split(","), "reps": args.reps,
           "commits": {"before": commit_of(before), "after": commit_of(after)},
           "runs": {k: [{m: v for m, v in r.items() if m != "f1_test"} for r in rs] for k, rs in runs.items()},
           "summary": {arm: {k: mean(arm, k) for k in ("wall_s", "overhead_share", "driver_cpu_s", "train_s")}
                       for arm in runs},
           "f1_test_identical": f1_same}
    out["summary"]["speedup_wall"] = out["summary"]["before"]["wall_s"] / out["summary"]["after"]["wall_s"]
    s = out["summary"]
    print(f"search wall {s['before']['wall_s']:.1f} -> {s['after']['wall_s']:.1f} s ({s['speedup_wall']:.2f}x); "
          f"overhead {s['before']['overhead_share']:.1%} -> {s['after']['overhead_share']:.1%}; driver CPU "
          f"{s['before']['driver_cpu_s']:.1f} -> {s['after']['driver_cpu_s']:.1f} s; per-trial F1 identical: {f1_same}")
    return conclude(args, "tune_overhead.json", out, [] if f1_same else ["per-trial F1 differs between the trees"])


if __name__ == "__main__":
    sys.exit(main())
