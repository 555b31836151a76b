/* One type's AVX-512 bodies (part of softmax_impl.h): the exp passes and their
 * block sums fused, 64 elements (one group) at a time, masked tails, short rows in
 * registers.  Each computes the operations of the scalar code in its order (same
 * bits), with fewer passes over the block.  Without AVX-512 they are stubs that are
 * never called (FA_SM_HAVE_AVX512 is 0). */
/* A fused exp pass over the whole groups of x[0:len): the arguments. */
typedef struct {
    T *o;                /* softmax: the exps */
    const T *x;
    ptrdiff_t len;
    T m;
    const T *pf;         /* the same place of the next row, prefetched; or NULL */
    T *so;               /* stream so = se * a (softmax) or (se - a) - b alongside; or NULL */
    const T *se;
    T a, b;
    const T *xm;         /* softmax: take the max keys of xm[0:len) alongside; or NULL */
    FN(keys) *keys;
    double *dacc;        /* the 16 lanes the group sums are added into */
    ptrdiff_t ties;      /* log: the count of x == m, added to */
} FN(vpass);

#if FA_SM_HAVE_AVX512

#ifndef FA_SM_AVX512_LAYER
#define FA_SM_AVX512_LAYER
#define FA_SM_VT_f32 __m512
#define FA_SM_VT_f64 __m512d
#define FA_SM_VM_f32 __mmask16
#define FA_SM_VM_f64 __mmask8
/* the 16 double lanes dacc of a block sum, pairwise (fold_lanes' order) */
static inline double fa_sm_fold16(__m512d d0, __m512d d1) {       /* lanes j, j + 8 */
    __m512d d = _mm512_add_pd(d0, d1);
    __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(d), _mm512_extractf64x4_pd(d, 1));
    __m128d g = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(g) + _mm_cvtsd_f64(_mm_unpackhi_pd(g, g));
}
/* the lanes (a: 0-7, b: 8-15) of a group of 64 exps e, as sum_group makes them:
   lane j gets (e_j + e_j+16) + (e_j+32 + e_j+48) */
static inline void fa_sm_vlanes_f32(const __m512 *e, __m512d *a, __m512d *b) {
    __m512 s = _mm512_add_ps(_mm512_add_ps(e[0], e[1]), _mm512_add_ps(e[2], e[3]));
    *a = _mm512_cvtps_pd(_mm512_castps512_ps256(s));
    *b = _mm512_cvtps_pd(_mm512_extractf32x8_ps(s, 1));
}
/* doubles: vectors 0, 2, 4, 6 hold elements 0-7, 16-23, 32-39, 48-55 (lanes 0-7) */
static inline void fa_sm_vlanes_f64(const __m512d *e, __m512d *a, __m512d *b) {
    *a = _mm512_add_pd(_mm512_add_pd(e[0], e[2]), _mm512_add_pd(e[4], e[6]));
    *b = _mm512_add_pd(_mm512_add_pd(e[1], e[3]), _mm512_add_pd(e[5], e[7]));
}
/* the 16 vectors r transposed: lane i of r[j] <- lane j of r[i] */
static inline void fa_sm_transpose16_f32(__m512 *r) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
    }
}
/* fa_sm_fold16's folds after its first (lanes j + 4, j + 2, j + 1, lower lanes first)
   of 8 rows' 8 double lanes a[0..7] at once: lane l of the result is row
   (l & 1) * 4 + l / 2 */
static inline __m512d fa_sm_fold8x8(const __m512d *a) {
    __m512d b[4], c[2];
    for (int i = 0; i < 4; i++)         /* rows 2i, 2i + 1: lanes 0-3, 4-7 */
        b[i] = _mm512_add_pd(_mm512_shuffle_f64x2(a[2 * i], a[2 * i + 1], 0x44),
                             _mm512_shuffle_f64x2(a[2 * i], a[2 * i + 1], 0xEE));
    for (int i = 0; i < 2; i++)         /* rows 4i .. 4i + 3: a pair of lanes each */
        c[i] = _mm512_add_pd(_mm512_shuffle_f64x2(b[2 * i], b[2 * i + 1], 0x88),
                             _mm512_shuffle_f64x2(b[2 * i], b[2 * i + 1], 0xDD));
    return _mm512_add_pd(_mm512_unpacklo_pd(c[0], c[1]), _mm512_unpackhi_pd(c[0], c[1]));
}
/* the products a_i b_i in double of the 16 elements at a, b (the first r of them, the
   others 0) added into the lanes d0 (elements 0-7), d1 (8-15) */
