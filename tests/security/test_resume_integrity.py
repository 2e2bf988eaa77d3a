"""`--resume` verifies what it unpickles: the Tune state files are hashed as Tune writes them into an HMAC'd record
in the run directory; a tampered tuner.pkl (here: a pickle that would create a file) is refused before Tuner.restore
unpickles it, as are unrecorded files, another user's files and a forged record; `--trust` overrides."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import pytest

from raytp.errors import RunDirError
from raytp.search.state_integrity import TRUST_ENV, StateRecord, covered, state_key

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


@pytest.fixture(autouse=True)
def private_key(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYTP_STATE_KEY_PATH", str(tmp_path / "key" / "state_key"))
    monkeypatch.delenv(TRUST_ENV, raising=False)


class _Marker:
    """Unpickling this creates a file: the proof that a resume ran code from the state."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "pwned"))


def test_covered_files():
    assert covered("tuner.pkl") and covered("experiment_state-x.json") and covered("searcher-state-1.pkl")
    assert covered("full_1/params.pkl") and covered("full_1/checkpoint_000001/model.pt")
    assert not covered("full_1/result.json") and not covered(".validate_storage_marker")


def test_record_detects_changes_additions_links_and_forgery(tmp_path):
    exp = tmp_path / "exp"
    (exp / "t1").mkdir(parents=True)
    (exp / "tuner.pkl").write_bytes(b"a")
    (exp / "t1" / "params.pkl").write_bytes(b"b")
    (exp / "t1" / "result.json").write_text("{}")
    rec = StateRecord()
    assert rec.update(exp) and rec.problems(exp) == []
    (exp / "tuner.pkl").write_bytes(b"a2")  # a later version Tune wrote and we recorded: fine
    rec.update(exp)
    (exp / "t1" / "result.json").write_text('{"x": 1}')  # not unpickled: not checked
    assert rec.problems(exp) == []
    (exp / "tuner.pkl").write_bytes(b"evil")
    (exp / "searcher-state-2.pkl").write_bytes(b"evil")
    os.symlink("/etc/passwd", exp / "experiment_state-1.json")
    assert rec.problems(exp) == ["experiment_state-1.json: a symbolic link", "searcher-state-2.pkl: not recorded",
                                 "tuner.pkl: checksum mismatch"]
    key = state_key()
    saved = rec.to_json(key)
    assert StateRecord.from_json(saved, key, "r").files == rec.files
    forged = {**saved, "files": {**saved["files"], "tuner.pkl": ["0" * 64]}}
    with pytest.raises(RunDirError, match="HMAC mismatch"):
        StateRecord.from_json(forged, key, "r")


def test_record_reads_only_changed_directories_between_full_walks(tmp_path, monkeypatch):
    """After every controller step the recorder lists the top level and enters only directories whose time
    changed; a covered file rewritten in place in a settled directory is caught by the next full walk."""
    import raytp.search.state_integrity as si
    exp = tmp_path / "exp"
    (exp / "t1").mkdir(parents=True)
    (exp / "t1" / "params.pkl").write_bytes(b"b")
    old = os.stat(exp / "t1").st_mtime - 5
    os.utime(exp / "t1", (old, old))  # settled: not changed in the last second
    rec = StateRecord()
    assert rec.update(exp)  # the first call walks everything
    entered = []
    scan = StateRecord._scan
    monkeypatch.setattr(StateRecord, "_scan", lambda self, folder, *a: entered.append(folder) or scan(self, folder, *a))
    assert not rec.update(exp) and entered == [str(exp)]  # t1 unchanged: not entered
    (exp / "t2").mkdir()
    (exp / "t2" / "params.pkl").write_bytes(b"c")  # a new trial directory: recorded at once
    assert rec.update(exp) and "t2/params.pkl" in rec.files
    (exp / "t1" / "params.pkl").write_bytes(b"b2")  # rewritten in place: t1's own time does not change
    os.utime(exp / "t1", (old, old))
    rec.update(exp)
    assert "t1/params.pkl: checksum mismatch" in rec.problems(exp)  # not seen yet
    monkeypatch.setattr(si, "FULL_SCAN_S", 0.0)
    rec.update(exp)  # the periodic full walk
    assert rec.problems(exp) == []


def test_state_key_is_private(tmp_path):
    key = state_key()
    path = Path(os.environ["RAYTP_STATE_KEY_PATH"])
    assert len(key) == 32 and (path.stat().st_mode & 0o777) == 0o600 and state_key() == key
    path.chmod(0o644)
    with pytest.raises(RunDirError, match="0600"):
        state_key()


def test_tampered_tuner_state_is_refused_before_restore(ray_local, tmp_path, monkeypatch):
    import fault_tolerance as ft

    from raytp.config import config_from_dict
    from raytp.data import load_experiment_data
    from raytp.runtime.tune_search import run_full_search
    from raytp.rundir.records import read_single_task
    from raytp.rundir import RunDir

    cfg_dict = ft.small_config()
    path, expected = ft.make_run(tmp_path / "run", cfg_dict)
    cfg = config_from_dict(cfg_dict)
    ds = load_experiment_data(cfg)
    run = RunDir(path)
    single = read_single_task(run).tasks
    first = run_full_search(cfg, ds, single, run, progress=False)
    assert first["trials"] == len(expected)
    assert run.has("tune_state/search_full.json") and run.verify() == []
    again = run_full_search(cfg, ds, single, run, progress=False, resume=True)  # untouched: restores
    assert again["trials"] == len(expected)

    marker = tmp_path / "pwned"
    tuner_pkl = path / "tune" / "search_full" / "tuner.pkl"
    tuner_pkl.write_bytes(pickle.dumps(_Marker(str(marker))))
    with pytest.raises(RunDirError, match=r"tuner\.pkl: checksum mismatch.*--trust"):
        run_full_search(cfg, ds, single, run, progress=False, resume=True)
    assert not marker.exists(), "the tampered state was unpickled"

    (path / "tune_state").joinpath("search_full.json").unlink()  # record removed: still refused
    with pytest.raises(RunDirError):
        run_full_search(cfg, ds, single, run, progress=False, resume=True)
    assert not marker.exists()
