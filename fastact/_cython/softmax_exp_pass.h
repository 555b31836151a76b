/* One type's exp passes over a block and their sums (part of softmax_impl.h). */

/* one block's exp pass */
typedef struct {
    const T *x;
    const unsigned char *mk;  /* or NULL */
    ptrdiff_t len;
    T m;                      /* the row's max */
    int negate;
    const T *pf;              /* the same block of the next row, prefetched; or NULL */
    FN(wave) *w;              /* the waiting row, streamed alongside (unmasked); or NULL */
    const T *xm;              /* a block of the next row whose max keys to take; or NULL */
    FN(keys) *keys;
} FN(block);

/* o = expneg_s(v - m) (softmax's scaled exps) for len elements */
static inline __attribute__((always_inline)) void FN(expneg_run)(T *o, const T *x,
                                                                  ptrdiff_t len, T m,
                                                                  int negate) {
    if (negate)
        for (ptrdiff_t i = 0; i < len; i++) o[i] = FN(expneg_s)(-x[i] - m);
    else
        for (ptrdiff_t i = 0; i < len; i++) o[i] = FN(expneg_s)(x[i] - m);
}
/* the same in groups of 64, each prefetching 64 elements of pf and streaming 64 of
   the waiting row w; the masked form (0 where masked) neither prefetches nor streams */
static void FN(expneg_pass)(T *o, const FN(block) *b) {
    const T *pf = b->pf;
    ptrdiff_t i = 0;
    if (b->mk != NULL) {
        const T sg = b->negate ? (T)-1 : (T)1;
        for (; i < b->len; i++) {
            T e = FN(expneg_s)(sg * b->x[i] - b->m);
            o[i] = b->mk[i] ? e : (T)0;
        }
        return;
    }
    const int l2 = FA_SM_PREFETCH_LONG(pf, b->x);
    if (pf != NULL || b->w != NULL)
        for (; i + FA_SM_GROUP <= b->len; i += FA_SM_GROUP) {
            if (pf != NULL)
                for (int c = 0; c < (int)(FA_SM_GROUP * sizeof(T)); c += FA_SM_LINE)
                    FA_SM_PREFETCH_ROW((const char *)(pf + i) + c, l2);
            FN(expneg_run)(o + i, b->x + i, FA_SM_GROUP, b->m, b->negate);
            FN(wave_step)(b->w, FA_SM_GROUP);
        }
    FN(expneg_run)(o + i, b->x + i, b->len - i, b->m, b->negate);
}
/* AVX-512, unmasked: the fused pass (the wave's span first), masked tail, lane sums */
static double FN(exp_store_v)(T *o, const FN(block) *b) {
    double dacc[FA_SM_LANES] = {0};
    T *so;
    FN(wave) *w = b->w;
    ptrdiff_t span = FN(wave_span)(w, b->len, &so), i = 0;
    FN(vpass) p = {o, b->x, span, b->m, b->pf, so, so ? w->e + w->j : NULL,
                   so ? w->a : 0, 0, b->xm, b->keys, dacc, 0};
    if (so != NULL) {
        i = FN(vexp_sum)(&p, b->negate);
        w->j += span;
    }
    p.o = o + i;
    p.x = b->x + i;
    p.len = b->len - i;
    p.pf = b->pf ? b->pf + i : NULL;
    p.so = NULL;
    p.xm = b->xm ? b->xm + i : NULL;
    i += FN(vexp_sum)(&p, b->negate);
    FN(exp_tail)(o + i, b->x + i, b->len - i, b->m, b->negate);
    if (b->xm != NULL) FN(keys_add)(b->xm + i, b->len - i, b->negate, b->keys);
    return FN(tail_sum)(dacc, o + i, b->len - i);
}
/* softmax's block: o = 2^s exp(v - m) (0 where masked), prefetching, stepping the wave
   and taking the max keys of xm as it goes; returns the block sum */
static double FN(exp_store)(T *o, const FN(block) *b) {
    if (FA_SM_HAVE_AVX512 && b->mk == NULL) return FN(exp_store_v)(o, b);
    if (b->xm != NULL) FN(keys_add)(b->xm, b->len, b->negate, b->keys);
    FN(expneg_pass)(o, b);
    return FN(sum_pos)(o, b->len);
}
/* pipelined softmax block: o = 2^s exp(v - m), returning the max of the next row's block
   xm[0:nn) (nn = len, or 0 at the end), taken in the same loop */
