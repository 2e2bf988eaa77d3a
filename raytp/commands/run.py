"""`raytp run`: the main job — the whole pipeline on one config, then recommendations per target."""

from __future__ import annotations

import argparse

from raytp.commands.common import add_config_options, config_from_args, print_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the whole pipeline (the main job)",
                       description="Single-task models -> signatures -> predictor -> pruned search -> recommendations.")
    add_config_options(p)
    p.add_argument("--out", default="runs/default", metavar="RUN_DIR", help="run directory (default runs/default)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in RUN_DIR")
    p.add_argument("--with-full", action="store_true", help="also run the full grid search and the comparison report")
    p.add_argument("--k", type=int, default=3, help="recommendations printed per target (default 3)")
    p.add_argument("--json", action="store_true", help="print the final summary as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raytp.commands.recommend import format_table
    from raytp.serving.recommender import Recommender
    from raytp.report.tables import single_task_table
    from raytp.runtime.job import run_pipeline
    from raytp.rundir import RunDir
    from raytp.rundir.records import read_single_task
    from raytp.rundir.names import REPORT, REPORT_MD

    cfg = config_from_args(args)
    summary = run_pipeline(cfg, args.out, resume=args.resume, with_full=args.with_full, progress=not args.json)
    rec = Recommender.from_run_dir(args.out)
    k = max(1, min(args.k, len(cfg.data.tasks) - 1))
    single = read_single_task(RunDir(args.out))
    answers = {t: rec.recommend(t, k) for t in single.trained(cfg.data.tasks)}
    if args.json:
        report = RunDir(args.out).read_json(REPORT) if args.with_full else None
        print_json({**summary, "recommendations": answers, "report": report})
        return 0
    print("\n" + single_task_table(single))
    for answer in answers.values():
        print("\n" + format_table(answer))
    if args.with_full:
        print("\n" + RunDir(args.out).read_text(REPORT_MD).split("## Ranking")[0].strip())
        print(f"\nfull report: {args.out}/report.md (plots in {args.out}/plots/)")
    print(f"\nrun directory: {args.out}  (serve it: raytp serve --run {args.out})")
    return 0
