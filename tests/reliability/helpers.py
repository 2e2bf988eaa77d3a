"""Helpers of the reliability tests: run-directory snapshots and finding Ray worker processes by title."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path


def snapshot(path: str | Path) -> dict[str, str] | None:
    """{relative path: sha256} of every file under ``path`` (None when it does not exist)."""
    root = Path(path)
    if not root.exists():
        return None
    if root.is_file():
        return {".": hashlib.sha256(root.read_bytes()).hexdigest()}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the comm field may contain spaces: split after ')'


def _title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def descendants_titled(root_pid: int, prefix: str) -> list[int]:
    """Pids of live descendants of ``root_pid`` whose process title starts with ``prefix``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            pp = _ppid(int(entry))
            if pp is not None:
                parents[int(entry)] = pp
    out = []
    for pid in parents:
        p, seen = parents.get(pid), 0
        while p is not None and p != root_pid and seen < 64:
            p, seen = parents.get(p), seen + 1
        if p == root_pid and _title(pid).startswith(prefix):
            out.append(pid)
    return sorted(out)


def raylet_pid() -> int:
    """The raylet of the Ray this process is connected to (workers are its children): only our own workers."""
    import ray._private.worker as worker
    return worker._global_node.all_processes["raylet"][0].process.pid


def kill_when_titled(root_pid: int, prefix: str, timeout: float, poll: float = 0.05) -> int | None:
    """Wait until a descendant titled ``prefix...`` runs, SIGKILL it, return its pid (None on timeout)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for pid in descendants_titled(root_pid, prefix):
            try:
                os.kill(pid, signal.SIGKILL)
                return pid
            except ProcessLookupError:
                pass
        time.sleep(poll)
    return None
