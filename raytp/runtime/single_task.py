"""The single-task stage on Ray: one actor per worker slot trains (and profiles) task models concurrently.

The corpus is featurised once — by the driver on CPU-only runs (actors start up meanwhile), else
by one task with a worker's resources that finishes before the actors start (actors holding every GPU
would leave it waiting forever) — and the dataset and features reach every actor through
the object store; actors are reused across tasks, so each task costs only its training. Resource
requests come from the config (fractional GPUs allowed) and torch threads follow the CPUs an actor
holds. Results come back to the driver,
which alone writes the run directory — workers need no shared disk.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError
from tqdm.auto import tqdm

from raytp.config import ExperimentConfig, compute_units, config_from_dict
from raytp.data.dataset import MultiTaskDataset
from raytp.errors import RaytpError
from raytp.runtime.cluster import check_fits, worker_data
from raytp.rundir.names import checkpoint_path, signature_path, task_runs_path, task_summary_path
from raytp.rundir.records import SingleTaskSummary, write_single_task
from raytp.rundir import RunDir


class TaskTrainer:
    """Trains one task at a time; keeps data and features between tasks."""

    def __init__(self, cfg_dict: dict[str, Any], ds_box: list[Any]):
        """``ds_box``: [dataset ref] (boxed so Ray passes the reference: a restarted actor fetches it again from
        the object store). The features follow through ``set_features``, so actors start while they are
        still being computed."""
        self.cfg: ExperimentConfig = config_from_dict(cfg_dict)
        self.ds, self.backend, _ = worker_data(self.cfg, ds_box, featurize=False)
        self.device = self.backend.device
        self._features_ref: Any = None
        self._features: Any = None
        self.data_fingerprint = self.ds.fingerprint()

    def set_features(self, box: list[Any]) -> None:
        """[features ref], computed once for all actors (fetched on first use)."""
        self._features_ref, self._features = box[0], None

    @property
    def features(self) -> Any:
        if self._features is None:
            self._features = on_device(ray.get(self._features_ref), self.device)
        return self._features

    def train(self, task: str) -> dict[str, Any]:
        from safetensors.torch import save

        from raytp.data.subsets import probe_indices
        from raytp.models.single import run_task

        start = time.perf_counter()
        outcome = run_task(self.backend, self.features, self.ds, task, self.cfg)
        meta = {"task": task, "backend": self.cfg.backend.name, "lr": str(outcome.summary["hyperparameters"]["lr"]),
                "seed": str(self.cfg.seed), "config_fingerprint": self.cfg.fingerprint()}
        state = {k: v.detach().cpu().contiguous() for k, v in outcome.model.state_dict().items()}
        result = {"task": task, "summary": outcome.summary, "runs": outcome.runs,
                  "checkpoint": save(state, metadata=meta), "signature": None,
                  "node": socket.gethostname(), "pid": os.getpid(), "device": str(self.device),
                  "node_id": ray.get_runtime_context().get_node_id(), "gpu_ids": [str(g) for g in ray.get_gpu_ids()]}
        # profile right after training, in the same actor: one pass, no reload
        from raytp.profiling.signatures import (compute_signatures, probe_fingerprint, save_signatures,
                                                signature_metadata)
        t0 = time.perf_counter()
        probe = probe_indices(self.ds, self.cfg.data)
        sig = compute_signatures(outcome.model, self.backend, self.features, probe, task, self.cfg.profiling)
        fp = probe_fingerprint(probe, self.data_fingerprint)
        result["signature"] = save_signatures(sig, signature_metadata(self.cfg.profiling.methods, fp,
                                                                      self.cfg.backend.name, task))
        result["summary"]["profiling_s"] = time.perf_counter() - t0
        result["summary"]["train_wall_s"] = time.perf_counter() - start
        return result


def on_device(features: Any, device: str) -> Any:
    """Features shipped on CPU, moved to the actor's device where they are a tensor (frozen-encoder)."""
    import torch
    return features.to(device) if isinstance(features, torch.Tensor) else features


def _featurize(cfg_dict: dict[str, Any], ds_box: list[Any]) -> Any:
    """The corpus's features, once, on CPU (for the object store)."""
    import torch

    from raytp.models.encoders import pick_device
    from raytp.models.registry import make_backend
    cfg = config_from_dict(cfg_dict)
    torch.set_num_threads(max(1, int(cfg.resources.cpus_per_worker)))
    ds = ray.get(ds_box[0]) if isinstance(ds_box[0], ray.ObjectRef) else ds_box[0]
    features = make_backend(cfg.backend, pick_device(cfg.resources.gpus_per_worker)).featurize(ds.texts)
    return features.cpu() if isinstance(features, torch.Tensor) else features


def _resources(cfg: ExperimentConfig) -> dict[str, float]:
    return {"CPU": cfg.resources.cpus_per_worker, "GPU": cfg.resources.gpus_per_worker}


