"""Issue 16: input-level attribution maps (``input_ig/*``) as zero-shot rankers, and what they cost.

On a run directory holding a full search (``raytp run --with-full``: search_full.parquet + pair_features.parquet),
the AUC, regret@3 and NDCG@3 with bootstrap 95 % intervals (``raytp.predict.intervals``; paired differences
against TextEmb and LogME) of each input-map similarity (cosine, Spearman, top-k) under each text weighting
(``input_maps.WEIGHTINGS``: the configured one is the pair table's column), next to label_phi, textemb, logme and
random. The maps come from the run's signatures when they hold them; else (runs made before the maps existed)
from the run's single-task checkpoints, recomputed on the run's probe set with the run's ``profiling.n_steps``
(nothing is written into the run directory). Either way the JSON records the seconds per model the maps took
(recomputed here, or the run's ``profiling_s``). A run without a full search gives the cost only.

    python benchmarks/input_maps.py --run RUN --name default      # -> benchmarks/results/input_maps_default.json
    (--task-set declared: the maps, their measures and the default weighting were fixed before this run's maps)
    python benchmarks/input_maps.py --quick --run RUN             # smoke: 200 bootstrap draws, bench-out only
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import add_task_set, conclude, machine, parser  # noqa: E402

BASELINES = ("label_phi", "textemb", "logme", "random")


def task_maps(run_dir: Path) -> tuple[dict, dict]:
    """Each task's input maps (signature tensors) and how they were obtained: {"source", "seconds" per task}."""
    import torch
    from safetensors.torch import load

    from raytp.data import load_experiment_data
    from raytp.data.subsets import probe_indices
    from raytp.models.registry import make_backend
    from raytp.profiling import input_maps
    from raytp.profiling.signatures import compute_signatures, load_signatures, probe_fingerprint
    from raytp.rundir import RunDir, checkpoint_path, load_run_config, read_single_task, signature_path
    run = RunDir(run_dir)
    cfg, summary = load_run_config(run), read_single_task(run)
    tasks = summary.trained(cfg.data.tasks)
    ds = load_experiment_data(cfg)
    probe = probe_indices(ds, cfg.data)
    stored = {t: load_signatures(run.read_bytes(summary.tasks[t].get("signature") or signature_path(t)),
                                 expected_probe=probe_fingerprint(probe, ds.fingerprint()))[0] for t in tasks}
    if all(input_maps.has_maps(s) for s in stored.values()):
        return stored, {"source": "signatures", "seconds": {t: summary.tasks[t].get("profiling_s") for t in tasks},
                        "seconds_include": "every signature method of the run"}
    torch.set_num_threads(max(1, int(cfg.resources.cpus_per_worker)))
    backend = make_backend(cfg.backend)
    feats = backend.featurize([ds.texts[i] for i in probe])
    only = cfg.profiling.model_copy(update={"methods": [input_maps.METHOD]})
    maps, seconds = {}, {}
    for t in tasks:
        model = backend.new_model([t], cfg.seed)
        model.load_state_dict(load(run.read_bytes(summary.tasks[t].get("checkpoint") or checkpoint_path(t))))
        start = time.perf_counter()
        maps[t] = compute_signatures(model, backend, feats, np.arange(len(probe)), t, only)
        seconds[t] = time.perf_counter() - start
        print(f"{t:28s} input maps {seconds[t]:6.2f} s  ({len(probe)} probe texts, n_steps {cfg.profiling.n_steps})")
    return maps, {"source": "checkpoints", "seconds": seconds, "torch_threads": torch.get_num_threads(),
                  "seconds_include": "input maps (+ the layer responses compute_signatures always takes)",
                  "profiling_s_of_run": {t: summary.tasks[t].get("profiling_s") for t in tasks}}


