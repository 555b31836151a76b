"""SIMD-friendly, branch-free transcendentals for Numba kernels.

llvmlite ships no SVML, so ``math.exp`` & co. inside a Numba loop are scalar
libm calls that block vectorization.  The functions here are written only
with +, -, *, /, comparisons-and-selects, int<->float conversions and bit
casts (``numba.extending.intrinsic``), which LLVM vectorizes to AVX2/AVX-512.

Naming (stable; other modules import these):

``exp_f64(x)``, ``expm1_f64(x)``, ``log1p_f64(x)``, ``tanh_f64(x)``,
``erfc_f64(x)``, ...
    float64 in, float64 out, accurate to ~1-2 ULP over the whole range
    (NaN -> NaN, +-inf -> the limits, subnormal results handled).
``exp_f32(x)``, ``expm1_f32(x)``, ``log1p_f32(x)``, ``tanh_f32(x)``, ...
    float32 in, float32 out.  Computed in float64 with shorter polynomials
    (relative error < 1e-9 before the final rounding to float32).
``exp_lp(x)``, ``expm1_lp(x)``, ``log1p_lp(x)``, ...
    float64 in, float64 out at "float32 precision" (relative error < 1e-9):
    the building blocks of float32 kernels that work in float64 internally.

Method (exp family): n = round(x / ln 2), r = x - n ln2 (ln 2 split in a
high part with trailing zeros and a low part, so n * ln2_hi is exact),
expm1(r) by a Taylor polynomial on |r| <= ln2/2 (degree 13 for float64:
truncation error < 2e-17 relative), then exp(x) = 2^n (1 + expm1(r)) with
2^n built by bit cast (two factors when n can leave the normal range) and
expm1(x) = 2^n expm1(r) + (2^n - 1).
"""
from __future__ import annotations

import math

import numpy as np

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_JIT = dict(nogil=True, cache=True, inline="always", error_model="numpy")

# ------------------------------------------------------------------ bit casts


@intrinsic
def i64_as_f64(typingctx, v):
    """Reinterpret the bits of an int64 as a float64."""
    if v != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def f64_as_i64(typingctx, v):
    """Reinterpret the bits of a float64 as an int64."""
    if v != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


# ------------------------------------------------------------------ constants
LOG2E = 1.4426950408889634
LN2_HI = 0.6931471803691238  # 0x3fe62e42fee00000: ln2 rounded to 32 bits
LN2_LO = 1.9082149292705877e-10  # ln2 - LN2_HI
SHIFTER = 6755399441055744.0  # 1.5 * 2**52: x + SHIFTER - SHIFTER rounds x to an integer
EXP_HI = 709.8  # above: exp overflows (exp(709.78) = DBL_MAX)
EXP_LO = -746.0  # below: exp underflows to 0
INF = math.inf


@njit(**_JIT)
def pow2_f64(n):
    """2.0**n for an int64 n in [-1022, 1023], by building the exponent bits."""
    return i64_as_f64((n + 1023) << 52)


# ------------------------------------------------------- expm1 on |r| <= ln2/2
@njit(**_JIT)
def _expm1_poly_f64(r):
    """expm1(r) for |r| <= 0.3466, Taylor degree 13 (rel. error < 2e-17)."""
    q = (1.0 / 6227020800.0)
    q = q * r + (1.0 / 479001600.0)
    q = q * r + (1.0 / 39916800.0)
    q = q * r + (1.0 / 3628800.0)
    q = q * r + (1.0 / 362880.0)
    q = q * r + (1.0 / 40320.0)
    q = q * r + (1.0 / 5040.0)
    q = q * r + (1.0 / 720.0)
    q = q * r + (1.0 / 120.0)
    q = q * r + (1.0 / 24.0)
    q = q * r + (1.0 / 6.0)
    q = q * r + 0.5
    return r + (r * r) * q


@njit(**_JIT)
def _expm1_poly_lp(r):
    """expm1(r) for |r| <= 0.3466, Taylor degree 8 (rel. error < 1e-9)."""
    q = (1.0 / 362880.0)
    q = q * r + (1.0 / 40320.0)
    q = q * r + (1.0 / 5040.0)
    q = q * r + (1.0 / 720.0)
    q = q * r + (1.0 / 120.0)
    q = q * r + (1.0 / 24.0)
    q = q * r + (1.0 / 6.0)
    q = q * r + 0.5
    return r + (r * r) * q


# ------------------------------------------------------------------------ exp
@njit(**_JIT)
def exp_f64(x):
    """exp(x) in float64: 2^n (1 + expm1(r)), r = x - n ln2; <= 1 ULP."""
    xc = x if x < EXP_HI else EXP_HI
    xc = xc if xc > EXP_LO else EXP_LO  # NaN -> EXP_LO here, restored below
    t = xc * LOG2E + SHIFTER
    nf = t - SHIFTER
    r = (xc - nf * LN2_HI) - nf * LN2_LO
    p = 1.0 + _expm1_poly_f64(r)
    n = int(nf)
    n1 = n >> 1
    y = p * pow2_f64(n1) * pow2_f64(n - n1)
    return y if x == x else x


@njit(**_JIT)
def exp_lp(x):
    """exp(x), float64 in/out, relative error < 1e-9 for results that fit a
    float32 (x in [-104, 89]); x outside is clamped: exp(<=-110) = ~1e-48,
    exp(>=90) = ~1.2e39 (both round correctly to 0 / inf in float32).
    NaN propagates."""
    xc = x if x < 90.0 else 90.0
    xc = xc if xc > -110.0 else -110.0
    t = xc * LOG2E + SHIFTER
    nf = t - SHIFTER
    r = (xc - nf * LN2_HI) - nf * LN2_LO
    y = (1.0 + _expm1_poly_lp(r)) * pow2_f64(int(nf))
    return y if x == x else x


@njit(**_JIT)
def exp_f32(x):
    """exp(x) for float32 x, float32 result (computed in float64)."""
    return np.float32(exp_lp(np.float64(x)))