static inline void fa_sm_vdot16_f32(const float *a, const float *b, ptrdiff_t r, __m512d *d0,
                                    __m512d *d1) {
    __mmask16 k = r >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << r) - 1);
    __m512 va = _mm512_maskz_loadu_ps(k, a), vb = _mm512_maskz_loadu_ps(k, b);
    *d0 = _mm512_add_pd(*d0, _mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(va)),
                                           _mm512_cvtps_pd(_mm512_castps512_ps256(vb))));
    *d1 = _mm512_add_pd(*d1, _mm512_mul_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(va, 1)),
                                           _mm512_cvtps_pd(_mm512_extractf32x8_ps(vb, 1))));
}
/* a backward row of n <= 16 as bsum's 16 double lanes (lane j: g_j y_j, or g_j; 0 from n
   on): elements 0-7 in *lo, 8-15 in *hi */
static inline void fa_sm_bwd_lanes16_f32(int softmax, const float *y, const float *g,
                                         ptrdiff_t n, __m512d *lo, __m512d *hi) {
    const __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    const __m512 vg = _mm512_maskz_loadu_ps(k, g);
    *lo = _mm512_cvtps_pd(_mm512_castps512_ps256(vg));
    *hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(vg, 1));
    if (softmax) {
        const __m512 vy = _mm512_maskz_loadu_ps(k, y);
        *lo = _mm512_mul_pd(*lo, _mm512_cvtps_pd(_mm512_castps512_ps256(vy)));
        *hi = _mm512_mul_pd(*hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(vy, 1)));
    }
}
static inline void fa_sm_bwd_lanes16_f64(int softmax, const double *y, const double *g,
                                         ptrdiff_t n, __m512d *lo, __m512d *hi) {
    const __mmask8 k0 = n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << n) - 1);
    const __mmask8 k1 = n >= 16 ? (__mmask8)0xFF : n > 8 ? (__mmask8)((1u << (n - 8)) - 1) : 0;
    *lo = _mm512_maskz_loadu_pd(k0, g);
    *hi = _mm512_maskz_loadu_pd(k1, g + 8);
    if (softmax) {
        *lo = _mm512_mul_pd(*lo, _mm512_maskz_loadu_pd(k0, y));
        *hi = _mm512_mul_pd(*hi, _mm512_maskz_loadu_pd(k1, y + 8));
    }
}
static inline void fa_sm_vdot16_f64(const double *a, const double *b, ptrdiff_t r,
                                    __m512d *d0, __m512d *d1) {
    __mmask8 k0 = r >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << r) - 1);
    __mmask8 k1 = r >= 16 ? (__mmask8)0xFF : r > 8 ? (__mmask8)((1u << (r - 8)) - 1) : 0;
    *d0 = _mm512_add_pd(*d0, _mm512_mul_pd(_mm512_maskz_loadu_pd(k0, a),
                                           _mm512_maskz_loadu_pd(k0, b)));
    *d1 = _mm512_add_pd(*d1, _mm512_mul_pd(_mm512_maskz_loadu_pd(k1, a + 8),
                                           _mm512_maskz_loadu_pd(k1, b + 8)));
}
#endif

#define VT FA_SM_CAT(FA_SM_VT_, FA_S)
#define VM FA_SM_CAT(FA_SM_VM_, FA_S)
#define VL ((ptrdiff_t)(64 / sizeof(T)))             /* lanes per vector */
#define NV (FA_SM_GROUP / (64 / (int)sizeof(T)))     /* vectors per group */
#define V(op) FA_SM_CAT(FA_SM_CAT(_mm512_, op), FA_SM_CAT(_, FA_SM_CAT(FA_SM_VS_, FA_S)))
#define VI(op) FA_SM_CAT(FA_SM_CAT(_mm512_, op), FA_SM_CAT(_, FA_SM_CAT(FA_SM_VI_, FA_S)))
#define V_TO_I FA_SM_CAT(FA_SM_CAT(_mm512_cast, FA_SM_CAT(FA_SM_VS_, FA_S)), _si512)
#define V_CMP FA_SM_CAT(V(cmp), _mask)
#define V_LANES FA_SM_CAT(fa_sm_vlanes_, FA_S)

/* a group of 64 exps e added into the 16 double lanes d0, d1 */
static inline void FN(vfold)(const VT *e, __m512d *d0, __m512d *d1) {
    __m512d a, b;
    V_LANES(e, &a, &b);
    *d0 = _mm512_add_pd(*d0, a);
    *d1 = _mm512_add_pd(*d1, b);
}

