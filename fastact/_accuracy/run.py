"""Running ``fastact accuracy``: every target, every implementation, one report dict.

The report (the ``--json`` document) has ``meta`` (versions, grid, settings,
wall time) and ``results``: one record per (function, dtype, implementation)
with ``max_ulp`` (over the points where result and true value are finite),
``x_at_max``, ``above_bound`` (fraction of points more than 4 ULP off, special
disagreements included), ``specials`` (``{kind: {count, x}}``, kinds in
:data:`fastact._accuracy.ulp.SPECIAL_KINDS`), ``within_promise`` (fastact
backends) and ``error`` (an implementation that failed to run).
"""
from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field

import numpy as np

from .._bench.peers import Unsupported
from . import grid, measure, ulp


@dataclass
class Settings:
    """What ``fastact accuracy`` measures."""

    functions: tuple = ()  # --functions tokens (empty: everything)
    dtypes: tuple = ("float32", "float64")
    quick: bool = False  # the QUICK grid instead of the DEFAULT one
    backends: tuple = ()  # empty: every available fastact backend
    peers: object = None  # peer libraries to try (None: all known)


@dataclass
class Result:
    """The report dict and, per elementwise target, the per-point errors (for the plot)."""

    report: dict
    # (label, dtype) -> {"x": x, "activation": name, "derivative": bool, "errors": {impl: err}}
    curves: dict = field(default_factory=dict)


def run(settings: Settings, progress) -> Result:
    """Measure every selected target; see the module docstring for the report."""
    import fastact

    from .._bench import peers

    started = time.perf_counter()
    backends = tuple(settings.backends) or tuple(fastact.backends())
    libraries = peers.available_libraries(settings.peers)
    size = grid.QUICK if settings.quick else grid.DEFAULT
    chosen = measure.targets(settings.functions, settings.dtypes)
    result = Result({"results": []})
    progress.start(len(chosen), "accuracy")
    try:
        for target in chosen:
            progress.advance(f"{target.label} {target.dtype}")
            records, curve = measure_target(target, size, backends, libraries)
            result.report["results"] += records
            if curve:
                result.curves[(target.label, target.dtype)] = curve
    finally:
        progress.finish()
    result.report["meta"] = _meta(settings, size, backends, libraries, started)
    return result


def measure_target(target, size, backends, libraries) -> tuple:
    """The records of every implementation of ``target``, and its error curves (elementwise)."""
    bufs, where = measure.buffers(target, size)
    ref = measure.reference(target, bufs)
    records = []
    curve = {"x": where, "activation": target.case.activation,
             "derivative": target.derivative, "errors": {}}
    for label, kind, note, make in measure.implementations(target, backends, libraries):
        record = _record(target, label, kind, note)
        try:
            got = measure.evaluate(make, bufs)
        except Unsupported:  # no kernel for this dtype: an empty cell, like a missing op
            continue
        except Exception as exc:  # a peer without this op or dtype: reported, not fatal
            record["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            records.append(record)
            continue
        summary, err = measure.score(target, got, ref, where)
        record.update(summary)
        if kind == "backend":
            record["within_promise"] = measure.within_promise(target, got, ref)
        records.append(record)
        curve["errors"][label] = err
    return records, (curve if target.case.kind == "elementwise" else None)


def _record(target, label, kind, note) -> dict:
    return {"function": target.label, "op": target.case.op, "activation": target.case.activation,
            "mode": "derivative" if target.derivative else "forward", "kind": target.case.kind,
            "dtype": target.dtype, "impl": label, "impl_kind": kind, "note": note,
            "error": None}


def _meta(settings, size, backends, libraries, started) -> dict:
    from .._bench import peers
    from .._bench.run import safe_config
    from . import oracle

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": safe_config(),
        "backends": list(backends),
        "peers": {lib: peers.library_version(lib) for lib in peers.LIBRARIES},
        "measured_peers": list(libraries),
        "grid": grid.describe(size),
        "grid_points": {d: int(grid.points(np.dtype(d), (), size).size) for d in settings.dtypes},
        "oracle": f"mpmath at {oracle.DPS} significant digits (the registry's oracles)",
        "bound_ulp": measure.BOUND_ULP,
        "special_kinds": ulp.SPECIAL_KINDS,
        "settings": {"functions": list(settings.functions), "dtypes": list(settings.dtypes),
                     "quick": settings.quick},
        "cache_dir": oracle.cache_dir(),
        "wall_seconds": time.perf_counter() - started,
    }
