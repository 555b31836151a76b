/*
 * fastact/_cython/vmath_real.h -- the elementary functions of vmath.h written once
 * over the floating type.  vmath.h includes this file twice, with
 *   FA_T        the type (double, float)
 *   FA_S(name)  name_f64 / name_f32: the names of this instance
 *   FA_K(NAME)  the constant of fa_constants.h for the type (FA_NAME / FA_NAME_F32)
 * and this file undefines them at its end.
 * No include guard: it is meant to be included once per type.
 *
 * Contracts (float: "ULP" of float; all NaN in -> NaN out, +-inf -> the limits,
 * -0.0 kept, subnormal inputs and results handled):
 *   fa_exp_S(x)          e^x, < 1 ULP
 *   fa_exp_split_dd_S(hi, lo, &scale)  e^(hi + lo) = result * scale, both normal
 *   fa_exp_split_sum_S(hi, lo, &scale) the same for |lo| <= ~2 (k taken from hi + lo)
 *   fa_expm1_S(x)        e^x - 1, accurate near 0 (double < 1 ULP, float <= 3 ULP)
 *   fa_tanh_S, fa_sigmoid_S, fa_log1p_S  (double <= 2 ULP, float <= 3 ULP)
 *   fa_sigmoid_derivative_S, fa_silu_S, fa_silu_derivative_S, fa_x_sigmoid_dd_S,
 *     fa_silu_derivative_dd_S  (the same bars), each from one e^-|u| (fa__sigmoid_exp_any)
 *     and one division; fa_exp_neg_abs_S(x), fa_exp_neg_abs_dd_S(hi, lo): that e^-|u|
 *   fa_mish_S, fa_mish_derivative_S  (float <= 4 ULP), from the same e^-|x| and one division
 *   fa_two_prod_S(a, b, &lo)  a*b rounded, *lo its exact rounding error
 * The polynomials, range reductions and 2^k scalings round a*b + c once in the FMA builds
 * (x86-64-v3, v4: the same bits on both) and twice in the others (which meet the same bars).
 */

#define FA_U FA_S(fa_uint)
#define FA_I FA_S(fa_int)
#define FA_SIGN_BIT ((FA_U)1 << (8 * sizeof(FA_T) - 1))
#define FA_MANT_MASK (((FA_U)1 << FA_K(MANT_BITS)) - 1)

FA_INLINE FA_T FA_S(fa_abs)(FA_T x) { return FA_S(fa_from_bits)(FA_S(fa_bits)(x) & ~FA_SIGN_BIT); }

/* |mag| with the sign bit of sgn.  GCC/Clang: the builtin (same bits), which GCC
 * still vectorizes for SSE2 inside an if-converted branch, where the bit version
 * left tanh(x)-based loops of the x86-64 baseline build scalar. */
FA_INLINE FA_T FA_S(fa_copysign)(FA_T mag, FA_T sgn) {
#if defined(__GNUC__) || defined(__clang__)
    return FA_S(fa__builtin_copysign)(mag, sgn);
#else
    return FA_S(fa_from_bits)((FA_S(fa_bits)(mag) & ~FA_SIGN_BIT) | (FA_S(fa_bits)(sgn) & FA_SIGN_BIT));
#endif
}

/* a*b + c: one rounding where the build has FMA (then in every lane and every build with
 * it alike), two in the others */
FA_INLINE FA_T FA_S(fa__fma)(FA_T a, FA_T b, FA_T c) {
#if defined(__FMA__) || defined(__AVX512F__)
    return FA_S(fa__builtin_fma)(a, b, c);
#else
    return a * b + c;
#endif
}

/* a*b = p + *lo exactly (an fma where the target has one, else Dekker/Veltkamp;
 * *lo is garbage only where a*b over/underflows; Dekker's: 0 where a split overflows) */
