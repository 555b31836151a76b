/*
 * fastact/_vmath.h -- branch-free, vectorizable elementary functions for the
 * Cython kernels (fastact/_kernels.pyx and fastact/_softmax.pxi).
 *
 * Every function is `static inline`, uses only +, -, *, /, comparisons,
 * selects (?:) and integer bit manipulation of the IEEE representation, so
 * gcc/clang vectorize loops calling them (-O3, or `#pragma omp simd`) without
 * -ffast-math.  NaN propagates, +-inf give the limits, -0.0 keeps its sign,
 * subnormal inputs and results are handled.  Compile with -ffp-contract=off
 * (setup.py does): results are then bitwise identical in the vector body and
 * in the scalar remainder of a loop, hence for any thread count.
 *
 * Names (f64: double in/out, f32: float in/out):
 *   fa_exp_f64(x)            e^x, < 1 ULP over the whole range
 *   fa_exp_dd_f64(hi, lo)    e^(hi + lo) for an argument carried as a
 *                            double-double (|lo| <= ulp(hi)); hi may be +-inf
 *   fa_expm1_f64(x)          e^x - 1, accurate near 0
 *   fa_log_f64(x)            natural log (x <= 0, subnormal x handled)
 *   fa_log1p_f64(x)          log(1 + x), accurate near 0
 *   fa_tanh_f64(x)           tanh(x)
 *   fa_sigmoid_f64(x)        1 / (1 + e^-x), no overflow
 *   fa_sigmoid_dd_f64(hi,lo) sigmoid of a double-double argument
 *   fa_two_prod_f64(a, b, &lo) a*b rounded, *lo = the exact rounding error
 *   fa_exp_split_dd_f64(hi, lo, &scale)  e^(hi+lo) = result * scale, both normal
 *   fa_normcdf_f64(x)        Phi(x), the standard normal CDF (Cody's rational
 *                            approximations, exact x^2 split in the tails)
 *   fa_x_normcdf_f64(x)      x * Phi(x) (gelu), one rounding near underflow
 *   fa_normpdf_f64(x)        e^(-x^2/2) / sqrt(2 pi)
 *   fa_exp_f32(x)            e^x in float arithmetic, < 1 ULP (float)
 *   fa_exp_split_dd_f32(hi, lo, &scale)   float analogue of the f64 one
 *   fa_expm1_f32, fa_tanh_f32, fa_sigmoid_f32: in float arithmetic (16 lanes
 *                            per AVX-512 vector), <= 3 ULP (float)
 *   fa_log_f32, fa_log1p_f32: through the f64 versions
 *   fa_normcdf_lp_f64(x)     Phi(x) to ~1e-7 relative (for float32 results)
 *   fa_exp_lp_f64(x)         e^x to ~2e-10 relative (for float32 results)
 *   fa_two_prod_f32(a, b, &lo) float analogue of fa_two_prod_f64
 *   fa_exp_split_sum_f32(hi, lo, &scale)  e^(hi+lo) = result * scale, |lo| <= ~2
 *   fa_normcdf_lower_split_f32(y, &scale) Phi(-y) = result * scale in float
 *   fa_gelu_derivative_f32(x) Phi(x) + x phi(x) in float arithmetic
 */
#ifndef FASTACT_VMATH_H
#define FASTACT_VMATH_H

#include <stdint.h>
#include <string.h>

#if defined(_MSC_VER) && !defined(__clang__)
#define FA_INLINE static __inline
#else
#define FA_INLINE static inline __attribute__((always_inline))
#endif