def run_single_task_stage(cfg: ExperimentConfig, ds: MultiTaskDataset, run: RunDir, resume: bool = False,
                          progress: bool = True) -> SingleTaskSummary:
    """Train every configured task on Ray actors; write per-task artifacts and ``single_task.json``."""
    start = time.perf_counter()
    done: dict[str, dict[str, Any]] = {}
    if resume:
        for t in cfg.data.tasks:
            if run.has(task_summary_path(t)) and run.has(checkpoint_path(t)):
                done[t] = run.read_json(task_summary_path(t))
    todo = [t for t in cfg.data.tasks if t not in done]
    workers = min(check_fits(cfg.resources), max(1, len(todo))) if todo else 0
    res = cfg.resources
    actor_cls = ray.remote(TaskTrainer).options(
        num_cpus=res.cpus_per_worker, num_gpus=res.gpus_per_worker, max_restarts=0)
    ds_ref = ray.put(ds) if todo else None
    cfg_dict = cfg.model_dump(mode="json")
    feat_ref = None
    if todo and res.gpus_per_worker > 0:  # featurise on a worker's device, once
        feat_ref = ray.remote(_featurize).options(num_cpus=res.cpus_per_worker, num_gpus=res.gpus_per_worker
                                                  ).remote(cfg_dict, [ds_ref])
        # before any actor holds a GPU: actors that took every GPU first would wait forever on this task
        ray.wait([feat_ref], num_returns=1, fetch_local=False)
    actors = [actor_cls.remote(cfg_dict, [ds_ref]) for _ in range(workers)]
    if todo and feat_ref is None:  # CPU only: the driver featurises while the actors start
        feat_ref = ray.put(_featurize(cfg_dict, [ds]))
    for a in actors:
        a.set_features.remote([feat_ref])
    attempts = {t: 0 for t in todo}
    failed: dict[str, str] = {}
    queue = list(todo)
    in_flight: dict[ray.ObjectRef, tuple[str, Any]] = {}
    bar = tqdm(total=len(cfg.data.tasks), initial=len(done), desc="single-task models", unit="task",
               disable=not progress)
    idle = list(actors)
    while queue or in_flight:
        while queue and idle:
            task, actor = queue.pop(0), idle.pop(0)
            attempts[task] += 1
            # named per task: the worker's process title reads ray::TaskTrainer.train[<task>] (ps, monitoring, tests)
            in_flight[actor.train.options(name=f"TaskTrainer.train[{task}]").remote(task)] = (task, actor)
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        ref = ready[0]
        task, actor = in_flight.pop(ref)
        try:
            result = ray.get(ref)
        except (RayActorError, RayTaskError) as e:
            if attempts[task] <= res.max_retries:
                queue.append(task)
            else:
                failed[task] = f"{type(e).__name__}: {str(e).strip().splitlines()[-1][:300]}"
                bar.update(1)
            if isinstance(e, RayActorError):  # the actor died (killed, OOM, node lost): replace it
                actors.remove(actor)
                actor = actor_cls.remote(cfg_dict, [ds_ref])
                actor.set_features.remote([feat_ref])
                actors.append(actor)
            idle.append(actor)
            continue
        idle.append(actor)
        result["summary"]["attempts"] = attempts[task]
        summary = _store_task_result(run, cfg, result)
        done[task] = summary
        bar.set_postfix_str(f"{task}: F1 {summary['f1_test']:.3f}")
        bar.update(1)
    bar.close()
    for a in actors:
        ray.kill(a)
    ordered = {t: done[t] for t in cfg.data.tasks if t in done}
    out = SingleTaskSummary(tasks=ordered, failed=failed, attempts=attempts, wall_s=time.perf_counter() - start,
                            compute_s=sum(s["compute_s"] for s in ordered.values()),
                            example_epochs=int(sum(s.get("example_epochs", 0) for s in ordered.values())),
                            workers=workers,
                            seeds=cfg.seeds(), config_fingerprint=cfg.fingerprint(), data_fingerprint=ds.fingerprint(),
                            backend=cfg.backend.name)
    write_single_task(run, out)
    if failed and not ordered:
        raise RaytpError(f"every task failed; first: {next(iter(failed.items()))}")
    return out


def _store_task_result(run: RunDir, cfg: ExperimentConfig, result: dict[str, Any]) -> dict[str, Any]:
    task = result["task"]
    run.write_bytes(checkpoint_path(task), result["checkpoint"])
    if result.get("signature") is not None:
        run.write_bytes(signature_path(task), result["signature"])
    summary = dict(result["summary"])
    held = _resources(cfg)
    summary.update({"compute_s": summary["train_wall_s"] * compute_units(held["CPU"], held["GPU"]), "resources": held,
                    "checkpoint": checkpoint_path(task), "node": result["node"], "device": result["device"],
                    "node_id": result["node_id"], "gpu_ids": result["gpu_ids"],
                    "signature": signature_path(task) if result.get("signature") is not None else None})
    run.write_json(task_runs_path(task), result["runs"])
    run.write_json(task_summary_path(task), summary)
    return summary
