"""`raytp predict`: classify texts with an exported model (one JSON object per text on stdout)."""

from __future__ import annotations

import argparse
import json
import sys

from raytp.errors import RaytpError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="classify texts with an exported model",
                       description="Score texts with a model written by `raytp export`: one JSON line per text "
                                   "({text, probability, label}); --evaluate scores the run's test split instead.")
    p.add_argument("--model", required=True, metavar="DIR", help="directory written by `raytp export`")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="one text to classify")
    what.add_argument("--file", metavar="JSONL", help="texts, one JSON string or {\"text\": ...} per line")
    what.add_argument("--evaluate", action="store_true",
                      help="F1 on the test split of the model's run (same data and split), beside the recorded one")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raytp.search.keep import load_model, predict_texts, read_texts
    if args.text is not None and not args.text.strip():
        raise RaytpError("--text: empty text")
    texts = read_texts(args.file) if args.file is not None else None  # bad input fails before the model loads
    model, backend, meta = load_model(args.model)
    if args.evaluate:
        print(json.dumps(evaluate_exported(args.model, model, backend, meta)))
        return 0
    texts = texts if texts is not None else [args.text]
    proba = predict_texts(model, backend, meta, texts)
    for text, p in zip(texts, proba):
        sys.stdout.write(json.dumps({"text": text, "target": meta["target"], "probability": float(p),
                                     "label": int(p >= meta["threshold"])}) + "\n")
    return 0


def evaluate_exported(model_dir: str, model, backend, meta: dict) -> dict:
    """Test-split F1 of the exported model on its run's data (the config it carries), beside the recorded one."""
    from pathlib import Path

    from raytp.config import load_config
    from raytp.data.loading import load_experiment_data
    from raytp.models.single import eval_sets
    from raytp.search.keep import predict_texts
    from raytp.models.metrics import binary_scores
    from raytp.rundir.names import CONFIG
    cfg = load_config(Path(model_dir) / CONFIG)
    ds = load_experiment_data(cfg)
    if ds.fingerprint() != meta.get("data_fingerprint"):
        raise RaytpError(f"{model_dir}: the data on this machine differs from the model's run (fingerprint "
                         f"{ds.fingerprint()} != {meta.get('data_fingerprint')})")
    _, test = eval_sets(ds, meta["target"], cfg)
    proba = predict_texts(model, backend, meta, [ds.texts[i] for i in test.idx])
    scores = binary_scores(test.y, proba >= meta["threshold"])
    return {"target": meta["target"], "kind": meta["kind"], "source": meta["source"], "test_examples": len(test.idx),
            "f1_test": float(scores["f1"]), "recorded_f1_test": meta["f1_test"],
            "recorded_seed_mean_f1_test": meta["recorded_seed_mean_f1_test"]}
