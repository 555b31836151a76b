"""Overloads of the softmax family for users' ``@numba.njit`` code.

``softmax``, ``softmin``, ``log_softmax`` (``x, axis=-1, out=None``),
``logsumexp`` (``x, axis=-1, keepdims=False, out=None``) and the backward ops
(``grad, y, axis=-1, out=None``) on 1-D and 2-D arrays along the last axis
(``axis`` must be -1 or ``x.ndim - 1``; ``axis=None`` on 1-D).  ``where=`` is
not supported in compiled code.  Each row runs the Numba backend's row driver
(``fastact._numba.softmax._rows``), whose bits do not depend on the plan: the
results are bit-for-bit those of ``backend="numba"``.  logsumexp of a 1-D
array is a scalar.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit, types
from numba.core.errors import TypingError

from ..._registry import ROW_OPS
from . import _kernels, _typing

_OPTIONS = dict(prefer_literal=True, jit_options=dict(nogil=True, error_model="numpy"))
_JIT = dict(nogil=True, error_model="numpy")
_TAIL = "out=None, backend=None"
_SIGNATURES = {"forward": f"x, axis=-1, where=None, {_TAIL}",
               "reduce": f"x, axis=-1, keepdims=False, where=None, {_TAIL}",
               "backward": f"grad, y, axis=-1, {_TAIL}"}


@njit(**_JIT)
def check_axis(axis, ndim):
    """ValueError unless axis names the last axis."""
    if axis != -1 and axis != ndim - 1:
        raise ValueError("fastact: in compiled code the softmax family works along the last axis")


@functools.lru_cache(maxsize=None)
def _runner(op_name: str, ndim: int, dtype, keepdims: bool):
    """``run(x, g)``: the op over the rows of ``x`` (y for the backward ops), a new array
    (a scalar for logsumexp of a 1-D array)."""
    from ..softmax import _OPS
    from ..softmax._rows import LOGSUMEXP, backward_rows, forward_rows_any

    kind, negate, forward, _ = _OPS[op_name]  # constants: each runner compiles its kind's code
    reduces = kind == LOGSUMEXP

    @njit(**_JIT)
    def as_rows(a):
        shape = (1, a.shape[0]) if ndim == 1 else (a.shape[0], a.shape[ndim - 1])
        return _kernels.flat(a, dtype).reshape(shape)

    @njit(**_JIT)
    def run(x, g):
        x2, g2 = as_rows(x), as_rows(g)
        if g2.shape != x2.shape:
            raise ValueError("fastact: grad and y must have the same shape")
        res = np.empty((x2.shape[0], 1) if reduces else x2.shape, dtype)
        if forward:
            forward_rows_any((kind, negate, res, x2), None, 0, x2.shape[0])
        else:
            backward_rows((kind, negate, res, x2), g2, 0, x2.shape[0])
        return res

    @njit(**_JIT)
    def scalar(x, g):
        return run(x, g)[0, 0]

    @njit(**_JIT)
    def column(x, g):
        return run(x, g)

    @njit(**_JIT)
    def vector(x, g):
        r = run(x, g)
        return r.reshape(r.shape[0])

    @njit(**_JIT)
    def like_x(x, g):
        return run(x, g).reshape(x.shape)

    if not reduces:
        return like_x
    return scalar if ndim == 1 else (column if keepdims else vector)


@njit(**_JIT)
def store(out, result):
    """Copy result into out (ValueError if the shapes differ); returns out."""
    if out.shape != result.shape:
        raise ValueError("fastact: out has the wrong shape")
    out[...] = result
    return out


def _typer(op, kind: str, args: dict):
    x = args["y"] if kind == "backward" else args["x"]
    x_name = "y" if kind == "backward" else "x"
    g_name = "grad" if kind == "backward" else "x"
    if not isinstance(x, types.Array) or x.ndim not in (1, 2):
        raise TypingError(f"fastact.{op.name}(): compiled code takes 1-D or 2-D arrays")
    dtype = _typing.compute_dtype([x, args[g_name]], op.name)
    if _typing.given(args.get("where")):
        raise TypingError(f"fastact.{op.name}(): where= is not supported in compiled code")
    axis = args["axis"]
    if isinstance(axis, (types.NoneType, types.Omitted)) or axis is None:
        if x.ndim != 1:
            raise TypingError(f"fastact.{op.name}(): axis=None needs a 1-D array here")
        axis_check = ""
    else:
        axis_check = f"    _check_axis(axis, {x.ndim})\n"
    keepdims = args.get("keepdims", False)
    keepdims = getattr(keepdims, "literal_value", keepdims)
    if not isinstance(keepdims, bool):
        raise TypingError(f"fastact.{op.name}(): keepdims must be a literal bool")
    run = _runner(op.name, x.ndim, dtype, keepdims)
    call = f"_run({x_name}, {g_name})"
    if _typing.given(args["out"]):
        if op.reduces and x.ndim == 1:
            raise TypingError(f"fastact.{op.name}(): out= needs a 2-D input here")
        call = f"_store(out, {call})"
    namespace = {"_run": run, "_store": store, "_check_axis": check_axis}
    exec(f"def impl({_SIGNATURES[kind]}):\n{axis_check}    return {call}\n",  # noqa: S102
         namespace)
    return namespace["impl"]


def register() -> None:
    """Overload every softmax-family function of the registry."""
    import fastact

    for op in ROW_OPS:
        kind = "backward" if op.backward else ("reduce" if op.reduces else "forward")
        _typing.overload_from_source(getattr(fastact, op.name), _SIGNATURES[kind],
                                     functools.partial(_typer, op, kind), _OPTIONS)
