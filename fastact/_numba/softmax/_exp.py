"""The softmax family's exponentials, vectorizable, float32 and float64.

Contracts (algorithm: docs/softmax.md, "Exps and their sum"):

* :func:`expneg_scaled` ``(t)``: softmax's ``2**s exp(t)`` of the rounded
  ``t = v - m <= 0``, ``s`` = 64 (float32) or 128 (float64): ``2**s`` times
  :func:`expneg`'s value wherever that is normal, and a normal number or 0 down to
  the unscaled subnormals, so ``p = e' * (1 / S')`` (``S'`` the scaled sum) is rounded
  once into the subnormals.  -inf gives 0, NaN gives NaN; ``t > 0`` (masked entries
  only) gives an unspecified value.
* :func:`expneg` ``(t)``: ``exp(t)`` for ``t <= 0``, results below the smallest normal
  flushed to 0 (log_softmax_backward's cheap exp for ``t`` in ``[EXPNEG_NORMAL_MIN, 0]``).
* :func:`exp_shift` ``(v, m)``: ``2**s exp(v - m)`` for ``v <= m`` with ``s`` = 64
  (float32) or 128 (float64), accurate for every logit (``v - m`` is carried
  exactly by TwoSum into the polynomial: < 1.5 ULP); every result is a normal number
  or 0, so sums of many tiny terms survive; :func:`unscale` removes ``2**s``.
* :func:`exp_any` ``(v)``: ``exp(v)`` for any ``v`` (the elementwise exps of
  ``fastact._numba._vmath``).

Both exps evaluate one polynomial by Horner with explicit fma (never implicit
contraction), so a loop's vector body and its scalar remainder agree bit for bit.
"""
from __future__ import annotations

import numpy as np
from numba import types
from llvmlite import ir
from numba.extending import intrinsic, overload

from .._cache import linked
from ... import _constants as C
from .. import _vmath
from ._bits import constant_by_type
from ._kind import LINK_ONLY

# ------------------------------------------------------------------ constants
# The numbers live in fastact/_constants.py (and the fitted polynomial in
# fastact/_coefficients.py); these are the softmax kernels' names for them.
BLOCK = C.SOFTMAX_BLOCK  # elements per reduction block (fixed: results independent of threads)
LANES = C.SOFTMAX_LANES  # float64 accumulators of the sums (64 elements per step)
LOG2E = C.LOG2E
SHIFT_F32 = C.ROUND_SHIFT_F32  # adding it rounds a float32 to an integer
SHIFT_F64 = C.ROUND_SHIFT  # adding it rounds a float64 to an integer
LN2_HI_F32, LN2_LO_F32 = C.SOFTMAX_LN2_HI_F32, C.SOFTMAX_LN2_LO_F32
LN2_HI_F64, LN2_LO_F64 = C.LN2_HI, C.LN2_LO
EXPNEG_CLAMP_F32 = C.SOFTMAX_EXP_FLUSH_F32  # expneg: 2**n from the bits is 0 below
EXPNEG_CLAMP_F64 = C.SOFTMAX_EXP_FLUSH_F64
EXPNEG_NORMAL_MIN_F32 = C.SOFTMAX_EXPNEG_LO_F32  # the least y whose expneg(y) is normal
EXPNEG_NORMAL_MIN_F64 = C.SOFTMAX_EXPNEG_LO_F64
EXP_SHIFT_CLAMP_F32 = C.SOFTMAX_SCALED_EXP_MIN_F32  # exp_shift: 2**(n + scale) is 0 below
EXP_SHIFT_CLAMP_F64 = C.SOFTMAX_SCALED_EXP_MIN_F64
EXP_SHIFT_LOG2_F32 = C.SOFTMAX_SCALE_EXP_F32  # exp_shift's results are scaled by 2**64
EXP_SHIFT_LOG2_F64 = C.SOFTMAX_SCALE_EXP_F64  # and by 2**128
# exp(r) = 1 + r + r^2 Q(r) on |r| <= ln2/2, highest degree first (tools/fit/softmax_exp.py)
POLY_F32 = C.SOFTMAX_EXP_POLY_F32
POLY_F64 = tuple(float(c) for c in C.SOFTMAX_EXP_POLY_F64)

