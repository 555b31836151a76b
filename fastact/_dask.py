"""The softmax family on dask arrays, correct on chunked axes.

A row split over several chunks cannot be handed to a row kernel chunk by chunk
(the result would be a per-chunk softmax).  Instead, when the axis (``axis=None``:
every axis) spans several chunks:

* each chunk gives a row statistic: for the forward ops the pair ``(max, rest)``
  with ``logsumexp = max + rest`` and ``rest = log1p(sum_{j != argmax} exp(x_j - max))``
  (minus the row maximum of the log_softmax kernel's output: a few ULP of itself);
  for the backward ops the row sum (``sum(grad * y)`` or ``sum(grad)``, float64);
* a dask reduction (``da.reduction``, a tree of combine steps) merges the chunks'
  statistics into the row's: ``M = max m_c``, ``D = logsumexp_c(m_c - M + d_c)``,
  in float64, so ``M`` is an input element, exact, and ``D`` is accurate to a few
  ULP of itself;
* one blockwise pass per chunk runs the fastact kernel on the chunk and corrects
  it by the chunk's offset from the row, ``delta = (M - m_c) + (D - d_c) >= 0``:
  ``log_softmax = local - delta``, ``softmax = local * exp(-delta)``; the backward
  ops run the kernel on the chunk with one extra entry per row that carries the
  rest of the row's sum.

Special rows and ``where=`` follow the NumPy API exactly: NaN rows give NaN,
rows with +inf give NaN (``logsumexp``: +inf), rows of only -inf or fully masked
give 0 / -inf; masked entries give 0 (-inf for ``log_softmax``).  When the axis lies
in one chunk, each chunk is one task running the public function.  Results are lazy
and keep the input's chunks; nothing is rechunked.  Per-chunk work uses the
process's thread count (dask's workers set ``OMP_NUM_THREADS=1``).

This module imports dask: it is imported only for dask input.
"""
from __future__ import annotations

import dask.array as da
import numpy as np

from . import _dispatch

_PAIR = np.dtype([("max", np.float64), ("rest", np.float64)])
_F64 = np.dtype(np.float64)


def is_dask_array(a) -> bool:
    return isinstance(a, da.Array)


# ----------------------------------------------------------------- entry point
def rowwise(op, x, grad, along, out, backend):
    """``fastact.<op>`` on dask input (``x`` is ``y`` for the backward ops)."""
    if out is not None:
        raise TypeError(f"fastact.{op.name}(): out= is not supported for dask arrays; "
                        "use the returned array (or da.store)")
    x = da.asarray(x)
    if op.backward:
        grad = da.asarray(grad)
    dtype = _result_dtype(op, x, grad)
    axes = _axes(op, x.ndim, along.axis)
    where = _mask(op, along.where, x)
    if op.backward and grad.shape != x.shape:
        raise ValueError(f"fastact.{op.name}(): grad has shape {grad.shape} but y has shape "
                         f"{x.shape}")
    if grad is not None and grad.chunks != x.chunks:
        grad = grad.rechunk(x.chunks)
    call = _Call(op.name, None if along.axis is None or x.ndim == 0 else axes[0], backend)
    if all(len(x.chunks[a]) == 1 for a in axes):
        return _one_chunk_per_row(call, x, grad, where, dtype, along.keepdims and op.reduces,
                                  axes if op.reduces else ())
    if op.backward:
        return _chunked_backward(call, x, grad, dtype, axes)
    pairs = da.map_blocks(_chunk_pair, x, where, sign=-1.0 if op.name == "softmin" else 1.0,
                          call=call, chunks=_reduced_chunks(x.chunks, axes), dtype=_PAIR,
                          meta=np.empty((0,) * x.ndim, _PAIR))
    keepdims = along.keepdims or not op.reduces
    row = da.reduction(pairs, _identity, _combine_pairs, combine=_combine_pairs, axis=axes,
                       keepdims=keepdims, dtype=_PAIR, meta=np.empty((0,) * x.ndim, _PAIR))
    if op.reduces:
        return row.map_blocks(_logsumexp_of_pair, dtype=dtype, result_dtype=dtype,
                              meta=np.empty((0,) * row.ndim, dtype))
    return da.map_blocks(_finish_forward, x, where, pairs, row, call=call, dtype=dtype,
                         meta=np.empty((0,) * x.ndim, dtype))


class _Call:
    """What every per-chunk function needs: the op, its axis in a block, the backend."""

    __slots__ = ("op", "axis", "backend")

    def __init__(self, op, axis, backend):
        self.op, self.axis, self.backend = op, axis, backend

    def __reduce__(self):
        return (_Call, (self.op, self.axis, self.backend))

    def run(self, op, block, grad=None, where=None, keepdims=False, axis="block"):
        """The public function ``op`` on NumPy blocks, as an array (never a scalar)."""
        axis = self.axis if axis == "block" else axis
        r = _dispatch.rowwise(op, block, grad, axis, None, self.backend, where, keepdims)
        return np.asarray(r)


