# The scalar formulas of fastact's Cython kernels, one home for the backend
# (fastact/_kernels.pyx includes this file) and for users' Cython code (the generated
# fastact/kernels.pxd includes it too): every name here must compile both in the
# extension module and inside a .pxd (cdef inline functions, extern declarations).
#
# <id>_forward, <id>_derivative and <id>_derivative_y(x, p0, p1), fused over
# float/double: p0, p1 are the numeric parameters already in x's type; NaN inputs
# are mapped to NaN by the loops that call them, so formulas need not care.  Smooth
# float32 formulas are computed in float64 and rounded once; piecewise-linear ones
# in the array's own type (exact).  The vectorizable math is C in vmath.h; numeric
# constants come from fastact/_constants.py (rendered by setup.py into fa_constants.h).

from libc.math cimport INFINITY as INF

cdef extern from "vmath.h" nogil:
    double fa_exp_f64(double x)
    double fa_exp_dd_f64(double hi, double lo)
    double fa_exp_split_dd_f64(double hi, double lo, double *scale)
    double fa_expm1_f64(double x)
    double fa_log1p_f64(double x)
    double fa_tanh_f64(double x)
    double fa_sigmoid_f64(double x)
    double fa_sigmoid_derivative_f64(double x)
    double fa_silu_f64(double x)
    double fa_silu_derivative_f64(double x)
    double fa_mish_f64(double x)
    double fa_mish_derivative_f64(double x)
    double fa_x_sigmoid_dd_f64(double x, double uh, double ul)
    double fa_exp_neg_abs_f64(double x)
    double fa_exp_neg_abs_dd_f64(double hi, double lo)
    double fa_silu_derivative_dd_f64(double uh, double ul)
    double fa_two_prod_f64(double a, double b, double *lo)
    double fa_gelu_f64(double x)
    double fa_gelu_derivative_f64(double x)
    float fa_gelu_f32(float x)
    float fa_gelu_derivative_f32(float x)
    double fa_tanhshrink_f64(double x)
    float fa_tanhshrink_f32(float x)
    double fa_abs_f64(double x)
    double fa_copysign_f64(double mag, double sgn)
    float fa_exp_f32(float x)
    float fa_expm1_f32(float x)
    float fa_log1p_f32(float x)
    float fa_tanh_f32(float x)
    float fa_sigmoid_f32(float x)
    float fa_sigmoid_derivative_f32(float x)
    float fa_silu_f32(float x)
    float fa_silu_derivative_f32(float x)
    float fa_mish_f32(float x)
    float fa_mish_derivative_f32(float x)
    float fa_x_sigmoid_dd_f32(float x, float uh, float ul)
    float fa_exp_neg_abs_f32(float x)
    float fa_exp_neg_abs_dd_f32(float hi, float lo)
    float fa_log1p_unit_f32(float e)
    double fa_log1p_unit_f64(double e)
    float fa_silu_derivative_dd_f32(float uh, float ul)
    float fa_abs_f32(float x)
    float fa_two_prod_f32(float a, float b, float *lo)
    float fa__fma_f32(float a, float b, float c)
    float fa__sigmoid_exp_f32(float x, float *t, float *e)
    float fa__sigmoid_e_floored_f32(float m)

