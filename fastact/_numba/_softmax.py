"""Softmax-family kernels for the Numba backend.

Entry point: :func:`get_rowwise(op) <get_rowwise>` returns
``kernel(out, x, grad, mask, n_threads)`` for an op of ``ROW_OPS``, working
along the last axis of C-contiguous 2-D ``(rows, n)`` float32/float64 arrays
(``out`` is ``(rows,)`` for ``logsumexp``, seen as ``(rows, 1)`` inside;
``mask`` is None or a C-contiguous bool array; for the backward ops ``x``
holds y; ``out`` may be an input).
The semantics are those of ``fastact._reference._rowwise``.

Algorithm (forward ops, per row; softmin is softmax of -x):

1. ``m = max_j x_j`` (masked entries count as -inf) from two integer
   reductions of the float bits b: ``max(b)`` is the max if it is >= 0 (some
   x >= +0), else ``min(b)`` is; the loops vectorize without fast-math.  A
   positive NaN beats +inf and makes the row NaN; a negative NaN never wins and
   is caught by the NaN sum.
2. Per fixed block of ``BLOCK`` elements, the exponentials and their sum.
   softmax/softmin: ``e_j = exp(t_j)`` of the rounded ``t_j = x_j - m`` by
   :func:`expneg_f32` / :func:`expneg_f64` (fitted polynomial, results below
   the smallest normal flushed: ``p = e / S`` with ``S >= 1`` is then below it
   too), stored into ``out`` and summed (``S``).  log_softmax/logsumexp:
   ``2**s exp(x_j - m)`` by :func:`exp_shift_f32` / :func:`exp_shift_f64`
   (accurate for any logits: float32 carries ``x_j - m`` exactly by TwoSum;
   scaled by ``2**64`` / ``2**128`` so that many terms below the smallest
   normal still add up) for ``x_j != m`` into a scratch block; the ties
   ``x_j == m`` are counted and ``s = sum_{j != one argmax} e_j`` is exactly
   the reference's.  Sums (:func:`_sum_pos`): float partial sums of four
   elements added in float64 (vectorized, re-association allowed only there),
   blocks added in order: a few ulp even for 50257-element rows.
3. softmax: ``out_j = e_j * f`` with ``f = 1 / S`` rounded to the dtype;
   log_softmax: ``out_j = (x_j - m) - log1p(s)`` in the dtype; logsumexp:
   ``m + log1p(s)``.

Pipelined rows (no mask, a thread's rows within ``PIPELINE_MAX_BYTES``): the
max of row r + 1 is taken inside row r's exp pass, block by block (same bits).
Large arrays (``LARGE_BYTES``, no mask, softmax rows of one block and
log_softmax, x86-64): the exp pass prefetches the next row and the final pass
writes ``out`` with non-temporal vector stores (same bits; :func:`_forward_rows_large`);
softmax_backward's pass is streamed the same way (:func:`_backward_rows_large`).

Rows whose maximum is +-inf or NaN, or whose sum is NaN, are finished by
:func:`_special_row` exactly as the reference: a NaN (or +inf) row gives NaN
(logsumexp +inf for +inf without NaN), an all -inf / fully masked row gives
0 (softmax), -inf (log_softmax, logsumexp); masked entries are 0 / -inf.

Backward ops: ``softmax_backward`` ``dx = y * (g - sum(g * y))``,
``log_softmax_backward`` ``dx = g - exp(y) * sum(g)``: per block a float partial
sum of 4 terms per lane added in float64 (:func:`_dot_lanes`, :func:`_sum_lanes`),
blocks in order; then one elementwise pass in the array dtype with the sum
rounded to it (:func:`_backward_block`).

Threads and determinism: a row's reductions are always the same sequence of
block partial results combined in block order, whoever computes them.  Many
rows: threads split the rows (one thread per row).  Few rows (fewer than two
per thread) that span several blocks: threads split (row, block) tasks in three
phases (block maxima, block sums, final pass).  Either way the bits of the
result do not depend on the number of threads.  Small calls run on the calling
thread (a parallel launch costs ~4 us): see :func:`_plan`.
"""
from __future__ import annotations

import contextlib
import math
import platform

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from . import _threading, _vmath

BLOCK = 2048  # elements per reduction block (fixed: results independent of threads)
SERIAL_MAX = 1 << 15  # at most this many elements: run on the calling thread
# The forward ops by bytes: a parallel launch costs ~4-5 us (TBB), one thread
# does ~2 float32 (~1 float64) elements per ns; measured break-even on 2 cores:
# ~28k float32 / ~16k float64 elements split by rows, ~4x that by (row, block)
# tasks (three parallel regions).
FORWARD_SERIAL_BYTES = 1 << 17
FORWARD_BLOCKS_SERIAL_BYTES = 1 << 19
# Pipelined rows (see :func:`_forward_row_piped`) only while a thread's rows fit
# in its L2 cache: there they run 4-12% faster; from memory (float32, rows of
# ~2000) the fused exp + next-max loop ran 10-50% slower than the two passes.
PIPELINE_MAX_BYTES = 1 << 20
_NEG_INF = -math.inf
_INF = math.inf
_NAN = math.nan

_JIT = dict(nogil=True, cache=True, error_model="numpy")
_SUM_JIT = dict(_JIT, fastmath={"reassoc"})  # only for the pure partial-sum loops
_PAR_JIT = dict(_JIT, parallel=True)

# op families (compile-time constants of the generated kernels)
SOFTMAX, LOG_SOFTMAX, LOGSUMEXP = 0, 1, 2


# ---------------------------------------------------------- float <-> keys
@intrinsic
def _i32_as_f32(typingctx, v):
    """Reinterpret the bits of an int32 as a float32."""
    if v != types.int32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


def _bit_limits(xb):
    """(sign bit, zero, bits of -inf) as signed integers of the type of the view xb."""


@overload(_bit_limits, inline="never")
def _bit_limits_impl(xb):
    if xb.dtype == types.int64:
        def impl(xb):
            return np.int64(-0x8000000000000000), np.int64(0), np.int64(-0x0010000000000000)
        return impl
    if xb.dtype == types.int32:
        def impl(xb):
            return np.int32(-0x80000000), np.int32(0), np.int32(-0x00800000)
        return impl
    return None


def _xor_bits(b, flip):
    """b ^ flip in the integer type of b (int32 stays int32: 16 vector lanes)."""


@overload(_xor_bits, inline="always")
def _xor_bits_impl(b, flip):
    if b == types.int64:
        return lambda b, flip: np.int64(b ^ flip)
    if b == types.int32:
        return lambda b, flip: np.int32(b ^ flip)
    return None


def _max_of_bits(hi, lo):
    """The row max from the two bit reductions: float(hi) if hi >= 0 else float(lo)
    (float32 for int32 bits, float64 for int64)."""


@overload(_max_of_bits, inline="never")
def _max_of_bits_impl(hi, lo):
    if hi == types.int64:
        return lambda hi, lo: _vmath.i64_as_f64(hi if hi >= 0 else lo)
    if hi == types.int32:
        return lambda hi, lo: _i32_as_f32(hi if hi >= 0 else lo)
    return None


@intrinsic
def _fma32(typingctx, a, b, c):
    """a * b + c in float32 with one rounding (llvm.fma)."""
    if not (a == b == c == types.float32):
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return types.float32(types.float32, types.float32, types.float32), codegen


@intrinsic
def _f32_bits(typingctx, v):
    """The bits of a float32 as an int32."""
    if v != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


# exp(r) = 1 + r + r^2 Q(r) on |r| <= ln2/2, Q a Chebyshev fit (relative error of
# the sum 0.08 eps in either type; the same coefficients as fastact/_softmax.pxi),
# highest degree first, evaluated by Horner with explicit fma down to the two
# unit coefficients.  Explicit fma (never implicit contraction) keeps the vector
# body and the scalar remainder of a loop bitwise identical.
_F32 = np.float32
_POLY_F = tuple(_F32(c) for c in (
    0.0013926175888627768, 0.008363173343241215, 0.041666556149721146,
    0.16666577756404877, 0.5, 1.0, 1.0))
_POLY_D = (
    2.5100375832561234e-08, 2.7620075879983367e-07, 2.7557268480310024e-06,
    2.4801521322368692e-05, 0.00019841269863040545, 0.0013888888917196719,
    0.008333333333330065, 0.041666666666624164, 0.16666666666666669,
    0.5000000000000001, 1.0, 1.0)