FA_INLINE FA_T FA_S(fa_two_prod)(FA_T a, FA_T b, FA_T *lo) {
    FA_T p = a * b;
#if defined(__FMA__) || defined(__AVX512F__)
    *lo = FA_S(fa__builtin_fma)(a, b, -p);
#else
    FA_T ca = FA_K(VELTKAMP_SPLIT) * a, cb = FA_K(VELTKAMP_SPLIT) * b;
    FA_T ah = ca - (ca - a), al = a - ah;
    FA_T bh = cb - (cb - b), bl = b - bh;
    FA_T l = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    *lo = l - l == (FA_T)0 ? l : (FA_T)0;  /* the split of a huge a or b overflows */
#endif
    return p;
}

/* c[0] r^(n-1) + ... + c[n-1] by Horner (n a constant after inlining: the loop is
 * unrolled completely, so the caller's loop stays branch-free and vectorizes) */
FA_INLINE FA_T FA_S(fa__horner)(const FA_T *c, int n, FA_T r) {
    FA_T q = c[0];
    FA_UNROLL
    for (int i = 1; i < n; i++) q = FA_S(fa__fma)(q, r, c[i]);
    return q;
}

static const FA_T FA_S(fa__expm1_q)[] = FA_K(EXPM1_POLY);
static const FA_T FA_S(fa__log_atanh_series)[] = FA_K(LOG_ATANH_SERIES);
#define FA_N_TERMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* e^r - 1 for |r| <= 0.35: r + r^2 Q(r), Q fitted (EXPM1_POLY of _constants) */
FA_INLINE FA_T FA_S(fa__expm1_poly)(FA_T r) {
    return FA_S(fa__fma)(r * r, FA_S(fa__horner)(FA_S(fa__expm1_q), FA_N_TERMS(FA_S(fa__expm1_q)), r), r);
}

/* 2^k for an integer k of the normal exponent range, from the bits */
FA_INLINE FA_T FA_S(fa__pow2i)(FA_I k) { return FA_S(fa_from_bits)((FA_U)(k + FA_K(EXP_BIAS)) << FA_K(MANT_BITS)); }

/* The exp range reduction, the one place it is written: for a clamped x,
 * k = round(x / ln2) (as a float and, *ki, as an integer); returns x - k ln2_hi
 * (exact), from which r = ((x - k ln2_hi) + lo) - k ln2_lo, |r| <= ~ln2/2. */
FA_INLINE FA_T FA_S(fa__exp_reduce_hi)(FA_T x, FA_T *k, FA_I *ki) {
    FA_T t = FA_S(fa__fma)(x, FA_K(LOG2E), FA_K(ROUND_SHIFT));
    *k = t - FA_K(ROUND_SHIFT);
    *ki = (FA_I)(FA_S(fa_bits)(t) - FA_S(fa_bits)(FA_K(ROUND_SHIFT)));
    return FA_S(fa__fma)(*k, -FA_K(LN2_HI), x);
}

/* r for a correction lo (fa_exp_split_dd) */
FA_INLINE FA_T FA_S(fa__exp_reduce_dd)(FA_T x, FA_T lo, FA_T *k, FA_I *ki) {
    FA_T h = FA_S(fa__exp_reduce_hi)(x, k, ki) + lo;
    return FA_S(fa__fma)(*k, -FA_K(LN2_LO), h);
}

/* r without a correction: the bits of lo = 0 (they differ only in the sign of a
 * zero r, which e^r - 1 = r + r^2 Q(r) maps to +0), one addition fewer */
FA_INLINE FA_T FA_S(fa__exp_reduce)(FA_T x, FA_T *k, FA_I *ki) {
    FA_T h = FA_S(fa__exp_reduce_hi)(x, k, ki);
    return FA_S(fa__fma)(*k, -FA_K(LN2_LO), h);
}

/* 2^k (1 + p) = m * (*scale), 2^k split in two normal factors so that a product
 * x * m * scale in the subnormal range is rounded once */
FA_INLINE FA_T FA_S(fa__scale_split)(FA_T p, FA_I ki, FA_T *scale) {
    FA_I k1 = (FA_I)((FA_U)(ki + 2 * (FA_K(EXP_BIAS) + 1)) >> 1) - (FA_K(EXP_BIAS) + 1);
    *scale = FA_S(fa__pow2i)(ki - k1);
    return ((FA_T)1 + p) * FA_S(fa__pow2i)(k1);
}