cdef extern from "fa_constants.h":
    const double GELU_TANH_K "FA_GELU_TANH_K"
    const double GELU_TANH_ARG_MAX "FA_GELU_TANH_ARG_MAX"
    const double GELU_TANH_2U_MAX "FA_GELU_TANH_2U_MAX"
    const double SELU_SCALE "FA_SELU_SCALE"
    const double QUICK_GELU_BETA "FA_QUICK_GELU_BETA"
    const float QUICK_GELU_BETA_HI_F32 "FA_QUICK_GELU_BETA_HI_F32"
    const float QUICK_GELU_BETA_LO_F32 "FA_QUICK_GELU_BETA_LO_F32"
    const float GELU_TANH_2C_HI_F32 "FA_GELU_TANH_2C_HI_F32"
    const float GELU_TANH_2C_LO_F32 "FA_GELU_TANH_2C_LO_F32"
    const float GELU_TANH_2CK_HI_F32 "FA_GELU_TANH_2CK_HI_F32"
    const float GELU_TANH_2CK_LO_F32 "FA_GELU_TANH_2CK_LO_F32"
    const float GELU_TANH_6CK_F32 "FA_GELU_TANH_6CK_F32"
    const float SIGMOID_EXP_UNSCALE_F32 "FA_SIGMOID_EXP_UNSCALE_F32"
    const float SELU_SCALE_HI_F32 "FA_SELU_SCALE_HI_F32"
    const float SELU_SCALE_LO_F32 "FA_SELU_SCALE_LO_F32"
    const float SELU_SCALE_ALPHA_HI_F32 "FA_SELU_SCALE_ALPHA_HI_F32"
    const float SELU_SCALE_ALPHA_LO_F32 "FA_SELU_SCALE_ALPHA_LO_F32"

cdef extern from *:
    """
    #define FA_GELU_TANH_2C (2.0 * FA_GELU_TANH_C)
    #define FA_SELU_SCALE_ALPHA (FA_SELU_SCALE * FA_SELU_ALPHA)
    """
    const double GELU_TANH_2C "FA_GELU_TANH_2C"
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

cdef inline real _abs(real x) noexcept nogil:
    """|x| (bit operation: vectorizes, keeps NaN)."""
    return fa_abs_f32(x) if real is float else fa_abs_f64(x)

cdef inline real _exp(real x) noexcept nogil:
    """e^x in the array's type, < 1 ULP."""
    return fa_exp_f32(x) if real is float else fa_exp_f64(x)

cdef inline real _expm1(real x) noexcept nogil:
    """e^x - 1 in the array's type (accurate near 0)."""
    return fa_expm1_f32(x) if real is float else fa_expm1_f64(x)

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
    return fa_sigmoid_f32(x) if real is float else fa_sigmoid_f64(x)

cdef inline real sigmoid_derivative(real x, real p0, real p1) noexcept nogil:
    # s(x) s(-x) = e / (1 + e)^2, e = exp(-|x|)
    return fa_sigmoid_derivative_f32(x) if real is float else fa_sigmoid_derivative_f64(x)

cdef inline real sigmoid_derivative_y(real y, real p0, real p1) noexcept nogil:
    # y (1 - y) in y's own type (1 - y exact for y >= 1/2)
    cdef real one = 1
    return y * (one - y)

# -------------------------------------------------------------------- tanh
cdef inline real tanh_forward(real x, real p0, real p1) noexcept nogil:
    return fa_tanh_f32(x) if real is float else fa_tanh_f64(x)

cdef inline real tanh_derivative(real x, real p0, real p1) noexcept nogil:
    # sech^2 x = 4e / (1 + e)^2, e = exp(-2|x|)
    # (<real> locals: a bare 1 becomes a double 1.0 in Cython's C and promotes
    # float32 arithmetic to double)
    cdef real one = 1, two = 2, four = 4
    cdef real e = _exp(-two * _abs(x))
    cdef real s = one / (one + e)
    return (four * e * s) * s

cdef inline real tanh_derivative_y(real y, real p0, real p1) noexcept nogil:
    # (1 - y)(1 + y) in y's own type (1 - |y| exact for |y| >= 1/2: no cancellation)
    cdef real one = 1
    return (one - y) * (one + y)

# -------------------------------------------------- gelu (exact, erf form)
cdef inline real gelu_forward(real x, real p0, real p1) noexcept nogil:
    # float32: float arithmetic throughout (fa_gelu_f32)
    if real is float:
        return fa_gelu_f32(x)
    else:
        return fa_gelu_f64(x)