/* the lanes of a vector holding the first r of the elements left */
static inline VM FN(vmask)(ptrdiff_t r) {
    return r >= VL ? (VM)~0u : r > 0 ? (VM)((1u << r) - 1) : (VM)0;
}
/* pow2_poly lane by lane */
static inline VT FN(vpow2_poly)(VT k, VT r, unsigned bias) {
    static const T c[] = K(POLY);
    VT p = V(fmadd)(V(set1)(c[0]), r, V(set1)(c[1]));
#pragma GCC unroll 16
    for (int j = 2; j < (int)(sizeof c / sizeof c[0]); j++) p = V(fmadd)(p, r, V(set1)(c[j]));
    __m512i e = VI(slli)(VI(sub)(V_TO_I(k), VI(set1)((IT)(K(SHIFT_BITS) - bias))), K(MANT_BITS));
    return V(mul)(p, V(castsi512)(e));
}
/* expneg_at lane by lane (max keeps NaN: the clamp's second operand) */
static inline VT FN(vexpneg_at)(VT t, T clamp, unsigned bias) {
    VT tc = V(max)(V(set1)(clamp), t);
    VT k = V(fmadd)(tc, V(set1)(K(LOG2E)), V(set1)(K(SHIFT)));
    VT n = V(sub)(k, V(set1)(K(SHIFT)));
    VT r = V(fmadd)(n, V(set1)(-K(LN2_HI)), tc);
    r = V(fmadd)(n, V(set1)(-K(LN2_LO)), r);
    return FN(vpow2_poly)(k, r, bias);
}
/* expneg_s (softmax's scaled exp) and expneg lane by lane */
static inline VT FN(vexpneg_s)(VT t) {
    return FN(vexpneg_at)(t, K(EXP_CLAMP), K(EXP_BIAS) + K(SCALE_LOG2));
}
static inline VT FN(vexpneg)(VT t) { return FN(vexpneg_at)(t, K(EXPNEG_CLAMP), K(EXP_BIAS)); }
/* exp_scaled lane by lane, 0 where v == m (the ties, returned in *tie) */
static inline VT FN(vexp_scaled_rest)(VT v, VT vm, VT vnm, VM *tie) {
    const VT lo = V(set1)(K(EXP_CLAMP));
    VT tt = V(sub)(v, vm);
    VT tc = V(max)(lo, tt);
    VT k = V(fmadd)(tc, V(set1)(K(LOG2E)), V(set1)(K(SHIFT)));
    VT n = V(sub)(k, V(set1)(K(SHIFT)));
    VT r = V(fmadd)(n, V(set1)(-K(LN2_HI)), tc);
    r = V(fmadd)(n, V(set1)(-K(LN2_LO)), r);
    *tie = V_CMP(v, vm, _CMP_EQ_OQ);
    VM drop = *tie;
    VT bb = V(sub)(tt, v); /* x - m carried exactly (TwoSum), as in exp_scaled */
    VT err = V(add)(V(sub)(v, V(sub)(tt, bb)), V(sub)(vnm, bb));
    r = V(add)(r, err);
    drop = (VM)(drop | V_CMP(tt, lo, _CMP_LT_OQ));
    return V(mask_blend)(drop, FN(vpow2_poly)(k, r, K(EXP_BIAS) + K(SCALE_LOG2)),
                         V(setzero)());
}


/* softmax: o = expneg_s(v - m), their group sums added into dacc; returns the count
   of elements done (whole groups); the caller does the rest.  0 + a = a: a block in
   one call or in pieces gives the same bits.  l2: see FA_SM_PREFETCH_LONG */
