"""SIMD-friendly, branch-free transcendentals for Numba kernels.

llvmlite ships no SVML, so ``math.exp`` & co. inside a Numba loop are scalar
libm calls that block vectorization.  The functions here use only +, -, *, /,
fused multiply-add, comparisons feeding selects, int<->float conversions and
bit casts (``numba.extending.intrinsic``), which LLVM vectorizes to AVX2 /
AVX-512.  All are inlined at the Numba IR level (``inline="always"``): LLVM's own inliner gives up on the larger ones in serial loops, which then stay scalar.

Naming (stable; other modules import these):

``exp_f64, expm1_f64, log1p_f64, tanh_f64, ndtr_f64`` (float64 -> float64)
    full float64 accuracy (<= ~2 ULP) over the whole range; NaN -> NaN,
    +-inf -> the limits, subnormal results handled.
``exp_lp, expm1_lp, log1p_lp, tanh_lp, ndtr_lp`` (float64 -> float64)
    "float32 precision" (relative error < 1e-9 plus float64 rounding) with
    shorter polynomials: the building blocks of float32 kernels, which compute
    in float64 internally and round once at the end.
``exp_f32, expm1_f32, log1p_f32, tanh_f32`` (float32 -> float32)
    the ``_lp`` versions wrapped for float32 arguments.
``exp_f32n, exp_mul_f32n, log1p_unit_f32n, sigmoid_f32n, sigmoid_pair_f32n,
mul_sigmoid_f32n, sigmoid_pair_dd_f32n`` (float32 -> float32)
    computed natively in float32 (16 AVX-512 lanes instead of 8): Cody-Waite
    reduction with a 9-bit ln2 head, Cephes' degree-5 expf and degree-8 logf
    minimax polynomials, 2^n built from int32 exponent bits (``pow2_f32``) and
    applied as several factors so that a subnormal result is rounded once.
    exp_f32n <= 1 ulp, log1p_unit_f32n (0 <= e <= 1) <= 0.9 ulp.
``vexp(z, like), vexpm1, vlog1p, vtanh, vndtr, vtanhshrink``
    float64 ``z``; pick ``_lp`` when ``like`` is a float32 value, else ``_f64``
    (resolved at compile time): one scalar formula serves both dtypes.

Method (exp family): n = round(x / ln 2) (by adding and subtracting 1.5*2**52),
r = x - n ln2 with ln2 split in a 32-bit high part (n * ln2_hi exact) and a
low part; expm1(r) by its Taylor polynomial on |r| <= ln2/2 (degree 13:
truncation < 2e-17 relative; degree 8 for _lp: < 1e-9); exp(x) = 2^n (1 + p)
with 2^n built by a bit cast (as two factors so that subnormal results and
overflow come out right), expm1(x) = 2^n p + (2^n - 1).
log1p: u = 1 + x, c = (x - (u - 1)) / u corrects the rounding of u,
u = 2^k m with m in [sqrt(1/2), sqrt(2)) read from the bits,
log m = 2 atanh(s), s = (m - 1) / (m + 1), odd series in s (|s| <= 0.1716).
tanh(x) = sign(x) e / (e + 2), e = expm1(2|x|).
ndtr (Phi, the standard normal CDF): Phi(x) = erfc(-x/sqrt 2) / 2 with
erfc(z) = t h(t) exp(-z**2), t = 2 / (2 + z), h a Chebyshev series in t
(``_coefficients.ERFCX_T_*``), and exp(-x**2/2) evaluated with x**2 = p + e
split exactly by an FMA (so the lower tail down to x = -38 keeps full
relative accuracy).
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from . import _coefficients as _coef

_JIT = dict(nogil=True, cache=True, inline="always", error_model="numpy")

# ------------------------------------------------------- intrinsics (bit level)


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


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c with a single rounding (llvm.fma: one instruction on FMA CPUs).

    All three float64, or all three float32."""
    if not (a == b == c and a in (types.float64, types.float32)):
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return a(a, a, a), codegen


