"""`raytp compare`: the pruned-vs-full report (report.json, report.md, plots/) of a run directory."""

from __future__ import annotations

import argparse

from raytp.commands.common import print_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare the pruned search against the full grid",
                       description="Write report.json, report.md and plots/ (needs both searches in RUN_DIR).")
    p.add_argument("--run", required=True, metavar="RUN_DIR")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raytp.report import compare_run
    from raytp.rundir import RunDir
    from raytp.rundir.names import REPORT_MD
    report = compare_run(RunDir(args.run))
    if args.json:
        print_json(report)
    else:
        print(RunDir(args.run).read_text(REPORT_MD))
    return 0
