"""Fused operations: an activation of ``x + bias``, and the gated linear units.

Each is one pass over memory.  The backends' fused kernels read the operands
tile by tile into a small cache-resident buffer and run the activation's own
loop on it, so every registry entry gets them without a kernel of its own, with
the same values as the unfused sequence of the same backend.  The array rules
are ``_dispatch``'s (dtypes, ``out=``, any shape and strides); the fast paths
are a per-feature bias (1-D, the length of the last axis) on a C-contiguous x,
and a split along the last axis of a C-contiguous x, or two C-contiguous arrays
of one shape.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _backends, _dispatch

_F32, _F64 = _dispatch._F32, _dispatch._F64
_FUNC_OF_MODE = {"forward": None, "derivative": "derivative", "backward": "backward",
                 "backward_y": "backward"}
_kernels: dict = {}


class Strided(NamedTuple):
    """A (rows, m) operand inside a flat C-contiguous buffer: row r is
    ``flat[offset + r * row_stride : offset + r * row_stride + m]``."""

    flat: np.ndarray
    offset: int
    row_stride: int


def _fused_kernel(be, kind, kernel_id, mode):
    key = (be, kind, kernel_id, mode)
    k = _kernels.get(key)
    if k is None:
        getter = be.get_biased if kind == "bias" else be.get_gated
        k = _kernels[key] = getter(kernel_id, mode)
    return k


def reduce_to_shape(a, shape):
    """``a`` summed (in float64, NumPy's fixed order) over the axes along which an
    operand of ``shape`` was broadcast to ``a.shape``."""
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1)
    return a.sum(axis=axes, dtype=_F64).reshape(shape)


def _as_result(a):
    return a[()] if a.ndim == 0 else a


# ----------------------------------------------------------------------- bias
def _converted(arrays, names, func):
    """The arrays in their common compute dtype, and the result dtype."""
    dt = arrays[0].dtype if type(arrays[0]) is np.ndarray else None
    if (dt is _F32 or dt is _F64) and all(type(a) is np.ndarray and a.dtype is dt
                                          for a in arrays):
        return arrays, dt, dt  # the common case: ndarrays of one native dtype
    pairs = [_dispatch.as_float_array(a, n, func) for a, n in zip(arrays, names)]
    result_dtype = np.result_type(*(dt for _, dt in pairs))
    compute = _dispatch._compute_dtype(result_dtype)
    return [a.astype(compute, copy=False) for a, _ in pairs], result_dtype, compute


def _broadcast_shape(shapes, names, func):
    if all(s == shapes[0] for s in shapes):  # the common case, without NumPy's checks
        return shapes[0]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        described = " and ".join(f"{n} of shape {s}" for n, s in zip(names, shapes))
        raise ValueError(f"fastact.{func}(): {described} do not broadcast together") from None


def biased(entry, mode, x, values, bias, out, backend, grad=None, bias_grad=False):
    """f(x + bias) ("forward"), f'(x + bias) ("derivative"), grad * f'(x + bias)
    ("backward") or grad * f' from y = f(x + bias) ("backward_y", bias unused but for
    its shape); with ``bias_grad``, ``(result, db)``, db the result summed over the
    axes along which bias is broadcast."""
    kernel_id, params = entry.resolve(values)
    if mode != "backward_y":
        done = _biased_direct(kernel_id, mode, (x, bias, grad), out, params,
                              (backend, bias_grad))
        if done is not None:
            return done
    func = _FUNC_OF_MODE[mode] or entry.name
    what = "y" if mode == "backward_y" else "x"
    names = [what, "bias"] + (["grad"] if grad is not None else [])
    arrays, result_dtype, compute = _converted(
        [x, bias] + ([grad] if grad is not None else []), names, func)
    xs, bs, gs = arrays[0], arrays[1], (arrays[2] if grad is not None else None)
    shape = _broadcast_shape([a.shape for a in arrays], names, func)
    if out is not None:
        _dispatch.check_out(out, shape, result_dtype, func)
    if mode == "backward_y":  # y already holds f(x + bias)
        res = np.asarray(_dispatch.elementwise(entry, mode, xs, values, None, backend, gs))
    elif _fast_bias(xs, bs, gs, shape):
        return _biased_fast(kernel_id, mode, (xs, bs, gs), (x, bias, grad), params,
                            (out, result_dtype, compute, backend, bias_grad))
    else:
        with np.errstate(all="ignore"):  # inf + -inf is NaN, silently
            t = np.asarray(np.add(xs, bs))  # 0-d operands give a scalar
        res = np.asarray(_dispatch.elementwise(
            entry, mode, t, values, t if gs is None else None, backend, gs))
    result = _dispatch._finish(res, out, result_dtype, False)
    if not bias_grad:
        return result
    return result, _as_result(reduce_to_shape(res, bs.shape).astype(result_dtype))


def _biased_direct(kernel_id, mode, arrays, out, params, how):
    """The common case straight to the kernel: x (and grad, and out) C-contiguous ndarrays
    of one native dtype and shape, bias one contiguous row of the last axis's length;
    None where that does not hold or the kernel refuses an overlapping ``out``."""
    x, bias, grad = arrays
    dt = x.dtype if type(x) is np.ndarray else None
    if ((dt is not _F32 and dt is not _F64) or type(bias) is not np.ndarray
            or bias.dtype is not dt or bias.ndim != 1 or not x.ndim):
        return None
    shape = x.shape
    if (shape[-1] != bias.shape[0] or not x.size or not x.flags.c_contiguous
            or not bias.flags.c_contiguous or not _plain(grad, dt, shape, False)
            or not _plain(out, dt, shape, True)):
        return None
    backend, bias_grad = how
    m = shape[-1]
    target = np.empty(shape, dt) if out is None else out
    x2, g2, t2 = x, grad, target
    if len(shape) != 2:  # the kernels take (rows, m); in place stays the very object
        x2 = x.reshape(-1, m)
        g2 = None if grad is None else grad.reshape(-1, m)
        t2 = x2 if target is x else g2 if target is grad else target.reshape(-1, m)
    db = np.empty(m, _F64) if bias_grad else None
    kernel = _fused_kernel(_backends.resolve(backend), "bias", kernel_id, mode)
    if kernel(t2, x2, g2, bias, params, _backends.num_threads, db) is False:
        return None
    return (target, db.astype(dt, copy=False)) if bias_grad else target


def _plain(a, dt, shape, written) -> bool:
    """``a`` absent, or a C-contiguous ndarray of dtype ``dt`` and ``shape`` (writeable)."""
    return a is None or (type(a) is np.ndarray and a.dtype is dt and a.shape == shape
                         and a.flags.c_contiguous and (not written or a.flags.writeable))


def _fast_bias(xs, bs, gs, shape) -> bool:
    """A per-feature bias: one row of the last axis's length, x not broadcast."""
    return (xs.ndim >= 1 and shape == xs.shape and bs.ndim <= xs.ndim and bs.size == shape[-1]
            and (bs.ndim == 0 or bs.shape[-1] == shape[-1]) and (gs is None or gs.shape == shape))