@intrinsic
def pow2_f32(typingctx, nf):
    """2.0**n as a float32 for an integer-valued float32 n in [-126, 127] (exponent bits
    built in int32, so the vector loop keeps 16 float32 lanes)."""
    if nf != types.float32:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        n = builder.fptosi(args[0], i32)
        bits = builder.shl(builder.add(n, ir.Constant(i32, 127)), ir.Constant(i32, 23))
        return builder.bitcast(bits, ir.FloatType())

    return types.float32(types.float32), codegen


# ------------------------------------------------------------------ constants
LOG2E = 1.4426950408889634
LN2 = 0.6931471805599453
LN2_HI = 0.6931471803691238  # ln2 rounded to 32 significant bits
LN2_LO = 1.9082149292705877e-10  # ln2 - LN2_HI
SHIFTER = 6755399441055744.0  # 1.5 * 2**52: (x + SHIFTER) - SHIFTER rounds x to an integer
EXP_HI = 709.8  # exp overflows above log(DBL_MAX) = 709.78
EXP_LO = -746.0  # exp underflows to 0 below -745.13
INF = math.inf
NAN = math.nan
INV_SQRT2 = 0.7071067811865476
INV_SQRT2_LO = -4.833646656726457e-17  # 1/sqrt(2) - INV_SQRT2
TWO_OVER_SQRT_PI = 1.1283791670955126
INV_SQRT_2PI = 0.3989422804014327
TINY = 5.551115123125783e-17  # 2**-54: below, expm1(x) = log1p(x) = tanh(x) = x


@njit(**_JIT)
def pow2_f64(n):
    """2.0**n for an int64 n in [-1022, 1023], by building the exponent bits."""
    return i64_as_f64((n + 1023) << 52)


@njit(**_JIT)
def is_nan(x):
    """x != x."""
    return x != x


# ------------------------------------------------------- expm1 on |r| <= ln2/2
@njit(**_JIT)
def _expm1_poly_f64(r):
    """expm1(r) for |r| <= 0.3466: Taylor degree 13 (relative error < 2e-17), FMA Horner."""
    q = 1.0 / 6227020800.0
    q = fma(q, r, 1.0 / 479001600.0)
    q = fma(q, r, 1.0 / 39916800.0)
    q = fma(q, r, 1.0 / 3628800.0)
    q = fma(q, r, 1.0 / 362880.0)
    q = fma(q, r, 1.0 / 40320.0)
    q = fma(q, r, 1.0 / 5040.0)
    q = fma(q, r, 1.0 / 720.0)
    q = fma(q, r, 1.0 / 120.0)
    q = fma(q, r, 1.0 / 24.0)
    q = fma(q, r, 1.0 / 6.0)
    q = fma(q, r, 0.5)
    return fma(r * r, q, r)


@njit(**_JIT)
def _expm1_poly_lp(r):
    """expm1(r) for |r| <= 0.3466: Taylor degree 8 (relative error < 1e-9)."""
    q = 1.0 / 362880.0
    q = fma(q, r, 1.0 / 40320.0)
    q = fma(q, r, 1.0 / 5040.0)
    q = fma(q, r, 1.0 / 720.0)
    q = fma(q, r, 1.0 / 120.0)
    q = fma(q, r, 1.0 / 24.0)
    q = fma(q, r, 1.0 / 6.0)
    q = fma(q, r, 0.5)
    return fma(r * r, q, r)


# ------------------------------------------------------------------------ exp
@njit(**_JIT)
def exp_f64(x):
    """exp(x) = 2^n (1 + expm1(r)), r = x - n ln2, float64, <= 1 ULP."""
    xc = x if x < EXP_HI else EXP_HI
    xc = xc if xc > EXP_LO else EXP_LO  # NaN ends up here; restored below
    nf = (xc * LOG2E + SHIFTER) - SHIFTER
    r = (xc - nf * LN2_HI) - nf * LN2_LO
    p = 1.0 + _expm1_poly_f64(r)
    n = int(nf)
    n1 = n >> 1
    y = p * pow2_f64(n1) * pow2_f64(n - n1)
    return x if x != x else y


