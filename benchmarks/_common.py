"""Shared bits of the benchmarks: output folder, JSON writing, machine description, committed results,
targets (``--check``) and whether a task set was in-sample or declared beforehand."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import raytp  # noqa: E402,F401  (its offline environment defaults, before torch, transformers or Ray)


RESULTS = Path(__file__).resolve().parent / "results"
TASK_SETS = ("in-sample", "declared")


class BenchParser(argparse.ArgumentParser):
    """Parses a benchmark's arguments, then points the embedding caches (TextEmb, frozen encoder) at a
    fresh empty folder unless ``--warm-cache``: figures are cold-cache unless told otherwise, and
    ``args.caches`` says which."""

    def parse_args(self, *a: Any, **kw: Any) -> argparse.Namespace:  # type: ignore[override]
        args = super().parse_args(*a, **kw)
        if getattr(args, "warm_cache", True):
            args.caches = f"warm (RAYTP_CACHE_DIR={os.environ.get('RAYTP_CACHE_DIR', '~/.cache/raytp')})"
        else:
            import tempfile
            os.environ["RAYTP_CACHE_DIR"] = tempfile.mkdtemp(prefix="raytp-cold-cache-")
            args.caches = "cold (a fresh empty RAYTP_CACHE_DIR: TextEmb and encoder embeddings computed in the run)"
        return args


def parser(description: str) -> argparse.ArgumentParser:
    p = BenchParser(description=description)
    p.add_argument("--warm-cache", action="store_true",
                   help="reuse the embedding caches (default: a fresh empty cache folder, i.e. cold)")
    p.add_argument("--out", default="bench-out", help="folder for the JSON (and run directories)")
    p.add_argument("--quick", action="store_true", help="a small smoke-sized run")
    p.add_argument("--check", action="store_true", help="exit 1 (naming them) when the benchmark's targets are missed")
    p.add_argument("--results", default=str(RESULTS),
                   help="folder for the small committed JSON (benchmarks/results; not written with --quick)")
    return p


def add_task_set(p: argparse.ArgumentParser) -> None:
    """``--task-set``: was the task set chosen (or anything tuned on it) after seeing its results?"""
    p.add_argument("--task-set", choices=TASK_SETS, default="in-sample",
                   help="in-sample: the recipe/policy was chosen after seeing this task set (default, the cautious "
                        "reading); declared: fixed before this run")


def missed_targets(figures: dict[str, float | None], targets: dict[str, tuple[str, float]]) -> list[str]:
    """Targets ({name: (">=" or "<=", bound)}) that ``figures`` miss (a missing figure misses)."""
    missed = []
    for name, (op, bound) in targets.items():
        v = figures.get(name)
        ok = v is not None and (v >= bound if op == ">=" else v <= bound)
        if not ok:
            missed.append(f"{name} = {'missing' if v is None else f'{v:.4g}'} (target {op} {bound})")
    return missed


def finish(args: argparse.Namespace, name: str, out: dict[str, Any], figures: dict[str, float | None],
           targets: dict[str, tuple[str, float]]) -> int:
    """Record targets and load, write the JSON (bench-out and, unless --quick, benchmarks/results), print
    missed targets; the exit code is 1 with ``--check`` when any is missed."""
    out["targets"] = {k: f"{op} {b}" for k, (op, b) in targets.items()}
    return conclude(args, name, out, missed_targets(figures, targets))


def conclude(args: argparse.Namespace, name: str, out: dict[str, Any], missed: list[str]) -> int:
    """Write the JSON (bench-out and, unless --quick, benchmarks/results) with ``targets_missed``, the load
    and the cache state; print each missed target; exit code 1 with ``--check`` when any is missed."""
    out["targets_missed"] = missed
    out.setdefault("load_avg_end", list(os.getloadavg()))
    out.setdefault("caches", getattr(args, "caches", None))
    if out.get("run_dir") and Path(out["run_dir"]).is_absolute():  # no machine-specific paths in committed files
        out["run_dir"] = str(Path("...", *Path(out["run_dir"]).parts[-2:]))
    write_json(args.out, name, out)
    if not args.quick:
        write_json(args.results, name, out)
    for m in missed:
        print(f"target missed: {m}")
    return 1 if args.check and missed else 0


def machine() -> dict[str, Any]:
    import torch
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
            "torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "load_avg": list(os.getloadavg())}


def write_json(out: str | Path, name: str, obj: dict[str, Any]) -> Path:
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=float))
    print(f"\nwrote {path}")
    return path