/* e^(hi + lo) = m * (*scale), both factors normal (silu, gelu, mish lower tails:
 * x * e^y normal while e^y is subnormal); m = 0 below the clamp, so that x * m * scale
 * is 0 for huge x too */
FA_INLINE FA_T FA_S(fa_exp_split_dd)(FA_T hi, FA_T lo, FA_T *scale) {
    FA_T xc = hi < FA_K(EXP_ARG_MIN) ? FA_K(EXP_ARG_MIN) : hi;  /* NaN passes */
    xc = xc > FA_K(EXP_ARG_MAX) ? FA_K(EXP_ARG_MAX) : xc;
    FA_T k;
    FA_I ki;
    FA_T r = FA_S(fa__exp_reduce_dd)(xc, lo, &k, &ki);
    FA_T m = FA_S(fa__scale_split)(FA_S(fa__expm1_poly)(r), ki, scale);
    return hi < FA_K(EXP_ARG_MIN) ? (FA_T)0 : m;
}

FA_INLINE FA_T FA_S(fa_exp_dd)(FA_T hi, FA_T lo) {
    FA_T scale;
    FA_T m = FA_S(fa_exp_split_dd)(hi, lo, &scale);
    return m * scale;
}

FA_INLINE FA_T FA_S(fa_exp)(FA_T x) { return FA_S(fa_exp_dd)(x, (FA_T)0); }

/* e^(hi + lo) = m * (*scale) for |lo| <= ~2: k is taken from hi + lo (hi - k ln2_hi
 * exact for |hi| <= 256 in float); m = 0 where hi + lo is below the clamp */
FA_INLINE FA_T FA_S(fa_exp_split_sum)(FA_T hi, FA_T lo, FA_T *scale) {
    FA_T s = hi + lo;
    FA_T sc = s < FA_K(EXP_ARG_MIN) ? FA_K(EXP_ARG_MIN) : s;
    sc = sc > FA_K(EXP_ARG_MAX) ? FA_K(EXP_ARG_MAX) : sc;
    FA_T k;
    FA_I ki;
    FA_S(fa__exp_reduce_hi)(sc, &k, &ki);
    FA_T hc = hi - (s - sc);          /* keeps hc + lo = sc where s was clamped */
    FA_T r = FA_S(fa__fma)(k, -FA_K(LN2_LO), FA_S(fa__fma)(k, -FA_K(LN2_HI), hc) + lo);
    FA_T m = FA_S(fa__scale_split)(FA_S(fa__expm1_poly)(r), ki, scale);
    return s < FA_K(EXP_ARG_MIN) ? (FA_T)0 : m;
}

FA_INLINE FA_T FA_S(fa_expm1)(FA_T x) {
    FA_T xc = x < FA_K(EXPM1_ARG_MIN) ? FA_K(EXPM1_ARG_MIN) : x;
    xc = xc > FA_K(EXPM1_ARG_MAX) ? FA_K(EXPM1_ARG_MAX) : xc;
    FA_T k;
    FA_I ki;
    FA_T r = FA_S(fa__exp_reduce)(xc, &k, &ki);
    FA_T p = FA_S(fa__expm1_poly)(r);
    /* 2^k (1 + p) - 1 = 2 (s p + (s - 1/2)), s = 2^(k-1): no overflow before the end */
    FA_T s = FA_S(fa__pow2i)(ki - 1);
    FA_T big = FA_S(fa__fma)(s, p, s - (FA_T)0.5) * (FA_T)2;
    FA_T res = k == (FA_T)0 ? p : big;
    return x == (FA_T)0 ? x : res;  /* keeps -0.0 */
}

/* tanh x = sign(x) (-q / (2 + q)), q = expm1(-2|x|) = 2^k expm1(r) + (2^k - 1) in one FMA:
 * k <= 0, so no overflow and no select (exact at k = 0: tanh keeps its digits near 0);
 * |x| clamped to TANH_ARG_MAX (tanh rounds to 1 beyond).  The Numba backend's tanh_f32n. */