cdef inline real gelu_derivative(real x, real p0, real p1) noexcept nogil:
    # Phi(x) + x phi(x); float32: float arithmetic, the parts of fa_gelu_f32
    if real is float:
        return fa_gelu_derivative_f32(x)
    else:
        return fa_gelu_derivative_f64(x)

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
    x = x if x > -GELU_TANH_ARG_MAX else -GELU_TANH_ARG_MAX
    return x if x < GELU_TANH_ARG_MAX else GELU_TANH_ARG_MAX

cdef inline float _gelu_tanh_u2_f32(float x, float *lo) noexcept nogil:
    """2u = x (A + B x^2) as a float pair hi + *lo (~2^-45 relative where x^3 B is finite):
    x^2 and the products exact by FMA, A + B x^2 by a two-sum (the lower tail's relative
    error is |2u| times that of 2u)."""
    cdef float sl, pl, hl
    cdef float s = fa_two_prod_f32(x, x, &sl)
    cdef float p = fa_two_prod_f32(GELU_TANH_2CK_HI_F32, s, &pl)
    cdef float q = GELU_TANH_2C_HI_F32 + p
    cdef float bb = q - GELU_TANH_2C_HI_F32
    cdef float ql = (((GELU_TANH_2C_HI_F32 - (q - bb)) + (p - bb))
                     + ((pl + GELU_TANH_2CK_HI_F32 * sl)
                        + (GELU_TANH_2CK_LO_F32 * s + GELU_TANH_2C_LO_F32)))
    cdef float h = fa_two_prod_f32(x, q, &hl)
    lo[0] = hl + x * ql
    return h

cdef inline real gelu_tanh_forward(real x, real p0, real p1) noexcept nogil:
    # x/2 (1 + tanh u) = x sigmoid(2u); 2u carried as a pair of the array's type (the lower
    # tail's relative error is |2u| times that of u)
    cdef double xd, lo_d, hi_d, r_d
    cdef float hi, lo, r, over
    cdef float top = <float>GELU_TANH_2U_MAX, lim = <float>GELU_TANH_ARG_MAX, neg_zero = -0.0
    if real is double:
        xd = x
        hi_d = _gelu_tanh_u2(_clamp30(xd), &lo_d)
        hi_d = hi_d if hi_d < GELU_TANH_2U_MAX else GELU_TANH_2U_MAX  # the result is x beyond
        r_d = _x_sigmoid(xd, hi_d, lo_d)
        return -0.0 if xd == -INF else r_d
    else:
        # x is not clamped and 2u is clamped by a difference: gcc 12 does not vectorize
        # this loop with a select on either; the two selects after cover |x| > ARG_MAX
        hi = _gelu_tanh_u2_f32(x, &lo)  # before lo is read (C leaves argument order open)
        over = hi - top if hi > top else 0
        r = fa_x_sigmoid_dd_f32(x, hi - over, lo)  # the result is x beyond the clamp
        r = x if x > lim else r
        return neg_zero if x < -lim else r  # x e^2u rounds to -0

