"""`raytp search`: the full pair x hyperparameter grid (the reference) or the pruned Optuna search, on Ray Tune."""

from __future__ import annotations

import argparse
from typing import Any

from raytp.commands.common import print_json
from raytp.rundir.names import search_summary, search_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search task pairs on Ray Tune (full grid or pruned)",
                       description="Train task pairs as Ray Tune trials. --mode full: every ordered pair x the "
                                   "config's grid (writes search_full.parquet/.json); --mode pruned: Optuna (TPE) + "
                                   "ASHA over the pairs and space in RUN_DIR/pruning.json (writes search_pruned.*).")
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="run directory made by `raytp train`")
    p.add_argument("--mode", choices=["full", "pruned"], default="full")
    p.add_argument("--no-replicate", action="store_true", help="skip the fresh-seed replication of labelled pairs")
    p.add_argument("--control", action="store_true",
                   help="also train each labelled pair with a shuffled-label source on fresh seeds (generic-data control)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted search of this mode in RUN_DIR (finished trials are kept, not rerun)")
    p.add_argument("--address", help="Ray cluster address (default: the run's config, RAY_ADDRESS, else local)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raytp.data import load_experiment_data
    from raytp.runtime.cluster import ray_session
    from raytp.rundir import RunDir, load_run_config
    from raytp.rundir.records import read_pruning_plan, read_single_task

    run_dir = RunDir(args.run)
    cfg = load_run_config(run_dir)
    if args.address:
        cfg.resources.address = args.address
    single = read_single_task(run_dir).tasks
    plan = read_pruning_plan(run_dir) if args.mode == "pruned" else None
    ds = load_experiment_data(cfg)
    replicate = False if args.no_replicate else None
    with ray_session(cfg.resources):
        from raytp.runtime.tune_search import run_full_search, run_pruned_search
        if plan is None:
            summary = run_full_search(cfg, ds, single, run_dir, progress=not args.json, replicate=replicate,
                                      control=args.control, resume=args.resume)
        else:
            summary = run_pruned_search(cfg, ds, single, run_dir, plan.pairs, plan.space, plan.num_samples,
                                        progress=not args.json, replicate=False if replicate is False else None,
                                        resume=args.resume)
    if args.json:
        print_json(summary)
    else:
        print(format_summary(summary))
        print(f"\nwrote {args.run}/{search_table(args.mode)} and {search_summary(args.mode)}")
    return 0


def format_summary(s: dict[str, Any]) -> str:
    noise = s["noise"]
    rate = noise.get("replication_rate")
    lines = [f"{s['mode']} search: {s['trials']} trials ({s['trials_failed']} failed), "
             f"{s['compute_s']:.0f} compute-s, {s['wall_s']:.0f} s wall",
             f"pairs: {s['pairs_beneficial']} beneficial, {s['pairs_harmful']} harmful of {s['pairs_total']} "
             f"(margin {noise['margin']:.3f} F1, seed SD {noise['seed_sd']:.3f}"
             + (f", replication {rate:.0%} of {noise['replicated']}" if rate is not None else "") + ")",
             "", f"{'target':<16} {'best source':<16} {'mode':<11} {'F1 test':>8} {'gain':>7}"]
    for target, b in s["best"].items():
        lines.append(f"{target:<16} {b['source']:<16} {str(b['hyperparameters'].get('mode')):<11} "
                     f"{b['f1_test']:>8.3f} {b['gain']:>+7.3f}")
    return "\n".join(lines)