FA_INLINE FA_T FA_S(fa_tanh)(FA_T x) {
    FA_T a = FA_S(fa_abs)(x);
    FA_T ac = a > FA_K(TANH_ARG_MAX) ? FA_K(TANH_ARG_MAX) : a;
    FA_T k;
    FA_I ki;
    FA_T r = FA_S(fa__exp_reduce)((FA_T)-2 * ac, &k, &ki);
    FA_T s = FA_S(fa__pow2i)(ki);
    FA_T q = FA_S(fa__fma)(s, FA_S(fa__expm1_poly)(r), s - (FA_T)1);
    FA_T t = -q / ((FA_T)2 + q);
    t = a > FA_K(TANH_ARG_MAX) ? (FA_T)1 : t;  /* NaN stays NaN */
    return FA_S(fa_copysign)(t, x);
}

/* The sigmoid family's core, e^-|u| for u = hi (+ lo, a tiny correction): t = -|hi| clamped to
 * SIGMOID_EXP_ARG_MIN (where e^t and |t| e^t round to 0); returns m = e^-|u| 2^S, S =
 * SIGMOID_EXP_SCALE_EXP, normal, < 1 ULP (one range reduction, 2^(n + S) from the bits, no
 * select), and *e = m 2^-S = e^-|u|.  y e^-|u| as (y m) 2^-S rounds once where e^-|u| is
 * subnormal (silu(-90) in float is normal). */
FA_INLINE FA_T FA_S(fa__sigmoid_exp_any)(FA_T hi, FA_T lo, int with_lo, FA_T *t, FA_T *e) {
    FA_T tc = -FA_S(fa_abs)(hi);
    tc = tc < FA_K(SIGMOID_EXP_ARG_MIN) ? FA_K(SIGMOID_EXP_ARG_MIN) : tc;
    FA_T k;
    FA_I ki;
    FA_T lo_t = tc > -FA_S(fa_abs)(hi) ? (FA_T)0 : (hi >= (FA_T)0 ? -lo : lo);  /* none if clamped */
    FA_T r = with_lo ? FA_S(fa__exp_reduce_dd)(tc, lo_t, &k, &ki) : FA_S(fa__exp_reduce)(tc, &k, &ki);
    FA_T s = FA_S(fa__pow2i)(ki + FA_K(SIGMOID_EXP_SCALE_EXP));
    FA_T m = FA_S(fa__fma)(FA_S(fa__expm1_poly)(r), s, s);
    *t = tc;
    *e = m * FA_K(SIGMOID_EXP_UNSCALE);
    return m;
}

/* The core's e = m 2^-S, raised to SIGMOID_E_FLOOR (2^-60 float, 2^-100 double) where it is
 * below: the same bits for the formulas that add e to O(1) terms or take e, e^2 and |t| e
 * only there (all below half an ULP of 1), without a subnormal e (each costs a microcode
 * assist per vector).  The max is taken on the bits: on the values gcc folds 1 + e for the
 * floor and computes the product for every lane before a select */
FA_INLINE FA_T FA_S(fa__sigmoid_e_floored)(FA_T m) {
    FA_T lo = FA_K(SIGMOID_E_FLOOR) / FA_K(SIGMOID_EXP_UNSCALE);
#if defined(__AVX2__) || defined(__AVX512F__)
    FA_I mb = (FA_I)FA_S(fa_bits)(m);  /* m > 0: the bits order as the values */
    FA_I lb = (FA_I)FA_S(fa_bits)(lo);
    return FA_S(fa_from_bits)((FA_U)(mb > lb ? mb : lb)) * FA_K(SIGMOID_EXP_UNSCALE);
#else
    return (m > lo ? m : lo) * FA_K(SIGMOID_EXP_UNSCALE);  /* SSE2: no 64-bit integer compare */
#endif
}

FA_INLINE FA_T FA_S(fa__sigmoid_exp)(FA_T x, FA_T *t, FA_T *e) {
    return FA_S(fa__sigmoid_exp_any)(x, (FA_T)0, 0, t, e);
}