cdef inline real gelu_tanh_derivative(real x, real p0, real p1) noexcept nogil:
    # s + x s (1 - s) d(2u)/dx,  s = sigmoid(2u); float32: 2u = x (A + B x^2) in float
    # (the bar's absolute term covers the tail, where |2u| scales 2u's rounding); below 0
    # s is taken scaled by 2^S from the sigmoid core and the result scaled back once, so
    # no intermediate is subnormal where the result is not (the same bits where all are normal)
    cdef double xd
    cdef real u2, sn, s, du
    cdef float xx, over, r, m, t, e, d, sc
    cdef float top = <float>GELU_TANH_2U_MAX, lim = <float>GELU_TANH_ARG_MAX, one = 1, zero = 0
    cdef bint pos
    if real is double:
        xd = _clamp30(x)
        u2 = GELU_TANH_2C * (xd + GELU_TANH_K * (xd * xd * xd))
        u2 = u2 if u2 < GELU_TANH_2U_MAX else GELU_TANH_2U_MAX
        s = _sigmoid_pair(u2, &sn)
        du = GELU_TANH_2C * (1.0 + 3.0 * GELU_TANH_K * (xd * xd))
        return s + xd * s * sn * du
    else:
        xx = x * x
        u2 = x * fa__fma_f32(GELU_TANH_2CK_HI_F32, xx, GELU_TANH_2C_HI_F32)
        du = fa__fma_f32(GELU_TANH_6CK_F32, xx, GELU_TANH_2C_HI_F32)
        over = u2 - top if u2 > top else 0  # as in the forward
        u2 = u2 - over
        m = fa__sigmoid_exp_f32(u2, &t, &e)
        e = fa__sigmoid_e_floored_f32(m)
        d = one / (one + e)
        pos = u2 >= 0
        s = d if pos else m * d
        sn = e * d if pos else d
        sc = one if pos else SIGMOID_EXP_UNSCALE_F32
        r = (s + x * s * sn * du) * sc
        r = one if x > lim else r
        return zero if x < -lim else r

# -------------------------------------------------------------------- silu
cdef inline double _x_sigmoid(double x, double uh, double ul) noexcept nogil:
    """x * sigmoid(uh + ul), rounded once where sigmoid would be subnormal."""
    cdef double scale, e
    cdef bint pos = uh >= 0
    e = fa_exp_split_dd_f64(-uh if pos else uh, -ul if pos else ul, &scale)
    return ((x * (1.0 if pos else e)) / (1.0 + e * scale)) * (1.0 if pos else scale)

cdef inline real _sigmoid_pair(real u, real *sn) noexcept nogil:
    """sigmoid(u), and *sn = sigmoid(-u) = 1 - sigmoid(u), from one exponential."""
    cdef real one = 1   # (not a bare 1: Cython writes 1.0, a double)
    cdef real e = _exp(-_abs(u))
    cdef real d = one / (one + e)
    sn[0] = e * d if u >= 0 else d
    return d if u >= 0 else e * d

cdef inline real _two_prod(real a, real b, real *lo) noexcept nogil:
    """a*b rounded, *lo = its rounding error (0 where a*b is not finite)."""
    cdef real e
    cdef real p = _two_prod_any(a, b, &e)
    lo[0] = e if e - e == 0 else 0
    return p

cdef inline real _two_prod_any(real a, real b, real *lo) noexcept nogil:
    """a*b rounded, *lo = its rounding error (not finite where a*b overflows)."""
    if real is float:
        return fa_two_prod_f32(a, b, lo)
    else:
        return fa_two_prod_f64(a, b, lo)

cdef inline real silu_forward(real x, real p0, real p1) noexcept nogil:
    cdef real r = fa_silu_f32(x) if real is float else fa_silu_f64(x)
    if x == -INF:
        r = -0.0
    return r

cdef inline real silu_derivative(real x, real p0, real p1) noexcept nogil:
    # s (1 + x (1 - s))
    cdef real r = fa_silu_derivative_f32(x) if real is float else fa_silu_derivative_f64(x)
    if x == -INF:  # the formula gives 1 at inf, -0 at -inf
        r = 0
    return r

# ------------------------------------------------------ swish (p0 = beta)
cdef inline real swish_forward(real x, real p0, real p1) noexcept nogil:
    # u = b x carried exactly as a pair (hi, lo) of the array's type (a lo that is not finite,
    # where b x overflows, is dropped by the clamp of e^-|u|); the limits at x = +-inf typed
    # as the array's type (a bare 0.0 or INF is a double in Cython's C)
    cdef real lo, r
    cdef real uh = _two_prod_any(p0, x, &lo)
    cdef real zero = 0, inf = INF
    cdef real at_pinf = zero if p0 < 0 else inf
    cdef real at_minf = -zero if p0 > 0 else -inf
    r = fa_x_sigmoid_dd_f32(x, uh, lo) if real is float else fa_x_sigmoid_dd_f64(x, uh, lo)
    if x == inf:
        r = at_pinf
    if x == -inf:
        r = at_minf
    return r

