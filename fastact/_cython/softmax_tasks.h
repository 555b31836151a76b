/* One type's thread strategies (part of softmax_impl.h): rows split over threads,
 * (row, block) tasks in phases, tiles of a non-last axis; and FN(run). */

/* task t of (row, block) tasks: its row r, offset lo and length */
typedef struct { ptrdiff_t t, r, lo, len, at; } FN(task);
static inline FN(task) FN(task_of)(ptrdiff_t t, ptrdiff_t nb, ptrdiff_t n) {
    FN(task) k;
    k.t = t;
    k.r = t / nb;
    k.lo = (t - k.r * nb) * FA_SM_BLOCK;
    k.len = fa_sm_block_len(n, k.lo);
    k.at = k.r * n + k.lo;
    return k;
}
/* scratch of the phases: per task a max, a sum and ties; per row the max (backward:
   the sum) and the row's result (1 / s, or lse; NaN: special row, done) */
typedef struct { double *bmax, *bsum, *rmax, *rfin; ptrdiff_t *bties; } FN(phases);
typedef void (*FN(task_fn))(const fa_sm_job *j, const FN(phases) *p, FN(task) b);

/* one parallel pass of (row, block) tasks: f on every task of a part */
typedef struct {
    const fa_sm_job *j;
    const FN(phases) *p;
    FN(task_fn) f;
    ptrdiff_t nb, tasks, parts;
} FN(task_pass);
static void FN(task_part)(void *ctx, ptrdiff_t c) {
    const FN(task_pass) *a = (const FN(task_pass) *)ctx;
    for (ptrdiff_t t = fa_sm_part(a->tasks, c, a->parts); t < fa_sm_part(a->tasks, c + 1, a->parts);
         t++)
        a->f(a->j, a->p, FN(task_of)(t, a->nb, a->j->n));
}
/* f for every (row, block) task, the tasks split into equal parts shared by the threads */
static void FN(each_task)(const fa_sm_job *j, const FN(phases) *p, ptrdiff_t nb,
                          FN(task_fn) f) {
    const ptrdiff_t tasks = j->rows * nb;
    FN(task_pass) a = {j, p, f, nb, tasks, fa_sm_parts(tasks, j->threads)};
    fa_pool_run(FN(task_part), &a, a.parts, j->threads);
}
/* phase 1: the block maxima (exact in any order) */
static void FN(max_task)(const fa_sm_job *j, const FN(phases) *p, FN(task) b) {
    p->bmax[b.t] = FN(max)((const T *)j->x + b.at, j->mk ? j->mk + b.at : NULL, b.len, j->negate);
}
/* phase 2: the block sums (softmax: the exps stored) of rows whose max is finite */
static void FN(sum_task)(const fa_sm_job *j, const FN(phases) *p, FN(task) b) {
    T buf[FA_SM_BLOCK];
    FN(block) blk = {(const T *)j->x + b.at, j->mk ? j->mk + b.at : NULL, b.len,
                     (T)p->rmax[b.r], j->negate, NULL, NULL, NULL, NULL};
    p->bsum[b.t] = 0.0;
    p->bties[b.t] = 0;
    if (!isfinite(p->rmax[b.r])) return;
    if (j->kind == FA_SM_SOFTMAX)
        p->bsum[b.t] = FN(exp_store)((T *)j->o + b.at, &blk);
    else if (j->mk == NULL)
        p->bsum[b.t] = FN(exp_rest_sum)(&blk, &p->bties[b.t]);
    else
        p->bsum[b.t] = FN(exp_rest)(buf, &blk, &p->bties[b.t]);
}
/* per row: the maxima, the sums and ties combined in block order; special rows
   finished here */
