"""Pair searches on Ray Tune: the full grid (the reference) and the pruned Optuna + ASHA search.

Each trial trains one (source, target, hyperparameters) configuration over ``train.seeds`` seeds
in lockstep (``raytp.search.pairs.PairTrainer``). A pruned trial reports the seed-mean target metrics after
every epoch, so ASHA can stop it early; a full-grid trial (FIFO: nothing reads it early) reports once, at its end,
with the per-epoch curves packed in, since Tune's controller pays per result. The dataset travels once through
the object store; each worker process featurises it once and keeps it (``reuse_actors``), so a trial costs its
training.

Accounting: a trial's compute seconds = its wall time inside the worker x the resources it holds
(the GPU fraction when GPUs are requested, else its CPUs); the summary adds them up and also
reports the experiment's wall time and the share of slot time not spent training (overhead). Next to
seconds, a deterministic unit: ``example_epochs``, the training examples a trial passed forward and
backward over all its seeds (sequential source phase included; an ASHA-stopped trial counts the epochs it
ran), with ``curve_example_epochs`` per epoch; ``eval_examples`` counts the validation passes apart.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import ray
from ray import tune

from raytp.config import ExperimentConfig, compute_units, config_from_dict, grid_points
from raytp.data.dataset import MultiTaskDataset
from raytp.errors import Interrupted, RaytpError, RunDirError
from raytp.models.registry import with_hidden
from raytp.runtime.cluster import check_fits, worker_data
from raytp.runtime.per_target import PerTargetASHA, PerTargetSearcher
from raytp.search.state_integrity import TRUST_ENV, StateRecord, state_key
from raytp.rundir import RunDir, names
from raytp.search.distributions import check_space, resource_range
from raytp.search.outcomes import (OK, add_gains, grid_value, label_rows, noise_margin, pair_outcomes, pooled_seed_sd,
                                   summarize, total_example_epochs)
from raytp.search.space import first_point, full_space, hp_columns, resolve_point
from raytp.search.tpe import TargetStudies

COLUMNS = ["trial_id", "source", "target", "grid_point", "warm", "hp_mode", "hp_lr", "hp_lr_scale", "hp_epochs",
           "hp_source_weight", "hp_source_ratio", "hp_hidden",
           "f1_val", "f1_test", "f1_val_sd", "f1_test_sd", "precision_test", "recall_test", "baseline_f1_val",
           "baseline_f1_test", "gain", "gain_val", "beneficial", "harmful", "status", "error", "stopped_early",
           "epochs_run", "best_epoch", "train_s", "compute_s", "wall_s", "node_id",
           "curve_f1_val", "curve_f1_test", "curve_s", "example_epochs", "eval_examples", "curve_example_epochs",
           "source_example_epochs"]


def _pair_trial(config: dict[str, Any], *, cfg_dict: dict[str, Any], ds_box: list[Any],
                trials: list[dict[str, Any]] | None, baselines: dict[str, dict[str, Any]],
                fail_on: list[str]) -> None:
    """Tune trainable: one configuration over the config's seeds; a pruned trial reports after every target epoch
    (for ASHA), a full-grid trial once, at its end, with its per-epoch curves packed in."""
    from raytp.search.pairs import PairTrainer
    start = time.perf_counter()
    cfg = config_from_dict(cfg_dict)
    if "i" in config:  # full grid: an index into the ordered trial list
        spec = trials[config["i"]]
        source, target, point = spec["source"], spec["target"], spec["point"]
    else:  # pruned: Optuna picked a pair and hyperparameters
        source, target = config["pair"].split(">")
        point = trial_point(config)
    if f"{source}>{target}" in fail_on:
        raise RuntimeError(f"injected failure for {source}>{target}")
    ds, backend, features = worker_data(cfg, ds_box)
    resolved = resolve_point(point, baselines[target], cfg)
    trainer = PairTrainer(with_hidden(backend, cfg.backend, resolved.hidden), features, ds, cfg, source, target, resolved,
                          cfg.seeds(),
                          baseline_f1_val=baselines[target]["f1_val"])
    every_epoch = "i" not in config  # ASHA reads the pruned search's every epoch; the full grid (FIFO) only its end
    curves: dict[str, list[float]] = {name: [] for name in CURVES}
    metrics: dict[str, Any] = {}
    try:
        while not trainer.done:
            m = trainer.step()
            metrics = {k: v for k, v in m.items() if not isinstance(v, list)}
            metrics.update({"pair": f"{source}>{target}", "trainer_done": trainer.done, "train_s": m["seconds"],
                            "trial_s": time.perf_counter() - start, "node_id": ray.get_runtime_context().get_node_id()})
            for name, key in CURVES.items():
                curves[name].append(metrics[key])
            if every_epoch:
                tune.report(metrics)
    finally:  # one result per full-grid trial, the per-epoch curves packed into it (Tune's cost is per result);
        if not every_epoch and metrics:  # a trial that fails part-way still reports what it trained
            tune.report({**metrics, PACKED_CURVES: json.dumps(curves)})


CURVES = {"curve_f1_val": "f1_val", "curve_f1_test": "f1_test", "curve_s": "trial_s",
          "curve_example_epochs": "example_epochs"}  # row column -> the per-epoch metric it lists
PACKED_CURVES = "curves_json"  # a full-grid trial's one result carries its curves under this key


def trial_point(config: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters of a pruned trial's config (without ``pair`` and ``_``-prefixed bookkeeping)."""
    return {k: v for k, v in config.items() if k != "pair" and not k.startswith("_")}


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