cdef inline real swish_derivative(real x, real p0, real p1) noexcept nogil:
    # s + b x s (1 - s),  s = sigmoid(b x); b x = u + lo exactly, lo carried into e^-|u|
    # (dropped by its clamp where it is not finite)
    cdef real lo
    cdef real u = _two_prod_any(p0, x, &lo)
    cdef real r = fa_silu_derivative_dd_f32(u, lo) if real is float else fa_silu_derivative_dd_f64(u, lo)
    # the limits at x = +-inf: s(+-inf * b), i.e. 1, 1/2 or 0 by the sign of b
    cdef real one = 1, inf = INF
    cdef real lim_pos = (<real>0.5) + (<real>0.5) * ((p0 > 0) - (p0 < 0))
    if x == inf:
        r = lim_pos
    if x == -inf:
        r = one - lim_pos
    return r

# ----------------------------------------- quick_gelu (swish, beta = 1.702)
cdef inline float _quick_gelu_u_f32(float x, float *lo) noexcept nogil:
    """QUICK_GELU_BETA x = hi + *lo in float: hi = BETA_HI x rounded, *lo its FMA residual
    plus BETA_LO x (not finite where hi overflows: dropped by the clamp of e^-|u|)."""
    cdef float e
    cdef float hi = fa_two_prod_f32(QUICK_GELU_BETA_HI_F32, x, &e)
    lo[0] = e + QUICK_GELU_BETA_LO_F32 * x
    return hi

cdef inline real quick_gelu_forward(real x, real p0, real p1) noexcept nogil:
    # float32: swish's float path with the slope as a float pair; float64: swish
    cdef float lo, uh, r
    cdef float inf = INF
    if real is double:
        return swish_forward(x, QUICK_GELU_BETA, 0)
    else:
        uh = _quick_gelu_u_f32(x, &lo)  # before lo is read (C leaves argument order open)
        r = fa_x_sigmoid_dd_f32(x, uh, lo)
        if x == inf:
            r = inf
        if x == -inf:
            r = -0.0
        return r

cdef inline real quick_gelu_derivative(real x, real p0, real p1) noexcept nogil:
    # s + u s (1 - s), s = sigmoid(u), u = QUICK_GELU_BETA x (1 at +inf, 0 at -inf)
    cdef float lo, uh, r
    cdef float inf = INF
    if real is double:
        return swish_derivative(x, QUICK_GELU_BETA, 0)
    else:
        uh = _quick_gelu_u_f32(x, &lo)
        r = fa_silu_derivative_dd_f32(uh, lo)
        if x == inf:
            r = 1
        if x == -inf:
            r = 0
        return r

# ------------------------------------------------------- elu (p0 = alpha)
cdef inline real elu_forward(real x, real p0, real p1) noexcept nogil:
    return x if x > 0 else p0 * _expm1(x)

cdef inline real elu_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if x > 0 else p0 * _exp(x)

cdef inline real elu_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if y > 0 else y + p0

# -------------------------------------------------------------------- selu

cdef inline float _selu_scaled_f32(bint pos, float v) noexcept nogil:
    """scale v (pos) or scale alpha v, the constant a float pair: fma(hi, v, lo v), within
    a hair of one rounding; the selects go first, one FMA for every lane."""
    cdef float hi = SELU_SCALE_HI_F32 if pos else SELU_SCALE_ALPHA_HI_F32
    cdef float lo = SELU_SCALE_LO_F32 if pos else SELU_SCALE_ALPHA_LO_F32
    return fa__fma_f32(hi, v, lo * v)

cdef inline real selu_forward(real x, real p0, real p1) noexcept nogil:
    # scale x if x > 0 else scale alpha expm1(x)
    cdef bint pos = x > 0
    cdef real e = _expm1(x)
    if real is float:
        return _selu_scaled_f32(pos, x if pos else e)
    else:
        return SELU_SCALE * x if pos else SELU_SCALE_ALPHA * e

