"""Full pair search benchmark (issue 3): every ordered pair x the default grid on Ray Tune, in the default regime.

Runs the single-task stage, then the full grid search with replication of labelled pairs on fresh
seeds and a shuffled-label source control, and writes full_search.json with: trials, compute and
wall seconds, trials per minute, per-seed pair-training seconds, Tune overhead share, seed-noise
SD, the shares of pairs beneficial / harmful beyond the margin, the replication rate, the
validation/test gain correlation and the control.

    python benchmarks/full_search.py [--quick] [--tasks food,water,...] [--out bench-out]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_task_set, finish, machine, parser  # noqa: E402

from raytp.config import DEFAULT_TASKS, load_config  # noqa: E402


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", help="comma-separated tasks (default: the config's 8 default tasks)")
    p.add_argument("--no-control", action="store_true", help="skip the shuffled-label source control")
    p.add_argument("--no-replicate", action="store_true", help="skip the fresh-seed replication of labelled pairs")
    add_task_set(p)
    args = p.parse_args()
    tasks = [t for t in (args.tasks or ",".join(DEFAULT_TASKS)).split(",") if t]
    overrides = {"data.tasks": tasks, "name": "bench-full-search"}
    if args.quick:  # a smoke-sized run: 3 tasks, fewer source examples, 2 seeds, 4 epochs
        overrides.update({"data.tasks": tasks[:3], "data.source_max_train": 1500, "train.seeds": 2,
                          "train.epochs": 4})
    cfg = load_config(None, overrides)
    run_dir = Path(args.out) / ("full_search_quick" if args.quick else "full_search") / time.strftime("%Y%m%d-%H%M%S")

    from raytp.api import train
    from raytp.data import load_experiment_data
    from raytp.runtime.cluster import ray_session
    from raytp.runtime.tune_search import run_full_search
    from raytp.rundir import RunDir

    t0 = time.perf_counter()
    single = train(cfg, run_dir, progress=True)
    single_wall = time.perf_counter() - t0
    ds = load_experiment_data(cfg)
    with ray_session(cfg.resources):
        summary = run_full_search(cfg, ds, single.tasks, RunDir(run_dir), progress=True, replicate=not args.no_replicate,
                                  control=not args.no_control)
    df = RunDir(run_dir).read_parquet("search_full.parquet")
    ok = df[df["status"] == "ok"]
    seeds = cfg.train.seeds
    per_seed = ok["train_s"] / seeds
    out = {
        "benchmark": "full_search", "quick": args.quick, "machine": machine(), "run_dir": str(run_dir),
        "regime": {"backend": cfg.backend.name, "tasks": cfg.data.tasks, "target_labels": cfg.data.max_train,
                   "source_examples": cfg.data.source_max_train, "seeds": seeds, "grid": cfg.search.grid,
                   "epochs": cfg.train.epochs, "tune_threshold": cfg.train.tune_threshold},
        "single_task_wall_s": single_wall, "single_task_compute_s": single.compute_s,
        "trials": summary["trials"], "trials_failed": summary["trials_failed"],
        "compute_s": summary["compute_s"], "wall_s": summary["wall_s"],
        "trials_per_minute": summary["trials_per_minute"],
        "pair_seconds_per_seed": {"mean": float(per_seed.mean()), "max": float(per_seed.max()),
                                  "by_mode": {m: float(v) for m, v in (ok.groupby("hp_mode")["train_s"].mean()
                                                                        / seeds).items()}},
        "overhead_share": summary["overhead_share"],
        "pairs_total": summary["pairs_total"], "pairs_beneficial": summary["pairs_beneficial"],
        "pairs_harmful": summary["pairs_harmful"], "beneficial": summary["beneficial"], "harmful": summary["harmful"],
        "noise": summary["noise"], "replication_compute_s": summary["replication_compute_s"],
        "replication": summary["replication"],
    }
    n = out["noise"]
    print(f"\n{out['trials']} trials in {out['wall_s']:.0f} s wall ({out['trials_per_minute']:.1f}/min), "
          f"{out['compute_s']:.0f} compute-s, {out['pair_seconds_per_seed']['mean']:.2f} s per pair-seed, "
          f"overhead {out['overhead_share']:.0%}")
    print(f"seed SD {n['seed_sd']:.4f}, margin {n['margin']:.4f}: {out['pairs_beneficial']} beneficial / "
          f"{out['pairs_harmful']} harmful of {out['pairs_total']} pairs; replication rate {n['replication_rate']}; "
          f"val/test gain Spearman {n['gain_spearman_val_test']}")
    out.update(task_set=args.task_set, caches=args.caches)
    name = "full_search.json" if not args.tasks else f"full_search_{'-'.join(tasks)[:60]}.json"
    figures = {"wall_min": out["wall_s"] / 60, "overhead_share": out["overhead_share"],
               "share_pairs_beneficial": n["share_pairs_beneficial"], "replication_rate": n["replication_rate"]}
    targets = {"wall_min": ("<=", 20.0), "overhead_share": ("<=", 0.2), "share_pairs_beneficial": (">=", 0.1)}
    if not args.no_replicate:
        targets["replication_rate"] = (">=", 0.8)
    return finish(args, name, out, figures, targets)


if __name__ == "__main__":
    sys.exit(main())
