/* One type's row drivers (part of softmax_impl.h): a forward row given its max, and
 * a thread's rows by the plan's path (short, pipelined, plain, wave); backward rows. */

/* what the rows of one thread share */
typedef struct {
    int kind, negate;
    ptrdiff_t n;
    int stream;        /* the final passes use streaming stores */
    T *buf;            /* scratch: a block, or (softmax's wave) a row for the exps */
    const T *pf;       /* the next row, prefetched in the exp pass; or NULL */
    const T *xn;       /* pipelined: the next row, whose max the exp pass takes; or NULL */
    ptrdiff_t nn;      /* its length (0: none) */
    FN(wave) *w;       /* the wave, or NULL */
    int fuse_max;      /* the softmax wave takes the max of pf, a block behind its prefetch */
} FN(rowctx);

typedef struct {
    double s;          /* the sum of the exps (log: scaled, the ties left out) */
    ptrdiff_t ties;
    T next_max;        /* the next row's max when the exp pass takes it, else -inf */
} FN(sums);

/* the exp pass of block lo of row r: its sum, *ties and (pipelined) in *mb the max
   of the next row's block */
static double FN(row_block)(const FN(rowctx) *c, const FN(row) *r, ptrdiff_t lo,
                            FN(keys) *keys, T *mb, ptrdiff_t *ties) {
    const ptrdiff_t len = fa_sm_block_len(c->n, lo);
    const T *xf = c->fuse_max ? c->pf : NULL;
    FN(block) b = {r->x + lo, r->mk ? r->mk + lo : NULL, len, r->m, c->negate,
                   c->pf ? c->pf + lo : NULL, c->w, NULL, keys};
    if (c->kind != FA_SM_SOFTMAX)
        return r->mk == NULL ? FN(exp_rest_sum)(&b, ties) : FN(exp_rest)(c->buf, &b, ties);
    if (c->xn != NULL) {
        ptrdiff_t ln = c->nn - lo < len ? (c->nn > lo ? c->nn - lo : 0) : len;
        b.xm = c->xn + lo;
        *mb = FN(exp_store_next)(r->e + lo, &b, ln);
        return FN(sum_pos)(r->e + lo, len);
    }
    /* the fused max: the next row's block before this one, the last with the last */
    b.xm = (xf && lo > 0) ? xf + lo - FA_SM_BLOCK : NULL;
    double s = FN(exp_store)(r->e + lo, &b);
    if (b.xm != NULL && len < FA_SM_BLOCK)
        FN(keys_add)(b.xm + len, FA_SM_BLOCK - len, c->negate, keys);
    if (xf != NULL && lo + len == c->n) FN(keys_add)(xf + lo, len, c->negate, keys);
    return s;
}
/* the blocks' sums added in block order */
static FN(sums) FN(row_sums)(const FN(rowctx) *c, const FN(row) *r) {
    FN(sums) out = {0.0, 0, -(T)INFINITY};
    FN(keys) keys = FN(keys_init)();
    for (ptrdiff_t lo = 0; lo < c->n; lo += FA_SM_BLOCK) {
        ptrdiff_t tb = 0;
        T mb = -(T)INFINITY;
        out.s += FN(row_block)(c, r, lo, &keys, &mb, &tb);
        out.ties += tb;
        out.next_max = mb > out.next_max ? mb : out.next_max;
    }
    if (c->fuse_max && c->pf != NULL) out.next_max = FN(key_max)(keys);
    return out;
}
/* softmax's final pass: o = e' * (T)(1 / S') (S' the scaled sum); the wave: the row
   waits, the last is done */
