/* The losses on logits over float and double: cross-entropy rows and BCE with logits.
 * Contracts (what each kernel computes, ignored and special rows): fastact/_numba/losses.py;
 * formulas: fastact/_losses.py.  Cross-entropy rows are built from the softmax family's
 * row machinery (softmax.h: row max, exp passes, sums), so a row's bits do not depend
 * on the thread count; BCE sums fixed blocks of FA_LOSS_SUM_BLOCK in block order. */
#ifndef FASTACT_LOSSES_H
#define FASTACT_LOSSES_H

#include "softmax.h"

typedef struct {
    int dbl, threads;
    ptrdiff_t rows, n;
    const void *x, *w;            /* (rows, n) logits, (n,) class weights or NULL: all 1 */
    const int64_t *tgt;           /* (rows,) class index, -1: ignored */
    const double *wrow;           /* (rows,) the target's weight w_t, or NULL: all 1 */
    double smooth, keep, scale, wsum;
    double *loss;                 /* (rows,) */
    void *g;                      /* (rows, n) gradient, or NULL */
} fa_ce_job;

typedef struct {
    int dbl, threads;
    ptrdiff_t n, blocks;
    const void *x, *y, *w, *pw;   /* w and pw both NULL: 1 */
    double scale;
    void *loss;                   /* elementwise loss, or NULL */
    double *sums;                 /* (blocks,) */
    void *g;                      /* gradient, or NULL */
} fa_bce_job;

#define FA_S f32
#include "losses_impl.h"
#undef FA_S
#define FA_S f64
#include "losses_impl.h"
#undef FA_S

static void fa_ce_run(const fa_ce_job *j) {
    if (j->dbl) fa_sm_ce_run_f64(j); else fa_sm_ce_run_f32(j);
}
/* the row losses' sum: row r into lane r % FA_SM_LANES, in row order, the lanes folded
   pairwise (the bits do not depend on the threads that wrote the rows) */
static double fa_ce_total(const double *loss, ptrdiff_t rows) {
    double dacc[FA_SM_LANES] = {0};
    for (ptrdiff_t r = 0; r < rows; r++) dacc[r % FA_SM_LANES] += loss[r];
    return fa_sm_fold_lanes(dacc);
}
static void fa_bce_run(const fa_bce_job *j) {
    if (j->dbl) fa_sm_bce_run_f64(j); else fa_sm_bce_run_f32(j);
}

#endif
