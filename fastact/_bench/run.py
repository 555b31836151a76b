"""Running the case table: threads, compilation, correctness check, timing.

:func:`run` measures every selected case at every dtype and size with every
selected fastact backend and every installed peer, plus the roofline, and
returns a report dict (the ``--json`` document): ``meta`` (machine, versions,
threads, compile times, the Numba parallel launch, settings) and ``results`` (one record per case,
dtype, size, call style and implementation).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import cases as cases_mod
from . import peers as peers_mod
from .launch import numba_launch
from .load import LoadMonitor
from .report import point_label
from .roofline import Roofline
from .timing import Policy, measure_many

DEFAULT_SIZES = (1_000, 100_000, 10_000_000)
DEFAULT_DTYPES = ("float32", "float64")
QUICK_SIZES = (10_000, 1_000_000)
QUICK_DTYPES = ("float32",)
CHECK_MAX_SIZE = 100_000  # results are compared with the NumPy reference up to this size
# cases shown beside a read-two-write-one pass over their bytes (their floor: they read
# y and grad once and write one result)
STREAM_FLOOR_CASES = ("softmax_backward",)
# smooth elementwise forwards whose arrays take COMPUTE_FLOOR_MIN_BYTES or more are also timed
# on cache-resident slices of COMPUTE_FLOOR_SLICE_BYTES of x (x and out of each thread's share
# fit its L2), once per slice of the input: each backend's arithmetic alone, beside the copy
COMPUTE_FLOOR_MIN_BYTES = 32 << 20
COMPUTE_FLOOR_SLICE_BYTES = 1 << 20


@dataclass
class Settings:
    functions: tuple = ()  # --functions tokens (empty: every case)
    dtypes: tuple = DEFAULT_DTYPES
    sizes: tuple = DEFAULT_SIZES
    backends: tuple = ()  # empty: every available backend
    peers: tuple = peers_mod.LIBRARIES  # peer libraries to try
    threads: int = 0  # 0: fastact.get_num_threads()
    alloc: bool = False  # also time the allocating call
    policy: Policy = field(default_factory=Policy)
    check: bool = True
    warmup: bool = False  # call backends' warmup() first (compiles every kernel)
    reference_cap: float = 1.0  # seconds: a slower NumPy reference call is timed on a slice
    row_lengths: tuple = ()  # ((size, n), ...): rows-shaped cases at each (size // n, n) given
    ulp: bool = True  # the "max ULP" column (fastact accuracy's quick grid, cached per build)


def default_policy(quick: bool) -> Policy:
    """The timing policy: a fixed time budget per implementation and case, smaller when quick."""
    if quick:
        return Policy(budget=0.01, min_repeats=3, min_sample=2e-4, slow_call=0.02)
    return Policy(budget=0.04, min_repeats=3, min_sample=5e-4, slow_call=0.05)


@contextlib.contextmanager
def _pinned_blas():
    """BLAS pools pinned to one thread: no measured kernel uses BLAS, idle pools must not compete."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield "threadpoolctl not installed: BLAS threads not pinned"
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield "BLAS pinned to 1 thread (threadpoolctl)"


def _compile(backends, progress, use_warmup) -> dict:
    """Compile ahead: every backend's ``warmup()`` when asked (timed), else first calls are timed.

    ``warmup()`` compiles every kernel of a backend, also those a subset does
    not measure; without it each kernel is compiled by its first call, which
    is timed apart and never used as a sample.
    """
    from .. import _backends

    compile_times = {}
    for name in backends:
        module = _backends.load(name)
        warm = getattr(module, "warmup", None) if use_warmup else None
        if warm is None:
            compile_times[name] = {"method": "first calls", "seconds": 0.0}
            continue
        progress.note(f"compiling {name} kernels (warmup())...")
        start = time.perf_counter()
        warm()
        compile_times[name] = {"method": "warmup()", "seconds": time.perf_counter() - start}
    return compile_times


def _as_array(result, bufs):
    if result is None:
        return bufs.out
    if hasattr(result, "numpy") and not isinstance(result, np.ndarray):
        return result.numpy()
    return np.asarray(result)


def _agrees(got, ref, dtype) -> bool:
    if got.shape != ref.shape:
        return False
    tol = 2e-3 if np.dtype(dtype) == np.float32 else 1e-6
    finite = np.isfinite(ref)
    scale = float(np.max(np.abs(ref[finite]))) if finite.any() else 1.0
    return bool(np.allclose(got, ref, rtol=tol, atol=tol * max(scale, 1e-30), equal_nan=True))


