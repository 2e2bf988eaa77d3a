"""A full search SIGKILLed partway (driver, its local Ray and every trial worker: the whole process group), then
`raytp search --resume`: the results table holds exactly the expected trial set — none lost, none duplicated —
and no trial that had finished before the crash ran again. The engine is benchmarks/fault_tolerance.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import fault_tolerance as ft  # noqa: E402

from raytp.rundir import RunDir  # noqa: E402


def test_sigkilled_full_search_resumes_to_the_exact_trial_set(tmp_path):
    # 6 ordered pairs x 2 modes x 2 learning rates = 24 trials in waves of 2: the kill after 2 finished
    # lands partway even on a quiet machine (with 6 trials the search could finish before the kill)
    cfg = ft.small_config(grid_lr=[0.003, 0.01])
    run, expected = ft.make_run(tmp_path / "run", cfg)
    assert len(expected) == 24
    r = ft.kill_and_resume(run, expected, kill_after_done=2)
    assert r["finished_before_kill"] >= 2 and r["finished_before_kill"] < 24, r  # killed partway
    assert r["lost"] == 0 and r["duplicated"] == 0 and r["unexpected"] == 0, r
    assert r["trials_completed"] == r["trials_expected"] == r["rows"] == r["summary_trials"] == 24, r
    assert r["finished_trials_rerun"] == 0, r
    assert r["trial_ids_unique"] and r["failed_trials"] == 0, r
    assert RunDir(run).verify() == []