@njit(**_JIT)
def _poly_f32(r):
    """exp(r) for float32 |r| <= ln2/2 (fitted polynomial, Horner with fma)."""
    p = _POLY_F[0]
    p = _fma32(p, r, _POLY_F[1])
    p = _fma32(p, r, _POLY_F[2])
    p = _fma32(p, r, _POLY_F[3])
    p = _fma32(p, r, _POLY_F[4])
    p = _fma32(p, r, _POLY_F[5])
    return _fma32(p, r, _POLY_F[6])


@njit(**_JIT)
def _poly_f64(r):
    """exp(r) for float64 |r| <= ln2/2 (fitted polynomial, Horner with fma)."""
    fma = _vmath.fma
    p = _POLY_D[0]
    p = fma(p, r, _POLY_D[1])
    p = fma(p, r, _POLY_D[2])
    p = fma(p, r, _POLY_D[3])
    p = fma(p, r, _POLY_D[4])
    p = fma(p, r, _POLY_D[5])
    p = fma(p, r, _POLY_D[6])
    p = fma(p, r, _POLY_D[7])
    p = fma(p, r, _POLY_D[8])
    p = fma(p, r, _POLY_D[9])
    p = fma(p, r, _POLY_D[10])
    return fma(p, r, _POLY_D[11])


_LOG2E_F = _F32(1.4426950408889634)
_SHIFT_F = _F32(12582912.0)  # 1.5 * 2**23: adding it rounds to an integer
_LN2_HI_F = _F32(0.693145751953125)  # 16 significant bits: n * LN2_HI exact
_LN2_LO_F = _F32(1.4286067653302226e-06)
_FLUSH_F = _F32(-88.0)  # softmax's exp clamp: n = -127 there, 2**n = 0
_ZERO_F = _F32(0.0)
_ONE_F = _F32(1.0)
_FLUSH_D = -709.0  # softmax's exp clamp: n = -1023 there, 2**n = 0


# softmax's exp(t) of the rounded t = v - m <= 0 (the |log p| term of softmax's
# accuracy bar covers that rounding).  Below the smallest normal the result may
# be flushed to 0 (2**-127 / 2**-1023 from the bits is 0): p = e / S with S >= 1
# is then below the smallest normal too.
@njit(**_JIT)
def expneg_f32(t):
    """exp(t) for float32 t <= 0, flushed below the smallest normal.

    tc = max(t, -88), n = round(tc / ln2), r = tc - n ln2 (two constants, fma),
    exp(r) by the fitted polynomial, times 2**n from the bits (2**-127 = 0).
    -inf gives 0, NaN gives NaN; t > 0 (masked entries only) gives garbage.
    """
    tc = _FLUSH_F if t < _FLUSH_F else t  # NaN stays NaN
    k = _fma32(tc, _LOG2E_F, _SHIFT_F)
    n = k - _SHIFT_F
    r = _fma32(n, -_LN2_HI_F, tc)
    r = _fma32(n, -_LN2_LO_F, r)
    scale = _i32_as_f32(np.int32((_f32_bits(k) - np.int32(0x4B400000 - 127)) << np.int32(23)))
    return _poly_f32(r) * scale


@njit(**_JIT)
def expneg_f64(t):
    """exp(t) for float64 t <= 0, flushed below the smallest normal (as expneg_f32,
    clamp at -709: 2**-1023 from the bits is 0)."""
    fma = _vmath.fma
    tc = _FLUSH_D if t < _FLUSH_D else t
    k = fma(tc, _vmath.LOG2E, _vmath.SHIFTER)
    n = k - _vmath.SHIFTER
    r = fma(n, -_vmath.LN2_HI, tc)
    r = fma(n, -_vmath.LN2_LO, r)
    scale = _vmath.i64_as_f64((_vmath.f64_as_i64(k) - (0x4338000000000000 - 1023)) << 52)
    return _poly_f64(r) * scale


# log_softmax's and logsumexp's exp(v - m) for v <= m, accurate for every logit
# (their bar has no |log p| term), returned SCALED by 2**64 (float32) or 2**128
# (float64) so that every result is a normal number or 0: a sum of many results
# below the smallest normal can be a normal number (log_softmax at the max), and
# the caller removes the scale from the sum exactly (:func:`_unscale`).
_SCALED_LO_F = _F32(-132.5)  # n = -191 there: 2**(n + 64) is 0
_SCALED_LO_D = -797.5  # n = -1151 there: 2**(n + 128) is 0


@njit(**_JIT)
def exp_shift_f32(v, m):
    """2**64 exp(v - m) for float32 v <= m, v - m carried exactly (TwoSum), < 1.5 ULP.

    n = round((v - m) / ln2), r = (v - m) - n ln2 + (rounding error of v - m),
    exp(r) by the fitted polynomial, times 2**(n + 64) built from the bits;
    results below 2**-190 (unscaled) are dropped.  v = -inf gives 0 (by a
    select: TwoSum turns it into NaN), NaN gives NaN.
    """
    t = v - m
    bb = t - v
    err = (v - (t - bb)) + (-m - bb)
    tc = _SCALED_LO_F if t < _SCALED_LO_F else t  # NaN stays NaN
    k = _fma32(tc, _LOG2E_F, _SHIFT_F)
    n = k - _SHIFT_F
    r = _fma32(n, -_LN2_HI_F, tc)
    r = _fma32(n, -_LN2_LO_F, r) + err
    scale = _i32_as_f32(np.int32((_f32_bits(k) - np.int32(0x4B400000) + np.int32(127 + 64))
                                 << np.int32(23)))
    y = _poly_f32(r) * scale
    return _ZERO_F if t < _SCALED_LO_F else y


@njit(**_JIT)
def exp_shift_f64(v, m):
    """2**128 exp(v - m) for float64 v <= m (v - m rounded once, as in the
    reference), < 1 ULP: as exp_shift_f32 without the TwoSum, 2**(n + 128);
    results below 2**-1150 (unscaled) are dropped, -inf gives 0."""
    fma = _vmath.fma
    t = v - m
    tc = _SCALED_LO_D if t < _SCALED_LO_D else t
    k = fma(tc, _vmath.LOG2E, _vmath.SHIFTER)
    n = k - _vmath.SHIFTER
    r = fma(n, -_vmath.LN2_HI, tc)
    r = fma(n, -_vmath.LN2_LO, r)
    scale = _vmath.i64_as_f64((_vmath.f64_as_i64(k) - (0x4338000000000000 - 1023 - 128)) << 52)
    return _poly_f64(r) * scale


def _unscale(like):
    """The factor removing the scale of exp_shift from a sum, for the dtype of array
    ``like`` (2**-64 for float32, 2**-128 for float64)."""


@overload(_unscale)
def _unscale_impl(like):
    if like.dtype == types.float32:
        return lambda like: 2.0 ** -64
    return lambda like: 2.0 ** -128


def _expneg(t):
    """softmax's exp(t), t <= 0, in the type of t (float32 or float64)."""


@overload(_expneg)
def _expneg_impl(t):
    if t == types.float32:
        return lambda t: expneg_f32(t)
    return lambda t: expneg_f64(t)


def _cast_like(a, v):
    """v converted to the dtype of array a."""


@overload(_cast_like)
def _cast_like_impl(a, v):
    if a.dtype == types.float32:
        return lambda a, v: np.float32(v)
    return lambda a, v: np.float64(v)


def _exp_shift(v, m):
    """exp(v - m) in the type of v (float32 or float64)."""


@overload(_exp_shift)
def _exp_shift_impl(v, m):
    if v == types.float32:
        return lambda v, m: exp_shift_f32(v, m)
    return lambda v, m: exp_shift_f64(v, m)


# ------------------------------------------------------------ block pieces
@njit(**_JIT)
def _block_max_bits(xb, mask, r, lo, hi, negate):
    """(max, min) of the signed bits b of v = -x if negate else x over row r,
    [lo, hi); masked entries give (sign bit, bits of -inf), which never win.

    Among v >= +0 the largest b is the largest v; among v <= -0 the smallest b
    is: so the max of v is float(max b) if max b >= 0, else float(min b) (see
    :func:`_max_of_bits`).  A positive NaN beats +inf (the row is then special);
    a negative NaN never wins and is caught by the NaN sum later.  Two integer
    reductions: vectorize without fast-math.
    """
    sign, zero, neginf = _bit_limits(xb)
    flip = sign if negate else zero
    bhi = sign
    blo = neginf
    xr = xb[r, lo:hi]
    if mask is None:
        for i in range(xr.shape[0]):
            v = _xor_bits(xr[i], flip)
            bhi = v if v > bhi else bhi
            blo = v if v < blo else blo
    else:
        mr = mask[r, lo:hi]
        for i in range(xr.shape[0]):
            v = _xor_bits(xr[i], flip)
            vh = v if mr[i] else sign
            vl = v if mr[i] else neginf
            bhi = vh if vh > bhi else bhi
            blo = vl if vl < blo else blo
    return bhi, blo


