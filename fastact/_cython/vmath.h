/*
 * fastact/_cython/vmath.h -- branch-free, vectorizable elementary functions for the
 * Cython kernels (fastact/_kernels.pyx and fastact/_cython/softmax.pxi).
 *
 * Every function is `static inline`, uses only +, -, *, /, comparisons,
 * selects (?:) and integer bit manipulation of the IEEE representation, so
 * gcc/clang vectorize loops calling them (-O3, or `#pragma omp simd`) without
 * -ffast-math.  NaN propagates, +-inf give the limits, -0.0 keeps its sign,
 * subnormal inputs and results are handled.  Compile with -ffp-contract=off
 * (setup.py does): results are then bitwise identical in the vector body and
 * in the scalar remainder of a loop, hence for any thread count.
 * Constants and coefficients: fa_constants.h, rendered by setup.py from
 * fastact/_constants.py (the Numba backend reads the same module).
 *
 * fa_bits_f64/_f32, fa_from_bits_f64/_f32: the IEEE bits of a double / float and back.
 * For T = double (suffix _f64) and T = float (_f32), written once in vmath_real.h:
 *   fa_abs, fa_copysign, fa_two_prod, fa_exp, fa_exp_dd, fa_exp_split_dd,
 *   fa_exp_split_sum, fa_expm1, fa_tanh, fa_sigmoid, fa_log1p  (contracts there)
 * In double only:
 *   fa_gelu_f64(x)             x Phi(x), <= 2 ULP, one rounding near underflow (Phi(-y) =
 *                              e^(-y^2/2) t F(t), t = c/(c + y): tools/fit/normcdf_f64.py)
 *   fa_gelu_derivative_f64(x)  Phi(x) + x phi(x) from the same parts, one rounding near underflow
 *   fa_log1p_unit_f64(e)       log1p(e) for 0 <= e <= 1, < 1 ULP, one division
 * In float only (Phi(-|x|) = e^(-x^2/2) R(|x|), R fitted: tools/fit/normcdf_f32.py):
 *   fa_gelu_f32(x)             x Phi(x), <= 4 ULP (measured max: docs/tuning.md)
 *   fa_gelu_derivative_f32(x)  Phi(x) + x phi(x), from the same parts
 *   fa_log1p_unit_f32(e)       log1p(e) for 0 <= e <= 1, <= 2 ULP (softplus, logsigmoid)
 *   fa_tanhshrink_f64(x), fa_tanhshrink_f32(x)  x - tanh(x), no cancellation
 * Phi and tanhshrink are the algorithms of the Numba backend (fastact/_numba/_vmath.py)
 * too; the tanhshrink series is fitted by tools/fit/chebyshev.py.
 */
#ifndef FASTACT_VMATH_H
#define FASTACT_VMATH_H

#include <stdint.h>
#include <string.h>

#include "fa_constants.h"

#if defined(_MSC_VER) && !defined(__clang__)
#define FA_INLINE static __inline
#else
#define FA_INLINE static inline __attribute__((always_inline))
#endif
/* unroll a loop of constant trip count completely (GCC stops at 16 iterations by
 * default, and a loop left inside a kernel's loop keeps that one from vectorizing) */
#if defined(__GNUC__) || defined(__clang__)
#define FA_UNROLL _Pragma("GCC unroll 64")
#else
#define FA_UNROLL
#endif

