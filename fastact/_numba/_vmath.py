"""SIMD-friendly, branch-free transcendentals for Numba kernels.

llvmlite ships no SVML, so ``math.exp`` & co. inside a Numba loop are scalar
libm calls that block vectorization.  The functions here use only +, -, *, /,
fused multiply-add, comparisons feeding selects, int<->float conversions and
bit casts (``numba.extending.intrinsic``), which LLVM vectorizes to AVX2 /
AVX-512.  All are inlined at the Numba IR level (``inline="always"``): LLVM's
own inliner gives up on the larger ones in serial loops, which then stay scalar.
Constants and coefficients come from :mod:`fastact._constants` (the Cython
backend's C header is rendered from the same module).

Naming (stable; other modules import these):

``exp_f64, expm1_f64, log1p_f64, gelu_f64, gelu_derivative_f64`` (float64 -> float64)
    full float64 accuracy (<= ~2 ULP) over the whole range; NaN -> NaN,
    +-inf -> the limits, subnormal results handled.
``exp_lp, expm1_lp, log1p_lp`` (float64 -> float64)
    "float32 precision" (relative error < 1e-9 plus float64 rounding) with
    shorter polynomials: the building blocks of float32 kernels, which compute
    in float64 internally and round once at the end.
``sigmoid_exp`` and the sigmoid family on it (``sigmoid_lean``, ``silu_lean``, ...)
    in the argument's own type (float32: 16 AVX-512 lanes), one exp and one division each.
``exp_f32n, expm1_f32n, log1p_unit_f32n, tanh_f32n, tanhshrink_f32n`` (float32 -> float32)
    computed natively in float32 (16 AVX-512 lanes instead of 8): Cephes'
    degree-5 expf and degree-8 logf minimax polynomials, 2^n built from int32
    exponent bits (``pow2_f32``) and applied as several factors so that a
    subnormal result is rounded once.  exp_f32n <= 1 ulp, log1p_unit_f32n
    (0 <= e <= 1) <= 0.9 ulp.
``gelu_f32n, gelu_derivative_f32n`` (float32 -> float32)
    x Phi(x) and Phi(x) + x phi(x) natively in float32: Phi(-|x|) = e^(-x**2/2) R(|x|),
    R two polynomials fitted by tools/fit/normcdf_f32.py (the Cython backend's too).
``prefer_512_bit_vectors()``
    called in a formula: the kernel it is inlined into is vectorized with 512-bit
    vectors on AVX-512 CPUs (LLVM's default there is 256).
``vexp(z, like), vexpm1, vlog1p, vtanh, vtanhshrink``
    float64 ``z``; the float32-precision version when ``like`` is a float32
    value, else the full one (resolved at compile time): one scalar formula
    serves both dtypes.

Method (exp family): ``exp_reduce``, the one range reduction: n = round(x / ln 2)
(by adding and subtracting 1.5*2**52), r = x - n ln2 with ln2 split in a 32-bit
high part (n * ln2_hi exact) and a low part; expm1(r) by its Taylor polynomial
on |r| <= ln2/2 (degree 13: truncation < 2e-17 relative; to r**9 for _lp:
< 1e-11); exp(x) = 2^n (1 + p) with 2^n built by a bit cast (as two factors so
that subnormal results and overflow come out right), expm1(x) = 2^n p + (2^n - 1).
log1p: u = 1 + x, c = (x - (u - 1)) / u corrects the rounding of u,
u = 2^k m with m in [sqrt(1/2), sqrt(2)) read from the bits,
log m = 2 atanh(s), s = (m - 1) / (m + 1), odd series in s (|s| <= 0.1716).
tanh(x) = sign(x) e / (e + 2), e = expm1(2|x|).
Phi (the standard normal CDF, float64 gelu): one formula over the whole line,
Phi(-y) = exp(-y**2/2) R(y), y = |x|, R(y) = t F(t) with t = c/(c + y) (one division)
and F one polynomial fitted by tools/fit/normcdf_f64.py, R in double-double, y**2 split
exactly by an FMA (so the lower tail down to x = -38 keeps full relative accuracy).
tanhshrink: x**3 g(x**2) for |x| < 1 (g a polynomial in w = x**2,
``TANHSHRINK_W``), (|x| - 1) + 2/(e^{2|x|} + 1) above.  Phi and tanhshrink are
the algorithms of the Cython backend's vmath.h too.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from ._cache import jit
from .. import _constants as C

_JIT = dict(nogil=True, inline="always", error_model="numpy")

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
def positive_max(typingctx, a, b):
    """max(a, b) for positive a, b of one float type, compared as integers (positive floats'
    bits order as their values): LLVM's float folds do not see through it."""
    if not (a == b and a in (types.float64, types.float32)):
        return None

    def codegen(context, builder, sig, args):
        ity = ir.IntType(32 if a == types.float32 else 64)
        ia, ib = (builder.bitcast(v, ity) for v in args)
        return builder.bitcast(builder.select(builder.icmp_signed(">", ia, ib), ia, ib),
                               args[0].type)

    return a(a, a), codegen


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


@intrinsic
def normcdf_scale_f32(typingctx, t):
    """2.0**(k + NORMCDF_EXP_SCALE_BITS_F32) as a float32 from t = k + NORMCDF_EXP_SHIFT_F32
    (the sum that rounded k): bits(t) << 23, the low 9 bits of bits(t) being
    k + 127 + SCALE_BITS; for k + SCALE_BITS in [-126, 127] (int32 lanes)."""
    if t != types.float32:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        bits = builder.bitcast(args[0], i32)
        return builder.bitcast(builder.shl(bits, ir.Constant(i32, C.MANT_BITS_F32)), ir.FloatType())

    return types.float32(t), codegen


@intrinsic
def pow2_rounded_f32(typingctx, t):
    """2.0**k as a float32 from t = k + ROUND_SHIFT_F32 (the sum that rounded k): (bits(t) +
    127) << 23, as normcdf_scale_f32 without its scale; for k in [-126, 127] (int32 lanes)."""
    if t != types.float32:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        bits = builder.add(builder.bitcast(args[0], i32), ir.Constant(i32, C.EXP_BIAS_F32))
        return builder.bitcast(builder.shl(bits, ir.Constant(i32, C.MANT_BITS_F32)), ir.FloatType())

    return types.float32(t), codegen