@njit(**_SUM_JIT)
def _sum_run(a, lo, hi):
    """sum(a[lo:hi]) in float64 (vectorized: re-association allowed here only)."""
    s = 0.0
    v = a[lo:hi]
    for i in range(v.shape[0]):
        s += np.float64(v[i])
    return s


@njit(**_SUM_JIT)
def _sum_pos(a, n):
    """softmax's sum(a[0:n]) of e >= 0: the run cut into four quarters of
    L = n // 4, float partial sums (a_i + a_{i+L}) + (a_{i+2L} + a_{i+3L}) in a's
    type (<= 3 roundings: < 3 2**-24 relative in float32), each converted and
    added in float64; the last n - 4L elements in float64.  Vectorized
    (re-association allowed here only: a float64 reduction of 4-term sums);
    the order depends on n only."""
    q = n // 4
    q0 = a[0:q]
    q1 = a[q:2 * q]
    q2 = a[2 * q:3 * q]
    q3 = a[3 * q:4 * q]
    s = 0.0
    for i in range(q):
        s += np.float64((q0[i] + q1[i]) + (q2[i] + q3[i]))
    return s + _sum_run(a, 4 * q, n)


# The backward sums read y and g from memory once (no earlier pass brought them
# into cache): they walk the block in order, 64 elements at a time, as 16 float64
# lanes (the hardware prefetcher follows one stream per array; the quarters of
# _sum_pos are four short streams and ran ~3x slower from memory).
LANES = 16


@njit(**_SUM_JIT)
def _sum_lanes(a, n):
    """log_softmax_backward's sum(a[0:n]) (signed): per 64 elements the pairwise
    float sums (a_j + a_{j+16}) + (a_{j+32} + a_{j+48}) in a's type (error
    < 2 u sum |a|) added into 16 float64 lanes, the last n % 64 elements into the
    lanes in float64, then the lanes in order.  Vectorized (re-association allowed
    here only); the order depends on n only."""
    acc = np.zeros(LANES, np.float64)
    m = n // (4 * LANES)
    for k in range(m):
        b = 4 * LANES * k
        for j in range(LANES):
            acc[j] += np.float64((a[b + j] + a[b + j + LANES])
                                 + (a[b + j + 2 * LANES] + a[b + j + 3 * LANES]))
    for i in range(4 * LANES * m, n):
        acc[i % LANES] += np.float64(a[i])
    s = 0.0
    for j in range(LANES):
        s += acc[j]
    return s


@njit(**_SUM_JIT)
def _dot_lanes(a, b, n):
    """softmax_backward's sum(a[0:n] * b[0:n]) (signed): as :func:`_sum_lanes` with
    the products (a_j b_j + a_{j+16} b_{j+16}) + (a_{j+32} b_{j+32} + a_{j+48} b_{j+48})
    in a's type (no contraction: < 3 u sum |a b|), the last n % 64 products in
    float64."""
    acc = np.zeros(LANES, np.float64)
    m = n // (4 * LANES)
    for k in range(m):
        o = 4 * LANES * k
        for j in range(LANES):
            i0, i1, i2, i3 = o + j, o + j + LANES, o + j + 2 * LANES, o + j + 3 * LANES
            acc[j] += np.float64((a[i0] * b[i0] + a[i1] * b[i1]) + (a[i2] * b[i2] + a[i3] * b[i3]))
    for i in range(4 * LANES * m, n):
        acc[i % LANES] += np.float64(a[i]) * np.float64(b[i])
    s = 0.0
    for j in range(LANES):
        s += acc[j]
    return s


@njit(**_JIT)
def _exp_store_block(out, x, mask, r, lo, hi, m, negate):
    """out[r, j] = exp(v_j - m) (0 where masked), v = -x if negate else x, on
    [lo, hi), by softmax's exp of the rounded v - m; returns their sum (float64)."""
    o = out[r, lo:hi]
    xr = x[r, lo:hi]
    if mask is None:
        for i in range(xr.shape[0]):
            v = -xr[i] if negate else xr[i]
            o[i] = _expneg(v - m)
    else:
        mr = mask[r, lo:hi]
        for i in range(xr.shape[0]):
            v = -xr[i] if negate else xr[i]
            e = _expneg(v - m)
            o[i] = e if mr[i] else 0.0
    return _sum_pos(o, hi - lo)


@njit(**_JIT)
def _exp_rest_block(buf, x, mask, r, lo, hi, m):
    """(sum of 2**s exp(x - m) over the entries x != m (float64, s the scale of
    exp_shift), number of entries == m) on [lo, hi) (log_softmax, logsumexp: never
    negated); buf (x's dtype) is scratch."""
    xr = x[r, lo:hi]
    ties = np.int32(0)  # int32 lanes: the float32 loop keeps 16 lanes per vector
    if mask is None:
        for i in range(xr.shape[0]):
            v = xr[i]
            e = _exp_shift(v, m)
            tie = v == m
            buf[i] = 0.0 if tie else e
            ties = np.int32(ties + np.int32(tie))
    else:
        mr = mask[r, lo:hi]
        for i in range(xr.shape[0]):
            v = xr[i]
            e = _exp_shift(v, m)
            keep = mr[i]
            tie = (v == m) & keep
            buf[i] = e if (keep & (v != m)) else 0.0
            ties = np.int32(ties + np.int32(tie))
    return _sum_pos(buf, hi - lo), np.int64(ties)


@njit(**_JIT)
def _scale_block(out, r, lo, hi, inv):
    """out[r, lo:hi] *= f, f = inv rounded to out's type (one multiply in that type:
    with e's ~1 ULP, < 2.5 ULP in all)."""
    o = out[r, lo:hi]
    f = _cast_like(out, inv)
    for i in range(o.shape[0]):
        o[i] *= f


@njit(**_JIT)
def _log_block(out, x, mask, r, lo, hi, m, lse):
    """out[r, j] = (x - m) - lse in x's type, -inf where masked (log_softmax: never
    negated): x - m <= 0 and lse >= 0 have one sign, so |x - m| and lse are at
    most |out|: the three roundings cost <= 1.5 ULP."""
    o = out[r, lo:hi]
    xr = x[r, lo:hi]
    mt = _cast_like(x, m)
    lt = _cast_like(x, lse)
    if mask is None:
        for i in range(xr.shape[0]):
            o[i] = (xr[i] - mt) - lt
    else:
        mr = mask[r, lo:hi]
        for i in range(xr.shape[0]):
            v = (xr[i] - mt) - lt
            o[i] = v if mr[i] else _NEG_INF


@njit(**_JIT)
def _has_nan(x, mask, r):
    xr = x[r]
    if mask is None:
        for i in range(xr.shape[0]):
            if xr[i] != xr[i]:
                return True
    else:
        for i in range(xr.shape[0]):
            if xr[i] != xr[i] and mask[r, i]:
                return True
    return False


@njit(**_JIT)
def _special_row(kind, out, x, mask, r, m, nan_known):
    """Finish row r when its max m is not finite or its sum is NaN (see module doc)."""
    nan = nan_known or m != m or _has_nan(x, mask, r)
    if kind == LOGSUMEXP:
        out[r, 0] = _NAN if nan else np.float64(m)  # +inf or -inf
        return
    if nan or m == _INF:
        fill = _NAN
    else:  # m == -inf: nothing in the row
        fill = 0.0 if kind == SOFTMAX else _NEG_INF
    off = 0.0 if kind == SOFTMAX else _NEG_INF
    o = out[r]
    if mask is None:
        o[:] = fill
    else:
        for i in range(o.shape[0]):
            o[i] = fill if mask[r, i] else off


@njit(**_JIT)
def _finite(v):
    return v - v == 0.0


# ------------------------------------------------------------ whole rows
@njit(**_JIT)
def _row_max(xb, mask, r, n, negate):
    """max of v = -x if negate else x over row r (masked entries -inf)."""
    sign, _, neginf = _bit_limits(xb)
    bhi = sign
    blo = neginf
    for lo in range(0, n, BLOCK):
        h, l = _block_max_bits(xb, mask, r, lo, min(lo + BLOCK, n), negate)
        bhi = h if h > bhi else bhi
        blo = l if l < blo else blo
    return _max_of_bits(bhi, blo)


