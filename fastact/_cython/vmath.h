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
 * For T = double (suffix _f64) and T = float (_f32), written once in vmath_real.h:
 *   fa_bits, fa_from_bits, fa_abs, fa_copysign, fa_two_prod, fa_exp, fa_exp_dd,
 *   fa_exp_split_dd, fa_expm1, fa_tanh, fa_sigmoid, fa_log1p  (contracts there)
 * In double only:
 *   fa_exp_lp_f64(x)           e^x to ~1e-11 relative (for float32 results)
 *   fa_normcdf_f64(x)          Phi(x), the standard normal CDF, <= ~2 ULP
 *   fa_x_normcdf_f64(x)        x Phi(x) (gelu), one rounding near underflow
 *   fa_normpdf_f64(x)          e^(-x^2/2) / sqrt(2 pi)
 *   fa_x_normcdf_lp_f64(x), fa_gelu_derivative_lp_f64(x)  gelu and gelu' for
 *                              float32 results (~1e-9 relative before rounding)
 *   fa_tanhshrink_f64(x), fa_tanhshrink_lp_f64(x)  x - tanh(x), no cancellation
 * Phi and tanhshrink use the algorithms of the Numba backend (fastact/_numba/_vmath.py)
 * with the coefficients fitted by tools/fit/chebyshev.py.
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

/* ------------------------------------------------ float32-precision exp */
static const double fa__expm1_taylor_lp_f64[] = FA_EXPM1_TAYLOR_LP;

/* e^x to ~1e-11 relative (Taylor to r^9): for results rounded to float32 */
FA_INLINE double fa_exp_lp_f64(double x) {
    double xc = x < FA_EXP_ARG_MIN ? FA_EXP_ARG_MIN : x;
    xc = xc > FA_EXP_ARG_MAX ? FA_EXP_ARG_MAX : xc;
    double k, scale;
    int64_t ki;
    double r = fa__exp_reduce_f64(xc, 0.0, &k, &ki);
    double p = r + (r * r) * fa__horner_f64(fa__expm1_taylor_lp_f64,
                                            FA_N_TERMS(fa__expm1_taylor_lp_f64), r);
    double m = fa__scale_split_f64(p, ki, &scale);
    return m * scale;
}

/* ------------------------------------------------- normal distribution */
/* Phi(-a) = erfc(z)/2, z = a/sqrt(2), erfc(z) = erfcx(z) e^(-z^2), erfcx(z) = t h(t),
 * t = 2/(2 + z), h a Chebyshev series in s = 2t - 1 (ERFCX_T; the first
 * ERFCX_T_LP_TERMS terms for float32 results). */
static const double fa__erfcx_t[] = FA_ERFCX_T;

/* sum c_k T_k(s), k < n, by Clenshaw's recurrence */
FA_INLINE double fa__chebyshev_f64(const double *c, int n, double s) {
    double s2 = s + s, b1 = 0.0, b2 = 0.0;
    FA_UNROLL
    for (int k = n - 1; k >= 1; k--) {
        double b = c[k] + s2 * b1 - b2;
        b2 = b1;
        b1 = b;
    }
    return c[0] + s * b1 - b2;
}

/* erfcx(a/sqrt 2)/2 for a = |x|: t h(t)/2, with the rounding d of z, 2 + z and t
 * (d = ((2 + z) t - 2) / t, exact residuals) put back to first order:
 * erfcx(z) = erfcx(z_t) (1 + (2z - 2/(sqrt(pi) erfcx(z_t))) d). */
FA_INLINE double fa__half_erfcx_f64(double a) {
    double ac = a < FA_NORMCDF_ARG_MAX ? a : FA_NORMCDF_ARG_MAX;  /* keeps d finite */
    double zl, tl;
    double z = fa_two_prod_f64(ac, FA_INV_SQRT2, &zl);
    double dz = zl + ac * FA_INV_SQRT2_LO;                         /* z_true - z */
    double w = 2.0 + z;
    double ew = (2.0 - w) + z;                                     /* 2 + z - w, exact */
    double t = 2.0 / w;
    double tw = fa_two_prod_f64(t, w, &tl);
    double rho = ((tw - 2.0) + tl) + t * (ew + dz);                /* (2 + z_true) t - 2 */
    double e = t * fa__chebyshev_f64(fa__erfcx_t, FA_N_TERMS(fa__erfcx_t), t + t - 1.0);
    e = e + e * ((2.0 * z - FA_TWO_OVER_SQRT_PI / e) * (rho / t));
    return 0.5 * e;
}

