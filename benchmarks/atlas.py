"""Transfer atlas (issue 16): the full-grid outcomes of every ordered pair over a corpus's usable tasks, with
their pair features, as a small committed table; and the atlas-trained predictor's AUC, leave-tasks-out,
against the zero-shot rankers.

build (default): the single-task stage over the corpus's usable tasks (``--tasks`` to choose; by default every
task with at least ``--min-positives`` positives among its target training labels and ``--min-val-positives``
validation positives: labels within the budget only), their pair features, then the full grid
(``--grid``, default mode {multitask, sequential} x lr_scale {1.0, 0.3}) x ``--seeds`` seeds of every ordered
pair on Ray Tune, in chunks of ``--chunk-pairs`` pairs. After each chunk the trials so far go to the run
directory (``--out``/atlas_<corpus>/atlas_trials.parquet) and the atlas tables are rewritten; a later run with
the same arguments skips the pairs already there (resumable: an interruption loses at most the chunk under
way). ``--max-pairs`` covers only the first N ordered pairs (source-major; a smoke run; rerun without it to
continue). Writes benchmarks/results/atlas_<corpus>.csv.gz (one row per pair: features + outcome),
atlas_<corpus>_trials.csv.gz (one row per pair x grid point) and atlas_<corpus>.json (regime, tasks, timing
per pair-seed, the projected time of the whole atlas). No texts, no weights.

evaluate: ranks the pairs of ``--atlas`` among ``--tasks`` (default: all of them) with the learned predictor
trained on ``--train-atlas`` (default: the same atlas) leave-tasks-out (``raytp.predict.atlas``: no row
involving a ranked task is used), next to every zero-shot ranker in the table, scored against the pairs'
test-labelled outcomes, with bootstrap intervals over targets. ``--folds K``: the tasks split into K seeded groups,
each group's pairs ranked by a predictor trained without that group, pooled. Writes atlas_eval_<name>.json.

    python benchmarks/atlas.py [build] [--config YAML] [--tasks a,b,...] [--max-pairs N] [--grid JSON] [--seeds 3]
    python benchmarks/atlas.py from-run --run RUN_DIR --corpus NAME   # the atlas tables of an existing full search
    python benchmarks/atlas.py evaluate --atlas benchmarks/results/atlas_default.csv.gz --tasks a,b,c,d,e,f \\
        --task-set declared --name setC
    python benchmarks/atlas.py evaluate --train-atlas atlas_default.csv.gz --atlas atlas_complaints.csv.gz
    python benchmarks/atlas.py evaluate --atlas benchmarks/results/atlas_default.csv.gz --folds 4 --name default_cv4
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_task_set, conclude, machine, parser  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from raytp.config import ExperimentConfig, PruneConfig, grid_points, load_config, ordered_pairs  # noqa: E402

DEFAULT_GRID = {"mode": ["multitask", "sequential"], "lr_scale": [1.0, 0.3]}
TRIALS = "atlas_trials.parquet"  # in the run directory: every trial so far (the resume state)
TRIAL_COLUMNS = ["trial_id", "source", "target", "grid_point", "hp_mode", "hp_lr", "hp_lr_scale", "hp_source_weight",
                 "hp_source_ratio", "status", "f1_val", "f1_test", "f1_val_sd", "f1_test_sd", "baseline_f1_val",
                 "baseline_f1_test", "gain_val", "gain", "epochs_run", "best_epoch", "train_s", "wall_s", "compute_s"]
BUDGET_HOURS = 1.5  # issue 15's target for the whole default atlas on 2 cores


# -- which tasks ---------------------------------------------------------------------------------------------------

def usable_tasks(cfg: ExperimentConfig, min_positives: int, min_val_positives: int) -> tuple[list[str], dict[str, str]]:
    """The corpus's tasks with enough positives within the label budget (target training labels, validation),
    and why each other task was left out (test labels are out of budget and not read)."""
    from raytp.data.loading import load_dataset
    from raytp.data.subsets import eval_split, target_train
    ds = load_dataset(cfg.data.dataset)
    keep, why = [], dict(ds.provenance.get("excluded", {}))
    for t in ds.tasks:
        pos = int(ds.y(t, target_train(ds, t, cfg.data)).sum())
        val = int(ds.y(t, eval_split(ds, t, "validation", cfg.data)).sum())
        if pos >= min_positives and val >= min_val_positives:
            keep.append(t)
        else:
            why[t] = f"{pos} positives in its {cfg.data.max_train} target labels, {val} in validation"
    return keep, why


def atlas_config(args) -> ExperimentConfig:
    over: dict[str, Any] = {"search.grid": json.loads(args.grid), "train.seeds": args.seeds,
                            "name": f"atlas-{args.corpus}", "search.replicate": False}
    cfg = load_config(args.config, over)
    tasks = [t for t in args.tasks.split(",") if t] if args.tasks else None
    if tasks is None and cfg.data.datasets:
        tasks = list(cfg.data.tasks)  # several corpora: the config's tasks
    if tasks is None:
        tasks, args.excluded = usable_tasks(cfg, args.min_positives, args.min_val_positives)
    else:
        args.excluded = {}
    return load_config(args.config, {**over, "data.tasks": tasks})


# -- the tables ----------------------------------------------------------------------------------------------------

def atlas_trials(rows: pd.DataFrame) -> pd.DataFrame:
    """A search table's rows as atlas trials: the atlas's columns, each trial named source>target#grid_point."""
    out = rows[[c for c in TRIAL_COLUMNS if c in rows.columns]].copy()
    out["trial_id"] = [f"{a}>{b}#{g}" for a, b, g in zip(out["source"], out["target"], out["grid_point"])]
    return out


