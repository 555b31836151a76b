/* The softmax family's kernels for one float type T, included by softmax.h once per
 * type with FA_S = f32 or f64 (no include guard).  This file: the block operations
 * (exps, sums, max, final passes, special rows, backward); then the AVX-512 bodies,
 * the wave, the row drivers and the thread strategies (see docs/softmax.md). */
#define T FA_SM_CAT(FA_SM_T_, FA_S)
#define IT FA_SM_CAT(FA_SM_I_, FA_S)
#define UT FA_SM_CAT(FA_SM_U_, FA_S)
#define FN FA_SM_FN
#define K FA_SM_K
#define FMA FA_SM_CAT(FA_SM_FMA_, FA_S)
#define BITS FA_SM_CAT(fa_bits_, FA_S)
#define FROM_BITS FA_SM_CAT(fa_from_bits_, FA_S)
#define SIGN_BIT ((IT)((UT)1 << (8 * sizeof(T) - 1)))

/* ---- exps ---------------------------------------------------------------------- */
/* 2^n * Q(r) for r on |r| <= ln2/2, n the integer in k = n + the rounding shift;
   bias = the exponent bias + a scale s gives 2^(n + s) (0 below the normals) */
static inline T FN(pow2_poly)(T k, T r, unsigned bias) {
    static const T c[] = K(POLY);
    T p = FMA(c[0], r, c[1]);
#pragma GCC unroll 16
    for (int j = 2; j < (int)(sizeof c / sizeof c[0]); j++) p = FMA(p, r, c[j]);
    return p * FROM_BITS((BITS(k) - K(SHIFT_BITS) + (UT)bias) << K(MANT_BITS));
}
/* exp(t) 2^s for t <= 0 rounded once: n = round(t / ln2), r = t - n ln2 (two
   constants, fma), the polynomial, times 2^(n + s) from the bits (bias = the exponent
   bias + s); t clamped at clamp, where 2^(n + s) is 0.  -inf gives 0, NaN gives NaN;
   t > 0 (masked entries only) gives garbage selected away. */
static inline T FN(expneg_at)(T t, T clamp, unsigned bias) {
    T tc = t < clamp ? clamp : t;
    T k = FMA(tc, K(LOG2E), K(SHIFT));
    T n = k - K(SHIFT);
    T r = FMA(n, -K(LN2_HI), tc);
    r = FMA(n, -K(LN2_LO), r);
    return FN(pow2_poly)(k, r, bias);
}
/* softmax's exp of t = v - m <= 0, scaled by 2^SCALE_LOG2: 2^s times expneg's value
   where that is normal, a normal number or 0 down to the unscaled subnormals (so e' / S'
   is rounded once into them) */
static inline T FN(expneg_s)(T t) {
    return FN(expneg_at)(t, K(EXP_CLAMP), K(EXP_BIAS) + K(SCALE_LOG2));
}
/* exp(t) for t <= 0, flushed below the smallest normal (log_softmax_backward) */
static inline T FN(expneg)(T t) { return FN(expneg_at)(t, K(EXPNEG_CLAMP), K(EXP_BIAS)); }
/* log_softmax's and logsumexp's exp(v - m) for v <= m, accurate for every logit,
   returned scaled by 2^SCALE_LOG2, so that every result is a normal number or 0
   (the caller removes the scale from the sum exactly).  Results below 2^-190 /
   2^-1150 are dropped; -inf gives 0 (float32: by a select, as TwoSum turns it into
   NaN), NaN gives NaN. */
static inline T FN(exp_scaled)(T v, T m) {
    /* x - m is carried exactly (TwoSum) into the exp: its rounding, |x - m| u, would
       otherwise be a relative error of the exp, and of log_softmax near the max */
    T t = v - m;
    T bb = t - v;
    T err = (v - (t - bb)) + (-m - bb);
    T tc = t < K(EXP_CLAMP) ? K(EXP_CLAMP) : t;
    T k = FMA(tc, K(LOG2E), K(SHIFT));
    T n = k - K(SHIFT);
    T r = FMA(n, -K(LN2_HI), tc);
    r = FMA(n, -K(LN2_LO), r);
    r = r + err;
    T y = FN(pow2_poly)(k, r, K(EXP_BIAS) + K(SCALE_LOG2));
    return t < K(EXP_CLAMP) ? (T)0 : y; /* TwoSum turns v = -inf into NaN */
}

/* ---- sums ---------------------------------------------------------------------- */
/* Sum of a[0:len] >= 0: per group of 64 a pairwise T sum of 4 per lane ((a0 + a1)
   + (a2 + a3): each term rounded at most twice, error < 2^-23 sum |a| in float),
   added into 16 double lanes, then the lanes pairwise; the order depends on len
   only.  The last < 64 count as one more group padded with zeros. */