/* ------------------------------------------------------------ bit casts */
FA_INLINE uint64_t fa_bits_f64(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
FA_INLINE double fa_from_bits_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
FA_INLINE uint32_t fa_bits_f32(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
FA_INLINE float fa_from_bits_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

FA_INLINE double fa_abs_f64(double x) { return fa_from_bits_f64(fa_bits_f64(x) & 0x7fffffffffffffffULL); }
/* |mag| with the sign bit of sgn.  GCC/Clang: the builtin (same bits), which
 * GCC still vectorizes for SSE2 inside an if-converted branch, where the bit
 * version left tanh(x)-based loops of the x86-64 baseline build scalar. */
#if defined(__GNUC__) || defined(__clang__)
FA_INLINE double fa_copysign_f64(double mag, double sgn) { return __builtin_copysign(mag, sgn); }
#else
FA_INLINE double fa_copysign_f64(double mag, double sgn) {
    return fa_from_bits_f64((fa_bits_f64(mag) & 0x7fffffffffffffffULL) |
                            (fa_bits_f64(sgn) & 0x8000000000000000ULL));
}
#endif
FA_INLINE float fa_abs_f32(float x) { return fa_from_bits_f32(fa_bits_f32(x) & 0x7fffffffU); }

/* a*b = hi + lo exactly (Dekker/Veltkamp; an fma where the target has one). */
FA_INLINE double fa_two_prod_f64(double a, double b, double *lo) {
    double p = a * b;
#if defined(__FMA__) || defined(__AVX512F__)
    *lo = __builtin_fma(a, b, -p);
#else
    const double split = 134217729.0; /* 2^27 + 1 */
    double ca = split * a, cb = split * b;
    double ah = ca - (ca - a), al = a - ah;
    double bh = cb - (cb - b), bl = b - bh;
    *lo = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
#endif
    return p;
}

/* ------------------------------------------------------------------ exp */
#define FA_LOG2E 1.4426950408889634074
#define FA_LN2_HI 6.93147180369123816490e-01 /* 33 significant bits: k*LN2_HI exact */
#define FA_LN2_LO 1.90821492927058770002e-10
#define FA_SHIFT52 6755399441055744.0 /* 1.5 * 2^52: adding it rounds to an integer */

/* e^r - 1 for |r| <= 0.35 (Taylor to r^13: truncation < 5e-18 relative). */
FA_INLINE double fa__expm1_poly_f64(double r) {
    double q = 1.6059043836821614599e-10;        /* 1/13! */
    q = q * r + 2.0876756987868098979e-09;       /* 1/12! */
    q = q * r + 2.5052108385441718775e-08;       /* 1/11! */
    q = q * r + 2.7557319223985890653e-07;       /* 1/10! */
    q = q * r + 2.7557319223985890653e-06;       /* 1/9!  */
    q = q * r + 2.4801587301587301587e-05;       /* 1/8!  */
    q = q * r + 1.9841269841269841270e-04;       /* 1/7!  */
    q = q * r + 1.3888888888888888889e-03;       /* 1/6!  */
    q = q * r + 8.3333333333333333333e-03;       /* 1/5!  */
    q = q * r + 4.1666666666666666667e-02;       /* 1/4!  */
    q = q * r + 1.6666666666666666667e-01;       /* 1/3!  */
    q = q * r + 0.5;
    return r + (r * r) * q;
}

/* 2^k as a double for an integer k in [-1022, 1023] */
FA_INLINE double fa__pow2i_f64(int64_t k) { return fa_from_bits_f64((uint64_t)(k + 1023) << 52); }

/* e^(hi + lo) = m * (*scale), both factors normal: a product x * e^y whose
 * result is normal but e^y is subnormal is computed as (x * m) * scale, with a
 * single rounding into the subnormal range (silu, gelu, mish lower tails). */
FA_INLINE double fa_exp_split_dd_f64(double hi, double lo, double *scale) {
    /* clamp (NaN passes: comparisons with NaN are false) */
    double xc = hi < -746.0 ? -746.0 : hi;
    xc = xc > 710.0 ? 710.0 : xc;
    double t = xc * FA_LOG2E + FA_SHIFT52;
    double k = t - FA_SHIFT52;
    int64_t ki = (int64_t)(fa_bits_f64(t) - fa_bits_f64(FA_SHIFT52)); /* k in [-1077, 1025] */
    double r = ((xc - k * FA_LN2_HI) + lo) - k * FA_LN2_LO;
    double p = fa__expm1_poly_f64(r);
    /* 2^k in two factors so results in the subnormal range round only once */
    int64_t k1 = (int64_t)((uint64_t)(ki + 2048) >> 1) - 1024;
    *scale = fa__pow2i_f64(ki - k1);
    double m = (1.0 + p) * fa__pow2i_f64(k1);
    return hi < -746.0 ? 0.0 : m;   /* so that x * m * scale is 0 for huge x too */
}

FA_INLINE double fa_exp_dd_f64(double hi, double lo) {
    double scale;
    double m = fa_exp_split_dd_f64(hi, lo, &scale);
    return m * scale;
}

FA_INLINE double fa_exp_f64(double x) { return fa_exp_dd_f64(x, 0.0); }

/* e^x to ~2e-10 relative (Taylor to r^8): for results rounded to float32 */
FA_INLINE double fa_exp_lp_f64(double x) {
    double xc = x < -746.0 ? -746.0 : x;
    xc = xc > 710.0 ? 710.0 : xc;
    double t = xc * FA_LOG2E + FA_SHIFT52;
    double k = t - FA_SHIFT52;
    int64_t ki = (int64_t)(fa_bits_f64(t) - fa_bits_f64(FA_SHIFT52));
    double r = (xc - k * FA_LN2_HI) - k * FA_LN2_LO;
    double q = 2.4801587301587301587e-05;        /* 1/8! */
    q = q * r + 1.9841269841269841270e-04;
    q = q * r + 1.3888888888888888889e-03;
    q = q * r + 8.3333333333333333333e-03;
    q = q * r + 4.1666666666666666667e-02;
    q = q * r + 1.6666666666666666667e-01;
    q = q * r + 0.5;
    double p = r + (r * r) * q;
    int64_t k1 = (int64_t)((uint64_t)(ki + 2048) >> 1) - 1024;
    return ((1.0 + p) * fa__pow2i_f64(k1)) * fa__pow2i_f64(ki - k1);
}

FA_INLINE double fa_expm1_f64(double x) {
    double xc = x < -50.0 ? -50.0 : x;      /* e^-50 < 2^-53: expm1 = -1 below */
    xc = xc > 709.8 ? 709.8 : xc;           /* overflows to +inf above */
    double t = xc * FA_LOG2E + FA_SHIFT52;
    double k = t - FA_SHIFT52;
    int64_t ki = (int64_t)(fa_bits_f64(t) - fa_bits_f64(FA_SHIFT52)); /* [-73, 1024] */
    double r = (xc - k * FA_LN2_HI) - k * FA_LN2_LO;
    double p = fa__expm1_poly_f64(r);
    /* 2^k (1 + p) - 1 = 2 (s p + (s - 1/2)), s = 2^(k-1): no overflow before the end */
    double s = fa__pow2i_f64(ki - 1);
    double big = (s * p + (s - 0.5)) * 2.0;
    double res = k == 0.0 ? p : big;
    return x == 0.0 ? x : res; /* keeps -0.0 */
}

/* ------------------------------------------------------------------ log */
/* log(m) for m in [sqrt(2)/2, sqrt(2)) : 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716 */
FA_INLINE double fa__log_reduced_f64(double f) {
    double s = f / (2.0 + f);
    double z = s * s;
    double q = 1.0 / 25; /* 2 atanh(s) = 2s (1 + z/3 + z^2/5 + ...); z^12 < 4e-19 */
    q = q * z + 1.0 / 23;
    q = q * z + 1.0 / 21;
    q = q * z + 1.0 / 19;
    q = q * z + 1.0 / 17;
    q = q * z + 1.0 / 15;
    q = q * z + 1.0 / 13;
    q = q * z + 1.0 / 11;
    q = q * z + 1.0 / 9;
    q = q * z + 1.0 / 7;
    q = q * z + 1.0 / 5;
    q = q * z + 1.0 / 3;
    /* f - f^2/2 + ... arranged as in fdlibm: log(1+f) = f - hfsq + s (hfsq + R) */
    double hfsq = 0.5 * f * f;
    double R = z * q * 2.0;  /* 2 atanh(s)/s - 2 = 2 (z/3 + z^2/5 + ...) */
    return f - (hfsq - s * (hfsq + R));
}

/* splits u > 0 (normal) as 2^e * m, m in [sqrt(2)/2, sqrt(2)); returns m - 1 */
FA_INLINE double fa__log_split_f64(double u, double *e) {
    uint64_t b = fa_bits_f64(u);
    /* move the sqrt(2) boundary: add (1 - 0x3fe6a09e667f3bcd) to the bits, as musl does */
    uint64_t bb = b + (0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL);
    uint64_t mb = (bb & 0x000fffffffffffffULL) + 0x3fe6a09e667f3bcdULL;
    /* the exponent field as a double, without an int -> double conversion */
    *e = fa_from_bits_f64((bb >> 52) | 0x4330000000000000ULL) - (4503599627370496.0 + 1023.0);
    return fa_from_bits_f64(mb) - 1.0;
}

FA_INLINE double fa_log_f64(double x) {
    int sub = x < 2.2250738585072014e-308;
    double u = sub ? x * 18014398509481984.0 : x; /* 2^54 */
    double e;
    double f = fa__log_split_f64(u, &e);
    e = sub ? e - 54.0 : e;
    double r = e * FA_LN2_HI + (fa__log_reduced_f64(f) + e * FA_LN2_LO);
    r = x == 0.0 ? -__builtin_inf() : r;
    r = x < 0.0 ? __builtin_nan("") : r;
    r = x == __builtin_inf() ? x : r;
    return x != x ? x : r;
}

FA_INLINE double fa_log1p_f64(double x) {
    double u = 1.0 + x;
    double c = x - (u - 1.0);     /* the part of x lost in rounding 1 + x */
    double uu = u > 0.0 ? u : 1.0; /* keep the split defined; specials fixed below */
    double e;
    double f = fa__log_split_f64(uu, &e);
    double corr = c / uu;
    corr = u > 9007199254740992.0 ? 0.0 : corr;  /* inf - inf guard for huge x */
    double r = e * FA_LN2_HI + (fa__log_reduced_f64(f) + (e * FA_LN2_LO + corr));
    r = x == -1.0 ? -__builtin_inf() : r;
    r = x < -1.0 ? __builtin_nan("") : r;
    r = x == __builtin_inf() ? x : r;
    r = x == 0.0 ? x : r;  /* keeps -0.0 */
    return x != x ? x : r;
}

/* ------------------------------------------------------ tanh and sigmoid */
FA_INLINE double fa_tanh_f64(double x) {
    double a = fa_abs_f64(x);
    double ac = a > 22.0 ? 22.0 : a;        /* tanh(22) rounds to 1 */
    double e = fa_expm1_f64(2.0 * ac);
    double t = e / (e + 2.0);
    t = a > 22.0 ? 1.0 : t;                  /* NaN stays NaN */
    return fa_copysign_f64(t, x);
}

FA_INLINE double fa_sigmoid_f64(double x) {
    double e = fa_exp_f64(-fa_abs_f64(x));
    double num = x >= 0.0 ? 1.0 : e;
    return num / (1.0 + e);
}

FA_INLINE double fa_sigmoid_dd_f64(double hi, double lo) {
    int pos = hi >= 0.0;
    double e = fa_exp_dd_f64(pos ? -hi : hi, pos ? -lo : lo);
    double num = pos ? 1.0 : e;
    return num / (1.0 + e);
}

/* ------------------------------------------------- normal distribution */
#define FA_INV_SQRT_2PI 0.398942280401432677939946059934381868

/* e^(-y^2/2) = m * (*scale) for y >= 0, with y^2 split exactly (Veltkamp) */
FA_INLINE double fa_exp_neg_half_sq_split_f64(double y, double *scale) {
    double yc = y > 40.0 ? 40.0 : y;   /* e^-800 = 0 */
    double c = 134217729.0 * yc;
    double hi = c - (c - yc);
    double lo = yc - hi;
    return fa_exp_split_dd_f64(-0.5 * (hi * hi), -0.5 * (lo * (2.0 * hi + lo)), scale);
}

/* Phi(x) split as: Phi(x) = x > 0.674.. ? 1 - lo * scale : lo * scale (|x| large)
 * W. J. Cody's rational Chebyshev approximations (ACM TOMS 715), evaluated
 * branch-free (all three ranges, then a select).  Returns the lower-tail
 * factor `*tail` = Phi(-|x|) / scale, `*scale`, and Phi(x) itself. */
FA_INLINE double fa_normcdf_parts_f64(double x, double *tail, double *scale) {
    double y = fa_abs_f64(x);
    /* |x| <= 0.67448975: Phi = 1/2 + x P(x^2) / Q(x^2) */
    double xsq = x * x;
    double xnum = 0.065682337918207449113 * xsq, xden = xsq;
    xnum = (xnum + 2.2352520354606839287) * xsq;  xden = (xden + 47.20258190468824187) * xsq;
    xnum = (xnum + 161.02823106855587881) * xsq;  xden = (xden + 976.09855173777669322) * xsq;
    xnum = (xnum + 1067.6894854603709582) * xsq;  xden = (xden + 10260.932208618978205) * xsq;
    double central = 0.5 + x * (xnum + 18154.981253343561249) / (xden + 45507.789335026729956);
    /* 0.67448975 < |x| <= sqrt(32): Phi(-|x|) = e^(-x^2/2) R(|x|) */
    double n = 1.0765576773720192317e-8 * y, d = y;
    n = (n + 0.39894151208813466764) * y;  d = (d + 22.266688044328115691) * y;
    n = (n + 8.8831497943883759412) * y;   d = (d + 235.38790178262499861) * y;
    n = (n + 93.506656132177855979) * y;   d = (d + 1519.377599407554805) * y;
    n = (n + 597.27027639480026226) * y;   d = (d + 6485.558298266760755) * y;
    n = (n + 2494.5375852903726711) * y;   d = (d + 18615.571640885098091) * y;
    n = (n + 6848.1904505362823326) * y;   d = (d + 34900.952721145977266) * y;
    n = (n + 11602.651437647350124) * y;   d = (d + 38912.003286093271411) * y;
    double mid = (n + 9842.7148383839780218) / (d + 19685.429676859990727);
    /* |x| > sqrt(32): Phi(-|x|) = e^(-x^2/2) (1/sqrt(2 pi) - z P(z)/Q(z)) / |x|, z = 1/x^2 */
    double yl = y > 1e150 ? 1e150 : y;
    double z = 1.0 / (yl * yl);
    double pn = 0.02307344176494017303 * z, pd = z;
    pn = (pn + 0.21589853405795699) * z;     pd = (pd + 1.28426009614491121) * z;
    pn = (pn + 0.1274011611602473639) * z;   pd = (pd + 0.468238212480865118) * z;
    pn = (pn + 0.022235277870649807) * z;    pd = (pd + 0.0659881378689285515) * z;
    pn = (pn + 0.001421619193227893466) * z; pd = (pd + 0.00378239633202758244) * z;
    double far = (FA_INV_SQRT_2PI - z * (pn + 2.9112874951168792e-5) / (pd + 7.29751555083966205e-5)) / y;
    double r = y <= 5.6568542494923801952 ? mid : far;
    double m = fa_exp_neg_half_sq_split_f64(y, scale);
    *tail = r * m;
    double lower = *tail * *scale;
    double phi = x > 0.0 ? 1.0 - lower : lower;
    phi = y <= 0.67448975 ? central : phi;
    return x != x ? x : phi;
}

FA_INLINE double fa_normcdf_f64(double x) {
    double tail, scale;
    return fa_normcdf_parts_f64(x, &tail, &scale);
}

/* x * Phi(x) with a single rounding where Phi(x) would be subnormal (gelu) */
FA_INLINE double fa_x_normcdf_f64(double x) {
    double tail, scale;
    double phi = fa_normcdf_parts_f64(x, &tail, &scale);
    double small = (x * tail) * scale;
    double r = (x < -0.67448975) ? small : x * phi;
    r = x == -__builtin_inf() ? -0.0 : r;
    return r;
}

/* the standard normal density phi(x) = e^(-x^2/2) / sqrt(2 pi) */
FA_INLINE double fa_normpdf_f64(double x) {
    double scale;
    double m = fa_exp_neg_half_sq_split_f64(fa_abs_f64(x), &scale);
    return (m * FA_INV_SQRT_2PI) * scale;
}

/* ---------------------------------------------------------------- float */
#define FA_LOG2E_F 1.44269504088896341f
#define FA_LN2_HI_F 0.693359375f          /* 0x1.63p-1: k*LN2_HI_F exact */
#define FA_LN2_LO_F -2.12194440e-4f
#define FA_SHIFT23_F 12582912.0f          /* 1.5 * 2^23 */

/* e^r - 1 for |r| <= 0.35 in float (Taylor to r^7: truncation 5e-9 relative) */
FA_INLINE float fa__expm1_poly_f32(float r) {
    float q = 1.9841269841e-4f;                 /* 1/7! */
    q = q * r + 1.3888888889e-3f;
    q = q * r + 8.3333333333e-3f;
    q = q * r + 4.1666666667e-2f;
    q = q * r + 1.6666666667e-1f;
    q = q * r + 0.5f;
    return r + (r * r) * q;
}

FA_INLINE float fa__pow2i_f32(int32_t k) { return fa_from_bits_f32((uint32_t)(k + 127) << 23); }

/* e^(hi + lo) = m * (*scale) in float arithmetic, both factors normal (m = 0 far below) */
FA_INLINE float fa_exp_split_dd_f32(float hi, float lo, float *scale) {
    float xc = hi < -104.0f ? -104.0f : hi;
    xc = xc > 89.0f ? 89.0f : xc;
    float t = xc * FA_LOG2E_F + FA_SHIFT23_F;
    float k = t - FA_SHIFT23_F;
    int32_t ki = (int32_t)(fa_bits_f32(t) - fa_bits_f32(FA_SHIFT23_F)); /* [-150, 128] */
    float r = ((xc - k * FA_LN2_HI_F) + lo) - k * FA_LN2_LO_F;
    float p = fa__expm1_poly_f32(r);
    int32_t k1 = (int32_t)((uint32_t)(ki + 256) >> 1) - 128;
    *scale = fa__pow2i_f32(ki - k1);
    float m = (1.0f + p) * fa__pow2i_f32(k1);
    return hi < -104.0f ? 0.0f : m;
}

FA_INLINE float fa_exp_f32(float x) {
    float scale;
    float m = fa_exp_split_dd_f32(x, 0.0f, &scale);
    return m * scale;
}

FA_INLINE float fa_expm1_f32(float x) {
    float xc = x < -20.0f ? -20.0f : x;         /* e^-20 < 2^-25: expm1 = -1 below */
    xc = xc > 88.8f ? 88.8f : xc;               /* overflows to +inf above */
    float t = xc * FA_LOG2E_F + FA_SHIFT23_F;
    float k = t - FA_SHIFT23_F;
    int32_t ki = (int32_t)(fa_bits_f32(t) - fa_bits_f32(FA_SHIFT23_F)); /* [-29, 128] */
    float r = (xc - k * FA_LN2_HI_F) - k * FA_LN2_LO_F;
    float p = fa__expm1_poly_f32(r);
    float s = fa__pow2i_f32(ki - 1);
    float big = (s * p + (s - 0.5f)) * 2.0f;
    float res = k == 0.0f ? p : big;
    return x == 0.0f ? x : res;
}

#if defined(__GNUC__) || defined(__clang__)
FA_INLINE float fa_copysign_f32(float mag, float sgn) { return __builtin_copysignf(mag, sgn); }
#else
FA_INLINE float fa_copysign_f32(float mag, float sgn) {
    return fa_from_bits_f32((fa_bits_f32(mag) & 0x7fffffffU) | (fa_bits_f32(sgn) & 0x80000000U));
}
#endif

FA_INLINE float fa_tanh_f32(float x) {
    float a = fa_abs_f32(x);
    float ac = a > 10.0f ? 10.0f : a;           /* tanh(10) rounds to 1 in float */
    float e = fa_expm1_f32(2.0f * ac);
    float t = e / (e + 2.0f);
    t = a > 10.0f ? 1.0f : t;
    return fa_copysign_f32(t, x);
}

FA_INLINE float fa_sigmoid_f32(float x) {
    float e = fa_exp_f32(-fa_abs_f32(x));
    float num = x >= 0.0f ? 1.0f : e;
    return num / (1.0f + e);
}

FA_INLINE float fa_log_f32(float x) { return (float)fa_log_f64((double)x); }

/* log(1 + x) in float arithmetic, accurate near 0 (same scheme as the f64 one) */
FA_INLINE float fa_log1p_f32(float x) {
    float u = 1.0f + x;
    float c = x - (u - 1.0f);
    float uu = u > 0.0f ? u : 1.0f;
    uint32_t b = fa_bits_f32(uu) + (0x3f800000U - 0x3f3504f3U);   /* sqrt(2)/2 boundary */
    float e = fa_from_bits_f32((b >> 23) | 0x4b000000U) - (8388608.0f + 127.0f);
    float f = fa_from_bits_f32((b & 0x007fffffU) + 0x3f3504f3U) - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float q = 1.0f / 9;   /* 2 atanh(s) = 2s (1 + z/3 + ... + z^4/9); z <= 0.0295 */
    q = q * z + 1.0f / 7;
    q = q * z + 1.0f / 5;
    q = q * z + 1.0f / 3;
    float hfsq = 0.5f * f * f;
    float R = z * q * 2.0f;
    float lg = f - (hfsq - s * (hfsq + R));
    float corr = c / uu;
    corr = u > 16777216.0f ? 0.0f : corr;
    float r = e * FA_LN2_HI_F + (lg + (e * FA_LN2_LO_F + corr));
    r = x == -1.0f ? -__builtin_inff() : r;
    r = x < -1.0f ? __builtin_nanf("") : r;
    r = x == __builtin_inff() ? x : r;
    r = x == 0.0f ? x : r;
    return x != x ? x : r;
}

/* Phi(x) to float accuracy (relative error ~1e-7), computed in double:
 * erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2)  (the Chebyshev fit published in
 * Numerical Recipes, fractional error < 1.2e-7 for all z >= 0). */
FA_INLINE double fa_normcdf_lp_f64(double x) {
    double y = fa_abs_f64(x);
    double yc = y > 40.0 ? 40.0 : y;
    double z = yc * 0.70710678118654752440;
    double t = 1.0 / (1.0 + 0.5 * z);
    double q = 0.17087277;
    q = q * t - 0.82215223;
    q = q * t + 1.48851587;
    q = q * t - 1.13520398;
    q = q * t + 0.27886807;
    q = q * t - 0.18628806;
    q = q * t + 0.09678418;
    q = q * t + 0.37409196;
    q = q * t + 1.00002368;
    q = q * t - 1.26551223;
    double lower = 0.5 * t * fa_exp_lp_f64(q - 0.5 * (yc * yc));   /* Phi(-|x|) */
    double phi = x > 0.0 ? 1.0 - lower : lower;
    return x != x ? x : phi;
}

/* a*b = hi + lo exactly in float (lo is 0-or-garbage only where a*b over/underflows) */
FA_INLINE float fa_two_prod_f32(float a, float b, float *lo) {
    float p = a * b;
#if defined(__FMA__) || defined(__AVX512F__)
    *lo = __builtin_fmaf(a, b, -p);
#else
    const float split = 4097.0f; /* 2^12 + 1 */
    float ca = split * a, cb = split * b;
    float ah = ca - (ca - a), al = a - ah;
    float bh = cb - (cb - b), bl = b - bh;
    *lo = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
#endif
    return p;
}

/* e^(hi + lo) = m * (*scale) in float for |lo| <= ~2 (k is taken from hi + lo;
 * hi - k ln2_hi is exact for |hi| <= 256); m = 0 where hi + lo < -104. */
FA_INLINE float fa_exp_split_sum_f32(float hi, float lo, float *scale) {
    float s = hi + lo;
    float sc = s < -104.0f ? -104.0f : s;
    sc = sc > 88.0f ? 88.0f : sc;
    float t = sc * FA_LOG2E_F + FA_SHIFT23_F;
    float k = t - FA_SHIFT23_F;
    int32_t ki = (int32_t)(fa_bits_f32(t) - fa_bits_f32(FA_SHIFT23_F));
    float hc = hi - (s - sc);          /* keeps hc + lo = sc where s was clamped */
    float r = ((hc - k * FA_LN2_HI_F) + lo) - k * FA_LN2_LO_F;
    float p = fa__expm1_poly_f32(r);
    int32_t k1 = (int32_t)((uint32_t)(ki + 256) >> 1) - 128;
    *scale = fa__pow2i_f32(ki - k1);
    float m = (1.0f + p) * fa__pow2i_f32(k1);
    return s < -104.0f ? 0.0f : m;
}

/* Phi(-y) = m * (*scale) for y >= 0 in float arithmetic:
 * Phi(-y) = erfc(z)/2, z = y/sqrt(2), erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2)
 * (the Chebyshev fit published in Numerical Recipes, relative error < 1.2e-7);
 * z^2 = y^2/2 carried exactly as a float pair; P evaluated around t = 1/2.
 * ~5e-7 relative (t = 1/(1 + z/2) rounded in float moves the fit by
 * (1 + t P'(t)) dt/t): enough for the gelu derivative (16 eps relative + 4 eps
 * absolute), not for a 4 ULP forward (7 ULP measured); gelu's float32 forward
 * uses fa_normcdf_lp_f64. */
FA_INLINE float fa_normcdf_lower_split_f32(float y, float *scale) {
    float yc = y > 20.0f ? 20.0f : y;  /* Phi(-20) = 0 in float */
    float z = yc * 0.70710678118654752f;
    float t = 1.0f / (1.0f + 0.5f * z);
    /* P(t) = Q(t - 1/2): the same polynomial re-expanded around 1/2 (it rounds ~5x
     * less in float; fastact/_fit_vmath_f32.py derives these) */
    float u = t - 0.5f;
    float q = 0.17087277f;
    q = q * u - 0.053224765f;
    q = q * u - 0.26223812f;
    q = q * u + 0.11370004f;
    q = q * u + 0.27852190125f;
    q = q * u - 0.157980353125f;
    q = q * u - 0.37499914125f;
    q = q * u + 0.189372401875f;
    q = q * u + 1.3452844253515626f;
    q = q * u - 0.67179408228515625f;
    float x2l;
    float x2 = fa_two_prod_f32(yc, yc, &x2l);
    float m = fa_exp_split_sum_f32(-0.5f * x2, q - 0.5f * x2l, scale);
    return (0.5f * t) * m;
}

/* Phi(x) + x phi(x) in float (the gelu derivative; +-inf give 1, 0) */
FA_INLINE float fa_gelu_derivative_f32(float x) {
    float scale;
    float y = fa_abs_f32(x);
    float m = fa_normcdf_lower_split_f32(y, &scale);
    float lower = m * scale;
    float phi = x > 0.0f ? 1.0f - lower : lower;
    float yc = y > 20.0f ? 20.0f : y;
    float e = fa_exp_f32(-0.5f * (yc * yc));
    float r = phi + x * (e * 0.398942280401432678f);
    r = x == __builtin_inff() ? 1.0f : r;
    return x == -__builtin_inff() ? 0.0f : r;
}

#endif /* FASTACT_VMATH_H */
