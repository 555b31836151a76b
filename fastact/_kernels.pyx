# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""fastact's Cython/OpenMP kernels (GENERATED from _kernels.pyx.tp by setup.py: edit the template).

One ``cdef inline ... noexcept nogil`` scalar formula per activation and mode
(fused over float/double); the loops over contiguous arrays are generated
from the registry's kernel list; a loop runs serially below
``PARALLEL_MIN`` elements and as ``prange(..., schedule='static')`` over
equal, 64-byte aligned chunks above it.  Every element is computed by the
same branch-free code whatever the chunking, so results are bitwise
identical for any thread count.

The vectorizable math (exp, expm1, log1p, tanh, sigmoid, the normal CDF) is
C in ``_vmath.h``.  Smooth float32 formulas are computed in float64 and
rounded once; piecewise-linear ones in the array's own type (exact).
"""
cimport cython
cimport numpy as cnp
from cython.parallel cimport prange
from libc.math cimport INFINITY as INF

cnp.import_array()

cdef extern from "vmath.h" nogil:
    double fa_exp_f64(double x)
    double fa_exp_lp_f64(double x)
    double fa_exp_dd_f64(double hi, double lo)
    double fa_exp_split_dd_f64(double hi, double lo, double *scale)
    double fa_expm1_f64(double x)
    double fa_log_f64(double x)
    double fa_log1p_f64(double x)
    double fa_tanh_f64(double x)
    double fa_sigmoid_f64(double x)
    double fa_sigmoid_dd_f64(double hi, double lo)
    double fa_two_prod_f64(double a, double b, double *lo)
    double fa_normcdf_f64(double x)
    double fa_x_normcdf_f64(double x)
    double fa_normpdf_f64(double x)
    double fa_abs_f64(double x)
    double fa_copysign_f64(double mag, double sgn)
    float fa_exp_f32(float x)
    float fa_exp_split_dd_f32(float hi, float lo, float *scale)
    float fa_abs_f32(float x)
    float fa_log1p_f32(float x)
    double fa_normcdf_lp_f64(double x)
    float fa_expm1_f32(float x)
    float fa_log_f32(float x)
    float fa_log1p_f32(float x)
    float fa_tanh_f32(float x)
    float fa_sigmoid_f32(float x)
    float fa_two_prod_f32(float a, float b, float *lo)
    float fa_gelu_derivative_f32(float x)

cdef extern from *:
    """
    #ifndef FASTACT_OPENMP
    #define FASTACT_OPENMP 0
    #endif
    #if defined(__AVX512F__)
    #define FASTACT_ISA "avx512f"
    #elif defined(__AVX2__)
    #define FASTACT_ISA "avx2"
    #elif defined(__AVX__)
    #define FASTACT_ISA "avx"
    #elif defined(__SSE2__) || defined(_M_X64)
    #define FASTACT_ISA "sse2"
    #elif defined(__ARM_NEON)
    #define FASTACT_ISA "neon"
    #else
    #define FASTACT_ISA "generic"
    #endif
    #if defined(__FMA__)
    #define FASTACT_HAS_FMA 1
    #else
    #define FASTACT_HAS_FMA 0
    #endif
    #ifndef FASTACT_CFLAGS
    #define FASTACT_CFLAGS ""
    #endif
    /* constants of the formulas, from fastact/_registry.py */
    #define FA_GELU_TANH_2C (2.0 * 0.7978845608028654)
    #define FA_GELU_TANH_K 0.044715
    #define FA_SELU_SCALE 1.0507009873554805
    #define FA_SELU_SCALE_ALPHA (1.0507009873554805 * 1.6732632423543772)
    """
    int FASTACT_OPENMP
    int FASTACT_HAS_FMA
    const char *FASTACT_ISA
    const char *FASTACT_CFLAGS
    const double GELU_TANH_2C "FA_GELU_TANH_2C"
    const double GELU_TANH_K "FA_GELU_TANH_K"
    const double SELU_SCALE "FA_SELU_SCALE"
    const double SELU_SCALE_ALPHA "FA_SELU_SCALE_ALPHA"

ctypedef fused real:
    float
    double


# ======================================================================
# small helpers
# ======================================================================
cdef inline real _max(real x, real c) noexcept nogil:
    """NumPy's maximum(x, c) for non-NaN x: x if x > c else c."""
    return x if x > c else c

cdef inline real _min(real x, real c) noexcept nogil:
    """NumPy's minimum(x, c) for non-NaN x: x if x < c else c."""
    return x if x < c else c

cdef inline double _prod_lo(double a, double b, double p) noexcept nogil:
    """The rounding error of p = a*b (0 where it is not finite)."""
    cdef double lo
    fa_two_prod_f64(a, b, &lo)
    return lo if lo - lo == 0 else 0.0

# ======================================================================
# scalar formulas: <id>_forward, <id>_derivative, <id>_derivative_y
# (p0, p1: the numeric parameters, already in the array's type; NaN inputs
# are mapped to NaN by the generated loops, so formulas need not care)
# ======================================================================

# ---------------------------------------------------------------- identity
cdef inline real identity_forward(real x, real p0, real p1) noexcept nogil:
    return x

cdef inline real identity_derivative(real x, real p0, real p1) noexcept nogil:
    return 1

cdef inline real identity_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1

# -------------------------------------------------------------------- relu
cdef inline real relu_forward(real x, real p0, real p1) noexcept nogil:
    return _max(x, <real>0)

cdef inline real relu_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if x > 0 else 0

cdef inline real relu_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if y > 0 else 0

# -------------------------------------------------- leaky_relu (p0 = slope)
cdef inline real leaky_relu_forward(real x, real p0, real p1) noexcept nogil:
    return x if x > 0 else x * p0

cdef inline real leaky_relu_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if x > 0 else p0

cdef inline real leaky_relu_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if y > 0 else p0

# ----------------------------------------------------------------- sigmoid
cdef inline real sigmoid_forward(real x, real p0, real p1) noexcept nogil:
    if real is float:
        return fa_sigmoid_f32(x)
    else:
        return fa_sigmoid_f64(x)

cdef inline real sigmoid_derivative(real x, real p0, real p1) noexcept nogil:
    # s(x) s(-x) = e / (1 + e)^2, e = exp(-|x|)
    # (<real> literals: a bare 1 becomes a double 1.0 in Cython's C and
    # promotes float32 arithmetic to double)
    cdef real e, s
    cdef real one = 1
    if real is float:
        e = fa_exp_f32(-fa_abs_f32(x))
    else:
        e = fa_exp_f64(-fa_abs_f64(x))
    s = one / (one + e)
    return (e * s) * s

cdef inline real sigmoid_derivative_y(real y, real p0, real p1) noexcept nogil:
    return <real>(<double>y * (1.0 - <double>y))

# -------------------------------------------------------------------- tanh
cdef inline real tanh_forward(real x, real p0, real p1) noexcept nogil:
    if real is float:
        return fa_tanh_f32(x)
    else:
        return fa_tanh_f64(x)

cdef inline real tanh_derivative(real x, real p0, real p1) noexcept nogil:
    # sech^2 x = 4e / (1 + e)^2, e = exp(-2|x|)
    cdef real e, s
    cdef real one = 1, two = 2, four = 4
    if real is float:
        e = fa_exp_f32(-two * fa_abs_f32(x))
    else:
        e = fa_exp_f64(-two * fa_abs_f64(x))
    s = one / (one + e)
    return (four * e * s) * s

cdef inline real tanh_derivative_y(real y, real p0, real p1) noexcept nogil:
    return <real>((1.0 - <double>y) * (1.0 + <double>y))