static inline void FN(sum_group)(double *dacc, const T *q) {
    for (int j = 0; j < FA_SM_LANES; j++)
        dacc[j] += (double)((q[j] + q[j + FA_SM_LANES])
                            + (q[j + 2 * FA_SM_LANES] + q[j + 3 * FA_SM_LANES]));
}
/* the sum from the lanes dacc and the last len < 64 terms a */
static double FN(sum_finish)(double *dacc, const T *a, ptrdiff_t len) {
    if (len > 0) {
        T q[FA_SM_GROUP] = {0};
        memcpy(q, a, (size_t)len * sizeof(T));
        FN(sum_group)(dacc, q);
    }
    return fa_sm_fold_lanes(dacc);
}
static double FN(sum_pos)(const T *a, ptrdiff_t len) {
    double dacc[FA_SM_LANES] = {0};
    ptrdiff_t i = 0;
    for (; i + FA_SM_GROUP <= len; i += FA_SM_GROUP) FN(sum_group)(dacc, a + i);
    return FN(sum_finish)(dacc, a + i, len - i);
}
/* sum of a[i] * b[i] (signed): per 64 a pairwise T sum of 4 products per lane
   (error < 3 u |a b| each) into 16 double lanes, the rest in double, lanes
   pairwise: within the backward bar of 16 eps sum |a b|; order: len only */
static double FN(dot)(const T *a, const T *b, ptrdiff_t len) {
    double dacc[FA_SM_LANES] = {0};
    ptrdiff_t i = 0;
    const int L = FA_SM_LANES;
    for (; i + FA_SM_GROUP <= len; i += FA_SM_GROUP) {
        const T *p = a + i, *q = b + i;
        for (int j = 0; j < L; j++)
            dacc[j] += (double)((p[j] * q[j] + p[j + L] * q[j + L])
                                + (p[j + 2 * L] * q[j + 2 * L] + p[j + 3 * L] * q[j + 3 * L]));
    }
    for (int j = 0; i < len; i++, j = (j + 1) & (L - 1))
        dacc[j] += (double)a[i] * (double)b[i];
    return fa_sm_fold_lanes(dacc);
}

/* ---- max ----------------------------------------------------------------------- */
/* The max of v = (negate ? -x : x), masked entries -inf, from two integer
   reductions of the bits b (vectorize without fast-math): among v >= +0 the
   largest b is the largest v, among v <= -0 the smallest b is; so the max is
   max(b) if that is >= 0, else min(b).  A positive NaN beats +inf (the row is then
   special); a negative NaN never wins and is caught by the NaN sum. */
typedef struct { IT hi, lo; } FN(keys);
static inline FN(keys) FN(keys_init)(void) {
    FN(keys) k = {SIGN_BIT, (IT)BITS(-(T)INFINITY)};
    return k;
}
static inline T FN(key_max)(FN(keys) k) { return FROM_BITS((UT)(k.hi >= 0 ? k.hi : k.lo)); }
static void FN(keys_add)(const T *x, ptrdiff_t len, int negate, FN(keys) *k) {
    const IT flip = negate ? SIGN_BIT : 0;
    IT hi = k->hi, lo = k->lo;
    for (ptrdiff_t i = 0; i < len; i++) {
        IT b = (IT)BITS(x[i]) ^ flip;
        hi = b > hi ? b : hi;
        lo = b < lo ? b : lo;
    }
    k->hi = hi;
    k->lo = lo;
}
static T FN(max)(const T *x, const unsigned char *mk, ptrdiff_t len, int negate) {
    FN(keys) k = FN(keys_init)();
    if (mk == NULL) {
        FN(keys_add)(x, len, negate, &k);
        return FN(key_max)(k);
    }
    const IT flip = negate ? SIGN_BIT : 0, neginf = k.lo;
    IT hi = k.hi, lo = k.lo;
    for (ptrdiff_t i = 0; i < len; i++) {
        IT b = (IT)BITS(x[i]) ^ flip;
        IT bh = mk[i] ? b : SIGN_BIT, bl = mk[i] ? b : neginf;
        hi = bh > hi ? bh : hi;
        lo = bl < lo ? bl : lo;
    }
    k.hi = hi;
    k.lo = lo;
    return FN(key_max)(k);
}
/* the max of a row of n, as the combination of its block maxima in block order */
static T FN(row_max)(const T *x, const unsigned char *mk, ptrdiff_t n, int negate) {
    T m = -(T)INFINITY;
    for (ptrdiff_t lo = 0; lo < n; lo += FA_SM_BLOCK) {
        T mb = FN(max)(x + lo, mk ? mk + lo : NULL, fa_sm_block_len(n, lo), negate);
        m = mb > m ? mb : m;
    }
    return m;
}

/* ---- final passes -------------------------------------------------------------- */
/* o *= 1/S', 1/S' rounded to T (S' the scaled sum: o = e' / S' is e / S rounded once,
   subnormals too; with e's ~1 ULP: < 2.5 ULP in all) */
