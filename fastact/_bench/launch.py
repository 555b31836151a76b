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


def _median_per_call(fn, rounds, clock):
    samples = []
    for _ in range(rounds):
        t0 = clock()
        for _ in range(_CALLS):
            fn()
        samples.append((clock() - t0) / _CALLS)
    return float(np.median(samples))


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
    address = _factory.chunk_address(kid, mode, dtype)
    driver = _parallel.driver_for(dtype)
    serial = _factory.compile_kernel(kid, mode, dtype)[0]
    record = {"threads": k, "work_elements": _WORK_ELEMENTS}
    for label, n in (("", k), ("work_", _WORK_ELEMENTS)):
        out, x = np.zeros(n, dtype), np.ones(n, dtype)
        par = _timed(lambda: _threading.run_parallel(driver, (address, out, x, x, 0.0, 0.0,
                                                              False), k), rounds)
        ser = _timed(lambda: serial(out, x, x, 0.0, 0.0), rounds)
        record[f"{label}parallel_s"], record[f"{label}serial_s"] = par[0], ser[0]
        if label:
            record["caller_share"] = par[1] / ser[1] if ser[1] > 0 else None
        else:
            record["caller_cpu_s"] = par[1]
    record["launch_s"] = max(0.0, record["parallel_s"] - record["serial_s"])
    return record


def _timed(fn, rounds):
    """(median wall seconds, median calling-thread CPU seconds) per call of ``fn``."""
    fn()
    return (_median_per_call(fn, rounds, time.perf_counter),
            _median_per_call(fn, rounds, time.thread_time))