@njit(**_JIT)
def exp_mul_f64(x, m):
    """(m exp(x), exp(x)) for x <= 20 (callers' range), m finite.

    m is multiplied in before the power-of-two scaling, which is split in four
    factors so that x down to -1500 works: m exp(x) is a normal number for
    x = -714, m = -714 (silu) although exp(-714) is subnormal, and is still
    non-zero for m ~ 1e308, x ~ -1400."""
    xc = x if x < EXP_HI else EXP_HI
    xc = xc if xc > -1500.0 else -1500.0
    nf = (xc * LOG2E + SHIFTER) - SHIFTER
    r = (xc - nf * LN2_HI) - nf * LN2_LO
    p = 1.0 + _expm1_poly_f64(r)
    n = int(nf)
    q = n >> 2
    s1 = pow2_f64(q)
    s4 = pow2_f64(n - 3 * q)
    y = p * s1 * s1 * s1 * s4
    my = (m * s1) * p * s1 * s1 * s4
    return (x, x) if x != x else (my, y)


@njit(**_JIT)
def exp_mul_lp(x, m):
    """(m exp(x), exp(x)) at float32 precision."""
    e = exp_lp(x)
    return m * e, e


@njit(**_JIT)
def exp_lp(x):
    """exp(x) with relative error < 1e-9 where the result fits a float32.

    Below -110 the result is 0, above 90 it is inf (both far outside
    float32's range); NaN propagates."""
    xc = x if x < 90.0 else 90.0
    xc = xc if xc > -110.0 else -110.0
    nf = (xc * LOG2E + SHIFTER) - SHIFTER
    r = (xc - nf * LN2_HI) - nf * LN2_LO
    y = (1.0 + _expm1_poly_lp(r)) * pow2_f64(int(nf))
    y = 0.0 if x < -110.0 else y  # exact limits: a huge factor must not revive them
    y = INF if x > 90.0 else y
    return x if x != x else y


# ---------------------------------------------------------------------- expm1
@njit(**_JIT)
def expm1_f64(x):
    """expm1(x) = 2^n expm1(r) + (2^n - 1) (n < 54), 2^n (1 + expm1(r)) above."""
    xc = x if x < EXP_HI else EXP_HI
    xc = xc if xc > -40.0 else -40.0
    nf = (xc * LOG2E + SHIFTER) - SHIFTER
    r = (xc - nf * LN2_HI) - nf * LN2_LO
    p = _expm1_poly_f64(r)
    n = int(nf)
    n1 = n >> 1
    s1 = pow2_f64(n1)
    s2 = pow2_f64(n - n1)
    s = s1 * s2
    small = s * p + (s - 1.0)
    big = (1.0 + p) * s1 * s2
    y = small if n < 54 else big
    y = x if math.fabs(x) < TINY else y  # keeps -0.0 and subnormals
    return x if x != x else y


@njit(**_JIT)
def expm1_lp(x):
    """expm1(x), relative error < 1e-9 for float32-representable results."""
    xc = x if x < 90.0 else 90.0
    xc = xc if xc > -40.0 else -40.0
    nf = (xc * LOG2E + SHIFTER) - SHIFTER
    r = (xc - nf * LN2_HI) - nf * LN2_LO
    p = _expm1_poly_lp(r)
    s = pow2_f64(int(nf))
    y = s * p + (s - 1.0)
    y = INF if x > 90.0 else y
    y = x if math.fabs(x) < TINY else y
    return x if x != x else y


# ---------------------------------------------------------------------- log1p
@njit(**_JIT)
def _log1p_parts(x):
    """(k, s, c): 1 + x = 2^k m (1 + c), m in [sqrt(1/2), sqrt(2)), s = (m-1)/(m+1)."""
    u = 1.0 + x
    c = (x - (u - 1.0)) / u  # u's rounding error, relative (0 for large x)
    c = c if u < 9007199254740992.0 else 0.0
    iu = f64_as_i64(u) + (0x3FF0000000000000 - 0x3FE6A09E667F3BCD)
    k = (iu >> 52) - 1023
    m = i64_as_f64((iu & 0x000FFFFFFFFFFFFF) + 0x3FE6A09E667F3BCD)
    s = (m - 1.0) / (m + 1.0)
    return k, s, c


@njit(**_JIT)
def _log1p_finish(x, y):
    y = x if math.fabs(x) < TINY else y  # keeps -0.0 and subnormals
    y = -INF if x == -1.0 else y
    y = NAN if x < -1.0 else y
    y = x if x == INF else y
    return x if x != x else y


