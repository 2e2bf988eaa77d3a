"""``raytp data describe``: what a data set holds; ``raytp data check``: load it as training will."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from raytp.errors import ConfigError

DATASETS = ["disaster-response", "trecis", "table", "complaints"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="describe or check a data set",
                       description="Inspect a data set: sizes, splits, positives per task, label co-occurrence.")
    actions = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    d = actions.add_parser("describe", help="sizes, split counts, positives per task, label co-occurrence",
                           description="Describe a data set (default: disaster-response).")
    d.add_argument("--config", metavar="FILE", help="describe the experiment's data and tasks (one corpus or "
                                                    "several combined) instead of a data set given by flags")
    d.add_argument("--dataset", choices=DATASETS, help="loader (default: disaster-response, or guessed from --path)")
    d.add_argument("--path", metavar="FILE", help="table file (CSV/TSV/JSONL/Parquet) or TREC-IS labels JSON")
    d.add_argument("--format", choices=["trecis", "table"], help="how to read --path (default: .json is trecis)")
    d.add_argument("--tweets", metavar="FILE", help="trecis: hydrated tweets JSONL")
    d.add_argument("--text-column", metavar="C", help="table: text column (default: text)")
    d.add_argument("--split-column", metavar="C", help="table: split column (default: split; 'none' forces a "
                                                         "stratified split)")
    d.add_argument("--label-columns", metavar="A,B", help="table: label columns (default: every 0/1 column)")
    d.add_argument("--label-column", metavar="C", help="table: one multi-class column (a task per class)")
    d.add_argument("--split-seed", type=int, metavar="N", help="seed of the stratified split when the data has none")
    d.add_argument("--tasks", metavar="A,B", help="only these tasks (comma-separated)")
    d.add_argument("--top", type=int, default=10, metavar="N", help="co-occurring pairs to list (default 10)")
    d.add_argument("--json", action="store_true", help="print one JSON object instead of a table")

    c = actions.add_parser("check", help="load the experiment's data exactly as training will",
                           description="Load the configured data set and tasks; fail (exit 2) on anything "
                                       "training would reject, e.g. a task with no positives in a split.")
    c.add_argument("--config", metavar="FILE", help="experiment YAML (default: the embedded default)")
    c.add_argument("--tasks", metavar="A,B", help="comma-separated task names (overrides the config)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _csv(value: str | None, flag: str) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise ConfigError(f"{flag}: empty list")
    return items


def dataset_config_from_args(args: argparse.Namespace):
    """A validated ``DatasetConfig`` from ``describe``'s flags."""
    from raytp.config import config_from_dict
    name = args.dataset
    if args.format is not None:
        if name is not None and name != args.format:
            raise ConfigError(f"--dataset {name} conflicts with --format {args.format}")
        name = args.format
    if name is None:
        if args.tweets is not None:
            name = "trecis"
        elif args.path is not None:
            name = "trecis" if Path(args.path).suffix.lower() == ".json" else "table"
        else:
            name = "disaster-response"
    d: dict[str, Any] = {"name": name}
    if args.path is not None:
        d["path"] = args.path
    if args.tweets is not None:
        d["tweets"] = args.tweets
    if args.text_column is not None:
        d["text_column"] = args.text_column
    if args.split_column is not None:
        d["split_column"] = None if args.split_column.lower() == "none" else args.split_column
    if args.label_columns is not None:
        d["label_columns"] = _csv(args.label_columns, "--label-columns")
    if args.label_column is not None:
        d["label_column"] = args.label_column
    if args.split_seed is not None:
        d["split_seed"] = args.split_seed
    return config_from_dict({"data": {"dataset": d}}, source="command line").data.dataset


def run_describe(args: argparse.Namespace) -> int:
    from raytp.commands.common import print_json
    from raytp.data.describe import describe, format_description, select_tasks
    from raytp.data.loading import load_dataset
    if args.top < 0:
        raise ConfigError("--top must be >= 0")
    if args.config is not None:
        from raytp.config import load_config
        from raytp.data.loading import load_data
        flags = [f for f in ("dataset", "path", "format", "tweets", "text_column", "split_column", "label_columns",
                             "label_column", "split_seed") if getattr(args, f) is not None]
        if flags:
            raise ConfigError(f"--config conflicts with --{flags[0].replace('_', '-')}: the config names the data")
        ds = select_tasks(load_data(load_config(args.config).data), _csv(args.tasks, "--tasks"))
    else:
        ds = select_tasks(load_dataset(dataset_config_from_args(args)), _csv(args.tasks, "--tasks"))
    summary = describe(ds, top=args.top)
    if args.json:
        print_json(summary)
    else:
        print(format_description(summary))
    return 0


def run_check(args: argparse.Namespace) -> int:
    from raytp.commands.common import config_from_args, print_json
    from raytp.data.loading import load_experiment_data
    cfg = config_from_args(args)
    ds = load_experiment_data(cfg)
    summary = {"ok": True, "dataset": ds.provenance.get("name"), "path": ds.provenance.get("path"),
               "examples": len(ds), "fingerprint": ds.fingerprint(), "positives": ds.positives()}
    if args.json:
        print_json(summary)
    else:
        print(f"ok: {summary['dataset']}, {len(ds):,} examples, {len(ds.tasks)} tasks, fingerprint {summary['fingerprint']}")
        for t, p in summary["positives"].items():
            print(f"  {t}: positives train {p['train']:,} · validation {p['validation']:,} · test {p['test']:,}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.data_command == "describe":
        return run_describe(args)
    return run_check(args)