static void FN(finish_softmax)(const FN(rowctx) *c, const FN(row) *r, double s) {
    const double inv = 1.0 / s;
    if (c->w != NULL) {
        FN(wave_flush)(c->w);
        FN(wave) row = {r->o, r->e, 0, c->n, 0, FA_SM_OP_SCALE, (T)inv, 0};
        FN(wave_start)(c->w, row, r->x + c->n);
    } else if (r->e != r->o) {
        FN(stream_scale)(r->o, r->e, c->n, (T)inv);
    } else {
        for (ptrdiff_t lo = 0; lo < c->n; lo += FA_SM_BLOCK)
            FN(scale)(r->o + lo, fa_sm_block_len(c->n, lo), inv);
    }
}
/* logsumexp: m + lse; log_softmax's final pass: o = (x - m) - lse */
static void FN(finish_log)(const FN(rowctx) *c, const FN(row) *r, FN(sums) s) {
    const double lse = FN(log_sum)(s.s, s.ties);
    if (c->kind == FA_SM_LOGSUMEXP) {
        r->o[0] = (T)((double)r->m + lse);
    } else if (c->w != NULL) {
        FN(wave_flush)(c->w);
        FN(wave) row = {r->o, r->x, 0, c->n, 0, FA_SM_OP_LOG, r->m, (T)lse};
        FN(wave_start)(c->w, row, r->x + c->n);
    } else {
        for (ptrdiff_t lo = 0; lo < c->n; lo += FA_SM_BLOCK) {
            ptrdiff_t len = fa_sm_block_len(c->n, lo);
            if (c->stream && r->mk == NULL)
                FN(stream_log)(r->o + lo, r->x + lo, len, r->m, (T)lse);
            else
                FN(log)(r->o + lo, r->x + lo, r->mk ? r->mk + lo : NULL, len, (double)r->m, lse);
        }
    }
}
/* A forward row given its max m (o: the row, or the one result of logsumexp), block
   by block; returns the next row's max when the exp pass takes it, else -inf. */
static T FN(row_rest)(const FN(rowctx) *c, T *o, const T *x, const unsigned char *mk, T m) {
    const int in_scratch = c->w != NULL
                           || (c->kind == FA_SM_SOFTMAX && c->stream && c->n <= FA_SM_BLOCK);
    FN(row) r = {o, in_scratch ? c->buf : o, x, mk, m};
    if (!(m - m == 0)) {
        FN(special)(c->kind, &r, c->n, 0);
        return (c->fuse_max && c->pf) ? FN(row_max)(c->pf, NULL, c->n, c->negate)
                                      : FN(row_max)(c->xn, NULL, c->nn, c->negate);
    }
    FN(sums) s = FN(row_sums)(c, &r);
    if (s.s != s.s)
        FN(special)(c->kind, &r, c->n, 1);
    else if (c->kind == FA_SM_SOFTMAX)
        FN(finish_softmax)(c, &r, s.s);
    else
        FN(finish_log)(c, &r, s);
    return s.next_max;
}
/* one whole row, plain */
static void FN(forward_row)(const FN(rowctx) *c, T *o, const T *x, const unsigned char *mk) {
    FN(row_rest)(c, o, x, mk, FN(row_max)(x, mk, c->n, c->negate));
}
/* ---- a thread's rows [r0, r1), r0 < r1 ------------------------------------------- */
#define ROW_PTRS(j)                                                               \
    T *o = (T *)(j)->o;                                                           \
    const T *x = (const T *)(j)->x;                                               \
    const ptrdiff_t n = (j)->n
/* the distance between two rows' results */
static inline ptrdiff_t FN(ostride)(const fa_sm_job *j) {
    return j->kind == FA_SM_LOGSUMEXP && !j->backward ? 1 : j->n;
}
/* log_softmax / logsumexp short rows (AVX-512), FA_SM_SHORT_BATCH at a time: the
   rows' maxima and sums, then their logs in one loop (float: vectorized), then the
   results; special rows by the general path */
