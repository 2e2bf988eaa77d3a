"""Pruned vs full search benchmark (issue 4): both searches on the same single-task stage.

Runs the whole pipeline with the full grid (``raytp run --with-full``) — or reuses a run directory
that already holds the single-task stage and the full search (``--reuse``, e.g. from
benchmarks/full_search.py) — and writes pruned_vs_full.json: the report.json keys (time_reduction,
f1_loss, gain_captured, pairs, predictor and baselines, reference bounds, per-target rows), the
paper's anchor side by side, the full search's noise figures, and a leave-targets-out evaluation of
the learned predictor with a feature-group ablation on the full search's outcomes.

    python benchmarks/pruned_vs_full.py [--tasks a,b,...] [--config F] [--reuse RUN_DIR] [--out bench-out] [--quick]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, parser, write_json  # noqa: E402

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
    args = p.parse_args()
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
    run_pipeline(cfg, str(run_dir), resume=bool(args.reuse), with_full=True, progress=True)
    wall = time.perf_counter() - t0
    run = RunDir(run_dir)
    report = run.read_json("report.json")
    out = {"benchmark": args.name, "machine": machine(), "run_dir": str(run_dir), "quick": args.quick,
           "tasks": cfg.data.tasks, "regime": {"backend": cfg.backend.name, "target_labels": cfg.data.max_train,
                                               "source_examples": cfg.data.source_max_train, "seeds": cfg.train.seeds,
                                               "grid": cfg.search.grid},
           "prune": cfg.prune.model_dump(mode="json"), "wall_s": wall, **report,
           "paper_anchor": {"time_reduction": 0.835, "f1_loss": 0.034},
           "targets": {"time_reduction": 0.85, "f1_loss": 0.02, "gain_captured": 0.8},
           "predictor_evaluation": ablation_table(run_dir)}
    print(f"\ntime reduction {out['time_reduction']:.3f} (paper 0.835, target >= 0.85), F1 loss {out['f1_loss']:.4f} "
          f"(paper 0.034, target <= 0.02), gain captured {out['gain_captured']} (target >= 0.8); "
          f"kept {out['pairs_kept']}/{out['pairs_total']} pairs; predictor AUC {out['predictor']['auc']}")
    for name, b in out["baselines"].items():
        print(f"  baseline {name:10s} AUC {b['auc']}  simulated gain captured {b['simulated']['gain_captured']}")
    write_json(args.out, f"{args.name}.json", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
