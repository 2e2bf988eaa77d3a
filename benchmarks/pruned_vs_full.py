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
that row, tests/runtime/test_tune_search.py; compute = those rows' seconds); the JSON says so.
Targets (``--check``): time reduction >= 0.85, F1 loss <= 0.02, pooled gain captured >= 0.8.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_task_set, finish, machine, parser  # noqa: E402

import numpy as np  # noqa: E402

from raytp.config import load_config  # noqa: E402


def ablation_table(run_dir: Path) -> dict:
    """Leave-targets-out metrics of the learned predictor per feature group, and of each baseline score."""
    from raytp.predict import ablation, evaluate_scores
    from raytp.report import pair_truth
    from raytp.rundir import RunDir
    run = RunDir(run_dir)
    feats = run.read_parquet("pair_features.parquet")
    truth = pair_truth(run.read_parquet("search_full.parquet"))
    X = feats.merge(truth, on=["source", "target"])
    y, gains, groups = X["beneficial"].to_numpy(bool), X["gain"].to_numpy(float), X["target"].to_numpy()
    out = {"pairs": int(len(X)), "beneficial": int(y.sum())}
    if 1 < y.sum() < len(y) - 1:
        tab = ablation(X.drop(columns=["gain", "gain_val", "beneficial", "harmful"]), y, gains, groups)
        out["learned_by_feature_group"] = tab.replace({np.nan: None}).to_dict(orient="records")
    out["scores"] = {}
    for col in ("label_phi", "textemb", "logme", "random", "responses/hidden/cka", "layer_conductance/hidden/cosine",
                "layer_conductance_examples/hidden/cka", "responses/hidden/rsa"):
        if col in X and np.isfinite(X[col].to_numpy(float)).any():
            m = evaluate_scores(X[col].to_numpy(float), y, gains, groups)
            out["scores"][col] = {k: v for k, v in m.items() if not isinstance(v, list)}
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
    p.add_argument("--simulate-pruned", action="store_true",
                   help="with --reuse: take the pruned side from the full grid's rows instead of searching")
    add_task_set(p)
    args = p.parse_args()
    if args.simulate_pruned and not args.reuse:
        raise SystemExit("--simulate-pruned needs --reuse RUN_DIR (a full search to take the rows from)")
    overrides = {"data.tasks": args.tasks.split(",") if args.tasks else None, "prune.predictor": args.predictor,
                 "prune.calibration_pairs": args.calibration_pairs, "prune.zero_shot_feature": args.zero_shot_feature}
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
    print(f"\ntime reduction {out['time_reduction']:.3f} (paper 0.835), F1 loss {out['f1_loss']:.4f} "
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
    return finish(args, f"{args.name}.json", out, figures, targets)


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