cdef inline real selu_derivative(real x, real p0, real p1) noexcept nogil:
    # scale if x > 0 else scale alpha exp(x)
    cdef bint pos = x > 0
    cdef real e = _exp(x)
    if real is float:
        return _selu_scaled_f32(pos, 1 if pos else e)
    else:
        return SELU_SCALE if pos else SELU_SCALE_ALPHA * e

cdef inline real selu_derivative_y(real y, real p0, real p1) noexcept nogil:
    return <real>SELU_SCALE if y > 0 else y + <real>SELU_SCALE_ALPHA

# ------------------------------------------------------ celu (p0 = alpha)
cdef inline real celu_forward(real x, real p0, real p1) noexcept nogil:
    return x if x > 0 else p0 * _expm1(x / p0)

cdef inline real celu_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if x > 0 else _exp(x / p0)

cdef inline real celu_derivative_y(real y, real p0, real p1) noexcept nogil:
    # y times 1 / alpha (one division a call, out of the loop), then + 1
    return 1 if y > 0 else y * (<real>1 / p0) + 1

# ------------------------------------- softplus (p0 = beta, p1 = threshold)
cdef inline real softplus_forward(real x, real p0, real p1) noexcept nogil:
    # log(1 + e^u) / beta, u = beta x carried exactly as a pair (uh, ul) of the array's type
    cdef real uu = x * p0
    cdef real ul
    cdef real uh = _two_prod(x, p0, &ul)
    cdef bint pos = uh > 0
    if real is double:
        return x if uu > p1 else (((uh if pos else 0.0) +
                                   fa_log1p_unit_f64(fa_exp_neg_abs_dd_f64(uh, ul))) / p0)
    else:
        # log1p on [0, 1]; u's low part joins the sum where u > 0
        return x if uu > p1 else ((uh if pos else 0) + ((ul if pos else 0) +
                                  fa_log1p_unit_f32(fa_exp_neg_abs_dd_f32(uh, ul)))) / p0

cdef inline real softplus_derivative(real x, real p0, real p1) noexcept nogil:
    # sigmoid(u), u = x * p0 rounded once in the array's type (the core clamps |u|), then the
    # threshold's select: no masked division, no clamp compares to combine
    cdef real u = x * p0
    cdef real s = fa_sigmoid_f32(u) if real is float else fa_sigmoid_f64(u)
    return 1 if u > p1 else s

# -------------------------------------------------------------------- mish
cdef inline real mish_forward(real x, real p0, real p1) noexcept nogil:
    # x tanh(log(1 + e^x)) in the array's type from one e^-|x| (fa_mish)
    return fa_mish_f32(x) if real is float else fa_mish_f64(x)

cdef inline real mish_derivative(real x, real p0, real p1) noexcept nogil:
    # t + x sigmoid(x) (1 - t^2),  t = tanh(softplus(x)), from the same e^-|x|
    cdef real r = fa_mish_derivative_f32(x) if real is float else fa_mish_derivative_f64(x)
    if x == -INF:  # the formula gives -0 at -inf
        r = 0
    return r

# ------------------------------------------------------------- hardsigmoid
cdef inline real hardsigmoid_forward(real x, real p0, real p1) noexcept nogil:
    # min(max(x + 3, 0), 6) / 6 in x's own type (typed constants: a bare 3 or 6 is a
    # double in Cython's C and would move float32 arithmetic to double)
    cdef real zero = 0, three = 3, six = 6
    cdef real v = x + three
    v = v if v > zero else zero
    v = v if v < six else six
    return v / six

cdef inline real hardsigmoid_derivative(real x, real p0, real p1) noexcept nogil:
    return <real>(1.0 / 6.0) if (x > -3) & (x < 3) else 0

