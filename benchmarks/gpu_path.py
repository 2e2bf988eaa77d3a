"""The GPU path of training and profiling, without Ray: the code a single-task actor runs on a GPU.

For each device asked for (``cuda`` and ``cpu`` side by side by default): the transformer backend
(full fine-tuning of MiniLM) and the frozen-encoder backend train one single-task model per task on
real disaster-response data, then compute the attribution signatures (every Captum method of the
config) on the shared probe set. Reports train/infer throughput, signature time, F1, where the model
lived, and how close the CUDA and CPU signatures of the first task are (same seed, same data).

    python benchmarks/gpu_path.py [--tasks food,water] [--devices cuda,cpu] [--max-train 500] [--out bench-out]

Needs no Ray: raytp/runtime only schedules these same calls into actors with ``num_gpus``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, parser, write_json  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from raytp.config import config_from_dict  # noqa: E402
from raytp.data import load_experiment_data  # noqa: E402
from raytp.data.subsets import probe_indices, target_train  # noqa: E402
from raytp.models.registry import make_backend  # noqa: E402
from raytp.models.single import eval_sets, train_single  # noqa: E402
from raytp.models.training import predict_proba  # noqa: E402
from raytp.profiling import compute_signatures  # noqa: E402


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_backend(name: str, device: str, tasks: list[str], max_train: int, epochs: int, probe_size: int,
                n_steps: int) -> dict:
    cfg = config_from_dict({"data": {"tasks": tasks, "max_train": max_train, "max_eval": 500, "probe_size": probe_size},
                            "profiling": {"n_steps": n_steps},
                            "backend": {"name": name}, "train": {"seeds": 1, "epochs": epochs, "patience": epochs},
                            "resources": {"gpus_per_worker": 1.0 if device == "cuda" else 0.0}})
    ds = load_experiment_data(cfg)
    t0 = time.perf_counter()
    backend = make_backend(cfg.backend, device)
    feats = backend.featurize(ds.texts)
    featurize_s = time.perf_counter() - t0
    probe = probe_indices(ds, cfg.data)
    out: dict = {"backend": name, "device": device, "featurize_s": featurize_s, "tasks": {}}
    sigs = {}
    for task in tasks:
        _sync(device)
        t = time.perf_counter()
        run = train_single(backend, feats, ds, task, cfg, cfg.train.lr, cfg.seed)
        _sync(device)
        train_s = time.perf_counter() - t
        param_device = str(next(run.model.parameters()).device)
        _, test = eval_sets(ds, task, cfg)
        t = time.perf_counter()
        predict_proba(run.model, backend, feats, test.idx, task)
        _sync(device)
        infer_s = time.perf_counter() - t
        t = time.perf_counter()
        sigs[task] = compute_signatures(run.model, backend, feats, probe, task, cfg.profiling)
        _sync(device)
        prof_s = time.perf_counter() - t
        finite = all(bool(torch.isfinite(v).all()) for v in sigs[task].values())
        seen = run.metrics["epochs"] * len(target_train(ds, task, cfg.data))  # examples trained on
        out["tasks"][task] = {"f1_test": run.metrics["f1_test"], "epochs": run.metrics["epochs"],
                              "train_s": train_s, "train_examples_per_s": seen / train_s,
                              "infer_examples_per_s": len(test.idx) / infer_s, "profiling_s": prof_s,
                              "probe": len(probe), "signatures": len(sigs[task]), "finite": finite,
                              "model_on": param_device}
        print(f"{name:15s} {device:4s} {task:10s} F1 {run.metrics['f1_test']:.3f}  train {train_s:6.1f}s "
              f"({seen / train_s:7.1f} ex/s)  infer {len(test.idx) / infer_s:9.1f} ex/s  "
              f"signatures {prof_s:5.2f}s  on {param_device}  finite {finite}", flush=True)
    if device == "cuda":
        out["max_memory_allocated_gb"] = torch.cuda.max_memory_allocated() / 2 ** 30
    return out, sigs


def agreement(a: dict, b: dict) -> dict:
    """Cosine between the same signature computed on two devices (1.0: identical up to scale)."""
    cos = {}
    for k in a:
        x, y = a[k].flatten().double(), b[k].flatten().double()
        cos[k] = float(torch.nn.functional.cosine_similarity(x, y, dim=0))
    return {"min_cosine": min(cos.values()), "by_signature": cos}


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", default="food,water")
    p.add_argument("--devices", default="cuda,cpu")
    p.add_argument("--backends", default="transformer,frozen-encoder")
    p.add_argument("--max-train", type=int, default=500)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--probe-size", type=int, default=256, help="probe texts (default: the config's default)")
    p.add_argument("--n-steps", type=int, default=16, help="Captum integration steps (default: the config's)")
    args = p.parse_args()
    tasks = args.tasks.split(",")
    devices = args.devices.split(",")
    if "cuda" in devices and not torch.cuda.is_available():
        raise SystemExit("--devices names cuda but torch sees no GPU")
    results, first = [], {}
    for name in args.backends.split(","):
        for device in devices:
            torch.manual_seed(0)
            np.random.seed(0)
            res, sigs = run_backend(name, device, tasks, args.max_train, args.epochs, args.probe_size,
                                      args.n_steps)
            results.append(res)
            first[(name, device)] = sigs[tasks[0]]
        if len(devices) > 1:
            results.append({"backend": name, "agreement": f"{devices[0]} vs {devices[1]}, task {tasks[0]}",
                            **agreement(first[(name, devices[0])], first[(name, devices[1])])})
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    write_json(args.out, "gpu_path.json", {"benchmark": "gpu_path", "machine": {**machine(), "gpu": gpu},
                                           "tasks": tasks, "max_train": args.max_train, "epochs": args.epochs,
                                           "probe_size": args.probe_size, "n_steps": args.n_steps,
                                           "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