@dataclass
class Impl:
    """One implementation of one case, ready to time."""

    label: str  # backend name or peer library
    kind: str  # "backend" or "peer"
    fn: object  # zero-argument callable (None when it could not be set up)
    allocates: bool
    note: str = ""
    error: object = None
    scale: float = 1.0  # the callable runs on 1/scale of the elements (slow reference)
    elements: int = 0  # elements the callable processes


@dataclass
class Point:
    """One case at one dtype, size and call style, with its inputs."""

    case: object
    dtype: str
    size: int
    call: str  # "out" (preallocated result) or "alloc" (the call allocates it)
    bufs: object  # the case's buffers (x, grad, out, ...)
    ref: object = None  # the NumPy reference result to check against (None: no check)
    roofline_best_s: float = 0.0  # the machine's best copy of the same bytes (memoized)
    # record field -> callable timed in the point's round robin: "roofline_s" (a copy of
    # the same bytes, on the case's own arrays where their shapes allow), "stream_floor_s"
    # (the read-two-write-one pass on y, grad and out; STREAM_FLOOR_CASES only)
    floors: dict = field(default_factory=dict)
    # backend -> callable: the kernel on cache-resident slices (``compute_floor_s``), same rounds
    compute_floors: dict = field(default_factory=dict)


def _reference_slice(point, records, cap):
    """Elements to time the NumPy reference on, when the full size would take over ``cap`` s.

    The prediction scales the reference's time at the largest smaller size
    linearly; the reported time is then the measured time scaled back up
    (marked as extrapolated).  None: time the full size.
    """
    if not cap:
        return None
    previous = [r for r in records if r["function"] == point.case.name
                and r["dtype"] == point.dtype and r["call"] == point.call
                and r["impl"] == "numpy" and r["time_s"] and r["size"] < point.size]
    if not previous:
        return None
    last = max(previous, key=lambda r: r["size"])
    predicted = last["time_s"] * point.size / last["size"]
    if predicted <= cap:
        return None
    return max(last["size"], int(point.size * cap / predicted))


def _implementations(point, backends, libraries, ref_elements=None):
    """Every fastact backend and every peer of ``point.case``, as :class:`Impl`."""
    case, bufs, allocate = point.case, point.bufs, point.call == "alloc"
    impls = []
    n = int(np.prod(case.shape(bufs.x.size)))
    for name in backends:
        b, scale = bufs, 1.0
        if name == "numpy" and ref_elements:
            b = case.slice_buffers(bufs, ref_elements)
            scale = bufs.x.size / b.x.size
        impls.append(Impl(name, "backend", case.fastact_call(name, b, allocate), allocate,
                          scale=scale, elements=b.x.size))
    for peer in case.peers:
        if peer.library not in libraries:
            continue
        try:
            fn, allocates = peer.make(bufs, allocate)
            impls.append(Impl(peer.library, "peer", fn, allocates, peer.note, elements=n))
        except peers_mod.Unsupported:  # no kernel for this dtype: not a peer of this point
            continue
        except Exception as exc:  # a peer that cannot be set up is reported, not fatal
            impls.append(Impl(peer.library, "peer", None, allocate, peer.note,
                              f"{type(exc).__name__}: {exc}", elements=n))
    return impls


def run(settings: Settings, progress) -> dict:
    """Measure every selected case; returns the report dict (see module docstring)."""
    import fastact

    started = time.perf_counter()
    backends = tuple(settings.backends) or tuple(fastact.backends())
    libraries = peers_mod.available_libraries(settings.peers)
    previous_threads = fastact.set_num_threads(settings.threads or fastact.get_num_threads())
    threads = fastact.get_num_threads()  # capped to the usable cores
    peer_threads = peers_mod.set_threads(threads, libraries)
    roofline = Roofline(threads, settings.policy)
    load = LoadMonitor(threads)
    stalls_before = _pool_stalls() or 0
    try:
        with _pinned_blas() as blas_note:
            compile_times = _compile(backends, progress, settings.warmup)
            launch = numba_launch(threads) if "numba" in backends else None
            records = _measure_all(settings, backends, libraries, roofline, progress, load)
    finally:
        progress.finish()
        fastact.set_num_threads(previous_threads)
        roofline_table = roofline.table()
        roofline.close()
    stalls_after = _pool_stalls()
    _first_call_overheads(records, compile_times)
    ulp_note = _attach_max_ulp(records, backends, libraries) if settings.ulp else "not measured"
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": safe_config(),
        "threads": threads,
        "peer_threads": peer_threads,
        "blas": blas_note,
        "peers": {lib: peers_mod.library_version(lib) for lib in peers_mod.LIBRARIES},
        "backends": list(backends),
        "compile": compile_times,
        "roofline_gbps": {str(k): v for k, v in roofline_table.items()},
        "numba_launch": launch,
        "settings": _settings_record(settings),
        "max_ulp": ulp_note,
        "load": load.record(),
        "pool_stalls": None if stalls_after is None else stalls_after - stalls_before,
        "wall_seconds": time.perf_counter() - started,
    }
    return {"meta": meta, "results": records}


