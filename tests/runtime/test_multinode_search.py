"""A search run the way the RayJob runs it: a driver joins a multi-node cluster by address, trials
land on the GPU workers, results reach the configured storage."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import ray
import yaml
from ray.cluster_utils import Cluster

CONFIG = {
    "data": {"tasks": ["food", "water"], "max_train": 150, "source_max_train": 400, "max_eval": 300, "probe_size": 16},
    "train": {"epochs": 2, "patience": 1, "seeds": 1},
    "backend": {"hash_buckets": 4096},
    "resources": {"cpus_per_worker": 1.0, "gpus_per_worker": 1.0},
    "search": {"grid": {"mode": ["multitask", "sequential"]}, "replicate": False},
}


def _raytp(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raytp.cli", *args], env=env, capture_output=True, text=True,
                          timeout=420)


def test_search_driver_joins_cluster_and_trials_land_on_gpu_workers(tmp_path):
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    workers = [cluster.add_node(num_cpus=1, num_gpus=1) for _ in range(2)]
    try:
        cluster.wait_for_nodes()
        storage = tmp_path / "shared-volume"
        cfg = dict(CONFIG, search={**CONFIG["search"], "storage_path": str(storage)})
        (tmp_path / "exp.yaml").write_text(yaml.safe_dump(cfg))
        env = {**os.environ, "RAY_ADDRESS": cluster.address}
        run = tmp_path / "run"
        train = _raytp(["train", "--config", str(tmp_path / "exp.yaml"), "--out", str(run), "--json"], env)
        assert train.returncode == 0, train.stderr[-2000:]
        single = json.loads(train.stdout.strip().splitlines()[-1])
        worker_ids = {w.node_id for w in workers}
        assert {s["node_id"] for s in single["tasks"].values()} <= worker_ids
        search = _raytp(["search", "--mode", "full", "--run", str(run), "--json"], env)
        assert search.returncode == 0, search.stderr[-2000:]
        summary = json.loads(search.stdout.strip().splitlines()[-1])
        assert summary["trials"] == 2 * 2 and summary["trials_failed"] == 0
        table = pd.read_parquet(run / "search_full.parquet")
        assert set(table["node_id"]) <= worker_ids  # every trial ran on a GPU worker, none on the head
        assert (storage / "search_full").is_dir()  # Tune's experiment went to the configured storage
    finally:
        ray.shutdown()
        cluster.shutdown()
