"""Keep freed memory in the process (glibc malloc) instead of handing it back to the OS after every trial.

A training step allocates and frees tensors of a few hundred kB (a batch's table rows and their optimiser
moments) and every trial allocates and frees tables of tens of MB. glibc serves allocations over its mmap
threshold with fresh pages and trims the heap top on free, so each of them pays page faults again; the batched
hashed trial spent ~15 % of its CPU time there (benchmarks/full_search.py). ``retain_freed_memory`` turns
mmap off and trimming (practically) off, so freed blocks are reused. Arithmetic is unchanged (same F1);
peak RSS is about the same (the process's peak is set by its largest live set, not by what it frees).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -2, -4, -8
_applied = False


def retain_freed_memory() -> bool:
    """Apply the settings once per process; True when they are in effect (glibc only, elsewhere a no-op)."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    ok = all(mallopt(opt, val) == 1 for opt, val in ((_M_ARENA_MAX, 1), (_M_TRIM_THRESHOLD, 1 << 30),
                                                      (_M_TOP_PAD, 64 << 20), (_M_MMAP_MAX, 0)))
    _applied = ok
    return ok