_JIT = dict(nogil=True, error_model="numpy")
_F32 = np.float32
_POLY_F32 = tuple(_F32(c) for c in POLY_F32)
# (log2e, shift, ln2 high part, ln2 low part) of _reduce
_REDUCE_F32 = (_F32(LOG2E), _F32(SHIFT_F32), _F32(LN2_HI_F32), _F32(LN2_LO_F32))
_REDUCE_F64 = (LOG2E, SHIFT_F64, LN2_HI_F64, LN2_LO_F64)
# bits of SHIFT minus the exponent bias: (bits(n + SHIFT) - this) << mantissa = bits(2**n)
_POW2_BASE_F32 = 0x4B400000 - 127
_POW2_BASE_F64 = 0x4338000000000000 - 1023
_POW2_BASE = {types.float32: (_POW2_BASE_F32, 23), types.float64: (_POW2_BASE_F64, 52)}


# --------------------------------------------------- per-dtype building blocks
# (intrinsics: typed and lowered in place, no compiled function of their own)
@intrinsic
def _poly(typingctx, r):
    """exp(r) for |r| <= ln2/2 in the type of r (Horner with fma over POLY_F32/POLY_F64)."""
    if r not in (types.float32, types.float64):
        return None
    coeffs = _POLY_F32 if r == types.float32 else POLY_F64

    def codegen(context, builder, sig, args):
        p = context.get_constant(r, coeffs[0])
        for c in coeffs[1:]:
            p = builder.fma(p, args[0], context.get_constant(r, c))
        return p

    return r(r), codegen


@intrinsic
def _pow2_of_shifted(typingctx, k, extra):
    """2**(n + extra) for k = n + SHIFT (n an integer), from the bits of k; 0 when
    n + extra is at or below the exponent bias (the exponent field is 0): the integer
    arithmetic wraps in k's width."""
    if k not in _POW2_BASE or not isinstance(extra, types.Integer):
        return None
    base, mantissa = _POW2_BASE[k]

    def codegen(context, builder, sig, args):
        bits = ir.IntType(k.bitwidth)
        offset = builder.sub(context.get_constant(types.int64, base),
                             context.cast(builder, args[1], extra, types.int64))
        if k.bitwidth < 64:
            offset = builder.trunc(offset, bits)
        e = builder.shl(builder.sub(builder.bitcast(args[0], bits), offset),
                        ir.Constant(bits, mantissa))
        return builder.bitcast(e, context.get_value_type(k))

    return k(k, extra), codegen


@intrinsic
def _reduce(typingctx, tc):
    """(k, r) with k = n + SHIFT, n = round(tc / ln2), r = tc - n ln2 (two fmas)."""
    if tc not in (types.float32, types.float64):
        return None
    log2e, shift, ln2_hi, ln2_lo = _REDUCE_F32 if tc == types.float32 else _REDUCE_F64

    def codegen(context, builder, sig, args):
        t = args[0]
        k = builder.fma(t, context.get_constant(tc, log2e), context.get_constant(tc, shift))
        n = builder.fsub(k, context.get_constant(tc, shift))
        r = builder.fma(n, context.get_constant(tc, -ln2_hi), t)
        r = builder.fma(n, context.get_constant(tc, -ln2_lo), r)
        return context.make_tuple(builder, sig.return_type, [k, r])

    return types.UniTuple(tc, 2)(tc), codegen


# (expneg clamp, exp_shift clamp, exp_shift's log2 scale) in the type of t
_limits = constant_by_type("limits", {
    types.float32: (_F32(EXPNEG_CLAMP_F32), _F32(EXP_SHIFT_CLAMP_F32), EXP_SHIFT_LOG2_F32),
    types.float64: (EXPNEG_CLAMP_F64, EXP_SHIFT_CLAMP_F64, EXP_SHIFT_LOG2_F64)}.get)


