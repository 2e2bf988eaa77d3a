"""`raytp verify`: check every artifact of a run directory against its manifest checksums."""

from __future__ import annotations

import argparse

from raytp.commands.common import print_json
from raytp.store import RunDir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a run directory's checksums")
    p.add_argument("--run", required=True, metavar="RUN_DIR")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    run_dir = RunDir(args.run)
    problems = run_dir.verify()
    n = len(run_dir.manifest()["artifacts"])
    if args.json:
        print_json({"artifacts": n, "problems": problems, "ok": not problems})
    else:
        for p in problems:
            print(f"FAIL {p}")
        print(f"{n} artifacts, {len(problems)} problem(s)")
    return 2 if problems else 0