static inline __attribute__((always_inline)) ptrdiff_t FN(vexp_sum_body)(
        FN(vpass) *p, const int negate, const int l2) {
    const VT vm = V(set1)(p->m), va = V(set1)(p->a);
    const __m512i flip = VI(set1)(negate ? SIGN_BIT : 0);
    __m512i khv = VI(set1)(p->xm ? p->keys->hi : 0), klv = VI(set1)(p->xm ? p->keys->lo : 0);
    __m512d d0 = _mm512_loadu_pd(p->dacc), d1 = _mm512_loadu_pd(p->dacc + 8);
    ptrdiff_t i = 0;
    for (; i + FA_SM_GROUP <= p->len; i += FA_SM_GROUP) {
        VT e[NV];
        for (int q = 0; q < NV; q++) {
            const ptrdiff_t at = i + VL * q;
            if (p->pf != NULL) FA_SM_PREFETCH_ROW(p->pf + at, l2);
            VT v = V(loadu)(p->x + at);
            v = negate ? V(sub)(V(setzero)(), v) : v;
            e[q] = FN(vexpneg_s)(V(sub)(v, vm));
            V(storeu)(p->o + at, e[q]);
            if (p->so != NULL) V(stream)(p->so + at, V(mul)(V(loadu)(p->se + at), va));
            if (p->xm != NULL) {
                __m512i kb = _mm512_xor_si512(_mm512_loadu_si512((const void *)(p->xm + at)), flip);
                khv = VI(max)(khv, kb);
                klv = VI(min)(klv, kb);
            }
        }
        FN(vfold)(e, &d0, &d1);
    }
    _mm512_storeu_pd(p->dacc, d0);
    _mm512_storeu_pd(p->dacc + 8, d1);
    if (p->xm != NULL) {
        p->keys->hi = VI(reduce_max)(khv);
        p->keys->lo = VI(reduce_min)(klv);
    }
    return i;
}
static inline __attribute__((always_inline)) ptrdiff_t FN(vexp_sum)(FN(vpass) *p, int negate) {
    if (FA_SM_PREFETCH_LONG(p->pf, p->x))
        return negate ? FN(vexp_sum_body)(p, 1, 1) : FN(vexp_sum_body)(p, 0, 1);
    return negate ? FN(vexp_sum_body)(p, 1, 0) : FN(vexp_sum_body)(p, 0, 0);
}
/* log_softmax's and logsumexp's: the group sums of exp_scaled over x != m (ties
   counted in p->ties); so: the wave's o = (se - a) - b alongside; xm: its max (one
   float max a vector, NaN left out) added to p->keys alongside (cross-entropy: the
   next row's; a NaN left out there shows as the row's NaN sum) */
static inline __attribute__((always_inline)) ptrdiff_t FN(vexp_rest_sum_body)(
        FN(vpass) *p, const int take_max) {
    const VT vm = V(set1)(p->m), vnm = V(set1)(-p->m);
    const VT va = V(set1)(p->a), vb = V(set1)(p->b);
    VT vmx = V(set1)(-(T)INFINITY);
    __m512d d0 = _mm512_loadu_pd(p->dacc), d1 = _mm512_loadu_pd(p->dacc + 8);
    ptrdiff_t i = 0, t = 0;
    for (; i + FA_SM_GROUP <= p->len; i += FA_SM_GROUP) {
        VT e[NV];
        for (int q = 0; q < NV; q++) {
            const ptrdiff_t at = i + VL * q;
            if (p->pf != NULL) FA_SM_PREFETCH(p->pf + at);
            VM tie;
            e[q] = FN(vexp_scaled_rest)(V(loadu)(p->x + at), vm, vnm, &tie);
            t += __builtin_popcount((unsigned)tie);
            if (p->so != NULL)
                V(stream)(p->so + at, V(sub)(V(sub)(V(loadu)(p->se + at), va), vb));
            if (take_max) vmx = V(max)(V(loadu)(p->xm + at), vmx);
        }
        FN(vfold)(e, &d0, &d1);
    }
    _mm512_storeu_pd(p->dacc, d0);
    _mm512_storeu_pd(p->dacc + 8, d1);
    p->ties += t;
    if (take_max) {
        T mx = V(reduce_max)(vmx);
        FN(keys_add)(&mx, 1, 0, p->keys);
    }
    return i;
}
static inline __attribute__((always_inline)) ptrdiff_t FN(vexp_rest_sum)(FN(vpass) *p) {
    return p->xm != NULL ? FN(vexp_rest_sum_body)(p, 1) : FN(vexp_rest_sum_body)(p, 0);
}
/* o = expneg_s(v - m) for the last < 64 elements of a block, by masked vectors */
static inline void FN(exp_tail)(T *o, const T *x, ptrdiff_t len, T m, int negate) {
    const VT vm = V(set1)(m);
    for (ptrdiff_t k = 0; k < len; k += VL) {
        VM mk = FN(vmask)(len - k);
        VT v = V(maskz_loadu)(mk, x + k);
        v = negate ? V(sub)(V(setzero)(), v) : v;
        V(mask_storeu)(o + k, mk, FN(vexpneg_s)(V(sub)(v, vm)));
    }
}
/* the block sum from the lanes dacc and the last len < 64 exps e (sum_finish's) */
static inline double FN(tail_sum)(const double *dacc, const T *e, ptrdiff_t len) {
    __m512d d0 = _mm512_loadu_pd(dacc), d1 = _mm512_loadu_pd(dacc + 8);
    if (len > 0) {
        VT q[NV];
        for (int j = 0; j < NV; j++) q[j] = V(maskz_loadu)(FN(vmask)(len - VL * j), e + VL * j);
        FN(vfold)(q, &d0, &d1);
    }
    return fa_sm_fold16(d0, d1);
}
/* A softmax row of 1 to 64 elements (no mask) in registers, with the operations and
   order of row_max, the exp pass (the whole row is its tail) and scale: same bits,
   without their calls and loop set-ups.  Returns 1, writing nothing (o may be x),
   when the row is special (max not finite, or a NaN sum): the general path finishes it. */