# -------------------------------------------------- gelu (exact, erf form)
cdef inline real gelu_forward(real x, real p0, real p1) noexcept nogil:
    # float32: Phi to ~1e-7 relative in double (an all-float Phi, as used by the
    # derivative, is 25% faster but reaches 7 ULP: its polynomial cancels)
    cdef double xd = x
    cdef double r
    if real is float:
        r = xd * fa_normcdf_lp_f64(xd)
        if xd == -INF:
            r = -0.0
        return <float>r
    else:
        return fa_x_normcdf_f64(x)

cdef inline real gelu_derivative(real x, real p0, real p1) noexcept nogil:
    # Phi(x) + x phi(x)
    cdef double xd = x
    cdef double r
    if real is float:  # float arithmetic; Phi to ~5e-7 is ample for this bar
        return fa_gelu_derivative_f32(x)
    else:
        r = fa_normcdf_f64(xd) + xd * fa_normpdf_f64(xd)
    if xd == INF:
        r = 1.0
    if xd == -INF:
        r = 0.0
    return <real>r

# ---------------------------------------- gelu_tanh (PyTorch's approximation)

cdef inline double _gelu_tanh_u2(double x, double *lo) noexcept nogil:
    """2u = 2C (x + K x^3) as a double-double hi + *lo (|x| <= 30)."""
    cdef double x2l, x3l, kl, th, tl, bb, ul
    cdef double x2 = fa_two_prod_f64(x, x, &x2l)
    cdef double x3 = fa_two_prod_f64(x2, x, &x3l)
    x3l = x3l + x2l * x
    cdef double k3 = fa_two_prod_f64(GELU_TANH_K, x3, &kl)
    kl = kl + GELU_TANH_K * x3l
    th = x + k3                    # two-sum(x, k3)
    bb = th - x
    tl = (x - (th - bb)) + (k3 - bb) + kl
    cdef double u = fa_two_prod_f64(GELU_TANH_2C, th, &ul)
    lo[0] = ul + GELU_TANH_2C * tl
    return u

cdef inline double _clamp30(double x) noexcept nogil:
    x = x if x > -30.0 else -30.0
    return x if x < 30.0 else 30.0

cdef inline real gelu_tanh_forward(real x, real p0, real p1) noexcept nogil:
    # x/2 (1 + tanh u) = x sigmoid(2u); 2u carried in double-double (the lower
    # tail's relative error is |2u| times that of u)
    cdef double xd = x
    cdef double xc = _clamp30(xd)
    cdef double lo = 0.0, hi, e, scale, r
    cdef float fh
    if real is double:
        hi = _gelu_tanh_u2(xc, &lo)
        r = _x_sigmoid(xd, hi, lo)
    else:
        hi = GELU_TANH_2C * (xc + GELU_TANH_K * (xc * xc * xc))
        fh = <float>hi
        r = _x_sigmoid_f32(x, fh, _float_lo(hi, fh))
    if xd == -INF:
        r = -0.0
    return <real>r

cdef inline real gelu_tanh_derivative(real x, real p0, real p1) noexcept nogil:
    # s + x s (1 - s) d(2u)/dx,  s = sigmoid(2u)
    cdef double xc = _clamp30(x)
    cdef real u2 = <real>(GELU_TANH_2C * (xc + GELU_TANH_K * (xc * xc * xc)))
    cdef real sn
    cdef real s = _sigmoid_pair(u2, &sn)
    cdef real du = <real>(GELU_TANH_2C * (1.0 + 3.0 * GELU_TANH_K * (xc * xc)))
    return s + (<real>xc) * s * sn * du

# -------------------------------------------------------------------- silu
cdef inline double _x_sigmoid(double x, double uh, double ul) noexcept nogil:
    """x * sigmoid(uh + ul), rounded once where sigmoid would be subnormal."""
    cdef double scale, e
    cdef bint pos = uh >= 0
    e = fa_exp_split_dd_f64(-uh if pos else uh, -ul if pos else ul, &scale)
    return ((x * (1.0 if pos else e)) / (1.0 + e * scale)) * (1.0 if pos else scale)

cdef inline float _x_sigmoid_f32(float x, float uh, float ul) noexcept nogil:
    """x * sigmoid(uh + ul) in float, rounded once where sigmoid would be subnormal.

    Float literals throughout: a `1.0` would make Cython promote the arithmetic
    to double (half the lanes per vector and conversions)."""
    cdef float scale, e
    cdef float one = 1
    cdef bint pos = uh >= 0
    e = fa_exp_split_dd_f32(-uh if pos else uh, -ul if pos else ul, &scale)
    return ((x * (one if pos else e)) / (one + e * scale)) * (one if pos else scale)

cdef inline float _float_lo(double u, float hi) noexcept nogil:
    """u - hi as a float (0 where it is not finite): the low part of u = hi + lo."""
    cdef float lo = <float>(u - <double>hi)
    return lo if lo - lo == 0 else 0.0

cdef inline real _sigmoid_pair(real u, real *sn) noexcept nogil:
    """sigmoid(u), and *sn = sigmoid(-u) = 1 - sigmoid(u), from one exponential."""
    cdef real e, d
    cdef real one = 1   # (not a bare 1: Cython writes 1.0, a double)
    if real is float:
        e = fa_exp_f32(-fa_abs_f32(u))
    else:
        e = fa_exp_f64(-fa_abs_f64(u))
    d = one / (one + e)
    sn[0] = e * d if u >= 0 else d
    return d if u >= 0 else e * d

cdef inline double _clamp_arg(double u) noexcept nogil:
    """u clamped to [-200, 200] (sigmoid is 0 or 1 beyond; no inf * 0 from it)."""
    u = u if u > -200.0 else -200.0
    return u if u < 200.0 else 200.0

cdef inline real _two_prod(real a, real b, real *lo) noexcept nogil:
    """a*b rounded, *lo = its rounding error (0 where a*b is not finite)."""
    cdef real p, e
    if real is float:
        p = fa_two_prod_f32(a, b, &e)
    else:
        p = fa_two_prod_f64(a, b, &e)
    lo[0] = e if e - e == 0 else 0
    return p

cdef inline real _clamp_arg_r(real u) noexcept nogil:
    """u clamped to [-200, 200] in the array's type (NaN passes)."""
    u = u if u > -200 else -200
    return u if u < 200 else 200

cdef inline real silu_forward(real x, real p0, real p1) noexcept nogil:
    cdef real r
    if real is float:
        r = _x_sigmoid_f32(x, x, 0.0)
    else:
        r = _x_sigmoid(x, x, 0.0)
    if x == -INF:
        r = -0.0
    return r

cdef inline real silu_derivative(real x, real p0, real p1) noexcept nogil:
    # s (1 + x (1 - s))
    cdef real sn
    cdef real one = 1
    cdef real s = _sigmoid_pair(x, &sn)
    cdef real r = s * (one + x * sn)
    if x == INF:
        r = 1
    if x == -INF:
        r = 0
    return r

# ------------------------------------------------------ swish (p0 = beta)
cdef inline real swish_forward(real x, real p0, real p1) noexcept nogil:
    # u = b x carried exactly as a pair (hi, lo) of the array's type
    cdef real lo
    cdef real uh = _two_prod(p0, x, &lo)
    cdef real r
    if real is double:
        r = _x_sigmoid(x, uh, lo)
    else:
        r = _x_sigmoid_f32(x, uh, lo)
    if x == INF:
        r = 0 if p0 < 0 else INF
    if x == -INF:
        r = -0.0 if p0 > 0 else -INF
    return r

