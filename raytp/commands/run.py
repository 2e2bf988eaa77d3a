"""`raytp run`: the main job — the whole pipeline on one config, then recommendations per target."""

from __future__ import annotations

import argparse
import os

from raytp.commands.common import add_config_options, config_from_args, print_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the whole pipeline (the main job)",
                       description="Single-task models -> signatures -> predictor -> pruned search -> recommendations.")
    add_config_options(p)
    p.add_argument("--out", default="runs/default", metavar="RUN_DIR", help="run directory (default runs/default)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in RUN_DIR")
    p.add_argument("--trust", action="store_true",
                   help="with --resume: unpickle Tune state this user's raytp did not record (another user's run "
                        "directory, remote storage, files changed since); only for state you trust")
    p.add_argument("--with-full", action="store_true", help="also run the full grid search and the comparison report")
    p.add_argument("--k", type=int, default=3, help="recommendations printed per target (default 3)")
    p.add_argument("--json", action="store_true", help="print the final summary as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raytp.rundir import RunDir
    from raytp.rundir.names import REPORT, REPORT_MD, REPORT_PAGE
    from raytp.rundir.records import read_single_task
    from raytp.runtime.job import run_pipeline
    from raytp.serving.recommender import Recommender
    from raytp.serving.verdict import verdict_table

    cfg = config_from_args(args)
    if args.trust:
        os.environ["RAYTP_TRUST_RUN_DIR"] = "1"  # read before Tuner.restore (raytp.runtime.tune_search)
    summary = run_pipeline(cfg, args.out, resume=args.resume, with_full=args.with_full, progress=not args.json)
    rec = Recommender.from_run_dir(args.out)
    k = max(1, min(args.k, len(cfg.data.tasks) - 1))
    targets = read_single_task(RunDir(args.out)).trained(cfg.data.tasks)
    answers = {t: rec.recommend(t, k) for t in targets}
    if args.json:
        report = RunDir(args.out).read_json(REPORT) if args.with_full else None
        print_json({**summary, "verdicts": [rec.verdict(t) for t in targets], "recommendations": answers,
                    "report": report})
        return 0
    print("\n" + verdict_table([rec.verdict(t) for t in targets]))
    print(f"\n{rec.verdict(targets[0])['rule']}" if targets else "")
    print(f"\nrun directory: {args.out}")
    if args.with_full:
        print(f"report:        {args.out}/{REPORT_MD} (plots in {args.out}/plots/)")
    if RunDir(args.out).has(REPORT_PAGE):
        print(f"page:          {args.out}/{REPORT_PAGE} (open it, or `raytp serve --run {args.out}` and visit "
              "http://127.0.0.1:8000/)")
    if targets:
        print(f"per target:    raytp recommend --run {args.out} --target {targets[0]}")
    return 0
