"""`raytp train`: the single-task stage (one model per task, Ray actors, concurrently)."""

from __future__ import annotations

import argparse

from raytp.commands.common import add_config_options, config_from_args, print_json
from raytp.report.tables import single_task_table
from raytp.rundir.names import SINGLE_TASK


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one model per task on Ray actors",
                       description="Train (and profile) one model per task, concurrently, as Ray actors.")
    add_config_options(p)
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write")
    p.add_argument("--resume", action="store_true", help="keep tasks already finished in RUN_DIR")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raytp.api import train
    cfg = config_from_args(args)
    summary = train(cfg, args.out, resume=args.resume, progress=not args.json)
    if args.json:
        print_json(summary.to_dict())
    else:
        print(single_task_table(summary))
        print(f"\nwrote {args.out}/{SINGLE_TASK}")
    return 1 if summary.failed else 0
