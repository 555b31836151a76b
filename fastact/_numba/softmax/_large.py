"""Rows of arrays past the caches: prefetch the next row, stream the output.

From ``LARGE_MIN_BYTES`` of input (see ``_plan``; x86-64 only), softmax rows of
one block and log_softmax rows prefetch the next row during their exp pass and
write ``out`` with non-temporal 64-byte vector stores (no line of ``out`` is
read from memory before it is written; softmax keeps its exps in a buffer
until the sum is known); softmax_backward's final pass is streamed the same
way; logsumexp's rows prefetch as log_softmax's (one result each, stored plainly).
The values are those of ``_rows``: the bits are the same.  The rows' loops keep no
reference counts (a locked increment waits for the streaming stores before it to
reach memory: the next row's work would not overlap them).
The intrinsics use numba.extending.intrinsic and llvmlite IR only.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._cache import linked
from .. import _vmath
from .._stream import fence as sfence
from ._alloc import empty
from ._exp import BLOCK, cast_like, expneg_scaled
from ._plan import SHORT_MAX, STREAMING
from ._bits import bits_view, constant_by_type, smaller
from ._kind import by_kind
from ._rows import (LOGSUMEXP, SOFTMAX, _not_inlined, backward_block_sum, block_span,
                    exp_rest_block, finite, forward_rows, log_sum, log_term, row_max,
                    short_backward_rows, special_row)
from ._sums import sum_pos

_JIT = dict(nogil=True, error_model="numpy")
_NO_RC = dict(_nrt=False, **_JIT)  # no reference counts (see the module doc); no allocation
_LINE = 64  # bytes per cache line and per streaming store
# line_elements(a): elements of a's dtype per 64-byte line (a constant: no division)
line_elements = constant_by_type("line_elements", {types.float32: 16, types.float64: 8}.get)


# ---------------------------------------------------------------- intrinsics
def _element_ptr(context, builder, aryty, ary, idx):
    return builder.gep(context.make_array(aryty)(context, builder, ary).data, [idx])


def _is_vector(a):
    return isinstance(a, types.Array) and a.ndim == 1


@intrinsic
def prefetch(typingctx, a, i):
    """Prefetch the cache line of a[i] (1-D; never faults, any address)."""
    if not _is_vector(a):
        return None

    def codegen(context, builder, sig, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        ptr = builder.bitcast(_element_ptr(context, builder, sig.args[0], args[0], args[1]), i8p)
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(a, types.intp), codegen


@intrinsic
def misaligned64(typingctx, a, i):
    """The address of a[i] (1-D) modulo 64."""
    if not _is_vector(a):
        return None

    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        return builder.and_(builder.ptrtoint(ptr, cgutils.intp_t), cgutils.intp_t(_LINE - 1))

    return types.intp(a, types.intp), codegen


def _stream64_intrinsic(combine, doc):
    """An intrinsic f(o, i, a, b, p, q): o[i:i + w] = combine(a[i:i + w], b[i:i + w], p, q)
    for the 64 bytes at o[i] (w = 64 / itemsize), one non-temporal vector store;
    o[i] must be 64-byte aligned.  ``combine(builder, va, vb, vp, vq)`` builds the
    vector (p and q broadcast)."""

    def typer(typingctx, o, i, a, b, p, q):
        if not (_is_vector(o) and _is_vector(a) and _is_vector(b)
                and a.dtype == b.dtype == o.dtype == p == q):
            return None

        def codegen(context, builder, sig, args):
            lt = context.get_value_type(sig.args[0].dtype)
            size = context.get_abi_sizeof(lt)
            vt = ir.VectorType(lt, _LINE // size)

            def vector_at(k):
                ptr = _element_ptr(context, builder, sig.args[k], args[k], args[1])
                return builder.bitcast(ptr, vt.as_pointer())

            def splat(v):
                undef = ir.Constant(vt, ir.Undefined)
                one = builder.insert_element(undef, v, ir.IntType(32)(0))
                return builder.shuffle_vector(one, undef, ir.Constant(
                    ir.VectorType(ir.IntType(32), vt.count), [0] * vt.count))

            va = builder.load(vector_at(2), align=size)
            vb = builder.load(vector_at(3), align=size)
            st = builder.store(combine(builder, va, vb, splat(args[4]), splat(args[5])),
                               vector_at(0), align=_LINE)
            st.set_metadata("nontemporal", builder.module.add_metadata([ir.IntType(32)(1)]))
            return context.get_dummy_value()

        return types.none(o, types.intp, a, b, p, q), codegen

    typer.__doc__ = doc
    return intrinsic(typer)


stream64_scale = _stream64_intrinsic(
    lambda bld, va, vb, vp, vq: bld.fmul(va, vp), "o = a * p (b, q unused)")
stream64_log = _stream64_intrinsic(
    lambda bld, va, vb, vp, vq: bld.fsub(bld.fsub(va, vp), vq), "o = (a - p) - q (b unused)")
stream64_backward = _stream64_intrinsic(
    lambda bld, va, vb, vp, vq: bld.fmul(va, bld.fsub(vb, vp)), "o = a * (b - p) (q unused)")


# ---------------------------------------------------------------- streamed passes
@linked(**_NO_RC)
def _stream_bounds(o):
    """(index of o's first 64-byte aligned element, end of the whole 64-byte vectors
    from there)."""
    n = o.shape[0]
    i = 0
    while i < n and misaligned64(o, i) != 0:
        i += 1
    w = line_elements(o)
    return i, i + (n - i) // w * w


@linked(**_JIT)
def _final_value(log, a, p, q):
    return ((a - p) - q) if log else a * p


@linked(**_NO_RC)
def stream_final(log, o, a, p, q):
    """o = a * p (softmax; q unused) or o = (a - p) - q (log_softmax) in o's type, by
    streaming stores from the first 64-byte aligned element of o."""
    n = o.shape[0]
    w = line_elements(o)
    i = 0
    while i < n and misaligned64(o, i) != 0:
        o[i] = _final_value(log, a[i], p, q)
        i += 1
    while i + w <= n:
        if log:
            stream64_log(o, i, a, a, p, q)
        else:
            stream64_scale(o, i, a, a, p, q)
        i += w
    for j in range(i, n):
        o[j] = _final_value(log, a[j], p, q)


@linked(**_NO_RC)
def stream_backward(o, y, g, st, following, pf):
    """o = y * (g - st) (softmax_backward's pass, the bits of ``_rows.backward_block``)
    by streaming stores from the first 64-byte aligned element of o; if pf, each 64
    bytes of work prefetch the lines of ``following`` = (y, g) of the next row."""
    yn, gn = following
    start, end = _stream_bounds(o)
    for i in range(start):
        o[i] = y[i] * (g[i] - st)
    for i in range(start, end, line_elements(o)):
        if pf:
            prefetch(yn, i)
            prefetch(gn, i)
        stream64_backward(o, i, y, g, st, st)
    for i in range(end, o.shape[0]):
        o[i] = y[i] * (g[i] - st)


# ---------------------------------------------------------------- prefetched exps
@linked(**_NO_RC)
def _prefetch64(xn, i):
    """Prefetch the lines of xn[i:i + 64] (a burst per 64 elements: docs/tuning.md)."""
    for b in range(0, 64, line_elements(xn)):
        prefetch(xn, i + b)


@linked(**_NO_RC)
def exp_prefetched(e, xr, xn, pf, m, negate):
    """e = 2**s exp(v - m) (v = -x if negate else x) over the row xr by softmax's exp, 64
    elements at a time, each chunk prefetching (if pf) the same elements of the next
    row xn; returns the sum as ``_sums.sum_pos``.  Its own function: its loops are
    512-bit vectors where the CPU has them, negate tested once."""
    _vmath.prefer_512_bit_vectors()
    _not_inlined()
    n = xr.shape[0]
    i = 0
    if pf:
        while i + 64 <= n:
            _prefetch64(xn, i)
            if negate:
                for j in range(i, i + 64):
                    e[j] = expneg_scaled(-xr[j] - m)
            else:
                for j in range(i, i + 64):
                    e[j] = expneg_scaled(xr[j] - m)
            i += 64
    if negate:
        for j in range(i, n):
            e[j] = expneg_scaled(-xr[j] - m)
    else:
        for j in range(i, n):
            e[j] = expneg_scaled(xr[j] - m)
    return sum_pos(e, n)


@linked(**_NO_RC)
def exp_rest_prefetched(buf, xr, xn, m):
    """``_rows.exp_rest_block`` on the unmasked run xr (same values, same sum), 64
    elements at a time, each chunk prefetching the same elements of xn (512-bit
    vectors, as :func:`exp_prefetched`)."""
    _vmath.prefer_512_bit_vectors()
    _not_inlined()
    n = xr.shape[0]
    ties = np.int32(0)
    i = 0
    while i + 64 <= n:
        _prefetch64(xn, i)
        for j in range(i, i + 64):
            e, tie = log_term(xr[j], m)
            buf[j] = e
            ties = np.int32(ties + tie)
        i += 64
    for j in range(i, n):
        e, tie = log_term(xr[j], m)
        buf[j] = e
        ties = np.int32(ties + tie)
    return sum_pos(buf, n), np.int64(ties)


# ---------------------------------------------------------------- large rows
@linked(**_NO_RC)
def _softmax_row_large(op, r, buf, pf):
    """Softmax row r of one block: exps into buf (prefetching row r + 1 if pf), then
    out[r] streamed."""
    _, negate, out, x = op
    m = row_max(bits_view(x), None, r, negate)
    if not finite(m):
        special_row(op, None, r, m, np.bool_(False))
        return
    s = exp_prefetched(buf, x[r], x[r + 1] if pf else x[r], pf, m, negate)
    if s != s:
        special_row(op, None, r, m, np.bool_(True))
        return
    f = cast_like(x, 1.0 / s)
    stream_final(False, out[r], buf, f, f)


@linked(**_NO_RC)
def _log_softmax_row_large(op, r, buf, pf):
    """log_softmax row r: exp sums (prefetching row r + 1 if pf), then out[r] streamed
    (logsumexp: out[r, 0] = m + log1p(s))."""
    kind, _, out, x = op
    n = x.shape[1]
    m = row_max(bits_view(x), None, r, False)
    if not finite(m):
        special_row(op, None, r, m, np.bool_(False))
        return
    xn = x[r + 1] if pf else x[r]
    s = 0.0
    ties = np.int64(0)
    for lo in range(0, n, BLOCK):
        span = block_span(lo, n)
        if pf:
            sb, tb = exp_rest_prefetched(buf, x[r, span[0]:span[1]], xn[span[0]:span[1]], m)
        else:
            sb, tb = exp_rest_block(op, None, buf, r, span, m)
        s += sb
        ties += tb
    if s != s:
        special_row(op, None, r, m, np.bool_(True))
        return
    lse = log_sum(x, s, ties)
    if kind == LOGSUMEXP:
        out[r, 0] = np.float64(m) + lse
        return
    stream_final(True, out[r], x[r], cast_like(x, m), cast_like(x, lse))


@linked(**_NO_RC)
def _softmax_rows_large_in(op, r0, r1, buf):
    for r in range(r0, r1):
        _softmax_row_large(op, r, buf, r + 1 < r1)
    sfence()


@linked(**_NO_RC)
def _log_softmax_rows_large_in(op, r0, r1, buf):
    n = op[3].shape[1]
    for r in range(r0, r1):
        _log_softmax_row_large(op, r, buf, r + 1 < r1 and n <= BLOCK)
    sfence()


@linked(**_JIT)
def softmax_rows_large(op, r0, r1):
    """:func:`forward_rows_large` of softmax/softmin: longer rows by ``forward_rows``."""
    x = op[3]
    n = x.shape[1]
    if n > BLOCK:
        forward_rows(op, None, r0, r1)
        return
    _softmax_rows_large_in(op, r0, r1, empty(n, x.dtype))


@linked(**_JIT)
def log_softmax_rows_large(op, r0, r1):
    """:func:`forward_rows_large` of log_softmax and logsumexp (rows of one block prefetch
    the next)."""
    x = op[3]
    _log_softmax_rows_large_in(op, r0, r1, empty(smaller(BLOCK, x.shape[1]), x.dtype))


@linked(**_NO_RC)
def backward_rows_large(op, g, r0, r1):
    """softmax_backward's rows [r0, r1): the sums as ``_rows.backward_rows``, the pass
    streamed to out; rows of one block prefetch the next row as they go (rows of
    n <= SHORT_MAX: ``_rows.short_backward_rows``, not streamed)."""
    _, _, out, y = op
    n = y.shape[1]
    if n <= SHORT_MAX:  # the short rows' sums
        short_backward_rows(op, g, r0, r1)
        return
    for r in range(r0, r1):
        s = 0.0
        for lo in range(0, n, BLOCK):
            s += backward_block_sum(op, g, r, (lo, smaller(lo + BLOCK, n)))
        st = cast_like(y, s)
        pf = r + 1 < r1 and n <= BLOCK
        rn = r + 1 if pf else r
        for lo in range(0, n, BLOCK):
            hi = smaller(lo + BLOCK, n)
            stream_backward(out[r, lo:hi], y[r, lo:hi], g[r, lo:hi], st,
                            (y[rn, lo:hi], g[rn, lo:hi]), pf)
    sfence()


@linked(**_JIT)
def _forward_rows_large_runtime(op, r0, r1):
    if op[0] == SOFTMAX:
        softmax_rows_large(op, r0, r1)
    else:
        log_softmax_rows_large(op, r0, r1)


forward_rows_large = by_kind(softmax_rows_large, log_softmax_rows_large,
                             _forward_rows_large_runtime)
forward_rows_large.__doc__ = """``forward_rows_large(op, r0, r1)``: rows [r0, r1) of
    softmax/softmin (rows of one block), log_softmax or logsumexp, no mask; other cases as
    ``_rows.forward_rows``."""