static void FN(short_log_rows)(const fa_sm_job *j, FN(rowctx) *plain, ptrdiff_t r0,
                               ptrdiff_t r1) {
    ROW_PTRS(j);
    const ptrdiff_t ostride = FN(ostride)(j);
    T m[FA_SM_SHORT_BATCH];
    double arg[FA_SM_SHORT_BATCH], lse[FA_SM_SHORT_BATCH];
    unsigned char special[FA_SM_SHORT_BATCH];
    for (ptrdiff_t r = r0; r < r1; r += FA_SM_SHORT_BATCH) {
        const ptrdiff_t nb = r1 - r < FA_SM_SHORT_BATCH ? r1 - r : FA_SM_SHORT_BATCH;
        if (nb < FA_SM_SHORT_BATCH || n > FA_SM_SHORT_BATCH
            || !FN(lane_log_sums)(x + r * n, n, m, arg, special))
            for (ptrdiff_t i = 0; i < FA_SM_SHORT_BATCH; i++) {
                arg[i] = 0.0;
                special[i] = i < nb && FN(short_log_sum)(x + (r + i) * n, n, &m[i], &arg[i]);
            }
        for (ptrdiff_t i = 0; i < FA_SM_SHORT_BATCH; i++)
            lse[i] = FA_SM_CAT(FA_SM_LOG1P_, FA_S)(arg[i]);
        for (ptrdiff_t i = 0; i < nb; i++) {
            T *oi = o + (r + i) * ostride;
            const T *xi = x + (r + i) * n;
            if (special[i])
                FN(forward_row)(plain, oi, xi, NULL);
            else if (j->kind == FA_SM_LOGSUMEXP)
                oi[0] = (T)((double)m[i] + lse[i]);
            else
                FN(short_log_out)(oi, xi, n, m[i], (T)lse[i]);
        }
    }
}
static void FN(short_rows)(const fa_sm_job *j, FN(rowctx) *c, ptrdiff_t r0, ptrdiff_t r1) {
    ROW_PTRS(j);
    FN(rowctx) plain = *c;           /* the general path's rows, without streaming */
    plain.stream = 0;
    if (j->kind != FA_SM_SOFTMAX) {
        FN(short_log_rows)(j, &plain, r0, r1);
        return;
    }
    for (ptrdiff_t r = r0; r < r1;) {
        const int batch = n <= FA_SM_SHORT_BATCH && r + FA_SM_SHORT_BATCH <= r1;
        if (batch && FN(lane_softmax)(o + r * n, x + r * n, n, j->negate)) {
            r += FA_SM_SHORT_BATCH;             /* 16 rows as the lanes */
            continue;
        }
        for (const ptrdiff_t e = batch ? r + FA_SM_SHORT_BATCH : r1; r < e; r++)
            if (FN(short_row)(o + r * n, x + r * n, n, j->negate))
                FN(forward_row)(&plain, o + r * n, x + r * n, NULL);
    }
}
static void FN(pipelined_rows)(const fa_sm_job *j, FN(rowctx) *c, ptrdiff_t r0,
                               ptrdiff_t r1) {
    ROW_PTRS(j);
    const ptrdiff_t ostride = FN(ostride)(j);
    T m = FN(row_max)(x + r0 * n, NULL, n, j->negate);
    for (ptrdiff_t r = r0; r < r1; r++) {
        c->xn = x + (r + 1) * n;
        c->nn = r + 1 < r1 ? n : 0;
        m = FN(row_rest)(c, o + r * ostride, x + r * n, NULL, m);
    }
}
/* large: each exp pass prefetches the next row */
static void FN(plain_rows)(const fa_sm_job *j, FN(rowctx) *c, ptrdiff_t r0, ptrdiff_t r1) {
    ROW_PTRS(j);
    const ptrdiff_t ostride = FN(ostride)(j);
    const unsigned char *mk = j->mk;
    T m = FN(row_max)(x + r0 * n, mk ? mk + r0 * n : NULL, n, j->negate);
    for (ptrdiff_t r = r0; r < r1; r++) {
        c->pf = (j->large && r + 1 < r1) ? x + (r + 1) * n : NULL;
        FN(row_rest)(c, o + r * ostride, x + r * n, mk ? mk + r * n : NULL, m);
        if (r + 1 < r1) m = FN(row_max)(x + (r + 1) * n, mk ? mk + (r + 1) * n : NULL, n, j->negate);
    }
}
/* the wave; softmax's two rows of scratch (-1: none to be had) on whole lines, their
   page offsets half and a quarter page from x's (see fa_sm_page_offset) */
