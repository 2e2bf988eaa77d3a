"""The main job on Ray: single-task stage -> pair features -> predictor (with an optional, counted
calibration sample) -> pruned Optuna search -> recommendations; optionally the full grid and the
comparison report. Each stage is skipped on ``resume`` when its output is already in RUN_DIR."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from raytp.config import ExperimentConfig
from raytp.data import load_experiment_data
from raytp.pipeline import calibration_labels, calibration_sample, features_stage, knowledge_base, predict_stage
from raytp.predict import load_atlas
from raytp.report import compare_run
from raytp.runtime.cluster import ray_session
from raytp.rundir import prepare_run_dir
from raytp.rundir.records import read_pruning_plan, read_single_task
from raytp.rundir.names import (CALIBRATION, PAIR_FEATURES, PIPELINE, PRUNING, SEARCH_FULL, SEARCH_PRUNED,
                                SINGLE_TASK)


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(f"[raytp] {msg}", flush=True)


def run_pipeline(cfg: ExperimentConfig, run_dir: str, resume: bool = False, with_full: bool = False,
                 progress: bool = True) -> dict[str, Any]:
    from raytp.runtime.single_task import run_single_task_stage
    from raytp.runtime.tune_search import run_full_search, run_pruned_search

    start = time.perf_counter()
    if cfg.prune.predictor == "atlas":
        load_atlas(str(cfg.prune.atlas))  # a bad path fails here, before any training
    ds = load_experiment_data(cfg)
    run = prepare_run_dir(run_dir, cfg, resume=resume)
    stages: dict[str, Any] = run.read_json(PIPELINE)["stages"] if resume and run.has(PIPELINE) else {}

    def done(artifact: str) -> bool:
        return resume and run.has(artifact)

    def record(key: str, info: dict[str, Any]) -> None:
        stages[key] = info
        run.write_json(PIPELINE, {"stages": stages, "config_fingerprint": cfg.fingerprint()})

    with ray_session(cfg.resources):
        if not done(SINGLE_TASK):
            _log(progress, f"single-task stage: {len(cfg.data.tasks)} tasks")
            s = run_single_task_stage(cfg, ds, run, resume=resume, progress=progress)
            record("single_task", {"wall_s": s.wall_s, "compute_s": s.compute_s, "example_epochs": s.example_epochs,
                                   "failed": s.failed})
        single = read_single_task(run).tasks

        if not done(PAIR_FEATURES):
            _log(progress, "pair features: signature similarities, task statistics, LogME, TextEmb")
            record("pair_features", features_stage(cfg, ds, run))

        labelled, exclude, spent, cal_trials, margin = None, set(), 0, None, cfg.search.min_margin
        if cfg.prune.predictor == "learned":
            frames = []
            if cfg.prune.knowledge_base:
                frames.append(knowledge_base([str(p) for p in cfg.prune.knowledge_base]))
            if cfg.prune.calibration_pairs > 0:
                pairs = calibration_sample(list(single), cfg.prune.calibration_pairs, cfg.seed)
                if not done(CALIBRATION):
                    _log(progress, f"calibration: {len(pairs)} pairs x the full grid (cost counted)")
                    c = run_full_search(cfg, ds, single, run, progress=progress, replicate=False, pairs=pairs,
                                        name="calibration", resume=resume)
                    record("calibration", {"wall_s": c["wall_s"], "compute_s": c["compute_s"], "trials": c["trials"],
                                           "example_epochs": c["example_epochs"], "margin": c["noise"]["margin"]})
                cal_trials = run.read_parquet(CALIBRATION)
                cal_labelled, margin = calibration_labels(cfg, run.read_parquet(PAIR_FEATURES), cal_trials, single)
                frames.append(cal_labelled)
                exclude, spent = set(pairs), len(cal_trials)
            labelled = pd.concat(frames, ignore_index=True) if frames else None

        if not done(PRUNING):
            plan = predict_stage(cfg, run, labelled, exclude, spent, margin=margin, outcomes=cal_trials)
            n_labelled = (plan.predictor.get("n_train_", 0) if cfg.prune.predictor == "atlas"  # atlas rows learned from
                          else 0 if labelled is None else len(labelled))
            record("predict", {"compute_s": plan.predictor_s, "pairs_kept": len(plan.pairs),
                               "num_samples": plan.num_samples, "labelled": n_labelled,
                               "fallback": plan.predictor.get("fallback")})
            _log(progress, f"predictor kept {len(plan.pairs)} of {plan.pairs_total} pairs "
                           f"({plan.num_samples} Optuna trials)")
        plan = read_pruning_plan(run)

        if plan.pairs and not done(SEARCH_PRUNED):
            _log(progress, "pruned search: Ray Tune + Optuna (TPE) + ASHA over the kept pairs")
            p = run_pruned_search(cfg, ds, single, run, plan.pairs, plan.space, plan.num_samples,
                                  distributions=plan.distributions or None,
                                  progress=progress, replicate=False, resume=resume)
            record("pruned_search", {"wall_s": p["wall_s"], "compute_s": p["compute_s"], "trials": p["trials"],
                                     "example_epochs": p["example_epochs"]})

        if with_full:
            if not done(SEARCH_FULL):
                _log(progress, "full grid search (the reference)")
                f = run_full_search(cfg, ds, single, run, progress=progress, resume=resume)
                record("full_search", {"wall_s": f["wall_s"], "compute_s": f["compute_s"], "trials": f["trials"],
                                       "example_epochs": f["example_epochs"]})
            compare_run(run)
    from raytp.serving.kept import keep_models
    _log(progress, "keeping the recommended model of each target (models/<target>/)")
    record("models", keep_models(cfg, ds, run, resume=resume))
    record("pipeline", {"wall_s": time.perf_counter() - start + stages.get("pipeline", {}).get("wall_s", 0.0)})
    from raytp.serving.page import write_page
    write_page(run)  # the page a user looks at: verdicts, pair heatmaps, best-so-far gain (report.html)
    return {"stages": stages, "run_dir": str(run.root)}
