"""Pipeline stages between training and search (pure of Ray): pair features, predictor, pruning plan.

- ``features_stage``: signatures of every task model -> ``pair_features.parquet`` (one row per
  ordered pair: signature similarities, task statistics, LogME, TextEmb, a random score);
- ``predict_stage``: scores every pair with the ``TransferPredictor`` -> ``pair_predictions.parquet``
  (probability, kept, and ``score_<baseline>`` columns), ``predictor.json`` and ``pruning.json``.
The learned predictor learns only from outcomes whose cost is counted (calibration pairs of this
run), from earlier runs on other tasks (``prune.knowledge_base``) or from a transfer atlas of other tasks
(``prune.predictor: atlas``, leave-tasks-out: ``raytp.predict.atlas``); never from the pairs it judges
without paying for them. Those outcomes are labelled on validation F1 (``calibration_labels``):
test labels are outside the label budget (``raytp.data.subsets``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from raytp.config import ExperimentConfig, ordered_pairs
from raytp.data.dataset import MultiTaskDataset
from raytp.data.subsets import probe_indices
from raytp.errors import RunDirError
from raytp.predict import BASELINES, TransferPredictor, build_pruning_plan, fit_atlas_predictor, load_atlas
from raytp.profiling.pair_features import pair_features
from raytp.profiling.signatures import load_signatures, probe_fingerprint
from raytp.profiling.textemb import task_vectors, textemb_table
from raytp.rundir import RunDir, signature_path
from raytp.rundir.names import PAIR_FEATURES, PAIR_PREDICTIONS, PREDICTOR, SEARCH_FULL, SEARCH_PRUNED
from raytp.rundir.records import PruningPlan, read_single_task, write_pruning_plan
from raytp.search.outcomes import validation_margin, validation_truth


def features_stage(cfg: ExperimentConfig, ds: MultiTaskDataset, run: RunDir) -> dict[str, Any]:
    """Compute and write the pair feature table; returns its cost in seconds."""
    start = time.perf_counter()
    summary = read_single_task(run)
    single, tasks = summary.tasks, summary.trained(cfg.data.tasks)
    probe = probe_indices(ds, cfg.data)
    expected = probe_fingerprint(probe, ds.fingerprint())
    sigs = {}
    for t in tasks:
        rel = single[t].get("signature") or signature_path(t)
        if not run.has(rel):
            raise RunDirError(f"{run.path(rel)}: missing signatures of task {t!r}; re-run `raytp train`")
        sigs[t], _ = load_signatures(run.read_bytes(rel), expected_probe=expected)
    t_emb = time.perf_counter()
    textemb = textemb_table(task_vectors(ds, tasks, cfg.data), tasks)
    textemb_s = time.perf_counter() - t_emb
    table = pair_features(sigs, dataset=ds, data_cfg=cfg.data, probe_idx=probe, single=single, textemb=textemb,
                          top_k=cfg.profiling.top_k, seed=cfg.seed, tasks=tasks,
                          input_weighting=cfg.profiling.input_weighting)
    run.write_parquet(PAIR_FEATURES, table)
    return {"pair_features_s": time.perf_counter() - start, "textemb_s": textemb_s, "pairs": len(table)}


def calibration_labels(cfg: ExperimentConfig, features: pd.DataFrame, trials: pd.DataFrame,
                       single: Mapping[str, Any]) -> tuple[pd.DataFrame, float]:
    """Pair features + validation labels of the searched pairs in ``trials``, and the validation noise
    margin they were labelled with (no test label read: the label budget). ``single``: task -> summary."""
    margin = validation_margin(trials, single, cfg.search, cfg.train.seeds)
    return features.merge(validation_truth(trials, margin), on=["source", "target"]), margin


def knowledge_base(paths: list[str]) -> pd.DataFrame:
    """Pair features + validation-labelled outcomes (one row per searched pair) from earlier run directories."""
    from raytp.rundir import load_run_config
    frames = []
    for p in paths:
        run = RunDir(p)
        feats = run.read_parquet(PAIR_FEATURES)
        searched = [rel for rel in (SEARCH_FULL, SEARCH_PRUNED) if run.has(rel)]
        if searched:
            cfg, single = load_run_config(run), read_single_task(run).tasks
        per_run = [calibration_labels(cfg, feats, run.read_parquet(rel), single)[0] for rel in searched]
        if per_run:  # a pair searched by both searches of one run counts once (the full search's outcome);
            # runs are kept apart: the same task names in another run (other data, other corpus) are other pairs
            frames.append(pd.concat(per_run, ignore_index=True).drop_duplicates(["source", "target"], keep="first"))
    if not frames:
        raise RunDirError(f"prune.knowledge_base: no searched pairs in {paths}")
    return pd.concat(frames, ignore_index=True)


def fit_predictor(cfg: ExperimentConfig, features: pd.DataFrame,
                  labelled: pd.DataFrame | None) -> TransferPredictor:
    """Zero-shot, learned from ``labelled`` rows (pair features + a ``beneficial`` column), or (``prune.predictor:
    atlas``) learned from the atlas rows that involve none of this run's tasks."""
    p = cfg.prune
    if p.predictor == "atlas":
        run_tasks = sorted({*cfg.data.tasks, *features["source"].astype(str), *features["target"].astype(str)})
        return fit_atlas_predictor(load_atlas(str(p.atlas)), run_tasks, columns=features.columns,
                                   feature=p.zero_shot_feature, threshold=p.threshold, random_state=cfg.seed)
    if p.predictor == "zero-shot" or labelled is None or len(labelled) == 0:
        return TransferPredictor(mode="zero-shot", feature=p.zero_shot_feature, threshold=p.threshold).fit(features)
    cols = [c for c in features.columns if c in labelled.columns]
    return TransferPredictor(mode="learned", feature=p.zero_shot_feature, threshold=p.threshold,
                             random_state=cfg.seed).fit(labelled[cols], labelled["beneficial"].to_numpy(bool))