@njit(**_JIT)
def log1p_f64(x):
    """log1p(x) = k ln2 + 2 atanh(s) + c (see ``_log1p_parts``), float64."""
    k, s, c = _log1p_parts(x)
    w = s * s
    q = 1.0 / 21.0
    q = fma(q, w, 1.0 / 19.0)
    q = fma(q, w, 1.0 / 17.0)
    q = fma(q, w, 1.0 / 15.0)
    q = fma(q, w, 1.0 / 13.0)
    q = fma(q, w, 1.0 / 11.0)
    q = fma(q, w, 1.0 / 9.0)
    q = fma(q, w, 1.0 / 7.0)
    q = fma(q, w, 1.0 / 5.0)
    q = fma(q, w, 1.0 / 3.0)
    log_m = 2.0 * s + (2.0 * s) * (w * q)
    kf = float(k)
    y = kf * LN2_HI + (log_m + (kf * LN2_LO + c))
    return _log1p_finish(x, y)


@njit(**_JIT)
def log1p_lp(x):
    """log1p(x), relative error < 1e-9 (atanh series to s**13)."""
    k, s, c = _log1p_parts(x)
    w = s * s
    q = 1.0 / 13.0
    q = fma(q, w, 1.0 / 11.0)
    q = fma(q, w, 1.0 / 9.0)
    q = fma(q, w, 1.0 / 7.0)
    q = fma(q, w, 1.0 / 5.0)
    q = fma(q, w, 1.0 / 3.0)
    log_m = 2.0 * s + (2.0 * s) * (w * q)
    y = float(k) * LN2 + (log_m + c)
    return _log1p_finish(x, y)


# ----------------------------------------------------------------------- tanh
@njit(**_JIT)
def tanh_f64(x):
    """tanh(x) = sign(x) e / (e + 2), e = expm1(2|x|) (|x| clamped to 22)."""
    a = math.fabs(x)
    a = a if a < 22.0 else 22.0
    e = expm1_f64(a + a)
    y = math.copysign(e / (e + 2.0), x)
    return x if x != x else y


@njit(**_JIT)
def tanh_lp(x):
    """tanh(x) for float32 results (e = expm1_lp(2|x|), |x| clamped to 12)."""
    a = math.fabs(x)
    a = a if a < 12.0 else 12.0
    e = expm1_lp(a + a)
    y = math.copysign(e / (e + 2.0), x)
    return x if x != x else y


# ------------------------------------------------------- Chebyshev evaluation
def _clenshaw(coeffs, name):
    """A jitted straight-line Clenshaw evaluation of sum c_k T_k(s)."""
    lines = [f"def {name}(s):", "    s2 = s + s", "    b1 = 0.0", "    b2 = 0.0"]
    for c in reversed(coeffs[1:]):
        lines.append(f"    b1, b2 = {c!r} + s2 * b1 - b2, b1")
    lines.append(f"    return {coeffs[0]!r} + s * b1 - b2")
    namespace: dict = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - constant, generated text
    fn = namespace[name]
    fn.__doc__ = f"Chebyshev series of degree {len(coeffs) - 1} (Clenshaw)."
    return njit(nogil=True, inline="always", error_model="numpy")(fn)


_erfcx_t_f64 = _clenshaw(_coef.ERFCX_T_28, "_erfcx_t_f64")
_erfcx_t_lp = _clenshaw(_coef.ERFCX_T_15, "_erfcx_t_lp")
_tanhshrink_w_f64 = _clenshaw(_coef.TANHSHRINK_W_17, "_tanhshrink_w_f64")
_tanhshrink_w_lp = _clenshaw(_coef.TANHSHRINK_W_8, "_tanhshrink_w_lp")


# ------------------------------------------------------- normal CDF / density
@njit(**_JIT)
def exp_neg_half_square_f64(x):
    """exp(-x**2 / 2) with x**2 = p + e split exactly by an FMA (|x| clamped to 40)."""
    a = math.fabs(x)
    a = a if a < 40.0 else 40.0
    p = a * a
    e = fma(a, a, -p)
    return exp_f64(-0.5 * p) * (1.0 - 0.5 * e)


