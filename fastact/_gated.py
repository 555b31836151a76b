"""Dispatch of the gated linear units ``act(gate) * up`` and their backward pass.

The operands come as one array split in halves along ``axis`` or as two arrays
that broadcast together; either way the kernel sees (rows, m) operands inside
flat C-contiguous buffers (:class:`fastact._fused.Strided`): the halves of a
C-contiguous x split along its last axis are used in place, anything else is
brought to that layout first (a copy).  The common case (C-contiguous ndarrays of one
native dtype, split along the last axis or two of one shape, ``out`` absent or ready) goes
straight to the backend's kernel on whole arrays (``get_gated_direct``), which checks
``out`` against the inputs itself.  Array rules as in ``_dispatch``.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from . import _backends, _dispatch
from ._fused import _F32, _F64, Strided, _as_result, _broadcast_shape, _converted, \
    _fused_kernel, reduce_to_shape

_ndarray = np.ndarray
_may_share_memory = _dispatch._may_share_memory


class _Plan(NamedTuple):
    """Where the gate and up operands are and what the result looks like."""

    gate: Strided
    up: Strided
    rows: int
    m: int
    shape: tuple  # the shape of act(gate) * up, in the kernel's (moved-axis) layout
    axis: Optional[int]  # split form: the split axis (moved to the end), else None
    source_shape: tuple  # split form: x's shape in the kernel's layout


def _split_plan(spec, xs, axis, func):
    """x (compute dtype) split in halves along ``axis``; the axis is moved last."""
    if xs.ndim == 0:
        raise ValueError(f"fastact.{func}(): a 0-d array cannot be split in halves; "
                         "pass two arrays")
    ax = _dispatch._normalize_axis(axis, xs.ndim, func)
    if ax is None:
        raise TypeError(f"fastact.{func}(): axis must be an integer")
    n2 = xs.shape[ax]
    if n2 % 2:
        raise ValueError(f"fastact.{func}(): the split axis {axis} must have even length, "
                         f"got {n2}")
    xm = np.ascontiguousarray(_moved_last(xs, ax))
    h = n2 // 2
    rows = xm.size // n2 if n2 else 0
    flat = xm.reshape(-1)
    halves = (Strided(flat, 0, n2), Strided(flat, h, n2))
    gate, up = halves[spec.gate_half], halves[1 - spec.gate_half]
    return _Plan(gate, up, rows, h, xm.shape[:-1] + (h,), ax, xm.shape)


def _pair_plan(spec, first, second, func):
    """Two operands (first, second) in the compute dtype, broadcast together."""
    shape = _broadcast_shape([first.shape, second.shape], [spec.first, spec.second], func)
    ops = [np.ascontiguousarray(_broadcast_to(a, shape)).reshape(-1) for a in (first, second)]
    n = ops[0].size
    gate, up = ops[spec.gate_half], ops[1 - spec.gate_half]
    return _Plan(Strided(gate, 0, n), Strided(up, 0, n), 1 if n else 0, n, shape, None, shape)


def _prepare(spec, x, other, axis, func, grad=None):
    arrays = [x] + ([other] if other is not None else []) + ([grad] if grad is not None else [])
    names = [spec.first if other is not None else "x"] + \
        ([spec.second] if other is not None else []) + (["grad"] if grad is not None else [])
    converted, result_dtype, compute = _converted(arrays, names, func)
    if other is None:
        plan = _split_plan(spec, converted[0], axis, func)
    else:
        if axis != -1:
            raise TypeError(f"fastact.{func}(): axis= applies to a single array split in halves")
        plan = _pair_plan(spec, converted[0], converted[1], func)
    return plan, converted, result_dtype, compute


def gated(spec, act, x, other, axis, values, out, backend):
    """act(gate) * up (see :class:`fastact._registry.GatedSpec`); ``act`` is the entry of
    ``spec.activation``."""
    if values is act._default_values and act._default_resolved is not None:
        kernel_id, params = act._default_resolved
    else:
        kernel_id, params = act.resolve(values)
    # Fast path: ndarrays of a native float dtype, x split along its last axis or two
    # arrays; the kernel takes the call (C-contiguous arrays of one dtype, two of one
    # shape, out absent or ready and apart from the inputs or one of them) or returns False
    # writing nothing, and the general path below converts, copies, checks and raises.
    if type(x) is _ndarray and (x.dtype is _F32 or x.dtype is _F64) and (
            (other is None and type(axis) is int and (axis == -1 or axis == x.ndim - 1))
            or (axis == -1 and type(other) is _ndarray)):
        result = _run_direct(backend, kernel_id, "forward",
                             (out, x, other, None, spec.gate_half, params))
        if result is not False:
            return result
    return _gated_general(spec, x, other, axis, (kernel_id, params), out, backend)


def _gated_general(spec, x, other, axis, resolved, out, backend):
    """Any input: convert, broadcast, move the split axis last, run, move it back."""
    kernel_id, params = resolved
    func = spec.name
    plan, converted, result_dtype, compute = _prepare(spec, x, other, axis, func)
    shape = _moved_back(plan.shape, plan.axis)
    if out is not None:
        _dispatch.check_out(out, shape, result_dtype, func)
    direct = (out is not None and plan.axis in (None, len(shape) - 1)
              and _dispatch._direct_target(out, [plan.gate.flat, plan.up.flat]
                                           + _dispatch._arrays_among((x, other)), compute))
    target = out if direct else np.empty(plan.shape, compute)
    if target.size:
        kernel = _fused_kernel(_backends.resolve(backend), "gated", kernel_id, "forward")
        kernel((Strided(target.reshape(-1), 0, plan.m),), (plan.gate, plan.up), plan.rows,
               plan.m, params, _backends.num_threads)
    result = target if direct else _moved_back_array(target, plan.axis)
    return _dispatch._finish(result, out, result_dtype, direct)


def gated_backward(spec, act, grad, x, other, axis, values, out, backend):
    """The gradients of both operands of act(gate) * up, from one pass:
    d_gate = grad * up * act'(gate), d_up = grad * act(gate).  Split form: one array
    of x's shape; two-array form: a pair in the order of the operands."""
    if values is act._default_values and act._default_resolved is not None:
        kernel_id, params = act._default_resolved
    else:
        kernel_id, params = act.resolve(values)
    # Fast path: the split form along x's last axis, as in gated()
    if (other is None and type(x) is _ndarray and (x.dtype is _F32 or x.dtype is _F64)
            and type(axis) is int and (axis == -1 or axis == x.ndim - 1)):
        result = _run_direct(backend, kernel_id, "backward",
                             (out, x, None, grad, spec.gate_half, params))
        if result is not False:
            return result
    return _gated_backward_general(spec, grad, x, other, axis, (kernel_id, params), out,
                                   backend)


