/* One type's loss kernels (included by losses.h once per type with FA_S = f32 / f64). */
#define T FA_SM_CAT(FA_SM_T_, FA_S)
#define FN FA_SM_FN
#define VM(name) FA_SM_CAT(fa_##name##_, FA_S)

/* ---- cross-entropy rows ------------------------------------------------------------- */
/* sum_c w_c (m - x_c) in double (w NULL: all 1), in FA_SM_LANES lanes folded pairwise */
static double FN(weighted_gap)(const T *w, const T *x, ptrdiff_t n, T m) {
    double dacc[FA_SM_LANES] = {0};
    const double md = (double)m;
    ptrdiff_t i = 0;
    for (; i + FA_SM_LANES <= n; i += FA_SM_LANES)
        for (int k = 0; k < FA_SM_LANES; k++)
            dacc[k] += (w ? (double)w[i + k] : 1.0) * (md - (double)x[i + k]);
    for (int k = 0; i + k < n; k++) dacc[k] += (w ? (double)w[i + k] : 1.0) * (md - (double)x[i + k]);
    return fa_sm_fold_lanes(dacc);
}
/* g = scale ((keep w_t + smooth W) e / S - smooth w) from the exps e in g and their sum
   S (both scaled by 2^s; w NULL: all 1); the target entry from (e_t - S) / S in double */
static void FN(ce_grad_row)(const fa_ce_job *j, T *g, const T *w, ptrdiff_t t, double wt,
                            double s) {
    const double e_t = (double)g[t];
    const T a = (T)(j->scale * (j->keep * wt + j->smooth * j->wsum) / s);
    if (j->smooth == 0.0) {
        for (ptrdiff_t i = 0; i < j->n; i++) g[i] *= a;
    } else {
        const T b = (T)(j->scale * j->smooth);
        if (w == NULL)
            for (ptrdiff_t i = 0; i < j->n; i++) g[i] = g[i] * a - b;
        else
            for (ptrdiff_t i = 0; i < j->n; i++) g[i] = g[i] * a - b * w[i];
    }
    g[t] = (T)(j->scale * (j->keep * wt * ((e_t - s) / s) + j->smooth * (j->wsum * e_t / s - wt)));
}
/* lse - m of a row of finite max m, and its exp sum *s: with g softmax's scaled exps
   stored there, their sum S' and log(S' 2^-s); else logsumexp's scaled exps (accurate
   for every logit).  xn: the next row,
   its max taken in the same pass into *mn (row_max's, except that a NaN or the sign of
   a zero may differ: the next row's loss and gradient are the same); pf: the row after
   it, prefetched; each NULL: none */
static double FN(ce_log_sum)(const T *x, ptrdiff_t n, T m, T *g, const T *xn, const T *pf,
                             double *s, T *mn) {
    ptrdiff_t ties = 0;
    *s = 0.0;
    for (ptrdiff_t lo = 0; lo < n; lo += FA_SM_BLOCK) {
        FN(keys) keys = FN(keys_init)();
        FN(block) b = {x + lo, NULL, fa_sm_block_len(n, lo), m, 0, pf ? pf + lo : NULL, NULL,
                       xn ? xn + lo : NULL, &keys};
        ptrdiff_t tb = 0;
        *s += g ? FN(exp_store)(g + lo, &b) : FN(exp_rest_sum)(&b, &tb);
        ties += tb;
        const T mb = FN(key_max)(keys);
        *mn = mb > *mn ? mb : *mn;
    }
    return g ? log(*s * FA_SM_K(UNSCALE)) : FN(log_sum)(*s, ties);
}
/* row r of max m: its loss keep w_t (lse - x_t) + smooth sum_c w_c (lse - x_c) and
   gradient; ignored rows 0, rows with NaN, +inf or only -inf NaN.  Returns the max of
   the next row xn (taken in the exp pass), -inf without one; pf: the row after it */