@intrinsic
def sigmoid_scale(typingctx, t):
    """2.0**(k + S) (S = SIGMOID_EXP_SCALE_EXP of t's type) from t = k + ROUND_SHIFT (the sum
    that rounded k) in t's type: (bits(t) + bias + S) << mantissa bits, the low bits of
    bits(ROUND_SHIFT) being 0 (as normcdf_scale_f32); for k + S in the normal exponent range."""
    if t == types.float32:
        width, bias, scale, mant, fty = 32, C.EXP_BIAS_F32, C.SIGMOID_EXP_SCALE_EXP_F32, C.MANT_BITS_F32, ir.FloatType()
    elif t == types.float64:
        width, bias, scale, mant, fty = 64, C.EXP_BIAS, C.SIGMOID_EXP_SCALE_EXP, C.MANT_BITS, ir.DoubleType()
    else:
        return None

    def codegen(context, builder, sig, args):
        ity = ir.IntType(width)
        bits = builder.add(builder.bitcast(args[0], ity), ir.Constant(ity, bias + int(scale)))
        return builder.bitcast(builder.shl(bits, ir.Constant(ity, mant)), fty)

    return t(t), codegen


@intrinsic
def prefer_512_bit_vectors(typingctx):
    """Let LLVM vectorize the function this is inlined into with 512-bit vectors where the
    CPU has them (its default on AVX-512 CPUs is 256: "prefer-vector-width"); no code."""
    def codegen(context, builder, sig, args):
        attrs = builder.function.attributes
        set.add(attrs, '"prefer-vector-width"="512"')  # llvmlite's add() knows no key=value
        return context.get_dummy_value()

    return types.none(), codegen


# ------------------------------------------------------------------ constants
# (the names the softmax kernels read)
LOG2E = C.LOG2E
LN2 = C.LN2
LN2_HI = C.LN2_HI
LN2_LO = C.LN2_LO
SHIFTER = C.ROUND_SHIFT
INF = math.inf
NAN = math.nan


def _is_f32(t):
    return isinstance(t, types.Float) and t.bitwidth == 32


def _horner(coeffs, name):
    """A jitted c0 r^n + ... + cn (coefficients highest first) by Horner with FMA, as
    straight-line code; float32 coefficients stay float32 (16 AVX-512 lanes)."""
    def lit(c):
        return f"f32({float(c)!r})" if isinstance(c, np.float32) else repr(float(c))

    lines = [f"def {name}(r):", f"    q = {lit(coeffs[0])}"]
    lines += [f"    q = fma(q, r, {lit(c)})" for c in coeffs[1:]]
    namespace = {"fma": fma, "f32": np.float32}
    exec("\n".join(lines + ["    return q"]), namespace)  # noqa: S102 - generated, constant
    fn = namespace[name]
    fn.__doc__ = f"Polynomial of degree {len(coeffs) - 1} (Horner, FMA)."
    return njit(nogil=True, inline="always", error_model="numpy")(fn)


def _horner2_lines(coeffs):
    """Source lines setting q = c0 r^n + ... + cn by second-order Horner: the powers of one
    parity in s = r**2 each (two independent FMA chains of half the length), then one FMA."""
    c = [repr(float(v)) for v in coeffs]
    lines = ["    s = r * r", f"    qa = {c[0]}", f"    qb = {c[1]}"]
    i = 2
    while i + 1 < len(c):
        lines += [f"    qa = fma(qa, s, {c[i]})", f"    qb = fma(qb, s, {c[i + 1]})"]
        i += 2
    lines.append("    q = fma(qa, r, qb)")
    if i < len(c):
        lines.append(f"    q = fma(q, r, {c[i]})")
    return lines


def _horner_dd(coeffs, steps, name):
    """A jitted (hi, lo) of c0 r^n + ... + cn for |r| <= ~1/2: second-order Horner with FMA,
    the last ``steps`` steps in double-double (exact products by FMA, two-sums)."""
    head, tail = coeffs[:len(coeffs) - steps], coeffs[len(coeffs) - steps:]
    lines = [f"def {name}(r):"] + _horner2_lines(head)
    lines.append("    lo = 0.0")
    for c in tail:
        lines += ["    p = q * r", "    lo = fma(q, r, -p) + lo * r",
                  f"    q, lo_sum = two_sum(p, {float(c)!r})", "    lo = lo + lo_sum"]
    namespace = {"fma": fma, "two_sum": two_sum}
    exec("\n".join(lines + ["    return q, lo"]), namespace)  # noqa: S102 - generated, constant
    fn = namespace[name]
    fn.__doc__ = (f"Polynomial of degree {len(coeffs) - 1} as (hi, lo) (second-order Horner, the"
                  f" last {steps} steps in double-double).")
    return njit(nogil=True, inline="always", error_model="numpy")(fn)


