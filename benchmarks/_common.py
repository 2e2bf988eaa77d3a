"""Shared bits of the benchmarks: output folder, JSON writing, machine description."""

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

os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default="bench-out", help="folder for the JSON (and run directories)")
    p.add_argument("--quick", action="store_true", help="a small smoke-sized run")
    return p


def machine() -> dict[str, Any]:
    import torch
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
            "torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def write_json(out: str | Path, name: str, obj: dict[str, Any]) -> Path:
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=float))
    print(f"\nwrote {path}")
    return path