@njit(**_JIT)
def _finish_row(kind, out, x, mask, r, m, s, ties):
    """Finish row r of a finite max m from its block sums: s (softmax: S; log ops:
    the scaled s) and ties (log ops); a NaN s goes to :func:`_special_row`."""
    n = x.shape[1]
    if s != s:
        _special_row(kind, out, x, mask, r, m, True)
        return
    if kind == SOFTMAX:
        inv = 1.0 / s
        for lo in range(0, n, BLOCK):
            _scale_block(out, r, lo, min(lo + BLOCK, n), inv)
        return
    lse = math.log1p(s * _unscale(x) + (ties - 1))
    if kind == LOGSUMEXP:
        out[r, 0] = np.float64(m) + lse
        return
    for lo in range(0, n, BLOCK):
        _log_block(out, x, mask, r, lo, min(lo + BLOCK, n), m, lse)


@njit(**_JIT)
def _forward_row(kind, out, x, xb, mask, r, buf, negate):
    """One row of softmax (kind SOFTMAX, negate for softmin), log_softmax or logsumexp."""
    _forward_row_of_max(kind, out, x, mask, r, buf, negate,
                        _row_max(xb, mask, r, x.shape[1], negate))


@njit(**_JIT)
def _forward_row_of_max(kind, out, x, mask, r, buf, negate, m):
    """:func:`_forward_row` given the row's max m."""
    n = x.shape[1]
    if not _finite(m):
        _special_row(kind, out, x, mask, r, m, False)
        return
    s = 0.0
    ties = 0
    for lo in range(0, n, BLOCK):
        if kind == SOFTMAX:
            s += _exp_store_block(out, x, mask, r, lo, min(lo + BLOCK, n), m, negate)
        else:
            sb, tb = _exp_rest_block(buf, x, mask, r, lo, min(lo + BLOCK, n), m)
            s += sb
            ties += tb
    _finish_row(kind, out, x, mask, r, m, s, ties)


# Pipelined rows (no mask, up to PIPELINE_MAX_BYTES per thread): the max of row
# r + 1 is taken, block by block, inside the exp pass of row r (the same loop),
# so its loads overlap that pass's arithmetic.  The max is exact in any order and the exps and sums are
# those of :func:`_forward_row`: the bits are the same.
@njit(**_JIT)
def _exp_store_next_block(out, x, xb, r, lo, hi, m, negate, rn):
    """:func:`_exp_store_block` (no mask) on row r, [lo, hi), and in the same loop
    the bit reductions of :func:`_block_max_bits` on row rn, [lo, hi):
    (sum, max bits, min bits)."""
    sign, zero, neginf = _bit_limits(xb)
    flip = sign if negate else zero
    bhi = sign
    blo = neginf
    o = out[r, lo:hi]
    xr = x[r, lo:hi]
    xn = xb[rn, lo:hi]
    for i in range(xr.shape[0]):
        v = -xr[i] if negate else xr[i]
        o[i] = _expneg(v - m)
        b = _xor_bits(xn[i], flip)
        bhi = b if b > bhi else bhi
        blo = b if b < blo else blo
    return _sum_pos(o, hi - lo), bhi, blo


@njit(**_JIT)
def _exp_rest_next_block(buf, x, xb, r, lo, hi, m, rn):
    """:func:`_exp_rest_block` (no mask) on row r, [lo, hi), and in the same loop
    the bit reductions of :func:`_block_max_bits` on row rn, [lo, hi):
    (sum, ties, max bits, min bits)."""
    sign, _, neginf = _bit_limits(xb)
    bhi = sign
    blo = neginf
    xr = x[r, lo:hi]
    xn = xb[rn, lo:hi]
    ties = np.int32(0)
    for i in range(xr.shape[0]):
        v = xr[i]
        e = _exp_shift(v, m)
        tie = v == m
        buf[i] = 0.0 if tie else e
        ties = np.int32(ties + np.int32(tie))
        b = xn[i]
        bhi = b if b > bhi else bhi
        blo = b if b < blo else blo
    return _sum_pos(buf, hi - lo), np.int64(ties), bhi, blo


@njit(**_JIT)
def _forward_row_piped(kind, out, x, xb, r, buf, negate, m, rn):
    """Row r (no mask) of max m as :func:`_forward_row`; returns the max of row rn
    (computed inside the exp pass; by :func:`_row_max` if row r is special)."""
    n = x.shape[1]
    if not _finite(m):
        _special_row(kind, out, x, None, r, m, False)
        return _row_max(xb, None, rn, n, negate)
    sign, _, neginf = _bit_limits(xb)
    bhi = sign
    blo = neginf
    s = 0.0
    ties = 0
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        if kind == SOFTMAX:
            sb, h, l = _exp_store_next_block(out, x, xb, r, lo, hi, m, negate, rn)
        else:
            sb, tb, h, l = _exp_rest_next_block(buf, x, xb, r, lo, hi, m, rn)
            ties += tb
        s += sb
        bhi = h if h > bhi else bhi
        blo = l if l < blo else blo
    _finish_row(kind, out, x, None, r, m, s, ties)
    return _max_of_bits(bhi, blo)


@njit(**_JIT)
def _forward_rows(kind, out, x, xb, mask, r0, r1, negate):
    buf = np.empty(min(BLOCK, x.shape[1]), x.dtype)
    rows = r1 - r0
    if mask is None and rows >= 2 and rows * x.shape[1] * x.itemsize <= PIPELINE_MAX_BYTES:
        # pipelined rows (the last one has no next)
        m = _row_max(xb, None, r0, x.shape[1], negate)
        for r in range(r0, r1 - 1):
            m = _forward_row_piped(kind, out, x, xb, r, buf, negate, m, r + 1)
        _forward_row_of_max(kind, out, x, None, r1 - 1, buf, negate, m)
        return
    for r in range(r0, r1):
        _forward_row(kind, out, x, xb, mask, r, buf, negate)


# ------------------------------------------ large arrays: prefetch, streaming stores
# As the Cython kernels (fastact/_softmax.pxi, SM_LARGE_BYTES): from LARGE_BYTES of
# x up, each row's exp pass prefetches the next row, and out is written with
# non-temporal 64-byte vector stores (no line of out is read from memory before
# it is written; softmax rows of one block keep their exps in a buffer until the
# sum is known).  x86-64 only (elsewhere the plain path); the bits are the same.
LARGE_BYTES = 8 << 20
_STREAM = platform.machine().lower() in ("x86_64", "amd64")


def _array_ptr(context, builder, aryty, ary, idx):
    return builder.gep(context.make_array(aryty)(context, builder, ary).data, [idx])


@intrinsic
def _prefetch(typingctx, a, i):
    """Prefetch the cache line of a[i] (1-D; never faults, any address)."""
    if not (isinstance(a, types.Array) and a.ndim == 1):
        return None

    def codegen(context, builder, sig, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        ptr = builder.bitcast(_array_ptr(context, builder, sig.args[0], args[0], args[1]), i8p)
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(a, types.intp), codegen


@intrinsic
def _misaligned64(typingctx, a, i):
    """The address of a[i] (1-D) modulo 64."""
    if not (isinstance(a, types.Array) and a.ndim == 1):
        return None

    def codegen(context, builder, sig, args):
        ptr = _array_ptr(context, builder, sig.args[0], args[0], args[1])
        return builder.and_(builder.ptrtoint(ptr, cgutils.intp_t), cgutils.intp_t(63))

    return types.intp(a, types.intp), codegen


def _stream64_intrinsic(log):
    """o[i:i + w] = a[i:i + w] * p (log: (a - p) - q) for the 64 bytes at o[i]
    (w = 64 / itemsize), one non-temporal vector store; o[i] 64-byte aligned."""

    def typer(typingctx, o, i, a, p, q):
        if not (isinstance(o, types.Array) and o.ndim == 1 and isinstance(a, types.Array)
                and a.ndim == 1 and a.dtype == o.dtype and p == o.dtype and q == o.dtype):
            return None

        def codegen(context, builder, sig, args):
            lt = context.get_value_type(sig.args[0].dtype)
            w = 64 // context.get_abi_sizeof(lt)
            vt = ir.VectorType(lt, w)
            src = builder.bitcast(_array_ptr(context, builder, sig.args[2], args[2], args[1]),
                                  vt.as_pointer())
            dst = builder.bitcast(_array_ptr(context, builder, sig.args[0], args[0], args[1]),
                                  vt.as_pointer())
            undef = ir.Constant(vt, ir.Undefined)
            zeros = ir.Constant(ir.VectorType(ir.IntType(32), w), [0] * w)

            def splat(v):
                one = builder.insert_element(undef, v, ir.IntType(32)(0))
                return builder.shuffle_vector(one, undef, zeros)

            v = builder.load(src, align=context.get_abi_sizeof(lt))
            if log:
                r = builder.fsub(builder.fsub(v, splat(args[3])), splat(args[4]))
            else:
                r = builder.fmul(v, splat(args[3]))
            st = builder.store(r, dst, align=64)
            st.set_metadata("nontemporal",
                            builder.module.add_metadata([ir.IntType(32)(1)]))
            return context.get_dummy_value()

        return types.none(o, types.intp, a, p, q), codegen

    return intrinsic(typer)


_stream64_scale = _stream64_intrinsic(False)
_stream64_log = _stream64_intrinsic(True)


@intrinsic
def _stream64_bwd(typingctx, o, i, a, b, p):
    """o[i:i + w] = a[i:i + w] * (b[i:i + w] - p) for the 64 bytes at o[i] (softmax's
    backward pass; w = 64 / itemsize), one non-temporal vector store; o[i] 64-byte
    aligned."""
    if not (isinstance(o, types.Array) and o.ndim == 1 and isinstance(a, types.Array)
            and a.ndim == 1 and isinstance(b, types.Array) and b.ndim == 1
            and a.dtype == b.dtype == o.dtype and p == o.dtype):
        return None

    def codegen(context, builder, sig, args):
        lt = context.get_value_type(sig.args[0].dtype)
        w = 64 // context.get_abi_sizeof(lt)
        vt = ir.VectorType(lt, w)

        def vec_at(k):
            return builder.bitcast(_array_ptr(context, builder, sig.args[k], args[k], args[1]),
                                   vt.as_pointer())

        undef = ir.Constant(vt, ir.Undefined)
        one = builder.insert_element(undef, args[4], ir.IntType(32)(0))
        ps = builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(ir.IntType(32), w),
                                                            [0] * w))
        va = builder.load(vec_at(2), align=context.get_abi_sizeof(lt))
        vb = builder.load(vec_at(3), align=context.get_abi_sizeof(lt))
        st = builder.store(builder.fmul(va, builder.fsub(vb, ps)), vec_at(0), align=64)
        st.set_metadata("nontemporal", builder.module.add_metadata([ir.IntType(32)(1)]))
        return context.get_dummy_value()

    return types.none(o, types.intp, a, b, p), codegen