@njit(**_JIT)
def half_erfcx_f64(a):
    """erfcx(a / sqrt 2) / 2 for a = |x| >= 0: t h(t) / 2, t = 2/(2+z), z = a/sqrt 2.

    t h(t) is erfcx at z_t = 2/t - 2, which differs from the true z by the
    rounding of z, of 2 + z and of t; that difference d = ((2 + z) t - 2) / t
    (FMA residuals) is put back to first order:
    erfcx(z) = erfcx(z_t) (1 + (2z - 2/(sqrt(pi) erfcx(z_t))) d).
    """
    a = a if a < 40.0 else 40.0  # erfc(40/sqrt 2) = 0 in float64; keeps d finite
    z = a * INV_SQRT2
    dz = fma(a, INV_SQRT2, -z) + a * INV_SQRT2_LO  # z_true - z
    w = 2.0 + z
    ew = (2.0 - w) + z  # 2 + z - w (exact, w >= 2 > z or Sterbenz)
    t = 2.0 / w
    rho = fma(t, w, -2.0) + t * (ew + dz)  # (2 + z_true) t - 2
    e = t * _erfcx_t_f64(t + t - 1.0)
    e = e + e * ((2.0 * z - TWO_OVER_SQRT_PI / e) * (rho / t))
    return 0.5 * e


@njit(**_JIT)
def ndtr_f64(x):
    """Phi(x) = erfc(-x/sqrt 2)/2; erfc(z) = erfcx(z) exp(-z**2) (see half_erfcx_f64)."""
    half_erfc = half_erfcx_f64(math.fabs(x)) * exp_neg_half_square_f64(x)
    y = half_erfc if x < 0.0 else 1.0 - half_erfc
    return x if x != x else y


@njit(**_JIT)
def ndtr_mul_f64(x, m):
    """m * Phi(x), with m applied before the tiny exp factor (no early subnormal
    rounding in gelu's lower tail, where x Phi(x) is normal but Phi(x) is not)."""
    half_erfcx = half_erfcx_f64(math.fabs(x))
    e = exp_neg_half_square_f64(x)
    y = (m * half_erfcx) * e if x < 0.0 else m * (1.0 - half_erfcx * e)
    return x if x != x else y


@njit(**_JIT)
def ndtr_mul_lp(x, m):
    """m * Phi(x) for float32 results."""
    return m * ndtr_lp(x)


@njit(**_JIT)
def ndtr_lp(x):
    """Phi(x) for float32 results (shorter series, plain exp(-x*x/2))."""
    a = math.fabs(x)
    a = a if a < 40.0 else 40.0
    z = a * INV_SQRT2
    t = 2.0 / (2.0 + z)
    half_erfc = 0.5 * t * _erfcx_t_lp(t + t - 1.0) * exp_lp(-0.5 * (a * a))
    y = half_erfc if x < 0.0 else 1.0 - half_erfc
    return x if x != x else y


# ------------------------------------------------------------- tanhshrink
@njit(**_JIT)
def tanhshrink_f64(x):
    """x - tanh(x): x**3 g(x**2) (Chebyshev) for |x| < 1, else (|x|-1) + 2/(e^{2|x|}+1)."""
    a = math.fabs(x)
    w = a * a if a < 1.0 else 1.0
    small = a * w * _tanhshrink_w_f64(w + w - 1.0)
    large = (a - 1.0) + 2.0 / (exp_f64(a + a) + 1.0)
    y = math.copysign(small if a < 1.0 else large, x)
    return x if x != x else y


@njit(**_JIT)
def tanhshrink_lp(x):
    """x - tanh(x) for float32 results."""
    a = math.fabs(x)
    w = a * a if a < 1.0 else 1.0
    small = a * w * _tanhshrink_w_lp(w + w - 1.0)
    large = (a - 1.0) + 2.0 / (exp_lp(a + a) + 1.0)
    y = math.copysign(small if a < 1.0 else large, x)
    return x if x != x else y


