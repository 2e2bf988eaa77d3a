"""Connect to Ray: a running cluster (``--address`` / ``RAY_ADDRESS``) or a local one sized to the machine."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray

from raytp.config import ExperimentConfig, ResourcesConfig
from raytp.data.dataset import MultiTaskDataset
from raytp.errors import RaytpError


def ensure_ray(address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None) -> bool:
    """Start or join Ray unless already connected. Returns True when this call started it."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs = dict(logging_level=logging.WARNING, log_to_driver=True, include_dashboard=False)
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            # a throwaway local cluster started by this process: Ray's token auth only gets in the way
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            # address="local": never attach to a `ray start` cluster found on the machine (num_cpus would be refused)
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, num_gpus=num_gpus, **kwargs)
    except ConnectionError as e:
        raise RaytpError(f"cannot connect to the Ray cluster at {address!r}: {e}") from None
    return True


_PROCESS_DATA: dict[tuple, tuple[Any, Any, Any]] = {}


def worker_data(cfg: ExperimentConfig, ds_box: list[Any]) -> tuple[MultiTaskDataset, Any, Any]:
    """Dataset, backend and features of a worker process (actor or trial), made once per process: torch threads
    follow the worker's CPUs, the device its GPUs. The dataset arrives boxed in a list so Ray passes the object
    reference, not the value: a restarted worker fetches it again from the object store."""
    import torch

    from raytp.models.encoders import pick_device
    from raytp.models.registry import make_backend
    torch.set_num_threads(max(1, int(cfg.resources.cpus_per_worker)))
    device = pick_device(cfg.resources.gpus_per_worker)
    key = (ds_box[0].hex(), cfg.backend.model_dump_json(), device)
    if key not in _PROCESS_DATA:
        _PROCESS_DATA.clear()
        ds = ray.get(ds_box[0])
        backend = make_backend(cfg.backend, device)
        _PROCESS_DATA[key] = (ds, backend, backend.featurize(ds.texts))
    return _PROCESS_DATA[key]


@contextmanager
def ray_session(resources: ResourcesConfig) -> Iterator[None]:
    """Ray for the duration of a command; shut down afterwards only if this call started it."""
    started = ensure_ray(resources.address)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def check_fits(resources: ResourcesConfig) -> int:
    """How many workers the cluster can run at once; a clear error when not even one fits."""
    total = ray.cluster_resources()
    cpus, gpus = total.get("CPU", 0.0), total.get("GPU", 0.0)
    limits = []
    if resources.cpus_per_worker > 0:
        limits.append(int(cpus // resources.cpus_per_worker))
    if resources.gpus_per_worker > 0:
        limits.append(int(gpus // resources.gpus_per_worker))
    fit = min(limits) if limits else 1
    if fit < 1:
        raise RaytpError(f"resources: a worker asks for {resources.cpus_per_worker} CPU / {resources.gpus_per_worker} GPU "
                         f"but the cluster has {cpus:g} CPU / {gpus:g} GPU")
    return min(fit, resources.workers) if resources.workers else fit
