"""Pair searches on Ray Tune: the full grid (the reference) and the pruned Optuna + ASHA search.

Each trial trains one (source, target, hyperparameters) configuration over ``train.seeds`` seeds
in lockstep (``raytp.search.pairs.PairTrainer``) and reports the seed-mean target metrics after
every epoch, so ASHA can stop it early. The dataset travels once through the object store; each
worker process featurises it once and keeps it (``reuse_actors``), so a trial costs its training.

Accounting: a trial's compute seconds = its wall time inside the worker x the resources it holds
(the GPU fraction when GPUs are requested, else its CPUs); the summary adds them up and also
reports the experiment's wall time and the share of slot time not spent training (overhead).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pandas as pd
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from raytp.config import ExperimentConfig, compute_units, config_from_dict
from raytp.data.dataset import MultiTaskDataset
from raytp.errors import RaytpError
from raytp.runtime.cluster import check_fits, worker_data
from raytp.search.outcomes import OK, add_gains, label_rows, noise_margin, pair_outcomes, pooled_seed_sd, summarize
from raytp.search.space import first_point, full_space, hp_columns, resolve_point
from raytp.rundir import RunDir, names

COLUMNS = ["trial_id", "source", "target", "hp_mode", "hp_lr", "hp_lr_scale", "hp_epochs", "hp_source_weight",
           "f1_val", "f1_test", "f1_val_sd", "f1_test_sd", "precision_test", "recall_test", "baseline_f1_val",
           "baseline_f1_test", "gain", "gain_val", "beneficial", "harmful", "status", "error", "stopped_early",
           "epochs_run", "best_epoch", "train_s", "compute_s", "wall_s", "node_id"]


def _pair_trial(config: dict[str, Any], *, cfg_dict: dict[str, Any], ds_box: list[Any],
                trials: list[dict[str, Any]] | None, baselines: dict[str, dict[str, Any]],
                fail_on: list[str]) -> None:
    """Tune trainable: one configuration over the config's seeds, one report per target epoch."""
    from raytp.search.pairs import PairTrainer
    start = time.perf_counter()
    cfg = config_from_dict(cfg_dict)
    if "i" in config:  # full grid: an index into the ordered trial list
        spec = trials[config["i"]]
        source, target, point = spec["source"], spec["target"], spec["point"]
    else:  # pruned: Optuna picked a pair and hyperparameters
        source, target = config["pair"].split(">")
        point = {k: v for k, v in config.items() if k != "pair"}
    if f"{source}>{target}" in fail_on:
        raise RuntimeError(f"injected failure for {source}>{target}")
    ds, backend, features = worker_data(cfg, ds_box)
    resolved = resolve_point(point, baselines[target], cfg)
    trainer = PairTrainer(backend, features, ds, cfg, source, target, resolved, cfg.seeds(),
                          baseline_f1_val=baselines[target]["f1_val"])
    while not trainer.done:
        m = trainer.step()
        metrics = {k: v for k, v in m.items() if not isinstance(v, list)}
        metrics.update({"pair": f"{source}>{target}", "trainer_done": trainer.done, "train_s": m["seconds"],
                        "trial_s": time.perf_counter() - start, "node_id": ray.get_runtime_context().get_node_id()})
        tune.report(metrics)


class _ProgressBar(tune.Callback):
    """One tqdm line for the whole search (Tune's own per-trial tables would flood the console)."""

    def __init__(self, total: int | None, desc: str):
        self.total, self.desc = total, desc
        self.best: float | None = None
        self._bar: Any = None

    @property
    def bar(self) -> Any:
        if self._bar is None:  # created lazily: Tune pickles callbacks into its experiment state
            from tqdm.auto import tqdm
            self._bar = tqdm(total=self.total, desc=self.desc, unit="trial")
        return self._bar

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_bar": None}

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        gain = result.get("gain_val")
        if gain is not None and (self.best is None or gain > self.best):
            self.best = gain
            self.bar.set_postfix_str(f"best val gain {gain:+.3f} ({result.get('pair')}, {result.get('mode')})")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.bar.update(1)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.bar.update(1)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.bar.close()