/* e^(-y^2/2) = m * (*scale) for y >= 0, y^2 carried exactly as p + lo */
FA_INLINE double fa__exp_neg_half_sq_split_f64(double y, double *scale) {
    double yc = y > FA_NORMCDF_ARG_MAX ? FA_NORMCDF_ARG_MAX : y;   /* e^-800 = 0 */
    double lo;
    double p = fa_two_prod_f64(yc, yc, &lo);
    return fa_exp_split_dd_f64(-0.5 * p, -0.5 * lo, scale);
}

/* Phi(-|x|) = (returned tail) * (*scale), both normal where Phi(-|x|) is not */
FA_INLINE double fa__normcdf_lower_split_f64(double x, double *scale) {
    double a = fa_abs_f64(x);
    return fa__half_erfcx_f64(a) * fa__exp_neg_half_sq_split_f64(a, scale);
}

FA_INLINE double fa_normcdf_f64(double x) {
    double scale;
    double lower = fa__normcdf_lower_split_f64(x, &scale) * scale;
    double phi = x < 0.0 ? lower : 1.0 - lower;
    return x != x ? x : phi;
}

/* x * Phi(x) with a single rounding where Phi(x) would be subnormal (gelu) */
FA_INLINE double fa_x_normcdf_f64(double x) {
    double scale;
    double tail = fa__normcdf_lower_split_f64(x, &scale);
    double r = x < 0.0 ? (x * tail) * scale : x * (1.0 - tail * scale);
    return x == -__builtin_inf() ? -0.0 : r;
}

/* the standard normal density phi(x) = e^(-x^2/2) / sqrt(2 pi) */
FA_INLINE double fa_normpdf_f64(double x) {
    double scale;
    double m = fa__exp_neg_half_sq_split_f64(fa_abs_f64(x), &scale);
    return (m * FA_INV_SQRT_2PI) * scale;
}

/* (Phi(-|x|), e^(-x^2/2)) for float32 results: the short series, a plain x^2 */
FA_INLINE double fa__normcdf_lower_lp_f64(double x, double *gauss) {
    double a = fa_abs_f64(x);
    a = a < FA_NORMCDF_ARG_MAX ? a : FA_NORMCDF_ARG_MAX;
    double t = 2.0 / (2.0 + a * FA_INV_SQRT2);
    *gauss = fa_exp_lp_f64(-0.5 * (a * a));
    return 0.5 * t * fa__chebyshev_f64(fa__erfcx_t, FA_ERFCX_T_LP_TERMS, t + t - 1.0) * *gauss;
}

/* x Phi(x) for float32 results (gelu forward) */
FA_INLINE double fa_x_normcdf_lp_f64(double x) {
    double gauss;
    double lower = fa__normcdf_lower_lp_f64(x, &gauss);
    double r = x * (x < 0.0 ? lower : 1.0 - lower);
    return x == -__builtin_inf() ? -0.0 : r;
}

/* Phi(x) + x phi(x) for float32 results (gelu'; +-inf give 1, 0) */
FA_INLINE double fa_gelu_derivative_lp_f64(double x) {
    double gauss;
    double lower = fa__normcdf_lower_lp_f64(x, &gauss);
    double r = (x < 0.0 ? lower : 1.0 - lower) + x * (FA_INV_SQRT_2PI * gauss);
    r = x == __builtin_inf() ? 1.0 : r;
    return x == -__builtin_inf() ? 0.0 : r;
}

/* ----------------------------------------------------------- tanhshrink */
/* x - tanh x: x^3 g(x^2) for |x| < 1 (g a polynomial in w = x^2: TANHSHRINK_W, or
 * TANHSHRINK_W_LP for float32 results), else (|x| - 1) + 2 / (e^(2|x|) + 1) */
static const double fa__tanhshrink_w[] = FA_TANHSHRINK_W;
static const double fa__tanhshrink_w_lp[] = FA_TANHSHRINK_W_LP;

FA_INLINE double fa__tanhshrink_any_f64(double x, int lp) {
    double a = fa_abs_f64(x);
    double w = a < 1.0 ? a * a : 1.0;
    double g = lp ? fa__horner_f64(fa__tanhshrink_w_lp, FA_N_TERMS(fa__tanhshrink_w_lp), w)
                  : fa__horner_f64(fa__tanhshrink_w, FA_N_TERMS(fa__tanhshrink_w), w);
    double e = lp ? fa_exp_lp_f64(a + a) : fa_exp_f64(a + a);
    double r = a < 1.0 ? a * w * g : (a - 1.0) + 2.0 / (e + 1.0);
    return fa_copysign_f64(r, x);
}

FA_INLINE double fa_tanhshrink_f64(double x) { return fa__tanhshrink_any_f64(x, 0); }
FA_INLINE double fa_tanhshrink_lp_f64(double x) { return fa__tanhshrink_any_f64(x, 1); }

#undef FA_N_TERMS
#endif /* FASTACT_VMATH_H */
