/* The softmax family's C kernels: softmax, softmin, log_softmax, logsumexp and the
 * two backward ops over rows of float or double.  The algorithm, its accuracy and
 * its determinism are described in docs/softmax.md.
 *
 * One entry point, fa_sm_run(job): the job says what to compute and how (the
 * plan, made by the Cython adapter softmax.pxi).  The kernels are written once
 * over a type parameter and instantiated for float (suffix f32) and double (f64)
 * by including softmax_impl.h twice.  Results do not depend on the plan's thread
 * count or strategy: every path computes the same operations in the same order. */
#ifndef FASTACT_SOFTMAX_H
#define FASTACT_SOFTMAX_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vmath.h"
#include "softmax_constants.h"

enum { FA_SM_SOFTMAX = 0, FA_SM_LOG_SOFTMAX = 1, FA_SM_LOGSUMEXP = 2 };
/* how the rows are split over threads */
enum { FA_SM_ROWS = 0, FA_SM_ROW_BLOCKS = 1, FA_SM_TILES = 2 };
/* how a thread runs its forward rows: see docs/softmax.md, "large arrays" */
enum {
    FA_SM_PLAIN = 0,     /* block by block; large: prefetch + streaming stores */
    FA_SM_SHORT = 1,     /* short rows in registers (AVX-512, no mask; the plan says how short) */
    FA_SM_PIPELINED = 2, /* softmax: the next row's max inside this row's exp pass */
    FA_SM_WAVE = 3       /* large: a row's final pass streamed in the next exp pass */
};

typedef struct {
    int kind;       /* FA_SM_SOFTMAX / LOG_SOFTMAX / LOGSUMEXP; backward: 1 softmax, 0 log */
    int negate;     /* softmin: the rows are -x */
    int backward;   /* x holds y, g the upstream gradient */
    int dbl;        /* double (else float) */
    int strategy;   /* FA_SM_ROWS / ROW_BLOCKS / TILES */
    int path;       /* FA_SM_PLAIN / SHORT / PIPELINED / WAVE (forward rows) */
    int large;      /* past the caches: prefetch and streaming stores */
    int threads;    /* 1: the calling thread only */
    ptrdiff_t rows, n, inner;   /* (rows, n) rows, or (rows, n, inner) reduced over n */
    void *o;
    const void *x, *g;
    const unsigned char *mk;    /* mask (true: kept) shaped like x, or NULL */
} fa_sm_job;

/* ---- platform ------------------------------------------------------------------ */
#if defined(__FMA__) || defined(__AVX512F__)
#define FA_SM_FMA_f32(a, b, c) __builtin_fmaf((a), (b), (c))
#define FA_SM_FMA_f64(a, b, c) __builtin_fma((a), (b), (c))
#else
#define FA_SM_FMA_f32(a, b, c) ((a) * (b) + (c))
#define FA_SM_FMA_f64(a, b, c) ((a) * (b) + (c))
#endif

/* streaming (non-temporal) stores and prefetch: GCC/Clang on x86 only; elsewhere
   plain stores and no prefetch (same bits) */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__SSE2__) \
    && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define FA_SM_HAVE_STREAM 1
#if defined(__AVX512F__)
#define FA_SM_VBYTES 64
#define FA_SM_STREAM_f32(p, v) _mm512_stream_ps((p), (__m512)(v))
#define FA_SM_STREAM_f64(p, v) _mm512_stream_pd((p), (__m512d)(v))
#elif defined(__AVX__)
#define FA_SM_VBYTES 32
#define FA_SM_STREAM_f32(p, v) _mm256_stream_ps((p), (__m256)(v))
#define FA_SM_STREAM_f64(p, v) _mm256_stream_pd((p), (__m256d)(v))
#else
#define FA_SM_VBYTES 16
#define FA_SM_STREAM_f32(p, v) _mm_stream_ps((p), (__m128)(v))
#define FA_SM_STREAM_f64(p, v) _mm_stream_pd((p), (__m128d)(v))
#endif
#define FA_SM_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#define FA_SM_PREFETCH_L2(p) __builtin_prefetch((p), 0, 2)
#define FA_SM_SFENCE() _mm_sfence()
#else
#define FA_SM_HAVE_STREAM 0
#define FA_SM_VBYTES 16
#define FA_SM_PREFETCH(p) ((void)0)
#define FA_SM_PREFETCH_L2(p) ((void)0)
#define FA_SM_SFENCE() ((void)0)
#endif
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
#define FA_SM_HAVE_AVX512 1
#else
#define FA_SM_HAVE_AVX512 0
#endif

/* the next row pf is prefetched into L2 only when it is longer than a block
   (pf - x = the row length): a long row pushed through L1 evicts the lines in use */
