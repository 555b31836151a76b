"""One scalar formula per kernel id: forward, derivative and derivative-from-y.

For every kernel id ``k`` of the registry this module defines jitted scalar
functions ``k__forward(x, a, b)``, ``k__derivative(x, a, b)`` and, where the
registry allows it, ``k__derivative_y(y, a, b)``.  ``x`` has the array's
dtype, ``a`` and ``b`` are the first two numeric parameters already cast to
that dtype (unused ones are 0).  ``_factory`` turns them into loops.

Conventions
* Piecewise-linear formulas work in the array's dtype (``T(v, x)`` casts a
  constant to x's type) and match NumPy's min/max on signed zeros.
* Smooth formulas work in float64 (``W(x)``) and call ``_vmath``'s
  ``v*`` functions with ``like=x``: full float64 accuracy for float64 arrays,
  float32-precision (cheaper) polynomials for float32 arrays.  The result is
  rounded once when stored.
* Exceptions, for speed (16 float32 lanes instead of 8): the sigmoid-, exp- and
  log1p(exp)-based kernels (sigmoid, silu, swish, softplus, logsigmoid, elu, selu, celu,
  tanh, tanhshrink, softsign forward; their derivatives; tanh', elu', selu', celu', tanhshrink';
  sigmoid' and tanh' from y) compute float32 arrays natively in
  float32 with ``_vmath``'s ``*_f32n`` functions, chosen per dtype at compile
  time (``by_dtype``, ``vexp_x``, ...; the sigmoid family's one core ``_vmath.sigmoid_exp``).
  Products beta x that feed exp are carried as hi + lo (FMA residual) so that
  their rounding does not get amplified by exp.  float32 gelu_tanh takes 2u as a float32
  pair, gelu_tanh' 2u rounded in float32, then the same float32 core.
* NaN inputs are restored by the loop (NaN in -> NaN out for every mode); the
  formulas handle +-inf themselves where the plain expression would give NaN.
"""
from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload

from ._cache import jit
from .._constants import (
    GELU_TANH_ARG_MAX,
    GELU_TANH_C,
    GELU_TANH_2C_HI_F32,
    GELU_TANH_2C_LO_F32,
    GELU_TANH_2CK_HI_F32,
    GELU_TANH_2CK_LO_F32,
    GELU_TANH_6CK_F32,
    GELU_TANH_2U_MAX,
    GELU_TANH_K,
    QUICK_GELU_BETA,
    QUICK_GELU_BETA_HI_F32,
    QUICK_GELU_BETA_LO_F32,
    SELU_ALPHA,
    SELU_SCALE,
)
from ._vmath import (
    F32_0,
    by_float32,
    F32_1,
    exp_f32n,
    exp_mul_f64,
    expm1_f32n,
    log1p_unit_f32n,
    sigmoid_derivative_lean,
    sigmoid_dd,
    sigmoid_lean,
    exp_neg_abs_dd,
    silu_derivative_dd,
    silu_derivative_lean,
    mish_lean,
    mish_derivative_lean,
    silu_lean,
    x_sigmoid_dd,
    sigmoid_exp,
    sigmoid_e_floored,
    sigmoid_unscale,
    gelu_derivative_f64,
    gelu_f64,
    gelu_derivative_f32n,
    gelu_f32n,
    prefer_512_bit_vectors,
    fma,
    vexp,
    vexp_mul,
    vexpm1,
    vlog1p,
    tanh_f32n,
    tanh_f64n,
    tanhshrink_f32n,
    vtanh,
    vtanhshrink,
)

_JIT = dict(nogil=True, inline="always", error_model="numpy")
INF = math.inf

# ------------------------------------------------------------------- helpers
def T(v, x):  # pragma: no cover - only ever compiled
    """v cast to the type of x."""
    raise NotImplementedError


