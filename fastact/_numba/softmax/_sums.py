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
from llvmlite import ir
from numba.core import cgutils, types
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


@intrinsic
def _tail_fold(typingctx, acc, a, b, n):
    """The sum of the 16 float64 lanes acc after acc[i % 16] += a_i b_i (in float64) for
    i < n < 64, in order (a, b: views of the last n % 64 elements): four
    steps of 16 masked vector lanes, terms past n 0.0 (a lane is never -0.0: adding +0.0
    leaves it as it is); then the lanes pairwise, lane j + 8, + 4, + 2, + 1 into lane j
    (the Cython backend's order), as vector halves."""
    if not (isinstance(acc, types.Array) and acc.dtype == types.float64
            and isinstance(a, types.Array) and a.dtype in (types.float32, types.float64)
            and a.layout == acc.layout == "C"
            and b == a and isinstance(n, types.Integer)):
        return None
    f64, i32 = ir.DoubleType(), ir.IntType(32)

    def codegen(context, builder, sig, args):
        et = context.get_value_type(a.dtype)
        vt, dt, it = (ir.VectorType(t, LANES) for t in (et, f64, i32))
        load = cgutils.get_or_insert_function(builder.module, ir.FunctionType(
            vt, [vt.as_pointer(), i32, ir.VectorType(ir.IntType(1), LANES), vt]),
            f"llvm.masked.load.v{LANES}{'f32' if a.dtype == types.float32 else 'f64'}.p0")

        def data(k):
            return context.make_array(sig.args[k])(context, builder, args[k]).data

        lanes = cgutils.alloca_once_value(builder, builder.load(
            builder.bitcast(data(0), dt.as_pointer()), align=8))
        count = builder.trunc(args[3], i32)
        with builder.if_then(builder.icmp_signed(">", count, i32(0)), likely=True):
            counts = builder.insert_element(ir.Constant(it, None), count, i32(0))
            counts = builder.shuffle_vector(counts, counts, ir.Constant(it, [0] * LANES))
            s = builder.load(lanes)
            for q in range(0, 4 * LANES, LANES):
                live = builder.icmp_signed("<", ir.Constant(it, list(range(q, q + LANES))),
                                           counts)

                def terms(k):
                    at = builder.bitcast(builder.gep(data(k), [ir.Constant(ir.IntType(64), q)]),
                                         vt.as_pointer())
                    v = builder.call(load, [at, i32(a.dtype.bitwidth // 8), live,
                                            ir.Constant(vt, None)])
                    return v if a.dtype == types.float64 else builder.fpext(v, dt)

                s = builder.fadd(s, builder.fmul(terms(1), terms(2)))
            builder.store(s, lanes)
        s = builder.load(lanes)
        w = LANES // 2
        while w:
            half = ir.Constant(ir.VectorType(i32, w), list(range(w)))
            s = builder.fadd(builder.shuffle_vector(s, s, half), builder.shuffle_vector(
                s, s, ir.Constant(ir.VectorType(i32, w), list(range(w, 2 * w)))))
            w //= 2
        return builder.extract_element(s, i32(0))

    return types.float64(acc, a, b, n), codegen


@jit(inline="always", **_SUM_JIT)
def _groups(a, b, n, acc):
    """Per 64 elements of the terms t_i = a_i (b None) or a_i b_i, i < n, the float sums
    (t_j + t_{j+16}) + (t_{j+32} + t_{j+48}) in a's type added into the 16 float64 lanes
    acc (zeros); returns where the last n % 64 terms start.  The block is read once, in
    order (one stream per array: the hardware prefetcher follows it)."""
    m = n // (4 * LANES)
    for k in range(m):
        o = 4 * LANES * k
        for j in range(LANES):
            acc[j] += np.float64((_term(a, b, o + j) + _term(a, b, o + j + LANES))
                                 + (_term(a, b, o + j + 2 * LANES)
                                    + _term(a, b, o + j + 3 * LANES)))
    return 4 * LANES * m


@jit(inline="always", **_SUM_JIT)
def _rest_in_order(acc, a, n):
    """acc[i % 16] += a_i (float64) for i < n, then the lanes in order."""
    whole = n - n % LANES
    for k in range(whole // LANES):
        for j in range(LANES):
            acc[j] += np.float64(a[LANES * k + j])
    for j in range(n - whole):
        acc[j] += np.float64(a[whole + j])
    s = 0.0
    for j in range(LANES):
        s += acc[j]
    return s


@linked(optimized=True, **_SUM_JIT)
def sum_lanes(a, n):
    """log_softmax_backward's sum(a[0:n]) (signed; error < 2 u sum |a|): :func:`_groups`,
    the last n % 64 terms into the lanes (term i into lane i % 16), the lanes in order;
    the lanes in memory (lanes kept in registers get the main loop vectorized across its
    steps, as gathers)."""
    acc = zeros(LANES, np.float64)
    lo = _groups(a, None, n, acc)
    return _rest_in_order(acc, a[lo:n], n - lo)


@linked(optimized=True, **_SUM_JIT)
def dot_lanes(a, b, n):
    """softmax_backward's sum(a[0:n] * b[0:n]) (signed; products rounded in a's type,
    no contraction: error < 3 u sum |a b|): :func:`_groups`, then the last n % 64
    products and the lanes pairwise by :func:`_tail_fold` (the Cython backend's order);
    the lanes on the stack, 512-bit vectors where the CPU has them."""
    _vmath.prefer_512_bit_vectors()
    acc = local_zeros(LANES, np.float64)
    lo = _groups(a, b, n, acc)
    return _tail_fold(acc, a[lo:n], b[lo:n], n - lo)