# ------------------------------------------- native float32 (16 AVX-512 lanes)
# float32 globals stay float32 in Numba (a float literal would widen to float64).
F32_0 = np.float32(0.0)
F32_1 = np.float32(1.0)
F32_INF = np.float32(np.inf)
F32_LOG2E = np.float32(LOG2E)
F32_SHIFTER = np.float32(12582912.0)  # 1.5 * 2**23: (x + S) - S rounds x to an integer
F32_HALF_FLOOR = np.float32(0.25)  # (n/2 - 1/4) rounds to floor(n/2) for integer n
F32_QUARTER_FLOOR = np.float32(0.375)  # (n/4 - 3/8) rounds to floor(n/4)
F32_LN2_HI = np.float32(0.693359375)  # 9 significant bits: n * LN2_HI exact for |n| < 2**15
F32_LN2_LO = np.float32(-2.12194440e-4)  # ln2 - F32_LN2_HI
F32_EXP_HI = np.float32(89.0)  # expf overflows above 88.72
F32_EXP_LO = np.float32(-110.0)  # expf is 0 below -103.98
F32_EXP_MUL_LO = np.float32(-200.0)  # FLT_MAX exp(-200) rounds to 0
# minimax coefficients of (exp(r) - 1 - r) / r**2 on |r| <= ln2/2 (Cephes expf)
F32_EXP_P = (
    np.float32(1.9875691500e-4),
    np.float32(1.3981999507e-3),
    np.float32(8.3334519073e-3),
    np.float32(4.1665795894e-2),
    np.float32(1.6666665459e-1),
    np.float32(5.0000001201e-1),
)


@njit(**_JIT)
def _exp_reduce_f32(x, lo, hi):
    """(n, p): x clamped to [lo, hi] = n ln2 + r, |r| <= ln2/2, p = exp(r) (float32).

    r = (x - n LN2_HI) - n LN2_LO with the first step exact; p = 1 + r + r**2 P(r),
    P of degree 5 (relative error ~1 ulp)."""
    xc = x if x < hi else hi
    xc = xc if xc > lo else lo
    nf = (xc * F32_LOG2E + F32_SHIFTER) - F32_SHIFTER
    r = xc - nf * F32_LN2_HI
    r = fma(nf, -F32_LN2_LO, r)
    c0, c1, c2, c3, c4, c5 = F32_EXP_P
    q = fma(c0, r, c1)
    q = fma(q, r, c2)
    q = fma(q, r, c3)
    q = fma(q, r, c4)
    q = fma(q, r, c5)
    return nf, F32_1 + fma(q, r * r, r)


@njit(**_JIT)
def exp_f32n(x):
    """exp(x) computed in float32 (<= ~2 ulp; 0 below -103.98, inf above 88.72, NaN kept).

    exp(x) = p 2^n, 2^n applied as two factors 2^floor(n/2) 2^(n - floor(n/2)) so
    that a subnormal result is rounded once."""
    nf, p = _exp_reduce_f32(x, F32_EXP_LO, F32_EXP_HI)
    n1 = (nf * np.float32(0.5) - F32_HALF_FLOOR + F32_SHIFTER) - F32_SHIFTER
    y = p * pow2_f32(n1) * pow2_f32(nf - n1)
    y = F32_INF if x > F32_EXP_HI else y
    return x if x != x else y


@njit(**_JIT)
def expm1_f32n(x):
    """expm1(x) in float32, <= ~1 ulp; -0.0 and subnormals kept, inf above 88.72.

    x = n ln2 + r: expm1(x) = 2^n expm1(r) + (2^n - 1) with one rounding (FMA),
    expm1(r) = r + r**2 P(r) (the expf polynomial without its 1); above 20,
    expm1(x) = exp(x) in float32."""
    xc = x if x > np.float32(-30.0) else np.float32(-30.0)  # expm1 = -1 below -17.4
    xc = xc if xc < np.float32(20.0) else np.float32(20.0)
    nf = (xc * F32_LOG2E + F32_SHIFTER) - F32_SHIFTER
    r = xc - nf * F32_LN2_HI
    r = fma(nf, -F32_LN2_LO, r)
    c0, c1, c2, c3, c4, c5 = F32_EXP_P
    q = fma(c0, r, c1)
    q = fma(q, r, c2)
    q = fma(q, r, c3)
    q = fma(q, r, c4)
    q = fma(q, r, c5)
    p = fma(q, r * r, r)
    s = pow2_f32(nf)
    y = fma(s, p, s - F32_1)
    y = exp_f32n(x) if x > np.float32(20.0) else y
    y = x if abs(x) < np.float32(5.9604645e-08) else y  # |x| < 2**-24: expm1(x) rounds to x
    return x if x != x else y


