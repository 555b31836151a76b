"""Facts of this machine that the elementwise store policy follows (read once, at import).

Streaming stores pay off only for arrays that do not stay in cache from one call to the
next, so their threshold is the last-level cache's size where the OS describes one
(Linux sysfs), capped at :data:`fastact._constants.STREAM_MIN_BYTES`, which is also the
value where it describes none (docs/tuning.md, "Streaming stores").
"""
from __future__ import annotations

import functools
import os
from typing import Optional

from . import _constants

SYSFS_CPUS = "/sys/devices/system/cpu"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """Bytes of a sysfs cache size such as ``32768K`` or ``2M`` (ValueError otherwise)."""
    text = text.strip().upper()
    unit = text[-1:] if text[-1:] in "KMG" else ""
    return int(text[:len(text) - len(unit)]) * _UNITS[unit]


def parse_cpu_list(text: str) -> set:
    """The CPUs of a sysfs list such as ``0-3,8,10-11``."""
    cpus = set()
    for part in text.strip().split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def last_level_cache_bytes(root: str = SYSFS_CPUS, cpus: Optional[set] = None) -> Optional[int]:
    """The bytes of last-level (data or unified) cache the CPUs ``cpus`` (this process's
    affinity by default) share among them: the largest cache level of CPU 0 in sysfs, times
    the instances of it those CPUs span; None where sysfs describes no cache."""
    if cpus is None:
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else {0}
    first = min(cpus) if cpus else 0
    best = None  # (level, bytes, CPUs sharing it)
    cache_dir = os.path.join(root, f"cpu{first}", "cache")
    try:
        indexes = sorted(os.listdir(cache_dir))
    except OSError:
        return None
    for name in indexes:
        path = os.path.join(cache_dir, name)
        try:
            if _read(os.path.join(path, "type")).strip() not in ("Data", "Unified"):
                continue
            level = int(_read(os.path.join(path, "level")))
            size = parse_size(_read(os.path.join(path, "size")))
            shared = parse_cpu_list(_read(os.path.join(path, "shared_cpu_list")))
        except (OSError, ValueError):
            continue
        if best is None or level > best[0]:
            best = (level, size, shared)
    if best is None:
        return None
    _, size, shared = best
    sharing = len(shared & cpus) or len(shared) or 1
    return size * -(-max(1, len(cpus)) // sharing)


@functools.lru_cache(maxsize=None)
def stream_min_bytes(cache_bytes: Optional[int] = -1) -> int:
    """Arrays (inputs + output) from which an elementwise loop writes with streaming stores:
    min(last-level cache, STREAM_MIN_BYTES), a multiple of the 64-byte line;
    STREAM_MIN_BYTES where the cache size is unknown (``cache_bytes`` -1: read it here)."""
    if cache_bytes == -1:
        cache_bytes = last_level_cache_bytes()
    if not cache_bytes:
        return _constants.STREAM_MIN_BYTES
    return min(_constants.STREAM_MIN_BYTES, max(64, cache_bytes // 64 * 64))
