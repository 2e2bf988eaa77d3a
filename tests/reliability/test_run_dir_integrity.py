"""Run-directory integrity: truncated, tampered or corrupt artifacts are detected by `raytp verify` and refused by
every reader; writes are atomic even under SIGKILL; nothing is ever unpickled from a run directory."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from raytp.cli import main
from raytp.errors import RunDirError
from raytp.serving.recommender import Recommender
from raytp.rundir import load_run_config, prepare_run_dir, read_single_task
from raytp.rundir import RunDir
from tests.recommender_runs import write_run

REPO = Path(__file__).resolve().parents[2]


def _run_with_everything(path: Path) -> RunDir:
    """A run directory holding every artifact type: JSON, Parquet, YAML config and a safetensors checkpoint."""
    from raytp.config import config_from_dict
    from tests.conftest import small_config_dict
    prepare_run_dir(str(path), config_from_dict(small_config_dict()))
    run = write_run(path, tasks=["food", "water", "shelter"], searches=("pruned", "full"))
    model = torch.nn.Sequential(torch.nn.EmbeddingBag(512, 16), torch.nn.Linear(16, 1))
    run.write_tensors("single_task/food/model.safetensors", model.state_dict(), metadata={"task": "food"})
    return run


def _verify(path: Path, capsys) -> tuple[int, dict, str]:
    capsys.readouterr()
    code = main(["verify", "--run", str(path), "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _flip(p: Path) -> None:
    b = bytearray(p.read_bytes())
    b[len(b) // 3] ^= 0x01
    p.write_bytes(bytes(b))


READERS = {
    "single_task/food/model.safetensors": lambda run, rel: run.read_tensors(rel),
    "search_full.parquet": lambda run, rel: run.read_parquet(rel),
    "pair_predictions.parquet": lambda run, rel: Recommender.from_run_dir(run.root),
    "single_task.json": lambda run, rel: read_single_task(run),
    "config.yaml": lambda run, rel: load_run_config(run),
}


def test_intact_run_verifies(tmp_path, capsys):
    _run_with_everything(tmp_path / "run")
    code, res, err = _verify(tmp_path / "run", capsys)
    assert code == 0 and res["ok"] and res["problems"] == [] and res["artifacts"] == 6, (res, err)


@pytest.mark.parametrize("damage", [_truncate, _flip, lambda p: p.write_bytes(b""), Path.unlink],
                         ids=["truncated", "bit-flip", "emptied", "deleted"])
@pytest.mark.parametrize("rel", sorted(READERS))
def test_damaged_artifact_is_detected_and_never_loaded(tmp_path, capsys, rel, damage):
    run = _run_with_everything(tmp_path / "run")
    damage(run.path(rel))
    code, res, err = _verify(run.root, capsys)
    assert code == 2 and not res["ok"]
    assert len(res["problems"]) == 1 and rel in res["problems"][0], res
    assert re.search(r"checksum mismatch|missing on disk", res["problems"][0])
    assert f"raytp: error: verify failed: {run.path(rel)}" in err and "Traceback" not in err
    with pytest.raises(RunDirError, match=re.escape(str(run.path(rel)))):
        READERS[rel](run, rel)
    with pytest.raises(RunDirError):
        run.read_bytes(rel)


def test_truncated_checkpoint_is_refused_by_the_safetensors_reader(tmp_path):
    run = _run_with_everything(tmp_path / "run")
    rel = "single_task/food/model.safetensors"
    assert set(run.read_tensors(rel)) == {"0.weight", "1.weight", "1.bias"}
    _truncate(run.path(rel))
    with pytest.raises(RunDirError, match="model.safetensors: checksum mismatch"):
        run.read_tensors(rel)


def test_forged_manifest_with_garbage_is_caught_by_parsing(tmp_path, capsys):
    """Bytes that match a (forged) checksum still have to parse as what their name says."""
    run = _run_with_everything(tmp_path / "run")
    garbage = b"PAR1 this is not parquet"
    run.path("search_full.parquet").write_bytes(garbage)
    m = json.loads(run.path("manifest.json").read_text())
    m["artifacts"]["search_full.parquet"].update(sha256=hashlib.sha256(garbage).hexdigest(), bytes=len(garbage))
    run.path("manifest.json").write_text(json.dumps(m))
    code, res, _ = _verify(run.root, capsys)
    assert code == 2 and "search_full.parquet: not a valid Parquet file" in res["problems"][0]
    with pytest.raises(RunDirError, match="not a valid Parquet"):
        run.read_parquet("search_full.parquet")


@pytest.mark.parametrize("content", ['{"artifacts": {"single_task.json": ', "[]", '{"artifacts": 3}', "\udcff"],
                         ids=["cut", "list", "not-mapping", "not-utf8"])
def test_corrupt_manifest_is_refused_by_verify_and_readers(tmp_path, capsys, content):
    run = _run_with_everything(tmp_path / "run")
    run.path("manifest.json").write_bytes(content.encode("utf-8", "surrogateescape"))
    capsys.readouterr()
    assert main(["verify", "--run", str(run.root)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and "Traceback" not in err
    for read in (lambda: run.read_json("single_task.json"), lambda: Recommender.from_run_dir(run.root),
                 lambda: load_run_config(run), lambda: run.read_tensors("single_task/food/model.safetensors")):
        with pytest.raises(RunDirError, match="manifest"):
            read()


# -- nothing is unpickled ------------------------------------------------------------------------------
UNSAFE = re.compile(r"\b(pickle|cPickle|dill|joblib|cloudpickle|shelve|marshal)\b|read_pickle|allow_pickle\s*=\s*True")


def test_no_pickle_loading_in_the_package():
    """No module of raytp/ unpickles anything: no pickle-family imports or calls; torch.load / np.load only with
    weights_only=True / allow_pickle left False. Docstrings and comments may mention pickle (to say we don't)."""
    offenders = []
    for path in sorted((REPO / "raytp").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(UNSAFE.search(n) for n in names):
                    offenders.append(f"{path}:{node.lineno}: imports {names}")
            elif isinstance(node, ast.Call):
                src = ast.unparse(node.func)
                kwargs = {k.arg: ast.unparse(k.value) for k in node.keywords}
                if UNSAFE.search(src) or kwargs.get("allow_pickle") == "True":
                    offenders.append(f"{path}:{node.lineno}: calls {src}")
                if src.endswith("torch.load") or src == "load" and "weights_only" in kwargs:
                    if kwargs.get("weights_only") != "True":
                        offenders.append(f"{path}:{node.lineno}: {src} without weights_only=True")
                if src in ("np.load", "numpy.load") and kwargs.get("allow_pickle", "False") != "False":
                    offenders.append(f"{path}:{node.lineno}: {src} with allow_pickle")
    assert offenders == []


def test_the_pickle_scan_catches_offenders(tmp_path):
    """Keep the scan honest: the same patterns flag real unpickling code."""
    bad = ["import pickle", "from joblib import load", "pd.read_pickle(p)", "np.load(p, allow_pickle=True)"]
    for src in bad:
        tree = ast.parse(src)
        flagged = any(UNSAFE.search(ast.unparse(n)) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom, ast.Call)))
        assert flagged, src
    tree = ast.parse("torch.load(p)")
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call))
    assert ast.unparse(call.func).endswith("torch.load") and not call.keywords