@overload(T, inline="always")
def _T(v, x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda v, x: np.float32(v)
    return lambda v, x: np.float64(v)


def by_dtype(f64_impl, f32_impl, name, doc):
    """A formula f(x, a, b) compiling to ``f32_impl`` for float32 x (computed natively
    in float32: 16 AVX-512 lanes), else to ``f64_impl``."""
    return by_float32(name, "x, a, b", "x", lambda x, a, b: f32_impl(x, a, b),
                      lambda x, a, b: f64_impl(x, a, b), doc)


@jit(**_JIT)
def W(x):
    """x widened to float64."""
    return np.float64(x)


vexp_x = by_float32("vexp_x", "x", "x", lambda x: exp_f32n(x), lambda x: vexp(x, x),
                    "exp(x) in x's own type (native float32 for float32 x).")
_expm1_x = by_float32("_expm1_x", "x", "x", lambda x: expm1_f32n(x), lambda x: vexpm1(x, x),
                     "expm1(x) in x's own type (native float32 for float32 x).")


@jit(**_JIT)
def sigmoid_pair(v, like):
    """(sigmoid(v), sigmoid(-v)) from one e = exp(-|v|)."""
    e = vexp(-math.fabs(v), like)
    d = 1.0 / (1.0 + e)
    ed = e * d
    return (d, ed) if v >= 0.0 else (ed, d)


@jit(**_JIT)
def mul_sigmoid(m, v, like):
    """m sigmoid(v), with m multiplied in before exp's final scaling (m e^v can be a
    normal number when e^v alone is subnormal: silu(-714))."""
    me, e = vexp_mul(-math.fabs(v), m, like)
    d = 1.0 / (1.0 + e)
    return m * d if v >= 0.0 else me * d


@jit(**_JIT)
def sigmoid_pair_dd(hi, lo, like):
    """(sigmoid(v), sigmoid(-v)) for v = hi + lo (lo a tiny correction)."""
    e = vexp(-math.fabs(hi), like) * ((1.0 - lo) if hi >= 0.0 else (1.0 + lo))
    d = 1.0 / (1.0 + e)
    ed = e * d
    return (d, ed) if hi >= 0.0 else (ed, d)


@jit(**_JIT)
def gelu_tanh_clamp(z):
    """z clamped to +-GELU_TANH_ARG_MAX (NaN gives the upper bound: the loop restores NaN)."""
    x = z if z < GELU_TANH_ARG_MAX else GELU_TANH_ARG_MAX
    return x if x > -GELU_TANH_ARG_MAX else -GELU_TANH_ARG_MAX


@jit(**_JIT)
def _gelu_tanh_2u_f64(z):
    """2u in double-double (FMA products, two-sum): the lower tail of gelu_tanh
    is exp(2u) with |2u| up to ~745, so u needs ~2**-60 relative accuracy.
    c = sqrt(2/pi) and k = 0.044715 are taken as the float64 constants (the
    function PyTorch and the registry define)."""
    x = gelu_tanh_clamp(z)
    x2 = x * x
    e2 = fma(x, x, -x2)
    x3 = x2 * x
    e3 = fma(x2, x, -x3) + e2 * x
    kx3 = GELU_TANH_K * x3
    ek = fma(GELU_TANH_K, x3, -kx3) + GELU_TANH_K * e3
    s = x + kx3
    bb = s - x
    es = ((x - (s - bb)) + (kx3 - bb)) + ek
    c2 = 2.0 * GELU_TANH_C
    v = c2 * s
    ev = fma(c2, s, -v) + c2 * es
    hi = v + ev
    lo = ev - (hi - v)
    return hi, lo


@jit(**_JIT)
def at_inf(z, r, neg, pos):
    """r, except neg at z = -inf and pos at z = +inf (the mathematical limits)."""
    r = neg if z == -INF else r
    return pos if z == INF else r


@jit(**_JIT)
def step(c, x):
    """1 if c else 0, in x's type."""
    return T(1.0, x) if c else T(0.0, x)


# ------------------------------------------------------------------ identity
@jit(**_JIT)
def identity__forward(x, a, b):
    """identity(x) = x"""
    return x


@jit(**_JIT)
def identity__derivative(x, a, b):
    """identity'(x) = 1"""
    return T(1.0, x)


identity__derivative_y = identity__derivative


# ---------------------------------------------------------------------- relu
@jit(**_JIT)
def relu__forward(x, a, b):
    """relu(x) = max(x, 0) (NumPy's maximum: relu(-0.0) = 0.0)"""
    return T(0.0, x) if x <= 0 else x


@jit(**_JIT)
def relu__derivative(x, a, b):
    """relu'(x) = 1 if x > 0 else 0"""
    return step(x > 0, x)


relu__derivative_y = relu__derivative


@jit(**_JIT)
def leaky_relu__forward(x, a, b):
    """leaky_relu(x) = x if x > 0 else a x"""
    return x if x > 0 else x * a


@jit(**_JIT)
def leaky_relu__derivative(x, a, b):
    """leaky_relu'(x) = 1 if x > 0 else a"""
    return T(1.0, x) if x > 0 else a


leaky_relu__derivative_y = leaky_relu__derivative


# ------------------------------------------------------------------- sigmoid
@jit(**_JIT)
def sigmoid__forward(x, a, b):
    """sigmoid(x) = 1/(1+exp(-x)) (e^x/(1+e^x) for x < 0), in x's type"""
    return sigmoid_lean(x)


@jit(**_JIT)
def sigmoid__derivative(x, a, b):
    """sigmoid'(x) = sigmoid(x) sigmoid(-x) = e/(1+e)**2, e = exp(-|x|), in x's type"""
    return sigmoid_derivative_lean(x)


@jit(**_JIT)
def sigmoid__derivative_y(y, a, b):
    """sigmoid' = y (1 - y), in y's type (1 - y exact for y >= 1/2)"""
    return y * (T(1.0, y) - y)


# ---------------------------------------------------------------------- tanh
@jit(**_JIT)
def _tanh_forward_f64(x, a, b):
    return tanh_f64n(x)


@jit(**_JIT)
def _tanh_forward_f32(x, a, b):
    return tanh_f32n(x)


tanh__forward = by_dtype(_tanh_forward_f64, _tanh_forward_f32, "tanh__forward",
                         "tanh(x) = sign(x) (-q/(2+q)), q = expm1(-2|x|), in x's type "
                         "(both backends' algorithm)")


@jit(**_JIT)
def _tanh_derivative_f64(x, a, b):
    e = vexp(-2.0 * math.fabs(W(x)), x)
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


@jit(**_JIT)
def _tanh_derivative_f32(x, a, b):
    e = exp_f32n(np.float32(-2.0) * abs(x))
    d = F32_1 + e
    return (np.float32(4.0) * e) / (d * d)


tanh__derivative = by_dtype(
    _tanh_derivative_f64, _tanh_derivative_f32, "tanh__derivative",
    "tanh'(x) = sech(x)**2 = 4e/(1+e)**2, e = exp(-2|x|) (no cancellation)")


@jit(**_JIT)
def tanh__derivative_y(y, a, b):
    """tanh' = (1 - y)(1 + y), in y's type (1 -+ y exact for |y| >= 1/2)"""
    one = T(1.0, y)
    return (one - y) * (one + y)


# ---------------------------------------------------------------------- gelu
@jit(**_JIT)
def _gelu_forward_f64(x, a, b):
    prefer_512_bit_vectors()
    z = W(x)
    return at_inf(z, gelu_f64(z), -0.0, INF)


@jit(**_JIT)
def _gelu_forward_f32(x, a, b):
    prefer_512_bit_vectors()
    return gelu_f32n(x)  # the limits at +-inf included


gelu__forward = by_dtype(_gelu_forward_f64, _gelu_forward_f32, "gelu__forward",
                         "gelu(x) = x Phi(x)")


@jit(**_JIT)
def _gelu_derivative_f64(x, a, b):
    prefer_512_bit_vectors()
    return at_inf(x, gelu_derivative_f64(x), 0.0, 1.0)


@jit(**_JIT)
def _gelu_derivative_f32(x, a, b):
    prefer_512_bit_vectors()
    return at_inf(x, gelu_derivative_f32n(x), T(0.0, x), T(1.0, x))


gelu__derivative = by_dtype(
    _gelu_derivative_f64, _gelu_derivative_f32, "gelu__derivative",
    "gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x**2/2)/sqrt(2 pi)")


@jit(**_JIT)
def _gelu_tanh_forward_f64(x, a, b):
    prefer_512_bit_vectors()
    z = W(x)
    hi, lo = _gelu_tanh_2u_f64(z)
    hi = hi if hi < GELU_TANH_2U_MAX else GELU_TANH_2U_MAX  # the result is x beyond
    # x sigmoid(v), v = hi + lo: x / (1 + e^-v) for v >= 0, (x e^v) / (1 + e^v) below,
    # with x multiplied in before e^v's final scaling (x e^v can be normal when e^v is not)
    a = -math.fabs(hi)
    c = (1.0 - lo) if hi >= 0.0 else (1.0 + lo)
    ze, e = vexp_mul(a, z * c, x)
    e = e * c
    r = z / (1.0 + e) if hi >= 0.0 else ze / (1.0 + e)
    r = -0.0 if z < -GELU_TANH_ARG_MAX else r  # 2u < -1975 there (u is computed from clamped x)
    return at_inf(z, r, -0.0, INF)


@jit(**_JIT)
def _gelu_tanh_2u_pair_f32(x):
    """2u = x (A + B x^2) as a float32 pair (hi, lo), ~2^-45 relative where x^3 B is finite:
    x^2 and the products exact by FMA, A + B x^2 by a two-sum (the lower tail's relative
    error is |2u| times that of 2u)."""
    s = x * x
    sl = fma(x, x, -s)
    p = GELU_TANH_2CK_HI_F32 * s
    pl = fma(GELU_TANH_2CK_HI_F32, s, -p)
    q = GELU_TANH_2C_HI_F32 + p
    bb = q - GELU_TANH_2C_HI_F32
    ql = (((GELU_TANH_2C_HI_F32 - (q - bb)) + (p - bb))
          + ((pl + GELU_TANH_2CK_HI_F32 * sl) + (GELU_TANH_2CK_LO_F32 * s + GELU_TANH_2C_LO_F32)))
    h = x * q
    return h, fma(x, q, -h) + x * ql


@jit(**_JIT)
def _gelu_tanh_forward_f32(x, a, b):
    # 2u as a float32 pair, clamped from above by a difference; x sigmoid(hi + lo) in float32
    # (x_sigmoid_dd: -0 where 2u is below its clamp, as x e^2u rounds to -0 there); x is not
    # clamped, so the selects after cover |x| > GELU_TANH_ARG_MAX (and 2u's overflow)
    prefer_512_bit_vectors()
    hi, lo = _gelu_tanh_2u_pair_f32(x)
    top = np.float32(GELU_TANH_2U_MAX)  # the result is x beyond
    over = hi - top if hi > top else F32_0
    r = x_sigmoid_dd(x, hi - over, lo)
    lim = np.float32(GELU_TANH_ARG_MAX)
    r = x if x > lim else r
    return -F32_0 if x < -lim else r


gelu_tanh__forward = by_dtype(
    _gelu_tanh_forward_f64, _gelu_tanh_forward_f32, "gelu_tanh__forward",
    "gelu_tanh(x) = x/2 (1 + tanh u) = x sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x**3); "
    "float32: 2u as a float32 pair hi + lo, x sigmoid(hi + lo) in float32")


@jit(**_JIT)
def _gelu_tanh_derivative_f64(x, a, b):
    prefer_512_bit_vectors()
    z = W(x)
    hi, lo = _gelu_tanh_2u_f64(z)
    hi = hi if hi < GELU_TANH_2U_MAX else GELU_TANH_2U_MAX
    s, sn = sigmoid_pair_dd(hi, lo, x)
    zc = gelu_tanh_clamp(z)
    du = 2.0 * GELU_TANH_C * (1.0 + 3.0 * GELU_TANH_K * (zc * zc))
    return at_inf(z, s + zc * (s * sn) * du, 0.0, 1.0)


@jit(**_JIT)
def _gelu_tanh_derivative_f32(x, a, b):
    # 2u = x (A + B x^2) in float32 (the bar's absolute term covers the tail, where |2u|
    # scales its rounding), clamped from above as in the forward; s from one exp
    prefer_512_bit_vectors()
    xx = x * x
    u = x * fma(GELU_TANH_2CK_HI_F32, xx, GELU_TANH_2C_HI_F32)
    du = fma(GELU_TANH_6CK_F32, xx, GELU_TANH_2C_HI_F32)
    top = np.float32(GELU_TANH_2U_MAX)  # e^-2u stays normal; the result is 1 beyond
    over = u - top if u > top else F32_0
    u = u - over
    # below 0, s scaled by 2^S from the sigmoid core and the result scaled back once (no
    # subnormal intermediate where the result is normal)
    m, _, _ = sigmoid_exp(u, None)
    e = sigmoid_e_floored(m)
    d = F32_1 / (F32_1 + e)
    pos = u >= F32_0
    s, sn = (d, e * d) if pos else (m * d, d)
    r = (s + x * (s * sn) * du) * (F32_1 if pos else sigmoid_unscale(x))
    lim = np.float32(GELU_TANH_ARG_MAX)
    r = F32_1 if x > lim else r
    return F32_0 if x < -lim else r


gelu_tanh__derivative = by_dtype(
    _gelu_tanh_derivative_f64, _gelu_tanh_derivative_f32, "gelu_tanh__derivative",
    "gelu_tanh'(x) = s + x s (1-s) 2 sqrt(2/pi)(1 + 3k x**2), s = sigmoid(2u); float32: "
    "everything in float32")


# ------------------------------------------------------------- silu / swish
@jit(**_JIT)
def silu__forward(x, a, b):
    """silu(x) = x sigmoid(x), in x's type (the limits -0, inf at -inf, inf need no select)"""
    return silu_lean(x)


@jit(**_JIT)
def silu__derivative(x, a, b):
    """silu'(x) = s (1 + x (1 - s)), s = sigmoid(x), in x's type (1 at inf from the formula,
    +0 at -inf by a select: the formula gives -0)"""
    return T(0.0, x) if x == -INF else silu_derivative_lean(x)


def beta_x(x, a):  # pragma: no cover - only ever compiled
    """(hi, lo) with hi + lo = a x: (a x in float64, 0) for float64 arrays, where the product
    is the reference's; (fl(a x), FMA residual) in float32, exact."""
    raise NotImplementedError


@jit(**_JIT)
def _beta_x_f32(x, a):
    hi = a * x
    lo = fma(a, x, -hi)
    return hi, (lo if abs(hi) < T(INF, x) else T(0.0, x))  # lo = -+inf if a x overflows


@overload(beta_x, inline="always")
def _beta_x(x, a):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        # float32: hi = fl(a x), lo = its exact rounding error (FMA residual)
        return lambda x, a: _beta_x_f32(x, a)
    return lambda x, a: (W(a) * W(x), 0.0)


@jit(**_JIT)
def swish__forward(x, a, b):
    """swish(x) = x sigmoid(beta x), beta = a (float32: computed in float32, beta x
    carried as hi + lo)"""
    hi, lo = beta_x(x, a)
    # the limits at -inf, +inf by the sign of beta: (-0, inf), (-inf, inf) at 0, (-inf, 0)
    neg = T(-0.0, x) if a > 0 else T(-INF, x)
    pos = T(0.0, x) if a < 0 else T(INF, x)
    return at_inf(x, x_sigmoid_dd(x, hi, lo), neg, pos)


@jit(**_JIT)
def swish__derivative(x, a, b):
    """swish'(x) = s (1 + beta x (1 - s)), s = sigmoid(beta x), in x's type"""
    hi, lo = beta_x(x, a)
    # the limits at -inf, +inf by the sign of beta: (0, 1), (1/2, 1/2) at 0, (1, 0)
    half = T(0.5, x)
    neg = T(0.0, x) if a > 0 else (half if a == 0 else T(1.0, x))
    return at_inf(x, silu_derivative_dd(hi, lo), neg, T(1.0, x) - neg)


@jit(**_JIT)
def _quick_gelu_beta_x(z):
    """(hi, lo), hi + lo = QUICK_GELU_BETA z exactly (lo = 0 where hi overflows): the
    rounding of the product would be amplified |beta z| times by the exponential."""
    hi = QUICK_GELU_BETA * z
    lo = fma(QUICK_GELU_BETA, z, -hi)
    return hi, (lo if abs(hi) < INF else 0.0)


@jit(**_JIT)
def _quick_gelu_forward_f64(z):
    """z sigmoid(v), v = hi + lo: e^(-|v|) = e^(-|hi|) (1 -+ lo), z multiplied in before
    the exponential's scaling (z e^v is normal where e^v is subnormal)."""
    hi, lo = _quick_gelu_beta_x(z)
    c = (1.0 - lo) if hi >= 0.0 else (1.0 + lo)
    me, e = exp_mul_f64(-abs(hi), z)
    d = 1.0 / (1.0 + e * c)
    return z * d if hi >= 0.0 else (me * c) * d


@jit(**_JIT)
def _quick_gelu_derivative_f64(z):
    """s (1 + v (1 - s)), s = sigmoid(v), v = hi + lo clamped to +-1e4 (1 - s = 0 beyond)."""
    hi, lo = _quick_gelu_beta_x(z)
    big = 1e4
    hi = hi if abs(hi) < big else (big if hi > 0.0 else -big)
    s, sn = sigmoid_pair_dd(hi, lo, z)
    return s * (1.0 + (hi + lo) * sn)


@jit(**_JIT)
def _quick_gelu_forward_wide(x, a, b):
    return T(at_inf(W(x), _quick_gelu_forward_f64(W(x)), -0.0, INF), x)


@jit(**_JIT)
def _quick_gelu_derivative_wide(x, a, b):
    return T(at_inf(W(x), _quick_gelu_derivative_f64(W(x)), 0.0, 1.0), x)


@jit(**_JIT)
def _quick_gelu_beta_x_f32(x):
    """QUICK_GELU_BETA x = hi + lo in float32: hi = BETA_HI x rounded, lo its FMA residual plus
    BETA_LO x (0 where hi overflows: e^-|u| is 0 there)."""
    hi = QUICK_GELU_BETA_HI_F32 * x
    lo = fma(QUICK_GELU_BETA_HI_F32, x, -hi) + QUICK_GELU_BETA_LO_F32 * x
    return hi, (lo if abs(hi) < T(INF, x) else T(0.0, x))


@jit(**_JIT)
def _quick_gelu_forward_f32(x, a, b):
    hi, lo = _quick_gelu_beta_x_f32(x)
    return at_inf(x, x_sigmoid_dd(x, hi, lo), T(-0.0, x), T(INF, x))


@jit(**_JIT)
def _quick_gelu_derivative_f32(x, a, b):
    hi, lo = _quick_gelu_beta_x_f32(x)
    return at_inf(x, silu_derivative_dd(hi, lo), T(0.0, x), T(1.0, x))


quick_gelu__forward = by_dtype(
    _quick_gelu_forward_wide, _quick_gelu_forward_f32, "quick_gelu__forward",
    "quick_gelu(x) = x sigmoid(QUICK_GELU_BETA x): float64 rounded once; float32 in float32, "
    "beta x carried as hi + lo (swish's float path)")
quick_gelu__derivative = by_dtype(
    _quick_gelu_derivative_wide, _quick_gelu_derivative_f32, "quick_gelu__derivative",
    "quick_gelu'(x) = s (1 + beta x (1 - s)), s = sigmoid(beta x): float64 rounded once; "
    "float32 in float32, beta x carried as hi + lo")


# ------------------------------------------------------------ elu family
@jit(**_JIT)
def _elu_forward_f64(x, a, b):
    z = W(x)
    return z if z > 0.0 else W(a) * vexpm1(z, x)


@jit(**_JIT)
def _elu_forward_f32(x, a, b):
    return x if x > 0 else a * expm1_f32n(x)


elu__forward = by_dtype(_elu_forward_f64, _elu_forward_f32, "elu__forward",
                        "elu(x) = x if x > 0 else alpha expm1(x)")


@jit(**_JIT)
def elu__derivative(x, a, b):
    """elu'(x) = 1 if x > 0 else alpha exp(x), in x's type"""
    return T(1.0, x) if x > 0 else a * vexp_x(x)


@jit(**_JIT)
def elu__derivative_y(y, a, b):
    """elu' = 1 if y > 0 else y + alpha, in y's type (one rounding)"""
    return T(1.0, y) if y > 0 else y + a


@jit(**_JIT)
def _selu_forward_f64(x, a, b):
    z = W(x)
    return SELU_SCALE * (z if z > 0.0 else SELU_ALPHA * vexpm1(z, x))


@jit(**_JIT)
def _selu_forward_f32(x, a, b):
    if x > 0:
        return T(SELU_SCALE, x) * x
    return T(SELU_SCALE * SELU_ALPHA, x) * expm1_f32n(x)


selu__forward = by_dtype(_selu_forward_f64, _selu_forward_f32, "selu__forward",
                         "selu(x) = scale (x if x > 0 else alpha expm1(x))")


@jit(**_JIT)
def selu__derivative(x, a, b):
    """selu'(x) = scale if x > 0 else scale alpha exp(x), in x's type"""
    return T(SELU_SCALE, x) if x > 0 else T(SELU_SCALE * SELU_ALPHA, x) * vexp_x(x)


@jit(**_JIT)
def selu__derivative_y(y, a, b):
    """selu' = scale if y > 0 else y + scale alpha, in y's type (one rounding of the sum
    and of the constant)"""
    return T(SELU_SCALE, y) if y > 0 else y + T(SELU_SCALE * SELU_ALPHA, y)


@jit(**_JIT)
def _celu_forward_f64(x, a, b):
    z = W(x)
    return z if z > 0.0 else W(a) * vexpm1(z / W(a), x)


@jit(**_JIT)
def _celu_forward_f32(x, a, b):
    # expm1's relative sensitivity to its argument is <= 1 for x <= 0: x / alpha may round
    return x if x > 0 else a * expm1_f32n(x / a)


celu__forward = by_dtype(_celu_forward_f64, _celu_forward_f32, "celu__forward",
                         "celu(x) = x if x > 0 else alpha expm1(x / alpha)")


@jit(**_JIT)
def _celu_derivative_f64(x, a, b):
    return 1.0 if x > 0.0 else vexp(x / a, x)


@jit(**_JIT)
def _celu_derivative_f32(x, a, b):
    # x / alpha rounds: a relative error of |x / alpha| 2**-24 in e^(x / alpha), within the
    # derivative bar (16 eps relative where the value is large, 4 eps absolute)
    return F32_1 if x > 0 else exp_f32n(x / a)


celu__derivative = by_dtype(_celu_derivative_f64, _celu_derivative_f32, "celu__derivative",
                            "celu'(x) = 1 if x > 0 else exp(x / alpha)")


@jit(**_JIT)
def celu__derivative_y(y, a, b):
    """celu' = 1 if y > 0 else y (1 / alpha) + 1, in y's type (1 / alpha is loop-invariant:
    one division a call; three roundings, the error stays below 1.5 eps absolute)"""
    return T(1.0, y) if y > 0 else y * (T(1.0, y) / a) + T(1.0, y)


# ------------------------------------------------- softplus / mish / logsigmoid
@jit(**_JIT)
def _softplus_forward_f64(x, a, b):
    z = W(x)
    beta = W(a)
    u = beta * z
    r = (max(u, 0.0) + vlog1p(exp_neg_abs_dd(u, 0.0), x)) / beta
    return z if x * a > b else r


@jit(**_JIT)
def _softplus_forward_f32(x, a, b):
    u, lo = beta_x(x, a)
    pos = u > F32_0
    r = ((u if pos else F32_0) + ((lo if pos else F32_0)
                                  + log1p_unit_f32n(exp_neg_abs_dd(u, lo)))) / a
    r = r if u == u else u  # NaN u (0 * inf)
    return x if x * a > b else r


softplus__forward = by_dtype(
    _softplus_forward_f64, _softplus_forward_f32, "softplus__forward",
    "softplus(x) = x if beta x > threshold else (max(u,0) + log1p(exp(-|u|)))/beta, u = beta x")


@jit(**_JIT)
def softplus__derivative(x, a, b):
    """softplus'(x) = 1 if beta x > threshold else sigmoid(beta x), in x's type"""
    hi, lo = beta_x(x, a)
    r = sigmoid_dd(hi, lo)
    return T(1.0, x) if x * a > b else r


@jit(**_JIT)
def mish__forward(x, a, b):
    """mish(x) = x tanh(softplus(x)), in x's type from one e^-|x| (mish_lean)"""
    return mish_lean(x)


@jit(**_JIT)
def mish__derivative(x, a, b):
    """mish'(x) = t + x sigmoid(x) (1 - t**2), t = tanh(softplus(x)), in x's type"""
    return T(0.0, x) if x == -INF else mish_derivative_lean(x)


@jit(**_JIT)
def _logsigmoid_forward_f64(x, a, b):
    z = W(x)
    return min(z, 0.0) - vlog1p(exp_neg_abs_dd(z, 0.0), x)


@jit(**_JIT)
def _logsigmoid_forward_f32(x, a, b):
    return min(x, F32_0) - log1p_unit_f32n(exp_neg_abs_dd(x, F32_0))


logsigmoid__forward = by_dtype(
    _logsigmoid_forward_f64, _logsigmoid_forward_f32, "logsigmoid__forward",
    "logsigmoid(x) = min(x, 0) - log1p(exp(-|x|))")


@jit(**_JIT)
def logsigmoid__derivative(x, a, b):
    """logsigmoid'(x) = sigmoid(-x), in x's type"""
    return sigmoid_lean(-x)


@jit(**_JIT)
def logsigmoid__derivative_y(y, a, b):
    """logsigmoid' = -expm1(y) (float32: in float32)"""
    return -_expm1_x(y)


# ------------------------------------------------------------ hard functions
@jit(**_JIT)
def _hardsigmoid(x):
    v = x + T(3.0, x)
    v = T(0.0, x) if v <= 0 else v
    v = T(6.0, x) if v >= 6 else v
    return v / T(6.0, x)


@jit(**_JIT)
def hardsigmoid__forward(x, a, b):
    """hardsigmoid(x) = min(max(x + 3, 0), 6) / 6"""
    return _hardsigmoid(x)


@jit(**_JIT)
def hardsigmoid__derivative(x, a, b):
    """hardsigmoid'(x) = 1/6 if -3 < x < 3 else 0"""
    return T(1.0, x) / T(6.0, x) if (x > -3) and (x < 3) else T(0.0, x)


@jit(**_JIT)
def hardsigmoid__derivative_y(y, a, b):
    """hardsigmoid' = 1/6 if 0 < y < 1 else 0"""
    return T(1.0, y) / T(6.0, y) if (y > 0) and (y < 1) else T(0.0, y)


@jit(**_JIT)
def hardswish__forward(x, a, b):
    """hardswish(x) = x hardsigmoid(x)"""
    r = x * _hardsigmoid(x)
    return T(-0.0, x) if x == -INF else r


@jit(**_JIT)
def hardswish__derivative(x, a, b):
    """hardswish'(x) = 0 if x <= -3 else ((2x + 3)/6 if x <= 3 else 1)"""
    mid = (T(2.0, x) * x + T(3.0, x)) / T(6.0, x)  # 2x + 3 exact near the root -3/2
    return T(0.0, x) if x <= -3 else (mid if x <= 3 else T(1.0, x))


@jit(**_JIT)
def hardtanh__forward(x, a, b):
    """hardtanh(x) = min(max(x, min_val), max_val)"""
    v = a if x <= a else x
    return b if v >= b else v


@jit(**_JIT)
def hardtanh__derivative(x, a, b):
    """hardtanh'(x) = 1 if min_val < x < max_val else 0"""
    return step((x > a) and (x < b), x)


hardtanh__derivative_y = hardtanh__derivative


@jit(**_JIT)
def relu6__forward(x, a, b):
    """relu6(x) = min(max(x, 0), 6)"""
    v = T(0.0, x) if x <= 0 else x
    return T(6.0, x) if v >= 6 else v


@jit(**_JIT)
def relu6__derivative(x, a, b):
    """relu6'(x) = 1 if 0 < x < 6 else 0"""
    return step((x > 0) and (x < 6), x)


relu6__derivative_y = relu6__derivative


# ------------------------------------------------------------- the rest
@jit(**_JIT)
def softsign__forward(x, a, b):
    """softsign(x) = x / (1 + |x|), in x's own type (two roundings: <= 1.5 ULP)"""
    one = T(1.0, x)
    return at_inf(x, x / (one + abs(x)), -one, one)


@jit(**_JIT)
def softsign__derivative(x, a, b):
    """softsign'(x) = 1 / (1 + |x|)**2"""
    d = 1.0 + math.fabs(W(x))
    return 1.0 / (d * d)


@jit(**_JIT)
def softsign__derivative_y(y, a, b):
    """softsign' = (1 - |y|)**2"""
    d = 1.0 - math.fabs(W(y))
    return d * d


@jit(**_JIT)
def _tanhshrink_forward_f64(x, a, b):
    return vtanhshrink(W(x), x)


@jit(**_JIT)
def _tanhshrink_forward_f32(x, a, b):
    return tanhshrink_f32n(x)


tanhshrink__forward = by_dtype(_tanhshrink_forward_f64, _tanhshrink_forward_f32,
                               "tanhshrink__forward",
                               "tanhshrink(x) = x - tanh(x) (series near 0, no cancellation)")


@jit(**_JIT)
def _tanhshrink_derivative_f64(x, a, b):
    t = vtanh(W(x), x)
    return t * t


@jit(**_JIT)
def _tanhshrink_derivative_f32(x, a, b):
    t = tanh_f32n(x)  # <= ~3 ulp: t**2 within the derivative bar (16 eps relative)
    return t * t


tanhshrink__derivative = by_dtype(_tanhshrink_derivative_f64, _tanhshrink_derivative_f32,
                                  "tanhshrink__derivative", "tanhshrink'(x) = tanh(x)**2")


@jit(**_JIT)
def threshold__forward(x, a, b):
    """threshold(x) = x if x > threshold else value"""
    return x if x > a else b


@jit(**_JIT)
def threshold__derivative(x, a, b):
    """threshold'(x) = 1 if x > threshold else 0"""
    return step(x > a, x)


@jit(**_JIT)
def hardshrink__forward(x, a, b):
    """hardshrink(x) = x if |x| > lambd else 0"""
    return x if abs(x) > a else T(0.0, x)


@jit(**_JIT)
def hardshrink__derivative(x, a, b):
    """hardshrink'(x) = 1 if |x| > lambd else 0"""
    return step(abs(x) > a, x)


@jit(**_JIT)
def hardshrink__derivative_y(y, a, b):
    """hardshrink' = 1 if y != 0 else 0"""
    return step(y != 0, y)


@jit(**_JIT)
def softshrink__forward(x, a, b):
    """softshrink(x) = x - lambd if x > lambd, x + lambd if x < -lambd, else 0"""
    return x - a if x > a else (x + a if x < -a else T(0.0, x))


softshrink__derivative = hardshrink__derivative
softshrink__derivative_y = hardshrink__derivative_y