/* ------------------------------------------------------------ bit casts */
FA_INLINE uint64_t fa_bits_f64(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
FA_INLINE double fa_from_bits_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
FA_INLINE uint32_t fa_bits_f32(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
FA_INLINE float fa_from_bits_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/* ------------------------------------------- the type-generic functions */
/* per type: the integers of its width and the builtins vmath_real.h names by suffix */
typedef uint64_t fa_uint_f64;
typedef int64_t fa_int_f64;
typedef uint32_t fa_uint_f32;
typedef int32_t fa_int_f32;
#define fa__builtin_copysign_f64 __builtin_copysign
#define fa__builtin_copysign_f32 __builtin_copysignf
#define fa__builtin_fma_f64 __builtin_fma
#define fa__builtin_fma_f32 __builtin_fmaf

#define FA_T double
#define FA_S(name) name##_f64
#define FA_K(name) FA_##name
#include "vmath_real.h"

#define FA_T float
#define FA_S(name) name##_f32
#define FA_K(name) FA_##name##_F32
#include "vmath_real.h"

#define FA_N_TERMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ------------------------------------------------- normal distribution */
/* a*b + c for the float32 gelu: one rounding in the FMA builds (x86-64-v3, v4: they agree
 * bit for bit), two in the others (which meet the same ULP bars) */
#if defined(__FMA__) || defined(__AVX512F__)
#define FA_GELU_FMA_F32(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define FA_GELU_FMA_F32(a, b, c) ((a) * (b) + (c))
#endif

/* Phi (float64): Phi(-y) = e^(-y^2/2) t F(t), t = c/(c + y), F one fitted polynomial
 * (tools/fit/normcdf_f64.py); float32: e^(-y^2/2) R(y) with R two fitted float polynomials;
 * the coefficients and ranges are in fastact/_constants.py. */
static const double fa__normcdf_mills[] = FA_NORMCDF_MILLS;
static const float fa__normcdf_near_f32[] = FA_NORMCDF_NEAR_F32;
static const float fa__normcdf_far_f32[] = FA_NORMCDF_FAR_F32;

/* c[0] r^(n-1) + ... + c[n-1], n >= 2, by second-order Horner: the powers of one parity in
 * r^2 each (two independent FMA chains of half the length), then one or two FMAs */
FA_INLINE double fa__horner2_f64(const double *c, int n, double r) {
    double s = r * r;
    double qa = c[0], qb = c[1];
    int i = 2;
    FA_UNROLL
    for (; i + 1 < n; i += 2) {
        qa = fa__fma_f64(qa, s, c[i]);
        qb = fa__fma_f64(qb, s, c[i + 1]);
    }
    double q = fa__fma_f64(qa, r, qb);
    return i < n ? fa__fma_f64(q, r, c[i]) : q;
}

/* c[0] r^(n-1) + ... + c[n-1] = hi + *lo for |r| <= ~1/2: second-order Horner, the last
 * `steps` steps in double-double (exact products by fa_two_prod, two-sums) */
FA_INLINE double fa__horner_dd_f64(const double *c, int n, int steps, double r, double *lo) {
    double q = fa__horner2_f64(c, n - steps, r);
    double ql = 0.0;
    FA_UNROLL
    for (int i = n - steps; i < n; i++) {
        double pl;
        double p = fa_two_prod_f64(q, r, &pl);
        double s = p + c[i];
        double bb = s - p;
        ql = (pl + ql * r) + ((p - (s - bb)) + (c[i] - bb));
        q = s;
    }
    *lo = ql;
    return q;
}

/* R(y) = Phi(-y) e^(y^2/2) = hi + *lo for 0 <= y <= NORMCDF_ARG_MAX, to ~1 eps relative:
 * t F(t), t = c/(c + y) rounded (c + y = d + dl exactly), F a polynomial in u = t - T_SHIFT;
 * the roundings of t and u move the point to y(t'), t' = u + T_SHIFT (exact), and
 * y(t') - y = (r - t' dl) d / c with r = c - t' d exact, which R'(y) = y R - 1/sqrt(2 pi)
 * takes back to first order */
FA_INLINE double fa__mills_f64(double y, double *lo) {
    const double c = FA_NORMCDF_MILLS_T_SCALE;
    double d = c + y;
    double bb = d - y;
    double dl = (y - (d - bb)) + (c - bb);
    double u = c / d - FA_NORMCDF_MILLS_T_SHIFT;
    double t = u + FA_NORMCDF_MILLS_T_SHIFT;
    double fl;
    double fh = fa__horner_dd_f64(fa__normcdf_mills, FA_N_TERMS(fa__normcdf_mills),
                                  FA_NORMCDF_MILLS_DD_STEPS, u, &fl);
    double rl;
    double rh = fa_two_prod_f64(t, fh, &rl);
    double dy = (fa__fma_f64(-t, d, c) - t * dl) * d * FA_NORMCDF_MILLS_INV_T_SCALE;
    *lo = rl + t * (fl + FA_NORMCDF_MILLS_LO) + (FA_INV_SQRT_2PI - y * rh) * dy;
    return rh;
}

/* (a + al) e^(-y^2/2) for 0 <= y <= NORMCDF_ARG_MAX, |al| <= ulp(a): y^2 split exactly,
 * a + al applied before the second of the two normal factors of 2^k (one rounding where the
 * result is subnormal), a * 0 where e^(-y^2/2) underflows */
FA_INLINE double fa__mul_exp_neg_half_sq_f64(double y, double a, double al) {
    double pl;
    double h = -0.5 * fa_two_prod_f64(y, y, &pl);
    double hc = h < FA_EXP_ARG_MIN ? FA_EXP_ARG_MIN : h;
    double k, s2;
    int64_t ki;
    double r = fa__exp_reduce_dd_f64(hc, -0.5 * pl, &k, &ki);
    double e = fa__expm1_poly_f64(r);
    double s1 = fa__scale_split_f64(0.0, ki, &s2);  /* 2^k = s1 s2 */
    double v = ((a + fa__fma_f64(a, e, al + al * e)) * s1) * s2;
    return h < FA_EXP_ARG_MIN ? a * 0.0 : v;
}

/* gelu(x) = x Phi(x) for finite x, <= 2 ULP: x Phi(-|x|) = (x R(|x|)) e^(-x^2/2), the product
 * in double-double up to the exponential, rounded once where it is subnormal (the sign of
 * x fixes a zero); x - x Phi(-x) for x > 0; NaN passes; -inf gives -0, +inf gives +inf */
FA_INLINE double fa_gelu_f64(double x) {
    double y = fa_abs_f64(x);
    y = y > FA_NORMCDF_ARG_MAX ? FA_NORMCDF_ARG_MAX : y;  /* NaN passes */
    double rl;
    double rh = fa__mills_f64(y, &rl);
    double al;
    double a = fa_two_prod_f64(x, rh, &al);
    double t = fa__mul_exp_neg_half_sq_f64(y, a, al + x * rl);
    t = fa_abs_f64(x) > FA_NORMCDF_ARG_MAX ? 0.0 : t;  /* no inf * 0 */
    return x > 0.0 ? x - t : fa_copysign_f64(t, x);
}

/* gelu'(x) = Phi(x) + x phi(x) for any x: with a = (y/sqrt(2 pi) - R(y)) e^(-y^2/2), y = |x|
 * (the difference in double-double), -a for x < 0, rounded once where it is subnormal,
 * 1 + a above; +-inf give 1, 0 */
FA_INLINE double fa_gelu_derivative_f64(double x) {
    double y = fa_abs_f64(x);
    y = y > FA_NORMCDF_ARG_MAX ? FA_NORMCDF_ARG_MAX : y;  /* NaN passes */
    double rl, cl;
    double rh = fa__mills_f64(y, &rl);
    double ch = fa_two_prod_f64(y, FA_INV_SQRT_2PI, &cl);
    double dh = ch - rh;
    double bb = dh - ch;
    double dl = ((ch - (dh - bb)) - (rh + bb)) + ((cl + y * FA_INV_SQRT_2PI_LO) - rl);
    double a = fa__mul_exp_neg_half_sq_f64(y, dh, dl);
    double r = x < 0.0 ? -a : 1.0 + a;
    return x == -__builtin_inf() ? 0.0 : r;
}

static const float fa__normcdf_exp_q_f32[] = FA_NORMCDF_EXP_Q_F32;

/* c[0] r^(n-1) + ... + c[n-1] by Horner with FA_GELU_FMA_F32 */
FA_INLINE float fa__horner_fma_f32(const float *c, int n, float r) {
    float q = c[0];
    FA_UNROLL
    for (int i = 1; i < n; i++) q = FA_GELU_FMA_F32(q, r, c[i]);
    return q;
}

/* m e^(-(p + lo)/2) in float for 0 <= p <= NORMCDF_ARG_MAX_F32^2, |lo| <= ulp(p), |m| <= 8:
 * -lo/2 joins the reduced argument r; with k = round(-p/(2 ln2)) >= -190, 2^(k + BIAS) is
 * normal, built from the bits of the rounding sum, and the result
 * (m 2^(k+BIAS) + m 2^(k+BIAS) expm1(r)) 2^-BIAS is rounded once where it is subnormal */
FA_INLINE float fa__mul_exp_neg_half_f32(float m, float p, float lo) {
    float h = -0.5f * p;
    float t = FA_GELU_FMA_F32(h, FA_LOG2E_F32, FA_NORMCDF_EXP_SHIFT_F32);   /* SHIFT + k */
    float k = t - FA_NORMCDF_EXP_SHIFT_F32;
    float r = FA_GELU_FMA_F32(k, -FA_LN2_HI_F32, h);                   /* exact */
    r = FA_GELU_FMA_F32(k, -FA_LN2_LO_F32, r);
    r = FA_GELU_FMA_F32(lo, -0.5f, r);
    float q = fa__horner_fma_f32(fa__normcdf_exp_q_f32, FA_N_TERMS(fa__normcdf_exp_q_f32), r);
    float e = FA_GELU_FMA_F32(r * r, q, r);
    /* the low 9 bits of bits(t) are k + EXP_BIAS + BIAS (in [1, 254]): 2^(k+BIAS) */
    uint32_t sb = fa_bits_f32(t) << FA_MANT_BITS_F32;
    float ms = m * fa_from_bits_f32(sb);
    return FA_GELU_FMA_F32(ms, e, ms) * FA_NORMCDF_EXP_UNSCALE_F32;
}

/* The AVX-512 builds' R(y) for 0 <= y <= NORMCDF_ARG_MAX_F32: P_k(s) from the interval
 * table, k = round(y / STEP) from the low bits of the rounding sum, s = y - k STEP (exact);
 * gelu_avx512.h picks the coefficients of 16 lanes by permutes, with these operations */
#if defined(__AVX512F__)
#define FA_NORMCDF_BY_TABLE 1
static const float fa__normcdf_table_f32[] __attribute__((aligned(64))) = FA_NORMCDF_TABLE_F32;

FA_INLINE float fa__normcdf_table_r_f32(float y) {
    float t = FA_GELU_FMA_F32(y, FA_NORMCDF_TABLE_INV_STEP_F32, FA_ROUND_SHIFT_F32);
    float s = FA_GELU_FMA_F32(t - FA_ROUND_SHIFT_F32, -FA_NORMCDF_TABLE_STEP_F32, y);
    const float *c = fa__normcdf_table_f32 + (fa_bits_f32(t) & (FA_NORMCDF_TABLE_ENTRIES - 1));
    float q = c[0];
    FA_UNROLL
    for (int j = 1; j <= FA_NORMCDF_TABLE_DEGREE; j++)
        q = FA_GELU_FMA_F32(q, s, c[j * FA_NORMCDF_TABLE_ENTRIES]);
    return q;
}
#else
#define FA_NORMCDF_BY_TABLE 0
#endif

/* The float32 gelu parts for x finite or infinite, y = |x| clamped to NORMCDF_ARG_MAX_F32,
 * R(y) = Phi(-y) e^(y^2/2): *xr = x R(y), returns y/sqrt(2 pi) - R(y); y^2 = *p + *lo
 * exactly.  R from the table (AVX-512 builds: *xr = copysign(y, x) R), else the near
 * polynomial in y - 1 or v F(v^2), v = 1/y, both evaluated, then a select; in the far range
 * x R = -+F(v^2) exactly (x v = -+1), v^2 taken as 1/(*p). */
FA_INLINE float fa__gelu_parts_f32(float x, float *xr, float *p, float *lo) {
    /* min(|x|, ARG_MAX) on the bits (non-negative floats order as their bits); NaN gives
     * ARG_MAX, and the callers' x carries it */
    uint32_t yb = fa_bits_f32(x) & 0x7fffffffu, yb_max = fa_bits_f32(FA_NORMCDF_ARG_MAX_F32);
    float y = fa_from_bits_f32(yb < yb_max ? yb : yb_max);
#if FA_NORMCDF_BY_TABLE
    float r = fa__normcdf_table_r_f32(y);
    *p = fa_two_prod_f32(y, y, lo);
    *xr = fa_from_bits_f32(fa_bits_f32(y) | (fa_bits_f32(x) & 0x80000000u)) * r;
    return y * (float)FA_INV_SQRT_2PI - r;
#else
    float near = fa__horner_fma_f32(fa__normcdf_near_f32, FA_N_TERMS(fa__normcdf_near_f32),
                                    y - FA_NORMCDF_NEAR_SHIFT_F32);
    int is_near = y <= FA_NORMCDF_NEAR_MAX_F32;
    *p = fa_two_prod_f32(y, y, lo);
    float w = 1.0f / *p;                                    /* v^2, used where y > NEAR_MAX */
    float q = fa__horner_fma_f32(fa__normcdf_far_f32, FA_N_TERMS(fa__normcdf_far_f32), w);
    *xr = is_near ? x * near : fa_copysign_f32(q, x);
    return y * (float)FA_INV_SQRT_2PI - (is_near ? near : (y * w) * q);
#endif
}

/* gelu(x) = x Phi(x) in float arithmetic: x Phi(-|x|) = x R e^(-x^2/2), rounded once where
 * it is subnormal; x - x Phi(-x) for x > 0; +-0 kept, -inf gives -0 (the clamped y
 * underflows), +inf gives +inf */
FA_INLINE float fa_gelu_f32(float x) {
    float xr, p, lo;
    fa__gelu_parts_f32(x, &xr, &p, &lo);
    float t = fa__mul_exp_neg_half_f32(xr, p, lo);
    return x <= 0.0f ? t : x - t;
}

/* gelu'(x) = Phi(x) + x phi(x) in float arithmetic: with a = (y/sqrt(2 pi) - R(y)) e^(-y^2/2),
 * y = |x|, -a for x < 0 (rounded once where subnormal), 1 + a above; +-inf give 1, 0 */
FA_INLINE float fa_gelu_derivative_f32(float x) {
    float xr, p, lo;
    float c = fa__gelu_parts_f32(x, &xr, &p, &lo);
    float a = fa__mul_exp_neg_half_f32(c, p, lo);
    float d = x < 0.0f ? -a : 1.0f + a;
    return x > -__builtin_inff() ? d : (x == x ? 0.0f : x);
}

/* ------------------------------------------------ log1p on [0, 1] (float) */
static const float fa__log1p_cephes_f32[] = FA_LOG1P_CEPHES_F32;

/* log1p(e) in float for 0 <= e <= 1 (softplus, logsigmoid), <= 2 ULP: u = 1 + e = 2^k (1 + f),
 * k in {0, 1}, f exact; log(1 + f) = f - f^2/2 + f^3 P(f) (Cephes' logf polynomial), plus u's
 * rounding error c = e - (u - 1) (exact) as c/u.  The Numba backend's log1p_unit_f32n. */
FA_INLINE float fa_log1p_unit_f32(float e) {
    float u = 1.0f + e;
    float c = e - (u - 1.0f);
    int big = u > FA_SQRT2_F32;
    float f = big ? u * 0.5f - 1.0f : u - 1.0f;
    float kf = big ? 1.0f : 0.0f;
    float z = f * f;
    float q = fa__horner_f32(fa__log1p_cephes_f32, FA_N_TERMS(fa__log1p_cephes_f32), f);
    float y = ((f * z) * q + (kf * FA_LN2_LO_F32 + c / u)) - 0.5f * z;
    return kf * FA_LN2_HI_F32 + (f + y);
}

/* log1p(e) in double for 0 <= e <= 1 (softplus, logsigmoid), < 1 ULP, one division: 1 + e =
 * 2^k (1 + f) with f = e (k = 0) or, above LOG1P_UNIT_SPLIT, f = (e - 1)/2 exactly but for the
 * rounding error c of e - 1, added as c * C_WEIGHT (~c/(1 + e): |c| < 2^-54 there, an error
 * < 0.05 ULP); log(1 + f) as in fa_log1p_f64 (|f/(2 + f)| <= 0.1716) */
FA_INLINE double fa_log1p_unit_f64(double e) {
    int big = e > FA_LOG1P_UNIT_SPLIT;
    double d = e - 1.0;
    double c = e - (d + 1.0);
    double f = big ? 0.5 * d : e;
    double kf = big ? 1.0 : 0.0;
    return kf * FA_LN2_HI + (fa__log_reduced_f64(f) + kf * (FA_LN2_LO + c * FA_LOG1P_UNIT_C_WEIGHT));
}

/* ----------------------------------------------------------- tanhshrink */
/* x - tanh x: x^3 g(x^2) for |x| < 1 (g a polynomial in w = x^2: TANHSHRINK_W, or
 * TANHSHRINK_W_LP_F32 for float32 results), else (|x| - 1) + 2 / (e^(2|x|) + 1) */
static const double fa__tanhshrink_w[] = FA_TANHSHRINK_W;

FA_INLINE double fa_tanhshrink_f64(double x) {
    double a = fa_abs_f64(x);
    double w = a < 1.0 ? a * a : 1.0;
    double g = fa__horner_f64(fa__tanhshrink_w, FA_N_TERMS(fa__tanhshrink_w), w);
    double e = fa_exp_f64(a + a);
    double r = a < 1.0 ? a * w * g : (a - 1.0) + 2.0 / (e + 1.0);
    return fa_copysign_f64(r, x);
}

static const float fa__tanhshrink_w_f32[] = FA_TANHSHRINK_W_LP_F32;

/* x - tanh x in float, the same two forms: x^3 g(x^2) (FMA Horner) below |x| = 1, else
 * (|x| - 1) + 2e / (1 + e), e = e^-2|x| from the sigmoid family's core (>= 0.238: no
 * cancellation) */
FA_INLINE float fa_tanhshrink_f32(float x) {
    float a = fa_abs_f32(x);
    float w = a < 1.0f ? a * a : 1.0f;
    float g = fa__horner_f32(fa__tanhshrink_w_f32, FA_N_TERMS(fa__tanhshrink_w_f32), w);
    float t, e;
    fa__sigmoid_exp_f32(a + a, &t, &e);
    float r = a < 1.0f ? (a * w) * g : (a - 1.0f) + (e + e) / (1.0f + e);
    return fa_copysign_f32(r, x);
}

#undef FA_N_TERMS
#endif /* FASTACT_VMATH_H */