class _StateRecorder(tune.Callback):
    """Hashes the Tune state files a restore would unpickle as soon as Tune writes them (checked after every step
    of the controller) into the run directory's HMAC'd record (``raytp.search.state_integrity``). Tune writes
    them into the driver's staging directory and copies them to the storage path in a background thread: both are
    hashed, so a version is recorded before its copy reaches the storage path.

    Tune pickles its callbacks into tuner.pkl, and a restored Tuner brings back that copy: so only paths are
    pickled, and the record (and this user's key) are loaded from the run directory on first use."""

    def __init__(self, run_root: str, exp_dir: str, record_rel: str):
        self.run_root, self.exp_dir, self.record_rel = run_root, exp_dir, record_rel
        self._record: StateRecord | None = None
        self._key: bytes | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_record": None, "_key": None}

    def flush(self, trials: list | None = None, full: bool = False) -> None:
        """Record what changed (``full``: walk every directory, not only those whose time changed)."""
        run = RunDir(self.run_root)
        if self._record is None:
            self._key = state_key()
            self._record = load_state_record(run, self.record_rel, self._key, missing_ok=True)
        storage = getattr(trials[0], "storage", None) if trials else None
        staging = getattr(storage, "experiment_driver_staging_path", None)
        grew = self._record.update(Path(staging), full) if staging else False
        grew = self._record.update(Path(self.exp_dir), full) or grew
        if grew or not run.has(self.record_rel):
            run.write_json(self.record_rel, self._record.to_json(self._key))

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        self.flush(trials)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.flush(trials, full=True)


def load_state_record(run: RunDir, rel: str, key: bytes, missing_ok: bool = False) -> StateRecord:
    if not run.has(rel):
        if missing_ok:
            return StateRecord()
        raise RunDirError(f"{run.path(rel)}: no checksum record of the Tune state to resume; refusing to unpickle "
                          "it (pass --trust to resume anyway, or search again without --resume)")
    return StateRecord.from_json(run.read_json(rel), key, str(run.path(rel)))


