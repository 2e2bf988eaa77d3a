"""`raytp run`: the main job — the whole pipeline on one config."""

from __future__ import annotations

import argparse

from raytp.commands.common import add_config_options, config_from_args, print_json
from raytp.report_tables import single_task_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the whole pipeline (the main job)",
                       description="Single-task models -> signatures -> predictor -> pruned search -> recommendations.")
    add_config_options(p)
    p.add_argument("--out", default="runs/default", metavar="RUN_DIR", help="run directory (default runs/default)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in RUN_DIR")
    p.add_argument("--with-full", action="store_true", help="also run the full grid search and the comparison report")
    p.add_argument("--json", action="store_true", help="print the final summary as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raytp.api import train
    cfg = config_from_args(args)
    summary = train(cfg, args.out, resume=args.resume, progress=not args.json)
    if args.json:
        print_json({"single_task": summary})
    else:
        print(single_task_table(summary))
    return 1 if summary["failed"] else 0
