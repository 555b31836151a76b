"""Input checks, dtype and ``out=`` rules, backend choice, and the call itself.

All validation happens here, once; backends receive clean arrays (see
``_backends`` for the exact guarantees).  The rules are NumPy's:

* float32/float64 keep their dtype; float16 and bfloat16 (ml_dtypes) are computed in
  float32 and returned in their own dtype; bool and integer input becomes float64; byte-swapped input is
  read as native; complex, object, string, datetime and long-double input is a
  ``TypeError`` naming the dtype.
* any shape (0-d and empty included) and any strides.
* objects with ``__array_ufunc__`` that are not plain ndarrays (dask, xarray, masked
  arrays, ...) go through ``fastact.ufuncs`` and keep their type (``_interop``).
* ``out=`` must be a writeable ndarray of the result's shape and dtype;
  ``out=x`` works in place; a partially overlapping ``out`` still gives the
  right answer (through a temporary).  Without ``out=`` inputs are never written.
* a 0-d input without ``out=`` gives a NumPy scalar, as ufuncs do.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _backends, _interop
from ._registry import ROW_OPS_BY_NAME

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_F16 = np.dtype(np.float16)
_NATIVE = (_F32, _F64)
_ndarray = np.ndarray
# np.may_share_memory without its __array_function__ dispatch (the fast paths pass ndarrays)
_may_share_memory = getattr(np.may_share_memory, "_implementation", np.may_share_memory)

# (backend module, kernel id, mode) -> kernel callable
_kernels: dict = {}


def _kernel(backend, kernel_id, mode):
    key = (backend, kernel_id, mode)
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = backend.get_elementwise(kernel_id, mode)
    return k


def _row_kernel(backend, op):
    key = (backend, op, "row")
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = backend.get_rowwise(op)
    return k


# ---------------------------------------------------------------- conversions
def as_float_array(a, what: str, func: str):
    """(array in its compute dtype, result dtype) for an input argument."""
    arr = a if type(a) is _ndarray else np.asarray(a)
    dt = arr.dtype
    if dt is _F32 or dt is _F64 or dt in _NATIVE:
        return arr, dt
    kind = dt.kind
    if kind == "f":
        if dt.itemsize == 2:
            return arr.astype(_F32), _F16
        if dt.itemsize in (4, 8):  # byte-swapped
            native = dt.newbyteorder("=")
            return arr.astype(native), native
    elif kind in "biu":
        return arr.astype(_F64), _F64
    elif dt.name == "bfloat16" and dt.itemsize == 2:  # ml_dtypes: computed like float16
        return arr.astype(_F32), dt
    raise dtype_error(dt, what, func)


def dtype_error(dt, what: str, func: str) -> TypeError:
    """The TypeError for an unsupported input dtype, naming it."""
    return TypeError(
        f"fastact.{func}(): {what} has dtype {dt} ({_dtype_word(dt)}), which fastact does not "
        f"support; use float32 or float64 (float16, bool and integer input is converted)"
    )


def _dtype_word(dt) -> str:
    return {
        "c": "complex", "O": "object", "U": "string", "S": "bytes", "V": "structured/void",
        "M": "datetime", "m": "timedelta", "f": "long double",
    }.get(dt.kind, dt.kind)


def check_out(out, shape, dtype, func: str):
    if type(out) is not _ndarray and not isinstance(out, _ndarray):
        raise TypeError(f"fastact.{func}(): out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(
            f"fastact.{func}(): out has shape {out.shape}, but the result has shape {shape}"
        )
    if out.dtype != dtype:
        raise TypeError(
            f"fastact.{func}(): out has dtype {out.dtype}, but the result has dtype {dtype}"
        )
    if not out.flags.writeable:
        raise ValueError(f"fastact.{func}(): out is read-only")


def _same_view(a, b) -> bool:
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.strides == b.strides
        and a.shape == b.shape
    )


def _direct_target(out, inputs, dtype):
    """True when kernels may write straight into ``out``.

    ``out`` must be C-contiguous in the compute dtype and either not overlap
    the inputs or be one of them exactly (in place).
    """
    if out.dtype != dtype or not out.flags.c_contiguous:
        return False
    for a in inputs:
        if a is not None and a is not out and np.may_share_memory(a, out) and not _same_view(a, out):
            return False
    return True


def _narrow(a, dtype):
    """a cast to the (narrower) result dtype; float16 overflow gives inf without a warning."""
    with np.errstate(over="ignore"):
        return a.astype(dtype)


def _finish(result, out, result_dtype, direct):
    """What a call returns: ``result`` in the result dtype (a NumPy scalar when 0-d), or
    ``out``, into which ``result`` is copied unless the kernel wrote there (``direct``)."""
    if out is None:
        if result.dtype != result_dtype:
            result = _narrow(result, result_dtype)
        return result[()] if result.ndim == 0 else result
    if not direct:
        with np.errstate(over="ignore"):  # float32 -> float16 overflow is inf, silently
            np.copyto(out, result, casting="unsafe")
    return out


def _arrays_among(objects) -> list:
    return [o for o in objects if isinstance(o, _ndarray)]


# ---------------------------------------------------------------- elementwise
_FUNC_OF_MODE = {"derivative": "derivative", "backward": "backward", "backward_y": "backward"}


def elementwise(entry, mode, x, values, out, backend, grad=None):
    """Run one elementwise kernel of ``entry`` in ``mode`` (see ``_registry.MODES``).

    ``values`` are the parameter values in declaration order; ``grad`` is given
    in the backward modes.  (A trailing default, not a keyword-only parameter: CPython
    fills keyword-only defaults on every call, at a cost; see docs/tuning.md.)
    """
    if values is entry._default_values and entry._default_resolved is not None:
        kernel_id, params = entry._default_resolved
    else:
        try:  # the registry's cache of validated parameters (keyed with types, see resolve)
            kernel_id, params = entry._cache[(values, tuple(map(type, values)) if values else ())]
        except (KeyError, TypeError):
            kernel_id, params = entry.resolve(values)
    be = _backends.resolve(backend)
    n_threads = _backends.num_threads

    # Fast path: C-contiguous native float arrays of one dtype and shape, out absent or
    # ready to use; a kernel returns False, writing nothing, where out overlaps an input
    # it is not (the general path below copies).
    if type(x) is _ndarray:
        dt = x.dtype
        if (dt is _F32 or dt is _F64) and x.flags.c_contiguous and (
                grad is None or (type(grad) is _ndarray and grad.dtype is dt
                                 and grad.shape == x.shape and grad.flags.c_contiguous)):
            kernel = _kernels.get((be, kernel_id, mode)) or _kernel(be, kernel_id, mode)
            if out is None:
                o = np.empty_like(x)
                kernel(o, x, grad, params, n_threads)
                return o if x.ndim else o[()]
            if (
                type(out) is _ndarray
                and out.dtype is dt
                and out.shape == x.shape
                and out.flags.carray  # C-contiguous, aligned and writeable
                and kernel(out, x, grad, params, n_threads) is not False
            ):
                return out

    if _interop.is_foreign(x) or grad is not None and _interop.is_foreign(grad):
        return _interop.elementwise(_ufunc_for(kernel_id, mode, x), params, x, grad, out)
    kernel_call = (be, kernel_id, params, n_threads)
    return _elementwise_general(entry, mode, kernel_call, x, grad, out)


def _ufunc_for(kernel_id, mode, x):
    """The ufunc computing a non-ndarray ``x`` (f' from y has none: a TypeError)."""
    if mode == "backward_y":
        raise TypeError(f"fastact.backward(y=...) takes NumPy arrays; for {type(x).__name__} "
                        f"input pass the forward input x= instead")
    from . import ufuncs  # imported on first use: it loads the compiled backend

    return ufuncs.ufunc_for(kernel_id, mode)


def _elementwise_general(entry, mode, kernel_call, x, grad, out):
    """Any input: convert, broadcast, bring to one memory order, run, convert back.

    ``kernel_call`` is ``(backend, kernel id, params, n_threads)``."""
    func = entry.name if mode == "forward" else _FUNC_OF_MODE[mode]
    arrays, originals, result_dtype, compute_dtype = _prepare_elementwise(x, grad, mode, func)
    if out is not None:
        check_out(out, arrays[0].shape, result_dtype, func)
    # Elementwise kernels need only *some* common contiguous order: Fortran-ordered
    # operands are processed through their C-ordered transposes, others are copied.
    transposed = arrays[0].ndim > 1 and (out is None or out.flags.f_contiguous) and all(
        a.flags.f_contiguous and not a.flags.c_contiguous for a in arrays)
    if transposed:
        arrays, view = [a.T for a in arrays], (None if out is None else out.T)
    else:
        arrays, view = [a if a.flags.c_contiguous else a.copy(order="C") for a in arrays], out
    direct = view is not None and _direct_target(
        view, arrays + _arrays_among(originals), compute_dtype)
    # an input that is out's very view passes as the target itself (kernels test in place
    # by identity)
    target = (next((a for a in arrays if _same_view(a, view)), view) if direct
              else np.empty(arrays[0].shape, compute_dtype))
    if target.size:
        be, kernel_id, params, n_threads = kernel_call
        ran = _kernel(be, kernel_id, mode)(target, arrays[0],
                                           arrays[1] if len(arrays) > 1 else None,
                                           params, n_threads)
        if ran is False:  # a direct target is an input itself or apart from them all
            raise RuntimeError(f"fastact.{func}: the kernel refused its own output array")
    return _finish(target.T if transposed else target, out, result_dtype, direct)


def _prepare_elementwise(x, grad, mode, func):
    """``(arrays, originals, result dtype, compute dtype)``: x (and grad) in the compute
    dtype and broadcast together; ``originals`` are the caller's objects."""
    what = "y" if mode == "backward_y" else "x"
    xs, result_dtype = as_float_array(x, what, func)
    if grad is None:
        return [xs], [x], result_dtype, xs.dtype
    gs, grad_dtype = as_float_array(grad, "grad", func)
    result_dtype = np.result_type(result_dtype, grad_dtype)
    compute_dtype = _compute_dtype(result_dtype)
    xs = xs.astype(compute_dtype, copy=False)
    gs = gs.astype(compute_dtype, copy=False)
    if gs.shape != xs.shape:
        try:
            shape = np.broadcast_shapes(gs.shape, xs.shape)
        except ValueError:
            raise ValueError(
                f"fastact.{func}(): grad of shape {gs.shape} and {what} of shape "
                f"{xs.shape} do not broadcast together"
            ) from None
        gs, xs = np.broadcast_to(gs, shape), np.broadcast_to(xs, shape)
    return [xs, gs], [x, grad], result_dtype, compute_dtype


# ---------------------------------------------------------------- softmax family
class _Along(NamedTuple):
    """Where a softmax-family operation works: its axis, its mask, the reduced axis kept."""

    axis: object
    where: object
    keepdims: bool


class _RowLayout(NamedTuple):
    """The kernel's view of the arrays, and the shape of the result."""

    kernel_in: tuple  # (outer, n), or (outer, n, inner) when the axis is not the last
    kernel_out: tuple  # kernel_in, or (outer,) / (outer, inner) for a reduction
    result_shape: tuple


def rowwise(op_name, x, grad, axis, out, backend, where=None, keepdims=False):
    """Run a softmax-family operation along ``axis`` (``grad`` for the backward ops)."""
    op = ROW_OPS_BY_NAME[op_name]
    be = _backends.resolve(backend)
    n_threads = _backends.num_threads

    # Fast path: the last axis of C-contiguous native float arrays, no mask, out
    # absent or ready to use.
    if where is None and type(x) is _ndarray and (axis == -1 or axis == x.ndim - 1) \
            and type(axis) is int and x.ndim:
        dt = x.dtype
        if (dt is _F32 or dt is _F64) and x.flags.c_contiguous and (
                grad is None or (type(grad) is _ndarray and grad.dtype is dt
                                 and grad.shape == x.shape and grad.flags.c_contiguous)):
            shape = x.shape
            n = shape[-1]
            rows = x.size // n if n else 0
            res_shape = shape[:-1] + (1,) if op.reduces and keepdims else \
                shape[:-1] if op.reduces else shape
            if out is None:
                o = np.empty(res_shape, dt)
            elif (type(out) is _ndarray and out.dtype is dt and out.shape == res_shape
                  and out.flags.carray
                  and (out is x or out is grad or not (
                      _may_share_memory(out, x)
                      or (grad is not None and _may_share_memory(out, grad))))):
                o = out
            else:
                o = None
            if o is not None and rows and n:
                kernel = _kernels.get((be, op_name, "row")) or _row_kernel(be, op_name)
                # the kernel's (rows, n) and (rows,) views: 2-D arrays are already
                if op.reduces:
                    k_out = o if o.ndim == 1 else o.reshape(rows)
                else:
                    k_out = o if o.ndim == 2 else o.reshape(rows, n)
                x2 = x if x.ndim == 2 else x.reshape(rows, n)
                g2 = grad if grad is None or grad.ndim == 2 else grad.reshape(rows, n)
                kernel(k_out, x2, g2, None, n_threads)
                return o if o.ndim else o[()]

    along = _Along(axis, where, keepdims)
    if _interop.any_dask_array(x, grad, where):
        return _interop.rowwise_dask(op, x, grad, along, out, backend)
    return _rowwise_general(op, (be, n_threads), x, grad, out, along)


def _rowwise_general(op, kernel_call, x, grad, out, along):
    """Any input and axis: convert, view as (outer, n, inner), run, convert back.

    ``kernel_call`` is ``(backend, n_threads)``."""
    _interop.reject_rowwise(op.name, x, grad)
    arrays, originals, result_dtype, compute_dtype = _prepare_rowwise(op, x, grad)
    shape = arrays[0].shape
    ax = _normalize_axis(along.axis, len(shape), op.name)
    layout = _row_layout(op, shape, ax, along.keepdims)
    mask = _row_mask(op, along.where, shape, layout.kernel_in)
    if out is not None:
        check_out(out, layout.result_shape, result_dtype, op.name)
    contiguous = [np.ascontiguousarray(a) for a in arrays]
    direct = (out is not None and compute_dtype == result_dtype and out.flags.c_contiguous
              and _direct_target(out, contiguous + _arrays_among(originals), compute_dtype))
    target = out.reshape(layout.kernel_out) if direct else np.empty(layout.kernel_out,
                                                                    compute_dtype)
    inputs = [a.reshape(layout.kernel_in) for a in contiguous]
    if target.size and layout.kernel_in[1]:
        be, n_threads = kernel_call
        _row_kernel(be, op.name)(target, inputs[0], inputs[1] if op.backward else None, mask,
                                 n_threads)
    elif target.size and op.reduces:  # logsumexp over an empty axis
        target[...] = -np.inf
    return _finish(target.reshape(layout.result_shape), out, result_dtype, direct)


def _prepare_rowwise(op, x, grad):
    """``(arrays, originals, result dtype, compute dtype)``: x (and, for the backward
    ops, grad of the same shape) in the compute dtype."""
    xs, result_dtype = as_float_array(x, "y" if op.backward else "x", op.name)
    arrays = [xs]
    if op.backward:
        gs, grad_dtype = as_float_array(grad, "grad", op.name)
        result_dtype = np.result_type(result_dtype, grad_dtype)
        if gs.shape != xs.shape:
            raise ValueError(
                f"fastact.{op.name}(): grad has shape {gs.shape} but y has shape {xs.shape}"
            )
        arrays.append(gs)
    compute_dtype = _compute_dtype(result_dtype)
    arrays = [a.astype(compute_dtype, copy=False) for a in arrays]
    return arrays, [x, grad], result_dtype, compute_dtype


def _compute_dtype(result_dtype):
    """float16 and bfloat16 results are computed in float32; float32/float64 in themselves."""
    return _F32 if _interop.narrow_dtype(result_dtype) else result_dtype


def _normalize_axis(axis, ndim, func):
    if axis is None:
        return None
    if isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise TypeError(f"fastact.{func}(): axis must be an integer or None, got {axis!r}")
    axis = axis.__index__()
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise np.exceptions.AxisError(axis, ndim, f"fastact.{func}()")
    return axis % max(ndim, 1)


def _row_layout(op, shape, ax, keepdims) -> _RowLayout:
    """The arrays seen as (outer, n, inner), reduced over n, in their own memory order
    (no transposes): (rows, n) when the axis is the last one."""
    ndim = len(shape)
    if ndim == 0 or ax is None:
        outer, n, inner = 1, math.prod(shape), 1
    else:
        outer, n, inner = math.prod(shape[:ax]), shape[ax], math.prod(shape[ax + 1:])
    kernel_in = (outer, n) if inner == 1 else (outer, n, inner)
    if not op.reduces:
        return _RowLayout(kernel_in, kernel_in, shape)
    kernel_out = (outer,) + kernel_in[2:]
    if ax is None or ndim == 0:
        result_shape = (1,) * ndim if keepdims else ()
    elif keepdims:
        result_shape = shape[:ax] + (1,) + shape[ax + 1:]
    else:
        result_shape = shape[:ax] + shape[ax + 1:]
    return _RowLayout(kernel_in, kernel_out, result_shape)


def _row_mask(op, where, shape, kernel_in):
    """The ``where=`` mask broadcast to ``shape``, C-contiguous, in the kernel's view."""
    if where is None:
        return None
    if not op.masked:
        raise TypeError(f"fastact.{op.name}() takes no where= mask")
    wh = np.asarray(where)
    if wh.dtype != np.bool_:
        raise TypeError(f"fastact.{op.name}(): where must be a boolean array, got dtype {wh.dtype}")
    try:
        wh = np.broadcast_to(wh, shape)
    except ValueError:
        raise ValueError(
            f"fastact.{op.name}(): where of shape {wh.shape} does not broadcast to {shape}"
        ) from None
    return np.ascontiguousarray(wh).reshape(kernel_in)