static T FN(ce_row)(const fa_ce_job *j, ptrdiff_t r, T m, const T *xn, const T *pf) {
    const ptrdiff_t n = j->n, t = (ptrdiff_t)j->tgt[r];
    const T *x = (const T *)j->x + r * n, *w = (const T *)j->w;
    T *g = j->g ? (T *)j->g + r * n : NULL;
    T mn = -(T)INFINITY;
    double s = NAN, ls = NAN;
    if (t < 0) {
        j->loss[r] = 0.0;
        if (g) for (ptrdiff_t i = 0; i < n; i++) g[i] = 0;
        return xn ? FN(row_max)(xn, NULL, n, 0) : mn;
    }
    /* x_t and the gap are read before the exp pass: g may be x itself (in place).  w_t
       comes from wrow, read in order, not gathered from w: a cold line per row slows the
       whole row's pass (docs/tuning.md, "Cross-entropy rows") */
    const double wt = j->wrow ? j->wrow[r] : 1.0, gap_t = (double)m - (double)x[t];
    const double gap = j->smooth != 0.0 ? FN(weighted_gap)(w, x, n, m) : 0.0;
    if (m - m == 0)
        ls = FN(ce_log_sum)(x, n, m, g, xn, pf, &s, &mn);
    else if (xn)
        mn = FN(row_max)(xn, NULL, n, 0);
    if (ls != ls) {
        j->loss[r] = NAN;
        if (g) for (ptrdiff_t i = 0; i < n; i++) g[i] = (T)NAN;
        return mn;
    }
    /* lse - x_t as (m - x_t) + (lse - m), two terms >= 0: no cancellation */
    const double value = j->keep * wt * (gap_t + ls) + j->smooth * (gap + j->wsum * ls);
    j->loss[r] = value;
    if (g) FN(ce_grad_row)(j, g, w, t, wt, s);
    return mn;
}
/* one part of a loss pass: the job and the number of equal parts it is split into */
typedef struct { const void *j; ptrdiff_t parts; } FN(loss_pass);
static void FN(ce_part)(void *ctx, ptrdiff_t c) {
    const FN(loss_pass) *a = (const FN(loss_pass) *)ctx;
    const fa_ce_job *j = (const fa_ce_job *)a->j;
    const ptrdiff_t r0 = fa_sm_part(j->rows, c, a->parts), r1 = fa_sm_part(j->rows, c + 1, a->parts);
    if (r0 >= r1) return;
    const T *x = (const T *)j->x;
    const ptrdiff_t n = j->n;
    T m = FN(row_max)(x + r0 * n, NULL, n, 0);
    for (ptrdiff_t r = r0; r < r1; r++)
        m = FN(ce_row)(j, r, m, r + 1 < r1 ? x + (r + 1) * n : NULL,
                       r + 2 < r1 ? x + (r + 2) * n : NULL);
}
static void FN(ce_run)(const fa_ce_job *j) {
    FN(loss_pass) a = {j, fa_sm_parts(j->rows, j->threads)};
    fa_pool_run(FN(ce_part), &a, a.parts, (int)j->threads);
}

/* ---- BCE with logits ---------------------------------------------------------------- */
/* (1 - y) softplus(x) + q softplus(-x), q = pw y, and in *d (1 - y) sigmoid(x) - q
   sigmoid(-x), from one e = exp(-|x|); a term whose factor is 0 is 0 (its limit) */
static inline T FN(bce_term)(T x, T y, T pw, T *d) {
    const T e = VM(exp)(-VM(abs)(x)), lg = VM(log1p)(e), dd = (T)1 / ((T)1 + e);
    const int pos = x > (T)0;
    const T sp_x = (pos ? x : (T)0) + lg, sp_nx = (pos ? (T)0 : -x) + lg;
    const T p = (T)1 - y, q = y * pw;
    *d = p * (pos ? dd : e * dd) - q * (pos ? e * dd : dd);
    return (p != (T)0 ? p * sp_x : (T)0) + (q != (T)0 ? q * sp_nx : (T)0);
}
/* elements [lo, lo + len), len <= FA_SM_LANES: the loss terms v, the gradient d */
static inline void FN(bce_group)(const fa_bce_job *j, ptrdiff_t lo, ptrdiff_t len, T *v, T *d) {
    const T *x = (const T *)j->x + lo, *y = (const T *)j->y + lo;
    if (j->w == NULL) {
        for (ptrdiff_t k = 0; k < len; k++) v[k] = FN(bce_term)(x[k], y[k], (T)1, d + k);
        return;
    }
    const T *w = (const T *)j->w + lo, *pw = (const T *)j->pw + lo;
    for (ptrdiff_t k = 0; k < len; k++) {
        v[k] = FN(bce_term)(x[k], y[k], pw[k], d + k) * w[k];
        d[k] *= w[k];
    }
}
/* block b: the loss (optional), the gradient (optional); returns the loss sum */
static double FN(bce_block)(const fa_bce_job *j, ptrdiff_t b) {
    double dacc[FA_SM_LANES] = {0};
    const ptrdiff_t lo = b * FA_LOSS_SUM_BLOCK;
    const ptrdiff_t hi = j->n - lo < FA_LOSS_SUM_BLOCK ? j->n : lo + FA_LOSS_SUM_BLOCK;
    const T sc = (T)j->scale;
    T v[FA_SM_LANES], d[FA_SM_LANES];
    for (ptrdiff_t i = lo; i < hi; i += FA_SM_LANES) {
        const ptrdiff_t len = hi - i < FA_SM_LANES ? hi - i : FA_SM_LANES;
        FN(bce_group)(j, i, len, v, d);
        for (ptrdiff_t k = 0; k < len; k++) dacc[k] += (double)v[k];
        if (j->loss) memcpy((T *)j->loss + i, v, (size_t)len * sizeof(T));
        if (j->g)
            for (ptrdiff_t k = 0; k < len; k++) ((T *)j->g)[i + k] = d[k] * sc;
    }
    return fa_sm_fold_lanes(dacc);
}
/* each block's sum is its own: the totals do not depend on the parts or threads */
static void FN(bce_part)(void *ctx, ptrdiff_t c) {
    const FN(loss_pass) *a = (const FN(loss_pass) *)ctx;
    const fa_bce_job *j = (const fa_bce_job *)a->j;
    for (ptrdiff_t b = fa_sm_part(j->blocks, c, a->parts); b < fa_sm_part(j->blocks, c + 1, a->parts);
         b++)
        j->sums[b] = FN(bce_block)(j, b);
}
static void FN(bce_run)(const fa_bce_job *j) {
    FN(loss_pass) a = {j, fa_sm_parts(j->blocks, j->threads)};
    fa_pool_run(FN(bce_part), &a, a.parts, (int)j->threads);
}

#undef T
#undef FN
#undef VM