def predict_stage(cfg: ExperimentConfig, run: RunDir, labelled: pd.DataFrame | None = None,
                  exclude: set[tuple[str, str]] | None = None, spent_trials: int = 0,
                  margin: float = 0.01, outcomes: pd.DataFrame | None = None) -> PruningPlan:
    """Score every pair, keep the promising ones, write predictions and the pruning plan.

    ``exclude`` are pairs already searched (e.g. calibration pairs): not searched again."""
    start = time.perf_counter()
    features = run.read_parquet(PAIR_FEATURES)
    predictor = fit_predictor(cfg, features, labelled)
    proba = predictor.predict_proba(features)[:, 1]
    scored = features[["source", "target"]].copy()
    scored["probability"] = proba
    candidates = scored
    if exclude:
        candidates = scored[[(s, t) not in exclude for s, t in zip(scored["source"], scored["target"])]]
    plan = build_pruning_plan(candidates, cfg.search.grid, cfg.prune, single=read_single_task(run).tasks, outcomes=outcomes,
                              margin=margin, predictor=predictor.to_dict() | {"fallback": predictor.fallback_},
                              spent_trials=spent_trials, distributions=cfg.search.space)
    kept = {(q["source"], q["target"]) for q in plan.pairs}
    scored["kept"] = [(s, t) in kept for s, t in zip(scored["source"], scored["target"])]
    scored["calibration"] = [(s, t) in (exclude or set()) for s, t in zip(scored["source"], scored["target"])]
    for name, col in BASELINES.items():
        if col in features and np.isfinite(features[col].to_numpy(float)).any():
            scored[f"score_{name}"] = features[col].to_numpy(float)
    plan.predictor_s = time.perf_counter() - start
    run.write_parquet(PAIR_PREDICTIONS, scored)
    run.write_text(PREDICTOR, predictor.to_json())
    write_pruning_plan(run, plan)
    return plan


def calibration_sample(tasks: list[str], n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` ordered pairs spread over targets (seeded): the labelled sample whose cost is counted.

    At most a quarter of all pairs: calibrating on most of the space would be the full search."""
    rng = np.random.default_rng(seed + 101)
    pairs = [(s, t) for t, s in ordered_pairs(tasks)]  # target-major
    n = min(n, max(1, len(pairs) // 4))
    order = rng.permutation(len(pairs))
    chosen, per_target = [], {t: 0 for t in tasks}
    for round_ in range(len(tasks)):
        for i in order:
            s, t = pairs[i]
            if len(chosen) < n and per_target[t] == round_ and (s, t) not in chosen:
                chosen.append((s, t))
                per_target[t] += 1
    return chosen