def _pool_stalls():
    """The work pool's count of stalled loops so far (each caps the next loops at one
    thread for a window: the contention policy); None without the compiled extension."""
    state = getattr(sys.modules.get("fastact._kernels"), "_pool_state", None)
    return state()["stalls"] if state is not None else None


def _attach_max_ulp(records, backends, libraries) -> str:
    """Fill each record's "max_ulp" (see ``fastact._accuracy.bench_column``); returns a note."""
    import importlib.util

    if importlib.util.find_spec("mpmath") is None:
        return "not measured: needs mpmath"
    from .._accuracy import bench_column

    bench_column.attach(records, backends, libraries)
    return "fastact accuracy --quick grid, cached per build"


def _settings_record(settings: Settings) -> dict:
    return {
        "functions": list(settings.functions), "dtypes": list(settings.dtypes),
        "sizes": list(settings.sizes), "alloc": settings.alloc,
        "policy": asdict(settings.policy), "input": f"N(0, {cases_mod.INPUT_SCALE}**2)",
        "row_length": cases_mod.ROW_LENGTH, "reference_cap_s": settings.reference_cap,
        "row_lengths": [list(p) for p in settings.row_lengths],
    }


def _measure_all(settings, backends, libraries, roofline, progress, load) -> list:
    """The records of every selected case at every dtype, size and call style; the machine's
    load is sampled at every point."""
    selected = cases_mod.select(settings.functions)
    at_size = {size: _cases_at(selected, size, settings.row_lengths) for size in settings.sizes}
    calls = ("out", "alloc") if settings.alloc else ("out",)
    pool = cases_mod.InputPool()
    records = []
    progress.start(len(settings.dtypes) * sum(map(len, at_size.values())) * len(calls))
    for dtype in settings.dtypes:
        for size, size_cases in at_size.items():
            for case in size_cases:
                bufs = case.make_buffers(dtype, size, pool)
                ref = case.reference(bufs) if settings.check and size <= CHECK_MAX_SIZE else None
                nbytes = case.nbytes(size, dtype)
                best_s = roofline.seconds(nbytes)
                floors = {"roofline_s": roofline.copy_call(
                    nbytes, [getattr(bufs, name) for name in case.reads], bufs.out)}
                if case.name in STREAM_FLOOR_CASES:
                    floors["stream_floor_s"] = roofline.stream_call(bufs.y, bufs.grad, bufs.out)
                compute = _compute_floors(case, bufs, nbytes, backends)
                for call in calls:
                    load.sample()
                    where = point_label(case.kind, case.shape(size), size)
                    progress.advance(f"{case.name} {dtype} {where} {call}")
                    point = Point(case, dtype, size, call, bufs, ref, best_s, floors,
                                  compute if call == "out" else {})
                    sliced = _reference_slice(point, records, settings.reference_cap)
                    impls = _implementations(point, backends, libraries, sliced)
                    records.extend(_measure_point(point, impls, settings.policy))
                del bufs, point
            pool.clear()
            roofline.release()
    return records


def _cases_at(selected, size, row_lengths) -> list:
    """The cases measured at ``size``: a rows-shaped case once per row length ``row_lengths``
    gives for that size (else once, on its default rows), any other case once."""
    lengths = [n for s, n in row_lengths if s == size] or [0]
    return [dataclasses.replace(c, row_length=n) for c in selected
            for n in (lengths if c.rows_shaped else [0])]