def _gated_backward_general(spec, grad, x, other, axis, resolved, out, backend):
    """Any input: convert, broadcast, move the split axis last, run, move it back; the
    two-array form's gradients summed over the axes along which an operand broadcast."""
    kernel_id, params = resolved
    func = f"{spec.name}_backward"
    plan, converted, result_dtype, compute = _prepare(spec, x, other, axis, func, grad)
    result_shape = _moved_back(plan.shape, plan.axis)
    try:
        g_full = _broadcast_to(converted[-1], result_shape)
    except ValueError:
        raise ValueError(f"fastact.{func}(): grad of shape {converted[-1].shape} does not "
                         f"match the output's shape {result_shape}") from None
    g = np.ascontiguousarray(_moved_last(g_full, plan.axis)).reshape(-1)
    direct = plan.axis is not None and _direct_split(
        out, plan, [plan.gate.flat, g] + _dispatch._arrays_among((x, grad)), result_dtype,
        compute, func)
    if plan.axis is not None:
        grads = out if direct else np.empty(plan.source_shape, compute)
    else:
        grads = [np.empty(plan.m, compute) for _ in range(2)]
    if plan.rows and plan.m:
        _backward_kernel(spec, backend, kernel_id, params, plan, grads, g)
    if direct:
        return out
    if plan.axis is not None:
        return _finish_one(_moved_back_array(grads, plan.axis), out, result_dtype, func)
    first, second = (converted[0], converted[1])
    d_first, d_second = (a.reshape(plan.shape) for a in (
        (grads[1], grads[0]) if spec.gate_half else (grads[0], grads[1])))
    return _finish_pair((reduce_to_shape(d_first, first.shape) if first.shape != plan.shape
                         else d_first,
                         reduce_to_shape(d_second, second.shape) if second.shape != plan.shape
                         else d_second), out, result_dtype, func)


_directs: dict = {}  # (backend module, kernel id, mode) -> kernel on whole arrays


def _run_direct(backend, kernel_id, mode, args):
    """The whole-array kernel of (backend, kernel id, mode) on ``args`` and the thread
    count: its result, or False where the call is not its own."""
    be = _backends.resolve(backend)
    kernel = _directs.get((be, kernel_id, mode)) or _direct_kernel(be, kernel_id, mode)
    return kernel(*args, _backends.num_threads)


def _direct_kernel(be, kernel_id, mode):
    """The backend's gated kernel on whole arrays (``get_gated_direct``: the contract of
    ``fastact._cython.get_gated_direct``), or one built here on its Strided kernel."""
    getter = getattr(be, "get_gated_direct", None)
    kernel = getter(kernel_id, mode) if getter is not None else None
    if kernel is None:
        kernel = _strided_direct(_fused_kernel(be, "gated", kernel_id, mode))
    _directs[be, kernel_id, mode] = kernel
    return kernel


