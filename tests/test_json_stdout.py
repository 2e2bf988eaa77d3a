"""`--json` means exactly one JSON object on stdout: every --json command runs as a user runs it (a subprocess, a real
local Ray where the command needs one) and its whole stdout must parse as one object. Ray Tune's "Configuration for
experiment" box, progress bars and logs belong on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from raytp.cli import build_parser
from tests.runtime.test_pipeline_e2e import TINY as E2E_TINY

# the end-to-end tests' tiny experiment, with the zero-shot predictor and two workers
TINY = {**E2E_TINY, "prune": {"policy": "top_k", "top_k": 1, "trials_per_pair": 1}, "resources": {"workers": 2}}


def json_commands() -> set[str]:
    """Every (sub)command that has a --json flag, as 'cmd' or 'cmd action'."""
    found = set()

    def walk(parser, prefix):
        for action in parser._actions:
            if action.option_strings == ["--json"]:
                found.add(prefix.strip())
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}")
    walk(build_parser(), "")
    return found


def _raytp(*argv: str, timeout: float = 600) -> object:
    env = {**os.environ, "RAY_ADDRESS": ""}
    env.pop("RAY_ADDRESS")
    p = subprocess.run([sys.executable, "-m", "raytp.cli", *argv], capture_output=True, text=True, timeout=timeout,
                       env=env)
    assert p.returncode == 0, f"raytp {' '.join(argv)} exited {p.returncode}: {p.stderr[-3000:]}"
    try:
        obj = json.loads(p.stdout)  # the WHOLE stdout: one object, nothing before or after
    except json.JSONDecodeError as e:
        raise AssertionError(f"raytp {' '.join(argv)} --json: stdout is not one JSON object ({e}); it starts with "
                             f"{p.stdout[:300]!r}") from None
    assert isinstance(obj, dict) and p.stdout.count("\n") == 1
    return obj


@pytest.mark.timeout(1800)
def test_every_json_command_prints_one_object(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    run = str(tmp_path / "run")
    cases = {
        "run": ["run", "--config", str(cfg), "--out", run, "--with-full"],
        "search": ["search", "--run", run, "--mode", "pruned", "--no-replicate"],
        "compare": ["compare", "--run", run],
        "recommend": ["recommend", "--run", run, "--target", "food"],
        "verify": ["verify", "--run", run],
        "train": ["train", "--config", str(cfg), "--out", str(tmp_path / "train")],
        "data describe": ["data", "describe", "--tasks", "food,water", "--top", "2"],
        "data check": ["data", "check", "--config", str(cfg)],
    }
    assert set(cases) == json_commands(), "a --json command without a case here"
    out = {name: _raytp(*argv, "--json") for name, argv in cases.items()}
    assert out["verify"]["ok"] is True
    assert {v["target"] for v in out["run"]["verdicts"]} == {"food", "water", "shelter"}
    assert out["recommend"]["verdict"]["target"] == "food"
    assert out["search"]["mode"] == "pruned"