cdef inline real swish_derivative(real x, real p0, real p1) noexcept nogil:
    # s + b x s (1 - s),  s = sigmoid(b x)
    cdef real u = _clamp_arg_r(p0 * x)   # s (1 - s) = 0 beyond the clamp
    cdef real sn
    cdef real s = _sigmoid_pair(u, &sn)
    cdef real r = s + u * s * sn
    # the limits at x = +-inf: s(+-inf * b), i.e. 1, 1/2 or 0 by the sign of b
    cdef real lim_pos = (<real>0.5) + (<real>0.5) * ((p0 > 0) - (p0 < 0))
    if x == INF:
        r = lim_pos
    if x == -INF:
        r = 1 - lim_pos
    return r

# ------------------------------------------------------- elu (p0 = alpha)
cdef inline real _expm1(real x) noexcept nogil:
    if real is float:
        return fa_expm1_f32(x)
    else:
        return fa_expm1_f64(x)

cdef inline real _exp(real x) noexcept nogil:
    if real is float:
        return fa_exp_f32(x)
    else:
        return fa_exp_f64(x)

cdef inline real elu_forward(real x, real p0, real p1) noexcept nogil:
    return x if x > 0 else p0 * _expm1(x)

cdef inline real elu_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if x > 0 else p0 * _exp(x)

cdef inline real elu_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if y > 0 else y + p0

# -------------------------------------------------------------------- selu

cdef inline real selu_forward(real x, real p0, real p1) noexcept nogil:
    cdef double xd = x
    return <real>(SELU_SCALE * xd if xd > 0 else SELU_SCALE_ALPHA * <double>_expm1(x))

cdef inline real selu_derivative(real x, real p0, real p1) noexcept nogil:
    return <real>(SELU_SCALE if x > 0 else SELU_SCALE_ALPHA * <double>_exp(x))

cdef inline real selu_derivative_y(real y, real p0, real p1) noexcept nogil:
    return <real>SELU_SCALE if y > 0 else y + <real>SELU_SCALE_ALPHA

# ------------------------------------------------------ celu (p0 = alpha)
cdef inline real celu_forward(real x, real p0, real p1) noexcept nogil:
    return x if x > 0 else p0 * _expm1(x / p0)

cdef inline real celu_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if x > 0 else _exp(x / p0)

cdef inline real celu_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if y > 0 else y / p0 + 1

# ------------------------------------- softplus (p0 = beta, p1 = threshold)
cdef inline real softplus_forward(real x, real p0, real p1) noexcept nogil:
    # log(1 + e^u) / beta, u = beta x carried exactly as a pair (uh, ul) of the array's type
    cdef real uu = x * p0
    cdef real ul
    cdef real uh = _two_prod(x, p0, &ul)
    cdef bint neg = uh < 0
    cdef float fe, scale
    if real is double:
        return x if uu > p1 else (((0.0 if neg else uh) +
                                   fa_log1p_f64(fa_exp_dd_f64(uh if neg else -uh, ul if neg else -ul))) / p0)
    else:
        fe = fa_exp_split_dd_f32(uh if neg else -uh, ul if neg else -ul, &scale) * scale
        return x if uu > p1 else ((0 if neg else uh) + fa_log1p_f32(fe)) / p0

cdef inline real softplus_derivative(real x, real p0, real p1) noexcept nogil:
    cdef real uu = x * p0
    cdef real u = _clamp_arg_r(uu)   # x * p0 rounded once, as in the array's type
    if real is float:
        return 1 if uu > p1 else fa_sigmoid_f32(u)
    else:
        return 1 if uu > p1 else fa_sigmoid_f64(u)

# -------------------------------------------------------------------- mish
cdef inline real mish_forward(real x, real p0, real p1) noexcept nogil:
    # x tanh(log(1 + e^x)) = x n / (n + 2), n = e (e + 2), e = e^x = m * scale
    cdef double xd = x
    cdef double xc = xd if xd < 20.0 else 20.0
    cdef double scale
    cdef double m = fa_exp_split_dd_f64(xc, 0.0, &scale)
    cdef double e = m * scale
    cdef double n2 = e * (e + 2.0) + 2.0
    cdef double r = ((xd * m) * (e + 2.0) / n2) * scale
    if xd > 20.0:
        r = xd
    if xd == -INF:
        r = -0.0
    return <real>r

cdef inline real mish_derivative(real x, real p0, real p1) noexcept nogil:
    # t + x sigmoid(x) (1 - t^2),  t = tanh(softplus(x))
    cdef double xd = x
    cdef double xc = xd if xd < 20.0 else 20.0
    cdef double e = fa_exp_f64(xc)
    cdef double n = e * (e + 2.0)
    cdef double t = n / (n + 2.0)
    cdef double omt = 2.0 / (n + 2.0)  # 1 - t
    cdef double r = t + xd * fa_sigmoid_f64(xd) * omt * (1.0 + t)
    if xd > 20.0:
        r = 1.0
    if xd == -INF:
        r = 0.0
    return <real>r

# ------------------------------------------------------------- hardsigmoid
cdef inline real hardsigmoid_forward(real x, real p0, real p1) noexcept nogil:
    cdef real v = x + 3
    v = v if v > 0 else 0
    v = v if v < 6 else 6
    return v / 6

cdef inline real hardsigmoid_derivative(real x, real p0, real p1) noexcept nogil:
    return <real>(1.0 / 6.0) if (x > -3) & (x < 3) else 0

cdef inline real hardsigmoid_derivative_y(real y, real p0, real p1) noexcept nogil:
    return <real>(1.0 / 6.0) if (y > 0) & (y < 1) else 0

# --------------------------------------------------------------- hardswish
cdef inline real hardswish_forward(real x, real p0, real p1) noexcept nogil:
    cdef real v = x + 3
    v = v if v > 0 else 0
    v = v if v < 6 else 6
    cdef real r = x * (v / 6)
    if x == -INF:
        r = -0.0
    return r

cdef inline real hardswish_derivative(real x, real p0, real p1) noexcept nogil:
    return 0 if x < -3 else (x / 3 + <real>0.5 if x <= 3 else 1)

# -------------------------------------- hardtanh (p0 = min_val, p1 = max_val)
cdef inline real hardtanh_forward(real x, real p0, real p1) noexcept nogil:
    return _min(_max(x, p0), p1)

cdef inline real hardtanh_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if (x > p0) & (x < p1) else 0

cdef inline real hardtanh_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if (y > p0) & (y < p1) else 0

# ------------------------------------------------------------------- relu6
cdef inline real relu6_forward(real x, real p0, real p1) noexcept nogil:
    return _min(_max(x, <real>0), <real>6)

cdef inline real relu6_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if (x > 0) & (x < 6) else 0

cdef inline real relu6_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if (y > 0) & (y < 6) else 0

# -------------------------------------------------------------- logsigmoid
cdef inline real logsigmoid_forward(real x, real p0, real p1) noexcept nogil:
    # min(x, 0) - log1p(exp(-|x|))
    if real is float:
        return (x if x < 0 else 0) - fa_log1p_f32(fa_exp_f32(-fa_abs_f32(x)))
    else:
        return (x if x < 0 else 0) - fa_log1p_f64(fa_exp_f64(-fa_abs_f64(x)))

cdef inline real logsigmoid_derivative(real x, real p0, real p1) noexcept nogil:
    if real is float:
        return fa_sigmoid_f32(-x)
    else:
        return fa_sigmoid_f64(-x)

cdef inline real logsigmoid_derivative_y(real y, real p0, real p1) noexcept nogil:
    return -_expm1(y)

# ---------------------------------------------------------------- softsign
cdef inline real softsign_forward(real x, real p0, real p1) noexcept nogil:
    cdef double xd = x
    cdef double r = xd / (1.0 + fa_abs_f64(xd))
    if fa_abs_f64(xd) == INF:
        r = fa_copysign_f64(1.0, xd)
    return <real>r

cdef inline real softsign_derivative(real x, real p0, real p1) noexcept nogil:
    cdef double d = 1.0 + fa_abs_f64(x)
    return <real>(1.0 / (d * d))