@intrinsic
def _sfence(typingctx):
    """Order the non-temporal stores before what follows (x86 sfence)."""

    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.VoidType(), [])
        builder.call(cgutils.get_or_insert_function(builder.module, fnty,
                                                    "llvm.x86.sse.sfence"), [])
        return context.get_dummy_value()

    return types.none(), codegen


@njit(**_JIT)
def _stream_final(log, o, a, p, q):
    """o = a * p (softmax; q unused) or o = (a - p) - q (log_softmax), in o's type,
    by streaming stores from the first 64-byte aligned element of o."""
    n = o.shape[0]
    w = 64 // o.itemsize
    i = 0
    while i < n and _misaligned64(o, i) != 0:
        o[i] = ((a[i] - p) - q) if log else a[i] * p
        i += 1
    while i + w <= n:
        if log:
            _stream64_log(o, i, a, p, q)
        else:
            _stream64_scale(o, i, a, p, q)
        i += w
    while i < n:
        o[i] = ((a[i] - p) - q) if log else a[i] * p
        i += 1


@njit(**_JIT)
def _exp_prefetched(e, xr, xn, pf, m, negate):
    """e = exp(v - m) (v = -x if negate else x) over the row xr, by softmax's exp, in
    chunks of 64 that prefetch (if pf) the same 64 elements of xn (the next row);
    returns the sum as :func:`_sum_pos`."""
    n = xr.shape[0]
    step = 64 // xr.itemsize
    i = 0
    if pf:
        while i + 64 <= n:
            for b in range(0, 64, step):
                _prefetch(xn, i + b)
            for j in range(i, i + 64):
                v = -xr[j] if negate else xr[j]
                e[j] = _expneg(v - m)
            i += 64
    for j in range(i, n):
        v = -xr[j] if negate else xr[j]
        e[j] = _expneg(v - m)
    return _sum_pos(e, n)


@njit(**_JIT)
def _exp_rest_prefetched(buf, xr, xn, m):
    """:func:`_exp_rest_block` on the unmasked run xr (same values, same sum), 64
    elements at a time, each chunk prefetching the same elements of xn (a burst of
    a few lines per chunk: a whole block's lines at once were mostly dropped; a
    chunk of one line does not vectorize)."""
    n = xr.shape[0]
    step = 64 // xr.itemsize
    ties = np.int32(0)
    i = 0
    while i + 64 <= n:
        for b in range(0, 64, step):
            _prefetch(xn, i + b)
        for j in range(i, i + 64):
            v = xr[j]
            tie = v == m
            buf[j] = 0.0 if tie else _exp_shift(v, m)
            ties = np.int32(ties + np.int32(tie))
        i += 64
    for j in range(i, n):
        v = xr[j]
        tie = v == m
        buf[j] = 0.0 if tie else _exp_shift(v, m)
        ties = np.int32(ties + np.int32(tie))
    return _sum_pos(buf, n), np.int64(ties)


@njit(**_JIT)
def _forward_rows_large(kind, out, x, xb, r0, r1, negate):
    """Rows [r0, r1) of softmax/softmin (rows of one block) or log_softmax, no mask,
    on arrays past the caches (see LARGE_BYTES); other cases as :func:`_forward_rows`."""
    n = x.shape[1]
    if kind == SOFTMAX and n > BLOCK:
        _forward_rows(kind, out, x, xb, None, r0, r1, negate)
        return
    buf = np.empty(min(BLOCK, n), x.dtype)
    for r in range(r0, r1):
        m = _row_max(xb, None, r, n, negate)
        if not _finite(m):
            _special_row(kind, out, x, None, r, m, False)
            continue
        pf = r + 1 < r1 and n <= BLOCK
        xn = x[r + 1] if pf else x[r]
        if kind == SOFTMAX:
            s = _exp_prefetched(buf, x[r], xn, pf, m, negate)
            if s != s:
                _special_row(kind, out, x, None, r, m, True)
                continue
            f = _cast_like(x, 1.0 / s)
            _stream_final(False, out[r], buf, f, f)
            continue
        s = 0.0
        ties = 0
        for lo in range(0, n, BLOCK):
            hi = min(lo + BLOCK, n)
            if pf:
                sb, tb = _exp_rest_prefetched(buf, x[r, lo:hi], xn[lo:hi], m)
            else:
                sb, tb = _exp_rest_block(buf, x, None, r, lo, hi, m)
            s += sb
            ties += tb
        if s != s:
            _special_row(kind, out, x, None, r, m, True)
            continue
        lse = math.log1p(s * _unscale(x) + (ties - 1))
        _stream_final(True, out[r], x[r], _cast_like(x, m), _cast_like(x, lse))
    _sfence()


# Every parallel function runs its prange loops on n_chunks threads: it sets the
# calling thread's Numba thread count to n_chunks on entry and restores it on
# exit, inside the compiled code (~0.1 us instead of ~2 us from Python).  The
# intrinsics call the threading layer's C functions by the symbols Numba
# registers for its own parfors, so the functions stay cacheable (numba's
# get/set_num_threads overloads use ctypes pointers, which are not).
def _ensure_threads_launched():
    from numba.np.ufunc.parallel import _launch_threads

    _launch_threads()


@intrinsic
def _get_threads(typingctx):
    """This thread's Numba thread count (the C ``int get_num_threads(void)``)."""
    _ensure_threads_launched()

    def codegen(context, builder, sig, args):
        # declared as Numba's parfor lowering declares it (intp), which may share the
        # module; the C function returns an int: keep its low 32 bits
        fnty = ir.FunctionType(cgutils.intp_t, [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "get_num_threads")
        return builder.sext(builder.trunc(builder.call(fn, []), ir.IntType(32)), ir.IntType(64))

    return types.int64(), codegen


@intrinsic
def _set_threads(typingctx, k):
    """Set this thread's Numba thread count (the C ``void set_num_threads(int)``);
    1 <= k <= NUMBA_NUM_THREADS."""
    if k != types.int64:
        return None
    _ensure_threads_launched()

    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "set_num_threads")
        builder.call(fn, [builder.trunc(args[0], ir.IntType(32))])
        return context.get_dummy_value()

    return types.none(types.int64), codegen


@njit(**_PAR_JIT)
def _forward_rows_parallel(kind, out, x, xb, mask, negate, n_chunks):
    previous = _get_threads()
    if previous != n_chunks:
        _set_threads(np.int64(n_chunks))
    rows = x.shape[0]
    for c in prange(n_chunks):
        _forward_rows(kind, out, x, xb, mask, rows * c // n_chunks, rows * (c + 1) // n_chunks,
                      negate)
    if previous != n_chunks:
        _set_threads(previous)


