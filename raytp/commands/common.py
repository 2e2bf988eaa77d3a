"""Options shared by subcommands: config file + overrides of the common fields."""

from __future__ import annotations

import argparse
import json
import sys
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


def print_json(obj: Any) -> None:
    from raytp.rundir.store import _json_default
    json.dump(obj, sys.stdout, default=_json_default)
    sys.stdout.write("\n")
    sys.stdout.flush()