def verify_tune_state(run: RunDir, storage: str, exp_path: str, record_rel: str) -> None:
    """Before ``Tuner.restore``: refuse state this user's raytp did not record (tampered, added, another user's
    files or run directory, remote storage), unless ``--trust`` (``RAYTP_TRUST_RUN_DIR=1``)."""
    import os
    if os.environ.get(TRUST_ENV) == "1":
        return
    if "://" in storage:
        raise RunDirError(f"{exp_path}: Tune state on remote storage cannot be checked before it is unpickled; "
                          "pass --trust to resume from it")
    for path in (run.root, Path(exp_path)):
        if path.stat().st_uid != os.getuid():
            raise RunDirError(f"{path}: owned by another user; refusing to unpickle its Tune state (pass --trust)")
    problems = load_state_record(run, record_rel, state_key()).problems(Path(exp_path))
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RunDirError(f"{exp_path}: Tune state does not match what this run recorded: {problems[0]}{more}; "
                          "refusing to unpickle it (pass --trust to resume anyway)")


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
    record_rel = names.tune_state_record(name)
    callbacks: list[Any] = [_ProgressBar(len(trials) if trials else tune_config.get("num_samples"),
                                         f"{mode} search")] if progress else []
    recorder = _StateRecorder(str(run.root), exp_path, record_rel) if "://" not in storage else None
    run_config = tune.RunConfig(
        name=name, storage_path=storage,
        failure_config=tune.FailureConfig(max_failures=res.max_retries),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        callbacks=[*callbacks, *([recorder] if recorder else [])] or None,
        verbose=0)
    if resume and tune.Tuner.can_restore(exp_path):
        verify_tune_state(run, storage, exp_path, record_rel)  # before anything of it is unpickled
        tuner = tune.Tuner.restore(exp_path, trainable=trainable, resume_unfinished=True, restart_errored=True,
                                   param_space=param_space)
    else:
        if "://" not in storage and Path(exp_path).is_dir():
            import shutil
            shutil.rmtree(exp_path)  # a fresh search replaces an earlier experiment of the same name
        run.forget(record_rel)
        tuner = tune.Tuner(trainable, param_space=param_space, run_config=run_config,
                           tune_config=tune.TuneConfig(max_concurrent_trials=concurrency, reuse_actors=True,
                                                       trial_dirname_creator=lambda t: f"{mode}_{t.trial_id}",
                                                       **tune_config))
    start = time.perf_counter()
    with _stop_tune_on_ctrl_c() as interrupted:
        grid = tuner.fit()
    wall = time.perf_counter() - start
    if recorder is not None:
        recorder.flush(full=True)  # the final state (a restored Tuner runs its own unpickled copy of the recorder)
    if interrupted.is_set() or _unfinished(grid):  # Ctrl-C: Tune stopped the experiment and saved its state
        raise Interrupted(f"{mode} search stopped before its trials finished; its state is saved in {exp_path}: "
                          "run the same command with --resume to continue")
    return [grid[i] for i in range(len(grid))], wall


@contextlib.contextmanager
def _stop_tune_on_ctrl_c() -> Iterator[threading.Event]:
    """Around ``tuner.fit()``: a Ctrl-C asks Tune to end the experiment and save its state (Tune's SIGUSR1
    handler; its own SIGINT handler is turned off, ``TUNE_DISABLE_SIGINT_HANDLER``) and sets the event; a second
    Ctrl-C interrupts at once. Outside the main thread nothing is changed."""
    hit = threading.Event()
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGUSR1"):
        yield hit
        return
    prev_int, prev_usr1 = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGUSR1)
    prev_env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")

    def on_ctrl_c(sig: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, prev_int)  # a second Ctrl-C: as before (KeyboardInterrupt)
        if signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, signal.SIG_IGN, None, prev_usr1):
            raise KeyboardInterrupt  # Tune has not started its loop: nothing to save
        hit.set()
        os.kill(os.getpid(), signal.SIGUSR1)

    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield hit
    finally:
        signal.signal(signal.SIGINT, prev_int)
        signal.signal(signal.SIGUSR1, prev_usr1)
        if prev_env is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = prev_env


def _unfinished(grid: Any) -> bool:
    """Whether Tune returned before every trial ended (an interrupted experiment): a trial neither terminated
    nor errored, or a result without its config (a trial that never started)."""
    analysis = getattr(grid, "_experiment_analysis", None)
    trials = getattr(analysis, "trials", None) or []
    if any(getattr(t, "status", "TERMINATED") not in ("TERMINATED", "ERROR") for t in trials):
        return True
    return any(grid[i].config is None and grid[i].error is None for i in range(len(grid)))


def _row(result: Any, trial_id: str, source: str, target: str, point: dict[str, Any], cfg: ExperimentConfig,
         baselines: dict[str, Any]) -> dict[str, Any]:
    m = dict(result.metrics or {})
    units = compute_units(cfg.resources.cpus_per_worker, cfg.resources.gpus_per_worker)
    row: dict[str, Any] = {"trial_id": trial_id, "source": source, "target": target}
    try:
        row.update(hp_columns(point, resolve_point(point, baselines[target], cfg), cfg))
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
    row["example_epochs"] = int(m.get("example_epochs", 0) or 0)  # what it trained, even when it failed later
    row["eval_examples"] = int(m.get("eval_examples", 0) or 0)
    row["source_example_epochs"] = int(m.get("source_example_epochs", 0) or 0)  # its sequential source phase's share
    row.update(_curves(result))
    if row["status"] != OK:
        for k in ("f1_val", "f1_test", "f1_val_sd", "f1_test_sd"):
            row[k] = math.nan
    return row


