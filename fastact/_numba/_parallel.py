"""The drivers of the elementwise kernels: a C kernel on a range, serial or split into chunks.

``run_serial(address, out, x, grad, a, b)`` calls the kernel's C function on the whole
range in the calling thread (:func:`serial_driver`: one per dtype, no parallel region).

``drive(address, out, x, grad, a, b, prefetch, n_chunks)`` calls the C function at
``address``, ``void chunk(T *out, T *x, T *grad, intp n, T a, T b)`` (each
generated kernel has one, ``_factory``), on ``n_chunks`` contiguous chunks in a
``prange`` (x's first partial 64-byte line a call of its own, the chunks whole lines
of x: :func:`line_head`); launch it through ``_threading.run_parallel``, which sets the thread
count to ``n_chunks``.  The kernel is a run-time address, not a compile-time
constant, so there is ONE driver per dtype for every kernel id and mode, and it
is cached on disk like every other kernel (a first-class function argument
would make it uncacheable: one parfor compilation per process).
Elementwise kernels on disjoint chunks give results independent of the
thread count.  With ``prefetch`` each chunk runs in blocks of
``WRITE_PREFETCH_BLOCK_BYTES`` of output, the next block's lines prefetched for
writing first (the Cython driver's remedy for 4K aliasing, docs/tuning.md): the
memory-bound kernels take it, the transcendental ones ran slower with it.

``drive_tiled`` is the same through a tile: each chunk computes a tile at a
time into a buffer that stays in L1 and copies it out, by streaming stores of
whole 64-byte lines (``_stream``; for outputs past the last-level cache that
overlap no input) or by plain stores (an out that is an input: in place, where
LLVM's loop over the aliased arrays falls back to scalar code); the bits are
those of ``drive``.
"""
from __future__ import annotations

import threading

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic

from .._constants import STREAM_TILE_BYTES, WRITE_PREFETCH_BLOCK_BYTES
from ._cache import jit, linked
from ._stream import LINE, address, fence, prefetch_write, stream_line

_lock = threading.Lock()
_drivers: dict = {}
_JIT = dict(nogil=True, error_model="numpy", boundscheck=False)


def address_call(n_arrays: int):
    """The codegen of ``address(arrays[0].data, ..., n, a, b)``: a C function at a run-time
    address called on the data of ``n_arrays`` 1-D arrays of one dtype, a count and two
    scalars of that dtype; for an intrinsic typed (address, *arrays, n, a, b)."""

    def codegen(context, builder, sig, args):
        scalar = context.get_value_type(sig.args[-1])
        intp = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.VoidType(),
                               [scalar.as_pointer()] * n_arrays + [intp, scalar, scalar])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        data = [context.make_array(sig.args[k])(context, builder, args[k]).data
                for k in range(1, n_arrays + 1)]
        count = context.cast(builder, args[-3], sig.args[-3], types.intp)
        builder.call(fn, data + [count, args[-2], args[-1]])
        return context.get_dummy_value()

    return codegen


@intrinsic
def _call_chunk(typingctx, address, out, x, grad, n, a, b):
    """address(out.data, x.data, grad.data, n, a, b) for 1-D arrays of one dtype."""
    if not (isinstance(address, types.Integer) and isinstance(n, types.Integer)
            and out.dtype == x.dtype == grad.dtype == a == b):
        return None
    return types.void(address, out, x, grad, n, a, b), address_call(3)


@linked(**_JIT)
def line_head(x):
    """The elements before x's first 64-byte line boundary: run as a call of their own, they
    let the vector loop load whole lines (0 where x is not aligned to its elements or is
    shorter)."""
    size = x.itemsize
    at = address(x)
    head = ((LINE - at % LINE) % LINE) // size
    return head if at % size == 0 and head < x.size else 0


@jit(**_JIT)
def run_serial(address_, out, x, grad, a, b):
    """out = kernel(x, grad, a, b) in the calling thread, the kernel's C chunk function
    at ``address_`` on all of x (x's first partial line as a call of its own)."""
    h = line_head(x)
    _call_chunk(address_, out[:h], x[:h], grad[:h], h, a, b)
    _call_chunk(address_, out[h:], x[h:], grad[h:], x.size - h, a, b)


@linked(**_JIT)
def _prefetched(address_, out, x, grad, a, b):
    """out = kernel(x, grad, a, b) in blocks of WRITE_PREFETCH_BLOCK_BYTES of out, each
    block's successor prefetched for writing before the block runs (the same bits)."""
    n = x.size
    size = x.itemsize
    block = WRITE_PREFETCH_BLOCK_BYTES // size
    prefetch_write(out, 0, min(block, n) * size)
    lo = 0
    while n - lo > block:
        hi = lo + block
        prefetch_write(out, hi, min(block, n - hi) * size)
        _call_chunk(address_, out[lo:hi], x[lo:hi], grad[lo:hi], block, a, b)
        lo = hi
    _call_chunk(address_, out[lo:], x[lo:], grad[lo:], n - lo, a, b)