static inline int FN(short_row)(T *o, const T *x, ptrdiff_t n, int negate) {
    VT v[NV], e[NV];
    VM k[NV];
    const __m512i flip = VI(set1)(negate ? SIGN_BIT : 0);
    __m512i kh = VI(set1)(SIGN_BIT), kl = VI(set1)((IT)BITS(-(T)INFINITY));
    for (int j = 0; j < NV; j++) {
        k[j] = FN(vmask)(n - VL * j);
        v[j] = V(maskz_loadu)(k[j], x + VL * j);
        __m512i b = _mm512_xor_si512(V_TO_I(v[j]), flip);
        kh = VI(mask_max)(kh, k[j], kh, b);
        kl = VI(mask_min)(kl, k[j], kl, b);
    }
    FN(keys) keys = {VI(reduce_max)(kh), VI(reduce_min)(kl)};
    T m = FN(key_max)(keys);
    if (!(m - m == 0)) return 1;
    const VT vm = V(set1)(m);
    for (int j = 0; j < NV; j++) {                   /* unused vectors: 0, exactly */
        VT t = negate ? V(sub)(V(setzero)(), v[j]) : v[j];
        e[j] = k[j] ? V(maskz_mov)(k[j], FN(vexpneg_s)(V(sub)(t, vm))) : V(setzero)();
    }
    __m512d a, b;
    V_LANES(e, &a, &b);
    double s = fa_sm_fold16(a, b);
    if (s != s) return 1;
    const VT f = V(set1)((T)(1.0 / s));
    for (int j = 0; j < NV; j++) V(mask_storeu)(o + VL * j, k[j], V(mul)(e[j], f));
    return 0;
}

/* log_softmax / logsumexp, a short row of n >= 1 (no mask): its max *m
   (row_max's) and the argument of log_sum's log1p, *arg (log_arg), from the sum and
   ties of exp_rest_sum (the last group padded: exp 0, no tie; same bits).  Returns 1,
   writing nothing, for the general path's special rows. */
static inline int FN(short_log_sum)(const T *x, ptrdiff_t n, T *m, double *arg) {
    __m512i kh = VI(set1)(SIGN_BIT), kl = VI(set1)((IT)BITS(-(T)INFINITY));
    for (ptrdiff_t j = 0; j < n; j += VL) {
        const VM k = FN(vmask)(n - j);
        const __m512i b = V_TO_I(V(maskz_loadu)(k, x + j));
        kh = VI(mask_max)(kh, k, kh, b);
        kl = VI(mask_min)(kl, k, kl, b);
    }
    FN(keys) keys = {VI(reduce_max)(kh), VI(reduce_min)(kl)};
    const T mm = FN(key_max)(keys);
    if (!(mm - mm == 0)) return 1;
    const VT vm = V(set1)(mm), vnm = V(set1)(-mm);
    __m512d d0 = _mm512_setzero_pd(), d1 = _mm512_setzero_pd();
    ptrdiff_t ties = 0;
    for (ptrdiff_t i = 0; i < n; i += FA_SM_GROUP) {
        VT e[NV];
        for (int q = 0; q < NV; q++) {
            const VM k = FN(vmask)(n - i - VL * q);
            VM tie = 0;
            e[q] = k ? V(maskz_mov)(k, FN(vexp_scaled_rest)(V(maskz_loadu)(k, x + i + VL * q),
                                                            vm, vnm, &tie))
                     : V(setzero)();
            ties += __builtin_popcount((unsigned)(tie & k));
        }
        FN(vfold)(e, &d0, &d1);
    }
    const double s = fa_sm_fold16(d0, d1);
    if (s != s) return 1;
    *m = mm;
    *arg = FN(log_arg)(s, ties);
    return 0;
}
#if FA_SM_CAT(FA_SM_LANE_ROWS_, FA_S)
/* log_softmax / logsumexp: FA_SM_SHORT_BATCH (16) float rows of n <= 16 (stride n) as
   the lanes of vectors, the rows loaded and transposed (vector j: element j of every
   row; gathers measured slower): per row (lane)
   short_log_sum's max, exps, ties, sum (lane j of the sum: e_j, whole) and pairwise
   fold, so the same m, arg and special flags; no horizontal step.  Returns 1. */
