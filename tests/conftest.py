"""Shared fixtures: offline env, a small real config, a local Ray started on demand."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import pytest  # noqa: E402

from raytp.config import ExperimentConfig, config_from_dict  # noqa: E402


def small_config_dict(**over) -> dict:
    """A real but small experiment: 3 disaster-response tasks, few labels, 2 seeds, few epochs."""
    d = {
        "data": {"tasks": ["food", "water", "shelter"], "max_train": 200, "source_max_train": 800,
                 "max_eval": 400, "probe_size": 32},
        "train": {"epochs": 3, "patience": 2, "seeds": 2, "batch_size": 32},
        "backend": {"hash_buckets": 2 ** 14},
        "resources": {"cpus_per_worker": 1.0},
        "search": {"grid": {"mode": ["multitask", "sequential"]}},
    }
    for k, v in over.items():
        d[k] = {**d.get(k, {}), **v} if isinstance(v, dict) else v
    return d


@pytest.fixture
def small_cfg() -> ExperimentConfig:
    return config_from_dict(small_config_dict())


@pytest.fixture(scope="session")
def disaster():
    from raytp.data.disaster import load_disaster_response
    return load_disaster_response()


@pytest.fixture
def ray_local():
    """A local 2-CPU Ray, started once and reused; tests that build their own cluster shut it down first."""
    import ray
    if not ray.is_initialized():
        from raytp.runtime.cluster import prepare_ray_auth
        prepare_ray_auth(local=True)  # Ray's token auth on, with a private token file
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray


def pytest_sessionfinish(session, exitstatus):
    try:
        import ray
        if ray.is_initialized():
            ray.shutdown()
    except Exception:
        pass