class WarmStartASHA(ASHAScheduler):
    """ASHA that never stops the first ``protect_first`` trials: the warm-start trial of each kept pair.

    Those trials still report to ASHA's rungs (later trials are compared with them) but run until the pair
    trainer's own early stopping on target validation F1 ends them. Plain ASHA compares every trial's gain
    after ``grace_period`` epochs across different pairs and targets; measured on the default tasks, it cut the
    only trial of request>food, food>water and water>medical_help at epoch 2, pairs whose gain shows from
    epoch 5-7 on. Trials beyond the warm starts (TPE's own samples) are stopped as usual."""

    def __init__(self, protect_first: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.protect_first = int(protect_first)
        self.protected: set[str] = set()

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        super().on_trial_add(tune_controller, trial)
        if len(self.protected) < self.protect_first:  # points_to_evaluate are suggested first, in order
            self.protected.add(trial.trial_id)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        return TrialScheduler.CONTINUE if trial.trial_id in self.protected else decision


def _storage(cfg: ExperimentConfig, run: RunDir) -> str:
    sp = cfg.search.storage_path
    if sp and "://" in sp:
        return sp
    return str(Path(sp or run.path(names.TUNE)).resolve())


def _run_tuner(cfg: ExperimentConfig, ds: MultiTaskDataset, single: dict[str, Any], run: RunDir, mode: str,
               param_space: dict[str, Any], tune_config: dict[str, Any], trials: list[dict[str, Any]] | None,
               progress: bool, fail_on: list[str] | tuple[str, ...] = (),
               resume: bool = False) -> tuple[list[Any], float]:
    """Run (or, with ``resume``, continue) the Tune experiment ``search_<mode>`` under the storage path.

    The experiment name is stable so an interrupted search can be found again: ``resume`` restores it
    (``Tuner.restore``: finished trials keep their results, trials in flight or errored start over, the
    searcher's state comes back) and starts fresh only when nothing restorable exists; without ``resume``
    an earlier local experiment of that name is removed first."""
    res = cfg.resources
    concurrency = cfg.search.max_concurrent_trials or check_fits(res)
    trainable = tune.with_resources(
        tune.with_parameters(_pair_trial, cfg_dict=cfg.model_dump(mode="json"), ds_box=[ray.put(ds)], trials=trials,
                             baselines=single, fail_on=list(fail_on)),
        {"cpu": res.cpus_per_worker, "gpu": res.gpus_per_worker})
    storage, name = _storage(cfg, run), f"search_{mode}"
    exp_path = f"{storage.rstrip('/')}/{name}"
    run_config = tune.RunConfig(
        name=name, storage_path=storage,
        failure_config=tune.FailureConfig(max_failures=res.max_retries),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        callbacks=[_ProgressBar(len(trials) if trials else tune_config.get("num_samples"), f"{mode} search")]
        if progress else None,
        verbose=0)
    if resume and tune.Tuner.can_restore(exp_path):
        tuner = tune.Tuner.restore(exp_path, trainable=trainable, resume_unfinished=True, restart_errored=True,
                                   param_space=param_space)
    else:
        if "://" not in storage and Path(exp_path).is_dir():
            import shutil
            shutil.rmtree(exp_path)  # a fresh search replaces an earlier experiment of the same name
        tuner = tune.Tuner(trainable, param_space=param_space, run_config=run_config,
                           tune_config=tune.TuneConfig(max_concurrent_trials=concurrency, reuse_actors=True,
                                                       trial_dirname_creator=lambda t: f"{mode}_{t.trial_id}",
                                                       **tune_config))
    start = time.perf_counter()
    grid = tuner.fit()
    wall = time.perf_counter() - start
    return [grid[i] for i in range(len(grid))], wall


def _row(result: Any, trial_id: str, source: str, target: str, point: dict[str, Any], cfg: ExperimentConfig,
         baselines: dict[str, Any]) -> dict[str, Any]:
    m = dict(result.metrics or {})
    units = compute_units(cfg.resources.cpus_per_worker, cfg.resources.gpus_per_worker)
    row: dict[str, Any] = {"trial_id": trial_id, "source": source, "target": target}
    try:
        row.update(hp_columns(point, resolve_point(point, baselines[target], cfg)))
    except RaytpError:
        row.update({"hp_mode": point.get("mode")})
    failed = result.error is not None
    row.update({k: m.get(k, math.nan) for k in ("f1_val", "f1_test", "f1_val_sd", "f1_test_sd",
                                                  "precision_test", "recall_test", "best_epoch")})
    row.update({"status": "failed" if failed or "f1_val" not in m else OK,
                "error": _one_line(result.error) if failed else None,
                # Tune fills its own "done"; the trainer's flag says whether training ended by itself
                "stopped_early": bool(not failed and m and not m.get("trainer_done", True)),
                "epochs_run": m.get("epoch", 0), "train_s": m.get("train_s", math.nan),
                "wall_s": m.get("trial_s", math.nan), "node_id": m.get("node_id")})
    row["compute_s"] = (row["wall_s"] if not math.isnan(row["wall_s"]) else 0.0) * units
    if row["status"] != OK:
        for k in ("f1_val", "f1_test", "f1_val_sd", "f1_test_sd"):
            row[k] = math.nan
    return row


def _one_line(err: Any) -> str:
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else type(err).__name__)[:300]