def _compute_floors(case, bufs, nbytes, backends) -> dict:
    """{backend: callable} timing the compiled backends' arithmetic alone (see
    COMPUTE_FLOOR_MIN_BYTES) for a large smooth elementwise forward; else {}."""
    from .._registry import memory_bound

    if (case.kind != "elementwise" or case.mode != "forward" or nbytes < COMPUTE_FLOOR_MIN_BYTES
            or memory_bound(case.op, case.mode)):
        return {}
    elements = max(1, COMPUTE_FLOOR_SLICE_BYTES // bufs.x.itemsize)
    return {b: case.compute_floor_call(b, bufs, elements) for b in backends if b != "numpy"}


def _new_record(point, impl) -> dict:
    """The record of one implementation at one point, before timing."""
    case, size = point.case, point.size
    return {
        "function": case.name, "activation": case.activation, "mode": case.mode,
        "kind": case.kind, "dtype": point.dtype, "size": int(size),
        "shape": list(case.shape(size)), "bytes": case.nbytes(size, point.dtype),
        "call": point.call, "impl": impl.label, "impl_kind": impl.kind,
        "allocates": bool(impl.allocates), "note": impl.note, "roofline_s": None,
        "roofline_best_s": point.roofline_best_s, "stream_floor_s": None, "compute_floor_s": None,
        "time_s": None, "error": impl.error, "mismatch": False,
        "extrapolated_from": impl.elements if impl.scale != 1.0 else None,
    }


def _first_call(point, impl, record):
    """Time the first call apart (it compiles lazily compiled kernels; never a sample) and,
    where there is a reference, check its result; None when no first call is needed."""
    if point.ref is None and (impl.kind != "backend" or impl.label == "numpy"):
        return None
    point.bufs.out.fill(0)
    start = time.perf_counter()
    result = impl.fn()
    seconds = time.perf_counter() - start
    if point.ref is not None and impl.scale == 1.0:
        got = _as_array(result, point.bufs)
        record["mismatch"] = not _agrees(got, point.ref, point.dtype)
    return seconds


def _measure_point(point, impls, policy) -> list:
    """One record per implementation; the timings are taken round-robin (measure_many), the
    point's floors (``point.floors``) in the same rounds."""
    records, ready, firsts = [], {}, {}
    for i, impl in enumerate(impls):
        records.append(_new_record(point, impl))
        if impl.fn is None:
            continue
        try:
            first = _first_call(point, impl, records[i])
            if first is not None:
                firsts[i] = first
            ready[i] = impl.fn
        except Exception as exc:  # an incomplete backend or a broken peer: report and go on
            records[i]["error"] = f"{type(exc).__name__}: {exc}"[:300]
    computes = {("compute", b): fn for b, fn in point.compute_floors.items()}
    timings = _timings({**ready, **point.floors, **computes}, policy, records)
    floors = {name: timings.pop(name).median_s for name in point.floors if name in timings}
    compute = {key[1]: timings.pop(key).median_s for key in computes if key in timings}
    for i, timing in timings.items():
        impl, record = impls[i], records[i]
        median = timing.median_s * impl.scale
        record.update(
            time_s=median, first_call_s=firsts.get(i, timing.first_s) * impl.scale,
            repeats=timing.repeats, number=timing.number,
            gbps=record["bytes"] / median / 1e9, **floors,
            roofline_ratio=floors.get("roofline_s", point.roofline_best_s) / median,
            compute_floor_s=compute.get(impl.label) if impl.kind == "backend" else None,
            **timing.spread(impl.scale),
        )
    return records


def _timings(ready, policy, records) -> dict:
    """``measure_many`` of the ready implementations; if one fails while sampled, each is
    timed alone and a failure is recorded as its error."""
    try:
        return measure_many(ready, policy)
    except Exception:
        timings = {}
        for i, fn in ready.items():
            try:
                timings.update(measure_many({i: fn}, policy))
            except Exception as exc:
                if isinstance(i, int):  # a floor that fails is left out, not an error
                    records[i]["error"] = f"{type(exc).__name__}: {exc}"[:300]
        return timings


def _first_call_overheads(records, compile_times):
    """Without warmup(): the first calls' excess over the median (JIT compile, cache loads)."""
    for name, info in compile_times.items():
        if info["method"] == "first calls":
            info["seconds"] = sum(
                max(0.0, r["first_call_s"] - r["time_s"])
                for r in records
                if r["impl"] == name and r["time_s"] is not None and r["call"] == "out"
            )


def safe_config() -> dict:
    """``fastact.config()``, surviving a backend whose ``config()`` is broken."""
    from .. import _backends, _config

    try:
        return _config.config()
    except Exception as exc:
        import platform

        backends = {}
        for name in _backends.BACKEND_MODULES:
            try:
                module = _backends.load(name)
                backends[name] = {"available": True, **module.config()}
            except Exception as err:
                backends[name] = {"available": name in _backends.available(),
                                  "reason": f"{type(err).__name__}: {err}"}
        return {"fastact": "?", "numpy": np.__version__, "platform": platform.platform(),
                "processor": _config._cpu_name(), "cpu_isa": _config.cpu_isa(),
                "num_threads": _backends.get_num_threads(), "backends": backends,
                "config_error": f"{type(exc).__name__}: {exc}"}