/* sigmoid(x) = 1/(1 + e) for x >= 0, e/(1 + e) below, e = e^-|x|: one exp, one division */
FA_INLINE FA_T FA_S(fa_sigmoid)(FA_T x) {
    FA_T t, e;
    FA_S(fa__sigmoid_exp)(x, &t, &e);
    return (x >= (FA_T)0 ? (FA_T)1 : e) / ((FA_T)1 + e);
}

/* sigmoid'(x) = e/(1 + e)^2 = ((m d) d) 2^-S, d = 1/(1 + e): rounded once where subnormal */
FA_INLINE FA_T FA_S(fa_sigmoid_derivative)(FA_T x) {
    FA_T t, e;
    FA_T m = FA_S(fa__sigmoid_exp)(x, &t, &e);
    FA_T d = (FA_T)1 / ((FA_T)1 + e);
    return ((m * d) * d) * FA_K(SIGMOID_EXP_UNSCALE);
}

/* silu(x) = x sigmoid(x) for finite x: x/(1 + e) for x >= 0, ((t m)/(1 + e)) 2^-S below
 * (t = x down to the clamp, where the result rounds to -0) */
FA_INLINE FA_T FA_S(fa_silu)(FA_T x) {
    FA_T t, e_any;
    FA_T m = FA_S(fa__sigmoid_exp)(x, &t, &e_any);
    FA_T e = FA_S(fa__sigmoid_e_floored)(m);
    int pos = x >= (FA_T)0;
    FA_T num = pos ? x : t * m;  /* selects before the one division (gcc would split it in two) */
    FA_T sc = pos ? (FA_T)1 : FA_K(SIGMOID_EXP_UNSCALE);
    return (num / ((FA_T)1 + e)) * sc;
}

/* x sigmoid(u), u = uh + ul exactly (swish, u = beta x), for finite x: x/(1 + e) for u >= 0,
 * else (x e)/(1 + e), with x e = (x m) 2^-S where e^u is below 2^-SIGMOID_EXP_SCALE_EXP/2 (one
 * rounding where it is subnormal; no overflow of x m unless |x e^u| >= 2^(emax - S)), 0 below
 * the clamp (e from fa__sigmoid_e_floored) */
FA_INLINE FA_T FA_S(fa_x_sigmoid_dd)(FA_T x, FA_T uh, FA_T ul) {
    FA_T t, e_any;
    FA_T m = FA_S(fa__sigmoid_exp_any)(uh, ul, 1, &t, &e_any);
    FA_T e = FA_S(fa__sigmoid_e_floored)(m);
    int scaled = t < -(FA_T)(FA_K(SIGMOID_EXP_SCALE_EXP) / 2);
    FA_T num = scaled ? x * m : x * e;
    num = -FA_S(fa_abs)(uh) < FA_K(SIGMOID_EXP_ARG_MIN) ? (FA_T)0 * x : num;
    int pos = uh >= (FA_T)0;
    num = pos ? x : num;  /* selects before the one division (gcc would split it in two) */
    FA_T sc = pos || !scaled ? (FA_T)1 : FA_K(SIGMOID_EXP_UNSCALE);
    return (num / ((FA_T)1 + e)) * sc;
}

/* silu'(u) = s (1 + u (1 - s)), s = sigmoid(u), from the core's m, t, e (t = -|u| clamped;
 * u (1 - s) for u >= 0 is -t e d, 0 beyond the clamp, no inf * 0): ((c (1 + t g)) d) sc with
 * c = 1, g = -e d, sc = 1 for u >= 0 (d (1 - t e d)), c = m, g = d, sc = 2^-S below, d = 1/(1 + e):
 * the selects go first, one product chain */
FA_INLINE FA_T FA_S(fa__silu_derivative_finish)(int pos, FA_T m, FA_T t, FA_T e) {
    FA_T d = (FA_T)1 / ((FA_T)1 + e);
    FA_T c = pos ? (FA_T)1 : m;
    FA_T g = pos ? -(e * d) : d;
    FA_T sc = pos ? (FA_T)1 : FA_K(SIGMOID_EXP_UNSCALE);
    return ((c * ((FA_T)1 + t * g)) * d) * sc;
}

