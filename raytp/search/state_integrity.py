"""Checksums of the Tune state that ``--resume`` unpickles, recorded while the search writes it.

``Tuner.restore`` unpickles ``tuner.pkl``, the searcher's ``searcher-state-*.pkl``, and blobs inside
``experiment_state-*.json`` / ``search_gen_state-*.json`` (Tune's JSON encoder pickles what JSON cannot hold);
trial directories hold ``params.pkl``/``error.pkl`` and checkpoints. Whoever can write those files gets code run
by the next resume. So every such file (``covered``) is hashed as soon as Tune writes it, and the hashes go into the
run directory (``tune_state/<experiment>.json``) under an HMAC keyed by a secret private to this user
(``~/.raytp/state_key``, mode 0600, or ``RAYTP_STATE_KEY_PATH``). Before a restore every covered file must match a
hash recorded for its name (any version Tune wrote in this run: replaying an older one of our own is harmless),
and the record's HMAC must verify; otherwise the resume is refused unless ``--trust``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Any

from raytp.errors import RunDirError

__all__ = ["TRUST_ENV", "StateRecord", "covered", "key_path", "state_key"]

TRUST_ENV = "RAYTP_TRUST_RUN_DIR"     # set by `--trust`
MAX_VERSIONS = 64                      # hashes kept per file name
FULL_SCAN_S = 10.0                     # at least this often, StateRecord.update walks every directory


def covered(rel: str) -> bool:
    """Whether a file of an experiment directory is one that a restore may unpickle."""
    parts = rel.split("/")
    if parts[-1].startswith("."):
        return False
    return len(parts) == 1 or parts[-1].endswith(".pkl") or any(p.startswith("checkpoint_") for p in parts[:-1])


def key_path() -> Path:
    return Path(os.environ.get("RAYTP_STATE_KEY_PATH") or Path.home() / ".raytp" / "state_key")


def state_key() -> bytes:
    """This user's secret for the records' HMAC (created 0600 when missing; refused when others can read it)."""
    path = key_path()
    try:
        st = path.lstat()
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
        except FileExistsError:
            pass
        st = path.lstat()
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise RunDirError(f"{path}: raytp's state key must be a regular file of this user with mode 0600")
    return path.read_bytes()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class StateRecord:
    """Accepted hashes per covered file of one experiment directory; ``update`` re-hashes changed files only."""

    def __init__(self, files: dict[str, list[str]] | None = None):
        self.files: dict[str, list[str]] = files or {}
        self._seen: dict[str, tuple[int, int]] = {}
        self._dirs: dict[str, int] = {}  # sub-directory (full path) -> its modification time when last read
        self._last_full: dict[str, float] = {}  # experiment directory -> time of its last full walk

    def update(self, exp_dir: Path, full: bool = False) -> bool:
        """Hash covered files that are new or changed since the last call; True when the record grew.

        Incremental: a sub-directory whose modification time has not changed since it was last read (and was
        already settled then) is not entered again, so a call costs one listing of the top level, not a walk of
        every trial directory (Tune calls the recorder after every controller step). ``full`` walks everything
        (at the end of an experiment, and every ``FULL_SCAN_S`` seconds in between: a covered file rewritten in
        place leaves its directory's time alone)."""
        if not exp_dir.is_dir():
            return False
        now = time.time()
        if full or now - self._last_full.get(str(exp_dir), 0.0) >= FULL_SCAN_S:
            self._last_full[str(exp_dir)] = now
            full = True
        return self._scan(str(exp_dir), "", full, now)

    def _scan(self, folder: str, prefix: str, full: bool, now: float) -> bool:
        """``update`` below ``folder`` (``prefix``: its path relative to the experiment directory; plain strings,
        since this runs after every controller step)."""
        grew = False
        try:
            entries = list(os.scandir(folder))
        except OSError:  # removed while we looked: the next call sees what replaced it
            return False
        for e in entries:
            rel = prefix + e.name
            try:
                if e.is_symlink():
                    continue
                if e.is_dir():
                    # keyed by full path: the recorder reads two experiment directories (staging and storage)
                    # whose trial directories share relative names
                    mtime = e.stat().st_mtime_ns
                    if not full and self._dirs.get(e.path) == mtime:
                        continue
                    grew = self._scan(e.path, rel + "/", full, now) or grew
                    # settled: not modified in the last second (a change within the clock's tick keeps the time)
                    if now - mtime / 1e9 > 1.0:
                        self._dirs[e.path] = mtime
                    continue
                if not covered(rel):
                    continue
                st = e.stat()
                sig = (st.st_mtime_ns, st.st_size)
                if self._seen.get(rel) == sig:
                    continue
                digest = _sha256(Path(e.path))
            except OSError:  # replaced while we read it: the next call sees it
                continue
            self._seen[rel] = sig
            versions = self.files.setdefault(rel, [])
            if digest not in versions:
                versions.append(digest)
                del versions[:-MAX_VERSIONS]
                grew = True
        return grew

    def problems(self, exp_dir: Path) -> list[str]:
        """Covered files of ``exp_dir`` that no recorded hash accepts (links and other users' files included)."""
        out = []
        for dirpath, dirnames, names in os.walk(exp_dir):
            for name in names + [d for d in dirnames if Path(dirpath, d).is_symlink()]:
                p = Path(dirpath, name)
                rel = p.relative_to(exp_dir).as_posix()
                if p.is_symlink():
                    out.append(f"{rel}: a symbolic link")
                elif covered(rel):
                    if p.stat().st_uid != os.getuid():
                        out.append(f"{rel}: owned by another user")
                    elif _sha256(p) not in self.files.get(rel, []):
                        out.append(f"{rel}: {'not recorded' if rel not in self.files else 'checksum mismatch'}")
        return sorted(out)

    # -- storage in the run directory, under this user's HMAC ------------------------------------------------------
    def to_json(self, key: bytes) -> dict[str, Any]:
        body = json.dumps(self.files, sort_keys=True)
        return {"files": self.files, "hmac": hmac.new(key, body.encode(), hashlib.sha256).hexdigest()}

    @classmethod
    def from_json(cls, obj: Any, key: bytes, where: str) -> "StateRecord":
        if not isinstance(obj, dict) or not isinstance(obj.get("files"), dict) or not isinstance(obj.get("hmac"), str):
            raise RunDirError(f"{where}: malformed Tune state record")
        body = json.dumps(obj["files"], sort_keys=True)
        if not hmac.compare_digest(hmac.new(key, body.encode(), hashlib.sha256).hexdigest(), obj["hmac"]):
            raise RunDirError(f"{where}: the Tune state record was not written by this user's raytp (HMAC mismatch); "
                              "refusing to unpickle; pass --trust to resume anyway")
        return cls({str(k): [str(h) for h in v] for k, v in obj["files"].items() if isinstance(v, list)})