def _curves(result: Any) -> dict[str, list[float] | None]:
    """Per-epoch seed-mean validation F1, test F1 (of the best epoch so far), trial seconds and cumulative
    example-epochs: what an exact simulation of a scheduler stopping this trial after any epoch would have seen
    and spent. A full-grid trial packs them into its one result; a pruned trial reported every epoch."""
    def typed(name: str, values: Any) -> list[float]:
        return [int(v) if name == "curve_example_epochs" else float(v) for v in values]

    packed = (result.metrics or {}).get(PACKED_CURVES)
    if packed:
        curves = json.loads(packed)
        return {name: typed(name, curves[name]) for name in CURVES}
    try:
        hist = result.metrics_dataframe
    except Exception:  # noqa: BLE001 - no history (a trial that failed before reporting)
        hist = None
    if hist is None or len(hist) == 0 or "f1_val" not in hist:
        return {name: None for name in CURVES}
    return {name: (typed(name, hist[key]) if key in hist else None) for name, key in CURVES.items()}


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
    points = grid_points(cfg.search.grid)
    if pairs is not None:
        keep = {tuple(p) for p in pairs}
        trials = [t for t in trials if (t["source"], t["target"]) in keep]
    results, wall = _run_tuner(cfg, ds, single, run, name, {"i": tune.grid_search(list(range(len(trials))))},
                               {}, trials, progress, fail_on, resume=resume)
    rows = []
    for r in results:
        i = int(r.config["i"])
        t = trials[i]
        rows.append(_row(r, f"{name}-{i:04d}", t["source"], t["target"], t["point"], cfg, single)
                    | {"grid_point": points.index(t["point"])})
    return _write(cfg, ds, single, run, name, rows, wall, replicate, control)


def pruned_studies(cfg: ExperimentConfig, pairs: list[dict[str, Any]], space: dict[str, list[Any]], num_samples: int,
                   distributions: dict[str, Any] | None = None) -> tuple[TargetStudies, int, int]:
    """The per-target TPE studies of a pruning plan, and ASHA's (grace period, max epochs).

    ``distributions``: the search space TPE samples (``search.space``); without it, the plan's grid lists as
    categorical choices. Pairs without a ``trials`` allocation share ``num_samples`` in turn (most probable first)."""
    if distributions:
        try:
            dist = check_space(distributions)
        except ValueError as e:
            raise RaytpError(f"pruning.json: distributions: {e}") from None
    else:
        lists = {k: v for k, v in space.items() if k != "epochs"}
        for k, vals in lists.items():
            if not isinstance(vals, list) or not vals:
                raise RaytpError(f"pruning.json: space.{k} must be a non-empty list")
        try:
            dist = check_space({k: {"type": "choice", "values": v} for k, v in lists.items()}
                               or {"mode": {"type": "choice", "values": ["multitask"]}})
        except ValueError as e:
            raise RaytpError(f"pruning.json: space: {e}") from None
        if space.get("epochs"):
            dist["epochs"] = {"type": "resource", "low": 1, "high": max(int(v) for v in space["epochs"])}
    grace, max_t = resource_range(dist, cfg.train.epochs)
    alloc = [dict(p) for p in pairs]
    if any("trials" not in p for p in alloc):
        for i, p in enumerate(alloc):
            p["trials"] = num_samples // len(alloc) + (1 if i < num_samples % len(alloc) else 0)
    warm = {k: v for k, v in first_point(space).items() if k != "epochs"}
    studies = TargetStudies(dist, alloc, seed=cfg.seed, warm=warm, fixed={"epochs": max_t})
    return studies, grace, max_t