@njit(**_PAR_JIT)
def _forward_rows_large_parallel(kind, out, x, xb, negate, n_chunks):
    previous = _get_threads()
    if previous != n_chunks:
        _set_threads(np.int64(n_chunks))
    rows = x.shape[0]
    for c in prange(n_chunks):
        _forward_rows_large(kind, out, x, xb, rows * c // n_chunks,
                            rows * (c + 1) // n_chunks, negate)
    if previous != n_chunks:
        _set_threads(previous)


# ----------------------------------------------- few long rows: (row, block) tasks
@njit(**_PAR_JIT)
def _forward_blocks_parallel(kind, out, x, xb, mask, negate, n_chunks):
    previous = _get_threads()
    if previous != n_chunks:
        _set_threads(np.int64(n_chunks))
    rows, n = x.shape
    nb = (n + BLOCK - 1) // BLOCK
    tasks = rows * nb
    sign, _, neginf = _bit_limits(xb)
    his = np.empty(tasks, xb.dtype)
    los = np.empty(tasks, xb.dtype)
    for c in prange(n_chunks):
        for t in range(tasks * c // n_chunks, tasks * (c + 1) // n_chunks):
            r, b = t // nb, t % nb
            h, l = _block_max_bits(xb, mask, r, b * BLOCK, min(b * BLOCK + BLOCK, n), negate)
            his[t] = h
            los[t] = l
    ms = np.empty(rows, x.dtype)
    for r in range(rows):
        bhi = sign
        blo = neginf
        for b in range(nb):
            h = his[r * nb + b]
            l = los[r * nb + b]
            bhi = h if h > bhi else bhi
            blo = l if l < blo else blo
        ms[r] = _max_of_bits(bhi, blo)
    sums = np.empty(tasks, np.float64)
    ties = np.zeros(tasks, np.int64)
    bufs = np.empty((n_chunks, BLOCK), x.dtype)
    for c in prange(n_chunks):
        for t in range(tasks * c // n_chunks, tasks * (c + 1) // n_chunks):
            r, b = t // nb, t % nb
            m = ms[r]
            if not _finite(m):
                continue
            lo, hi = b * BLOCK, min(b * BLOCK + BLOCK, n)
            if kind == SOFTMAX:
                sums[t] = _exp_store_block(out, x, mask, r, lo, hi, m, negate)
            else:
                sb, tb = _exp_rest_block(bufs[c], x, mask, r, lo, hi, m)
                sums[t] = sb
                ties[t] = tb
    fin = np.empty(rows, np.float64)  # 1/S (softmax) or log1p(s) (log ops); NaN: special
    for r in range(rows):
        m = ms[r]
        if not _finite(m):
            _special_row(kind, out, x, mask, r, m, False)
            fin[r] = _NAN
            continue
        s = 0.0
        tie = 0
        for b in range(nb):
            s += sums[r * nb + b]
            tie += ties[r * nb + b]
        if s != s:
            _special_row(kind, out, x, mask, r, m, True)
            fin[r] = _NAN
        elif kind == SOFTMAX:
            fin[r] = 1.0 / s
        else:
            fin[r] = math.log1p(s * _unscale(x) + (tie - 1))
            if kind == LOGSUMEXP:
                out[r, 0] = np.float64(m) + fin[r]
    if kind != LOGSUMEXP:
        for c in prange(n_chunks):
            for t in range(tasks * c // n_chunks, tasks * (c + 1) // n_chunks):
                r, b = t // nb, t % nb
                f = fin[r]
                if f != f:
                    continue
                lo, hi = b * BLOCK, min(b * BLOCK + BLOCK, n)
                if kind == SOFTMAX:
                    _scale_block(out, r, lo, hi, f)
                else:
                    _log_block(out, x, mask, r, lo, hi, ms[r], f)
    if previous != n_chunks:
        _set_threads(previous)


# ------------------------------------------------------------ backward ops
@njit(**_JIT)
def _backward_block_sum(softmax, y, g, r, lo, hi):
    """sum(g * y) (softmax, :func:`_dot_lanes`) or sum(g) (log_softmax,
    :func:`_sum_lanes`) over row r, [lo, hi), in float64."""
    if softmax:
        return _dot_lanes(g[r, lo:hi], y[r, lo:hi], hi - lo)
    return _sum_lanes(g[r, lo:hi], hi - lo)


def _fma(a, b, c):
    """a * b + c with one rounding (llvm.fma) in the type of a, b, c."""


@overload(_fma, inline="always")
def _fma_impl(a, b, c):
    if a == b == c == types.float32:
        return lambda a, b, c: _fma32(a, b, c)
    if a == b == c == types.float64:
        return lambda a, b, c: _vmath.fma(a, b, c)
    return None


def _exp_any(v):
    """exp(v) of any v in the type of v: float32 natively (exp_f32n, <= 2 ULP),
    float64 by exp_f64."""


@overload(_exp_any, inline="always")
def _exp_any_impl(v):
    if v == types.float32:
        return lambda v: _vmath.exp_f32n(v)
    if v == types.float64:
        return lambda v: _vmath.exp_f64(v)
    return None


@njit(**_JIT)
def _backward_block(softmax, out, y, g, r, lo, hi, s):
    """On row r, [lo, hi), in y's type T with s_T = s rounded to T: softmax
    y * (g - s_T); log_softmax fma(-exp(y), s_T, g) (explicit fma: the vector body
    and the remainder agree).  Error a few ulp of |y| (|g| + |s|), resp.
    |g| + exp(y) |s|: inside the backward bar."""
    o, yr, gr = out[r, lo:hi], y[r, lo:hi], g[r, lo:hi]
    st = _cast_like(y, s)
    if softmax:
        for i in range(o.shape[0]):
            o[i] = yr[i] * (gr[i] - st)
        return
    # a block with every y in [lo, 0] (every log-probability unless e^y is below
    # ~1e-38 / 1e-307) takes softmax's exp (normal results, ~1 ulp; 1.6-2x cheaper);
    # decided per block, so the bits do not depend on the plan or the threads.  The
    # test, on the bits b as signed integers (vectorizes; NaN and -inf fail it):
    # max(b, with +0 as the least integer) <= bits(lo).
    # The cheap pass checks as it goes (one read of y); when o overlaps y or g, a
    # pass that could be undone must not overwrite them: check first.
    yb = _bits_view(yr)
    least = _least_like(yb)
    lo_bits = _expneg_lo_bits(yb)
    hi = least
    if not (_apart(o, yr) and _apart(o, gr)):
        for i in range(o.shape[0]):
            b = yb[i]
            hi = max(hi, least if b == 0 else b)
    if hi <= lo_bits:
        for i in range(o.shape[0]):
            b = yb[i]
            hi = max(hi, least if b == 0 else b)
            o[i] = _fma(-_expneg(yr[i]), st, gr[i])
    if hi > lo_bits:
        for i in range(o.shape[0]):
            o[i] = _fma(-_exp_any(yr[i]), st, gr[i])


def _least_like(b):
    """The least integer of b's type."""


@overload(_least_like, inline="always")
def _least_like_impl(b):
    if b.dtype == types.int32:
        return lambda b: np.int32(-2 ** 31)
    return lambda b: np.int64(-2 ** 63)


def _expneg_lo_bits(b):
    """The bits (as b's signed integers) of the least y whose e^y :func:`_expneg`
    gives as a normal number: -87.0 (float32), -708.0 (float64)."""


@overload(_expneg_lo_bits, inline="always")
def _expneg_lo_bits_impl(b):
    if b.dtype == types.int32:
        v = int(np.array(-87.0, np.float32).view(np.int32))
        return lambda b: np.int32(v)
    v = int(np.array(-708.0, np.float64).view(np.int64))
    return lambda b: np.int64(v)


@njit(**_JIT)
def _apart(a, b):
    """The 1-D contiguous arrays a and b share no byte."""
    pa, pb = a.ctypes.data, b.ctypes.data
    return pa + a.size * a.itemsize <= pb or pb + b.size * b.itemsize <= pa


@njit(**_JIT)
def _backward_rows(softmax, out, y, g, r0, r1):
    n = y.shape[1]
    for r in range(r0, r1):
        s = 0.0
        for lo in range(0, n, BLOCK):
            s += _backward_block_sum(softmax, y, g, r, lo, min(lo + BLOCK, n))
        for lo in range(0, n, BLOCK):
            _backward_block(softmax, out, y, g, r, lo, min(lo + BLOCK, n), s)


@njit(**_JIT)
def _stream_bwd(o, y, g, st, yn, gn, pf):
    """o = y * (g - st) (softmax_backward's pass, the bits of :func:`_backward_block`)
    by streaming stores from the first 64-byte aligned element of o; if pf, each
    64 bytes of work prefetch the lines of yn and gn (the next row) at that offset."""
    n = o.shape[0]
    w = 64 // o.itemsize
    i = 0
    while i < n and _misaligned64(o, i) != 0:
        o[i] = y[i] * (g[i] - st)
        i += 1
    while i + w <= n:
        if pf:
            _prefetch(yn, i)
            _prefetch(gn, i)
        _stream64_bwd(o, i, y, g, st)
        i += w
    while i < n:
        o[i] = y[i] * (g[i] - st)
        i += 1


@njit(**_JIT)
def _backward_rows_large(out, y, g, r0, r1):
    """softmax_backward's rows [r0, r1) on arrays past the caches (see LARGE_BYTES):
    the sums as :func:`_backward_rows`, the pass streamed to out; rows of one block
    prefetch the next row as they go (as the Cython kernels)."""
    n = y.shape[1]
    for r in range(r0, r1):
        s = 0.0
        for lo in range(0, n, BLOCK):
            s += _backward_block_sum(True, y, g, r, lo, min(lo + BLOCK, n))
        st = _cast_like(y, s)
        pf = r + 1 < r1 and n <= BLOCK
        rn = r + 1 if pf else r
        for lo in range(0, n, BLOCK):
            hi = min(lo + BLOCK, n)
            _stream_bwd(out[r, lo:hi], y[r, lo:hi], g[r, lo:hi], st, y[rn, lo:hi],
                        g[rn, lo:hi], pf)
    _sfence()


@njit(**_PAR_JIT)
def _backward_rows_large_parallel(out, y, g, n_chunks):
    previous = _get_threads()
    if previous != n_chunks:
        _set_threads(np.int64(n_chunks))
    rows = y.shape[0]
    for c in prange(n_chunks):
        _backward_rows_large(out, y, g, rows * c // n_chunks, rows * (c + 1) // n_chunks)
    if previous != n_chunks:
        _set_threads(previous)


@njit(**_PAR_JIT)
def _backward_rows_parallel(softmax, out, y, g, n_chunks):
    previous = _get_threads()
    if previous != n_chunks:
        _set_threads(np.int64(n_chunks))
    rows = y.shape[0]
    for c in prange(n_chunks):
        _backward_rows(softmax, out, y, g, rows * c // n_chunks, rows * (c + 1) // n_chunks)
    if previous != n_chunks:
        _set_threads(previous)


@njit(**_PAR_JIT)
def _backward_blocks_parallel(softmax, out, y, g, n_chunks):
    previous = _get_threads()
    if previous != n_chunks:
        _set_threads(np.int64(n_chunks))
    rows, n = y.shape
    nb = (n + BLOCK - 1) // BLOCK
    tasks = rows * nb
    sums = np.empty(tasks, np.float64)
    for c in prange(n_chunks):
        for t in range(tasks * c // n_chunks, tasks * (c + 1) // n_chunks):
            r, b = t // nb, t % nb
            sums[t] = _backward_block_sum(softmax, y, g, r, b * BLOCK, min(b * BLOCK + BLOCK, n))
    tot = np.zeros(rows, np.float64)
    for r in range(rows):
        s = 0.0
        for b in range(nb):
            s += sums[r * nb + b]
        tot[r] = s
    for c in prange(n_chunks):
        for t in range(tasks * c // n_chunks, tasks * (c + 1) // n_chunks):
            r, b = t // nb, t % nb
            _backward_block(softmax, out, y, g, r, b * BLOCK, min(b * BLOCK + BLOCK, n), tot[r])
    if previous != n_chunks:
        _set_threads(previous)


# ------------------------------------------------ a non-last axis: column tiles
# Arrays (outer, n, inner) reduced over n.  Tile t (of outer * ceil(inner / TILE))
# = TILE neighbouring columns of one outer index: gathered into rows of scratch
# (each source row read as TILE contiguous elements), each scratch row run
# through the row functions above (the very code the 2-D kernel runs on that
# row), the results scattered back.  Every column gets the bits the last-axis
# kernel gives its transposed row, whatever the number of threads.
TILE = 16


@njit(**_JIT)
def _tile_stride(n):
    """Scratch row stride for n: whole 64-byte lines (16 elements: enough for both
    dtypes), an odd number of 16-element groups, so the TILE rows of a tile do not
    all map to one set of the L1 cache."""
    return (((n + 15) // 16) | 1) * 16


def _bits_view(a):
    """a (float32/float64, 1-D) viewed as int32/int64."""


@overload(_bits_view)
def _bits_view_impl(a):
    if a.dtype == types.float32:
        return lambda a: a.view(np.int32)
    return lambda a: a.view(np.int64)


@njit(**_JIT)
def _gather(d, ns, a, base, n, inner, w):
    """d[c * ns + i] = a[base + i * inner + c] for i < n, c < w (flat arrays)."""
    if w == TILE:  # full tiles: a fixed inner trip count (unrolled)
        for i in range(n):
            src = base + i * inner
            for c in range(TILE):
                d[c * ns + i] = a[src + c]
    else:
        for i in range(n):
            src = base + i * inner
            for c in range(w):
                d[c * ns + i] = a[src + c]


@njit(**_JIT)
def _scatter(a, base, n, inner, w, d, ns):
    """a[base + i * inner + c] = d[c * ns + i] for i < n, c < w (flat arrays)."""
    if w == TILE:
        for i in range(n):
            dst = base + i * inner
            for c in range(TILE):
                a[dst + c] = d[c * ns + i]
    else:
        for i in range(n):
            dst = base + i * inner
            for c in range(w):
                a[dst + c] = d[c * ns + i]


@njit(**_JIT)
def _forward_tiles(kind, out, x, mask, negate, t0, t1):
    """Tiles [t0, t1) of a forward op on (outer, n, inner) x (out shaped like x, or
    (outer, inner) for logsumexp), through :func:`_forward_row` on scratch rows."""
    _, n, inner = x.shape
    per = (inner + TILE - 1) // TILE
    ns = _tile_stride(n)
    xf = x.reshape(-1)
    of = out.reshape(-1)
    sx = np.empty(TILE * ns, x.dtype)
    sxb = _bits_view(sx)
    so = np.empty(TILE * ns if kind != LOGSUMEXP else 0, x.dtype)
    sm = np.empty(TILE * ns if mask is not None else 0, np.bool_)
    buf = np.empty(min(BLOCK, n), x.dtype)
    for t in range(t0, t1):
        o_idx = t // per
        c0 = (t - o_idx * per) * TILE
        w = min(inner - c0, TILE)
        base = o_idx * n * inner + c0
        _gather(sx, ns, xf, base, n, inner, w)
        if mask is not None:
            _gather(sm, ns, mask.reshape(-1), base, n, inner, w)
        for c in range(w):
            lo = c * ns
            xc = sx[lo:lo + n].reshape(1, n)
            xbc = sxb[lo:lo + n].reshape(1, n)
            if kind == LOGSUMEXP:
                j = o_idx * inner + c0 + c
                oc = of[j:j + 1].reshape(1, 1)
            else:
                oc = so[lo:lo + n].reshape(1, n)
            if mask is None:
                _forward_row(kind, oc, xc, xbc, None, 0, buf, negate)
            else:
                _forward_row(kind, oc, xc, xbc, sm[lo:lo + n].reshape(1, n), 0, buf, negate)
        if kind != LOGSUMEXP:
            _scatter(of, base, n, inner, w, so, ns)


@njit(**_JIT)
def _backward_tiles(softmax, out, y, g, t0, t1):
    """Tiles [t0, t1) of a backward op on (outer, n, inner) arrays, through
    :func:`_backward_rows` on scratch rows."""
    _, n, inner = y.shape
    per = (inner + TILE - 1) // TILE
    ns = _tile_stride(n)
    yf = y.reshape(-1)
    gf = g.reshape(-1)
    of = out.reshape(-1)
    sy = np.empty(TILE * ns, y.dtype)
    sg = np.empty(TILE * ns, y.dtype)
    so = np.empty(TILE * ns, y.dtype)
    for t in range(t0, t1):
        o_idx = t // per
        c0 = (t - o_idx * per) * TILE
        w = min(inner - c0, TILE)
        base = o_idx * n * inner + c0
        _gather(sy, ns, yf, base, n, inner, w)
        _gather(sg, ns, gf, base, n, inner, w)
        for c in range(w):
            lo = c * ns
            _backward_rows(softmax, so[lo:lo + n].reshape(1, n), sy[lo:lo + n].reshape(1, n),
                           sg[lo:lo + n].reshape(1, n), 0, 1)
        _scatter(of, base, n, inner, w, so, ns)


def _tile_count(shape):
    outer, _, inner = shape
    return outer * ((inner + TILE - 1) // TILE)


@njit(**_PAR_JIT)
def _forward_tiles_parallel(kind, out, x, mask, negate, n_chunks):
    previous = _get_threads()
    if previous != n_chunks:
        _set_threads(np.int64(n_chunks))
    outer, _, inner = x.shape
    tasks = outer * ((inner + TILE - 1) // TILE)
    for c in prange(n_chunks):
        _forward_tiles(kind, out, x, mask, negate, tasks * c // n_chunks,
                       tasks * (c + 1) // n_chunks)
    if previous != n_chunks:
        _set_threads(previous)


@njit(**_PAR_JIT)
def _backward_tiles_parallel(softmax, out, y, g, n_chunks):
    previous = _get_threads()
    if previous != n_chunks:
        _set_threads(np.int64(n_chunks))
    outer, _, inner = y.shape
    tasks = outer * ((inner + TILE - 1) // TILE)
    for c in prange(n_chunks):
        _backward_tiles(softmax, out, y, g, tasks * c // n_chunks, tasks * (c + 1) // n_chunks)
    if previous != n_chunks:
        _set_threads(previous)


# ------------------------------------------------------------ entry point
_FORWARD = {
    "softmax": (SOFTMAX, False),
    "softmin": (SOFTMAX, True),
    "log_softmax": (LOG_SOFTMAX, False),
    "logsumexp": (LOGSUMEXP, False),
}
_BACKWARD = {"softmax_backward": True, "log_softmax_backward": False}
_INT_VIEW = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


_threading.setup()  # the layer must be chosen before the first parallel launch
_MAX_THREADS = _threading.max_threads()


def _launch(fn, args):
    """Run the parallel function ``fn(*args)`` (it sets its own thread count);
    serialised by the lock of the workqueue layer, directly under TBB."""
    lock = _threading.launch_lock
    if isinstance(lock, contextlib.nullcontext):
        fn(*args)
    else:
        with lock:
            fn(*args)


def _plan(rows, n, n_threads, serial_max=SERIAL_MAX, blocks_serial_max=SERIAL_MAX):
    """("serial" | "rows" | "blocks", number of parallel chunks) for a (rows, n) call:
    serial up to serial_max elements (blocks_serial_max when the threads would
    split (row, block) tasks: several parallel regions, each ~4 us to launch)."""
    n_threads = min(n_threads, _MAX_THREADS)
    size = rows * n
    if n_threads <= 1 or size <= serial_max:
        return "serial", 1
    if rows < 2 * n_threads and n > BLOCK:
        if size <= blocks_serial_max:
            return "serial", 1
        nb = (n + BLOCK - 1) // BLOCK
        return "blocks", min(n_threads, rows * nb)
    return "rows", min(n_threads, rows)


def _tile_chunks(x, n_threads, serial_max):
    """Parallel chunks for the column tiles of a 3-D x (1: run on the calling thread)."""
    n_threads = min(n_threads, _MAX_THREADS)
    if n_threads <= 1 or x.size <= serial_max:
        return 1
    return max(1, min(n_threads, _tile_count(x.shape)))


def get_rowwise(op):
    """``kernel(out, x, grad, mask, n_threads)`` for the softmax-family op ``op``, on
    2-D ``(rows, n)`` arrays along the last axis or 3-D ``(outer, n, inner)`` arrays
    along axis 1 (column tiles, see :func:`_forward_tiles`); every op takes both."""
    if op in _FORWARD:
        kind, negate = _FORWARD[op]

        def kernel(out, x, grad, mask, n_threads):
            size = x.itemsize
            if x.ndim == 3:
                if x.shape[2] != 1:
                    chunks = _tile_chunks(x, n_threads, FORWARD_SERIAL_BYTES // size)
                    if chunks == 1:
                        _forward_tiles(kind, out, x, mask, negate, 0, _tile_count(x.shape))
                    else:
                        _launch(_forward_tiles_parallel, (kind, out, x, mask, negate, chunks))
                    return
                x = x.reshape(x.shape[:2])
                mask = None if mask is None else mask.reshape(x.shape)
            rows, n = x.shape
            xb = x.view(_INT_VIEW[x.dtype])
            if kind == LOGSUMEXP:
                out = out.reshape(rows, 1)  # one code path: out[r, 0] is row r's result
            else:
                out = out.reshape(rows, n)
            how, chunks = _plan(rows, n, n_threads, FORWARD_SERIAL_BYTES // size,
                                FORWARD_BLOCKS_SERIAL_BYTES // size)
            large = (_STREAM and mask is None and kind != LOGSUMEXP
                     and rows * n * size >= LARGE_BYTES)
            if how == "serial":
                if large:
                    _forward_rows_large(kind, out, x, xb, 0, rows, negate)
                else:
                    _forward_rows(kind, out, x, xb, mask, 0, rows, negate)
            elif how == "rows":
                if large:
                    _launch(_forward_rows_large_parallel, (kind, out, x, xb, negate, chunks))
                else:
                    _launch(_forward_rows_parallel, (kind, out, x, xb, mask, negate, chunks))
            else:
                _launch(_forward_blocks_parallel, (kind, out, x, xb, mask, negate, chunks))

    elif op in _BACKWARD:
        softmax = _BACKWARD[op]

        def kernel(out, x, grad, mask, n_threads):
            if x.ndim == 3:
                if x.shape[2] != 1:
                    chunks = _tile_chunks(x, n_threads, SERIAL_MAX)
                    if chunks == 1:
                        _backward_tiles(softmax, out, x, grad, 0, _tile_count(x.shape))
                    else:
                        _launch(_backward_tiles_parallel, (softmax, out, x, grad, chunks))
                    return
                x = x.reshape(x.shape[:2])
                out = out.reshape(x.shape)
                grad = grad.reshape(x.shape)
            rows, n = x.shape
            how, chunks = _plan(rows, n, n_threads)
            large = _STREAM and softmax and rows * n * x.dtype.itemsize >= LARGE_BYTES
            if how == "serial":
                if large:
                    _backward_rows_large(out, x, grad, 0, rows)
                else:
                    _backward_rows(softmax, out, x, grad, 0, rows)
            elif how == "rows":
                if large:
                    _launch(_backward_rows_large_parallel, (out, x, grad, chunks))
                else:
                    _launch(_backward_rows_parallel, (softmax, out, x, grad, chunks))
            else:
                _launch(_backward_blocks_parallel, (softmax, out, x, grad, chunks))

    else:
        raise KeyError(op)
    kernel.takes_3d = True
    kernel.__name__ = f"numba_{op}"
    kernel.__doc__ = f"Numba row kernel for {op} (see fastact._numba._softmax)."
    return kernel


def warmup() -> None:
    """Compile (or load from the disk cache) every softmax-family variant:
    float32/float64, with and without a mask, serial, by rows (and the large-array
    rows), by blocks and by column tiles (3-D arrays)."""
    for dtype in (np.float32, np.float64):
        x = np.zeros((2, 3), dtype)
        xb = x.view(_INT_VIEW[x.dtype])
        out = np.empty_like(x)
        for mask in (None, np.ones(x.shape, np.bool_)):
            for kind in (SOFTMAX, LOG_SOFTMAX, LOGSUMEXP):
                o = out[:, :1] if kind == LOGSUMEXP else out
                _forward_rows(kind, o, x, xb, mask, 0, 2, False)
                _forward_rows_parallel(kind, o, x, xb, mask, False, 1)
                _forward_blocks_parallel(kind, o, x, xb, mask, False, 1)
                if _STREAM and mask is None and kind != LOGSUMEXP:
                    _forward_rows_large(kind, o, x, xb, 0, 2, False)
                    _forward_rows_large_parallel(kind, o, x, xb, False, 1)
        for softmax in (True, False):
            _backward_rows(softmax, out, x, x, 0, 2)
            _backward_rows_parallel(softmax, out, x, x, 1)
            _backward_blocks_parallel(softmax, out, x, x, 1)
        if _STREAM:
            _backward_rows_large(out, x, x, 0, 2)
            _backward_rows_large_parallel(out, x, x, 1)
        x3 = np.zeros((1, 3, 2), dtype)
        out3 = np.empty_like(x3)
        for mask in (None, np.ones(x3.shape, np.bool_)):
            for kind in (SOFTMAX, LOG_SOFTMAX, LOGSUMEXP):
                o = np.empty((1, 2), dtype) if kind == LOGSUMEXP else out3
                _forward_tiles(kind, o, x3, mask, False, 0, 1)
                _forward_tiles_parallel(kind, o, x3, mask, False, 1)
        for softmax in (True, False):
            _backward_tiles(softmax, out3, x3, x3, 0, 1)
            _backward_tiles_parallel(softmax, out3, x3, x3, 1)