@linked(parallel=True, **_JIT)
def _drive_chunks(address, out, x, grad, a, b, prefetch, n_chunks):
    """:func:`drive`'s parallel region (link-only: optimized once, in the entry point):
    chunk c is [h + c step, h + (c + 1) step) with step whole lines and h :func:`line_head`,
    the first from 0 (its head a call of its own), so every chunk runs on lines of x."""
    n = x.size
    h = line_head(x)
    per_line = LINE // x.itemsize
    step = ((n - h + n_chunks - 1) // n_chunks + per_line - 1) // per_line * per_line
    for c in prange(n_chunks):
        lo = min(h + c * step, n) if c > 0 else h
        hi = min(h + (c + 1) * step, n)
        if c == 0:
            _call_chunk(address, out[:h], x[:h], grad[:h], h, a, b)
        if prefetch:
            _prefetched(address, out[lo:hi], x[lo:hi], grad[lo:hi], a, b)
        else:
            _call_chunk(address, out[lo:hi], x[lo:hi], grad[lo:hi], hi - lo, a, b)


@linked(**_JIT)
def _tiled(address_, out, x, grad, a, b, tile, stream):
    """out = kernel(x, grad, a, b) computed ``tile.size`` elements at a time into ``tile``
    (which overlaps nothing: the kernel's loop vectorizes even where out is an input),
    then copied out: by streaming stores of whole lines (``stream``; the partial lines at
    both ends are written by the kernel itself), or by plain stores."""
    n = x.size
    size = x.itemsize
    head = min(((LINE - address(out) % LINE) % LINE) // size, n) if stream else 0
    end = head + (n - head) * size // LINE * LINE // size if stream else n
    _call_chunk(address_, out[:head], x[:head], grad[:head], head, a, b)
    for lo in range(head, end, tile.size):
        hi = min(lo + tile.size, end)
        _call_chunk(address_, tile, x[lo:hi], grad[lo:hi], hi - lo, a, b)
        if stream:
            for i in range(lo, hi, LINE // size):
                stream_line(out, i, tile, i - lo)
        else:
            out[lo:hi] = tile[:hi - lo]
    _call_chunk(address_, out[end:], x[end:], grad[end:], n - end, a, b)
    if stream:
        fence()


@jit(**_JIT)
def drive(address, out, x, grad, a, b, prefetch, n_chunks):
    """Chunk c of ``n_chunks`` (contiguous, in order) of out = kernel(x, grad, a, b);
    ``prefetch``: through :func:`_prefetched`."""
    _drive_chunks(address, out, x, grad, a, b, prefetch, n_chunks)


@linked(parallel=True, **_JIT)
def _drive_tiled_chunks(address_, out, x, grad, a, b, stream, n_chunks):
    """:func:`drive_tiled`'s parallel region (link-only: optimized once, in the entry)."""
    n = x.size
    step = (n + n_chunks - 1) // n_chunks
    per = STREAM_TILE_BYTES // x.itemsize
    for c in prange(n_chunks):
        lo = min(c * step, n)
        hi = min(lo + step, n)
        _tiled(address_, out[lo:hi], x[lo:hi], grad[lo:hi], a, b, np.empty(per, x.dtype), stream)


@jit(**_JIT)
def drive_tiled(address, out, x, grad, a, b, stream, n_chunks):
    """:func:`drive` through an L1 tile (:func:`_tiled`): with ``stream`` out is written by
    streaming stores (out must overlap no input), else by plain stores (out may be an
    input: in place, where a loop over the aliased arrays runs scalar)."""
    _drive_tiled_chunks(address, out, x, grad, a, b, stream, n_chunks)


def _entry(fn, dtype: str, flags: tuple):
    """The entry point of ``fn`` compiled for (intp address, out, x, grad, a, b, *flags)
    with 1-D C arrays and scalars of ``dtype`` (loaded or compiled once)."""
    key = (fn.py_func.__name__, dtype)
    entry = _drivers.get(key)
    if entry is None:
        with _lock:
            if key not in _drivers:
                scalar = getattr(types, dtype)
                arr = types.Array(scalar, 1, "C")
                args = (types.intp, arr, arr, arr, scalar, scalar) + flags
                fn.compile(args)
                _drivers[key] = fn.overloads[args].entry_point
            entry = _drivers[key]
    return entry


def serial_driver(dtype: str):
    """The entry point of :func:`run_serial` for ``dtype``: (intp address, out, x, grad,
    a, b) with 1-D C arrays and scalars of ``dtype``."""
    return _drivers.get(("run_serial", dtype)) or _entry(run_serial, dtype, ())


def driver_for(dtype: str, tiled: bool = False):
    """The entry point of :func:`drive` (``tiled``: :func:`drive_tiled`) for ``dtype``
    arrays: (intp address, out, x, grad, a, b, bool prefetch or stream, n_chunks) with
    1-D C arrays and scalars of ``dtype`` (loaded or compiled once)."""
    return _entry(drive_tiled if tiled else drive, dtype, (types.boolean, types.intp))
