"""`raytp verify`: check every artifact of a run directory against its manifest, and that it parses.

Each artifact recorded in ``manifest.json`` must exist, match its size and SHA-256, and load as what its
name says (JSON, Parquet, safetensors, UTF-8 text) — with the same readers the pipeline uses, so what
verify passes every stage can read. Temporary files left by a writer that was killed mid-write
(``.<name>.*.tmp``) are listed as stray: harmless (never under an artifact's final name), removable; a first
write killed before its rename is listed as interrupted (the artifact does not exist yet).
Exit 0 when every artifact passes, 2 otherwise (one line per problem on stdout, a summary on stderr).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from raytp.commands.common import print_json
from raytp.errors import RunDirError
from raytp.rundir import MANIFEST, RunDir
from raytp.rundir.names import artifact_kind


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a run directory's checksums",
                       description="Check every artifact of RUN_DIR against the manifest's checksums and that it "
                                   "parses; exit 2 naming each truncated, modified or missing file.")
    p.add_argument("--run", required=True, metavar="RUN_DIR")
    p.add_argument("--json", action="store_true", help="print one JSON object: artifacts, problems, stray, ok")
    p.set_defaults(func=run)


def check_artifact(run_dir: RunDir, rel: str) -> None:
    """Raise RunDirError unless ``rel`` matches its checksum and loads as its type."""
    getattr(run_dir, f"read_{artifact_kind(rel)}")(rel)


def verify_run(path: str) -> dict[str, Any]:
    """``{"artifacts": n, "problems": [...], "stray": [...], "ok": bool}`` for a run directory."""
    run_dir = RunDir(path)
    if not (run_dir.root / MANIFEST).is_file():
        raise RunDirError(f"{run_dir.root / MANIFEST}: missing; not a raytp run directory (or nothing written yet)")
    artifacts = sorted(run_dir.manifest()["artifacts"])
    problems, interrupted = [], []
    for rel in artifacts:
        if run_dir._interrupted(rel):  # a first write killed before its rename: never visible, nothing to check
            interrupted.append(rel)
            continue
        try:
            check_artifact(run_dir, rel)
        except RunDirError as e:
            problems.append(str(e))
    stray = sorted(str(p.relative_to(run_dir.root)) for p in run_dir.root.rglob(".*.tmp") if p.is_file())
    return {"run": str(run_dir.root), "artifacts": len(artifacts) - len(interrupted), "problems": problems,
            "stray": stray, "interrupted": interrupted, "ok": not problems}


def run(args: argparse.Namespace) -> int:
    result = verify_run(args.run)
    if args.json:
        print_json(result)
    else:
        for p in result["problems"]:
            print(f"FAIL {p}")
        for s in result["stray"]:
            print(f"stray temporary file (an interrupted write; safe to delete): {s}")
        print(f"{result['artifacts']} artifacts, {len(result['problems'])} problem(s)")
    if result["problems"]:
        first = result["problems"][0]
        more = f" (+{len(result['problems']) - 1} more)" if len(result["problems"]) > 1 else ""
        print(f"raytp: error: verify failed: {first}{more}", file=sys.stderr)
        return 2
    return 0