def finish_table(rows: list[dict[str, Any]], cfg: ExperimentConfig, single: dict[str, Any]) -> pd.DataFrame:
    """Gains against each target's baseline, noise-margin labels, the documented column order."""
    df = add_gains(pd.DataFrame(rows), single)
    margin = noise_margin(pooled_seed_sd(df, single), cfg.train.seeds, cfg.search)
    df = label_rows(df, margin)
    return df[[c for c in COLUMNS if c in df.columns]].sort_values("trial_id").reset_index(drop=True)


def run_full_search(cfg: ExperimentConfig, ds: MultiTaskDataset, single: dict[str, Any], run: RunDir,
                    progress: bool = True, fail_on: tuple[str, ...] = (),
                    replicate: bool | None = None, control: bool = False,
                    pairs: list[tuple[str, str]] | None = None, name: str = "full",
                    resume: bool = False) -> dict[str, Any]:
    """Every ordered pair x every grid point; writes search_{name}.parquet and search_{name}.json.

    ``fail_on``: "source>target" pairs whose trials raise (fault injection for tests). ``pairs``
    restricts the grid to those pairs (e.g. the predictor's calibration sample, ``name="calibration"``)."""
    trials = full_space(cfg, single)
    if pairs is not None:
        keep = {tuple(p) for p in pairs}
        trials = [t for t in trials if (t["source"], t["target"]) in keep]
    results, wall = _run_tuner(cfg, ds, single, run, name, {"i": tune.grid_search(list(range(len(trials))))},
                               {}, trials, progress, fail_on, resume=resume)
    rows = []
    for r in results:
        i = int(r.config["i"])
        t = trials[i]
        rows.append(_row(r, f"{name}-{i:04d}", t["source"], t["target"], t["point"], cfg, single))
    return _write(cfg, ds, single, run, name, rows, wall, replicate, control)


def run_pruned_search(cfg: ExperimentConfig, ds: MultiTaskDataset, single: dict[str, Any], run: RunDir,
                      pairs: list[dict[str, Any]], space: dict[str, list[Any]], num_samples: int,
                      progress: bool = True, fail_on: tuple[str, ...] = (),
                      replicate: bool | None = False, resume: bool = False) -> dict[str, Any]:
    """Optuna (TPE, seeded) + ASHA over the kept pairs and a narrowed space; writes search_pruned.*.

    The metric is the seed-mean validation gain over the target's single-task baseline, comparable
    across targets. ``space`` maps hyperparameter names (see ``raytp.config.GRID_KEYS``) to
    candidate values."""
    from optuna.samplers import TPESampler
    from ray.tune.search.optuna import OptunaSearch

    if not pairs:
        raise RaytpError("pruning.json: no pairs kept; nothing to search")
    names = [f"{p['source']}>{p['target']}" for p in pairs]
    for n in names:
        s, t = n.split(">")
        if s == t or s not in cfg.data.tasks or t not in cfg.data.tasks:
            raise RaytpError(f"pruning.json: pair {n} is not an ordered pair of the run's tasks")
        if t not in single:
            raise RaytpError(f"single_task.json: no single-task result for target {t!r}")
    param_space: dict[str, Any] = {"pair": tune.choice(sorted(set(names)))}
    for k, vals in space.items():
        if not isinstance(vals, list) or not vals:
            raise RaytpError(f"pruning.json: space.{k} must be a non-empty list")
        param_space[k] = tune.choice(vals)
    max_epochs = max([int(v) for v in space.get("epochs", [cfg.train.epochs])])
    # every kept pair is tried once at the space's first values before TPE samples freely: with a
    # categorical "pair" and few samples, TPE alone could leave a kept pair never tried
    first = first_point(space)
    warm = [{"pair": n, **first} for n in sorted(set(names))][:int(num_samples)]
    searcher = OptunaSearch(sampler=TPESampler(seed=cfg.seed), points_to_evaluate=warm)
    scheduler = WarmStartASHA(protect_first=len(warm) if cfg.prune.protect_warm_start else 0,
                              time_attr="training_iteration", max_t=max_epochs, grace_period=min(2, max_epochs),
                              reduction_factor=3)
    results, wall = _run_tuner(cfg, ds, single, run, "pruned", param_space,
                               {"metric": "gain_val", "mode": "max", "search_alg": searcher, "scheduler": scheduler,
                                "num_samples": int(num_samples)}, None, progress, fail_on, resume=resume)
    rows = []
    for n, r in enumerate(results):
        s, t = r.config["pair"].split(">")
        point = {k: v for k, v in r.config.items() if k != "pair"}
        rows.append(_row(r, f"pruned-{n:04d}", s, t, point, cfg, single))
    return _write(cfg, ds, single, run, "pruned", rows, wall, replicate, False)


