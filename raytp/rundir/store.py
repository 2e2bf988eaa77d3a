"""The run directory: every artifact written atomically and recorded in a manifest of checksums.

Nothing is loaded with pickle: JSON, Parquet and safetensors only. ``verify`` re-hashes every
recorded artifact; ``read_*`` refuse an artifact whose bytes do not match the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from raytp.errors import RunDirError
from raytp.rundir.names import MANIFEST



def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_temp(path: Path, data: bytes) -> str:
    """``data`` in a fsynced temporary file next to ``path`` (``.<name>.*.tmp``); returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, rename."""
    tmp = _write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunDir:
    """A run directory: ``RunDir(path)``; relative artifact names like ``"single_task.json"``."""

    def __init__(self, path: str | Path, create: bool = False):
        self.root = Path(path)
        if create:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise RunDirError(f"{self.root}: cannot create the run directory ({e.strerror or e})") from None
        elif self.root.exists() and not self.root.is_dir():
            raise RunDirError(f"{self.root}: not a directory")
        elif not self.root.is_dir():
            raise RunDirError(f"{self.root}: run directory not found")

    # -- manifest -----------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        p = self.root / MANIFEST
        if not p.exists():
            return {"artifacts": {}}
        try:
            m = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RunDirError(f"{p}: manifest is corrupt (not valid JSON)") from None
        if not isinstance(m, dict) or not isinstance(m.get("artifacts"), dict):
            raise RunDirError(f"{p}: manifest has no 'artifacts' mapping")
        for rel, entry in m["artifacts"].items():
            if not _safe_rel(rel):
                raise RunDirError(f"{p}: artifact name {rel!r} is not a relative path inside the run directory")
            pending = entry.get("pending") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or not (_checksum_ok(entry) or (_checksum_ok(pending) and
                                                                           "sha256" not in entry)):
                raise RunDirError(f"{p}: entry of {rel!r} needs a 'sha256' string and a 'bytes' integer")
            if pending is not None and not _checksum_ok(pending):
                raise RunDirError(f"{p}: entry of {rel!r} has a malformed 'pending' checksum")
        return m

    def _save_manifest(self, m: dict[str, Any]) -> None:
        atomic_write_bytes(self.root / MANIFEST, json.dumps(m, indent=1, sort_keys=True).encode())

    def _record(self, rel: str, digest: str, size: int) -> None:
        m = self.manifest()
        m["artifacts"][rel] = {"sha256": digest, "bytes": size, "written_at": time.time()}
        self._save_manifest(m)

    def forget(self, rel: str) -> None:
        """Remove an artifact and its manifest entry (e.g. before re-running a stage)."""
        m = self.manifest()
        if m["artifacts"].pop(rel, None) is not None:
            self._save_manifest(m)
        (self.root / rel).unlink(missing_ok=True)

    def has(self, rel: str) -> bool:
        return rel in self.manifest()["artifacts"] and (self.root / rel).is_file()

    def _interrupted(self, rel: str) -> bool:
        """A first write of ``rel`` was killed before its rename: only a pending checksum, no file."""
        entry = self.manifest()["artifacts"].get(rel)
        return entry is not None and "sha256" not in entry and not (self.root / rel).exists()

    def path(self, rel: str) -> Path:
        return self.root / rel

    # -- writes -------------------------------------------------------------------------------
    def write_bytes(self, rel: str, data: bytes) -> Path:
        """Atomic under SIGKILL at any instant: (1) the bytes go to a fsynced temporary file; (2) the manifest
        records their checksum as ``pending`` next to the current one; (3) rename onto the final name;
        (4) the manifest makes the new checksum current. Whenever the process dies, the file under the final
        name is one complete version whose checksum the manifest holds (old before 3, new after)."""
        path = self.root / rel
        digest, size = _sha256(data), len(data)
        tmp = _write_temp(path, data)
        try:
            m = self.manifest()
            entry = {k: v for k, v in m["artifacts"].get(rel, {}).items() if k != "pending"}
            if path.is_file() and not _checksum_ok(entry):  # a stray file without a record: never valid
                entry = {}
            m["artifacts"][rel] = {**entry, "pending": {"sha256": digest, "bytes": size}}
            self._save_manifest(m)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._record(rel, digest, size)
        return path

    def write_json(self, rel: str, obj: Any) -> Path:
        return self.write_bytes(rel, json.dumps(obj, indent=2, sort_keys=False, default=_json_default).encode())

    def write_text(self, rel: str, text: str) -> Path:
        return self.write_bytes(rel, text.encode("utf-8"))

    def write_parquet(self, rel: str, df: pd.DataFrame) -> Path:
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return self.write_bytes(rel, buf.getvalue())

    def write_tensors(self, rel: str, tensors: dict, metadata: dict[str, str] | None = None) -> Path:
        from safetensors.torch import save
        clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        return self.write_bytes(rel, save(clean, metadata=metadata))

    # -- reads (checked against the manifest) ---------------------------------------------------
    def read_bytes(self, rel: str) -> bytes:
        path = self.root / rel
        entry = self.manifest()["artifacts"].get(rel)
        if entry is None or self._interrupted(rel):
            raise RunDirError(f"{path}: not in the run directory (run the stage that writes it first)")
        if not path.is_file():
            raise RunDirError(f"{path}: listed in the manifest but missing on disk")
        data = path.read_bytes()
        # the current checksum, or the pending one of a write killed between its rename and the manifest update
        accepted = [c for c in (entry, entry.get("pending")) if _checksum_ok(c)]
        if not any(len(data) == c["bytes"] and _sha256(data) == c["sha256"] for c in accepted):
            raise RunDirError(f"{path}: checksum mismatch (truncated or modified); re-run the stage that writes it")
        return data

    def read_json(self, rel: str) -> Any:
        try:
            return json.loads(self.read_bytes(rel))
        except json.JSONDecodeError:
            raise RunDirError(f"{self.root / rel}: not valid JSON") from None

    def read_text(self, rel: str) -> str:
        try:
            return self.read_bytes(rel).decode("utf-8")
        except UnicodeDecodeError:
            raise RunDirError(f"{self.root / rel}: not UTF-8 text") from None

    def read_parquet(self, rel: str) -> pd.DataFrame:
        data = self.read_bytes(rel)
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as e:  # pyarrow raises its own error types
            raise RunDirError(f"{self.root / rel}: not a valid Parquet file ({type(e).__name__})") from None

    def read_tensors(self, rel: str) -> dict:
        from safetensors.torch import load
        try:
            return load(self.read_bytes(rel))
        except Exception as e:  # safetensors raises its own error types
            raise RunDirError(f"{self.root / rel}: not a valid safetensors file ({e})") from None

    # -- integrity -------------------------------------------------------------------------------
    def verify(self) -> list[str]:
        """Problems found (empty when every recorded artifact matches its checksum)."""
        problems = []
        for rel in sorted(self.manifest()["artifacts"]):
            if self._interrupted(rel):
                continue  # a first write that never reached its final name: nothing to check
            try:
                self.read_bytes(rel)
            except RunDirError as e:
                problems.append(str(e))
        return problems


def _checksum_ok(c: Any) -> bool:
    return (isinstance(c, dict) and isinstance(c.get("sha256"), str) and isinstance(c.get("bytes"), int)
            and not isinstance(c.get("bytes"), bool))


def _safe_rel(rel: str) -> bool:
    """A manifest name must stay inside the run directory (no absolute paths, no '..')."""
    p = Path(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel


def _json_default(o: Any) -> Any:
    import numpy as np
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