@njit(**_JIT)
def exp_mul_f32n(x, m):
    """(m exp(x), exp(x)) in float32 for x <= 0, m finite.

    m is multiplied in before the power-of-two scaling (four factors 2^q 2^q 2^q
    2^(n-3q), q = floor(n/4)): m exp(x) is normal for x = -90, m = -90 (silu)
    although exp(-90) is subnormal."""
    nf, p = _exp_reduce_f32(x, F32_EXP_MUL_LO, F32_0)
    q = (nf * F32_HALF_FLOOR - F32_QUARTER_FLOOR + F32_SHIFTER) - F32_SHIFTER
    s1 = pow2_f32(q)
    s4 = pow2_f32(nf - np.float32(3.0) * q)
    y = p * s1 * s1 * s1 * s4
    my = (m * s1) * p * s1 * s1 * s4
    return (x, x) if x != x else (my, y)


F32_SQRT2 = np.float32(1.4142135)
F32_HALF = np.float32(0.5)
# minimax coefficients of (log(1+f) - f + f**2/2) / f**3 on sqrt(1/2)-1 <= f < sqrt(2)-1
# (Cephes logf), highest degree first
F32_LOG_P = (
    np.float32(7.0376836292e-2),
    np.float32(-1.1514610310e-1),
    np.float32(1.1676998740e-1),
    np.float32(-1.2420140846e-1),
    np.float32(1.4249322787e-1),
    np.float32(-1.6668057665e-1),
    np.float32(2.0000714765e-1),
    np.float32(-2.4999993993e-1),
    np.float32(3.3333331174e-1),
)


@njit(**_JIT)
def log1p_unit_f32n(e):
    """log1p(e) in float32 for 0 <= e <= 1 (the softplus/logsigmoid range), <= ~2 ulp.

    u = 1 + e = 2^k (1 + f) with k in {0, 1}, f in [sqrt(1/2)-1, sqrt(2)-1) exact,
    log(1 + f) = f - f**2/2 + f**3 P(f), plus u's rounding error t = e - (u - 1)
    (exact) as t/u, 1/u from two Newton steps (t is below 2**-24 u)."""
    u = F32_1 + e
    t = e - (u - F32_1)
    big = u > F32_SQRT2
    f = (u * F32_HALF - F32_1) if big else (u - F32_1)
    kf = F32_1 if big else F32_0
    c0, c1, c2, c3, c4, c5, c6, c7, c8 = F32_LOG_P
    q = fma(c0, f, c1)
    q = fma(q, f, c2)
    q = fma(q, f, c3)
    q = fma(q, f, c4)
    q = fma(q, f, c5)
    q = fma(q, f, c6)
    q = fma(q, f, c7)
    q = fma(q, f, c8)
    z = f * f
    r = np.float32(1.5) - F32_HALF * u  # ~1/u within 12%
    r = r * (np.float32(2.0) - u * r)  # within 1.5%
    lo = fma(kf, F32_LN2_LO, t * r)
    y = fma(f * z, q, lo) - F32_HALF * z
    return fma(kf, F32_LN2_HI, f + y)


@njit(**_JIT)
def exp_neg_abs_dd_f32n(hi, lo):
    """exp(-|hi + lo|) in float32 for a tiny correction lo: exp(-|hi|) (1 -+ lo)."""
    e = exp_f32n(-abs(hi))
    lo = lo if abs(hi) < np.float32(128.0) else F32_0  # e = 0 there; lo may be inf
    return e * ((F32_1 - lo) if hi >= F32_0 else (F32_1 + lo))


@njit(**_JIT)
def sigmoid_pair_f32n(v):
    """(sigmoid(v), sigmoid(-v)) in float32 from one e = exp(-|v|): 1/(1+e), e/(1+e)."""
    e = exp_f32n(-abs(v))
    d = F32_1 / (F32_1 + e)
    ed = e * d
    return (d, ed) if v >= F32_0 else (ed, d)


