"""The single-task stage on a real local Ray, and on a multi-node cluster with fake GPUs."""

from __future__ import annotations

import json

import pytest
import ray
from ray.cluster_utils import Cluster

from raytp.config import config_from_dict
from raytp.data import load_experiment_data
from raytp.runtime.single_task import run_single_task_stage
from raytp.rundir import prepare_run_dir
from raytp.rundir import RunDir
from tests.conftest import small_config_dict


def test_stage_trains_every_task_and_writes_artifacts(ray_local, tmp_path, small_cfg):
    ds = load_experiment_data(small_cfg)
    run = prepare_run_dir(str(tmp_path / "run"), small_cfg)
    summary = run_single_task_stage(small_cfg, ds, run, progress=False)
    assert list(summary.tasks) == small_cfg.data.tasks
    assert summary.failed == {}
    for task, s in summary.tasks.items():
        assert 0.0 <= s["f1_test"] <= 1.0 and len(s["f1_test_seeds"]) == 2
        assert run.has(s["checkpoint"])
        tensors = run.read_tensors(s["checkpoint"])
        assert any(k.startswith(f"heads.{task}.") for k in tensors)
        assert s["compute_s"] > 0
        from raytp.profiling.signatures import load_signatures
        sig, meta = load_signatures(run.read_bytes(s["signature"]))
        assert meta["task"] == task and sig["responses/hidden"].shape[0] == small_cfg.data.probe_size
        assert sig["input_attributions"].shape[0] == small_cfg.data.probe_size  # input maps: on by default
    assert summary.workers == 2  # 2 CPUs, 1 CPU per worker
    on_disk = json.loads((tmp_path / "run" / "single_task.json").read_text())
    assert on_disk["tasks"].keys() == summary.tasks.keys()
    # example-epochs: every lr x seed of every task, at least one epoch over the task's training examples each
    runs = {t: len(small_cfg.train.pool()) * 2 for t in summary.tasks}
    for t, s in summary.tasks.items():
        assert s["example_epochs"] >= runs[t] * s["train_examples"] > 0
    assert on_disk["example_epochs"] == summary.example_epochs == sum(s["example_epochs"] for s in summary.tasks.values())
    assert RunDir(tmp_path / "run").verify() == []


def test_resume_keeps_finished_tasks(ray_local, tmp_path, small_cfg):
    ds = load_experiment_data(small_cfg)
    run = prepare_run_dir(str(tmp_path / "run"), small_cfg)
    first = run_single_task_stage(small_cfg, ds, run, progress=False)
    run.forget("single_task/water/summary.json")  # as if the run died before water finished
    again = run_single_task_stage(small_cfg, ds, prepare_run_dir(str(tmp_path / "run"), small_cfg, resume=True),
                                  resume=True, progress=False)
    assert again.tasks["food"]["train_wall_s"] == first.tasks["food"]["train_wall_s"]  # not retrained
    assert again.tasks["water"]["train_wall_s"] != first.tasks["water"]["train_wall_s"]  # retrained


def test_actors_are_placed_by_their_gpu_requests(tmp_path):
    """Head without GPUs + two workers with one fake GPU each: GPU actors must land on the workers."""
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "num_gpus": 0})
    workers = [cluster.add_node(num_cpus=1, num_gpus=1) for _ in range(2)]
    try:
        ray.init(address=cluster.address)
        cluster.wait_for_nodes()
        cfg = config_from_dict(small_config_dict(resources={"cpus_per_worker": 1.0, "gpus_per_worker": 1.0}))
        ds = load_experiment_data(cfg)
        summary = run_single_task_stage(cfg, ds, prepare_run_dir(str(tmp_path / "run"), cfg), progress=False)
        worker_ids = {w.node_id for w in workers}
        assert summary.workers == 2  # limited by the 2 GPUs, not the 4 CPUs
        for s in summary.tasks.values():
            assert s["node_id"] in worker_ids
            assert len(s["gpu_ids"]) == 1
            assert s["device"] == "cpu"  # fake GPUs: torch sees none, training falls back to CPU
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_impossible_resources_fail_clearly(ray_local, tmp_path):
    from raytp.errors import RaytpError
    cfg = config_from_dict(small_config_dict(resources={"cpus_per_worker": 64.0}))
    ds = load_experiment_data(cfg)
    with pytest.raises(RaytpError, match="cluster has 2 CPU"):
        run_single_task_stage(cfg, ds, prepare_run_dir(str(tmp_path / "run"), cfg), progress=False)