def _biased_fast(kernel_id, mode, arrays, originals, params, how):
    xs, bs, gs = (None if a is None else np.ascontiguousarray(a) for a in arrays)
    out, result_dtype, compute, backend, bias_grad = how
    be = _backends.resolve(backend)
    shape = xs.shape
    m = shape[-1]
    rows = xs.size // m if m else 0
    direct = out is not None and _dispatch._direct_target(
        out, [a for a in (xs, gs, bs) if a is not None] + _dispatch._arrays_among(originals),
        compute)
    target = out if direct else np.empty(shape, compute)
    db = np.zeros(m, _F64) if bias_grad else None
    if target.size:
        kernel = _fused_kernel(be, "bias", kernel_id, mode)
        x2, g2 = xs.reshape(rows, m), None if gs is None else gs.reshape(rows, m)
        same = [a2 for a, a2 in ((xs, x2), (gs, g2)) if direct and a is not None
                and _dispatch._same_view(a, target)]  # in place: that very operand
        args = (x2, g2, bs.reshape(m), params, _backends.num_threads, db)
        if kernel(same[0] if same else target.reshape(rows, m), *args) is False:
            direct, target = False, np.empty(shape, compute)  # out overlaps the bias
            kernel(target.reshape(rows, m), *args)
    result = _dispatch._finish(target, out, result_dtype, direct)
    if not bias_grad:
        return result
    return result, _as_result(db.reshape(bs.shape).astype(result_dtype))