@jit(**_JIT)
def two_sum(a, b):
    """(s, e): s = a + b rounded, e its exact rounding error (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


_expm1_taylor = _horner(C.EXPM1_TAYLOR, "_expm1_taylor")
_expm1_taylor_lp = _horner(C.EXPM1_TAYLOR_R9, "_expm1_taylor_lp")
_log_atanh = _horner(C.LOG_ATANH_SERIES[2:], "_log_atanh")  # to s**21
_log_atanh_lp = _horner(C.LOG_ATANH_SERIES[6:], "_log_atanh_lp")  # to s**13
_expm1_cephes_f32 = _horner(C.EXPM1_CEPHES_F32, "_expm1_cephes_f32")
_expm1_fit_f64 = _horner(C.EXPM1_POLY, "_expm1_fit_f64")  # the Cython backend's (expm1(r) - r)/r^2
_expm1_fit_f32 = _horner(C.EXPM1_POLY_F32, "_expm1_fit_f32")  # its float32 one
_log1p_cephes_f32 = _horner(C.LOG1P_CEPHES_F32, "_log1p_cephes_f32")
_normcdf_mills = _horner_dd(C.NORMCDF_MILLS, C.NORMCDF_MILLS_DD_STEPS, "_normcdf_mills")
_normcdf_near_f32 = _horner(C.NORMCDF_NEAR_F32, "_normcdf_near_f32")
_normcdf_far_f32 = _horner(C.NORMCDF_FAR_F32, "_normcdf_far_f32")
_normcdf_exp_q_f32 = _horner(C.NORMCDF_EXP_Q_F32, "_normcdf_exp_q_f32")
_tanhshrink_w_f64 = _horner(C.TANHSHRINK_W, "_tanhshrink_w_f64")
_tanhshrink_w_lp = _horner(C.TANHSHRINK_W_LP, "_tanhshrink_w_lp")
_tanhshrink_w_f32 = _horner(tuple(np.float32(c) for c in C.TANHSHRINK_W_LP), "_tanhshrink_w_f32")


@jit(**_JIT)
def pow2_f64(n):
    """2.0**n for an int64 n in [-1022, 1023], by building the exponent bits."""
    return i64_as_f64((n + 1023) << 52)


# ------------------------------------------------------------ range reduction
def exp_reduce(x):  # pragma: no cover - only ever compiled
    """(n, r): x = n ln2 + r, n = round(x / ln2) as a float, |r| <= ~ln2/2, for a
    clamped x of either float type (the float type's ln2 split; float32: the low
    step by FMA).  The one place the exp range reduction is written."""
    raise NotImplementedError


@overload(exp_reduce, inline="always")
def _exp_reduce(x):
    if _is_f32(x):
        log2e, shift, hi, lo = C.LOG2E_F32, C.ROUND_SHIFT_F32, C.LN2_HI_F32, C.LN2_LO_F32

        def impl(x):
            nf = (x * log2e + shift) - shift
            return nf, fma(nf, -lo, x - nf * hi)

        return impl

    def impl(x):
        nf = (x * LOG2E + SHIFTER) - SHIFTER
        return nf, (x - nf * LN2_HI) - nf * LN2_LO

    return impl


@jit(**_JIT)
def _clamp(x, lo, hi):
    """x clamped to [lo, hi]; NaN gives lo (callers restore it)."""
    xc = x if x < hi else hi
    return xc if xc > lo else lo


@jit(**_JIT)
def _expm1_poly_f64(r):
    """expm1(r) for |r| <= 0.3466: Taylor degree 13 (relative error < 2e-17)."""
    return fma(r * r, _expm1_taylor(r), r)


@jit(**_JIT)
def _expm1_poly_lp(r):
    """expm1(r) for |r| <= 0.3466: Taylor to r**9 (relative error < 1e-11)."""
    return fma(r * r, _expm1_taylor_lp(r), r)


# ------------------------------------------------------------------------ exp
@jit(**_JIT)
def exp_f64(x):
    """exp(x) = 2^n (1 + expm1(r)), r = x - n ln2, float64, <= 1 ULP."""
    return exp_dd_mul_f64(x, 0.0, 1.0)


@jit(**_JIT)
def exp_dd_mul_f64(x, lo, m):
    """m exp(x + lo) for |lo| <= ~ulp(x) and |m| <= ~2**500, lo added to the reduced
    argument (no rounding of x + lo) and m multiplied in before the second half of
    the power-of-two scaling (one rounding where the result is subnormal), float64,
    <= 1 ULP + the rounding of the product."""
    nf, r = exp_reduce(_clamp(x, C.EXP_ARG_MIN, C.EXP_ARG_MAX))
    p = 1.0 + _expm1_poly_f64(r + lo)
    n = int(nf)
    n1 = n >> 1
    y = (m * p) * pow2_f64(n1) * pow2_f64(n - n1)
    y = m * 0.0 if x < C.EXP_ARG_MIN else y  # e^x = 0 there: +-0 for any finite m
    return x if x != x else y


@jit(**_JIT)
def exp_mul_f64(x, m):
    """(m exp(x), exp(x)) for x <= 20 (callers' range), m finite.

    m is multiplied in before the power-of-two scaling, which is split in four
    factors so that x down to -1500 works: m exp(x) is a normal number for
    x = -714, m = -714 (silu) although exp(-714) is subnormal, and is still
    non-zero for m ~ 1e308, x ~ -1400."""
    nf, r = exp_reduce(_clamp(x, C.EXP_MUL_ARG_MIN, C.EXP_ARG_MAX))
    p = 1.0 + _expm1_poly_f64(r)
    n = int(nf)
    q = n >> 2
    s1 = pow2_f64(q)
    s4 = pow2_f64(n - 3 * q)
    y = p * s1 * s1 * s1 * s4
    my = (m * s1) * p * s1 * s1 * s4
    return (x, x) if x != x else (my, y)


@jit(**_JIT)
def exp_mul_lp(x, m):
    """(m exp(x), exp(x)) at float32 precision."""
    e = exp_lp(x)
    return m * e, e


@jit(**_JIT)
def exp_lp(x):
    """exp(x) with relative error < 1e-9 where the result fits a float32.

    0 below EXP_ARG_MIN_LP, inf above EXP_ARG_MAX_LP (both far outside float32's
    range); NaN propagates."""
    nf, r = exp_reduce(_clamp(x, C.EXP_ARG_MIN_LP, C.EXP_ARG_MAX_LP))
    y = (1.0 + _expm1_poly_lp(r)) * pow2_f64(int(nf))
    y = 0.0 if x < C.EXP_ARG_MIN_LP else y  # exact limits: a huge factor must not revive them
    y = INF if x > C.EXP_ARG_MAX_LP else y
    return x if x != x else y


# ---------------------------------------------------------------------- expm1
@jit(**_JIT)
def expm1_f64(x):
    """expm1(x) = 2^n expm1(r) + (2^n - 1) (n < 54), 2^n (1 + expm1(r)) above."""
    nf, r = exp_reduce(_clamp(x, C.EXPM1_ARG_MIN, C.EXPM1_ARG_MAX))
    p = _expm1_poly_f64(r)
    n = int(nf)
    n1 = n >> 1
    s1 = pow2_f64(n1)
    s2 = pow2_f64(n - n1)
    s = s1 * s2
    small = s * p + (s - 1.0)
    big = (1.0 + p) * s1 * s2
    y = small if n < 54 else big  # 2^n - 1 rounds to 2^n from n = 54 on
    y = x if math.fabs(x) < C.TINY else y  # keeps -0.0 and subnormals
    return x if x != x else y


@jit(**_JIT)
def expm1_lp(x):
    """expm1(x), relative error < 1e-9 for float32-representable results."""
    nf, r = exp_reduce(_clamp(x, C.EXPM1_ARG_MIN, C.EXP_ARG_MAX_LP))
    p = _expm1_poly_lp(r)
    s = pow2_f64(int(nf))
    y = s * p + (s - 1.0)
    y = INF if x > C.EXP_ARG_MAX_LP else y
    y = x if math.fabs(x) < C.TINY else y
    return x if x != x else y


# ---------------------------------------------------------------------- log1p
@jit(**_JIT)
def _log1p_parts(x):
    """(k, s, c): 1 + x = 2^k m (1 + c), m in [sqrt(1/2), sqrt(2)), s = (m-1)/(m+1)."""
    u = 1.0 + x
    c = (x - (u - 1.0)) / u  # u's rounding error, relative (0 for large x)
    c = c if u < 9007199254740992.0 else 0.0
    iu = f64_as_i64(u) + (0x3FF0000000000000 - C.LOG_SPLIT_BITS)
    k = (iu >> 52) - 1023
    m = i64_as_f64((iu & 0x000FFFFFFFFFFFFF) + C.LOG_SPLIT_BITS)
    s = (m - 1.0) / (m + 1.0)
    return k, s, c


@jit(**_JIT)
def _log1p_finish(x, y):
    y = x if math.fabs(x) < C.TINY else y  # keeps -0.0 and subnormals
    y = -INF if x == -1.0 else y
    y = NAN if x < -1.0 else y
    y = x if x == INF else y
    return x if x != x else y


@jit(**_JIT)
def log1p_f64(x):
    """log1p(x) = k ln2 + 2 atanh(s) + c (see ``_log1p_parts``), float64."""
    k, s, c = _log1p_parts(x)
    w = s * s
    log_m = 2.0 * s + (2.0 * s) * (w * _log_atanh(w))
    kf = float(k)
    y = kf * LN2_HI + (log_m + (kf * LN2_LO + c))
    return _log1p_finish(x, y)


@jit(**_JIT)
def log1p_lp(x):
    """log1p(x), relative error < 1e-9 (atanh series to s**13)."""
    k, s, c = _log1p_parts(x)
    w = s * s
    log_m = 2.0 * s + (2.0 * s) * (w * _log_atanh_lp(w))
    y = float(k) * LN2 + (log_m + c)
    return _log1p_finish(x, y)


# ------------------------------------------------ precision chosen by a dtype
def by_float32(name, params, on, f32_impl, other_impl, doc):
    """A Numba-callable ``name(params)`` (``params`` like ``"z, like"``) that compiles
    to ``f32_impl`` when the argument ``on`` is a float32, else to ``other_impl``
    (resolved at compile time, inlined); both impls take ``params``."""
    namespace = {"_is_f32": _is_f32, "f32_impl": f32_impl, "other_impl": other_impl}
    exec(f"def {name}({params}):  # pragma: no cover - only ever compiled\n"  # noqa: S102
         f"    raise NotImplementedError\n"
         f"def typing({params}):\n"
         f"    return f32_impl if _is_f32({on}) else other_impl\n", namespace)
    stub = namespace[name]
    stub.__doc__ = doc
    overload(stub, inline="always")(namespace["typing"])
    return stub


def _by_precision(full, low, name):
    """f(z, like): ``low(z)`` (float32 precision) for a float32 ``like``, else ``full(z)``."""
    return by_float32(name, "z, like", "like", lambda z, like: low(z), lambda z, like: full(z),
                      f"{full.__name__}(z) or, for a float32 ``like``, {low.__name__}(z).")


def _value_by_precision(full, low, name):
    """f(like): the constant ``low`` for a float32 ``like``, else ``full``."""
    return by_float32(name, "like", "like", lambda like: low, lambda like: full,
                      f"{full!r}, or {low!r} for a float32 ``like``.")


vexp = _by_precision(exp_f64, exp_lp, "vexp")
vexpm1 = _by_precision(expm1_f64, expm1_lp, "vexpm1")
vlog1p = _by_precision(log1p_f64, log1p_lp, "vlog1p")
_tanh_arg_max = _value_by_precision(C.TANH_ARG_MAX, C.TANH_ARG_MAX_LP, "_tanh_arg_max")
_tanhshrink_w = _by_precision(_tanhshrink_w_f64, _tanhshrink_w_lp, "_tanhshrink_w")


# ----------------------------------------------------------------------- tanh
@jit(**_JIT)
def vtanh(z, like):
    """tanh(z) = sign(z) e / (e + 2), e = expm1(2|z|), |z| clamped where tanh rounds
    to 1 (float32 precision for a float32 ``like``)."""
    a = math.fabs(z)
    a = a if a < _tanh_arg_max(like) else _tanh_arg_max(like)
    e = vexpm1(a + a, like)
    y = math.copysign(e / (e + 2.0), z)
    return z if z != z else y


# ------------------------------------------------------- normal CDF / density
@jit(**_JIT)
def _mul_exp_neg_half_sq_f64(y, a, al):
    """(a + al) e^(-y**2/2) for 0 <= y <= NORMCDF_ARG_MAX, |al| <= ulp(a): y**2 split
    exactly by an FMA, a + al applied before the second half of the power-of-two scaling
    (one rounding where the result is subnormal), +-0 where e^(-y**2/2) underflows."""
    h = -0.5 * (y * y)
    nf, r = exp_reduce(_clamp(h, C.EXP_ARG_MIN, 0.0))
    e = _expm1_poly_f64(r - 0.5 * fma(y, y, -(y * y)))
    n = int(nf)
    n1 = n >> 1
    v = (a + fma(a, e, al + al * e)) * pow2_f64(n1) * pow2_f64(n - n1)
    return a * 0.0 if h < C.EXP_ARG_MIN else v


@jit(**_JIT)
def _mills_f64(y):
    """R(y) = Phi(-y) e^(y**2/2) = hi + lo for 0 <= y <= NORMCDF_ARG_MAX: t F(t),
    t = c/(c + y) (c = NORMCDF_MILLS_T_SCALE), F a polynomial in u = t - T_SHIFT (second-
    order Horner, its last steps in double-double); the rounding errors of t and u move
    the point to y(u + T_SHIFT), taken back to first order through R'(y) = y R - 1/sqrt(2 pi)."""
    c = C.NORMCDF_MILLS_T_SCALE
    d, dl = two_sum(c, y)
    t = c / d
    u = t - C.NORMCDF_MILLS_T_SHIFT
    fh, fl = _normcdf_mills(u)
    fl = fl + C.NORMCDF_MILLS_LO
    t = u + C.NORMCDF_MILLS_T_SHIFT  # exact: the point F was evaluated at
    rh = t * fh
    # y(t) - y = (r - t dl) d / c, r = c - t d exactly: R(y) = R(y(t)) - R'(y) (y(t) - y)
    dy = (fma(-t, d, c) - t * dl) * d * C.NORMCDF_MILLS_INV_T_SCALE
    rl = fma(t, fh, -rh) + t * fl + (C.INV_SQRT_2PI - y * rh) * dy
    return rh, rl


@jit(**_JIT)
def gelu_f64(x):
    """x Phi(x) for finite x (NaN -> NaN): x Phi(-|x|) = (x R(|x|)) e^(-x**2/2) in
    double-double up to the exponential, rounded once where subnormal; x - x Phi(-x) for
    x > 0 (callers handle +-inf)."""
    y = math.fabs(x)
    y = y if y < C.NORMCDF_ARG_MAX else C.NORMCDF_ARG_MAX
    rh, rl = _mills_f64(y)
    a = x * rh
    low = _mul_exp_neg_half_sq_f64(y, a, fma(x, rh, -a) + x * rl)
    v = x - low if x > 0.0 else math.copysign(low, x)
    return x if x != x else v


@jit(**_JIT)
def gelu_derivative_f64(x):
    """Phi(x) + x phi(x) for finite x (NaN -> NaN): with a = (y/sqrt(2 pi) - R(y))
    e^(-y**2/2), y = |x| (the difference in double-double), -a for x < 0, rounded once
    where subnormal, 1 + a above (callers handle +-inf)."""
    y = math.fabs(x)
    y = y if y < C.NORMCDF_ARG_MAX else C.NORMCDF_ARG_MAX
    rh, rl = _mills_f64(y)
    ch = y * C.INV_SQRT_2PI
    cl = fma(y, C.INV_SQRT_2PI, -ch) + y * C.INV_SQRT_2PI_LO
    dh, dl = two_sum(ch, -rh)
    a = _mul_exp_neg_half_sq_f64(y, dh, dl + (cl - rl))
    v = -a if x < 0.0 else 1.0 + a
    return x if x != x else v


vexp_mul = by_float32("vexp_mul", "z, m, like", "like", lambda z, m, like: exp_mul_lp(z, m),
                      lambda z, m, like: exp_mul_f64(z, m),
                      "(m exp(z), exp(z)): exp_mul_f64, or exp_mul_lp for a float32 ``like``.")


# ------------------------------------------------------------- tanhshrink
@jit(**_JIT)
def vtanhshrink(z, like):
    """z - tanh(z): z**3 g(z**2) (polynomial in w = z**2) for |z| < 1, else
    (|z| - 1) + 2/(e^{2|z|} + 1) (float32 precision for a float32 ``like``)."""
    a = math.fabs(z)
    w = a * a if a < 1.0 else 1.0
    small = a * w * _tanhshrink_w(w, like)
    large = (a - 1.0) + 2.0 / (vexp(a + a, like) + 1.0)
    y = math.copysign(small if a < 1.0 else large, z)
    return z if z != z else y


# ------------------------------------------- native float32 (16 AVX-512 lanes)
# float32 globals stay float32 in Numba (a float literal would widen to float64).
F32_0 = np.float32(0.0)
F32_1 = np.float32(1.0)
F32_HALF = np.float32(0.5)
F32_INF = np.float32(np.inf)
F32_SHIFTER = C.ROUND_SHIFT_F32
F32_HALF_FLOOR = np.float32(0.25)  # (n/2 - 1/4) rounds to floor(n/2) for integer n
F32_QUARTER_FLOOR = np.float32(0.375)  # (n/4 - 3/8) rounds to floor(n/4)


@jit(**_JIT)
def _expm1_reduced_f32n(x, lo, hi):
    """(n, expm1(r)): x clamped to [lo, hi] = n ln2 + r, expm1(r) = r + r**2 P(r)
    (Cephes' expf polynomial, relative error ~1 ulp), float32."""
    nf, r = exp_reduce(_clamp(x, lo, hi))
    return nf, fma(_expm1_cephes_f32(r), r * r, r)


@jit(**_JIT)
def exp_f32n(x):
    """exp(x) computed in float32 (<= ~2 ulp; 0 below -103.98, inf above 88.72, NaN kept).

    exp(x) = p 2^n, 2^n applied as two factors 2^floor(n/2) 2^(n - floor(n/2)) so
    that a subnormal result is rounded once."""
    nf, pm1 = _expm1_reduced_f32n(x, C.EXP_ARG_MIN_F32, C.EXP_ARG_MAX_F32)
    y = _exp_scale_f32n(x, nf, pm1)
    return x if x != x else y


@jit(**_JIT)
def _exp_scale_f32n(x, nf, pm1):
    """(1 + pm1) 2^n as two factors 2^floor(n/2) 2^(n - floor(n/2)) (a subnormal result
    rounded once), inf for x above EXP_ARG_MAX_F32: exp(x) from its reduced parts."""
    n1 = (nf * F32_HALF - F32_HALF_FLOOR + F32_SHIFTER) - F32_SHIFTER
    y = (F32_1 + pm1) * pow2_f32(n1) * pow2_f32(nf - n1)
    return F32_INF if x > C.EXP_ARG_MAX_F32 else y


@jit(**_JIT)
def expm1_f32n(x):
    """expm1(x) in float32, <= ~1 ulp; -0.0 and subnormals kept, inf above 88.72.

    x = n ln2 + r: expm1(x) = 2^n expm1(r) + (2^n - 1) with one rounding (FMA);
    above EXPM1_AS_EXP_MIN_F32, expm1(x) = exp(x) in float32 (exp_f32n's bits, from the
    same reduction: no clamp bites on either side of that bound)."""
    nf, p = _expm1_reduced_f32n(x, C.EXPM1_ARG_MIN_F32, C.EXP_ARG_MAX_F32)
    s = pow2_f32(nf)
    y = fma(s, p, s - F32_1)
    y = _exp_scale_f32n(x, nf, p) if x > C.EXPM1_AS_EXP_MIN_F32 else y
    y = x if abs(x) < C.TINY_F32 else y
    return x if x != x else y


@jit(**_JIT)
def log1p_unit_f32n(e):
    """log1p(e) in float32 for 0 <= e <= 1 (the softplus/logsigmoid range), <= ~2 ulp.

    u = 1 + e = 2^k (1 + f) with k in {0, 1}, f in [sqrt(1/2)-1, sqrt(2)-1) exact,
    log(1 + f) = f - f**2/2 + f**3 P(f) (Cephes' logf polynomial), plus u's rounding
    error t = e - (u - 1) (exact) as t/u, 1/u from two Newton steps (t is below
    2**-24 u)."""
    u = F32_1 + e
    t = e - (u - F32_1)
    big = u > C.SQRT2_F32
    f = (u * F32_HALF - F32_1) if big else (u - F32_1)
    kf = F32_1 if big else F32_0
    q = _log1p_cephes_f32(f)
    z = f * f
    r = np.float32(1.5) - F32_HALF * u  # ~1/u within 12%
    r = r * (np.float32(2.0) - u * r)  # within 1.5%
    lo = fma(kf, C.LN2_LO_F32, t * r)
    y = fma(f * z, q, lo) - F32_HALF * z
    return fma(kf, C.LN2_HI_F32, f + y)


@jit(**_JIT)
def tanhshrink_f32n(x):
    """x - tanh(x) in float32 (vtanhshrink's algorithm): |x|**3 g(x**2) for |x| < 1 (g with
    TANHSHRINK_W_LP's coefficients rounded to float32), else (|x| - 1) + 2 e/(1 + e),
    e = e^(-2|x|) from the sigmoid family's core (both terms >= 0: no cancellation); NaN kept."""
    a = abs(x)
    w = a * a if a < F32_1 else F32_1
    small = (a * w) * _tanhshrink_w_f32(w)
    e = sigmoid_exp(a + a, None)[2]
    large = (a - F32_1) + (e + e) / (F32_1 + e)
    y = math.copysign(small if a < F32_1 else large, x)
    return x if x != x else y


@jit(**_JIT)
def tanh_f32n(x):
    """tanh(x) in float32 (<= ~3 ulp): sign(x) (-q / (2 + q)), q = expm1(-2|x|), |x| clamped to
    TANH_ARG_MAX_F32 (tanh rounds to 1 beyond); -2|x| = n ln2 + r by FMA, 2^n from the bits of
    the rounding sum, q = 2^n expm1(r) + (2^n - 1) by one FMA (n <= 0: exact at n = 0, so tanh
    keeps its digits near 0), expm1(r) = r + r**2 Q(r) with the fitted EXPM1_POLY_F32.  The
    Cython backend's fa_tanh_f32, operation for operation."""
    a = abs(x)
    y = np.float32(-2.0) * (C.TANH_ARG_MAX_F32 if a > C.TANH_ARG_MAX_F32 else a)  # NaN passes
    k = fma(y, C.LOG2E_F32, F32_SHIFTER)  # n + ROUND_SHIFT_F32: n rounded
    nf = k - F32_SHIFTER
    r = fma(nf, -C.LN2_LO_F32, fma(nf, -C.LN2_HI_F32, y))
    s = pow2_rounded_f32(k)
    q = fma(s, fma(r * r, _expm1_fit_f32(r), r), s - F32_1)
    t = -q / (np.float32(2.0) + q)
    return math.copysign(F32_1 if a > C.TANH_ARG_MAX_F32 else t, x)


_SHIFTER_BITS = int(np.float64(C.ROUND_SHIFT).view(np.int64))  # n + ROUND_SHIFT - this: n


@jit(**_JIT)
def tanh_f64n(x):
    """tanh(x) in float64 (<= 2 ulp): tanh_f32n's algorithm with the float64 constants, the
    fitted EXPM1_POLY and 2^n from the bits of the rounding sum (n <= 0: no overflow, no
    select).  The Cython backend's fa_tanh_f64, operation for operation."""
    a = math.fabs(x)
    y = -2.0 * (C.TANH_ARG_MAX if a > C.TANH_ARG_MAX else a)  # NaN passes
    k = fma(y, LOG2E, SHIFTER)  # n + ROUND_SHIFT: n rounded
    nf = k - SHIFTER
    r = fma(nf, -LN2_LO, fma(nf, -LN2_HI, y))
    s = pow2_f64(f64_as_i64(k) - _SHIFTER_BITS)
    q = fma(s, fma(r * r, _expm1_fit_f64(r), r), s - 1.0)
    t = -q / (2.0 + q)
    return math.copysign(1.0 if a > C.TANH_ARG_MAX else t, x)


# ------------------------------------------------- the sigmoid family's core
def sigmoid_exp(hi, lo):  # pragma: no cover - only ever compiled
    """(m, t, e) for u = hi + lo (lo a tiny correction, e.g. beta x's FMA residual, or None), in
    hi's type: t = -|hi| clamped to SIGMOID_EXP_ARG_MIN (where e^t and |t| e^t round to 0),
    m = e^-|u| 2^S (S = SIGMOID_EXP_SCALE_EXP: normal, < 1 ulp; one range reduction, 2^(n + S)
    from the bits, no select), e = m 2^-S = e^-|u|.  y e^-|u| as (y m) 2^-S rounds once where
    e^-|u| is subnormal (silu(-90) in float32 is normal).  Both backends' algorithm."""
    raise NotImplementedError


def _add_lo(r, t, hi, lo):  # pragma: no cover - only ever compiled
    """r + lo's share of -|hi + lo| (-lo for hi >= 0, lo below; none where t is clamped, nor
    for lo None)."""
    raise NotImplementedError


@overload(_add_lo, inline="always")
def _add_lo_impl(r, t, hi, lo):
    if isinstance(lo, types.NoneType):
        return lambda r, t, hi, lo: r

    def impl(r, t, hi, lo):
        zero = _zero_like(r)
        return r + (zero if t > -abs(hi) else (-lo if hi >= zero else lo))

    return impl


@overload(sigmoid_exp, inline="always")
def _sigmoid_exp(hi, lo):
    if _is_f32(hi):
        arg_min, unscale, poly = C.SIGMOID_EXP_ARG_MIN_F32, C.SIGMOID_EXP_UNSCALE_F32, _expm1_cephes_f32
        log2e, shift, ln2_hi, ln2_lo = C.LOG2E_F32, C.ROUND_SHIFT_F32, C.LN2_HI_F32, C.LN2_LO_F32
    else:
        arg_min, unscale, poly = C.SIGMOID_EXP_ARG_MIN, C.SIGMOID_EXP_UNSCALE, _expm1_fit_f64
        log2e, shift, ln2_hi, ln2_lo = LOG2E, SHIFTER, LN2_HI, LN2_LO

    def impl(hi, lo):
        t = -abs(hi)
        t = t if t > arg_min else arg_min
        k = fma(t, log2e, shift)  # n + ROUND_SHIFT: n rounded
        nf = k - shift
        r = _add_lo(fma(nf, -ln2_lo, fma(nf, -ln2_hi, t)), t, hi, lo)
        s = sigmoid_scale(k)
        m = fma(fma(r * r, poly(r), r), s, s)
        return m, t, m * unscale

    return impl


_zero_like = _value_by_precision(0.0, F32_0, "_zero_like")
_one_like = _value_by_precision(1.0, F32_1, "_one_like")
sigmoid_unscale = _value_by_precision(C.SIGMOID_EXP_UNSCALE, C.SIGMOID_EXP_UNSCALE_F32,
                                      "sigmoid_unscale")
sigmoid_e_floor = _value_by_precision(C.SIGMOID_E_FLOOR, C.SIGMOID_E_FLOOR_F32, "sigmoid_e_floor")
sigmoid_scaled_min = _value_by_precision(-C.SIGMOID_EXP_SCALE_EXP / 2.0,
                                         np.float32(-C.SIGMOID_EXP_SCALE_EXP_F32 / 2.0),
                                         "sigmoid_scaled_min")


@jit(**_JIT)
def sigmoid_e_floored(m):
    """sigmoid_exp's e = m 2^-S, raised to SIGMOID_E_FLOOR where it is below: the same bits for
    the formulas that add e to O(1) terms or take e, e^2 and |t| e only there (all below half
    an ULP of 1), without a subnormal e (each costs a microcode assist per vector).  The max
    is taken on the bits: on the values LLVM folds 1 + e for the floor and computes the
    product for every lane before a select."""
    return positive_max(m, sigmoid_e_floor(m) / sigmoid_unscale(m)) * sigmoid_unscale(m)


@jit(**_JIT)
def sigmoid_dd(hi, lo):
    """sigmoid(u), u = hi + lo, in hi's type: 1/(1 + e) for u >= 0, e/(1 + e) below (one exp,
    one division)."""
    _, _, e = sigmoid_exp(hi, lo)
    one = _one_like(e)
    return (one if hi >= 0 else e) / (one + e)


@jit(**_JIT)
def sigmoid_lean(x):
    """sigmoid(x) in x's type."""
    return sigmoid_dd(x, None)


@jit(**_JIT)
def exp_neg_abs_dd(hi, lo):
    """e^-|u|, u = hi + lo, in hi's type (the sigmoid family's core)."""
    return sigmoid_exp(hi, lo)[2]


@jit(**_JIT)
def sigmoid_derivative_lean(x):
    """sigmoid'(x) = e/(1 + e)**2 = ((m d) d) 2^-S, d = 1/(1 + e), in x's type."""
    m, _, e = sigmoid_exp(x, None)
    one = _one_like(e)
    d = one / (one + e)
    return ((m * d) * d) * sigmoid_unscale(x)


@jit(**_JIT)
def silu_lean(x):
    """silu(x) = x sigmoid(x) for finite x, in x's type: x/(1 + e) for x >= 0, else
    ((t m)/(1 + e)) 2^-S (t = x down to the clamp, where the result rounds to -0)."""
    m, t, _ = sigmoid_exp(x, None)
    e = sigmoid_e_floored(m)
    one = _one_like(e)
    pos = x >= 0
    return ((x if pos else t * m) / (one + e)) * (one if pos else sigmoid_unscale(x))


@jit(**_JIT)
def x_sigmoid_dd(x, uh, ul):
    """x sigmoid(u), u = uh + ul (swish: u = beta x), for finite x in x's type: x/(1 + e) for
    u >= 0, else (x e)/(1 + e) with x e = (x m) 2^-S where e^u < 2^(-S/2) (rounded once where
    subnormal; no overflow unless |x e^u| >= 2^(emax - S)), 0 below the clamp."""
    m, t, _ = sigmoid_exp(uh, ul)
    e = sigmoid_e_floored(m)
    one = _one_like(e)
    scaled = t < sigmoid_scaled_min(x)
    num = x * m if scaled else x * e
    num = (one - one) * x if -abs(uh) < t else num  # below the clamp: +-0
    sc = sigmoid_unscale(x) if scaled else one
    pos = uh >= 0
    return ((x if pos else num) / (one + e)) * (one if pos else sc)


@jit(**_JIT)
def _silu_derivative_finish(pos, m, t, e, unscale):
    """silu'(u) from sigmoid_exp's (m, t, e) of u: ((c (1 + t g)) d) sc, d = 1/(1 + e), with
    c = 1, g = -e d, sc = 1 for u >= 0 (d (1 - t e d); u (1 - s) = -t e d: no inf * 0), c = m,
    g = d, sc = 2^-S below (the selects first, one product chain)."""
    one = _one_like(e)
    d = one / (one + e)
    c = one if pos else m
    g = -(e * d) if pos else d
    return ((c * (one + t * g)) * d) * (one if pos else unscale)


@jit(**_JIT)
def silu_derivative_lean(x):
    """silu'(x) = s (1 + x (1 - s)), s = sigmoid(x), in x's type: one exp, one division."""
    m, t, _ = sigmoid_exp(x, None)
    return _silu_derivative_finish(x >= 0, m, t, sigmoid_e_floored(m), sigmoid_unscale(x))


@jit(**_JIT)
def silu_derivative_dd(uh, ul):
    """silu'(u) for u = uh + ul (swish': u = beta x), ul carried into e^-|u|."""
    m, t, _ = sigmoid_exp(uh, ul)
    return _silu_derivative_finish(uh >= 0, m, t, sigmoid_e_floored(m), sigmoid_unscale(uh))


@jit(**_JIT)
def _mish_parts(x):
    """(pos, m, t, e, c0, c1) for mish: sigmoid_exp's (m, t) of x, e = sigmoid_e_floored and
    (c0, c1) = (1, 2) for x >= 0, (2, 1) below, in x's type."""
    m, t, _ = sigmoid_exp(x, None)
    e = sigmoid_e_floored(m)
    one = _one_like(e)
    pos = x >= 0
    c0 = one if pos else one + one
    return pos, m, t, e, c0, (one + one + one) - c0


@jit(**_JIT)
def mish_lean(x):
    """mish(x) = x tanh(log(1 + e^x)) in x's type from E = e^-|x|: x q for x >= 0, ((x m) q)
    2^-S below, q = 1 - c as x - x c (one FMA), c = g/D = 2E^2 / (1 + 2E + 2E^2) above,
    E (1 + E) / (2 + 2E + E^2) below.  The Cython backend's fa_mish, operation for operation."""
    pos, m, t, e, c0, c1 = _mish_parts(x)
    one = _one_like(e)
    u = c1 * e
    c = (e * ((c0 - one) + u)) / fma(e, (one + one) + u, c0)
    num = x if pos else t * m
    r = math.copysign(fma(-num, c, num) * (one if pos else sigmoid_unscale(x)), x)
    return x if x == np.inf else r


@jit(**_JIT)
def mish_derivative_lean(x):
    """mish'(x) = tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2), sp = log(1 + e^x), in x's type:
    r (w + 4 x E^2 (1 + E) r) for x >= 0, (m r (w + 4 x (1 + E) r)) 2^-S below, w = c0 + c1 E,
    r = 1/D (x as +-|t|: +inf gives 1).  The Cython backend's fa_mish_derivative."""
    pos, m, t, e, c0, c1 = _mish_parts(x)
    one = _one_like(e)
    two = one + one
    w = fma(c1, e, c0)
    r = one / fma(e, fma(c1, e, two), c0)
    xh = -t * (e * e) if pos else t
    v = fma((two + two) * xh, (one + e) * r, w)
    return (((one if pos else m) * r) * v) * (one if pos else sigmoid_unscale(x))


@jit(**_JIT)
def _normcdf_parts_f32n(x):
    """(y, x R(y) and y/sqrt(2 pi) - R(y) (the gelu pieces), e^(-y^2/2) = (m, lo)) in float32
    for y = |x| clamped to NORMCDF_ARG_MAX_F32, R(y) = Phi(-y) e^(y^2/2): the near polynomial
    in y - 1 or v F(v^2), v = 1/y (both evaluated, then a select); in the far range
    x R(y) = sign(x) F(v^2) exactly (x v = -+1), v^2 taken as 1/p; y^2 = p + lo split
    exactly by an FMA."""
    y = abs(x)
    y = y if y < C.NORMCDF_ARG_MAX_F32 else C.NORMCDF_ARG_MAX_F32  # NaN: the caller's x
    near_max = C.NORMCDF_NEAR_MAX_F32
    p = y * y
    w = F32_1 / p  # v**2, used for y > near_max only
    q = _normcdf_far_f32(w)
    r_near = _normcdf_near_f32(y - C.NORMCDF_NEAR_SHIFT_F32)
    xr = math.copysign(q if y > near_max else y * r_near, x)
    c = y * np.float32(C.INV_SQRT_2PI) - (r_near if y <= near_max else (y * w) * q)
    return p, fma(y, y, -p), xr, c


@jit(**_JIT)
def _exp_neg_half_mul_f32n(p, lo, m):
    """m e^(-(p + lo)/2) in float32 for 0 <= p <= NORMCDF_ARG_MAX_F32**2, |lo| <= ulp(p),
    |m| <= 8: -lo/2 joins the reduced argument r; 2^k applied as 2^(k + SCALE_BITS) (normal,
    from the bits of the rounding sum) times 2^-SCALE_BITS last, so that a subnormal result
    is rounded once (the Cython backend's fa__mul_exp_neg_half_f32)."""
    h = -F32_HALF * p
    t = fma(h, C.LOG2E_F32, C.NORMCDF_EXP_SHIFT_F32)
    nf = t - C.NORMCDF_EXP_SHIFT_F32
    r = fma(nf, -C.LN2_HI_F32, h)
    r = fma(nf, -C.LN2_LO_F32, r)
    r = fma(lo, -F32_HALF, r)
    e = fma(r * r, _normcdf_exp_q_f32(r), r)
    ms = m * normcdf_scale_f32(t)
    return fma(ms, e, ms) * C.NORMCDF_EXP_UNSCALE_F32


@jit(**_JIT)
def gelu_f32n(x):
    """x Phi(x) in float32: x Phi(-|x|) = x R e^(-x^2/2), rounded once where subnormal;
    x - x Phi(-x) for x > 0; +-0 kept, -inf gives -0 (y is clamped), +inf gives +inf, NaN
    gives NaN."""
    p, lo, xr, _ = _normcdf_parts_f32n(x)
    t = _exp_neg_half_mul_f32n(p, lo, xr)  # x's sign, zeros included
    return t if x <= F32_0 else x - t  # NaN x: x - t


@jit(**_JIT)
def gelu_derivative_f32n(x):
    """Phi(x) + x phi(x) in float32 (finite x): with a = (y/sqrt(2 pi) - R(y)) e^(-y^2/2),
    y = |x|, -a for x < 0 (rounded once where subnormal), 1 + a above."""
    p, lo, _, c = _normcdf_parts_f32n(x)
    a = _exp_neg_half_mul_f32n(p, lo, c)
    return -a if x < F32_0 else F32_1 + a
