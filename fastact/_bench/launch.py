"""The Numba backend's parallel launch: the floor under its threaded rows.

A minimal parallel region through the real elementwise driver
(``_parallel.driver_for``, launched by ``_threading.run_parallel`` as every
threaded kernel is): the identity kernel on one float64 element per thread.  Its
per-call time is what a threaded Numba row pays before any element is computed
(Numba's TBB layer builds a task arena per region); the serial call of the same
kernel is what a row on the calling thread pays.  Measured in the bench's own
run so that a short row's Numba time can be read against it.
"""
from __future__ import annotations

import time

import numpy as np

_KERNEL = ("identity", "forward", "float64")
_CALLS = 20  # calls per sample
_WORK_ELEMENTS = 65536  # the Numba memory-bound threshold in float64 (512 KiB of output)


def _interleaved(fns, rounds):
    """[(median wall seconds, median calling-thread CPU seconds) per call] of each of
    ``fns``, sampled round-robin (order alternated), both clocks on the same calls."""
    for fn in fns:
        fn()
    samples = [([], []) for _ in fns]
    order = list(range(len(fns)))
    for r in range(rounds):
        for i in (order if r % 2 == 0 else order[::-1]):
            fn = fns[i]
            t0, c0 = time.perf_counter(), time.thread_time()
            for _ in range(_CALLS):
                fn()
            samples[i][0].append((time.perf_counter() - t0) / _CALLS)
            samples[i][1].append((time.thread_time() - c0) / _CALLS)
    return [(float(np.median(w)), float(np.median(c))) for w, c in samples]


def numba_launch(threads: int, rounds: int = 25):
    """The launch record, or None when the Numba backend is unavailable or ``threads`` < 2.

    Median seconds per call: ``parallel_s`` (wall) and ``caller_cpu_s`` (the calling
    thread's CPU time) of the minimal region on ``threads`` threads, ``serial_s`` of the
    serial call, ``launch_s`` = parallel - serial; and the same kernel over
    ``work_elements`` (512 KiB of float64 output): ``work_serial_s``, ``work_parallel_s``
    (wall) and ``caller_share`` = the calling thread's CPU time in the threaded call /
    its CPU time in the serial one (1/threads: the work was split evenly; 1: the caller
    ran every chunk, the other threads joined too late to take one)."""
    if threads < 2:
        return None
    try:
        from .. import _numba  # noqa: F401 - the backend imports (Numba, TBB) or not
    except Exception:  # the backend is optional
        return None
    from .._numba import _factory, _parallel, _threading

    k = min(int(threads), _threading.max_threads())
    if k < 2:
        return None
    kid, mode, dtype = _KERNEL
    serial, address = _factory.compile_kernel(kid, mode, dtype)  # the serial entry: (address, ...)
    driver = _parallel.driver_for(dtype)
    record = {"threads": k, "work_elements": _WORK_ELEMENTS}
    for label, n in (("", k), ("work_", _WORK_ELEMENTS)):
        out, x = np.zeros(n, dtype), np.ones(n, dtype)
        args = (address, out, x, x, 0.0, 0.0, False)
        par, ser = _interleaved((lambda a=args: _threading.run_parallel(driver, a, k),
                                 lambda a=args[:6]: serial(*a)), rounds)
        record[f"{label}parallel_s"], record[f"{label}serial_s"] = par[0], ser[0]
        if label:
            record["caller_share"] = par[1] / ser[1] if ser[1] > 0 else None
        else:
            record["caller_cpu_s"] = par[1]
    record["launch_s"] = max(0.0, record["parallel_s"] - record["serial_s"])
    return record