static void FN(scale)(T *o, ptrdiff_t len, double inv) {
    const T f = (T)inv;
    for (ptrdiff_t i = 0; i < len; i++) o[i] *= f;
}
/* o = (x - m) - lse in T, -inf where masked: x - m <= 0 and lse >= 0 have one sign,
   so |x - m| and lse are at most |o|: the three roundings cost <= 1.5 ULP */
static void FN(log)(T *o, const T *x, const unsigned char *mk, ptrdiff_t len, double m,
                    double lse) {
    const T mt = (T)m, lt = (T)lse;
    if (mk == NULL) {
        for (ptrdiff_t i = 0; i < len; i++) o[i] = (x[i] - mt) - lt;
        return;
    }
    for (ptrdiff_t i = 0; i < len; i++) {
        T v = (x[i] - mt) - lt;
        o[i] = mk[i] ? v : -(T)INFINITY;
    }
}
/* one row: out o, exps e (o or scratch), input x, mask mk (or NULL), max m */
typedef struct {
    T *o, *e;
    const T *x;
    const unsigned char *mk;
    T m;
} FN(row);
/* finish a row of n whose max is not finite or whose sum is NaN: a NaN (or +inf) row
   gives NaN (logsumexp: +inf for +inf), an all -inf / fully masked row 0 (softmax)
   or -inf; masked entries 0 / -inf */
static void FN(special)(int kind, const FN(row) *r, ptrdiff_t n, int nan_known) {
    const unsigned char *mk = r->mk;
    int nan = nan_known || r->m != r->m;
    for (ptrdiff_t i = 0; i < n && !nan; i++) nan = r->x[i] != r->x[i] && (mk == NULL || mk[i]);
    if (kind == FA_SM_LOGSUMEXP) {
        r->o[0] = nan ? (T)NAN : r->m;
        return;
    }
    T off = kind == FA_SM_SOFTMAX ? (T)0 : -(T)INFINITY;
    T fill = (nan || r->m == (T)INFINITY) ? (T)NAN : off;
    for (ptrdiff_t i = 0; i < n; i++) r->o[i] = (mk == NULL || mk[i]) ? fill : off;
}
/* the unscaled sum of the exps other than one of the ties, and its log1p */
static inline double FN(log_arg)(double s, ptrdiff_t ties) {
    return s * K(UNSCALE) + (double)(ties - 1);
}
static inline double FN(log_sum)(double s, ptrdiff_t ties) {
    return FA_SM_CAT(FA_SM_LOG1P_, FA_S)(FN(log_arg)(s, ties));
}

/* ---- backward ------------------------------------------------------------------ */
/* a block's part of the row sum: softmax sum g*y, log_softmax sum g */
static double FN(bsum)(int softmax, const T *y, const T *g, ptrdiff_t len) {
    return softmax ? FN(dot)(g, y, len) : FN(sum_pos)(g, len);
}
/* exp(y) over the whole range, for the log_softmax backward */
static inline T FN(expany)(T y) { return FA_SM_CAT(fa_exp_, FA_S)(y); }
static inline int FN(in_expneg_range)(T y) { return (y >= K(EXPNEG_LO)) & (y <= (T)0); }
/* the elementwise pass in T: softmax y (g - s), log_softmax g - e^y s (explicit fma);
   error a few u of |y| (|g| + |s|) or |g| + e^y |s|, inside the backward bar.
   log_softmax: a block with every y in [EXPNEG_LO, 0] (decided per block: same bits
   on every path) takes the cheap exp */
static void FN(bwd)(int softmax, T *o, const T *y, const T *g, ptrdiff_t len, double s) {
    const T st = (T)s;
    if (softmax) {
        for (ptrdiff_t i = 0; i < len; i++) o[i] = y[i] * (g[i] - st);
        return;
    }
    /* the cheap pass checks y as it goes (one read of y); when o overlaps y or g, a
       pass that could be undone must not overwrite them: check first */
    int fast = 1;
    if (!((o + len <= y || y + len <= o) && (o + len <= g || g + len <= o)))
        for (ptrdiff_t i = 0; i < len; i++) fast &= FN(in_expneg_range)(y[i]);
    if (fast)
        for (ptrdiff_t i = 0; i < len; i++) {
            fast &= FN(in_expneg_range)(y[i]);
            o[i] = FMA(-FN(expneg)(y[i]), st, g[i]);
        }
    if (!fast)
        for (ptrdiff_t i = 0; i < len; i++) o[i] = FMA(-FN(expany)(y[i]), st, g[i]);
}

#include "softmax_stream.h"
#include "softmax_avx512.h"
#include "softmax_exp_pass.h"
#include "softmax_rows.h"
#include "softmax_tasks.h"

#undef T
#undef IT
#undef UT
#undef FN
#undef K
#undef FMA
#undef BITS
#undef FROM_BITS
#undef SIGN_BIT