# ------------------------------------------------------------- the exponentials
@linked(inline="always", **_JIT)
def _expneg_at(t, clamp, extra):
    """exp(r) 2**(n + extra) of tc = max(t, clamp) = n ln2 + r (2**(n + extra) of the
    clamp is 0)."""
    tc = clamp if t < clamp else t  # NaN stays NaN
    k, r = _reduce(tc)
    return _poly(r) * _pow2_of_shifted(k, extra)


@linked(**_JIT)
def expneg(t):
    """exp(t) for t <= 0 in the type of t, flushed below the smallest normal."""
    clamp, _, _ = _limits(t)
    return _expneg_at(t, clamp, 0)


@linked(**_JIT)
def expneg_scaled(t):
    """2**s exp(t) for t <= 0 in the type of t (s: exp_shift's scale), 0 where the
    unscaled value is below 2**-190 (float32) / 2**-1150 (float64)."""
    _, low, scale_log2 = _limits(t)
    return _expneg_at(t, low, scale_log2)


@linked(inline="always", **_JIT)
def _with_rounding_error(r, v, m, t):
    """r plus the rounding error of t = v - m (TwoSum): exp sees v - m exactly, whose
    rounding |v - m| u would otherwise become a relative error of the exp."""
    bb = t - v
    return r + ((v - (t - bb)) + (-m - bb))


@intrinsic
def _zero_below(typingctx, t, low, y):
    """0 where t < low (TwoSum turns v = -inf into NaN), else y."""
    if not (t == low == y and isinstance(t, types.Float)):
        return None

    def codegen(context, builder, sig, args):
        below = builder.fcmp_ordered("<", args[0], args[1])
        return builder.select(below, context.get_constant(y, 0.0), args[2])

    return y(t, low, y), codegen


@linked(**_JIT)
def exp_shift(v, m):
    """2**s exp(v - m) for v <= m in the type of v (see the module doc): results
    below 2**-190 (float32) / 2**-1150 (float64) unscaled are dropped; -inf gives 0."""
    _, low, scale_log2 = _limits(v)
    t = v - m
    tc = low if t < low else t  # NaN stays NaN
    k, r = _reduce(tc)
    r = _with_rounding_error(r, v, m, t)
    return _zero_below(t, low, _poly(r) * _pow2_of_shifted(k, scale_log2))


# unscale(like): the factor removing exp_shift's scale from a sum, for the dtype of
# array ``like`` (2**-64 for float32, 2**-128 for float64)
unscale = constant_by_type("unscale", {types.float32: 2.0 ** -EXP_SHIFT_LOG2_F32,
                                       types.float64: 2.0 ** -EXP_SHIFT_LOG2_F64}.get)


def exp_any(v):
    """exp(v) of any v in the type of v: float32 natively (exp_f32n, <= 2 ULP),
    float64 by exp_f64."""


@overload(exp_any, inline="always", **LINK_ONLY)
def _exp_any_impl(v):
    if v == types.float32:
        return lambda v: _vmath.exp_f32n(v)
    if v == types.float64:
        return lambda v: _vmath.exp_f64(v)
    return None


# expneg_normal_min_bits(b): the bits (as b's signed integers) of EXPNEG_NORMAL_MIN_F32 / _F64
expneg_normal_min_bits = constant_by_type("expneg_normal_min_bits", {
    types.int32: np.array(EXPNEG_NORMAL_MIN_F32, np.float32).view(np.int32)[()],
    types.int64: np.array(EXPNEG_NORMAL_MIN_F64, np.float64).view(np.int64)[()]}.get)


@intrinsic
def cast_like(typingctx, a, v):
    """v converted to the dtype of array a."""
    if not isinstance(a, types.Array) or not isinstance(v, types.Number):
        return None

    def codegen(context, builder, sig, args):
        return context.cast(builder, args[1], v, a.dtype)

    return a.dtype(a, v), codegen