static T FN(exp_store_next)(T *o, const FN(block) *b, ptrdiff_t nn) {
    const IT flip = b->negate ? SIGN_BIT : 0;
    const T *x = b->x, *xn = b->xm;
    const T m = b->m;
    FN(keys) k = FN(keys_init)();
    IT hi = k.hi, lo = k.lo;
    ptrdiff_t c = b->len < nn ? b->len : nn, i;
    if (b->negate) {
        for (i = 0; i < c; i++) {
            o[i] = FN(expneg_s)(-x[i] - m);
            IT v = (IT)BITS(xn[i]) ^ flip;
            hi = v > hi ? v : hi;
            lo = v < lo ? v : lo;
        }
    } else {
        for (i = 0; i < c; i++) {
            o[i] = FN(expneg_s)(x[i] - m);
            IT v = (IT)BITS(xn[i]);
            hi = v > hi ? v : hi;
            lo = v < lo ? v : lo;
        }
    }
    FN(expneg_run)(o + c, x + c, b->len - c, m, b->negate);
    k.hi = hi;
    k.lo = lo;
    return FN(key_max)(k);
}

/* e = exp_scaled(v, m) for v != m, 0 for the ties; returns the count of ties */
static inline ptrdiff_t FN(exp_rest_run)(T *e, const T *x, ptrdiff_t len, T m) {
    ptrdiff_t t = 0;
    for (ptrdiff_t k = 0; k < len; k++) {
        T v = x[k];
        T y = FN(exp_scaled)(v, m);
        e[k] = v == m ? (T)0 : y;
        t += v == m;
    }
    return t;
}
/* log_softmax's and logsumexp's masked block: buf = exp_scaled(x - m) for x != m,
   0 else and where masked; *ties = #(x == m, kept); returns the sum */
static double FN(exp_rest)(T *buf, const FN(block) *b, ptrdiff_t *ties) {
    const T *x = b->x, m = b->m;
    const unsigned char *mk = b->mk;
    const ptrdiff_t len = b->len;
    ptrdiff_t t = 0;
    for (ptrdiff_t i = 0; i < len; i++) {
        T v = x[i];
        T e = FN(exp_scaled)(v, m);
        int keep = mk[i] != 0;
        buf[i] = (keep & (v != m)) ? e : (T)0;
        t += keep & (v == m);
    }
    *ties = t;
    return FN(sum_pos)(buf, len);
}
/* the unmasked block in one pass (no scratch): the terms of each group added as
   sum_pos adds them, so the bits are those of exp_rest's; xm (unmasked, not negated):
   its max added to keys alongside (a NaN of xm may be left out) */
static double FN(exp_rest_sum)(const FN(block) *b, ptrdiff_t *ties) {
    double dacc[FA_SM_LANES] = {0};
    FN(wave) *w = b->w;
    ptrdiff_t i = 0, t = 0;
    if (FA_SM_HAVE_AVX512) {
        T *so;
        ptrdiff_t span = FN(wave_span)(w, b->len, &so);
        FN(vpass) p = {NULL, b->x, span, b->m, b->pf, so, so ? w->e + w->j : NULL,
                       so ? w->a : 0, so ? w->b : 0, b->xm, b->keys, dacc, 0};
        if (so != NULL) {
            i = FN(vexp_rest_sum)(&p);
            w->j += span;
        }
        p.x = b->x + i;
        p.len = b->len - i;
        p.pf = b->pf ? b->pf + i : NULL;
        p.so = NULL;
        p.xm = b->xm ? b->xm + i : NULL;
        i += FN(vexp_rest_sum)(&p);
        t = p.ties;
    }
    if (b->xm != NULL) FN(keys_add)(b->xm + i, b->len - i, 0, b->keys);
    T e[FA_SM_GROUP];
    for (; i + FA_SM_GROUP <= b->len; i += FA_SM_GROUP) {
        if (b->pf != NULL)
            for (int c = 0; c < (int)(FA_SM_GROUP * sizeof(T)); c += FA_SM_LINE)
                FA_SM_PREFETCH((const char *)(b->pf + i) + c);
        FN(wave_step)(w, FA_SM_GROUP);
        t += FN(exp_rest_run)(e, b->x + i, FA_SM_GROUP, b->m);
        FN(sum_group)(dacc, e);
    }
    t += FN(exp_rest_run)(e, b->x + i, b->len - i, b->m);
    *ties = t;
    return FN(sum_finish)(dacc, e, b->len - i);
}
