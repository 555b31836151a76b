"""Input checks, dtype and ``out=`` rules, backend choice, and the call itself.

All validation happens here, once; backends receive clean arrays (see
``_backends`` for the exact guarantees).  The rules are NumPy's:

* float32/float64 keep their dtype; float16 is computed in float32 and returned
  as float16; bool and integer input becomes float64; byte-swapped input is
  read as native; complex, object, string, datetime and long-double input is a
  ``TypeError`` naming the dtype.
* any shape (0-d and empty included) and any strides.
* ``out=`` must be a writeable ndarray of the result's shape and dtype;
  ``out=x`` works in place; a partially overlapping ``out`` still gives the
  right answer (through a temporary).  Without ``out=`` inputs are never written.
* a 0-d input without ``out=`` gives a NumPy scalar, as ufuncs do.
"""
from __future__ import annotations

import numpy as np

from . import _backends
from ._registry import ROW_OPS_BY_NAME

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_F16 = np.dtype(np.float16)
_NATIVE = (_F32, _F64)
_ndarray = np.ndarray

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
    raise TypeError(
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


def _finish(out, result_dtype, scalar):
    if scalar:
        return out[()]
    return out


# ---------------------------------------------------------------- elementwise
def elementwise(entry, mode, x, grad, values, out, backend, func):
    """Run one elementwise kernel of ``entry`` ("forward", "derivative", "backward")."""
    try:  # the registry's cache of validated parameters (keyed with types, see resolve)
        kernel_id, params = entry._cache[(values, tuple(map(type, values)) if values else ())]
    except (KeyError, TypeError):
        kernel_id, params = entry.resolve(values)
    be = _backends.resolve(backend)
    n_threads = _backends.num_threads

    # Fast path: one C-contiguous native float array, out absent or ready to use.
    if grad is None and type(x) is _ndarray:
        dt = x.dtype
        if (dt is _F32 or dt is _F64) and x.flags.c_contiguous:
            kernel = _kernels.get((be, kernel_id, mode)) or _kernel(be, kernel_id, mode)
            if out is None:
                o = np.empty_like(x)
                kernel(o, x, None, params, n_threads)
                return o if x.ndim else o[()]
            if (
                type(out) is _ndarray
                and out.dtype is dt
                and out.shape == x.shape
                and out.flags.carray  # C-contiguous, aligned and writeable
                and (out is x or not np.may_share_memory(out, x))
            ):
                kernel(out, x, None, params, n_threads)
                return out
    return _elementwise_general(be, kernel_id, params, mode, x, grad, out, n_threads, func)


def _elementwise_general(be, kernel_id, params, mode, x, grad, out, n_threads, func):
    x_arg = x
    what = "y" if mode == "backward_y" else "x"
    x, rdt = as_float_array(x, what, func)
    scalar = x.ndim == 0 and out is None
    inputs = [x]
    if grad is not None:
        grad_arg = grad
        grad, gdt = as_float_array(grad, "grad", func)
        rdt = np.result_type(rdt, gdt)
        cdt = _F32 if rdt == _F16 else rdt
        x = x.astype(cdt, copy=False)
        grad = grad.astype(cdt, copy=False)
        if grad.shape != x.shape:
            try:
                shape = np.broadcast_shapes(grad.shape, x.shape)
            except ValueError:
                raise ValueError(
                    f"fastact.{func}(): grad of shape {grad.shape} and {what} of shape "
                    f"{x.shape} do not broadcast together"
                ) from None
            grad, x = np.broadcast_to(grad, shape), np.broadcast_to(x, shape)
        scalar = x.ndim == 0 and out is None
        inputs = [x, grad]
        originals = [x_arg, grad_arg]
    else:
        cdt = x.dtype
        originals = [x_arg]
    shape = x.shape
    if out is not None:
        check_out(out, shape, rdt, func)

    # Elementwise kernels only need *some* common contiguous order:
    # Fortran-ordered arrays are processed through their C-ordered transposes.
    if x.ndim > 1 and all(a.flags.f_contiguous and not a.flags.c_contiguous for a in inputs) and (
        out is None or out.flags.f_contiguous
    ):
        inputs = [a.T for a in inputs]
        target_view = out.T if out is not None else None
        transpose = True
    else:
        inputs = [a if a.flags.c_contiguous else a.copy(order="C") for a in inputs]
        target_view = out
        transpose = False

    if target_view is not None and _direct_target(target_view, inputs + [
        o for o in originals if isinstance(o, _ndarray)
    ], cdt):
        target = target_view
    else:
        target = np.empty(inputs[0].shape, cdt)
    xs = inputs[0]
    gs = inputs[1] if grad is not None else None
    if xs.size:
        _kernel(be, kernel_id, mode)(target, xs, gs, params, n_threads)
    if transpose:
        target = target.T
    if out is None:
        result = target if cdt == rdt else _narrow(target, rdt)
        return _finish(result, rdt, scalar)
    if target is not (target_view):
        with np.errstate(over="ignore"):  # float32 -> float16 overflow is inf, silently
            np.copyto(out, target.T if transpose else target, casting="unsafe")
    return out


# ---------------------------------------------------------------- softmax family
def _normalize_axis(axis, ndim, func):
    if axis is None:
        return None
    if isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise TypeError(f"fastact.{func}(): axis must be an integer or None, got {axis!r}")
    axis = axis.__index__()
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise np.exceptions.AxisError(axis, ndim, f"fastact.{func}()")
    return axis % max(ndim, 1)


def rowwise(op_name, x, grad, axis, where, keepdims, out, backend, func):
    """Run a softmax-family operation along ``axis``."""
    op = ROW_OPS_BY_NAME[op_name]
    be = _backends.resolve(backend)
    n_threads = _backends.num_threads

    # Fast path: the last axis of C-contiguous native float arrays, no mask, out
    # absent or ready to use (the common case costs ~2 us instead of ~20).
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
                      np.may_share_memory(out, x)
                      or (grad is not None and np.may_share_memory(out, grad))))):
                o = out
            else:
                o = None
            if o is not None and rows and n:
                kernel = _kernels.get((be, op_name, "row")) or _row_kernel(be, op_name)
                k_out = o.reshape(rows) if op.reduces else o.reshape(rows, n)
                g2 = grad.reshape(rows, n) if grad is not None else None
                kernel(k_out, x.reshape(rows, n), g2, None, n_threads)
                return o if o.ndim else o[()]

    what = "y" if op.backward else "x"
    x_arg = x
    x, rdt = as_float_array(x, what, func)
    originals = [x_arg]
    if op.backward:
        originals.append(grad)
        grad, gdt = as_float_array(grad, "grad", func)
        rdt = np.result_type(rdt, gdt)
        if grad.shape != x.shape:
            raise ValueError(
                f"fastact.{func}(): grad has shape {grad.shape} but y has shape {x.shape}"
            )
    cdt = _F32 if rdt == _F16 else rdt
    x = x.astype(cdt, copy=False)
    if grad is not None:
        grad = grad.astype(cdt, copy=False)
    orig_shape = x.shape
    ndim = x.ndim
    ax = _normalize_axis(axis, ndim, func)

    # View the arrays as (outer, n, inner), reduced over n, in their own memory order
    # (no transposes): (rows, n) when the axis is the last one.
    if ndim == 0 or ax is None:
        outer, n, inner = 1, x.size, 1
    else:
        outer = int(np.prod(orig_shape[:ax], dtype=np.int64))
        n = orig_shape[ax]
        inner = int(np.prod(orig_shape[ax + 1:], dtype=np.int64))
    k_in = (outer, n) if inner == 1 else (outer, n, inner)

    mask = None
    if where is not None:
        if not op.masked:
            raise TypeError(f"fastact.{func}() takes no where= mask")
        wh = np.asarray(where)
        if wh.dtype != np.bool_:
            raise TypeError(f"fastact.{func}(): where must be a boolean array, got dtype {wh.dtype}")
        try:
            wh = np.broadcast_to(wh, orig_shape)
        except ValueError:
            raise ValueError(
                f"fastact.{func}(): where of shape {wh.shape} does not broadcast to {orig_shape}"
            ) from None
        mask = np.ascontiguousarray(wh).reshape(k_in)

    # The result's shape.
    if op.reduces:
        if ax is None or ndim == 0:
            res_shape = (1,) * ndim if keepdims else ()
        else:
            res_shape = tuple(1 if i == ax else s for i, s in enumerate(orig_shape)) if keepdims \
                else tuple(s for i, s in enumerate(orig_shape) if i != ax)
    else:
        res_shape = orig_shape
    if out is not None:
        check_out(out, res_shape, rdt, func)

    # The kernel's view of the output: like the input, or (outer,) / (outer, inner).
    k_out = (k_in[0],) + k_in[2:] if op.reduces else k_in
    contiguous = [np.ascontiguousarray(a) for a in (x, grad) if a is not None]
    inputs = [a.reshape(k_in) for a in contiguous]
    target = None
    if (out is not None and cdt == rdt and out.flags.c_contiguous and _direct_target(
            out, contiguous + [o for o in originals if isinstance(o, _ndarray)], cdt)):
        target = out.reshape(k_out)
    direct = target is not None
    if target is None:
        target = np.empty(k_out, cdt)
    xs = inputs[0]
    gs = inputs[1] if grad is not None else None
    rows = outer * inner

    if rows and n:
        _row_kernel(be, op_name)(target, xs, gs, mask, n_threads)
    elif rows and op.reduces:  # logsumexp over an empty axis
        target[...] = -np.inf

    result = target.reshape(res_shape)
    if out is None:
        if cdt != rdt:
            result = _narrow(result, rdt)
        return result[()] if result.ndim == 0 else result
    if not direct:
        with np.errstate(over="ignore"):
            np.copyto(out, result, casting="unsafe")
    return out
