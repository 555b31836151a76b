"""Sums of the softmax family, in an order that depends on the length only.

Float partial sums of four elements in the array's type, each added in float64;
re-association is allowed inside these loops only (so they vectorize), and
since the grouping is fixed by ``n`` the bits do not depend on threads or plan.
Each sum is optimized alone (vectorized in its own order), then linked into its
callers as it is: no machine code, Python wrapper or cache entry of its own.
Accuracy: docs/softmax.md, "Sums".
"""
from __future__ import annotations

import numpy as np
from numba.core import types
from numba.extending import intrinsic, overload

from .._cache import jit, linked
from ._exp import LANES
from .. import _vmath
from ._alloc import local_zeros, zeros
from ._kind import LINK_ONLY

_SUM_JIT = dict(nogil=True, error_model="numpy", fastmath={"reassoc"})


@intrinsic
def add_reassoc(typingctx, a, b):
    """a + b (float64) that a loop's sum may re-associate (the ``reassoc`` flag on this
    add only): a loop summing by it vectorizes, the loop's other float operations stay
    as written."""
    if a != types.float64 or b != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1], flags=("reassoc",))

    return types.float64(types.float64, types.float64), codegen


@linked(optimized=True, **_SUM_JIT)
def sum_run(a, lo, hi):
    """sum(a[lo:hi]) in float64."""
    s = 0.0
    v = a[lo:hi]
    for i in range(v.shape[0]):
        s += np.float64(v[i])
    return s


@linked(optimized=True, **_SUM_JIT)
def sum_pos(a, n):
    """softmax's sum(a[0:n]) of e >= 0: the run cut into four quarters of
    L = n // 4, float sums (a_i + a_{i+L}) + (a_{i+2L} + a_{i+3L}) in a's type
    (< 3 2**-24 relative in float32), each added in float64; the last n - 4L
    elements in float64."""
    q = n // 4
    q0 = a[0:q]
    q1 = a[q:2 * q]
    q2 = a[2 * q:3 * q]
    q3 = a[3 * q:4 * q]
    s = 0.0
    for i in range(q):
        s += np.float64((q0[i] + q1[i]) + (q2[i] + q3[i]))
    return s + sum_run(a, 4 * q, n)


def _term(a, b, i):
    """a[i] (b None) or a[i] * b[i], in a's type."""


@overload(_term, inline="always", **LINK_ONLY)
def _term_impl(a, b, i):
    if isinstance(b, types.NoneType):
        return lambda a, b, i: a[i]
    return lambda a, b, i: a[i] * b[i]


def _term64(a, b, i):
    """a[i] (b None) or a[i] * b[i], in float64."""


@overload(_term64, inline="always", **LINK_ONLY)
def _term64_impl(a, b, i):
    if isinstance(b, types.NoneType):
        return lambda a, b, i: np.float64(a[i])
    return lambda a, b, i: np.float64(a[i]) * np.float64(b[i])


@jit(inline="always", **_SUM_JIT)
def _rest(acc, a, b, n):
    """acc[i % 16] += t_i (float64) for i < n, in order."""
    whole = n - n % LANES
    for k in range(whole // LANES):
        for j in range(LANES):
            acc[j] += _term64(a, b, LANES * k + j)
    for j in range(n - whole):
        acc[j] += _term64(a, b, whole + j)


@jit(inline="always", **_SUM_JIT)
def _lanes(a, b, n, acc):
    """sum of the terms t_i = a_i (b None) or a_i b_i, i < n: per 64 elements the
    float sums (t_j + t_{j+16}) + (t_{j+32} + t_{j+48}) in a's type added into the 16
    float64 lanes acc (zeros), the last n % 64 terms into the lanes in float64 (term
    i into lane i % 16), then the lanes in order.  The block is read once, in order
    (one stream per array: the hardware prefetcher follows it)."""
    m = n // (4 * LANES)
    for k in range(m):
        o = 4 * LANES * k
        for j in range(LANES):
            acc[j] += np.float64((_term(a, b, o + j) + _term(a, b, o + j + LANES))
                                 + (_term(a, b, o + j + 2 * LANES)
                                    + _term(a, b, o + j + 3 * LANES)))
    lo = 4 * LANES * m  # the rest as views from 0: indices known >= 0 (no gathers)
    if b is None:
        _rest(acc, a[lo:n], None, n - lo)
    else:
        _rest(acc, a[lo:n], b[lo:n], n - lo)
    s = 0.0
    for j in range(LANES):
        s += acc[j]
    return s


@linked(optimized=True, **_SUM_JIT)
def sum_lanes(a, n):
    """log_softmax_backward's sum(a[0:n]) (signed; error < 2 u sum |a|); the lanes in
    memory (lanes kept in registers get the main loop vectorized across its steps,
    as gathers)."""
    return _lanes(a, None, n, zeros(LANES, np.float64))


@linked(optimized=True, **_SUM_JIT)
def dot_lanes(a, b, n):
    """softmax_backward's sum(a[0:n] * b[0:n]) (signed; products rounded in a's type,
    no contraction: error < 3 u sum |a b|); the lanes on the stack, 512-bit vectors
    where the CPU has them."""
    _vmath.prefer_512_bit_vectors()
    return _lanes(a, b, n, local_zeros(LANES, np.float64))