cdef inline real softsign_derivative_y(real y, real p0, real p1) noexcept nogil:
    cdef double d = 1.0 - fa_abs_f64(y)
    return <real>(d * d)

# -------------------------------------------------------------- tanhshrink
cdef inline double _tanhshrink_g(double w) noexcept nogil:
    """(a - tanh a) / a^3 as a polynomial in w = a^2, 0 <= w <= 1 (Chebyshev fit, 2e-18)."""
    cdef double q = 8.53816190121215653655e-9
    q = q * w - 9.36414462296575927066e-8
    q = q * w + 5.12276715079326164332e-7
    q = q * w - 0.00000192169741438338939217
    q = q * w + 0.0000057774841368659153814
    q = q * w - 0.0000154162772410224920451
    q = q * w + 0.0000389917412150432135236
    q = q * w - 0.0000967910218266932965398
    q = q * w + 0.000239088436704936313345
    q = q * w - 0.000590017568525431924985
    q = q * w + 0.00145583265167681376055
    q = q * w - 0.00359212782342287885933
    q = q * w + 0.00886323551256605363877
    q = q * w - 0.0218694885352966951176
    q = q * w + 0.0539682539682315209217
    q = q * w - 0.133333333333333100327
    q = q * w + 0.33333333333333333293
    return q

cdef inline real tanhshrink_forward(real x, real p0, real p1) noexcept nogil:
    # |x| <= 1: x^3 g(x^2);  1 < |x| < 2: with a = x/2, d = a - tanh a, t = tanh a,
    # x - tanh x = (2 a t^2 + 2 d) / (1 + t^2) (no cancellation);
    # |x| >= 2: (|x| - 1) + 2 / (e^(2|x|) + 1)
    cdef double ax = fa_abs_f64(x)
    cdef bint small = ax <= 1.0
    cdef double a = ax if small else 0.5 * ax
    a = a if a < 1.0 else 1.0
    cdef double d = a * a * a * _tanhshrink_g(a * a)
    cdef double t = a - d
    cdef double t2 = t * t
    cdef double doubled = (2.0 * a * t2 + 2.0 * d) / (1.0 + t2)
    cdef double axc = ax if ax < 40.0 else 40.0
    cdef double big = (ax - 1.0) + 2.0 / (fa_exp_f64(2.0 * axc) + 1.0)
    cdef double r = d if small else (doubled if ax < 2.0 else big)
    return <real>fa_copysign_f64(r, x)

cdef inline real tanhshrink_derivative(real x, real p0, real p1) noexcept nogil:
    cdef double t = fa_tanh_f64(x)
    return <real>(t * t)

# ---------------------------------------- threshold (p0 = threshold, p1 = value)
cdef inline real threshold_forward(real x, real p0, real p1) noexcept nogil:
    return x if x > p0 else p1

cdef inline real threshold_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if x > p0 else 0

# ------------------------------------------------------ hardshrink (p0 = lambd)
cdef inline real hardshrink_forward(real x, real p0, real p1) noexcept nogil:
    return x if fa_abs_f64(x) > p0 else 0

cdef inline real hardshrink_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if fa_abs_f64(x) > p0 else 0

cdef inline real hardshrink_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if y != 0 else 0

# ------------------------------------------------------ softshrink (p0 = lambd)
cdef inline real softshrink_forward(real x, real p0, real p1) noexcept nogil:
    return x - p0 if x > p0 else (x + p0 if x < -p0 else 0)

cdef inline real softshrink_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if fa_abs_f64(x) > p0 else 0

cdef inline real softshrink_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if y != 0 else 0


# ======================================================================
# generated loops: out[i] = F(x[i]) (NaN in x gives NaN), grad[i] * F(x[i])
# ======================================================================
ctypedef void (*loop_f32)(float *out, const float *x, const float *g, Py_ssize_t n,
                           float p0, float p1) noexcept nogil
ctypedef void (*loop_f64)(double *out, const double *x, const double *g, Py_ssize_t n,
                           double p0, double p1) noexcept nogil
cdef void _identity_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else identity_forward(v, p0, p1)

cdef void _identity_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else identity_derivative(v, p0, p1)

cdef void _identity_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else identity_derivative(v, p0, p1))

cdef void _identity_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else identity_derivative_y(v, p0, p1))
cdef void _identity_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else identity_forward(v, p0, p1)

cdef void _identity_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else identity_derivative(v, p0, p1)

cdef void _identity_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else identity_derivative(v, p0, p1))

cdef void _identity_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else identity_derivative_y(v, p0, p1))
cdef void _relu_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else relu_forward(v, p0, p1)

cdef void _relu_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else relu_derivative(v, p0, p1)

cdef void _relu_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else relu_derivative(v, p0, p1))

cdef void _relu_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else relu_derivative_y(v, p0, p1))
cdef void _relu_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else relu_forward(v, p0, p1)

cdef void _relu_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else relu_derivative(v, p0, p1)

cdef void _relu_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else relu_derivative(v, p0, p1))

cdef void _relu_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else relu_derivative_y(v, p0, p1))
cdef void _leaky_relu_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else leaky_relu_forward(v, p0, p1)

cdef void _leaky_relu_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else leaky_relu_derivative(v, p0, p1)

cdef void _leaky_relu_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else leaky_relu_derivative(v, p0, p1))

cdef void _leaky_relu_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else leaky_relu_derivative_y(v, p0, p1))
cdef void _leaky_relu_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else leaky_relu_forward(v, p0, p1)

cdef void _leaky_relu_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else leaky_relu_derivative(v, p0, p1)

cdef void _leaky_relu_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else leaky_relu_derivative(v, p0, p1))

cdef void _leaky_relu_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else leaky_relu_derivative_y(v, p0, p1))
cdef void _sigmoid_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else sigmoid_forward(v, p0, p1)

cdef void _sigmoid_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else sigmoid_derivative(v, p0, p1)

cdef void _sigmoid_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else sigmoid_derivative(v, p0, p1))

cdef void _sigmoid_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else sigmoid_derivative_y(v, p0, p1))
cdef void _sigmoid_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else sigmoid_forward(v, p0, p1)

cdef void _sigmoid_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else sigmoid_derivative(v, p0, p1)

cdef void _sigmoid_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else sigmoid_derivative(v, p0, p1))

cdef void _sigmoid_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else sigmoid_derivative_y(v, p0, p1))
cdef void _tanh_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else tanh_forward(v, p0, p1)

cdef void _tanh_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else tanh_derivative(v, p0, p1)

cdef void _tanh_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else tanh_derivative(v, p0, p1))

cdef void _tanh_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else tanh_derivative_y(v, p0, p1))
cdef void _tanh_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else tanh_forward(v, p0, p1)

cdef void _tanh_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else tanh_derivative(v, p0, p1)

cdef void _tanh_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else tanh_derivative(v, p0, p1))

cdef void _tanh_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else tanh_derivative_y(v, p0, p1))
cdef void _gelu_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else gelu_forward(v, p0, p1)

cdef void _gelu_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else gelu_derivative(v, p0, p1)

cdef void _gelu_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else gelu_derivative(v, p0, p1))
cdef void _gelu_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else gelu_forward(v, p0, p1)

cdef void _gelu_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else gelu_derivative(v, p0, p1)

cdef void _gelu_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else gelu_derivative(v, p0, p1))
cdef void _gelu_tanh_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else gelu_tanh_forward(v, p0, p1)

cdef void _gelu_tanh_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else gelu_tanh_derivative(v, p0, p1)

cdef void _gelu_tanh_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else gelu_tanh_derivative(v, p0, p1))
cdef void _gelu_tanh_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else gelu_tanh_forward(v, p0, p1)

cdef void _gelu_tanh_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else gelu_tanh_derivative(v, p0, p1)