@njit(**_JIT)
def sigmoid_f32n(v):
    """sigmoid(v) in float32: 1/(1+e) or e/(1+e), e = exp(-|v|) (one division, one rounding)."""
    e = exp_f32n(-abs(v))
    return (F32_1 if v >= F32_0 else e) / (F32_1 + e)


@njit(**_JIT)
def mul_sigmoid_f32n(m, v, lo):
    """m sigmoid(v + lo) in float32 (lo a tiny correction, e.g. the FMA residual of
    v = beta x), m applied before exp's final scaling."""
    me, e = exp_mul_f32n(-abs(v), m)
    lo = lo if abs(v) < np.float32(128.0) else F32_0
    c = (F32_1 - lo) if v >= F32_0 else (F32_1 + lo)
    return (m if v >= F32_0 else me * c) / (F32_1 + e * c)


@njit(**_JIT)
def sigmoid_pair_dd_f32n(hi, lo):
    """(sigmoid(v), sigmoid(-v)) in float32 for v = hi + lo (lo a tiny correction)."""
    e = exp_neg_abs_dd_f32n(hi, lo)
    d = F32_1 / (F32_1 + e)
    ed = e * d
    return (d, ed) if hi >= F32_0 else (ed, d)


# ------------------------------------------------------------ float32 wrappers
@njit(**_JIT)
def exp_f32(x):
    """exp(x), float32 in and out (exp_lp in float64, rounded once)."""
    return np.float32(exp_lp(np.float64(x)))


@njit(**_JIT)
def expm1_f32(x):
    """expm1(x), float32 in and out."""
    return np.float32(expm1_lp(np.float64(x)))


@njit(**_JIT)
def log1p_f32(x):
    """log1p(x), float32 in and out."""
    return np.float32(log1p_lp(np.float64(x)))


@njit(**_JIT)
def tanh_f32(x):
    """tanh(x), float32 in and out."""
    return np.float32(tanh_lp(np.float64(x)))


# ------------------------------------------------ precision chosen by a dtype
def _by_precision(full, low, name):
    """A function f(z, like) that compiles to ``low(z)`` if ``like`` is float32."""

    def stub(z, like):  # pragma: no cover - only ever compiled
        raise NotImplementedError

    stub.__name__ = stub.__qualname__ = name
    stub.__doc__ = f"{full.__name__}(z) or, for a float32 ``like``, {low.__name__}(z)."

    @overload(stub, inline="always")
    def _impl(z, like):
        if isinstance(like, types.Float) and like.bitwidth == 32:
            return lambda z, like: low(z)
        return lambda z, like: full(z)

    return stub


vexp = _by_precision(exp_f64, exp_lp, "vexp")
vexpm1 = _by_precision(expm1_f64, expm1_lp, "vexpm1")
vlog1p = _by_precision(log1p_f64, log1p_lp, "vlog1p")
vtanh = _by_precision(tanh_f64, tanh_lp, "vtanh")
vndtr = _by_precision(ndtr_f64, ndtr_lp, "vndtr")
vtanhshrink = _by_precision(tanhshrink_f64, tanhshrink_lp, "vtanhshrink")


def vndtr_mul(z, m, like):  # pragma: no cover - only ever compiled
    """m * Phi(z): ndtr_mul_f64, or ndtr_mul_lp for a float32 ``like``."""
    raise NotImplementedError


@overload(vndtr_mul, inline="always")
def _vndtr_mul(z, m, like):
    if isinstance(like, types.Float) and like.bitwidth == 32:
        return lambda z, m, like: ndtr_mul_lp(z, m)
    return lambda z, m, like: ndtr_mul_f64(z, m)



def vexp_mul(z, m, like):  # pragma: no cover - only ever compiled
    """(m exp(z), exp(z)): exp_mul_f64, or exp_mul_lp for a float32 ``like``."""
    raise NotImplementedError


@overload(vexp_mul, inline="always")
def _vexp_mul(z, m, like):
    if isinstance(like, types.Float) and like.bitwidth == 32:
        return lambda z, m, like: exp_mul_lp(z, m)
    return lambda z, m, like: exp_mul_f64(z, m)