# ----------------------------------------------------------------- checks
def _result_dtype(op, x, grad):
    """The NumPy API's result dtype (and its TypeError for unsupported dtypes), now."""
    dtype = _dispatch.as_float_array(np.empty(0, x.dtype), "y" if op.backward else "x",
                                     op.name)[1]
    if grad is not None:
        dtype = np.result_type(dtype, _dispatch.as_float_array(
            np.empty(0, grad.dtype), "grad", op.name)[1])
    return np.dtype(dtype)


def _axes(op, ndim, axis) -> tuple:
    """The reduced axes: ``(axis,)``, or every axis for ``axis=None`` (0-d: none)."""
    ax = _dispatch._normalize_axis(axis, ndim, op.name)
    if ndim == 0:
        return ()
    return tuple(range(ndim)) if ax is None else (ax,)


def _mask(op, where, x):
    """``where`` as a boolean dask array of x's shape and chunks (None stays None)."""
    if where is None:
        return None
    if not op.masked:
        raise TypeError(f"fastact.{op.name}() takes no where= mask")
    wh = where if is_dask_array(where) else np.asarray(where)
    if wh.dtype != np.bool_:
        raise TypeError(f"fastact.{op.name}(): where must be a boolean array, got dtype "
                        f"{wh.dtype}")
    try:
        wh = da.broadcast_to(da.asarray(wh), x.shape)
    except ValueError:
        raise ValueError(f"fastact.{op.name}(): where of shape {wh.shape} does not broadcast "
                         f"to {x.shape}") from None
    return wh.rechunk(x.chunks)


def _reduced_chunks(chunks, axes) -> tuple:
    return tuple((1,) * len(c) if i in axes else c for i, c in enumerate(chunks))


# ----------------------------------------------------------------- axis within one chunk
def _one_chunk_per_row(call, x, grad, where, dtype, keepdims, dropped):
    """One task per chunk: the public function on each block."""
    chunks = x.chunks
    if dropped:
        chunks = tuple(((1,) if i in dropped else c) for i, c in enumerate(x.chunks)
                       if keepdims or i not in dropped)
    args = [x] + [a for a in (grad, where) if a is not None]
    ndim = len(chunks)
    return da.map_blocks(_whole_rows, *args, call=call, has_grad=grad is not None,
                         keepdims=keepdims, chunks=chunks, dtype=dtype,
                         drop_axis=() if keepdims else dropped,
                         meta=np.empty((0,) * ndim, dtype))


def _whole_rows(block, *rest, call, has_grad, keepdims):
    grad = rest[0] if has_grad else None
    where = rest[-1] if len(rest) > has_grad else None
    return call.run(call.op, block, grad, where, keepdims)


# ----------------------------------------------------------------- forward: pairs
def _identity(pairs, axis=None, keepdims=True):
    return pairs


def _log1p_rest(call, z, where, axis):
    """``log1p(sum_{j != argmax} exp(z_j - max z))`` of each row, as the log_softmax kernel
    computes it (accurate to a few ULP of itself): minus the row maximum of log_softmax(z)."""
    ls = call.run("log_softmax", z, None, where, axis=axis)
    with np.errstate(invalid="ignore"):
        return -np.max(ls, axis=axis, keepdims=True, initial=-np.inf)


def _chunk_pair(block, where, *, sign, call):
    """``(max, rest)`` of each row of ``sign * block`` (masked entries excluded); rows
    with no finite maximum get ``rest = 0``, so ``max + rest`` is their logsumexp."""
    xs = _dispatch.as_float_array(block, "x", call.op)[0]
    if sign < 0:
        xs = -xs
    m = np.max(xs, axis=call.axis, keepdims=True, where=True if where is None else where,
               initial=-np.inf)
    finite = np.isfinite(m)
    pair = np.empty(m.shape, _PAIR)
    pair["max"] = m
    pair["rest"] = np.where(finite, _log1p_rest(call, xs, where, call.axis), 0)
    return pair