def _write(cfg: ExperimentConfig, ds: MultiTaskDataset, single: dict[str, Any], run: RunDir, mode: str,
           rows: list[dict[str, Any]], wall: float, replicate: bool | None, control: bool) -> dict[str, Any]:
    df = finish_table(rows, cfg, single)
    replication: list[dict[str, Any]] = []
    rep_compute = 0.0
    if (cfg.search.replicate if replicate is None else replicate) or control:
        margin = noise_margin(pooled_seed_sd(df, single), cfg.train.seeds, cfg.search)
        labelled = pair_outcomes(df, margin)
        labelled = labelled[labelled["label"] != "neutral"]  # the control rides along on the labelled pairs
        replication, rep_compute = replicate_pairs(cfg, ds, single, labelled, control=control)
    run.write_parquet(names.search_table(mode), df)
    summary = summarize(df, single, cfg.search, cfg.train.seeds, wall, replication, mode=mode)
    slots = cfg.search.max_concurrent_trials or check_fits(cfg.resources)
    summary["concurrency"] = slots
    summary["overhead_share"] = (max(0.0, 1.0 - float(df["train_s"].fillna(0).sum()) / (wall * slots))
                                 if wall > 0 else None)
    summary["resources_per_trial"] = {"CPU": cfg.resources.cpus_per_worker, "GPU": cfg.resources.gpus_per_worker}
    summary["replication_compute_s"] = rep_compute
    run.write_json(names.search_summary(mode), summary)
    return summary


# -- replication on fresh seeds (and the shuffled-label source control) ------------------------------------------

def _replicate_target(cfg_dict: dict[str, Any], ds_box: list[Any], target: str, target_summary: dict[str, Any],
                      jobs: list[dict[str, Any]], control: bool) -> tuple[list[dict[str, Any]], float]:
    """Fresh-seed baseline for ``target`` and fresh-seed gains of its labelled pairs (+ shuffled control)."""
    import numpy as np

    from raytp.models.single import train_single
    from raytp.search.pairs import PairTrainer, shuffled_labels
    start = time.perf_counter()
    cfg = config_from_dict(cfg_dict)
    ds, backend, features = worker_data(cfg, ds_box)
    fresh = [cfg.seed + 1000 + i for i in range(cfg.train.seeds)]
    lr = float((target_summary.get("hyperparameters") or {}).get("lr", cfg.train.lr))
    base = float(np.mean([train_single(backend, features, ds, target, cfg, lr, s).metrics["f1_test"] for s in fresh]))
    out = []
    for job in jobs:
        resolved = resolve_point(job["point"], target_summary, cfg)
        real = PairTrainer(backend, features, ds, cfg, job["source"], target, resolved, fresh).finish()
        row = {"source": job["source"], "target": target, "label": job["label"], "gain": job["gain"],
               "fresh_baseline_f1_test": base, "fresh_f1_test": real["f1_test"], "fresh_gain": real["f1_test"] - base,
               "seeds": fresh}
        sign = {"beneficial": 1, "harmful": -1}.get(job["label"])
        row["holds"] = None if sign is None else bool(sign * row["fresh_gain"] > 0)
        if control:
            ctl = PairTrainer(backend, features, ds, cfg, job["source"], target, resolved, fresh,
                              source_labels=shuffled_labels(ds, job["source"], cfg), cache=None).finish()
            row["control_gain"] = ctl["f1_test"] - base
        out.append(row)
    return out, time.perf_counter() - start


def replicate_pairs(cfg: ExperimentConfig, ds: MultiTaskDataset, single: dict[str, Any], labelled: pd.DataFrame,
                    control: bool = False, timeout_s: float | None = None) -> tuple[list[dict[str, Any]], float]:
    """Rerun labelled pairs' selected configurations on fresh seeds (one Ray task per target).

    Returns the replication rows and their compute seconds (counted apart from the search)."""
    if labelled.empty:
        return [], 0.0
    jobs: dict[str, list[dict[str, Any]]] = {}
    for r in labelled.itertuples():
        point = {"mode": r.hp_mode, "lr": r.hp_lr, "epochs": int(r.hp_epochs)}
        if r.hp_mode == "multitask" and r.hp_source_weight is not None and not pd.isna(r.hp_source_weight):
            point["source_weight"] = float(r.hp_source_weight)
        jobs.setdefault(r.target, []).append({"source": r.source, "point": point, "label": r.label, "gain": r.gain})
    res = cfg.resources
    fn = ray.remote(_replicate_target).options(num_cpus=res.cpus_per_worker, num_gpus=res.gpus_per_worker,
                                               max_retries=res.max_retries)
    ds_box = [ray.put(ds)]
    cfg_dict = cfg.model_dump(mode="json")
    refs = [fn.remote(cfg_dict, ds_box, t, single[t], js, control) for t, js in jobs.items()]
    rows: list[dict[str, Any]] = []
    seconds = 0.0
    for part, s in ray.get(refs, timeout=timeout_s):
        rows += part
        seconds += s
    return rows, seconds * compute_units(res.cpus_per_worker, res.gpus_per_worker)
