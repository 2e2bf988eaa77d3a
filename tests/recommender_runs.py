"""Build small but realistic run directories for recommender tests and the serve benchmark (real files via RunDir).

Values are generated, not trained: single-task F1s in 0.4..0.75, a probability per ordered pair, top-``keep``
pairs per target kept, and search trials whose gains follow the probability plus noise.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from raytp.rundir import RunDir

TASKS = ["food", "water", "shelter", "medical_help", "request", "floods"]


def write_run(path: str | Path, tasks: list[str] | None = None, seed: int = 0, predictions: bool = True,
              searches: tuple[str, ...] = ("pruned",), keep: int = 2, failed_pair: tuple[str, str] | None = None) -> RunDir:
    """Write single_task.json and (optionally) pair_predictions / search_{pruned,full} parquet into ``path``."""
    tasks = list(tasks or TASKS)
    rng = np.random.default_rng(seed)
    run = RunDir(path, create=True)
    single = {t: {"f1_val": float(rng.uniform(0.4, 0.75)), "f1_test": float(rng.uniform(0.4, 0.75)),
                  "f1_test_sd": float(rng.uniform(0.005, 0.02)),
                  "hyperparameters": {"lr": float(rng.choice([1e-3, 3e-3, 1e-2])), "epochs": int(rng.integers(3, 9))},
                  "seeds": 3} for t in tasks}
    run.write_json("single_task.json", {"tasks": single, "wall_s": 12.5, "config_fingerprint": f"fp{seed:04d}"})

    pairs = [(s, t) for s, t in itertools.permutations(tasks, 2)]
    prob = {p: float(rng.uniform(0.02, 0.98)) for p in pairs}
    kept = set()
    for t in tasks:
        ranked = sorted((s for s in tasks if s != t), key=lambda s: -prob[(s, t)])
        kept.update((s, t) for s in ranked[:keep])
    if predictions:
        run.write_parquet("pair_predictions.parquet", pd.DataFrame(
            [{"source": s, "target": t, "probability": prob[(s, t)], "kept": (s, t) in kept} for s, t in pairs]))

    grid = [{"hp_mode": m, "hp_source_weight": w} for m in ("multitask", "sequential") for w in (0.5, 1.0)]
    for label in searches:
        searched = sorted(kept) if label == "pruned" else pairs
        rows, tid = [], 0
        for s, t in searched:
            trials = grid[:2] if label == "pruned" else grid
            for hp in trials:
                base_v, base_t = single[t]["f1_val"], single[t]["f1_test"]
                gain = float((prob[(s, t)] - 0.5) * 0.06 + rng.normal(0, 0.01))
                gain_val = gain + float(rng.normal(0, 0.005))
                failed = (s, t) == failed_pair
                rows.append({"trial_id": f"{label}_{tid:04d}", "source": s, "target": t, **hp,
                             "hp_lr": float(rng.choice([3e-3, 1e-2])),
                             "f1_val": None if failed else base_v + gain_val, "f1_test": None if failed else base_t + gain,
                             "baseline_f1_val": base_v, "baseline_f1_test": base_t,
                             "gain": None if failed else gain, "gain_val": None if failed else gain_val,
                             "beneficial": gain > 0.02, "harmful": gain < -0.02,
                             "status": "failed" if failed else "ok", "compute_s": float(rng.uniform(2, 5))})
                tid += 1
        run.write_parquet(f"search_{label}.parquet", pd.DataFrame(rows))
    return run


# Bad requests every deployment of the API must answer with a JSON 4xx: (id, method, path, httpx kwargs, status, code).
BAD_REQUESTS = [
    ("unknown-target", "POST", "/v1/recommend", {"json": {"target": "pizza", "k": 2}}, 404, "unknown_task"),
    ("k-zero", "POST", "/v1/recommend", {"json": {"target": "food", "k": 0}}, 422, "invalid_request"),
    ("k-too-big", "POST", "/v1/recommend", {"json": {"target": "food", "k": len(TASKS)}}, 422, "invalid_query"),
    ("k-string", "POST", "/v1/recommend", {"json": {"target": "food", "k": "3"}}, 422, "invalid_request"),
    ("k-float", "POST", "/v1/recommend", {"json": {"target": "food", "k": 2.5}}, 422, "invalid_request"),
    ("k-bool", "POST", "/v1/recommend", {"json": {"target": "food", "k": True}}, 422, "invalid_request"),
    ("target-int", "POST", "/v1/recommend", {"json": {"target": 7}}, 422, "invalid_request"),
    ("target-missing", "POST", "/v1/recommend", {"json": {"k": 2}}, 422, "invalid_request"),
    ("target-empty", "POST", "/v1/recommend", {"json": {"target": ""}}, 422, "invalid_request"),
    ("extra-field", "POST", "/v1/recommend", {"json": {"target": "food", "kk": 1}}, 422, "invalid_request"),
    ("body-list", "POST", "/v1/recommend", {"json": ["food"]}, 422, "invalid_request"),
    ("body-null", "POST", "/v1/recommend", {"json": None}, 422, "invalid_request"),
    ("no-body", "POST", "/v1/recommend", {}, 422, "invalid_request"),
    ("malformed-json", "POST", "/v1/recommend",
     {"content": b'{"target": "food",', "headers": {"content-type": "application/json"}}, 400, "malformed_json"),
    ("not-utf8", "POST", "/v1/recommend",
     {"content": b'{"target": "\xff\xfe"}', "headers": {"content-type": "application/json"}}, 400, "malformed_json"),
    ("too-large", "POST", "/v1/recommend", {"json": {"target": "food", "pad": "x" * 70_000}}, 413, "body_too_large"),
    ("unknown-pair-source", "GET", "/v1/pairs/pizza/food", {}, 404, "unknown_task"),
    ("same-pair", "GET", "/v1/pairs/food/food", {}, 422, "invalid_query"),
    ("unknown-route", "GET", "/v1/nothing", {}, 404, "not_found"),
    ("wrong-method", "GET", "/v1/recommend", {}, 405, "method_not_allowed"),
]