#define FA_SM_PREFETCH_LONG(pf, x) ((pf) != NULL && (pf) - (x) > FA_SM_BLOCK)
#define FA_SM_PREFETCH_ROW(p, l2) \
    do { if (l2) FA_SM_PREFETCH_L2(p); else FA_SM_PREFETCH(p); } while (0)

/* parallel loops: parts run by fa_pool_run (workpool.h) on the calling thread and helpers
   that take the next part when free, so a thread the OS has descheduled leaves its parts
   to the threads that run.  Which thread runs a part never changes its bits. */
#include "workpool.h"

/* scratch on whole cache lines (free() it): misaligned, every vector store of the
   exps would split two lines */
static inline void *fa_sm_aligned_alloc(size_t bytes) {
    void *p = NULL;
    return posix_memalign(&p, FA_SM_LINE, bytes) == 0 ? p : NULL;
}
/* the first q >= p (line-aligned p) lying off bytes past x's line in its page:
   scratch rows that share their page offsets with the rows of x make every load
   wait on the stores before it that it only seems to alias */
static inline void *fa_sm_page_offset(void *p, const void *x, size_t off) {
    uintptr_t want = (((uintptr_t)x & ~(uintptr_t)(FA_SM_LINE - 1)) + off) & (FA_SM_PAGE - 1);
    return (char *)p + ((want - ((uintptr_t)p & (FA_SM_PAGE - 1))) & (FA_SM_PAGE - 1));
}
/* parts of a loop over total items on k threads: FA_SM_PARTS_PER_THREAD per thread, at
   most total; one for one thread */
#define FA_SM_PARTS_PER_THREAD 8
static inline ptrdiff_t fa_sm_parts(ptrdiff_t total, ptrdiff_t k) {
    if (k <= 1) return 1;
    return k * FA_SM_PARTS_PER_THREAD < total ? k * FA_SM_PARTS_PER_THREAD : total;
}
/* where part c of total split into k equal parts begins */
static inline ptrdiff_t fa_sm_part(ptrdiff_t total, ptrdiff_t c, ptrdiff_t k) {
    return total * c / k;
}
static inline ptrdiff_t fa_sm_block_len(ptrdiff_t n, ptrdiff_t lo) {
    return n - lo < FA_SM_BLOCK ? n - lo : FA_SM_BLOCK;
}
/* the 16 double lanes of a block sum added pairwise (lanes j and j + w, w = 8, 4, 2, 1) */
static inline double fa_sm_fold_lanes(double *dacc) {
    for (int w = FA_SM_LANES / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++) dacc[j] += dacc[j + w];
    return dacc[0];
}
/* scratch row stride for n: whole cache lines, and an odd number of them, so the
   FA_SM_TILE rows of a tile do not all map to one set of the L1 cache */
#define FA_SM_TILE_STRIDE(n) (((((n) + 15) / 16) | 1) * 16)

/* ---- the kernels, once per type ----------------------------------------------------- */
#define FA_SM_CAT_(a, b) a##b
#define FA_SM_CAT(a, b) FA_SM_CAT_(a, b)
#define FA_SM_FN(name) FA_SM_CAT(fa_sm_##name##_, FA_S)   /* fa_sm_<name>_f32 */
#define FA_SM_K(name) FA_SM_CAT(FA_SM_##name##_, FA_SM_CAT(FA_SM_SU_, FA_S)) /* FA_SM_<NAME>_F32 */

/* per type (suffix f32 / f64): the float, the integers of its width, the suffix
   of its constants and of its AVX-512 intrinsics (ps / pd, epi32 / epi64) */
#define FA_SM_T_f32 float
#define FA_SM_T_f64 double
#define FA_SM_I_f32 int32_t
#define FA_SM_I_f64 int64_t
#define FA_SM_U_f32 uint32_t
#define FA_SM_U_f64 uint64_t
#define FA_SM_SU_f32 F32
#define FA_SM_SU_f64 F64
#define FA_SM_VS_f32 ps
#define FA_SM_VS_f64 pd
#define FA_SM_VI_f32 epi32
#define FA_SM_VI_f64 epi64
/* log1p of the rows' log_sum: float rows take vmath's branch-free double log1p
   (<= 2 ULP of double, vectorizes over a batch of rows), double rows the libm one */
#define FA_SM_LOG1P_f32 fa_log1p_f64
#define FA_SM_LOG1P_f64 log1p
/* AVX-512: a batch of float rows of up to 16 as the lanes of vectors (double: no) */
#define FA_SM_LANE_ROWS_f32 1
#define FA_SM_LANE_ROWS_f64 0

#define FA_S f32
#include "softmax_impl.h"
#undef FA_S
#define FA_S f64
#include "softmax_impl.h"
#undef FA_S

/* Run a job; 0, or -1 when scratch memory could not be had (out is then undefined). */
static int fa_sm_run(const fa_sm_job *job) {
    return job->dbl ? fa_sm_run_f64(job) : fa_sm_run_f32(job);
}

#endif
