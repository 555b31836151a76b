"""The "max ULP" column of ``fastact bench``: each case's error, measured once and cached.

For every (case, dtype) the bench measures, the maximum error in ULP of every
fastact backend and every peer on the QUICK grid (forward passes, and backward
passes from x with grad = 1), cached as JSON under the accuracy cache directory,
keyed by the fastact version, the backends' builds (the Numba sources' cache key,
the loaded Cython module's file), the peers' versions and the grid, so a bench run
pays for it once per build.  Cases the accuracy command does not measure
(backward from y, the softmax family's backward passes) get no entry.
"""
from __future__ import annotations

import hashlib
import json
import os

from . import grid, measure, oracle


def _builds(backends) -> list:
    """What fixes the backends' bits besides the version: the hash of the Numba kernels'
    sources and the loaded Cython module's file (path, size, modification time)."""
    parts = []
    if "numba" in backends:
        from .._numba._cache import cache_key

        parts.append(cache_key())
    if "cython" in backends:
        from .. import _cython

        path = _cython.config().get("module")
        if path:
            parts.append(_file_id(path))
    return parts


def _file_id(path: str) -> tuple:
    st = os.stat(path)
    return path, st.st_size, st.st_mtime_ns


def _path(target, backends, libraries) -> str:
    import fastact

    from .._bench import peers

    versions = [(lib, peers.library_version(lib)) for lib in libraries]
    text = repr((fastact.__version__, _builds(backends), target.case.name, target.dtype,
                 tuple(backends), versions, grid.QUICK))
    return os.path.join(oracle.cache_dir(),
                        "bench-" + hashlib.sha256(text.encode()).hexdigest()[:32] + ".json")


def max_ulp(target, backends, libraries) -> dict:
    """``{impl: max ULP or None}`` of one target, from the cache or measured now."""
    from .run import measure_target

    path = _path(target, backends, libraries)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    records, _ = measure_target(target, grid.QUICK, backends, libraries)
    table = {r["impl"]: r.get("max_ulp") for r in records}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(table, f)
    except OSError:  # a read-only cache only costs the measurement next time
        pass
    return table


def attach(records, backends, libraries) -> None:
    """Set ``record["max_ulp"]`` on every bench record whose case the accuracy command measures."""
    measurable = {(t.case.name, t.dtype): t for t in measure.targets(
        tuple({r["function"] for r in records}), tuple({r["dtype"] for r in records}))}
    tables = {}
    for r in records:
        key = (r["function"], r["dtype"])
        if key not in measurable:
            continue
        if key not in tables:
            tables[key] = max_ulp(measurable[key], backends, libraries)
        r["max_ulp"] = tables[key].get(r["impl"])