_Static_assert(FA_SM_SHORT_BATCH == 16, "lane_log_sums: a batch is the 16 lanes");
static inline int FN(lane_log_sums)(const T *x, ptrdiff_t n, T *m, double *arg,
                                    unsigned char *special) {
    const VM kn = FN(vmask)(n);
    __m512 c[16];
    __m512i kh = VI(set1)(SIGN_BIT), kl = VI(set1)((IT)BITS(-(T)INFINITY));
    for (int r = 0; r < 16; r++) c[r] = V(maskz_loadu)(kn, x + r * n);
    fa_sm_transpose16_f32(c);
    for (ptrdiff_t j = 0; j < n; j++) {
        kh = VI(max)(kh, V_TO_I(c[j]));
        kl = VI(min)(kl, V_TO_I(c[j]));
    }
    const VT vm = V(castsi512)(VI(mask_blend)(_mm512_cmpge_epi32_mask(kh, _mm512_setzero_si512()), kl, kh));
    const VT vnm = V(xor)(vm, V(set1)(-0.0f));
    __mmask16 bad = (__mmask16)~V_CMP(V(sub)(vm, vm), V(setzero)(), _CMP_EQ_OQ);
    __m512i ties = _mm512_setzero_si512();
    __m512d d[32];                      /* d[j]: rows 0-7 of e_j, d[16 + j]: rows 8-15 */
    for (int j = 0; j < 16; j++) {
        VT e = V(setzero)();
        if (j < n) {
            VM tie;
            e = FN(vexp_scaled_rest)(c[j], vm, vnm, &tie);
            ties = VI(mask_add)(ties, tie, ties, VI(set1)(1));
        }
        d[j] = _mm512_cvtps_pd(_mm512_castps512_ps256(e));
        d[16 + j] = _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1));
    }
    const __m512i t1 = VI(sub)(ties, VI(set1)(1));
    for (int h = 0; h < 2; h++) {       /* fold_lanes' order: j + 8, + 4, + 2, + 1 */
        __m512d *q = d + 16 * h;
        for (int w = 8; w > 0; w /= 2)
            for (int j = 0; j < w; j++) q[j] = _mm512_add_pd(q[j], q[j + w]);
        __m256i th = h ? _mm512_extracti64x4_epi64(t1, 1) : _mm512_castsi512_si256(t1);
        __m512d a = _mm512_add_pd(_mm512_mul_pd(q[0], _mm512_set1_pd(K(UNSCALE))),
                                  _mm512_cvtepi32_pd(th));
        bad |= (__mmask16)((unsigned)_mm512_cmp_pd_mask(q[0], q[0], _CMP_UNORD_Q) << (8 * h));
        _mm512_storeu_pd(arg + 8 * h, a);
    }
    V(storeu)(m, vm);
    for (int i = 0; i < 16; i++) {
        special[i] = (bad >> i) & 1;
        arg[i] = special[i] ? 0.0 : arg[i];
    }
    return 1;
}
/* softmax: FA_SM_SHORT_BATCH (16) float rows of n <= 16 (stride n; o may be x) as the
   lanes of vectors: per row (lane) short_row's max, exps, lanes (e_j, e_j+8) and pairwise
   fold (j + 8, + 4, + 2, + 1: fa_sm_fold16's order), 1/S and products: the same bits.
   Returns 0, writing nothing, when a row is special (a max not finite, a NaN sum). */
