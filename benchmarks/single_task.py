"""Single-task stage benchmark (issues 2 and 15).

Per-task test F1 on the default tasks, seed SD per task, training/inference examples/s of each
backend, and the speed-up of 2 concurrent actors over 1 (target >= 1.6x on 2 cores) — for each fast
backend, on the same machine in one run (the two stages alternate order per backend; the load
average is recorded). The frozen-encoder cache is warmed first (its cost reported separately).
Writes benchmarks/results/single_task.json (or --json NAME); ``--check`` exits 1 when a target is missed.

    python benchmarks/single_task.py [--quick] [--check] [--backends hashed,frozen-encoder]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import conclude, machine, parser  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from raytp.config import config_from_dict  # noqa: E402
from raytp.data import load_experiment_data  # noqa: E402
from raytp.data.subsets import eval_split  # noqa: E402
from raytp.models.registry import make_backend  # noqa: E402
from raytp.models.training import EvalSet, HParams, Part, fit, predict_proba  # noqa: E402


def throughput(backend_name: str, ds, n: int = 500) -> dict[str, float]:
    """Training (one epoch) and inference examples/s on n training texts, one thread (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _throughput(backend_name, ds, n)
    finally:
        torch.set_num_threads(threads)


def _throughput(backend_name: str, ds, n: int) -> dict[str, float]:
    cfg = config_from_dict({"backend": {"name": backend_name}})
    backend = make_backend(cfg.backend)
    idx = ds.indices("train")[:n]
    texts = [ds.texts[i] for i in idx]
    t0 = time.perf_counter()
    feats = backend.featurize(texts)
    featurize_s = time.perf_counter() - t0
    local = np.arange(len(texts))
    y = ds.y("food", idx)
    model = backend.new_model(["food"], 0)
    lr = cfg.train.lr
    t0 = time.perf_counter()
    fit(model, backend, feats, [Part("food", local, y)], EvalSet("food", local[:64], y[:64]),
        HParams(lr=lr, epochs=1, patience=1), seed=0)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    predict_proba(model, backend, feats, local, "food")
    infer_s = time.perf_counter() - t0
    return {"featurize_per_s": n / featurize_s, "train_per_s": n / train_s, "infer_per_s": n / infer_s}


def stage(cfg_dict: dict, workers: int, out: Path) -> dict:
    import ray

    from raytp.runtime.single_task import run_single_task_stage
    from raytp.rundir import prepare_run_dir
    cfg = config_from_dict({**cfg_dict, "resources": {"workers": workers, "cpus_per_worker": 1.0}})
    ds = load_experiment_data(cfg)
    run = prepare_run_dir(str(out), cfg)
    if not ray.is_initialized():
        from raytp.runtime.cluster import prepare_ray_auth
        prepare_ray_auth(local=True)
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    return run_single_task_stage(cfg, ds, run, progress=True).to_dict()


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--backends", default="hashed,frozen-encoder")
    p.add_argument("--json", default="single_task.json", help="file name under benchmarks/results/")
    p.add_argument("--no-transformer", action="store_true", help="skip the transformer's throughput figures")
    p.add_argument("--tasks", help="comma-separated tasks of the stage (default: the config's 8 default tasks)")
    args = p.parse_args()
    out = Path(args.out)
    backends = args.backends.split(",")
    result: dict = {"machine": machine(), "loadavg_before": os.getloadavg(), "backends": {},
                    "target_speedup_2_vs_1": 1.6}
    base = {"data": {}} if not args.quick else {"data": {"tasks": ["food", "water", "shelter", "floods"], "max_eval": 600}}
    if args.tasks:
        base["data"]["tasks"] = [t for t in args.tasks.split(",") if t]
    result["tasks"] = base["data"].get("tasks") or list(config_from_dict({}).data.tasks)
    ds_full = load_experiment_data(config_from_dict({}))
    for b_i, name in enumerate(backends):
        cfg_dict = {**base, "backend": {"name": name}}
        if name == "frozen-encoder":  # warm the embedding cache once (reported, then excluded)
            t0 = time.perf_counter()
            make_backend(config_from_dict(cfg_dict).backend).featurize(ds_full.texts)
            cache_s = time.perf_counter() - t0
        else:
            cache_s = 0.0
        load0 = os.getloadavg()
        if b_i % 2 == 0:
            two = stage(cfg_dict, 2, out / f"single_task_{name}_w2")
            one = stage(cfg_dict, 1, out / f"single_task_{name}_w1")
        else:
            one = stage(cfg_dict, 1, out / f"single_task_{name}_w1")
            two = stage(cfg_dict, 2, out / f"single_task_{name}_w2")
        tput = throughput(name, ds_full, n=200 if args.quick else 500)
        tasks = {t: {"f1_test": s["f1_test"], "f1_test_sd": s["f1_test_sd"], "f1_val": s["f1_val"],
                     "positives_train": s["positives_train"]} for t, s in two["tasks"].items()}
        result["backends"][name] = {
            "tasks": tasks,
            "mean_f1_test": float(np.mean([t["f1_test"] for t in tasks.values()])),
            "mean_seed_sd": float(np.mean([t["f1_test_sd"] for t in tasks.values()])),
            "wall_s_2_workers": two["wall_s"], "wall_s_1_worker": one["wall_s"],
            "speedup_2_vs_1": one["wall_s"] / two["wall_s"],
            "encoding_cache_s": cache_s,
            "throughput": tput,
            "under_3_minutes": two["wall_s"] < 180,
            "loadavg_before": load0, "loadavg_after": os.getloadavg(),
        }
        r = result["backends"][name]
        print(f"\n[{name}] 2 workers {r['wall_s_2_workers']:.1f} s, 1 worker {r['wall_s_1_worker']:.1f} s, "
              f"speed-up {r['speedup_2_vs_1']:.2f}x; mean test F1 {r['mean_f1_test']:.3f} "
              f"(seed SD {r['mean_seed_sd']:.3f}); train {tput['train_per_s']:.0f} ex/s, infer {tput['infer_per_s']:.0f} ex/s")
        for t, s in tasks.items():
            print(f"  {t:14s} F1 test {s['f1_test']:.3f} ± {s['f1_test_sd']:.3f}  (pos train {s['positives_train']})")
    if "transformer" not in backends and not args.no_transformer:
        result["backends"]["transformer"] = {"throughput": throughput("transformer", ds_full, n=100 if args.quick else 500)}
        print(f"\n[transformer] {result['backends']['transformer']['throughput']}")
    result["loadavg_after"] = os.getloadavg()
    missed = [f"{n}: {b['wall_s_2_workers']:.1f} s for the stage (target < 180 s)" for n, b in result["backends"].items()
              if "wall_s_2_workers" in b and not b["wall_s_2_workers"] < 180]
    missed += [f"{n}: 2-vs-1 actor speed-up {b['speedup_2_vs_1']:.2f}x (target >= 1.6x)"
               for n, b in result["backends"].items() if "speedup_2_vs_1" in b and b["speedup_2_vs_1"] < 1.6]
    return conclude(args, args.json, result, missed)


if __name__ == "__main__":
    sys.exit(main())
