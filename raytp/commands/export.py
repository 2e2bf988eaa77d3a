"""`raytp export`: copy a target's kept model out of a run directory into a self-contained model directory."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a target's recommended model",
                       description="Write the model the target's verdict recommends (kept by `raytp run` under "
                                   "RUN_DIR/models/<target>/) to DIR: model.safetensors, model.json, config.yaml. "
                                   "Checksums are verified first; nothing is written on error.")
    p.add_argument("--run", required=True, metavar="RUN_DIR")
    p.add_argument("--target", required=True, help="target task, e.g. food")
    p.add_argument("--out", required=True, metavar="DIR", help="new (or empty) directory to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raytp.search.keep import export_model
    dest = export_model(args.run, args.target, args.out)
    print(f"exported the {args.target} model to {dest} (use it: raytp predict --model {dest} --text \"...\")")
    return 0