cdef inline real hardsigmoid_derivative_y(real y, real p0, real p1) noexcept nogil:
    return <real>(1.0 / 6.0) if (y > 0) & (y < 1) else 0

# --------------------------------------------------------------- hardswish
cdef inline real hardswish_forward(real x, real p0, real p1) noexcept nogil:
    cdef real r = x * hardsigmoid_forward(x, p0, p1)
    if x == -INF:
        r = -0.0
    return r

cdef inline real hardswish_derivative(real x, real p0, real p1) noexcept nogil:
    # 0 at the kink x = -3 (PyTorch's autograd), (2x + 3)/6 up to 3 (1.5 at 3; 2x + 3
    # exact near the root -3/2), in x's own type
    cdef real zero = 0, one = 1, two = 2, three = 3, six = 6
    return zero if x <= -three else ((two * x + three) / six if x <= three else one)

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
        return (x if x < 0 else 0) - fa_log1p_unit_f32(fa_exp_neg_abs_f32(x))
    else:
        return (x if x < 0 else 0) - fa_log1p_unit_f64(fa_exp_neg_abs_f64(x))

cdef inline real logsigmoid_derivative(real x, real p0, real p1) noexcept nogil:
    if real is float:
        return fa_sigmoid_f32(-x)
    else:
        return fa_sigmoid_f64(-x)

cdef inline real logsigmoid_derivative_y(real y, real p0, real p1) noexcept nogil:
    return -_expm1(y)

# ---------------------------------------------------------------- softsign
cdef inline real softsign_forward(real x, real p0, real p1) noexcept nogil:
    # in x's own type: two roundings, <= 1.5 ULP; +-inf gives +-1 (not inf / inf)
    cdef real one = 1
    cdef real r = x / (one + _abs(x))
    if _abs(x) == INF:
        r = -one if x < 0 else one
    return r

cdef inline real softsign_derivative(real x, real p0, real p1) noexcept nogil:
    cdef double d = 1.0 + fa_abs_f64(x)
    return <real>(1.0 / (d * d))

cdef inline real softsign_derivative_y(real y, real p0, real p1) noexcept nogil:
    # (1 - |y|)^2 in y's own type (1 - |y| exact for |y| >= 1/2)
    cdef real one = 1
    cdef real d = one - _abs(y)
    return d * d

# -------------------------------------------------------------- tanhshrink
cdef inline real tanhshrink_forward(real x, real p0, real p1) noexcept nogil:
    # float32: the float32-precision series and exp, in float
    if real is float:
        return fa_tanhshrink_f32(x)
    else:
        return fa_tanhshrink_f64(x)

cdef inline real tanhshrink_derivative(real x, real p0, real p1) noexcept nogil:
    # tanh(x)^2 in x's own type (float32 tanh's few ULP stay within the derivative bar)
    cdef real t = fa_tanh_f32(x) if real is float else fa_tanh_f64(x)
    return t * t

# ---------------------------------------- threshold (p0 = threshold, p1 = value)
cdef inline real threshold_forward(real x, real p0, real p1) noexcept nogil:
    return x if x > p0 else p1

cdef inline real threshold_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if x > p0 else 0

# ------------------------------------------------------ hardshrink (p0 = lambd)
cdef inline real hardshrink_forward(real x, real p0, real p1) noexcept nogil:
    return x if _abs(x) > p0 else 0

cdef inline real hardshrink_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if _abs(x) > p0 else 0

cdef inline real hardshrink_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if y != 0 else 0

# ------------------------------------------------------ softshrink (p0 = lambd)
cdef inline real softshrink_forward(real x, real p0, real p1) noexcept nogil:
    return x - p0 if x > p0 else (x + p0 if x < -p0 else 0)

cdef inline real softshrink_derivative(real x, real p0, real p1) noexcept nogil:
    return 1 if _abs(x) > p0 else 0

cdef inline real softshrink_derivative_y(real y, real p0, real p1) noexcept nogil:
    return 1 if y != 0 else 0