/* silu'(x), one exp and one division (x = +-inf give 1, 0) */
FA_INLINE FA_T FA_S(fa_silu_derivative)(FA_T x) {
    FA_T t, e_any;
    FA_T m = FA_S(fa__sigmoid_exp)(x, &t, &e_any);
    return FA_S(fa__silu_derivative_finish)(x >= (FA_T)0, m, t, FA_S(fa__sigmoid_e_floored)(m));
}

/* silu'(u) for u = uh + ul exactly (swish': u = beta x), ul carried into e^-|u| */
FA_INLINE FA_T FA_S(fa_silu_derivative_dd)(FA_T uh, FA_T ul) {
    FA_T t, e_any;
    FA_T m = FA_S(fa__sigmoid_exp_any)(uh, ul, 1, &t, &e_any);
    return FA_S(fa__silu_derivative_finish)(uh >= (FA_T)0, m, t, FA_S(fa__sigmoid_e_floored)(m));
}

/* mish(x) = x tanh(log(1 + e^x)) from E = e^-|x| (the core's m = E 2^S): x q for x >= 0,
 * ((x m) q) 2^-S below, q = 1 - c as x - x c (one rounding with FMA), c = g/D: 2E^2 /
 * (1 + 2E + 2E^2) above, E (1 + E) / (2 + 2E + E^2) below (c <= 2/5 scales the quotient's
 * error); D = c0 + E (2 + c1 E), g = E (c0 - 1 + c1 E), (c0, c1) = (1, 2) or (2, 1) */
FA_INLINE FA_T FA_S(fa_mish)(FA_T x) {
    FA_T t, e_any;
    FA_T m = FA_S(fa__sigmoid_exp)(x, &t, &e_any);
    FA_T e = FA_S(fa__sigmoid_e_floored)(m);
    int pos = x >= (FA_T)0;
    FA_T c0 = pos ? (FA_T)1 : (FA_T)2;
    FA_T u = ((FA_T)3 - c0) * e;
    FA_T c = (e * ((c0 - (FA_T)1) + u)) / FA_S(fa__fma)(e, (FA_T)2 + u, c0);
    FA_T num = pos ? x : t * m;  /* t = x down to the clamp, where the result rounds to -0 */
    FA_T sc = pos ? (FA_T)1 : FA_K(SIGMOID_EXP_UNSCALE);
    FA_T r = FA_S(fa_copysign)(FA_S(fa__fma)(-num, c, num) * sc, x);  /* -0 kept */
    return x == (FA_T)__builtin_inf() ? x : r;  /* inf - inf c is NaN */
}

/* mish'(x) = tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2), sp = log(1 + e^x), from fa_mish's E, D
 * and w = c0 + c1 E, r = 1/D: r (w + 4 x E^2 (1 + E) r) for x >= 0, (m r (w + 4 x (1 + E) r))
 * 2^-S below; x taken as +-|t| (t = -|x| clamped), so +-inf give 1, 0 without inf * 0 */
FA_INLINE FA_T FA_S(fa_mish_derivative)(FA_T x) {
    FA_T t, e_any;
    FA_T m = FA_S(fa__sigmoid_exp)(x, &t, &e_any);
    FA_T e = FA_S(fa__sigmoid_e_floored)(m);
    int pos = x >= (FA_T)0;
    FA_T c0 = pos ? (FA_T)1 : (FA_T)2;
    FA_T c1 = (FA_T)3 - c0;
    FA_T w = FA_S(fa__fma)(c1, e, c0);
    FA_T r = (FA_T)1 / FA_S(fa__fma)(e, FA_S(fa__fma)(c1, e, (FA_T)2), c0);
    FA_T xh = pos ? -t * (e * e) : t;
    FA_T c = pos ? (FA_T)1 : m;
    FA_T sc = pos ? (FA_T)1 : FA_K(SIGMOID_EXP_UNSCALE);
    FA_T v = FA_S(fa__fma)((FA_T)4 * xh, ((FA_T)1 + e) * r, w);
    return ((c * r) * v) * sc;
}

