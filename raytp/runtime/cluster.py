"""Connect to Ray: a running cluster (``--address`` / ``RAY_ADDRESS``) or a local one sized to the machine.

Ray's token authentication stays on (Ray 2.60's default for a new local cluster): without it anyone who can reach
the node's ports runs code on it. Its token file must be private to this user (checked; a missing one is created
with mode 0600). ``raytp --insecure-no-ray-auth ...`` is the one way to start a local cluster without it.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ray

from raytp.config import ExperimentConfig, ResourcesConfig
from raytp.data.dataset import MultiTaskDataset
from raytp.errors import RaytpError


AUTH_MODE_ENV = "RAY_AUTH_MODE"
NO_RAY_AUTH_FLAG = "--insecure-no-ray-auth"
NO_RAY_AUTH_MARK = "RAYTP_INSECURE_NO_RAY_AUTH"  # set by the CLI flag (raytp.cli), read here


def token_file() -> Path | None:
    """The file Ray reads its token from (``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``); None when the
    token is given in ``RAY_AUTH_TOKEN``."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return None
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")


def check_token_file(path: Path) -> None:
    """Refuse a token file that another user owns or that group/others can read or write (nor a symlink)."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise RaytpError(f"{path}: Ray's token file must be a regular file, not a link")
    if st.st_uid != os.getuid():
        raise RaytpError(f"{path}: Ray's token file belongs to another user (uid {st.st_uid}); refused")
    if st.st_mode & 0o077:
        raise RaytpError(f"{path}: Ray's token file is open to other users (mode {stat.S_IMODE(st.st_mode):04o}); "
                         f"run `chmod 600 {path}`")


def _create_token_file(path: Path) -> None:
    from ray._private.authentication.authentication_token_generator import generate_new_authentication_token
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(generate_new_authentication_token())


def prepare_ray_auth(local: bool) -> None:
    """Before ``ray.init``: token auth on for a local cluster this process starts (``RAY_AUTH_MODE=disabled`` in the
    environment is refused unless ``--insecure-no-ray-auth`` was given), and the token file private to this user
    (created with mode 0600 when missing)."""
    if os.environ.get(NO_RAY_AUTH_MARK) == "1":
        if os.environ.get(AUTH_MODE_ENV) != "disabled":
            os.environ[AUTH_MODE_ENV] = "disabled"
            from ray._raylet import Config
            Config.initialize("")
        return
    mode = os.environ.get(AUTH_MODE_ENV, "").lower()
    if local:
        if mode == "disabled":
            raise RaytpError(f"{AUTH_MODE_ENV}=disabled: raytp keeps Ray's token authentication on for the clusters it "
                             f"starts; unset it, or pass {NO_RAY_AUTH_FLAG} (anyone who can reach this machine's Ray "
                             "ports could then run code on it)")
        if mode != "token":
            os.environ[AUTH_MODE_ENV] = "token"
            from ray._raylet import Config
            Config.initialize("")  # as Ray's own _enable_token_auth: this process's cached config sees token mode
    elif mode != "token":
        return  # an existing cluster: its owner chose; Ray itself finds a token if one is needed
    path = token_file()
    if path is None:
        return
    try:
        check_token_file(path)
    except FileNotFoundError:
        if local:
            try:
                _create_token_file(path)
            except FileExistsError:  # another process made it meanwhile
                check_token_file(path)


def ensure_ray(address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None) -> bool:
    """Start or join Ray unless already connected. Returns True when this call started it."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    prepare_ray_auth(local=not address)
    kwargs = dict(logging_level=logging.WARNING, log_to_driver=True, include_dashboard=False)
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            # address="local": never attach to a `ray start` cluster found on the machine (num_cpus would be refused)
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, num_gpus=num_gpus, **kwargs)
    except ConnectionError as e:
        raise RaytpError(f"cannot connect to the Ray cluster at {address!r}: {e}") from None
    return True


_PROCESS_DATA: dict[tuple, tuple[Any, Any, Any]] = {}


def worker_data(cfg: ExperimentConfig, ds_box: list[Any], featurize: bool = True) -> tuple[MultiTaskDataset, Any, Any]:
    """Dataset, backend and features of a worker process (actor or trial), made once per process: torch threads
    follow the worker's CPUs, the device its GPUs. The dataset arrives boxed in a list so Ray passes the object
    reference, not the value: a restarted worker fetches it again from the object store. ``featurize=False``:
    features None (the single-task actors get them, computed once, through the object store)."""
    import torch

    from raytp.models.allocator import retain_freed_memory
    from raytp.models.encoders import pick_device
    from raytp.models.registry import make_backend
    torch.set_num_threads(max(1, int(cfg.resources.cpus_per_worker)))
    if cfg.resources.retain_freed_memory:
        retain_freed_memory()
    device = pick_device(cfg.resources.gpus_per_worker)
    key = (ds_box[0].hex(), cfg.backend.model_dump_json(), device, featurize)
    if key not in _PROCESS_DATA:
        _PROCESS_DATA.clear()
        ds = ray.get(ds_box[0])
        backend = make_backend(cfg.backend, device)
        _PROCESS_DATA[key] = (ds, backend, backend.featurize(ds.texts) if featurize else None)
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