def run_pruned_search(cfg: ExperimentConfig, ds: MultiTaskDataset, single: dict[str, Any], run: RunDir,
                      pairs: list[dict[str, Any]], space: dict[str, list[Any]], num_samples: int,
                      progress: bool = True, fail_on: tuple[str, ...] = (),
                      replicate: bool | None = False, resume: bool = False,
                      distributions: dict[str, Any] | None = None) -> dict[str, Any]:
    """TPE (one Optuna study per target) + ASHA (one per target) over the kept pairs; writes search_pruned.*.

    Each kept pair gets its allocated trials (``pairs[i]["trials"]``): the first at the warm-start point
    (the grid's first point, ``space``), the rest sampled by its target's study from ``distributions``.
    The metric is the seed-mean validation gain over the target's single-task baseline, compared only
    within a target."""
    if not pairs:
        raise RaytpError("pruning.json: no pairs kept; nothing to search")
    for p in pairs:
        s, t = p["source"], p["target"]
        if s == t or s not in cfg.data.tasks or t not in cfg.data.tasks:
            raise RaytpError(f"pruning.json: pair {s}>{t} is not an ordered pair of the run's tasks")
        if t not in single:
            raise RaytpError(f"single_task.json: no single-task result for target {t!r}")
    studies, grace, max_t = pruned_studies(cfg, pairs, space, num_samples, distributions)
    searcher = PerTargetSearcher(studies)
    scheduler = PerTargetASHA(grace_period=grace, max_t=max_t, reduction_factor=3,
                              protect_warm=cfg.prune.protect_warm_start)
    results, wall = _run_tuner(cfg, ds, single, run, "pruned", {},
                               {"metric": "gain_val", "mode": "max", "search_alg": searcher, "scheduler": scheduler,
                                "num_samples": studies.total}, None, progress, fail_on, resume=resume)
    rows = []
    for n, r in enumerate(results):
        s, t = r.config["pair"].split(">")
        rows.append(_row(r, f"pruned-{n:04d}", s, t, trial_point(r.config), cfg, single)
                    | {"warm": bool(r.config.get("_warm", False))})
    summary = _write(cfg, ds, single, run, "pruned", rows, wall, replicate, False)
    return summary


def pruned_figures(df: pd.DataFrame, best: dict[str, Any]) -> dict[str, Any]:
    """What the pruned search did: trials run, stopped early (per-target ASHA), compute, per-target best."""
    per_target = {}
    for t, g in df.groupby("target", sort=True):
        per_target[str(t)] = {"trials": int(len(g)), "stopped_early": int(g["stopped_early"].fillna(False).sum()),
                              "sources": sorted(map(str, set(g["source"]))), "compute_s": float(g["compute_s"].sum()),
                              "example_epochs": total_example_epochs(g), "best": best.get(str(t))}
    return {"trials_run": int(len(df)), "stopped_early": int(df["stopped_early"].fillna(False).sum()),
            "targets": len(per_target), "compute_s": float(df["compute_s"].sum()), "example_epochs": total_example_epochs(df),
            "sampler": "Optuna TPE, one study per target (warm start at the grid's first point per kept pair)",
            "scheduler": "ASHA per target (gain over the target's own single-task baseline)",
            "per_target": per_target}


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
    if mode == "pruned":
        summary["pruned"] = pruned_figures(df, summary.get("best", {}))
    else:
        summary["grid"] = {"points_per_pair": len(grid_points(cfg.search.grid)), "first_point": grid_points(cfg.search.grid)[0],
                           **grid_value(df, noise_margin(pooled_seed_sd(df, single), cfg.train.seeds, cfg.search))}
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
        pair_backend = with_hidden(backend, cfg.backend, resolved.hidden)
        real = PairTrainer(pair_backend, features, ds, cfg, job["source"], target, resolved, fresh).finish()
        row = {"source": job["source"], "target": target, "label": job["label"], "gain": job["gain"],
               "fresh_baseline_f1_test": base, "fresh_f1_test": real["f1_test"], "fresh_gain": real["f1_test"] - base,
               "seeds": fresh}
        sign = {"beneficial": 1, "harmful": -1}.get(job["label"])
        row["holds"] = None if sign is None else bool(sign * row["fresh_gain"] > 0)
        if control:
            ctl = PairTrainer(pair_backend, features, ds, cfg, job["source"], target, resolved, fresh,
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
        ratio, hidden = getattr(r, "hp_source_ratio", None), getattr(r, "hp_hidden", None)
        if r.hp_mode == "multitask" and ratio is not None and not pd.isna(ratio):
            point["source_ratio"] = float(ratio)
        if hidden is not None and not pd.isna(hidden):
            point["hidden"] = int(hidden)
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
