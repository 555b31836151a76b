"""The one parallel driver: split a range into per-thread chunks, run a serial kernel on each.

``driver(fn, out, x, grad, a, b, n_chunks)`` runs ``fn(out[lo:hi], x[lo:hi], grad[lo:hi], a, b)``
for ``n_chunks`` contiguous chunks in a ``prange``; launch it through
``_threading.run_parallel``, which sets the thread count to ``n_chunks``.  ``fn`` is a
first-class function (``numba.types.FunctionType``), so there is ONE compiled
driver per dtype, shared by every kernel id and mode: the expensive parfor
compilation happens twice for the whole backend instead of once per kernel
(it is not disk-cached: Numba refuses to cache functions with first-class
function arguments, so each process compiles the two drivers on its first
parallel call or in ``warmup()``).
Elementwise kernels on disjoint chunks give results independent of the
thread count.
"""
from __future__ import annotations

import threading

from numba import njit, prange, types

_lock = threading.Lock()
_drivers: dict = {}


def serial_signature(dtype: str):
    """void(out, x, grad, a, b) for 1-D C arrays of ``dtype`` and ``dtype`` scalars."""
    scalar = getattr(types, dtype)
    arr = types.Array(scalar, 1, "C")
    return types.void(arr, arr, arr, scalar, scalar)


def _driver_py(fn, out, x, grad, a, b, n_chunks):
    n = x.size
    step = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = min(c * step, n)
        hi = min(lo + step, n)
        fn(out[lo:hi], x[lo:hi], grad[lo:hi], a, b)


def driver_for(dtype: str):
    """The compiled parallel driver's entry point for ``dtype`` (compiled once per process)."""
    entry = _drivers.get(dtype)
    if entry is not None:
        return entry
    with _lock:
        if dtype not in _drivers:
            sig = serial_signature(dtype)
            scalar = getattr(types, dtype)
            arr = types.Array(scalar, 1, "C")
            full = types.void(types.FunctionType(sig), arr, arr, arr, scalar, scalar, types.intp)
            # one module-level function, compiled once per dtype (two overloads)
            dispatcher = _dispatcher()
            dispatcher.compile(full.args)
            _drivers[dtype] = dispatcher.overloads[full.args].entry_point
    return _drivers[dtype]


_shared: dict = {}


def _dispatcher():
    d = _shared.get("d")
    if d is None:
        # cache=False: Numba cannot cache functions taking first-class functions
        # ("dynamic globals").
        d = _shared["d"] = njit(parallel=True, nogil=True, cache=False, error_model="numpy",
                               boundscheck=False)(_driver_py)
    return d