def _combine_pairs(pairs, axis=None, keepdims=True):
    """The rows' ``(max, rest)`` from their chunks' pairs (concatenated along ``axis``):
    ``max = max_c m_c``, ``rest = logsumexp_c(m_c - max + d_c) = zmax + log1p(...)``."""
    m, d = pairs["max"], pairs["rest"]
    big = np.max(m, axis=axis, keepdims=True)  # an input element; NaN if any chunk had NaN
    finite = np.isfinite(big)
    with np.errstate(invalid="ignore"):
        z = m - np.where(finite, big, 0) + d
        zmax = np.max(z, axis=axis, keepdims=True)
        one_axis = axis[0] if len(axis) == 1 else None  # several axes: all of them
        rest = zmax + _log1p_rest(_Call("log_softmax", one_axis, None), z, None, one_axis)
    out = np.empty(big.shape, _PAIR)
    out["max"] = big
    out["rest"] = np.where(finite, rest, 0)
    return out if keepdims else out.squeeze(axis)


def _logsumexp_of_pair(row, *, result_dtype):
    """The rows' logsumexp ``max + rest`` (rows of +-inf or NaN: ``max``, as ``rest = 0``)."""
    with np.errstate(over="ignore"):
        return (row["max"] + row["rest"]).astype(result_dtype)


def _finish_forward(block, where, chunk_pair, row_pair, *, call):
    """The op on the chunk by the kernel, shifted to the row's statistics."""
    xs, result_dtype = _dispatch.as_float_array(block, "x", call.op)
    local = call.run(call.op, xs, None, where)
    big = row_pair["max"]
    with np.errstate(invalid="ignore"):
        delta = (big - chunk_pair["max"]) + (row_pair["rest"] - chunk_pair["rest"])
    # Rows of only -inf keep the kernel's 0 / -inf; rows holding +inf are NaN.
    delta = np.where(big == -np.inf, 0.0, np.where(big == np.inf, np.nan, delta))
    with np.errstate(invalid="ignore", over="ignore"):
        if call.op == "log_softmax":
            result = local - delta.astype(local.dtype)
        else:
            result = local * np.exp(-delta).astype(local.dtype)
    if where is not None:
        result = np.where(where, result, local)  # masked entries: the kernel's 0 / -inf
    return _dispatch._narrow(result, result_dtype) if result.dtype != result_dtype else result


# ----------------------------------------------------------------- backward: row sums
def _chunked_backward(call, y, grad, dtype, axes):
    """Row sums by a dask reduction of the chunks' sums, then the kernel per chunk."""
    sums = da.map_blocks(_chunk_sum, y, grad, call=call, chunks=_reduced_chunks(y.chunks, axes),
                         dtype=_F64, meta=np.empty((0,) * y.ndim, _F64))
    row = sums.sum(axis=axes, keepdims=True)
    return da.map_blocks(_finish_backward, y, grad, sums, row, call=call, dtype=dtype,
                         meta=np.empty((0,) * y.ndim, dtype))


def _backward_operands(y, grad, call):
    """y and grad in the compute dtype, and the result dtype."""
    ys, y_dtype = _dispatch.as_float_array(y, "y", call.op)
    gs, g_dtype = _dispatch.as_float_array(grad, "grad", call.op)
    result_dtype = np.result_type(y_dtype, g_dtype)
    compute = _dispatch._compute_dtype(result_dtype)
    return ys.astype(compute, copy=False), gs.astype(compute, copy=False), result_dtype


def _chunk_sum(y, grad, *, call):
    """The chunk's part of the row sum: ``sum(grad * y)`` or ``sum(grad)``, in float64."""
    ys, gs, _ = _backward_operands(y, grad, call)
    terms = gs.astype(_F64) * ys if call.op == "softmax_backward" else gs
    with np.errstate(invalid="ignore", over="ignore"):
        return np.sum(terms, axis=call.axis, keepdims=True, dtype=_F64)


def _finish_backward(y, grad, chunk_sum, row_sum, *, call):
    """The kernel on the chunk plus one entry per row carrying the rest of the row's sum:
    grad = row - chunk (0 where they are equal, so infinite sums stay infinite), y = 1 for
    softmax_backward (the entry adds grad * y) or -inf for log_softmax_backward (adds grad)."""
    ys, gs, result_dtype = _backward_operands(y, grad, call)
    with np.errstate(invalid="ignore", over="ignore"):
        carry = np.where(chunk_sum == row_sum, 0.0, row_sum - chunk_sum).astype(ys.dtype)
    axis = call.axis
    if axis is None:
        ys, gs, carry, axis = ys.reshape(-1), gs.reshape(-1), carry.reshape(1), 0
    pad_y = np.full(carry.shape, 1.0 if call.op == "softmax_backward" else -np.inf, ys.dtype)
    padded = _dispatch.rowwise(call.op, np.concatenate([ys, pad_y], axis=axis),
                               np.concatenate([gs, carry], axis=axis), axis, None, call.backend)
    result = padded[(slice(None),) * axis + (slice(0, ys.shape[axis]),)].reshape(y.shape)
    return _dispatch._narrow(result, result_dtype) if result.dtype != result_dtype else result