static void FN(combine_rows)(const fa_sm_job *j, const FN(phases) *p, ptrdiff_t nb) {
    const ptrdiff_t n = j->n, ostride = j->kind == FA_SM_LOGSUMEXP ? 1 : n;
    for (ptrdiff_t r = 0; r < j->rows; r++) {
        const double m = p->rmax[r];
        double s = 0.0;
        ptrdiff_t ties = 0;
        for (ptrdiff_t b = 0; b < nb; b++) {
            s += p->bsum[r * nb + b];
            ties += p->bties[r * nb + b];
        }
        if (!isfinite(m) || s != s) {
            T *o = (T *)j->o + r * ostride;
            FN(row) row = {o, o, (const T *)j->x + r * n, j->mk ? j->mk + r * n : NULL, (T)m};
            FN(special)(j->kind, &row, n, isfinite(m));
            p->rfin[r] = NAN;
        } else if (j->kind == FA_SM_SOFTMAX) {
            p->rfin[r] = 1.0 / s;
        } else {
            p->rfin[r] = FN(log_sum)(s, ties);
            if (j->kind == FA_SM_LOGSUMEXP) ((T *)j->o)[r] = (T)(m + p->rfin[r]);
        }
    }
}
/* phase 3: the final pass of every block of the rows not finished */
static void FN(final_task)(const fa_sm_job *j, const FN(phases) *p, FN(task) b) {
    if (p->rfin[b.r] != p->rfin[b.r]) return;
    if (j->kind == FA_SM_SOFTMAX)
        FN(scale)((T *)j->o + b.at, b.len, p->rfin[b.r]);
    else
        FN(log)((T *)j->o + b.at, (const T *)j->x + b.at, j->mk ? j->mk + b.at : NULL, b.len,
                p->rmax[b.r], p->rfin[b.r]);
}
/* backward: the block sums; then the elementwise pass with the row sums rmax */
static void FN(bsum_task)(const fa_sm_job *j, const FN(phases) *p, FN(task) b) {
    p->bsum[b.t] = FN(bsum)(j->kind, (const T *)j->x + b.at, (const T *)j->g + b.at, b.len);
}
static void FN(bwd_task)(const fa_sm_job *j, const FN(phases) *p, FN(task) b) {
    FN(bwd)(j->kind, (T *)j->o + b.at, (const T *)j->x + b.at, (const T *)j->g + b.at, b.len,
            p->rmax[b.r]);
}
/* few long rows: threads split (row, block) tasks in phases; -1: no memory */
static int FN(row_blocks)(const fa_sm_job *j) {
    const ptrdiff_t nb = (j->n + FA_SM_BLOCK - 1) / FA_SM_BLOCK, tasks = j->rows * nb;
    double *mem = (double *)malloc((size_t)(3 * tasks + 2 * j->rows) * sizeof(double));
    if (mem == NULL) return -1;
    FN(phases) p = {mem, mem + tasks, mem + 2 * tasks, mem + 2 * tasks + j->rows,
                    (ptrdiff_t *)(mem + 2 * tasks + 2 * j->rows)};
    if (j->backward) {
        FN(each_task)(j, &p, nb, FN(bsum_task));
        for (ptrdiff_t r = 0; r < j->rows; r++) {
            double s = 0.0;
            for (ptrdiff_t b = 0; b < nb; b++) s += p.bsum[r * nb + b];
            p.rmax[r] = s;
        }
        FN(each_task)(j, &p, nb, FN(bwd_task));
    } else {
        FN(each_task)(j, &p, nb, FN(max_task));
        for (ptrdiff_t r = 0; r < j->rows; r++) {
            double m = -INFINITY;
            for (ptrdiff_t b = 0; b < nb; b++) m = p.bmax[r * nb + b] > m ? p.bmax[r * nb + b] : m;
            p.rmax[r] = m;
        }
        FN(each_task)(j, &p, nb, FN(sum_task));
        FN(combine_rows)(j, &p, nb);
        if (j->kind != FA_SM_LOGSUMEXP) FN(each_task)(j, &p, nb, FN(final_task));
    }
    free(mem);
    return 0;
}

/* A non-last axis: arrays (outer, n, inner) reduced over n.  Tile t (of outer *
   ceil(inner / TILE)) = TILE neighbouring columns of one outer index: gathered into
   rows of scratch (contiguous reads of the columns), run through the row routines,
   scattered back.  Every column gets the bits the last-axis kernel gives its
   transposed row, whatever the threads.  sc: scratch of tile_scratch_bytes. */
static size_t FN(tile_scratch_bytes)(ptrdiff_t n) {
    const ptrdiff_t ns = FA_SM_TILE_STRIDE(n);
    return (size_t)(3 * FA_SM_TILE * ns + FA_SM_BLOCK) * sizeof(T) + (size_t)(FA_SM_TILE * ns);
}
static void FN(gather)(T *d, ptrdiff_t ns, const T *x, ptrdiff_t n, ptrdiff_t inner,
                       ptrdiff_t w) {
    for (ptrdiff_t i = 0; i < n; i++)
        for (ptrdiff_t c = 0; c < w; c++) d[c * ns + i] = x[i * inner + c];
}
/* a thread's tile scratch: rows of x, out and g (stride ns), a block, the mask rows */
typedef struct {
    T *sx, *so, *sg, *buf;
    unsigned char *sm;
    ptrdiff_t ns;
} FN(tile_scratch);

/* the w columns of one tile at base, gathered into the scratch s: their rows run,
   out scattered back */
