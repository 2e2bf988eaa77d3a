"""Options shared by subcommands: config file + overrides of the common fields."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from raytp.config import ExperimentConfig, load_config
from raytp.errors import ConfigError


def add_config_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("experiment config (flags override the YAML)")
    g.add_argument("--config", metavar="FILE", help="experiment YAML (default: the embedded default)")
    g.add_argument("--tasks", help="comma-separated task names, e.g. food,water,shelter")
    g.add_argument("--backend", help="hashed | frozen-encoder | transformer")
    g.add_argument("--max-train", type=int, help="training labels per target task")
    g.add_argument("--workers", type=int, help="concurrent actors / trials")
    g.add_argument("--seed", type=int, help="base seed")
    g.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    tasks = None
    if getattr(args, "tasks", None) is not None:
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        if not tasks:
            raise ConfigError("--tasks: empty task list")
    overrides: dict[str, Any] = {
        "data.tasks": tasks,
        "backend.name": getattr(args, "backend", None),
        "data.max_train": getattr(args, "max_train", None),
        "resources.workers": getattr(args, "workers", None),
        "seed": getattr(args, "seed", None),
        "resources.address": getattr(args, "address", None),
    }
    return load_config(getattr(args, "config", None), overrides)


_HELD: list[str] | None = None  # JSON held back by json_stdout() until stdout is ours again


def print_json(obj: Any) -> None:
    """Print ``obj`` as one JSON line on stdout (inside ``json_stdout()``: once the command has finished)."""
    from raytp.rundir.store import _json_default
    text = json.dumps(obj, default=_json_default) + "\n"
    if _HELD is not None:
        _HELD.append(text)
        return
    sys.stdout.write(text)
    sys.stdout.flush()


@contextlib.contextmanager
def json_stdout() -> Iterator[None]:
    """While a ``--json`` command runs, everything else meant for stdout goes to stderr: Python prints (Ray Tune's
    "Configuration for experiment" box, progress, worker logs) and anything written to file descriptor 1 (child
    processes, C code). The JSON that ``print_json`` held back is written to the real stdout at the end."""
    global _HELD
    held: list[str] = []
    real = sys.stdout
    saved_fd = None
    try:
        real.flush()
        if real.fileno() == 1:
            saved_fd = os.dup(1)
            os.dup2(2, 1)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        saved_fd = None  # stdout is not a file (a test capture): Python-level redirection is enough
    _HELD, sys.stdout = held, sys.stderr
    try:
        yield
    finally:
        sys.stderr.flush()
        _HELD, sys.stdout = None, real
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
        for text in held:
            real.write(text)
        real.flush()