static inline int FN(lane_softmax)(T *o, const T *x, ptrdiff_t n, int negate) {
    const VM kn = FN(vmask)(n);
    const __m512i flip = VI(set1)(negate ? SIGN_BIT : 0);
    __m512 c[16];
    __m512i kh = VI(set1)(SIGN_BIT), kl = VI(set1)((IT)BITS(-(T)INFINITY));
    for (int r = 0; r < 16; r++) c[r] = V(maskz_loadu)(kn, x + r * n);
    fa_sm_transpose16_f32(c);
    for (ptrdiff_t j = 0; j < n; j++) {
        const __m512i b = _mm512_xor_si512(V_TO_I(c[j]), flip);
        kh = VI(max)(kh, b);
        kl = VI(min)(kl, b);
    }
    const VT vm = V(castsi512)(VI(mask_blend)(_mm512_cmpge_epi32_mask(kh, _mm512_setzero_si512()), kl, kh));
    if ((__mmask16)~V_CMP(V(sub)(vm, vm), V(setzero)(), _CMP_EQ_OQ)) return 0;
    __m512d d[32];                      /* d[j]: rows 0-7 of e_j, d[16 + j]: rows 8-15 */
    for (int j = 0; j < 16; j++) {
        c[j] = j < n ? FN(vexpneg_s)(V(sub)(negate ? V(sub)(V(setzero)(), c[j]) : c[j], vm))
                     : V(setzero)();
        d[j] = _mm512_cvtps_pd(_mm512_castps512_ps256(c[j]));
        d[16 + j] = _mm512_cvtps_pd(_mm512_extractf32x8_ps(c[j], 1));
    }
    __m256 f[2];
    for (int h = 0; h < 2; h++) {
        __m512d *q = d + 16 * h;
        for (int w = 8; w > 0; w /= 2)
            for (int j = 0; j < w; j++) q[j] = _mm512_add_pd(q[j], q[j + w]);
        if (_mm512_cmp_pd_mask(q[0], q[0], _CMP_UNORD_Q)) return 0;
        f[h] = _mm512_cvtpd_ps(_mm512_div_pd(_mm512_set1_pd(1.0), q[0]));
    }
    const VT vf = _mm512_insertf32x8(_mm512_castps256_ps512(f[0]), f[1], 1);
    for (int j = 0; j < 16; j++) c[j] = V(mul)(c[j], vf);
    fa_sm_transpose16_f32(c);
    for (int r = 0; r < 16; r++) V(mask_storeu)(o + r * n, kn, c[r]);
    return 1;
}
#else
static inline int FN(lane_log_sums)(const T *x, ptrdiff_t n, T *m, double *arg,
                                    unsigned char *special) { return 0; }
static inline int FN(lane_softmax)(T *o, const T *x, ptrdiff_t n, int negate) { return 0; }
#endif
/* A backward batch: 16 rows of n <= 16 (stride n): each row's 16 double lanes of bsum
   (lane j: 0 + g_j y_j, or 0 + g_j), lanes j + 8 added, then the other folds of 8 rows at
   once (fa_sm_fold8x8); then each row's pass as short_bwd makes it (same bits).
   Returns 1. */
static inline int FN(lane_bwd)(int softmax, T *o, const T *y, const T *g, ptrdiff_t n) {
    __m512d a[16];
    double s8[16], s[16];
    for (int r = 0; r < 16; r++) {
        __m512d lo, hi;
        FA_SM_CAT(fa_sm_bwd_lanes16_, FA_S)(softmax, y + r * n, g + r * n, n, &lo, &hi);
        a[r] = _mm512_add_pd(_mm512_add_pd(_mm512_setzero_pd(), lo),
                             _mm512_add_pd(_mm512_setzero_pd(), hi));
    }
    _mm512_storeu_pd(s8, fa_sm_fold8x8(a));
    _mm512_storeu_pd(s8 + 8, fa_sm_fold8x8(a + 8));
    for (int l = 0; l < 16; l++) s[(l & 8) + (l & 1) * 4 + (l & 7) / 2] = s8[l];
    enum { NR = 16 / (64 / (int)sizeof(T)) };        /* vectors a row: 1 float, 2 double */
    VM k[NR];
    for (int j = 0; j < NR; j++) k[j] = FN(vmask)(n - VL * j);
    for (int r = 0; r < 16; r++) {
        const VT st = V(set1)((T)s[r]);
        T *orow = o + r * n;
        const T *yrow = y + r * n, *grow = g + r * n;
        VT vy[NR], vg[NR];
        VM bad = 0;
        for (int j = 0; j < NR; j++) {
            vy[j] = V(maskz_loadu)(k[j], yrow + VL * j);
            vg[j] = V(maskz_loadu)(k[j], grow + VL * j);
        }
        if (softmax) {
            for (int j = 0; j < NR; j++)
                V(mask_storeu)(orow + VL * j, k[j], V(mul)(vy[j], V(sub)(vg[j], st)));
            continue;
        }
        for (int j = 0; j < NR; j++)                   /* y outside [EXPNEG_LO, 0]: bwd */
            bad |= (VM)(k[j] & ~(V_CMP(vy[j], V(set1)(K(EXPNEG_LO)), _CMP_GE_OQ)
                                 & V_CMP(vy[j], V(setzero)(), _CMP_LE_OQ)));
        if (bad) {
            FN(bwd)(0, orow, yrow, grow, n, s[r]);
            continue;
        }
        for (int j = 0; j < NR; j++)
            if (k[j])                                  /* no exps of an empty vector */
                V(mask_storeu)(orow + VL * j, k[j], V(fnmadd)(FN(vexpneg)(vy[j]), st, vg[j]));
    }
    return 1;
}
/* log_softmax's final pass on a row of n: o = (x - m) - l (FN(log)'s) */
static inline void FN(short_log_out)(T *o, const T *x, ptrdiff_t n, T m, T l) {
    const VT vm = V(set1)(m), vl = V(set1)(l);
    for (ptrdiff_t j = 0; j < n; j += VL) {
        VM k = FN(vmask)(n - j);
        V(mask_storeu)(o + j, k, V(sub)(V(sub)(V(maskz_loadu)(k, x + j), vm), vl));
    }
}
/* A backward row of 1 to 64 in registers, bsum's and bwd's operations in their order
   (same bits): softmax s = dot(g, y) (a whole group pairwise in T, else the products
   in double lanes), o = y (g - s); log_softmax s = sum_pos(g), o = g - e^y s with
   softmax's exp when every y is in [EXPNEG_LO, 0] (else bwd does the row). */