static void FN(tile_rows)(const fa_sm_job *j, FN(rowctx) *rc, const FN(tile_scratch) *s,
                          ptrdiff_t base, ptrdiff_t w) {
    const ptrdiff_t ns = s->ns, outer = base / (j->n * j->inner);
    const ptrdiff_t c0 = base - outer * j->n * j->inner;
    for (ptrdiff_t c = 0; c < w; c++) {
        const unsigned char *mc = j->mk ? s->sm + c * ns : NULL;
        if (j->backward)
            FN(backward_row)(j->kind, s->so + c * ns, s->sx + c * ns, s->sg + c * ns, j->n);
        else if (j->kind == FA_SM_LOGSUMEXP)
            FN(forward_row)(rc, (T *)j->o + outer * j->inner + c0 + c, s->sx + c * ns, mc);
        else
            FN(forward_row)(rc, s->so + c * ns, s->sx + c * ns, mc);
    }
    if (j->backward || j->kind != FA_SM_LOGSUMEXP)
        for (ptrdiff_t i = 0; i < j->n; i++)
            for (ptrdiff_t c = 0; c < w; c++)
                ((T *)j->o)[base + i * j->inner + c] = s->so[c * ns + i];
}
static void FN(tiles)(const fa_sm_job *j, ptrdiff_t t0, ptrdiff_t t1, T *sc) {
    const ptrdiff_t n = j->n, inner = j->inner, per = (inner + FA_SM_TILE - 1) / FA_SM_TILE;
    const ptrdiff_t ns = FA_SM_TILE_STRIDE(n);
    FN(tile_scratch) s = {sc, sc + FA_SM_TILE * ns, sc + 2 * FA_SM_TILE * ns,
                          sc + 3 * FA_SM_TILE * ns, (unsigned char *)(sc + 3 * FA_SM_TILE * ns
                                                                      + FA_SM_BLOCK), ns};
    FN(rowctx) rc = {j->kind, j->negate, n, 0, s.buf, NULL, NULL, 0, NULL, 0};
    for (ptrdiff_t t = t0; t < t1; t++) {
        const ptrdiff_t outer = t / per, c0 = (t - outer * per) * FA_SM_TILE;
        const ptrdiff_t w = inner - c0 < FA_SM_TILE ? inner - c0 : FA_SM_TILE;
        const ptrdiff_t base = outer * n * inner + c0;
        FN(gather)(s.sx, ns, (const T *)j->x + base, n, inner, w);
        if (j->backward) FN(gather)(s.sg, ns, (const T *)j->g + base, n, inner, w);
        if (j->mk != NULL)
            for (ptrdiff_t i = 0; i < n; i++)
                for (ptrdiff_t c = 0; c < w; c++) s.sm[c * ns + i] = j->mk[base + i * inner + c];
        FN(tile_rows)(j, &rc, &s, base, w);
    }
}
/* a part of the tiles, with its own scratch (failed: set when there is no memory) */
typedef struct {
    const fa_sm_job *j;
    ptrdiff_t tasks, parts;
    _Atomic int failed;
} FN(tile_pass);
static void FN(tile_part)(void *ctx, ptrdiff_t c) {
    FN(tile_pass) *a = (FN(tile_pass) *)ctx;
    T *sc = (T *)malloc(FN(tile_scratch_bytes)(a->j->n));
    if (sc == NULL) {
        a->failed = 1;
        return;
    }
    FN(tiles)(a->j, fa_sm_part(a->tasks, c, a->parts), fa_sm_part(a->tasks, c + 1, a->parts), sc);
    free(sc);
}
/* tiles split into parts shared by the threads; -1: no memory */
static int FN(tiles_parallel)(const fa_sm_job *j) {
    const ptrdiff_t tasks = j->rows * ((j->inner + FA_SM_TILE - 1) / FA_SM_TILE);
    FN(tile_pass) a = {j, tasks, fa_sm_parts(tasks, j->threads), 0};
    fa_pool_run(FN(tile_part), &a, a.parts, j->threads);
    return a.failed ? -1 : 0;
}

/* rows [r0, r1) on the calling thread */
static void FN(rows_part)(const fa_sm_job *j, ptrdiff_t r0, ptrdiff_t r1) {
    if (j->backward)
        FN(backward_rows)(j, r0, r1);
    else
        FN(forward_rows)(j, r0, r1);
}
/* part c of the rows split into equal parts shared by the threads */
typedef struct {
    const fa_sm_job *j;
    ptrdiff_t parts;
} FN(row_pass);
static void FN(row_part)(void *ctx, ptrdiff_t c) {
    const FN(row_pass) *a = (const FN(row_pass) *)ctx;
    FN(rows_part)(a->j, fa_sm_part(a->j->rows, c, a->parts),
                  fa_sm_part(a->j->rows, c + 1, a->parts));
}
/* parts of the rows on k threads: a backward job whose y takes at most
   FA_SOFTMAX_BACKWARD_THREAD_PART_MAX_BYTES per thread one per thread (each thread then
   runs the same rows call after call, in its own cache), else fa_sm_parts */
static inline ptrdiff_t FN(row_parts)(const fa_sm_job *j, ptrdiff_t k) {
    if (j->backward && (size_t)j->rows * (size_t)j->n * sizeof(T)
                       <= (size_t)k * FA_SOFTMAX_BACKWARD_THREAD_PART_MAX_BYTES)
        return j->rows < k ? j->rows : k;
    return fa_sm_parts(j->rows, k);
}
static int FN(run)(const fa_sm_job *j) {
    const ptrdiff_t k = j->threads;
    if (j->strategy == FA_SM_TILES) return FN(tiles_parallel)(j);
    if (j->strategy == FA_SM_ROW_BLOCKS) return FN(row_blocks)(j);
    if (k <= 1) {
        FN(rows_part)(j, 0, j->rows);
        return 0;
    }
    FN(row_pass) a = {j, FN(row_parts)(j, k)};
    fa_pool_run(FN(row_part), &a, a.parts, (int)k);
    return 0;
}