cdef void _gelu_tanh_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else gelu_tanh_derivative(v, p0, p1))
cdef void _silu_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else silu_forward(v, p0, p1)

cdef void _silu_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else silu_derivative(v, p0, p1)

cdef void _silu_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else silu_derivative(v, p0, p1))
cdef void _silu_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else silu_forward(v, p0, p1)

cdef void _silu_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else silu_derivative(v, p0, p1)

cdef void _silu_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else silu_derivative(v, p0, p1))
cdef void _swish_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else swish_forward(v, p0, p1)

cdef void _swish_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else swish_derivative(v, p0, p1)

cdef void _swish_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else swish_derivative(v, p0, p1))
cdef void _swish_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else swish_forward(v, p0, p1)

cdef void _swish_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else swish_derivative(v, p0, p1)

cdef void _swish_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else swish_derivative(v, p0, p1))
cdef void _elu_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else elu_forward(v, p0, p1)

cdef void _elu_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else elu_derivative(v, p0, p1)

cdef void _elu_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else elu_derivative(v, p0, p1))

cdef void _elu_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else elu_derivative_y(v, p0, p1))
cdef void _elu_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else elu_forward(v, p0, p1)

cdef void _elu_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else elu_derivative(v, p0, p1)

cdef void _elu_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else elu_derivative(v, p0, p1))

cdef void _elu_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else elu_derivative_y(v, p0, p1))
cdef void _selu_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else selu_forward(v, p0, p1)

cdef void _selu_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else selu_derivative(v, p0, p1)

cdef void _selu_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else selu_derivative(v, p0, p1))

cdef void _selu_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else selu_derivative_y(v, p0, p1))
cdef void _selu_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else selu_forward(v, p0, p1)

cdef void _selu_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else selu_derivative(v, p0, p1)

cdef void _selu_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else selu_derivative(v, p0, p1))

cdef void _selu_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else selu_derivative_y(v, p0, p1))
cdef void _celu_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else celu_forward(v, p0, p1)

cdef void _celu_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else celu_derivative(v, p0, p1)

cdef void _celu_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else celu_derivative(v, p0, p1))

cdef void _celu_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else celu_derivative_y(v, p0, p1))
cdef void _celu_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else celu_forward(v, p0, p1)

cdef void _celu_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else celu_derivative(v, p0, p1)

cdef void _celu_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else celu_derivative(v, p0, p1))

cdef void _celu_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else celu_derivative_y(v, p0, p1))
cdef void _softplus_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softplus_forward(v, p0, p1)

cdef void _softplus_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softplus_derivative(v, p0, p1)

cdef void _softplus_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else softplus_derivative(v, p0, p1))
cdef void _softplus_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softplus_forward(v, p0, p1)

cdef void _softplus_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softplus_derivative(v, p0, p1)

cdef void _softplus_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else softplus_derivative(v, p0, p1))
cdef void _mish_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else mish_forward(v, p0, p1)

cdef void _mish_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else mish_derivative(v, p0, p1)

cdef void _mish_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else mish_derivative(v, p0, p1))
cdef void _mish_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else mish_forward(v, p0, p1)

cdef void _mish_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else mish_derivative(v, p0, p1)

cdef void _mish_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else mish_derivative(v, p0, p1))
cdef void _hardsigmoid_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardsigmoid_forward(v, p0, p1)

cdef void _hardsigmoid_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardsigmoid_derivative(v, p0, p1)

cdef void _hardsigmoid_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else hardsigmoid_derivative(v, p0, p1))

cdef void _hardsigmoid_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else hardsigmoid_derivative_y(v, p0, p1))
cdef void _hardsigmoid_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardsigmoid_forward(v, p0, p1)

cdef void _hardsigmoid_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardsigmoid_derivative(v, p0, p1)

cdef void _hardsigmoid_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else hardsigmoid_derivative(v, p0, p1))

cdef void _hardsigmoid_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else hardsigmoid_derivative_y(v, p0, p1))
cdef void _hardswish_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardswish_forward(v, p0, p1)

cdef void _hardswish_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardswish_derivative(v, p0, p1)

cdef void _hardswish_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else hardswish_derivative(v, p0, p1))
cdef void _hardswish_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardswish_forward(v, p0, p1)

cdef void _hardswish_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardswish_derivative(v, p0, p1)

cdef void _hardswish_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else hardswish_derivative(v, p0, p1))
cdef void _hardtanh_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardtanh_forward(v, p0, p1)

cdef void _hardtanh_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardtanh_derivative(v, p0, p1)

cdef void _hardtanh_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else hardtanh_derivative(v, p0, p1))

cdef void _hardtanh_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else hardtanh_derivative_y(v, p0, p1))
cdef void _hardtanh_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardtanh_forward(v, p0, p1)

cdef void _hardtanh_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardtanh_derivative(v, p0, p1)

cdef void _hardtanh_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else hardtanh_derivative(v, p0, p1))

cdef void _hardtanh_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else hardtanh_derivative_y(v, p0, p1))
cdef void _relu6_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else relu6_forward(v, p0, p1)

cdef void _relu6_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else relu6_derivative(v, p0, p1)

cdef void _relu6_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else relu6_derivative(v, p0, p1))

cdef void _relu6_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else relu6_derivative_y(v, p0, p1))
cdef void _relu6_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else relu6_forward(v, p0, p1)

cdef void _relu6_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else relu6_derivative(v, p0, p1)

cdef void _relu6_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else relu6_derivative(v, p0, p1))

cdef void _relu6_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else relu6_derivative_y(v, p0, p1))
cdef void _logsigmoid_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else logsigmoid_forward(v, p0, p1)

cdef void _logsigmoid_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else logsigmoid_derivative(v, p0, p1)

cdef void _logsigmoid_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else logsigmoid_derivative(v, p0, p1))

cdef void _logsigmoid_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else logsigmoid_derivative_y(v, p0, p1))
cdef void _logsigmoid_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else logsigmoid_forward(v, p0, p1)

cdef void _logsigmoid_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else logsigmoid_derivative(v, p0, p1)

cdef void _logsigmoid_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else logsigmoid_derivative(v, p0, p1))

cdef void _logsigmoid_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else logsigmoid_derivative_y(v, p0, p1))
cdef void _softsign_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softsign_forward(v, p0, p1)

cdef void _softsign_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softsign_derivative(v, p0, p1)

cdef void _softsign_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else softsign_derivative(v, p0, p1))

cdef void _softsign_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else softsign_derivative_y(v, p0, p1))
cdef void _softsign_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softsign_forward(v, p0, p1)

cdef void _softsign_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softsign_derivative(v, p0, p1)

cdef void _softsign_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else softsign_derivative(v, p0, p1))

cdef void _softsign_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else softsign_derivative_y(v, p0, p1))
cdef void _tanhshrink_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else tanhshrink_forward(v, p0, p1)

cdef void _tanhshrink_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else tanhshrink_derivative(v, p0, p1)

cdef void _tanhshrink_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else tanhshrink_derivative(v, p0, p1))
cdef void _tanhshrink_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else tanhshrink_forward(v, p0, p1)

cdef void _tanhshrink_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else tanhshrink_derivative(v, p0, p1)

cdef void _tanhshrink_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else tanhshrink_derivative(v, p0, p1))
cdef void _threshold_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else threshold_forward(v, p0, p1)

cdef void _threshold_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else threshold_derivative(v, p0, p1)

cdef void _threshold_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else threshold_derivative(v, p0, p1))
cdef void _threshold_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else threshold_forward(v, p0, p1)

cdef void _threshold_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else threshold_derivative(v, p0, p1)

cdef void _threshold_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else threshold_derivative(v, p0, p1))
cdef void _hardshrink_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardshrink_forward(v, p0, p1)