/* e^-|x| from the sigmoid family's core: < 1 ULP where normal */
FA_INLINE FA_T FA_S(fa_exp_neg_abs)(FA_T x) {
    FA_T t, e;
    FA_S(fa__sigmoid_exp)(x, &t, &e);
    return e;
}

/* e^-|hi + lo| (lo a tiny correction) from the sigmoid family's core: < 1 ULP where normal */
FA_INLINE FA_T FA_S(fa_exp_neg_abs_dd)(FA_T hi, FA_T lo) {
    FA_T t, e;
    FA_S(fa__sigmoid_exp_any)(hi, lo, 1, &t, &e);
    return e;
}

/* log(1 + f) for 1 + f in [sqrt(1/2), sqrt(2)): 2 atanh(s), s = f / (2 + f), |s| <= 0.1716,
 * arranged as in fdlibm: f - (f^2/2 - s (f^2/2 + R)) */
FA_INLINE FA_T FA_S(fa__log_reduced)(FA_T f) {
    FA_T s = f / ((FA_T)2 + f);
    FA_T z = s * s;
    FA_T q = FA_S(fa__horner)(FA_S(fa__log_atanh_series), FA_N_TERMS(FA_S(fa__log_atanh_series)), z);
    FA_T hfsq = (FA_T)0.5 * f * f;
    FA_T R = z * q * (FA_T)2;  /* 2 atanh(s)/s - 2 */
    return f - (hfsq - s * (hfsq + R));
}

/* u > 0 normal = 2^e (1 + f), 1 + f in [sqrt(1/2), sqrt(2)); returns f, *e as a float */
FA_INLINE FA_T FA_S(fa__log_split)(FA_T u, FA_T *e) {
    const FA_U one = (FA_U)FA_K(EXP_BIAS) << FA_K(MANT_BITS);
    FA_U bb = FA_S(fa_bits)(u) + (one - (FA_U)FA_K(LOG_SPLIT_BITS));
    FA_U mb = (bb & FA_MANT_MASK) + (FA_U)FA_K(LOG_SPLIT_BITS);
    /* the exponent field as a float, without an int -> float conversion: 2^MANT + field */
    const FA_U magic = (FA_U)(FA_K(EXP_BIAS) + FA_K(MANT_BITS)) << FA_K(MANT_BITS);
    *e = FA_S(fa_from_bits)((bb >> FA_K(MANT_BITS)) | magic) - (FA_S(fa_from_bits)(magic) + FA_K(EXP_BIAS));
    return FA_S(fa_from_bits)(mb) - (FA_T)1;
}

FA_INLINE FA_T FA_S(fa_log1p)(FA_T x) {
    FA_T u = (FA_T)1 + x;
    FA_T c = x - (u - (FA_T)1);       /* the part of x lost in rounding 1 + x */
    FA_T uu = u > (FA_T)0 ? u : (FA_T)1;  /* keep the split defined; specials fixed below */
    FA_T e;
    FA_T f = FA_S(fa__log_split)(uu, &e);
    FA_T corr = c / uu;
    corr = u > FA_S(fa__pow2i)(FA_K(MANT_BITS) + 1) ? (FA_T)0 : corr;  /* inf - inf guard */
    FA_T r = e * FA_K(LN2_HI) + (FA_S(fa__log_reduced)(f) + (e * FA_K(LN2_LO) + corr));
    r = x == (FA_T)-1 ? -(FA_T)__builtin_inf() : r;
    r = x < (FA_T)-1 ? (FA_T)__builtin_nan("") : r;
    r = x == (FA_T)__builtin_inf() ? x : r;
    r = x == (FA_T)0 ? x : r;  /* keeps -0.0 */
    return x != x ? x : r;
}

#undef FA_SIGN_BIT
#undef FA_MANT_MASK
#undef FA_N_TERMS
#undef FA_U
#undef FA_I
#undef FA_T
#undef FA_S
#undef FA_K
