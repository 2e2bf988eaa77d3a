"""Worker loss in the single-task stage: TaskTrainer actor processes are SIGKILLed while they train.

The trainers' tasks are named per task, so their processes are titled ``ray::TaskTrainer.train[<task>]``;
the killer looks only among the children of this test's own raylet (other Ray sessions on the machine are
never touched)."""

from __future__ import annotations

import os
import signal
import threading
import time

from raytp.config import config_from_dict
from raytp.data import load_experiment_data
from raytp.runtime.single_task import run_single_task_stage
from raytp.rundir import SINGLE_TASK, prepare_run_dir
from tests.conftest import small_config_dict
from tests.reliability.helpers import _title, descendants_titled, raylet_pid

TITLE = "ray::TaskTrainer.train["


def _cfg(max_retries: int):
    return config_from_dict(small_config_dict(
        data={"max_train": 100, "source_max_train": 200, "max_eval": 200, "probe_size": 16},
        train={"epochs": 2, "patience": 1, "seeds": 1},
        resources={"cpus_per_worker": 1.0, "max_retries": max_retries}))


def _stage_in_thread(cfg, tmp_path):
    ds = load_experiment_data(cfg)
    run = prepare_run_dir(str(tmp_path / "run"), cfg)
    box: dict = {}

    def target():
        try:
            box["summary"] = run_single_task_stage(cfg, ds, run, progress=False)
        except BaseException as e:  # surfaced by the test
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box, run


def _kill(prefix: str, raylet: int) -> list[tuple[int, str]]:
    killed = []
    for pid in descendants_titled(raylet, prefix):
        title = _title(pid)
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append((pid, title))
        except ProcessLookupError:
            pass
    return killed


def test_killed_trainers_are_retried_and_a_task_that_keeps_dying_is_reported(ray_local, tmp_path):
    """One stage, max_retries=1, on food/water/shelter: the first trainer of `food` is SIGKILLed once mid-training (it
    is retried in a fresh actor and completes); every trainer of `water` is SIGKILLed (after 1 + max_retries attempts
    it is reported in `failed`, not dropped); `shelter` is left alone. The stage completes and the run verifies."""
    cfg = _cfg(max_retries=1)
    raylet = raylet_pid()
    thread, box, run = _stage_in_thread(cfg, tmp_path)
    food_kills: list[tuple[int, str]] = []
    water_kills: list[tuple[int, str]] = []
    deadline = time.monotonic() + 300
    while thread.is_alive() and time.monotonic() < deadline:
        if not food_kills:
            food_kills = _kill(TITLE + "food]", raylet)
        water_kills += _kill(TITLE + "water]", raylet)
        time.sleep(0.02)
    thread.join(timeout=30)
    assert not thread.is_alive(), "the stage did not finish after its workers were killed"
    assert "error" not in box, box.get("error")
    assert len(food_kills) == 1, "food's trainer was never caught training: the test proved nothing"
    assert len({pid for pid, _ in water_kills}) == 2, water_kills  # the first attempt and its one retry
    summary = box["summary"]
    # food: killed once, retried, done; water: killed on every attempt, reported; shelter: untouched
    assert summary.attempts == {"food": 2, "water": 2, "shelter": 1}, summary.attempts
    assert list(summary.tasks) == ["food", "shelter"] and summary.tasks["food"]["attempts"] == 2
    assert list(summary.failed) == ["water"]
    assert "ActorDiedError" in summary.failed["water"] or "RayActorError" in summary.failed["water"]
    assert run.verify() == []
    on_disk = run.read_json(SINGLE_TASK)
    assert on_disk["failed"].keys() == {"water"} and set(on_disk["tasks"]) == {"food", "shelter"}
    assert not run.has("single_task/water/summary.json")
    for t in ("food", "shelter"):
        assert run.read_tensors(summary.tasks[t]["checkpoint"])
