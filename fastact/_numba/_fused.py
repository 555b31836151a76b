"""Fused kernels: an activation of ``x + bias``, and gated units ``act(gate) * up``.

One driver per operation, taking the address of the activation's C chunk function at
run time (bias: ``_factory.chunk_address``; gated units: the unit's generated one-pass
loop, ``_factory.gated_address``), so every kernel id gets them with no driver of its
own.  The work is cut in items, a block of rows (or one row) times a tile of ``TILE``
columns.
Bias: each tile of x + bias is staged in a per-thread buffer (cache-resident),
the activation's loop runs on it, and the result goes straight to the output
(without a bias gradient the items are single rows, in memory order):
one pass over memory, the same values as the unfused sequence (x + bias rounded
to the dtype, then f).  Gated units: the unit's generated one-pass loop
(``_factory.gated_source``) on each item.  Items are elementwise, except the bias gradient: each
block of rows sums its rows in order into its own float64 row of ``partial``,
and the caller adds the rows of ``partial`` in block order.  The blocks depend on
the shape only (:func:`block_rows`), so ``db`` is bitwise independent of the
thread count.  Drivers are compiled once per process and dtype, serial and
parallel.  With the Cython extension built, the bias and gated kernels run on its drivers
and work pool instead (``fastact._cython.bias_driver``, ``gated_driver``,
``gated_direct_driver``: the same items and bits).
"""
from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from .._constants import BIAS_GRAD_MAX_BLOCKS, BIAS_GRAD_MIN_BLOCK_ROWS
from ._parallel import _call_chunk, address_call
from ._vmath import prefer_512_bit_vectors


TILE = 2048  # columns per item: two float64 tiles fit a 32 KiB L1 data cache


def block_rows(rows: int) -> int:
    """Rows per block of the bias-gradient reduction (a function of the shape only)."""
    return max(BIAS_GRAD_MIN_BLOCK_ROWS, -(-rows // BIAS_GRAD_MAX_BLOCKS))


@njit(inline="always", nogil=True)
def _tile(k, n_tiles, m):
    """Item k of a (row or block, tile) grid: (its row or block, first column, width)."""
    major = k // n_tiles
    c0 = (k - major * n_tiles) * TILE
    return major, c0, min(TILE, m - c0)


@njit(inline="always", nogil=True)
def _items(c, n_items, n_chunks):
    """The range of items of chunk c of n_chunks equal chunks."""
    step = (n_items + n_chunks - 1) // n_chunks
    return c * step, min(n_items, (c + 1) * step)


def _bias_py(address, out, x, grad, bias, a, b, partial, geom, n_chunks):
    """out[r, j] = f(x[r, j] + bias[j]) (grad[r, j] * f'(...) for the backward loops), f the
    kernel whose C chunk function is at ``address`` (``_factory.chunk_address``);
    partial[blk, j] += out[r, j] over the rows of block blk when partial has columns.
    geom = (rows, m, rows per block)."""
    rows, m, per_block = geom[0], geom[1], geom[2]
    n_tiles = (m + TILE - 1) // TILE
    n_items = ((rows + per_block - 1) // per_block) * n_tiles
    for c in prange(n_chunks):
        prefer_512_bit_vectors()
        tmp = np.empty(TILE, x.dtype)
        lo, hi = _items(c, n_items, n_chunks)
        for k in range(lo, hi):
            blk, c0, w = _tile(k, n_tiles, m)
            t, bt = tmp[:w], bias[c0:c0 + w]
            acc = partial[blk]
            if acc.size:
                acc = acc[c0:c0 + w]
            for r in range(blk * per_block, min(rows, (blk + 1) * per_block)):
                s = r * m + c0
                xt, ot = x[s:s + w], out[s:s + w]  # views indexed from 0: vector loads
                for j in range(w):
                    t[j] = xt[j] + bt[j]
                _call_chunk(address, ot, t, grad[s:s + w], w, a, b)
                if acc.size:
                    for j in range(w):
                        acc[j] += ot[j]


@intrinsic
def _call_gated(typingctx, address, out, d_up, gate, up, grad, n, a, b):
    """address(out.data, d_up.data, gate.data, up.data, grad.data, n, a, b): a gated
    unit's C chunk function (``_factory.gated_address``) on 1-D arrays of one dtype."""
    if not (isinstance(address, types.Integer) and isinstance(n, types.Integer)
            and out.dtype == d_up.dtype == gate.dtype == up.dtype == grad.dtype == a == b):
        return None
    return types.void(address, out, d_up, gate, up, grad, n, a, b), address_call(5)


def _gated_py(address, outs, ins, geom, a, b, n_chunks):
    """The gated unit's loop ``chunk(out, d_up, gate, up, grad, n, a, b)`` at ``address``
    on every (row, tile) item; outs = (out or d_gate, d_up), ins = (gate, up, grad) (flat
    buffers; an operand the mode does not use is any buffer); geom = (rows, m, then the
    offset and row stride of gate, up, grad, out, d_up): a tuple of 12 integers."""
    out, d_up = outs
    gate, up, grad = ins
    rows, m = geom[0], geom[1]
    n_tiles = (m + TILE - 1) // TILE
    n_items = rows * n_tiles
    for c in prange(n_chunks):
        lo, hi = _items(c, n_items, n_chunks)
        for k in range(lo, hi):
            r, c0, w = _tile(k, n_tiles, m)
            gs, us, ds = (geom[2] + r * geom[3] + c0, geom[4] + r * geom[5] + c0,
                          geom[6] + r * geom[7] + c0)
            os, qs = geom[8] + r * geom[9] + c0, geom[10] + r * geom[11] + c0
            _call_gated(address, out[os:os + w], d_up[qs:qs + w], gate[gs:gs + w],
                        up[us:us + w], grad[ds:ds + w], w, a, b)


_PYTHON = {"bias": _bias_py, "gated": _gated_py}
_lock = threading.Lock()
_compiled: dict = {}


def _signature(kind, dtype):
    scalar = getattr(types, dtype)
    arr = types.Array(scalar, 1, "C")
    geom = types.Array(types.int64, 1, "C")
    if kind == "bias":
        partial = types.Array(types.float64, 2, "C")
        return (types.intp, arr, arr, arr, arr, scalar, scalar, partial, geom, types.intp)
    return (types.intp, types.UniTuple(arr, 2), types.UniTuple(arr, 3),
            types.UniTuple(types.int64, 12), scalar, scalar, types.intp)


def driver(kind: str, dtype: str, parallel: bool):
    """The compiled entry point of one driver (compiled on first use, once per process)."""
    key = (kind, dtype, parallel)
    entry = _compiled.get(key)
    if entry is not None:
        return entry
    with _lock:
        if key not in _compiled:
            dispatcher = njit(parallel=parallel, nogil=True, cache=False, error_model="numpy",
                              boundscheck=False)(_PYTHON[kind])
            sig = _signature(kind, dtype)
            dispatcher.compile(sig)
            _compiled[key] = dispatcher.overloads[sig].entry_point
    return _compiled[key]