def map_columns(maps: dict, top_k: float) -> dict[str, dict[tuple[str, str], dict[str, float]]]:
    """{weighting: {(source, target): {input_ig/...: value}}} for every ordered pair."""
    from raytp.config import ordered_pairs
    from raytp.profiling import input_maps
    prepared = {t: input_maps.PreparedMap(s, top_k) for t, s in maps.items()}
    return {w: {(s, t): prepared[s].similarities(prepared[t], w) for s, t in ordered_pairs(list(maps))}
            for w in input_maps.WEIGHTINGS}


def rankers(run_dir: Path, columns: dict, configured: str, n_boot: int) -> dict:
    """Intervals of each input-map column (per weighting) and of the baselines, against the full search."""
    import pandas as pd

    from raytp.predict.intervals import ranking_intervals
    from raytp.report import pair_truth
    from raytp.rundir import RunDir
    run = RunDir(run_dir)
    X = run.read_parquet("pair_features.parquet").merge(pair_truth(run.read_parquet("search_full.parquet")),
                                                        on=["source", "target"])
    y, gains, groups = X["beneficial"].to_numpy(bool), X["gain"].to_numpy(float), X["target"].to_numpy()
    keys = list(zip(X["source"], X["target"]))
    scores = {c: X[c].to_numpy(float) if c in X else np.full(len(X), np.nan) for c in BASELINES}
    for w, per_pair in columns.items():
        frame = pd.DataFrame([per_pair[k] for k in keys])
        for c in frame.columns:
            scores[c if w == configured else f"{c}[{w}]"] = frame[c].to_numpy(float)
    against = {c: scores[c] for c in ("textemb", "logme") if np.isfinite(scores[c]).any()}
    out = {"pairs": int(len(X)), "beneficial": int(y.sum()), "weighting_of_columns": configured, "scores": {}}
    for name, s in scores.items():
        if not np.isfinite(s).any():
            out["scores"][name] = None  # the run's table has no such column (older run): NaN throughout
            continue
        iv = ranking_intervals(s, y, gains, groups, k=3, n_boot=n_boot,
                               against={k: v for k, v in against.items() if k != name})
        out["scores"][name] = iv
        print(f"{name:34s} AUC {iv['auc']['estimate']:.3f} [{_f(iv['auc']['low'])}, {_f(iv['auc']['high'])}]")
    return out


def _f(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, required=True, help="run directory (a full search for the AUCs)")
    p.add_argument("--name", default=None, help="results file suffix: input_maps_<name>.json (default: the run's "
                                                "folder name)")
    add_task_set(p)
    args = p.parse_args()
    from raytp.rundir import RunDir, load_run_config
    if not (args.run / "single_task.json").is_file():
        raise SystemExit(f"{args.run}: not a run directory with single-task models (single_task.json missing)")
    cfg = load_run_config(RunDir(args.run))
    start, load = time.time(), os.getloadavg()
    maps, how = task_maps(args.run)
    secs = [v for v in how["seconds"].values() if v is not None]
    stem = f"input_maps_{args.name or args.run.resolve().name}"
    out: dict = {"benchmark": stem, "machine": machine(), "load_avg_1_5_15": load, "task_set": args.task_set,
                 "run_dir": str(args.run.resolve()), "tasks": list(maps), "backend": cfg.backend.name,
                 "probe_size": int(next(iter(maps.values()))["input_logits"].shape[0]),
                 "n_steps": cfg.profiling.n_steps, "top_k": cfg.profiling.top_k, "maps": how,
                 "seconds_per_model_mean": float(np.mean(secs)) if secs else None,
                 "seconds_per_model_max": float(np.max(secs)) if secs else None}
    if (args.run / "search_full.parquet").is_file():
        t0 = time.perf_counter()
        columns = map_columns(maps, cfg.profiling.top_k)
        out["similarities_s"] = time.perf_counter() - t0
        out.update(rankers(args.run, columns, cfg.profiling.input_weighting, 200 if args.quick else 1000))
    else:
        print("no search_full.parquet: cost only")
    out["seconds"] = time.time() - start
    print(f"input maps: {out['seconds_per_model_mean']:.2f} s per model on average ({how['source']})")
    return conclude(args, f"{stem}.json", out, [])


if __name__ == "__main__":
    sys.exit(main())