cdef void _hardshrink_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardshrink_derivative(v, p0, p1)

cdef void _hardshrink_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else hardshrink_derivative(v, p0, p1))

cdef void _hardshrink_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else hardshrink_derivative_y(v, p0, p1))
cdef void _hardshrink_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardshrink_forward(v, p0, p1)

cdef void _hardshrink_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else hardshrink_derivative(v, p0, p1)

cdef void _hardshrink_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else hardshrink_derivative(v, p0, p1))

cdef void _hardshrink_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else hardshrink_derivative_y(v, p0, p1))
cdef void _softshrink_forward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                             float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softshrink_forward(v, p0, p1)

cdef void _softshrink_derivative_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softshrink_derivative(v, p0, p1)

cdef void _softshrink_backward_f32(float *out, const float *x, const float *g, Py_ssize_t n,
                              float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else softshrink_derivative(v, p0, p1))

cdef void _softshrink_backward_y_f32(float *out, const float *y, const float *g, Py_ssize_t n,
                                float p0, float p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef float v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else softshrink_derivative_y(v, p0, p1))
cdef void _softshrink_forward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                             double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softshrink_forward(v, p0, p1)

cdef void _softshrink_derivative_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = v if v != v else softshrink_derivative(v, p0, p1)

cdef void _softshrink_backward_f64(double *out, const double *x, const double *g, Py_ssize_t n,
                              double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (v if v != v else softshrink_derivative(v, p0, p1))

cdef void _softshrink_backward_y_f64(double *out, const double *y, const double *g, Py_ssize_t n,
                                double p0, double p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v
    for i in range(n):
        v = y[i]
        out[i] = g[i] * (v if v != v else softshrink_derivative_y(v, p0, p1))

# (kernel id, mode) -> loops; filled once at import
KERNEL_IDS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "swish", "elu", "selu", "celu", "softplus", "mish", "hardsigmoid", "hardswish", "hardtanh", "relu6", "logsigmoid", "softsign", "tanhshrink", "threshold", "hardshrink", "softshrink", )
MODES = ("forward", "derivative", "backward", "backward_y", )
cdef loop_f32 _LOOPS_F32[96]
cdef loop_f64 _LOOPS_F64[96]
_LOOPS_F32[0] = _identity_forward_f32
_LOOPS_F64[0] = _identity_forward_f64
_LOOPS_F32[1] = _identity_derivative_f32
_LOOPS_F64[1] = _identity_derivative_f64
_LOOPS_F32[2] = _identity_backward_f32
_LOOPS_F64[2] = _identity_backward_f64
_LOOPS_F32[3] = _identity_backward_y_f32
_LOOPS_F64[3] = _identity_backward_y_f64
_LOOPS_F32[4] = _relu_forward_f32
_LOOPS_F64[4] = _relu_forward_f64
_LOOPS_F32[5] = _relu_derivative_f32
_LOOPS_F64[5] = _relu_derivative_f64
_LOOPS_F32[6] = _relu_backward_f32
_LOOPS_F64[6] = _relu_backward_f64
_LOOPS_F32[7] = _relu_backward_y_f32
_LOOPS_F64[7] = _relu_backward_y_f64
_LOOPS_F32[8] = _leaky_relu_forward_f32
_LOOPS_F64[8] = _leaky_relu_forward_f64
_LOOPS_F32[9] = _leaky_relu_derivative_f32
_LOOPS_F64[9] = _leaky_relu_derivative_f64
_LOOPS_F32[10] = _leaky_relu_backward_f32
_LOOPS_F64[10] = _leaky_relu_backward_f64
_LOOPS_F32[11] = _leaky_relu_backward_y_f32
_LOOPS_F64[11] = _leaky_relu_backward_y_f64
_LOOPS_F32[12] = _sigmoid_forward_f32
_LOOPS_F64[12] = _sigmoid_forward_f64
_LOOPS_F32[13] = _sigmoid_derivative_f32
_LOOPS_F64[13] = _sigmoid_derivative_f64
_LOOPS_F32[14] = _sigmoid_backward_f32
_LOOPS_F64[14] = _sigmoid_backward_f64
_LOOPS_F32[15] = _sigmoid_backward_y_f32
_LOOPS_F64[15] = _sigmoid_backward_y_f64
_LOOPS_F32[16] = _tanh_forward_f32
_LOOPS_F64[16] = _tanh_forward_f64
_LOOPS_F32[17] = _tanh_derivative_f32
_LOOPS_F64[17] = _tanh_derivative_f64
_LOOPS_F32[18] = _tanh_backward_f32
_LOOPS_F64[18] = _tanh_backward_f64
_LOOPS_F32[19] = _tanh_backward_y_f32
_LOOPS_F64[19] = _tanh_backward_y_f64
_LOOPS_F32[20] = _gelu_forward_f32
_LOOPS_F64[20] = _gelu_forward_f64
_LOOPS_F32[21] = _gelu_derivative_f32
_LOOPS_F64[21] = _gelu_derivative_f64
_LOOPS_F32[22] = _gelu_backward_f32
_LOOPS_F64[22] = _gelu_backward_f64
_LOOPS_F32[23] = NULL
_LOOPS_F64[23] = NULL
_LOOPS_F32[24] = _gelu_tanh_forward_f32
_LOOPS_F64[24] = _gelu_tanh_forward_f64
_LOOPS_F32[25] = _gelu_tanh_derivative_f32
_LOOPS_F64[25] = _gelu_tanh_derivative_f64
_LOOPS_F32[26] = _gelu_tanh_backward_f32
_LOOPS_F64[26] = _gelu_tanh_backward_f64
_LOOPS_F32[27] = NULL
_LOOPS_F64[27] = NULL
_LOOPS_F32[28] = _silu_forward_f32
_LOOPS_F64[28] = _silu_forward_f64
_LOOPS_F32[29] = _silu_derivative_f32
_LOOPS_F64[29] = _silu_derivative_f64
_LOOPS_F32[30] = _silu_backward_f32
_LOOPS_F64[30] = _silu_backward_f64
_LOOPS_F32[31] = NULL
_LOOPS_F64[31] = NULL
_LOOPS_F32[32] = _swish_forward_f32
_LOOPS_F64[32] = _swish_forward_f64
_LOOPS_F32[33] = _swish_derivative_f32
_LOOPS_F64[33] = _swish_derivative_f64
_LOOPS_F32[34] = _swish_backward_f32
_LOOPS_F64[34] = _swish_backward_f64
_LOOPS_F32[35] = NULL
_LOOPS_F64[35] = NULL
_LOOPS_F32[36] = _elu_forward_f32
_LOOPS_F64[36] = _elu_forward_f64
_LOOPS_F32[37] = _elu_derivative_f32
_LOOPS_F64[37] = _elu_derivative_f64
_LOOPS_F32[38] = _elu_backward_f32
_LOOPS_F64[38] = _elu_backward_f64
_LOOPS_F32[39] = _elu_backward_y_f32
_LOOPS_F64[39] = _elu_backward_y_f64
_LOOPS_F32[40] = _selu_forward_f32
_LOOPS_F64[40] = _selu_forward_f64
_LOOPS_F32[41] = _selu_derivative_f32
_LOOPS_F64[41] = _selu_derivative_f64
_LOOPS_F32[42] = _selu_backward_f32
_LOOPS_F64[42] = _selu_backward_f64
_LOOPS_F32[43] = _selu_backward_y_f32
_LOOPS_F64[43] = _selu_backward_y_f64
_LOOPS_F32[44] = _celu_forward_f32
_LOOPS_F64[44] = _celu_forward_f64
_LOOPS_F32[45] = _celu_derivative_f32
_LOOPS_F64[45] = _celu_derivative_f64
_LOOPS_F32[46] = _celu_backward_f32
_LOOPS_F64[46] = _celu_backward_f64
_LOOPS_F32[47] = _celu_backward_y_f32
_LOOPS_F64[47] = _celu_backward_y_f64
_LOOPS_F32[48] = _softplus_forward_f32
_LOOPS_F64[48] = _softplus_forward_f64
_LOOPS_F32[49] = _softplus_derivative_f32
_LOOPS_F64[49] = _softplus_derivative_f64
_LOOPS_F32[50] = _softplus_backward_f32
_LOOPS_F64[50] = _softplus_backward_f64
_LOOPS_F32[51] = NULL
_LOOPS_F64[51] = NULL
_LOOPS_F32[52] = _mish_forward_f32
_LOOPS_F64[52] = _mish_forward_f64
_LOOPS_F32[53] = _mish_derivative_f32
_LOOPS_F64[53] = _mish_derivative_f64
_LOOPS_F32[54] = _mish_backward_f32
_LOOPS_F64[54] = _mish_backward_f64
_LOOPS_F32[55] = NULL
_LOOPS_F64[55] = NULL
_LOOPS_F32[56] = _hardsigmoid_forward_f32
_LOOPS_F64[56] = _hardsigmoid_forward_f64
_LOOPS_F32[57] = _hardsigmoid_derivative_f32
_LOOPS_F64[57] = _hardsigmoid_derivative_f64
_LOOPS_F32[58] = _hardsigmoid_backward_f32
_LOOPS_F64[58] = _hardsigmoid_backward_f64
_LOOPS_F32[59] = _hardsigmoid_backward_y_f32
_LOOPS_F64[59] = _hardsigmoid_backward_y_f64
_LOOPS_F32[60] = _hardswish_forward_f32
_LOOPS_F64[60] = _hardswish_forward_f64
_LOOPS_F32[61] = _hardswish_derivative_f32
_LOOPS_F64[61] = _hardswish_derivative_f64
_LOOPS_F32[62] = _hardswish_backward_f32
_LOOPS_F64[62] = _hardswish_backward_f64
_LOOPS_F32[63] = NULL
_LOOPS_F64[63] = NULL
_LOOPS_F32[64] = _hardtanh_forward_f32
_LOOPS_F64[64] = _hardtanh_forward_f64
_LOOPS_F32[65] = _hardtanh_derivative_f32
_LOOPS_F64[65] = _hardtanh_derivative_f64
_LOOPS_F32[66] = _hardtanh_backward_f32
_LOOPS_F64[66] = _hardtanh_backward_f64
_LOOPS_F32[67] = _hardtanh_backward_y_f32
_LOOPS_F64[67] = _hardtanh_backward_y_f64
_LOOPS_F32[68] = _relu6_forward_f32
_LOOPS_F64[68] = _relu6_forward_f64
_LOOPS_F32[69] = _relu6_derivative_f32
_LOOPS_F64[69] = _relu6_derivative_f64
_LOOPS_F32[70] = _relu6_backward_f32
_LOOPS_F64[70] = _relu6_backward_f64
_LOOPS_F32[71] = _relu6_backward_y_f32
_LOOPS_F64[71] = _relu6_backward_y_f64
_LOOPS_F32[72] = _logsigmoid_forward_f32
_LOOPS_F64[72] = _logsigmoid_forward_f64
_LOOPS_F32[73] = _logsigmoid_derivative_f32
_LOOPS_F64[73] = _logsigmoid_derivative_f64
_LOOPS_F32[74] = _logsigmoid_backward_f32
_LOOPS_F64[74] = _logsigmoid_backward_f64
_LOOPS_F32[75] = _logsigmoid_backward_y_f32
_LOOPS_F64[75] = _logsigmoid_backward_y_f64
_LOOPS_F32[76] = _softsign_forward_f32
_LOOPS_F64[76] = _softsign_forward_f64
_LOOPS_F32[77] = _softsign_derivative_f32
_LOOPS_F64[77] = _softsign_derivative_f64
_LOOPS_F32[78] = _softsign_backward_f32
_LOOPS_F64[78] = _softsign_backward_f64
_LOOPS_F32[79] = _softsign_backward_y_f32
_LOOPS_F64[79] = _softsign_backward_y_f64
_LOOPS_F32[80] = _tanhshrink_forward_f32
_LOOPS_F64[80] = _tanhshrink_forward_f64
_LOOPS_F32[81] = _tanhshrink_derivative_f32
_LOOPS_F64[81] = _tanhshrink_derivative_f64
_LOOPS_F32[82] = _tanhshrink_backward_f32
_LOOPS_F64[82] = _tanhshrink_backward_f64
_LOOPS_F32[83] = NULL
_LOOPS_F64[83] = NULL
_LOOPS_F32[84] = _threshold_forward_f32
_LOOPS_F64[84] = _threshold_forward_f64
_LOOPS_F32[85] = _threshold_derivative_f32
_LOOPS_F64[85] = _threshold_derivative_f64
_LOOPS_F32[86] = _threshold_backward_f32
_LOOPS_F64[86] = _threshold_backward_f64
_LOOPS_F32[87] = NULL
_LOOPS_F64[87] = NULL
_LOOPS_F32[88] = _hardshrink_forward_f32
_LOOPS_F64[88] = _hardshrink_forward_f64
_LOOPS_F32[89] = _hardshrink_derivative_f32
_LOOPS_F64[89] = _hardshrink_derivative_f64
_LOOPS_F32[90] = _hardshrink_backward_f32
_LOOPS_F64[90] = _hardshrink_backward_f64
_LOOPS_F32[91] = _hardshrink_backward_y_f32
_LOOPS_F64[91] = _hardshrink_backward_y_f64
_LOOPS_F32[92] = _softshrink_forward_f32
_LOOPS_F64[92] = _softshrink_forward_f64
_LOOPS_F32[93] = _softshrink_derivative_f32
_LOOPS_F64[93] = _softshrink_derivative_f64
_LOOPS_F32[94] = _softshrink_backward_f32
_LOOPS_F64[94] = _softshrink_backward_f64
_LOOPS_F32[95] = _softshrink_backward_y_f32
_LOOPS_F64[95] = _softshrink_backward_y_f64


# ======================================================================
# threads
# ======================================================================
# Below this many elements a kernel runs on the calling thread (a parallel
# region costs a few microseconds); above it, on up to n_threads threads.
# Measured on a 2-core AVX-512 machine (1 vs 2 threads break even): ~4-8k
# elements for the transcendental kernels, ~32-64k for the piecewise-linear
# ones and the from-y derivatives (a few operations per element).
cdef Py_ssize_t PARALLEL_MIN = 8192
cdef Py_ssize_t PARALLEL_MIN_CHEAP = 49152
CHEAP_KERNEL_IDS = frozenset(("identity", "relu", "leaky_relu", "hardtanh", "relu6", "threshold", "hardshrink", "softshrink", ))
# Below this many elements the GIL is kept (releasing it costs more than the work).
cdef Py_ssize_t NOGIL_MIN = 4096
# Set in a child process created by fork(): GNU OpenMP's thread pool does not
# survive fork and the child's next parallel region would hang, so the child
# runs every kernel serially (see fastact._cython, os.register_at_fork).
cdef bint _forked_child = False


def _mark_forked_child():
    """Called in a fork()ed child: make every kernel run serially from now on."""
    global _forked_child
    _forked_child = True


cdef extern from *:
    """
    #if defined(_OPENMP)
    #include <omp.h>
    #define fa_omp_num_threads() omp_get_num_threads()
    #else
    #define fa_omp_num_threads() 1
    #endif
    """
    int fa_omp_num_threads() noexcept nogil


def _probe_threads(Py_ssize_t n_threads):
    """The size of the OpenMP team a kernel asking for n_threads gets (1 when serial)."""
    cdef Py_ssize_t i
    cdef Py_ssize_t total = 0
    if n_threads <= 1 or _forked_child or not FASTACT_OPENMP:
        return 1
    with nogil:
        for i in prange(n_threads, schedule="static", num_threads=n_threads):
            total += fa_omp_num_threads()  # a reduction: every iteration sees the team size
    return total // n_threads


def _set_parallel_min(n, n_cheap=None):
    """Set the serial/parallel size thresholds (benchmarks, tests); returns the old pair."""
    global PARALLEL_MIN, PARALLEL_MIN_CHEAP
    old = (PARALLEL_MIN, PARALLEL_MIN_CHEAP)
    PARALLEL_MIN = max(int(n), 1)
    PARALLEL_MIN_CHEAP = max(int(n if n_cheap is None else n_cheap), 1)
    return old


cdef inline Py_ssize_t _n_chunks(Py_ssize_t n, Py_ssize_t n_threads, Py_ssize_t *chunk) noexcept nogil:
    """Split n elements into at most n_threads chunks of a multiple of 16 elements."""
    cdef Py_ssize_t c = (n + n_threads - 1) // n_threads
    c = (c + 15) & ~(<Py_ssize_t>15)
    chunk[0] = c
    return (n + c - 1) // c

cdef void _run_f32(loop_f32 f, float *out, const float *x, const float *g,
                   Py_ssize_t n, float p0, float p1, Py_ssize_t n_threads,
                   Py_ssize_t parallel_min) noexcept nogil:
    cdef Py_ssize_t chunk, c, start, m, nchunks
    if n_threads <= 1 or n < parallel_min or _forked_child or not FASTACT_OPENMP:
        f(out, x, g, n, p0, p1)
        return
    nchunks = _n_chunks(n, n_threads, &chunk)
    for c in prange(nchunks, schedule="static", num_threads=n_threads):
        start = c * chunk
        m = chunk if n - start > chunk else n - start
        f(out + start, x + start, (g + start) if g != NULL else NULL, m, p0, p1)

cdef void _run_f64(loop_f64 f, double *out, const double *x, const double *g,
                   Py_ssize_t n, double p0, double p1, Py_ssize_t n_threads,
                   Py_ssize_t parallel_min) noexcept nogil:
    cdef Py_ssize_t chunk, c, start, m, nchunks
    if n_threads <= 1 or n < parallel_min or _forked_child or not FASTACT_OPENMP:
        f(out, x, g, n, p0, p1)
        return
    nchunks = _n_chunks(n, n_threads, &chunk)
    for c in prange(nchunks, schedule="static", num_threads=n_threads):
        start = c * chunk
        m = chunk if n - start > chunk else n - start
        f(out + start, x + start, (g + start) if g != NULL else NULL, m, p0, p1)


cdef class ElementwiseKernel:
    """kernel(out, x, grad, params, n_threads): one (kernel id, mode) pair.

    ``out``, ``x`` (and ``grad`` for the backward modes) are C-contiguous
    float32 or float64 arrays of one shape and dtype (the dispatch layer
    guarantees it); ``params`` a tuple of up to two floats, cast to the
    array's dtype.  Fills ``out``; the GIL is released for arrays of
    ``NOGIL_MIN`` elements or more.
    """

    cdef loop_f32 f32
    cdef loop_f64 f64
    cdef readonly str kernel_id
    cdef readonly str mode
    cdef readonly bint needs_grad
    cdef readonly bint cheap

    def __cinit__(self, str kernel_id, str mode):
        if kernel_id not in KERNEL_IDS:
            raise KeyError(f"the cython backend has no kernel {kernel_id!r}")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        cdef Py_ssize_t slot = KERNEL_IDS.index(kernel_id) * 4 + MODES.index(mode)
        if _LOOPS_F32[slot] == NULL:
            raise KeyError(f"{kernel_id!r} has no derivative as a function of y ({mode!r})")
        self.f32 = _LOOPS_F32[slot]
        self.f64 = _LOOPS_F64[slot]
        self.kernel_id = kernel_id
        self.mode = mode
        self.needs_grad = mode in ("backward", "backward_y")
        self.cheap = kernel_id in CHEAP_KERNEL_IDS or mode == "backward_y"

    def __repr__(self):
        return f"<fastact cython kernel {self.kernel_id}:{self.mode}>"

    def __call__(self, cnp.ndarray out not None, cnp.ndarray x not None, grad, tuple params,
                 Py_ssize_t n_threads):
        cdef Py_ssize_t n = cnp.PyArray_SIZE(out)
        cdef int typ = cnp.PyArray_TYPE(out)
        cdef double p0 = 0.0, p1 = 0.0
        cdef Py_ssize_t n_params = len(params)
        cdef char *gp = NULL
        if n_params > 0:
            p0 = params[0]
            if n_params > 1:
                p1 = params[1]
        if (cnp.PyArray_SIZE(x) != n or cnp.PyArray_TYPE(x) != typ
                or not cnp.PyArray_IS_C_CONTIGUOUS(out) or not cnp.PyArray_IS_C_CONTIGUOUS(x)):
            raise ValueError("fastact cython kernel: out and x must be C-contiguous arrays "
                             "of one size and dtype")
        if self.needs_grad:
            if not isinstance(grad, cnp.ndarray):
                raise TypeError("fastact cython kernel: the backward modes need grad")
            if (cnp.PyArray_SIZE(<cnp.ndarray>grad) != n or cnp.PyArray_TYPE(<cnp.ndarray>grad) != typ
                    or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>grad)):
                raise ValueError("fastact cython kernel: grad must match x")
            gp = cnp.PyArray_BYTES(<cnp.ndarray>grad)
        cdef Py_ssize_t parallel_min = PARALLEL_MIN_CHEAP if self.cheap else PARALLEL_MIN
        cdef char *op = cnp.PyArray_BYTES(out)
        cdef char *xp = cnp.PyArray_BYTES(x)
        if typ == cnp.NPY_FLOAT64:
            if n < NOGIL_MIN:
                _run_f64(self.f64, <double *>op, <const double *>xp, <const double *>gp, n, p0, p1, 1, parallel_min)
            else:
                with nogil:
                    _run_f64(self.f64, <double *>op, <const double *>xp, <const double *>gp, n,
                             p0, p1, n_threads, parallel_min)
        elif typ == cnp.NPY_FLOAT32:
            if n < NOGIL_MIN:
                _run_f32(self.f32, <float *>op, <const float *>xp, <const float *>gp, n,
                         <float>p0, <float>p1, 1, parallel_min)
            else:
                with nogil:
                    _run_f32(self.f32, <float *>op, <const float *>xp, <const float *>gp, n,
                             <float>p0, <float>p1, n_threads, parallel_min)
        else:
            raise TypeError(f"fastact cython kernel: dtype {out.dtype} is not float32/float64")


def build_info():
    """How this extension was built: OpenMP, the vector ISA it targets, compiler flags."""
    return {
        "openmp": bool(FASTACT_OPENMP),
        "isa": FASTACT_ISA.decode(),
        "fma": bool(FASTACT_HAS_FMA),
        "cflags": FASTACT_CFLAGS.decode(),
        "parallel_min": PARALLEL_MIN,
        "parallel_min_cheap": PARALLEL_MIN_CHEAP,
        "kernels": len(KERNEL_IDS),
    }


# ======================================================================
# the softmax family (fastact/_softmax.pxi, its own owner): it defines
# rowwise_kernel(op) -> kernel(out, x, grad, mask, n_threads) and may use
# everything above (real, the fa_* math, _forked_child, PARALLEL_MIN, ...)
# ======================================================================
include "_cython/softmax.pxi"