# -- atomic writes under SIGKILL ------------------------------------------------------------------------
WRITER = textwrap.dedent("""
    import hashlib, sys
    from raytp.rundir import RunDir
    run = RunDir(sys.argv[1], create=True)
    size = int(sys.argv[2])
    i = run.read_json("counter.json")["i"] + 1 if run.has("counter.json") else 0
    while True:
        # version i of a large artifact: every byte depends on i, so any mix of versions is detectable
        block = hashlib.sha256(str(i).encode()).digest() * (size // 32)
        run.write_bytes("big.bin", block)
        run.write_json("counter.json", {"i": i})
        print(i, flush=True)
        i += 1
""")


def _version_of(data: bytes, size: int) -> int | None:
    for i in range(10_000):
        if data == hashlib.sha256(str(i).encode()).digest() * (size // 32):
            return i
    return None


def test_sigkill_mid_write_leaves_a_verifiable_run(tmp_path, capsys):
    """A writer rewriting an 8 MB artifact in a loop is SIGKILLed at random moments, 12 times: after every kill the
    run directory verifies, the artifact under its final name is one complete version (the last finished or the
    one being written), and a restarted writer carries on."""
    size = 8 * 2 ** 20
    path = tmp_path / "run"
    rng = random.Random(7)
    killed_mid_write = 0
    for round_ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(size)], stdout=subprocess.PIPE,
                                text=True, cwd=REPO)
        try:
            first = int(proc.stdout.readline())  # at least one full write of this round
            time.sleep(rng.uniform(0.0, 0.25))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        last = max([first] + [int(x) for x in proc.stdout.read().split()])
        run = RunDir(path)
        assert run.verify() == [], f"round {round_}"
        code, res, err = _verify(path, capsys)
        assert code == 0 and res["ok"], (res, err)
        version = _version_of(run.read_bytes("big.bin"), size)
        assert version in (last, last + 1), (version, last)
        assert run.read_json("counter.json")["i"] in (last, last + 1)
        killed_mid_write += bool(res["stray"]) or version == last + 1
        for p in path.iterdir():  # only final names and the writers' temporary files
            assert p.name in ("big.bin", "counter.json", "manifest.json") or p.name.endswith(".tmp"), p
    assert killed_mid_write >= 1, "no kill landed mid-write: the test proved nothing"