def pair_table(trials: pd.DataFrame, features: pd.DataFrame, cfg: ExperimentConfig, single: dict[str, Any],
               corpus: str) -> tuple[pd.DataFrame, dict[str, float]]:
    """One row per completed pair: its features and its full-grid outcome (the best-validation configuration,
    labelled on validation against the validation margin, and on test against the test margin)."""
    from raytp.search.outcomes import noise_margin, pair_outcomes, pooled_seed_sd, validation_margin, validation_truth
    seeds = cfg.train.seeds
    m_val = validation_margin(trials, single, cfg.search, seeds)
    m_test = noise_margin(pooled_seed_sd(trials, single), seeds, cfg.search)
    val = validation_truth(trials, m_val)
    test = pair_outcomes(trials, m_test)[["source", "target", "gain", "label", "grid_point", "hp_mode", "f1_val",
                                          "f1_test", "baseline_f1_test"]]
    test = test.rename(columns={"grid_point": "best_grid_point", "hp_mode": "best_mode"})
    test["beneficial_test"] = test.pop("label") == "beneficial"
    test["harmful_test"] = test["gain"] < -m_test
    ok = trials[trials["status"] == "ok"].groupby(["source", "target"]).size().rename("grid_points_ok").reset_index()
    out = (features.merge(val, on=["source", "target"]).merge(test, on=["source", "target"])
           .merge(ok, on=["source", "target"]))
    out.insert(2, "corpus", corpus)
    return out.sort_values(["source", "target"]).reset_index(drop=True), {"validation": m_val, "test": m_test}


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Gzipped CSV with 6 significant digits and a fixed gzip header (same table, same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    df.to_csv(tmp, index=False, float_format="%.6g", compression={"method": "gzip", "mtime": 0})
    os.replace(tmp, path)


# -- build ---------------------------------------------------------------------------------------------------------

def build(args) -> int:
    from raytp.api import train
    from raytp.data import load_experiment_data
    from raytp.pipeline import features_stage
    from raytp.rundir import RunDir, prepare_run_dir
    from raytp.rundir.names import PAIR_FEATURES, SINGLE_TASK
    from raytp.runtime.cluster import ray_session
    from raytp.runtime.tune_search import run_full_search

    cfg = atlas_config(args)
    tasks, points, seeds = cfg.data.tasks, grid_points(cfg.search.grid), cfg.train.seeds
    run_dir = Path(args.out) / f"atlas_{args.corpus}"
    resume = (run_dir / "config.yaml").exists()
    all_pairs = ordered_pairs(tasks)
    wanted = all_pairs[:args.max_pairs] if args.max_pairs else all_pairs
    print(f"[atlas] {args.corpus}: {len(tasks)} tasks, {len(all_pairs)} ordered pairs x {len(points)} grid points x "
          f"{seeds} seeds; this run covers {len(wanted)} pairs ({'resuming ' + str(run_dir) if resume else run_dir})",
          flush=True)
    t0 = time.perf_counter()
    run = prepare_run_dir(str(run_dir), cfg, resume=resume)
    prev = run.read_json("atlas_timing.json") if run.has("atlas_timing.json") else {}
    stage = {k: prev[k] for k in ("single_task_wall_s", "pair_features_wall_s") if k in prev}
    if not run.has(SINGLE_TASK) or set(tasks) - set(run.read_json(SINGLE_TASK)["tasks"]):
        t = time.perf_counter()
        train(cfg, run_dir, resume=True, progress=True)  # tasks already trained are skipped
        stage["single_task_wall_s"] = stage.get("single_task_wall_s", 0.0) + time.perf_counter() - t
    single = run.read_json(SINGLE_TASK)["tasks"]
    ds = load_experiment_data(cfg)
    if not run.has(PAIR_FEATURES):
        stage["pair_features_wall_s"] = features_stage(cfg, ds, run)["pair_features_s"]
    features = run.read_parquet(PAIR_FEATURES)

    trials = run.read_parquet(TRIALS) if run.has(TRIALS) else pd.DataFrame(columns=TRIAL_COLUMNS)
    ok = trials[trials["status"] == "ok"]
    counts = ok.groupby(["source", "target"]).size() if len(ok) else pd.Series(dtype=int)
    done = {p for p, n in counts.items() if n >= len(points)}  # a pair with a failed trial is trained again
    todo = [p for p in wanted if p not in done]
    trials = trials[[(s, t) in done for s, t in zip(trials["source"], trials["target"])]]  # a cut-off pair reruns
    chunks = [todo[i:i + args.chunk_pairs] for i in range(0, len(todo), args.chunk_pairs)]
    print(f"[atlas] {len(done & set(wanted))} of {len(wanted)} pairs already in the atlas; {len(todo)} to train in "
          f"{len(chunks)} chunk(s) of up to {args.chunk_pairs}", flush=True)
    chunk_log = list(prev.get("chunks", []))
    with ray_session(cfg.resources):
        for k, chunk in enumerate(chunks):
            start = time.perf_counter()
            s = run_full_search(cfg, ds, single, run, progress=args.progress, replicate=False, pairs=chunk, name="atlas")
            wall = time.perf_counter() - start
            got = run.read_parquet("search_atlas.parquet")
            got = atlas_trials(got)
            trials = pd.concat([trials, got], ignore_index=True) if len(trials) else got
            run.write_parquet(TRIALS, trials)
            n_ps = len(got) * seeds
            chunk_log.append({"pairs": len(chunk), "trials": len(got), "pair_seeds": n_ps, "wall_s": wall,
                              "tune_wall_s": s["wall_s"], "compute_s": float(got["compute_s"].sum()),
                              "train_s": float(got["train_s"].sum()), "load_avg": list(os.getloadavg())})
            run.write_json("atlas_timing.json", {**stage, "chunks": chunk_log})
            n_done = len(done & set(wanted)) + sum(len(c) for c in chunks[:k + 1])
            rate = sum(c["wall_s"] for c in chunk_log) / max(1, sum(c["pair_seeds"] for c in chunk_log))
            left = (len(wanted) - n_done) * len(points) * seeds * rate
            print(f"[atlas] chunk {k + 1}/{len(chunks)}: {n_done}/{len(wanted)} pairs "
                  f"({n_done / len(wanted):.0%}), {wall / max(1, n_ps):.2f} wall-s per pair-seed this chunk, "
                  f"~{left / 60:.0f} min left for this run", flush=True)
            export(args, cfg, run, trials, features, single, stage, chunk_log, t0, final=False)
    return export(args, cfg, run, trials, features, single, stage, chunk_log, t0, final=True)


def export(args, cfg: ExperimentConfig, run, trials: pd.DataFrame, features: pd.DataFrame, single: dict[str, Any],
           stage: dict[str, float], chunk_log: list[dict[str, Any]], t0: float, final: bool) -> int:
    """The atlas tables (``--out``; benchmarks/results unless --quick) and, when ``final``, the JSON."""
    tasks, points, seeds = cfg.data.tasks, grid_points(cfg.search.grid), cfg.train.seeds
    if trials.empty:
        print("[atlas] no pairs trained yet")
        return 1
    table, margins = pair_table(trials, features, cfg, single, args.corpus)
    run.write_parquet("atlas.parquet", table)
    trial_out = trials.sort_values(["source", "target", "grid_point"]).reset_index(drop=True)
    dests = [Path(args.out)] + ([Path(args.results)] if not args.quick else [])
    for d in dests:
        write_csv(table, d / f"atlas_{args.corpus}.csv.gz")
        write_csv(trial_out.drop(columns=["wall_s", "compute_s"]), d / f"atlas_{args.corpus}_trials.csv.gz")
    if not final:
        return 0
    n_pairs_all = len(ordered_pairs(tasks))
    pair_seeds = sum(c["pair_seeds"] for c in chunk_log)
    wall = sum(c["wall_s"] for c in chunk_log)
    ok = trials[trials["status"] == "ok"]
    per_ps_wall = wall / pair_seeds if pair_seeds else None
    per_ps_train = float(ok["train_s"].sum()) / (len(ok) * seeds) if len(ok) else None
    total_ps = n_pairs_all * len(points) * seeds
    fixed = stage.get("single_task_wall_s", 0.0) + stage.get("pair_features_wall_s", 0.0)
    projected = total_ps * per_ps_wall + fixed if per_ps_wall else None
    n = args.project_tasks or len(tasks)  # an atlas of n tasks at the rates measured here (stages scale with tasks)
    projected_n = (n * (n - 1) * len(points) * seeds * per_ps_wall + fixed * n / len(tasks)) if per_ps_wall else None
    feats = [c for c in table.columns if c in features.columns and c not in ("source", "target")]
    out = {
        "benchmark": "atlas", "corpus": args.corpus, "quick": args.quick, "machine": machine(),
        "run_dir": str(run.root),
        "regime": {"backend": cfg.backend.name, "target_labels": cfg.data.max_train,
                   "source_examples": cfg.data.source_max_train, "seeds": seeds, "grid": cfg.search.grid,
                   "grid_points": len(points), "epochs": cfg.train.epochs, "batch_seeds": cfg.train.batch_seeds,
                   "cpus_per_worker": cfg.resources.cpus_per_worker},
        "usable_rule": {"min_target_positives": args.min_positives, "min_validation_positives": args.min_val_positives,
                        "given_tasks": bool(args.tasks)},
        "tasks": tasks, "excluded": getattr(args, "excluded", {}),
        "pairs_total": n_pairs_all, "pairs_in_atlas": int(len(table)), "trials": int(len(trials)),
        "trials_failed": int((trials["status"] != "ok").sum()),
        "beneficial_val": int(table["beneficial"].sum()), "harmful_val": int(table["harmful"].sum()),
        "beneficial_test": int(table["beneficial_test"].sum()), "harmful_test": int(table["harmful_test"].sum()),
        "margins": margins, "feature_columns": feats,
        "timing": {**stage, "chunks": len(chunk_log), "pair_seeds_trained": pair_seeds, "search_wall_s": wall,
                   "wall_s_per_pair_seed": per_ps_wall, "train_s_per_pair_seed": per_ps_train,
                   "this_invocation_wall_s": time.perf_counter() - t0,
                   "projected_full_atlas_s": projected, "projected_tasks": n, "projected_s_for_projected_tasks":
                   projected_n,
                   "projection": f"{total_ps} pair-seeds x wall-s per pair-seed measured here (Tune and chunk "
                                 "overhead included) + the single-task stage and pair features"},
        "files": [f"atlas_{args.corpus}.csv.gz", f"atlas_{args.corpus}_trials.csv.gz"],
    }
    if per_ps_wall:
        print(f"\n[atlas] {len(table)}/{n_pairs_all} pairs, {pair_seeds} pair-seeds trained in {wall:.0f} s: "
              f"{per_ps_wall:.2f} wall-s per pair-seed ({per_ps_train:.2f} train-s per pair-seed per worker); "
              f"the whole atlas ({total_ps} pair-seeds) projected at {projected / 60:.0f} min "
              f"(target {BUDGET_HOURS * 60:.0f} min on 2 cores); an atlas of {n} tasks: {projected_n / 60:.0f} min")
    missed = []
    if projected and projected > BUDGET_HOURS * 3600 and len(table) == n_pairs_all:
        missed.append(f"whole atlas {projected / 60:.0f} min > {BUDGET_HOURS * 60:.0f} min")
    return conclude(args, f"atlas_{args.corpus}.json", out, missed)


def from_run(args) -> int:
    """The atlas tables of runs that already hold a full search (``raytp run --with-full``,
    benchmarks/pruned_vs_full.py), pooled: their pairs, features and grid outcomes, with their grid and timing.
    The runs must share the regime (grid, seeds, label budget) and no ordered pair may appear twice."""
    from raytp.rundir import RunDir, load_run_config, read_single_task
    from raytp.rundir.names import PAIR_FEATURES
    t0 = time.perf_counter()
    runs = [RunDir(r) for r in args.run]
    cfgs = [load_run_config(r) for r in runs]
    regime = lambda c: (c.search.grid, c.train.seeds, c.data.max_train, c.data.source_max_train, c.backend.name)  # noqa
    if any(regime(c) != regime(cfgs[0]) for c in cfgs):
        raise SystemExit("from-run: the runs differ in grid, seeds, label budget or backend; an atlas needs one regime")
    trials, features, single, stage, chunk_log, tasks = [], [], {}, {"single_task_wall_s": 0.0,
                                                                   "pair_features_wall_s": 0.0}, [], []
    for run, cfg in zip(runs, cfgs):
        tr = run.read_parquet("search_full.parquet")
        tr = atlas_trials(tr)
        trials.append(tr)
        features.append(run.read_parquet(PAIR_FEATURES))
        single.update(read_single_task(run).tasks)
        tasks += [t for t in cfg.data.tasks if t not in tasks]
        search = run.read_json("search_full.json")
        stages = run.read_json("pipeline.json").get("stages", {}) if run.has("pipeline.json") else {}
        stage["single_task_wall_s"] += float(stages.get("single_task", {}).get("wall_s", 0.0))
        stage["pair_features_wall_s"] += float(stages.get("pair_features", {}).get("pair_features_s", 0.0))
        chunk_log.append({"run": str(run.root), "pairs": int(tr[["source", "target"]].drop_duplicates().shape[0]),
                          "trials": int(len(tr)), "pair_seeds": int(len(tr)) * cfg.train.seeds,
                          "wall_s": float(search["wall_s"]), "tune_wall_s": float(search["wall_s"]),
                          "compute_s": float(tr["compute_s"].sum()), "train_s": float(tr["train_s"].sum()),
                          "load_avg": None})
    trials_all = pd.concat(trials, ignore_index=True)
    if trials_all.duplicated(["source", "target", "grid_point"]).any():
        raise SystemExit("from-run: an ordered pair appears in more than one run")
    cfg = cfgs[0].model_copy(update={"data": cfgs[0].data.model_copy(update={"tasks": tasks})})
    args.tasks, args.excluded = ",".join(tasks), {}
    print(f"[atlas] {args.corpus}: from the full searches of {len(runs)} run(s) ({len(trials_all)} trials)", flush=True)
    return export(args, cfg, runs[0], trials_all, pd.concat(features, ignore_index=True), single, stage, chunk_log,
                  t0, final=True)


# -- evaluate ------------------------------------------------------------------------------------------------------

def rankers(table: pd.DataFrame, extra: list[str] = ()) -> dict[str, np.ndarray]:
    """Every zero-shot ranker the table can compute: each baseline column, the default recipe and ``extra``
    (zero-shot feature expressions: ``col``, ``-col``, ``a+b``)."""
    from raytp.predict import BASELINES, TransferPredictor
    from raytp.predict.families import AUTO_RULES
    out = {name: table[col].to_numpy(float) for name, col in BASELINES.items() if col in table}
    for expr in [PruneConfig().zero_shot_feature, *extra]:
        if expr in AUTO_RULES or all(t.strip().lstrip("-") in table for t in expr.split("+")):
            name = expr if expr in extra else f"default_recipe({expr})"
            out[name] = TransferPredictor(mode="zero-shot", feature=expr).fit(table).predict_proba(table)[:, 1]
        elif expr in extra:
            raise SystemExit(f"--rankers: {expr!r} names a column the atlas lacks")
    return out


def ranked_fold(train_atlas: pd.DataFrame, ranked_all: pd.DataFrame, tasks: list[str],
                cols: list[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The pairs of ``ranked_all`` among ``tasks`` with the atlas predictor's probability (``atlas_predictor``),
    trained on the rows of ``train_atlas`` that involve none of ``tasks``; and what it learned from."""
    from raytp.predict import fit_atlas_predictor, leave_tasks_out
    ranked = ranked_all[ranked_all["source"].isin(tasks) & ranked_all["target"].isin(tasks)].reset_index(drop=True)
    if ranked.empty:
        raise SystemExit(f"--tasks: no pair of the ranked atlas has both tasks among {tasks}")
    pred = fit_atlas_predictor(train_atlas, tasks, columns=cols, feature=PruneConfig().zero_shot_feature,
                               field="--train-atlas")
    ranked["atlas_predictor"] = pred.predict_proba(ranked)[:, 1]
    trained = leave_tasks_out(train_atlas, tasks, field="--train-atlas")  # what the predictor learned from
    return ranked, {"tasks": tasks, "pairs_ranked": int(len(ranked)),
                    "beneficial_test": int(ranked["beneficial_test"].sum()), "train_rows": int(len(trained)),
                    "train_beneficial": int(trained["beneficial"].sum()),
                    "train_tasks": sorted({*trained["source"], *trained["target"]}),
                    "predictor_mode": pred.mode_, "fallback": pred.fallback_, "features": pred.feature_names_}


def evaluate(args) -> int:
    from raytp.predict import load_atlas
    from raytp.predict.atlas import feature_columns
    from raytp.predict.intervals import auc, ranking_intervals
    ranked_all = load_atlas(args.atlas, field="--atlas")
    train_atlas = load_atlas(args.train_atlas or args.atlas, field="--train-atlas")
    tasks = [t for t in args.tasks.split(",") if t] if args.tasks else sorted({*ranked_all["source"],
                                                                                 *ranked_all["target"]})
    cols = [c for c in feature_columns(ranked_all) if c in set(feature_columns(train_atlas))]
    if args.folds:  # leave-tasks-out cross-validation: each group of tasks ranked by a predictor that never saw it
        order = [tasks[i] for i in np.random.default_rng(args.fold_seed).permutation(len(tasks))]
        groups_of_tasks = [sorted(order[k::args.folds]) for k in range(args.folds)]
    else:
        groups_of_tasks = [tasks]
    parts, folds = [], []
    if args.zero_shot_only:  # every pair among the tasks, zero-shot rankers only: nothing is fitted
        parts.append(ranked_all[ranked_all["source"].isin(tasks) & ranked_all["target"].isin(tasks)])
        folds.append({"tasks": tasks, "pairs_ranked": int(len(parts[0])), "predictor_mode": "none (zero-shot only)",
                      "train_rows": 0})
    for g in [] if args.zero_shot_only else groups_of_tasks:
        r, info = ranked_fold(train_atlas, ranked_all, g, cols)
        parts.append(r)
        folds.append(info)
    ranked = pd.concat(parts, ignore_index=True)
    y = ranked["beneficial_test"].to_numpy(bool)
    gains = ranked["gain"].to_numpy(float)
    groups = ranked["target"].to_numpy()
    extra = [r for r in (args.rankers or "").split(",") if r]
    scores = {} if args.zero_shot_only else {"atlas_predictor": ranked["atlas_predictor"].to_numpy(float)}
    scores.update(rankers(ranked, extra))
    others = {k: v for k, v in scores.items() if k != "atlas_predictor"}
    result: dict[str, Any] = {}
    if not args.zero_shot_only:
        iv = ranking_intervals(scores["atlas_predictor"], y, gains, groups, against=others)
        result["atlas_predictor"] = {"auc": iv["auc"], **{f"minus_{k}": iv[f"auc_minus_{k}"] for k in others}}
    for k, v in others.items():
        result[k] = {"auc": ranking_intervals(v, y, gains, groups)["auc"]}
    paired = None
    if args.paired:  # "A,B": AUC of ranker A minus ranker B, paired bootstrap over targets
        a, _, b = args.paired.partition(",")
        if a not in scores or b not in scores:
            raise SystemExit(f"--paired {args.paired}: rankers are {', '.join(scores)}")
        diff = ranking_intervals(scores[a], y, gains, groups, against={b: scores[b]})[f"auc_minus_{b}"]
        paired = {"a": a, "b": b, "auc_a_minus_b": diff}
        print(f"  paired: AUC {a} minus {b}: {_f(diff.get('estimate'))} [{_f(diff.get('low'))}, {_f(diff.get('high'))}]")
    out = {"benchmark": "atlas_eval", "name": args.name, "task_set": args.task_set, "machine": machine(),
           "atlas": Path(args.atlas).name, "train_atlas": Path(args.train_atlas or args.atlas).name,
           "tasks": tasks, "folds": args.folds or None, "fold_seed": args.fold_seed if args.folds else None,
           "pairs_ranked": int(len(ranked)), "beneficial_test": int(y.sum()),
           "truth": "beneficial_test: the best-validation configuration's test gain beyond the test noise margin",
           "auc_point": {k: (None if math.isnan(a := auc(v, y)) else a) for k, v in scores.items()},
           "results": result, "paired": paired, **({"fold_details": folds} if args.folds else folds[0])}
    print(f"{args.name}: {len(ranked)} pairs ({int(y.sum())} beneficial) among {len(tasks)} tasks in "
          f"{len(folds)} fold(s); the predictor of each fold trained on "
          f"{', '.join(str(f['train_rows']) for f in folds)} atlas rows of other tasks "
          f"({', '.join(f['predictor_mode'] for f in folds)})")
    for k, r in result.items():
        a = r["auc"]
        print(f"  {k:45s} AUC {_f(a.get('estimate'))} [{_f(a.get('low'))}, {_f(a.get('high'))}]")
    return conclude(args, f"atlas_eval_{args.name}.json", out, [])


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("mode", nargs="?", choices=("build", "from-run", "evaluate"), default="build")
    p.add_argument("--run", action="append", default=[], help="from-run: a run directory holding a full search (its "
                                                                "grid, seeds and timing); repeat to pool several")
    p.add_argument("--config", help="build: experiment YAML (the corpus and regime; default: the built-in default)")
    p.add_argument("--corpus", default=None, help="build: the atlas's name (default: the --config file's stem, or "
                                                  "'default')")
    p.add_argument("--tasks", help="build: the tasks (default: every usable task); evaluate: the ranked task set")
    p.add_argument("--max-pairs", type=int, default=None, help="build: only the first N ordered pairs (smoke)")
    p.add_argument("--grid", default=json.dumps(DEFAULT_GRID), help="build: the grid as JSON (search.grid)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--project-tasks", type=int, default=None,
                   help="build: also project the time of an atlas of N tasks at the measured rates (e.g. 28)")
    p.add_argument("--chunk-pairs", type=int, default=32, help="build: pairs per Tune run (the resume granularity)")
    p.add_argument("--min-positives", type=int, default=5, help="build: usable: positives among the target labels")
    p.add_argument("--min-val-positives", type=int, default=10, help="build: usable: validation positives")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="build: no per-chunk progress bar")
    p.add_argument("--atlas", help="evaluate: the atlas whose pairs are ranked")
    p.add_argument("--train-atlas", help="evaluate: the atlas the predictor learns from (default: --atlas)")
    p.add_argument("--rankers", help="evaluate: more zero-shot rankers, comma-separated feature expressions "
                                     "(e.g. -target_positives,source_f1_val)")
    p.add_argument("--folds", type=int, default=0, help="evaluate: split the tasks into K groups, each ranked by a "
                                                       "predictor trained without it (pairs within a group), pooled")
    p.add_argument("--fold-seed", type=int, default=0, help="evaluate: seed of the --folds split")
    p.add_argument("--name", default="atlas", help="evaluate: names atlas_eval_<name>.json")
    p.add_argument("--zero-shot-only", action="store_true", help="evaluate: every pair among --tasks, zero-shot "
                                                                 "rankers only (no atlas predictor, nothing fitted)")
    p.add_argument("--paired", metavar="A,B", help="evaluate: AUC of ranker A minus ranker B with a paired interval "
                                                    "(e.g. default_recipe(auto),auto-no-attribution)")
    add_task_set(p)
    args = p.parse_args(argv)
    from raytp.errors import RaytpError
    try:
        return _run(args)
    except RaytpError as e:
        print(f"atlas: error: {e}", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.mode == "evaluate":
        if not args.atlas:
            raise SystemExit("evaluate needs --atlas")
        return evaluate(args)
    args.corpus = args.corpus or (Path(args.config).name.split(".")[0] if args.config else "default")
    if args.mode == "from-run":
        if not args.run:
            raise SystemExit("from-run needs --run RUN_DIR")
        return from_run(args)
    if args.quick and not args.tasks and not args.max_pairs:
        args.max_pairs = 6  # a smoke run: the first six pairs
    return build(args)


if __name__ == "__main__":
    sys.exit(main())
