"""Compiled pieces around one scalar formula of ``fastact._numba._formulas``.

For a formula ``F(x, a, b)`` (``a``, ``b`` the numeric parameters cast to x's
type) and whether the mode multiplies by ``grad``:

* ``scalar_call(x, g, a, b)``: the value the Numba backend stores for one element,
  ``F(x)`` (or ``g * F(x)``), NaN where x is NaN, rounded to ``dtype``;
* ``new_array(x, g, a, b)`` and ``into(x, g, a, b, out)``: the same over arrays
  of any shape and layout (``g`` has x's shape), a new C array or ``out``.

Results are bit-for-bit the backend's: the same formula, NaN rule and
expression, compiled with the backend's options (``error_model="numpy"``, no
fastmath) whatever the caller's options are.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

_JIT = dict(nogil=True, error_model="numpy", boundscheck=False)


def flat(a, dtype):  # pragma: no cover - only ever compiled
    """``a`` as a 1-D C array of ``dtype`` (a view when it already is one)."""
    raise NotImplementedError


@overload(flat, inline="always")
def _flat(a, dtype):
    if a.dtype != dtype.dtype:
        return lambda a, dtype: a.ravel().astype(dtype)
    if a.layout == "C":
        return lambda a, dtype: a.reshape(a.size)
    return lambda a, dtype: a.ravel()  # a copy unless a is contiguous


@njit(**_JIT)
def apart(a, b):
    """The C arrays a and b share no byte (or are the same buffer: an in-place call)."""
    pa, pb = a.ctypes.data, b.ctypes.data
    return pa == pb or pa + a.size * a.itemsize <= pb or pb + b.size * b.itemsize <= pa


def make(formula, takes_grad: bool, dtype):
    """``(scalar_call, new_array, into)`` for ``formula`` computing in ``dtype``
    (``scalar_call`` casts its scalars, parameters included, to ``dtype`` first)."""
    from .._formulas import T  # imported on first use: registering imports no formula

    @njit(inline="always", **_JIT)
    def scalar(x, g, a, b):
        v = formula(x, a, b)
        v = x if x != x else v
        return T(g * v if takes_grad else v, x)

    # every layer is inlined (Numba IR) into the overload's implementation: the
    # loop body is then the backend's, and the formula is optimized once
    @njit(inline="always", **_JIT)
    def loop(out, x, g, a, b):
        for i in range(x.size):
            out[i] = scalar(x[i], g[i], a, b)

    @njit(inline="always", **_JIT)
    def new_array(x, g, a, b):
        if g.shape != x.shape:
            raise ValueError("fastact: grad and x must have the same shape")
        res = np.empty(x.shape, dtype)
        loop(res.reshape(res.size), flat(x, dtype), flat(g, dtype), T(a, dtype(0)), T(b, dtype(0)))
        return res

    @njit(inline="always", **_JIT)
    def into(x, g, a, b, out):
        if out.shape != x.shape or g.shape != x.shape:
            raise ValueError("fastact: out (and grad) must have the shape of x")
        xf, gf = flat(x, dtype), flat(g, dtype)
        of = flat(out, dtype)
        if of.ctypes.data == out.ctypes.data and apart(of, xf) and apart(of, gf):
            loop(of, xf, gf, T(a, dtype(0)), T(b, dtype(0)))  # of is out itself
        else:  # out not C-contiguous, or partly overlapping an input: through a temporary
            out[...] = new_array(x, g, a, b)
        return out

    @njit(inline="always", **_JIT)
    def scalar_call(x, g, a, b):
        xd = dtype(x)
        return scalar(xd, dtype(g), T(a, xd), T(b, xd))

    return scalar_call, new_array, into