static int FN(wave_rows)(const fa_sm_job *j, FN(rowctx) *c, ptrdiff_t r0, ptrdiff_t r1) {
    ROW_PTRS(j);
    const ptrdiff_t ostride = FN(ostride)(j), nl = (n + 15) & ~(ptrdiff_t)15;
    T *sc = NULL, *rows2[2] = {c->buf, c->buf};
    if (j->kind == FA_SM_SOFTMAX) {
        sc = (T *)fa_sm_aligned_alloc(2 * (size_t)nl * sizeof(T) + 2 * FA_SM_PAGE);
        if (sc == NULL) return -1;
        rows2[0] = (T *)fa_sm_page_offset(sc, x + r0 * n, FA_SM_PAGE / 2);
        rows2[1] = (T *)fa_sm_page_offset(rows2[0] + nl, x + r0 * n, FA_SM_PAGE / 4);
    }
    FN(wave) w = {NULL, NULL, 0, 0, 0, 0, 0, 0};
    int cur = 0;
    c->w = &w;
    c->fuse_max = FA_SM_HAVE_AVX512 && sc != NULL;
    T m = FN(row_max)(x + r0 * n, NULL, n, j->negate);
    for (ptrdiff_t r = r0; r < r1; r++) {
        c->pf = r + 1 < r1 ? x + (r + 1) * n : NULL;
        c->buf = rows2[cur];
        T mn = FN(row_rest)(c, o + r * ostride, x + r * n, NULL, m);
        if (sc && w.e == c->buf) cur ^= 1;    /* the row waits: the next, the other */
        if (r + 1 < r1) m = c->fuse_max ? mn : FN(row_max)(x + (r + 1) * n, NULL, n, j->negate);
    }
    FN(wave_flush)(&w);
    free(sc);
    return 0;
}
/* rows [r0, r1) of a forward op on one thread, by the plan's path */
static void FN(forward_rows)(const fa_sm_job *j, ptrdiff_t r0, ptrdiff_t r1) {
    T buf[FA_SM_BLOCK] __attribute__((aligned(64)));
    FN(rowctx) c = {j->kind, j->negate, j->n, j->large && j->kind != FA_SM_LOGSUMEXP, buf,
                    NULL, NULL, 0, NULL, 0};
    if (r0 >= r1) return;
    if (j->path == FA_SM_SHORT) {
        FN(short_rows)(j, &c, r0, r1);
        return;
    }
    if (j->path == FA_SM_PIPELINED)
        FN(pipelined_rows)(j, &c, r0, r1);
    else if (j->path != FA_SM_WAVE || FN(wave_rows)(j, &c, r0, r1) != 0)
        FN(plain_rows)(j, &c, r0, r1);
    if (c.stream) FA_SM_SFENCE();
}

/* ---- backward ------------------------------------------------------------------ */
static double FN(backward_sum)(int softmax, const T *y, const T *g, ptrdiff_t n) {
    double s = 0.0;
    for (ptrdiff_t lo = 0; lo < n; lo += FA_SM_BLOCK)
        s += FN(bsum)(softmax, y + lo, g + lo, fa_sm_block_len(n, lo));
    return s;
}
static void FN(backward_row)(int softmax, T *o, const T *y, const T *g, ptrdiff_t n) {
    const double s = FN(backward_sum)(softmax, y, g, n);
    for (ptrdiff_t lo = 0; lo < n; lo += FA_SM_BLOCK)
        FN(bwd)(softmax, o + lo, y + lo, g + lo, fa_sm_block_len(n, lo), s);
}
/* rows [r0, r1) of a backward op; large (softmax only): streaming stores, and rows of
   one block prefetch the next */
static void FN(backward_rows)(const fa_sm_job *j, ptrdiff_t r0, ptrdiff_t r1) {
    ROW_PTRS(j);
    const T *g = (const T *)j->g;
    const int softmax = j->kind, large = j->large && softmax;
    if (FA_SM_HAVE_AVX512 && n <= FA_SM_GROUP) {     /* rows in registers */
        ptrdiff_t r = r0;
        if (n <= FA_SM_SHORT_BATCH)                 /* 16 rows as the lanes */
            for (; r + FA_SM_SHORT_BATCH <= r1 && FN(lane_bwd)(softmax, o + r * n, x + r * n,
                                                               g + r * n, n);
                 r += FA_SM_SHORT_BATCH) {}
        for (; r < r1; r++) FN(short_bwd)(softmax, o + r * n, x + r * n, g + r * n, n);
        return;
    }
    for (ptrdiff_t r = r0; r < r1; r++) {
        const ptrdiff_t at = r * n;
        if (!large) {
            FN(backward_row)(softmax, o + at, x + at, g + at, n);
            continue;
        }
        const int next = n <= FA_SM_BLOCK && r + 1 < r1;
        const T s = (T)FN(backward_sum)(softmax, x + at, g + at, n);
        for (ptrdiff_t lo = 0; lo < n; lo += FA_SM_BLOCK) {
            FN(pass_args) p = {o + at + lo, g + at + lo, x + at + lo, fa_sm_block_len(n, lo), s,
                               0, next ? x + at + n + lo : NULL, next ? g + at + n + lo : NULL};
            FN(stream_bwd)(&p);
        }
    }
    if (large) FA_SM_SFENCE();
}
#undef ROW_PTRS