def _strided_direct(kernel):
    """A whole-array gated kernel (the contract of ``fastact._cython.get_gated_direct``)
    from a Strided one."""

    def direct(out, x, other, grad, gate_half, params, n_threads):
        shape = _direct_shape(x, other, grad)
        if shape is None:
            return False
        if out is None:
            out = np.empty(shape, x.dtype)
        elif not (type(out) is _ndarray and out.dtype is x.dtype and out.shape == shape
                  and out.flags.carray):
            return False
        for a in (x, other, grad):
            if a is not None and a is not out and _may_share_memory(a, out):
                return False
        if out.size:
            kernel(*_strided_operands(out, x, other, grad, gate_half), params, n_threads)
        return out

    return direct


def _direct_shape(x, other, grad):
    """The result's shape of a whole-array gated call (``_strided_direct``), or None when
    the operands are not C-contiguous arrays of x's native float dtype in the call's shapes."""
    dt = x.dtype
    if (dt is not _F32 and dt is not _F64) or not x.ndim or not (x.flags.c_contiguous
                                                                and x.flags.aligned):
        return None
    if other is not None:
        same = (grad is None and type(other) is _ndarray and other.dtype is dt
                and other.shape == x.shape and other.flags.c_contiguous and other.flags.aligned)
        return x.shape if same else None
    n2 = x.shape[-1]
    if n2 % 2:
        return None
    half = x.shape[:-1] + (n2 // 2,)
    if grad is None:
        return half
    same = (type(grad) is _ndarray and grad.dtype is dt and grad.shape == half
            and grad.flags.c_contiguous and grad.flags.aligned)
    return x.shape if same else None


def _strided_operands(out, x, other, grad, gate_half):
    """(outs, ins, rows, m) of a Strided gated kernel for a whole-array call."""
    flat = x.reshape(-1)
    if other is None:
        n2 = x.shape[-1]
        m = n2 // 2
        halves = (Strided(flat, 0, n2), Strided(flat, m, n2))
        rows = x.size // n2
    else:
        m = x.size
        halves = (Strided(flat, 0, m), Strided(other.reshape(-1), 0, m))
        rows = 1
    ins = (halves[gate_half], halves[1 - gate_half])
    flat_out = out.reshape(-1)
    if grad is None:
        return (Strided(flat_out, 0, m),), ins, rows, m
    halves = (Strided(flat_out, 0, 2 * m), Strided(flat_out, m, 2 * m))
    return ((halves[gate_half], halves[1 - gate_half]),
            ins + (Strided(grad.reshape(-1), 0, m),), rows, m)


def _backward_kernel(spec, backend, kernel_id, params, plan, grads, g):
    """The backward kernel into ``grads``: one array of the split input's layout, or the
    pair (d_gate, d_up) of flat arrays (two-array form); ``g`` the flat gradient."""
    if isinstance(grads, list):
        d_gate, d_up = (Strided(a, 0, plan.m) for a in grads)
    else:
        flat = grads.reshape(-1)
        halves = (Strided(flat, 0, 2 * plan.m), Strided(flat, plan.m, 2 * plan.m))
        d_gate, d_up = halves[spec.gate_half], halves[1 - spec.gate_half]
    kernel = _fused_kernel(_backends.resolve(backend), "gated", kernel_id, "backward")
    kernel((d_gate, d_up), (plan.gate, plan.up, Strided(g, 0, plan.m)), plan.rows, plan.m,
           params, _backends.num_threads)


def _direct_split(out, plan, inputs, result_dtype, compute, func):
    """The split form's gradients may be written straight into ``out``: split along its
    last axis, C-contiguous in the compute dtype, overlapping no input or being one."""
    if out is None or plan.axis != len(plan.source_shape) - 1:
        return False
    _dispatch.check_out(out, plan.source_shape, result_dtype, func)
    return _dispatch._direct_target(out, inputs, compute)


def _moved_back(shape, axis):
    if axis is None or axis == len(shape) - 1:
        return shape
    return shape[:axis] + shape[-1:] + shape[axis:-1]


def _moved_back_array(a, axis):
    return a if axis is None or axis == a.ndim - 1 else np.moveaxis(a, -1, axis)


def _moved_last(a, axis):
    return a if axis is None or axis == a.ndim - 1 else np.moveaxis(a, axis, -1)


def _broadcast_to(a, shape):
    """np.broadcast_to, skipped (it costs microseconds) when ``a`` has the shape."""
    return a if a.shape == shape else np.broadcast_to(a, shape)


def _finish_one(result, out, result_dtype, func):
    if out is not None:
        _dispatch.check_out(out, result.shape, result_dtype, func)
    return _dispatch._finish(result, out, result_dtype, False)


def _finish_pair(results, out, result_dtype, func):
    if out is None:
        return tuple(_as_result(np.asarray(_dispatch._finish(np.asarray(r), None,
                                                                result_dtype, False)))
                     for r in results)
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError(f"fastact.{func}(): with two operands, out must be a pair of arrays")
    return tuple(_finish_one(np.asarray(r), o, result_dtype, func)
                 for r, o in zip(results, out))
