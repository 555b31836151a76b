"""The one parallel driver: split a range into per-thread chunks, run a C kernel on each.

``drive(address, out, x, grad, a, b, n_chunks)`` calls the C function at
``address``, ``void chunk(T *out, T *x, T *grad, intp n, T a, T b)`` (each
generated kernel has one, ``_factory``), on ``n_chunks`` contiguous chunks in a
``prange``; launch it through ``_threading.run_parallel``, which sets the thread
count to ``n_chunks``.  The kernel is a run-time address, not a compile-time
constant, so there is ONE driver per dtype for every kernel id and mode, and it
is cached on disk like every other kernel (a first-class function argument
would make it uncacheable: one parfor compilation per process).
Elementwise kernels on disjoint chunks give results independent of the
thread count.
"""
from __future__ import annotations

import threading

from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic

from ._cache import jit

_lock = threading.Lock()
_drivers: dict = {}


@intrinsic
def _call_chunk(typingctx, address, out, x, grad, n, a, b):
    """address(out.data, x.data, grad.data, n, a, b) for 1-D arrays of one dtype."""
    if not (isinstance(address, types.Integer) and isinstance(n, types.Integer)
            and out.dtype == x.dtype == grad.dtype == a == b):
        return None

    def codegen(context, builder, sig, args):
        scalar = context.get_value_type(sig.args[5])
        intp = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.VoidType(), [scalar.as_pointer()] * 3 + [intp, scalar, scalar])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        data = [context.make_array(sig.args[k])(context, builder, args[k]).data
                for k in (1, 2, 3)]
        count = context.cast(builder, args[4], sig.args[4], types.intp)
        builder.call(fn, data + [count, args[5], args[6]])
        return context.get_dummy_value()

    return types.void(address, out, x, grad, n, a, b), codegen


@jit(parallel=True, nogil=True, error_model="numpy", boundscheck=False)
def drive(address, out, x, grad, a, b, n_chunks):
    """Chunk c of ``n_chunks`` (contiguous, in order) of out = kernel(x, grad, a, b)."""
    n = x.size
    step = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = min(c * step, n)
        hi = min(lo + step, n)
        _call_chunk(address, out[lo:hi], x[lo:hi], grad[lo:hi], hi - lo, a, b)


def driver_for(dtype: str):
    """The entry point of :func:`drive` for ``dtype`` arrays: (intp address, out, x, grad,
    a, b, n_chunks) with 1-D C arrays and scalars of ``dtype`` (loaded or compiled once)."""
    entry = _drivers.get(dtype)
    if entry is None:
        with _lock:
            if dtype not in _drivers:
                scalar = getattr(types, dtype)
                arr = types.Array(scalar, 1, "C")
                args = (types.intp, arr, arr, arr, scalar, scalar, types.intp)
                drive.compile(args)
                _drivers[dtype] = drive.overloads[args].entry_point
            entry = _drivers[dtype]
    return entry