static inline __attribute__((always_inline)) void FN(short_bwd)(int softmax, T *o, const T *y,
                                                             const T *g, ptrdiff_t n) {
    VT vy[NV], vg[NV], e[NV];
    VM k[NV];
    for (int j = 0; j < NV; j++) {
        k[j] = FN(vmask)(n - VL * j);
        vy[j] = V(maskz_loadu)(k[j], y + VL * j);
        vg[j] = V(maskz_loadu)(k[j], g + VL * j);
        e[j] = softmax ? V(mul)(vg[j], vy[j]) : vg[j];
    }
    __m512d d0 = _mm512_setzero_pd(), d1 = _mm512_setzero_pd();
    if (n == FA_SM_GROUP || !softmax) {
        FN(vfold)(e, &d0, &d1);
    } else {
        for (ptrdiff_t j = 0; j < n; j += FA_SM_LANES)
            FA_SM_CAT(fa_sm_vdot16_, FA_S)(g + j, y + j, n - j, &d0, &d1);
    }
    const double s = fa_sm_fold16(d0, d1);
    const VT st = V(set1)((T)s);
    if (softmax) {
        for (int j = 0; j < NV; j++)
            if (k[j]) V(mask_storeu)(o + VL * j, k[j], V(mul)(vy[j], V(sub)(vg[j], st)));
        return;
    }
    VM out = 0;
    for (int j = 0; j < NV; j++)
        out |= (VM)(k[j] & ~(V_CMP(vy[j], V(set1)(K(EXPNEG_LO)), _CMP_GE_OQ)
                             & V_CMP(vy[j], V(setzero)(), _CMP_LE_OQ)));
    if (out) {
        FN(bwd)(0, o, y, g, n, s);
        return;
    }
    for (int j = 0; j < NV; j++)
        if (k[j])
            V(mask_storeu)(o + VL * j, k[j], V(fnmadd)(FN(vexpneg)(vy[j]), st, vg[j]));
}

#undef VT
#undef VM
#undef VL
#undef NV
#undef V
#undef VI
#undef V_TO_I
#undef V_CMP
#undef V_LANES

#else /* no AVX-512: never called */
static inline ptrdiff_t FN(vexp_sum)(FN(vpass) *p, int negate) { return 0; }
static inline ptrdiff_t FN(vexp_rest_sum)(FN(vpass) *p) { return 0; }
static inline void FN(exp_tail)(T *o, const T *x, ptrdiff_t len, T m, int negate) {}
static inline double FN(tail_sum)(const double *dacc, const T *e, ptrdiff_t len) { return 0; }
static inline int FN(short_row)(T *o, const T *x, ptrdiff_t n, int negate) { return 1; }
static inline int FN(short_log_sum)(const T *x, ptrdiff_t n, T *m, double *arg) { return 1; }
static inline void FN(short_log_out)(T *o, const T *x, ptrdiff_t n, T m, T l) {}
static inline int FN(lane_log_sums)(const T *x, ptrdiff_t n, T *m, double *arg,
                                    unsigned char *special) { return 0; }
static inline int FN(lane_softmax)(T *o, const T *x, ptrdiff_t n, int negate) { return 0; }
static inline int FN(lane_bwd)(int softmax, T *o, const T *y, const T *g, ptrdiff_t n) {
    return 0;
}
static inline void FN(short_bwd)(int softmax, T *o, const T *y, const T *g, ptrdiff_t n) {}
#endif
