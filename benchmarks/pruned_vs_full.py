"""Pruned vs full search benchmark (issue 4): both searches on the same single-task stage.

Runs the whole pipeline with the full grid (``raytp run --with-full``) — or reuses a run directory
that already holds the single-task stage and the full search (``--reuse``, e.g. from
benchmarks/full_search.py) — and writes pruned_vs_full.json: the report.json keys (time_reduction,
f1_loss, gain_captured, pairs, predictor and baselines, reference bounds, per-target rows), the
paper's anchor side by side, the full search's noise figures, and a leave-targets-out evaluation of
the learned predictor with a feature-group ablation on the full search's outcomes.

    python benchmarks/pruned_vs_full.py [--tasks a,b,...] [--config F] [--reuse RUN_DIR [--simulate-pruned]]
        [--task-set in-sample|declared] [--out bench-out] [--quick] [--check] [--warm-cache]

``--simulate-pruned`` (with ``--reuse``) does not run the pruned search: its side is the full grid's
own rows at the warm-start point for the kept pairs (exact in F1: a live pruned trial reproduces
that row, tests/runtime/test_tune_search.py; compute = those rows' seconds and example-epochs); the JSON
says so. Time reduction is given in compute seconds (``time_reduction``) and in example-epochs
(``time_reduction_example_epochs``: training examples passed forward and backward, every seed; the same on
any machine and load; see raytp.report.comparison).
Targets (``--check``): time reduction >= 0.85, F1 loss <= 0.02, pooled gain captured >= 0.8.
    python benchmarks/pruned_vs_full.py --ablation-only RUN_DIR --name NAME   # replay (a)-(f) only
    python benchmarks/pruned_vs_full.py --check-ablation --name NAME

Ablation (issue 13), at one trial budget (``prune.budget_fraction`` of the full grid's trials), replayed
exactly from the full grid's table and its per-epoch curves (``raytp.search.simulate``; TPE samples the
space discretised to the grid): (a) predictor + first point, (b) predictor + TPE, (c) predictor + TPE +
ASHA (the default), (d) random ranking + TPE + ASHA, (e) label phi + TPE + ASHA, (f) no predictor: one
ASHA over every (pair, grid point) from one epoch, at (c)'s compute; stochastic arms over
``--sampler-seeds`` seeds (mean, SD, min, max). An ASHA-stopped replayed trial costs the seconds and the
example-epochs of the epochs it ran (the grid rows' per-epoch curves); each arm reports time reduction in both
units. Writes benchmarks/results/<name>_ablation.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_task_set, finish, machine, parser, write_json  # noqa: E402

import numpy as np  # noqa: E402

from raytp.config import load_config  # noqa: E402


def ablation_table(run_dir: Path) -> dict:
    """Leave-targets-out metrics of the learned predictor per feature group, and of each baseline score."""
    from raytp.predict import ablation, evaluate_scores
    from raytp.predict.families import with_rankers
    from raytp.report import pair_truth
    from raytp.rundir import RunDir
    run = RunDir(run_dir)
    feats = with_rankers(run.read_parquet("pair_features.parquet"))  # the rankers also on tables from before them
    truth = pair_truth(run.read_parquet("search_full.parquet"))
    X = feats.merge(truth, on=["source", "target"])
    y, gains, groups = X["beneficial"].to_numpy(bool), X["gain"].to_numpy(float), X["target"].to_numpy()
    out = {"pairs": int(len(X)), "beneficial": int(y.sum())}
    if 1 < y.sum() < len(y) - 1:
        tab = ablation(X.drop(columns=["gain", "gain_val", "beneficial", "harmful"]), y, gains, groups)
        out["learned_by_feature_group"] = tab.replace({np.nan: None}).to_dict(orient="records")
    out["scores"] = {}
    for col in ("label_phi", "textemb", "logme", "random", "signature_only", "task_statistics",
                "responses/hidden/cka", "layer_conductance/hidden/cosine",
                "layer_conductance_examples/hidden/cka", "responses/hidden/rsa",
                "input_ig/cosine", "input_ig/spearman", "input_ig/topk"):  # absent in older runs: left out
        if col in X and np.isfinite(X[col].to_numpy(float)).any():
            m = evaluate_scores(X[col].to_numpy(float), y, gains, groups)
            out["scores"][col] = {k: v for k, v in m.items() if not isinstance(v, list)}
    return out


RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"time_reduction": 0.93, "gain_captured_pooled_margin": 0.9, "f1_loss": 0.01}
ARMS = {"a": "predictor + first point (one trial per pair, the budget's most probable pairs)",
        "b": "predictor + TPE (per-target studies, no early stopping)",
        "c": "predictor + TPE + ASHA (per target): the default",
        "d": "random ranking + TPE + ASHA", "e": "label phi ranking + TPE + ASHA",
        "f": "no predictor: every (pair, grid point) in random order, one ASHA over all from 1 epoch, "
             "the same compute as (c)",
        "g": "exploratory, declared after set A3: predictor + TPE + ASHA, allocation covering targets first",
        "h": "exploratory, declared after sets C, D and the default set: predictor + TPE + ASHA with one trial per "
             "kept pair at least (prune.trials_per_pair 1): half the budget as warm starts on the most probable "
             "pairs, the rest TPE by probability",
        "i": "exploratory, declared after sets C, D, E and the default set (in-sample on all four): breadth, then depth "
             "where trials showed promise: half the budget as warm starts on the most probable pairs, the other half "
             "TPE + ASHA on the pairs whose warm trial gained on validation (3 more trials each, best first; unspent "
             "when none gained)"}


def _scores(single: dict, full_ok, rows, fixed: float, full_total: float, margin: float,
            ee: tuple[int, int] | None = None) -> dict:
    """``ee``: (example-epochs before the search, the full side's total), for the reduction in example-epochs."""
    from raytp.report.comparison import side_scores
    from raytp.search.outcomes import total_example_epochs
    targets = list(single)
    sc = side_scores(single, full_ok, rows if len(rows) else full_ok.iloc[0:0], targets)
    over = [r for r in sc["per_target"] if r["full_f1"] - r["single_f1"] > margin]
    full_gain = sum(r["full_f1"] - r["single_f1"] for r in over)
    compute = float(rows["compute_s"].sum()) if len(rows) else 0.0
    if not len(rows):
        spent: float | None = 0.0
    elif "example_epochs" in rows and not rows["example_epochs"].isna().any():
        spent = float(total_example_epochs(rows))
    else:
        spent = None  # a row without its count (a table older than the count): no figure rather than a wrong one
    return {"time_reduction": 1 - (fixed + compute) / full_total,
            "time_reduction_example_epochs": (1 - (ee[0] + spent) / ee[1]) if ee and ee[1] and spent is not None
            else None,
            "search_example_epochs": spent, "f1_loss": sc["f1_loss"],
            "gain_captured_pooled_margin": (sum(r["pruned_f1"] - r["single_f1"] for r in over) / full_gain
                                            if full_gain > 0 else None),
            "gain_captured": sc["gain_captured"], "targets_over_margin": len(over), "trials": int(len(rows)),
            "stopped_early": int(rows["stopped_early"].sum()) if len(rows) else 0, "search_compute_s": compute,
            "targets_searched": int(rows["target"].nunique()) if len(rows) else 0}


def _spread(runs: list[dict]) -> dict:
    out: dict = {"seeds": len(runs)}
    for k in ("time_reduction", "time_reduction_example_epochs", "f1_loss", "gain_captured_pooled_margin",
              "gain_captured", "trials", "stopped_early", "search_compute_s", "search_example_epochs"):
        v = np.array([np.nan if r[k] is None else r[k] for r in runs], dtype=float)
        out[k] = {"mean": float(np.nanmean(v)), "sd": float(np.nanstd(v, ddof=1)) if len(v) > 1 else 0.0,
                  "min": float(np.nanmin(v)), "max": float(np.nanmax(v))} if np.isfinite(v).any() else None
    out["runs"] = runs
    return out


def ablation(run_dir: Path, seeds: int = 5) -> dict:
    """Arms (a)-(f) at one budget, replayed exactly from the full grid's table (every point they visit is on it)."""
    from raytp.predict.prune import allocate_trials
    from raytp.report.comparison import ok_trials
    from raytp.rundir import RunDir, load_run_config, read_single_task
    from raytp.search.distributions import resource_range
    from raytp.search.simulate import (GridTable, breadth_then_depth_arm, first_point_arm, multifidelity_arm,
                                       tpe_arm)
    run = RunDir(run_dir)
    cfg = load_run_config(run)
    single = read_single_task(run).tasks
    full = run.read_parquet("search_full.parquet")
    preds = run.read_parquet("pair_predictions.parquet")
    report = run.read_json("report.json")
    margin = float(run.read_json("search_full.json")["noise"]["margin"])
    cs = report["compute_s"]
    fixed = cs["single_task_training"] + cs.get("profiling_s", 0.0) + cs.get("pair_features_s", 0.0) + \
        cs.get("predictor_s", 0.0)
    no_predictor_fixed = cs["single_task_training"]
    full_total = cs["full_total"]
    ee = report.get("example_epochs")  # None for a run written before raytp counted example-epochs
    fixed_ee = (ee["pruned_total"] - ee["pruned_search"]) if ee else None
    units = cfg.resources.gpus_per_worker or cfg.resources.cpus_per_worker
    table = GridTable(full, cfg.search.grid, single, units)
    full_trials = len(preds) * len(table.points)
    budget = int(np.floor(cfg.prune.budget_fraction * full_trials + 1e-9))
    grace, max_t = resource_range(cfg.search.space, cfg.train.epochs)
    full_ok = ok_trials(full)

    def score(rows, fx=fixed, fx_ee=fixed_ee):
        return _scores(single, full_ok, rows, fx, full_total, margin,
                       (fx_ee, ee["full_total"]) if ee and fx_ee is not None else None)

    ranked = preds.sort_values(["probability", "source", "target"], ascending=[False, True, True])
    pairs_ranked = list(zip(ranked.source, ranked.target))
    phi = preds["score_label_phi"] if "score_label_phi" in preds else None
    seeds_list = [cfg.seed + k for k in range(seeds)]

    def arms_at(budget: int) -> dict:
        def alloc(scores, cover: bool = False, min_trials: int | None = None) -> list[dict]:
            scored = preds[["source", "target"]].assign(probability=np.nan_to_num(np.asarray(scores, float), nan=-1e9))
            return allocate_trials(scored, budget, min_trials or cfg.prune.trials_per_pair, cover_targets=cover)

        arms = {"a": {"label": ARMS["a"], **score(first_point_arm(table, pairs_ranked, budget))}}
        runs: dict[str, list] = {k: [] for k in "bcdefghi"}
        cover_alloc = alloc(preds["probability"], cover=True)
        pred_alloc = alloc(preds["probability"])
        breadth_alloc = alloc(preds["probability"], min_trials=1)
        kw = {"asha": (grace, max_t), "protect_warm": cfg.prune.protect_warm_start}
        for sd in seeds_list:
            runs["b"].append(score(tpe_arm(table, cfg.search.space, cfg.search.grid, pred_alloc, sd)))
            c = tpe_arm(table, cfg.search.space, cfg.search.grid, pred_alloc, sd, **kw)
            runs["c"].append(score(c))
            rnd = np.random.default_rng(10_000 + sd).random(len(preds))
            runs["d"].append(score(tpe_arm(table, cfg.search.space, cfg.search.grid, alloc(rnd), sd, **kw)))
            if phi is not None:
                runs["e"].append(score(tpe_arm(table, cfg.search.space, cfg.search.grid, alloc(phi), sd, **kw)))
            runs["g"].append(score(tpe_arm(table, cfg.search.space, cfg.search.grid, cover_alloc, sd, **kw)))
            runs["h"].append(score(tpe_arm(table, cfg.search.space, cfg.search.grid, breadth_alloc, sd, **kw)))
            runs["i"].append(score(breadth_then_depth_arm(table, cfg.search.space, cfg.search.grid, pairs_ranked,
                                                          budget, sd, **kw)))
            runs["f"].append(score(multifidelity_arm(table, float(c["compute_s"].sum()) if len(c) else 0.0, sd,
                                                     grace=1, max_t=max_t), no_predictor_fixed,
                                   ee["single_task_training"] if ee else None))
        for k, r in runs.items():
            if r:
                arms[k] = {"label": ARMS[k], **_spread(r)}
        arms["c"]["pairs_kept"] = len(pred_alloc)
        arms["c"]["targets_kept"] = len({p["target"] for p in pred_alloc})
        return arms

    out: dict = {"budget_trials": budget, "full_trials": int(len(full)), "grid_points": len(table.points),
                 "margin": margin, "asha": {"grace": grace, "max_t": max_t, "reduction_factor": 3},
                 "fixed_compute_s": fixed, "full_total_compute_s": full_total, "fixed_example_epochs": fixed_ee,
                 "full_total_example_epochs": ee["full_total"] if ee else None, "arms": arms_at(budget)}
    out["arms"]["full"] = {"label": "the full grid (reference)",
                           **score(full_ok, cs["single_task_training"], ee["single_task_training"] if ee else None)}
    out["by_budget_fraction"] = {}
    for frac in (0.1, 0.2, 0.33):  # the same arms at larger budgets (the default budget is declared above)
        arms = arms_at(int(np.floor(frac * full_trials + 1e-9)))
        out["by_budget_fraction"][str(frac)] = {
            k: {m: (v["mean"] if isinstance(v, dict) else v) for m, v in a.items()
                if m in ("time_reduction", "time_reduction_example_epochs", "f1_loss", "gain_captured_pooled_margin",
                         "trials")}
            for k, a in arms.items()}
    return out


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--config", help="experiment YAML (default: the embedded default)")
    p.add_argument("--tasks", help="comma-separated tasks (>= 6), default: the config's")
    p.add_argument("--reuse", help="run directory with single_task.json and search_full.parquet to build on")
    p.add_argument("--predictor", choices=["zero-shot", "learned"])
    p.add_argument("--calibration-pairs", type=int)
    p.add_argument("--zero-shot-feature")
    p.add_argument("--name", default="pruned_vs_full", help="JSON file stem (cross_corpus uses its own)")
    p.add_argument("--seeds", type=int, help="train.seeds (default: the config's)")
    p.add_argument("--no-replicate", action="store_true", help="skip the full search's fresh-seed replication")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. data.max_eval=500 (value parsed as YAML); repeatable")
    p.add_argument("--ablation-only", metavar="RUN_DIR", help="only replay arms (a)-(f) from RUN_DIR's full grid")
    p.add_argument("--sampler-seeds", type=int, default=5, help="sampler seeds of the stochastic arms")
    p.add_argument("--check-ablation", action="store_true", help="check benchmarks/results/<name>_ablation.json: print "
                                                                 "each target met / missed; exit 1 when incomplete")
    p.add_argument("--simulate-pruned", action="store_true",
                   help="with --reuse: take the pruned side from the full grid's rows instead of searching")
    add_task_set(p)
    args = p.parse_args()
    if args.simulate_pruned and not args.reuse:
        raise SystemExit("--simulate-pruned needs --reuse RUN_DIR (a full search to take the rows from)")
    if args.check_ablation:
        return check(RESULTS / f"{args.name}_ablation.json")
    if args.ablation_only:
        return write_ablation(Path(args.ablation_only), args.name, args.sampler_seeds, None, args.task_set)
    overrides = {"data.tasks": args.tasks.split(",") if args.tasks else None, "prune.predictor": args.predictor,
                 "prune.calibration_pairs": args.calibration_pairs, "prune.zero_shot_feature": args.zero_shot_feature,
                 "train.seeds": args.seeds, "search.replicate": False if args.no_replicate else None}
    import yaml as _yaml
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = _yaml.safe_load(value)
    if args.quick:
        overrides.update({"data.source_max_train": 1500, "train.seeds": 2, "train.epochs": 4,
                          "search.replicate": False})
    if args.reuse:
        from raytp.rundir import load_run_config
        from raytp.rundir import RunDir
        base = load_run_config(RunDir(args.reuse)).model_dump(mode="json")
        base.pop("prune", None)  # the pruned side is rebuilt with today's defaults (+ flags)
        import yaml
        tmp = Path(args.out) / f"{args.name}_config.yaml"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(yaml.safe_dump(base))
        cfg = load_config(tmp, overrides)
        run_dir = Path(args.reuse)
    else:
        cfg = load_config(args.config, overrides)
        run_dir = Path(args.out) / args.name / time.strftime("%Y%m%d-%H%M%S")
    if len(cfg.data.tasks) < 3:
        raise SystemExit("need at least 3 tasks")

    from raytp.runtime.job import run_pipeline
    from raytp.rundir import RunDir
    if args.reuse:  # keep the single-task stage and the full search; redo everything on the pruned side
        run = RunDir(run_dir)
        for rel in ("pair_features.parquet", "pair_predictions.parquet", "predictor.json", "pruning.json",
                    "search_pruned.parquet", "search_pruned.json", "search_calibration.parquet",
                    "search_calibration.json", "report.json", "report.md", "pipeline.json"):
            run.forget(rel)
        run.write_text("config.yaml", cfg.to_yaml())
        import shutil
        for exp in ("search_pruned", "search_calibration"):
            shutil.rmtree(run.path("tune") / exp, ignore_errors=True)
    t0 = time.perf_counter()
    if args.simulate_pruned:
        simulate_pruned_side(cfg, RunDir(run_dir))
    else:
        run_pipeline(cfg, str(run_dir), resume=bool(args.reuse), with_full=True, progress=True)
    wall = time.perf_counter() - t0
    run = RunDir(run_dir)
    report = run.read_json("report.json")
    out = {"benchmark": args.name, "machine": machine(), "run_dir": str(run_dir), "quick": args.quick,
           "task_set": args.task_set, "caches": args.caches,
           "pruned_side": ("simulated: the full grid's rows at the warm-start point for the kept pairs (exact in F1)"
                           if args.simulate_pruned else "searched (Ray Tune + Optuna), measured"),
           "tasks": cfg.data.tasks, "regime": {"backend": cfg.backend.name, "target_labels": cfg.data.max_train,
                                               "source_examples": cfg.data.source_max_train, "seeds": cfg.train.seeds,
                                               "grid": cfg.search.grid},
           "prune": cfg.prune.model_dump(mode="json"), "wall_s": wall, **report,
           "paper_anchor": {"time_reduction": 0.835, "f1_loss": 0.034},
           "predictor_evaluation": ablation_table(run_dir)}
    iv = out["intervals"]
    tr_ee = out.get("time_reduction_example_epochs")
    print(f"\ntime reduction {out['time_reduction']:.3f} (paper 0.835; in example-epochs "
          f"{'n/a' if tr_ee is None else f'{tr_ee:.3f}'}), F1 loss {out['f1_loss']:.4f} "
          f"{_ci(iv['f1_loss'])} (paper 0.034), gain captured pooled {out['gain_captured_pooled']} "
          f"{_ci(iv['gain_captured_pooled'])}, beyond the margin {out['gain_captured_pooled_beyond_margin']} "
          f"{_ci(iv['gain_captured_pooled_beyond_margin'])}; kept {out['pairs_kept']}/{out['pairs_total']} pairs; "
          f"predictor AUC {out['predictor']['auc']} {_ci(out['predictor']['intervals']['auc'])} ({args.task_set})")
    for name, b in out["baselines"].items():
        d = out["predictor"]["intervals"].get(f"auc_minus_{name}", {})
        print(f"  baseline {name:10s} AUC {b['auc']} {_ci(b['intervals']['auc'])}  predictor minus it {_ci(d)}")
    figures = {"time_reduction": out["time_reduction"], "f1_loss": out["f1_loss"],
               "gain_captured_pooled": out["gain_captured_pooled"]}
    targets = {"time_reduction": (">=", 0.85), "f1_loss": ("<=", 0.02), "gain_captured_pooled": (">=", 0.8)}
    code = finish(args, f"{args.name}.json", out, figures, targets)
    return max(code, write_ablation(run_dir, args.name, args.sampler_seeds, wall, args.task_set))


def write_ablation(run_dir: Path, name: str, seeds: int, wall: float | None, task_set: str = "in-sample") -> int:
    """Replay the arms, print them, write benchmarks/results/<name>_ablation.json (with the machine's load)."""
    import os
    from raytp.rundir import RunDir, load_run_config
    t0 = time.perf_counter()
    ab = ablation(run_dir, seeds)
    cfg = load_run_config(RunDir(run_dir))
    report = RunDir(run_dir).read_json("report.json")
    pruned = RunDir(run_dir).read_json("search_pruned.json") if RunDir(run_dir).has("search_pruned.json") else {}
    full = RunDir(run_dir).read_json("search_full.json")
    out = {"benchmark": "pruned_vs_full ablation (issue 13)", "name": name, "machine": machine(),
           "loadavg": os.getloadavg(), "tasks": cfg.data.tasks, "task_set": task_set,
           "regime": {"backend": cfg.backend.name, "target_labels": cfg.data.max_train, "seeds": cfg.train.seeds,
                      "epochs": cfg.train.epochs, "source_examples": cfg.data.source_max_train,
                      "grid": cfg.search.grid, "space": cfg.search.space, "prune": cfg.prune.model_dump(mode="json")},
           "targets": TARGETS, "pipeline_wall_s": wall, "replay_s": time.perf_counter() - t0,
           "live_default": {k: report.get(k) for k in ("time_reduction", "time_reduction_example_epochs", "f1_loss",
                                                       "gain_captured",
                                                       "gain_captured_pooled", "pairs_kept", "pairs_total", "trials")}
           | {"pruned": pruned.get("pruned")},
           "full_grid": full.get("grid"), "noise": full.get("noise"), **ab}
    arms = out["arms"]
    print(f"\nablation at {ab['budget_trials']} trials (full grid {ab['full_trials']}), margin {ab['margin']:.3f}:")
    for k, a in arms.items():
        def fmt(key):
            v = a.get(key)
            if isinstance(v, dict):
                return f"{v['mean']:.3f}±{v['sd']:.3f}"
            return "n/a" if v is None else f"{v:.3f}"
        print(f"  ({k}) {a['label'][:60]:<60} TR {fmt('time_reduction')} (example-epochs "
              f"{fmt('time_reduction_example_epochs')})  gain captured (pooled, >margin) "
              f"{fmt('gain_captured_pooled_margin')}  F1 loss {fmt('f1_loss')}")
    g = out["full_grid"] or {}
    if g:
        print(f"grid: selected point over first: mean {g.get('selected_over_first_mean')}, beneficial pairs whose "
              f"selected point is not the first: {g.get('share_beneficial_selected_not_first')}")
    write_json(RESULTS, f"{name}_ablation.json", out)
    return 0


def check(path: Path) -> int:
    """Print each target of the default arm (c) and whether (c) leads (a), (d), (e); 1 when the file is incomplete."""
    import json
    if not path.is_file():
        print(f"{path}: missing; run the benchmark first")
        return 1
    d = json.loads(path.read_text())
    try:
        c = d["arms"]["c"]
        for key, target in TARGETS.items():
            v = c[key]["mean"] if c[key] is not None else None
            if v is None:
                print(f"{key}: not evaluable (no target's full-grid gain exceeds the noise margin)")
                continue
            ok = v <= target if key == "f1_loss" else v >= target
            print(f"{key}: {v:.3f} (target {'<=' if key == 'f1_loss' else '>='} {target}): {'met' if ok else 'MISSED'}")
        mine = c["gain_captured_pooled_margin"]
        for other in ("a", "d", "e"):
            o = d["arms"][other]["gain_captured_pooled_margin"]
            o = o["mean"] if isinstance(o, dict) else o
            if mine is None or o is None:
                print(f"(c) ahead of ({other}) on pooled gain captured: not evaluable")
            else:
                print(f"(c) ahead of ({other}) on pooled gain captured: {mine['mean']:.3f} vs {o:.3f}: "
                      f"{'yes' if mine['mean'] > o else 'NO'}")
    except (KeyError, TypeError) as e:
        print(f"{path}: incomplete ({e})")
        return 1
    return 0


def _ci(i: dict | None) -> str:
    return "" if not i or i.get("low") is None else f"[{i['low']:.3f}, {i['high']:.3f}]"


def simulate_pruned_side(cfg, run) -> None:
    """Pair features, predictor and pruning plan as the pipeline makes them; the pruned side's trials are the
    full grid's rows at the warm-start point for the kept pairs (no search); then the report."""
    from raytp.data import load_experiment_data
    from raytp.pipeline import features_stage, predict_stage
    from raytp.report import compare_run
    from raytp.report.comparison import at_point, ok_trials
    from raytp.rundir.names import PIPELINE, SEARCH_FULL, SEARCH_PRUNED
    from raytp.search.space import first_point
    if cfg.prune.predictor != "zero-shot":
        raise SystemExit("--simulate-pruned covers the zero-shot predictor only (no calibration search)")
    ds = load_experiment_data(cfg)
    stages = {"pair_features": features_stage(cfg, ds, run)}
    plan = predict_stage(cfg, run)
    stages["predict"] = {"compute_s": plan.predictor_s, "pairs_kept": len(plan.pairs)}
    run.write_json(PIPELINE, {"stages": stages, "config_fingerprint": cfg.fingerprint()})
    kept = {(q["source"], q["target"]) for q in plan.pairs}
    full = ok_trials(run.read_parquet(SEARCH_FULL))
    rows = full[[(s, t) in kept for s, t in zip(full["source"], full["target"])]]
    run.write_parquet(SEARCH_PRUNED, at_point(rows, first_point(plan.space)).reset_index(drop=True))
    compare_run(run)


if __name__ == "__main__":
    sys.exit(main())
