# fastact/_softmax.pxi -- the softmax-family Cython kernels, included at the end of
# fastact/_kernels.pyx (owned by the softmax-family author).
#
# Entry point (used by fastact/_cython.py::get_rowwise):
#
#     rowwise_kernel(op) -> RowKernel, callable as kernel(out, x, grad, mask, n_threads)
#
# op is a name of fastact._registry.ROW_OPS.  x (y for the backward ops), grad
# and out are C-contiguous 2-D (rows, n) float32/float64 arrays of one dtype
# (out is (rows,) for logsumexp), mask None or a C-contiguous 2-D bool array;
# out may be one of the inputs exactly (in place).  The semantics are those of
# fastact._reference._rowwise.
#
# Algorithm (the same as fastact/_numba/_softmax.py, its docstring has the
# details, but for the order of a block's last < 64 terms): per row, m = max (masked entries -inf; two integer reductions of the
# float bits); per fixed block of FA_SM_BLOCK elements e = exp(x - m):
#   softmax/softmin: t = x - m rounded once, a cheap exp (fitted polynomial,
#   results below the smallest normal flushed: p = e / S <= e), stored in out;
#   log_softmax/logsumexp: t carried exactly (TwoSum, float32), e scaled by
#   2^64 / 2^128 so tiny terms add up exactly, entries equal to m excluded and
#   counted, into scratch;
# each block summed by pairwise float partial sums of 4 elements per lane added
# into 16 double lanes (the last < 64 as one more 64 padded with zeros), blocks
# added in order; then out *= (T)(1/S), or out = (x - m) - lse in T (one sign:
# <= 1.5 ULP), or m + log1p(s).
# Arrays of at least SM_LARGE_BYTES: the exp pass prefetches the next row and the
# final pass writes out with streaming stores (softmax rows of up to 1024 keep
# their exps in an L1 buffer until then); rows of over 1024 (softmax and
# log_softmax, up to 1 MiB) take the wave: a row's final pass is streamed during
# the next row's exp pass (see fa_sm_wave).  The bits are the same on every path.
# Rows whose max is +-inf/NaN or whose sum is NaN are finished by the special
# path (NaN row, +inf for logsumexp, empty row 0 / -inf; masked 0 / -inf).
# Backward (in T, sums as above): softmax dx = y (g - sum(g y)),
# log_softmax dx = g - exp(y) sum(g).
#
# Threads: many rows -> threads split the rows; fewer than two rows per thread
# that span several blocks -> threads split (row, block) tasks in phases.  A
# row's reductions are always the same block results combined in block order,
# so the bits of the result do not depend on the thread count.  exp is
# computed with explicit fma (when the build targets FMA), never implicit
# contraction, so vector body and scalar remainder agree bitwise.

cdef extern from *:
    """
    #include <math.h>
    #define FA_SM_BLOCK 2048
    /* the wave's longest row in bytes (see fa_sm_wave; interleaved A/B against the
       rows scaled in place: rows of 0.2-1.6 MB 0.75-0.9x the time, of 2 MB and more
       1.1-2x: its two rows of scratch no longer stay in the caches) */
    #ifndef FA_SM_WAVE_ROW_MAX
    #define FA_SM_WAVE_ROW_MAX (1 << 20)
    #endif
    /* and its shortest row in elements (A/B at (4096, 2048): 0.9-0.95x the time of the
       row streamed on its own; rows of 1000 and 500 even) */
    #define FA_SM_WAVE_ROW_MIN 1024
    #define FA_SM_LANES 16
    #define FA_SM_TILE 16
    /* scratch row stride for n: whole cache lines, and an odd number of them, so
       the FA_SM_TILE rows of a tile do not all map to one set of the L1 cache */
    #define FA_SM_TILE_STRIDE(n) ((((n) + 15) / 16) | 1) * 16
    #if defined(__FMA__) || defined(__AVX512F__)
    #define FA_SM_FMA(a, b, c) __builtin_fma((a), (b), (c))
    #define FA_SM_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
    #else
    #define FA_SM_FMA(a, b, c) ((a) * (b) + (c))
    #define FA_SM_FMAF(a, b, c) ((a) * (b) + (c))
    #endif
    #define FA_SM_FMA_f32 FA_SM_FMAF
    /* Large outputs are written with streaming (non-temporal) stores: the line of
       out is not read from memory before it is written, which on a 2-core VM made
       the store traffic of a copy 1.4x cheaper.  And the exp pass of a row that fits
       a block prefetches the next row, so its loads overlap this row's arithmetic.
       GCC/Clang on x86 only; elsewhere plain stores and no prefetch (same bits). */
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
    #define FA_SM_IF_STREAM(...) __VA_ARGS__
    #else
    #define FA_SM_HAVE_STREAM 0
    #define FA_SM_PREFETCH(p) ((void)0)
    #define FA_SM_PREFETCH_L2(p) ((void)0)
    #define FA_SM_SFENCE() ((void)0)
    #define FA_SM_IF_STREAM(...)
    #endif
    /* Softmax's exp passes prefetch the next row, pf (same offset as x: pf - x = n),
       into L1 when it is one block or less, else into L2 only: a long row's lines
       pushed through L1 evicted the lines in use (interleaved A/B: rows of 4096 and of
       50257 0.8-0.87x the time; rows of 1000 1.05-1.2x slower with L2 only; the
       log_softmax pass, neutral to 1.1x slower, keeps L1) */
    #define FA_SM_PREFETCH_LONG(pf, x) ((pf) != NULL && (pf) - (x) > FA_SM_BLOCK)
    #define FA_SM_PREFETCH_ROW(p, l2) \
        do { if (l2) FA_SM_PREFETCH_L2(p); else FA_SM_PREFETCH(p); } while (0)
    /* for (i = 0; i < len; i++) STMT, in chunks of 64 elements of T, each chunk
       prefetching the same 64 elements of pf (the next row of x; NULL: none) and then
       streaming 64 elements of the waiting row of wave w (suffix S; NULL: none) */
    #define FA_SM_PREFETCHED_LOOP(T, S, i, len, x, pf, w, STMT)                         \
        do {                                                                            \
            Py_ssize_t i = 0;                                                           \
            const int fa_l2 = FA_SM_PREFETCH_LONG(pf, x);                               \
            if ((pf) != NULL || (w) != NULL)                                            \
                for (; i + 64 <= (len); ) {                                             \
                    const char *fa_pl = (const char *)((pf) + i);                       \
                    if ((pf) != NULL)                                                   \
                        for (int fa_b = 0; fa_b < (int)(64 * sizeof(T)); fa_b += 64)    \
                            FA_SM_PREFETCH_ROW(fa_pl + fa_b, fa_l2);                    \
                    for (Py_ssize_t fa_e = i + 64; i < fa_e; i++) { STMT; }             \
                    fa_sm_wave_step_##S((w), 64);                                       \
                }                                                                       \
            for (; i < (len); i++) { STMT; }                                            \
        } while (0)
    #define FA_SM_FMA_f64 FA_SM_FMA
    enum { FA_SM_SOFTMAX = 0, FA_SM_LOG_SOFTMAX = 1, FA_SM_LOGSUMEXP = 2 };
    /* scratch on whole cache lines (free() it): misaligned, every vector store of the
       exps would split two lines (the wave measured 1.13x slower with malloc's 16) */
    static void *fa_sm_aligned_alloc(size_t bytes) {
        void *p = NULL;
        return posix_memalign(&p, 64, bytes) == 0 ? p : NULL;
    }
    /* the first q >= p (64-byte aligned) lying off bytes past x's line in its 4 KiB
       page: scratch rows that share their page offsets with the rows of x (rows of
       4096 floats) make every load wait on the stores before it that it only seems to
       alias (the wave ran 1.4-1.7x slower at (2048, 4096)) */
    static void *fa_sm_page_offset(void *p, const void *x, size_t off) {
        uintptr_t want = (((uintptr_t)x & ~(uintptr_t)63) + off) & 4095;
        return (char *)p + ((want - ((uintptr_t)p & 4095)) & 4095);
    }

    /* exp(r) = 1 + r + r^2 Q(r) on |r| <= ln2/2: Q a Chebyshev fit by
       fastact/_fit_softmax_exp.py (relative error of the sum 0.08 eps in either
       type), evaluated by Horner down to the two unit coefficients. */
    #define FA_SM_POLY_F32(r) \
        FA_SM_FMAF(FA_SM_FMAF(FA_SM_FMAF(FA_SM_FMAF(FA_SM_FMAF(FA_SM_FMAF( \
        0.0013926175888627768f, r, 0.008363173343241215f), r, 0.041666556149721146f), r, \
        0.16666577756404877f), r, 0.5f), r, 1.0f), r, 1.0f)
    #define FA_SM_POLY_F64(r) \
        FA_SM_FMA(FA_SM_FMA(FA_SM_FMA(FA_SM_FMA(FA_SM_FMA(FA_SM_FMA(FA_SM_FMA( \
        FA_SM_FMA(FA_SM_FMA(FA_SM_FMA(FA_SM_FMA(2.5100375832561234e-08, r, \
        2.7620075879983367e-07), r, 2.7557268480310024e-06), r, 2.4801521322368692e-05), r, \
        0.00019841269863040545), r, 0.0013888888917196719), r, 0.008333333333330065), r, \
        0.041666666666624164), r, 0.16666666666666669), r, 0.5000000000000001), r, 1.0), r, 1.0)

    /* softmax's exp(t) for t = v - m <= 0 rounded once (the |log p| term of the
       accuracy bar covers that rounding): n = round(t / ln2), r = t - n ln2 (two
       constants, fma), the polynomial, times 2^n from the bits.  Below the
       smallest normal the result may be flushed (n = -127 / -1023 gives 2^n = 0):
       p = e / S with S >= 1 is then below the smallest normal too.  -inf gives 0,
       NaN gives NaN; t > 0 (masked entries only) gives garbage that is selected away. */
    /* log_softmax_backward's blocks of y in [LO, 0] (every log-probability, unless
       below ~1e-38 / 1e-307) take this exp (normal results, ~1 ULP) instead of the
       full-range fa_exp (1.6-2x its cost) */
    #define FA_SM_EXPNEG_LO_f32 (-87.0f)
    #define FA_SM_EXPNEG_LO_f64 (-708.0)
    static inline float fa_sm_expneg_f32(float t) {
        float tc = t < -88.0f ? -88.0f : t;
        float k = FA_SM_FMAF(tc, 1.44269504088896341f, 12582912.0f);
        float n = k - 12582912.0f;
        float r = FA_SM_FMAF(n, -0.693145751953125f, tc);
        r = FA_SM_FMAF(n, -1.42860676533e-06f, r);
        float p = FA_SM_POLY_F32(r);
        return p * fa_from_bits_f32((fa_bits_f32(k) - 0x4B400000u + 127u) << 23);
    }
    static inline double fa_sm_expneg_f64(double t) {
        double tc = t < -709.0 ? -709.0 : t;
        double k = FA_SM_FMA(tc, 1.4426950408889634, 6755399441055744.0);
        double n = k - 6755399441055744.0;
        double r = FA_SM_FMA(n, -6.93147180369123816490e-01, tc);
        r = FA_SM_FMA(n, -1.90821492927058770002e-10, r);
        double p = FA_SM_POLY_F64(r);
        return p * fa_from_bits_f64((fa_bits_f64(k) - 0x4338000000000000ull + 1023u) << 52);
    }

    /* AVX-512: softmax's exp pass and its block sum fused, 64 elements at a time:
       the same operations as fa_sm_expneg and fa_sm_sum_pos (same bits), fewer
       passes over the block.  Stores e to o[0:i) for the whole 64s i it covers,
       adds their 16 lane sums into dacc (0 + a = a: a block in one call or in
       pieces of 64 gives the same bits) and returns i; the caller does the rest.
       so (or NULL; 64-byte aligned): so = se * f streamed too, one vector per vector
       of exps (softmax's wave, see fa_sm_wave; with the fastest interleave measured).
       pf (the next row, or NULL): one line prefetched per vector of work; bursts of
       prefetches are dropped (a row prefetched 4 lines at a time arrived mostly not
       at all; spread out, the next max pass ran at L2 speed: forward A/B 0.87-1.00x) */
    #if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
    #define FA_SM_HAVE_AVX512 1
    /* 2^(n + bias - bias0) * poly(r), n the integer in k = n + the rounding shift
       (the scalar kernels' FA_SM_POLY_F32/F64 and bit-built power of two, lane by
       lane); bias 127 / 1023 gives 2^n, more scales the result up */
    static inline __m512 fa_sm_pow2_poly16(__m512 k, __m512 r, int bias) {
        __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(0.0013926175888627768f), r,
                                   _mm512_set1_ps(0.008363173343241215f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.041666556149721146f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.16666577756404877f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
        __m512i e = _mm512_slli_epi32(_mm512_sub_epi32(_mm512_castps_si512(k),
                                      _mm512_set1_epi32(0x4B400000 - bias)), 23);
        return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
    }
    static inline __m512d fa_sm_pow2_poly8(__m512d k, __m512d r, int bias) {
        static const double c[12] = {2.5100375832561234e-08, 2.7620075879983367e-07,
            2.7557268480310024e-06, 2.4801521322368692e-05, 0.00019841269863040545,
            0.0013888888917196719, 0.008333333333330065, 0.041666666666624164,
            0.16666666666666669, 0.5000000000000001, 1.0, 1.0};
        __m512d p = _mm512_fmadd_pd(_mm512_set1_pd(c[0]), r, _mm512_set1_pd(c[1]));
        for (int j = 2; j < 12; j++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c[j]));
        __m512i e = _mm512_slli_epi64(_mm512_sub_epi64(_mm512_castpd_si512(k),
                                      _mm512_set1_epi64(0x4338000000000000ll - bias)), 52);
        return _mm512_mul_pd(p, _mm512_castsi512_pd(e));
    }
    static inline __m512 fa_sm_expneg16(__m512 t) {
        __m512 tc = _mm512_max_ps(_mm512_set1_ps(-88.0f), t);     /* NaN stays NaN */
        __m512 k = _mm512_fmadd_ps(tc, _mm512_set1_ps(1.44269504088896341f),
                                   _mm512_set1_ps(12582912.0f));
        __m512 n = _mm512_sub_ps(k, _mm512_set1_ps(12582912.0f));
        __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693145751953125f), tc);
        r = _mm512_fmadd_ps(n, _mm512_set1_ps(-1.42860676533e-06f), r);
        return fa_sm_pow2_poly16(k, r, 127);
    }
    static inline __m512d fa_sm_expneg8(__m512d t) {
        __m512d tc = _mm512_max_pd(_mm512_set1_pd(-709.0), t);
        __m512d k = _mm512_fmadd_pd(tc, _mm512_set1_pd(1.4426950408889634),
                                    _mm512_set1_pd(6755399441055744.0));
        __m512d n = _mm512_sub_pd(k, _mm512_set1_pd(6755399441055744.0));
        __m512d r = _mm512_fmadd_pd(n, _mm512_set1_pd(-6.93147180369123816490e-01), tc);
        r = _mm512_fmadd_pd(n, _mm512_set1_pd(-1.90821492927058770002e-10), r);
        return fa_sm_pow2_poly8(k, r, 1023);
    }
    static inline __attribute__((always_inline)) Py_ssize_t fa_sm_exp_sum64_body_f32(float *o, const float *x, Py_ssize_t len,
                                          float m, int negate, const float *pf,
                                          double *dacc, float *so, const float *se, float f,
                                          const float *xm, int *khi, int *klo, const int l2) {
        const __m512 vm = _mm512_set1_ps(m), vf = _mm512_set1_ps(f);
        const __m512i kflip = _mm512_set1_epi32(negate ? (int)0x80000000u : 0);
        __m512i khv = _mm512_set1_epi32(xm ? *khi : 0), klv = _mm512_set1_epi32(xm ? *klo : 0);
        __m512d d0 = _mm512_loadu_pd(dacc), d1 = _mm512_loadu_pd(dacc + 8);
        Py_ssize_t i = 0;
        for (; i + 64 <= len; i += 64) {
            __m512 e[4];
            for (int q = 0; q < 4; q++) {
                if (pf != NULL) FA_SM_PREFETCH_ROW(pf + i + 16 * q, l2);
                __m512 v = _mm512_loadu_ps(x + i + 16 * q);
                v = negate ? _mm512_sub_ps(_mm512_setzero_ps(), v) : v;
                e[q] = fa_sm_expneg16(_mm512_sub_ps(v, vm));
                _mm512_storeu_ps(o + i + 16 * q, e[q]);
                if (so != NULL)
                    _mm512_stream_ps(so + i + 16 * q,
                                     _mm512_mul_ps(_mm512_loadu_ps(se + i + 16 * q), vf));
                if (xm != NULL) {
                    __m512i kb = _mm512_xor_si512(
                        _mm512_loadu_si512((const void *)(xm + i + 16 * q)), kflip);
                    khv = _mm512_max_epi32(khv, kb);
                    klv = _mm512_min_epi32(klv, kb);
                }
            }
            __m512 s = _mm512_add_ps(_mm512_add_ps(e[0], e[1]), _mm512_add_ps(e[2], e[3]));
            d0 = _mm512_add_pd(d0, _mm512_cvtps_pd(_mm512_castps512_ps256(s)));
            d1 = _mm512_add_pd(d1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(s, 1)));
        }
        _mm512_storeu_pd(dacc, d0);
        _mm512_storeu_pd(dacc + 8, d1);
        if (xm != NULL) {
            *khi = _mm512_reduce_max_epi32(khv);
            *klo = _mm512_reduce_min_epi32(klv);
        }
        return i;
    }
    static inline __attribute__((always_inline)) Py_ssize_t fa_sm_exp_sum64_body_f64(double *o, const double *x, Py_ssize_t len,
                                          double m, int negate, const double *pf,
                                          double *dacc, double *so, const double *se, double f,
                                          const double *xm, long long *khi, long long *klo,
                                          const int l2) {
        const __m512d vm = _mm512_set1_pd(m), vf = _mm512_set1_pd(f);
        const __m512i kflip = _mm512_set1_epi64(negate ? (long long)0x8000000000000000ull : 0);
        __m512i khv = _mm512_set1_epi64(xm ? *khi : 0), klv = _mm512_set1_epi64(xm ? *klo : 0);
        __m512d d0 = _mm512_loadu_pd(dacc), d1 = _mm512_loadu_pd(dacc + 8);
        Py_ssize_t i = 0;
        for (; i + 64 <= len; i += 64) {
            __m512d e[8];
            for (int q = 0; q < 8; q++) {
                if (pf != NULL) FA_SM_PREFETCH_ROW(pf + i + 8 * q, l2);
                __m512d v = _mm512_loadu_pd(x + i + 8 * q);
                v = negate ? _mm512_sub_pd(_mm512_setzero_pd(), v) : v;
                e[q] = fa_sm_expneg8(_mm512_sub_pd(v, vm));
                _mm512_storeu_pd(o + i + 8 * q, e[q]);
                if (so != NULL)
                    _mm512_stream_pd(so + i + 8 * q,
                                     _mm512_mul_pd(_mm512_loadu_pd(se + i + 8 * q), vf));
                if (xm != NULL) {
                    __m512i kb = _mm512_xor_si512(
                        _mm512_loadu_si512((const void *)(xm + i + 8 * q)), kflip);
                    khv = _mm512_max_epi64(khv, kb);
                    klv = _mm512_min_epi64(klv, kb);
                }
            }
            /* lanes 0-7 are elements 0-7, 16-23, 32-39, 48-55; lanes 8-15 the others */
            d0 = _mm512_add_pd(d0, _mm512_add_pd(_mm512_add_pd(e[0], e[2]),
                                                  _mm512_add_pd(e[4], e[6])));
            d1 = _mm512_add_pd(d1, _mm512_add_pd(_mm512_add_pd(e[1], e[3]),
                                                  _mm512_add_pd(e[5], e[7])));
        }
        _mm512_storeu_pd(dacc, d0);
        _mm512_storeu_pd(dacc + 8, d1);
        if (xm != NULL) {
            *khi = _mm512_reduce_max_epi64(khv);
            *klo = _mm512_reduce_min_epi64(klv);
        }
        return i;
    }
    /* log_softmax's and logsumexp's block: fa_sm_exp (scaled, x - m carried exactly
       in float32) over x != m, ties counted, lanes summed as fa_sm_exp_rest_sum does
       (same operations, same bits), 64 elements at a time; returns i as above and
       adds the ties to *ties.  so (or NULL; aligned): log_softmax's wave, so = (se -
       a) - b streamed one vector per vector of exps. */
    static Py_ssize_t fa_sm_exp_rest_sum64_f32(const float *x, Py_ssize_t len, float m,
                                               const float *pf, double *dacc,
                                               Py_ssize_t *ties, float *so, const float *se,
                                               float a, float b) {
        const __m512 vm = _mm512_set1_ps(m), vnm = _mm512_set1_ps(-m);
        const __m512 lo = _mm512_set1_ps(-132.5f), zero = _mm512_setzero_ps();
        const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
        __m512d d0 = _mm512_loadu_pd(dacc), d1 = _mm512_loadu_pd(dacc + 8);
        Py_ssize_t i = 0, t = 0;
        for (; i + 64 <= len; i += 64) {
            __m512 e[4];
            for (int q = 0; q < 4; q++) {
                if (pf != NULL) FA_SM_PREFETCH(pf + i + 16 * q);
                __m512 v = _mm512_loadu_ps(x + i + 16 * q);
                __m512 tt = _mm512_sub_ps(v, vm);
                __m512 bb = _mm512_sub_ps(tt, v);
                __m512 err = _mm512_add_ps(_mm512_sub_ps(v, _mm512_sub_ps(tt, bb)),
                                           _mm512_sub_ps(vnm, bb));
                __m512 tc = _mm512_max_ps(lo, tt);
                __m512 k = _mm512_fmadd_ps(tc, _mm512_set1_ps(1.44269504088896341f),
                                           _mm512_set1_ps(12582912.0f));
                __m512 n = _mm512_sub_ps(k, _mm512_set1_ps(12582912.0f));
                __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693145751953125f), tc);
                r = _mm512_add_ps(_mm512_fmadd_ps(n, _mm512_set1_ps(-1.42860676533e-06f), r),
                                  err);
                __m512 y = fa_sm_pow2_poly16(k, r, 127 + 64);
                __mmask16 gone = _mm512_cmp_ps_mask(tt, lo, _CMP_LT_OQ);
                __mmask16 tie = _mm512_cmp_ps_mask(v, vm, _CMP_EQ_OQ);
                e[q] = _mm512_mask_blend_ps((__mmask16)(gone | tie), y, zero);
                t += __builtin_popcount((unsigned)tie);
                if (so != NULL)
                    _mm512_stream_ps(so + i + 16 * q, _mm512_sub_ps(_mm512_sub_ps(
                                     _mm512_loadu_ps(se + i + 16 * q), va), vb));
            }
            __m512 sum = _mm512_add_ps(_mm512_add_ps(e[0], e[1]), _mm512_add_ps(e[2], e[3]));
            d0 = _mm512_add_pd(d0, _mm512_cvtps_pd(_mm512_castps512_ps256(sum)));
            d1 = _mm512_add_pd(d1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(sum, 1)));
        }
        _mm512_storeu_pd(dacc, d0);
        _mm512_storeu_pd(dacc + 8, d1);
        *ties += t;
        return i;
    }
    static Py_ssize_t fa_sm_exp_rest_sum64_f64(const double *x, Py_ssize_t len, double m,
                                               const double *pf, double *dacc,
                                               Py_ssize_t *ties, double *so, const double *se,
                                               double a, double b) {
        const __m512d vm = _mm512_set1_pd(m), lo = _mm512_set1_pd(-797.5);
        const __m512d zero = _mm512_setzero_pd();
        const __m512d va = _mm512_set1_pd(a), vb = _mm512_set1_pd(b);
        __m512d d0 = _mm512_loadu_pd(dacc), d1 = _mm512_loadu_pd(dacc + 8);
        Py_ssize_t i = 0, t = 0;
        for (; i + 64 <= len; i += 64) {
            __m512d e[8];
            for (int q = 0; q < 8; q++) {
                if (pf != NULL) FA_SM_PREFETCH(pf + i + 8 * q);
                __m512d v = _mm512_loadu_pd(x + i + 8 * q);
                __m512d tc = _mm512_max_pd(lo, _mm512_sub_pd(v, vm));
                __m512d k = _mm512_fmadd_pd(tc, _mm512_set1_pd(1.4426950408889634),
                                            _mm512_set1_pd(6755399441055744.0));
                __m512d n = _mm512_sub_pd(k, _mm512_set1_pd(6755399441055744.0));
                __m512d r = _mm512_fmadd_pd(n, _mm512_set1_pd(-6.93147180369123816490e-01), tc);
                r = _mm512_fmadd_pd(n, _mm512_set1_pd(-1.90821492927058770002e-10), r);
                __m512d y = fa_sm_pow2_poly8(k, r, 1023 + 128);
                __mmask8 tie = _mm512_cmp_pd_mask(v, vm, _CMP_EQ_OQ);
                e[q] = _mm512_mask_blend_pd(tie, y, zero);
                t += __builtin_popcount((unsigned)tie);
                if (so != NULL)
                    _mm512_stream_pd(so + i + 8 * q, _mm512_sub_pd(_mm512_sub_pd(
                                     _mm512_loadu_pd(se + i + 8 * q), va), vb));
            }
            d0 = _mm512_add_pd(d0, _mm512_add_pd(_mm512_add_pd(e[0], e[2]),
                                                  _mm512_add_pd(e[4], e[6])));
            d1 = _mm512_add_pd(d1, _mm512_add_pd(_mm512_add_pd(e[1], e[3]),
                                                  _mm512_add_pd(e[5], e[7])));
        }
        _mm512_storeu_pd(dacc, d0);
        _mm512_storeu_pd(dacc + 8, d1);
        *ties += t;
        return i;
    }
    /* o = exp(v - m) for the last < 64 elements of a block, by masked vectors (the
       same operations as the scalar fa_sm_expneg: same bits; scalar, the 40 left of
       a row of 1000 cost as much as its other 960) */
    static inline void fa_sm_exp_tail_f32(float *o, const float *x, Py_ssize_t len,
                                          float m, int negate) {
        const __m512 vm = _mm512_set1_ps(m);
        for (Py_ssize_t k = 0; k < len; k += 16) {
            __mmask16 k16 = len - k >= 16 ? (__mmask16)0xFFFF
                                          : (__mmask16)((1u << (len - k)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(k16, x + k);
            v = negate ? _mm512_sub_ps(_mm512_setzero_ps(), v) : v;
            _mm512_mask_storeu_ps(o + k, k16, fa_sm_expneg16(_mm512_sub_ps(v, vm)));
        }
    }
    static inline void fa_sm_exp_tail_f64(double *o, const double *x, Py_ssize_t len,
                                          double m, int negate) {
        const __m512d vm = _mm512_set1_pd(m);
        for (Py_ssize_t k = 0; k < len; k += 8) {
            __mmask8 k8 = len - k >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (len - k)) - 1);
            __m512d v = _mm512_maskz_loadu_pd(k8, x + k);
            v = negate ? _mm512_sub_pd(_mm512_setzero_pd(), v) : v;
            _mm512_mask_storeu_pd(o + k, k8, fa_sm_expneg8(_mm512_sub_pd(v, vm)));
        }
    }
    /* the block sum from the lanes dacc of exp_sum64 and the last < 64 exps e: those
       as one more 64 padded with zeros (the same pairwise float sums per lane), then
       the lanes folded as fa_sm_sum_finish folds them (scalar, a row of 16 spent
       half its time here) */
    static inline double fa_sm_fold16(__m512d d0, __m512d d1) {      /* lanes j, j + 8 */
        __m512d d = _mm512_add_pd(d0, d1);
        __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(d), _mm512_extractf64x4_pd(d, 1));
        __m128d g = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
        return _mm_cvtsd_f64(g) + _mm_cvtsd_f64(_mm_unpackhi_pd(g, g));
    }
    static inline double fa_sm_tail_sum_f32(const double *dacc, const float *e,
                                            Py_ssize_t len) {
        __m512d d0 = _mm512_loadu_pd(dacc), d1 = _mm512_loadu_pd(dacc + 8);
        if (len > 0) {
            __m512 q[4];
            for (int j = 0; j < 4; j++) {
                Py_ssize_t r = len - 16 * j;
                __mmask16 k16 = r >= 16 ? (__mmask16)0xFFFF
                                : r > 0 ? (__mmask16)((1u << r) - 1) : (__mmask16)0;
                q[j] = _mm512_maskz_loadu_ps(k16, e + 16 * j);
            }
            __m512 sm = _mm512_add_ps(_mm512_add_ps(q[0], q[1]), _mm512_add_ps(q[2], q[3]));
            d0 = _mm512_add_pd(d0, _mm512_cvtps_pd(_mm512_castps512_ps256(sm)));
            d1 = _mm512_add_pd(d1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(sm, 1)));
        }
        return fa_sm_fold16(d0, d1);
    }
    static inline double fa_sm_tail_sum_f64(const double *dacc, const double *e,
                                            Py_ssize_t len) {
        __m512d d0 = _mm512_loadu_pd(dacc), d1 = _mm512_loadu_pd(dacc + 8);
        if (len > 0) {
            __m512d q[8];
            for (int j = 0; j < 8; j++) {
                Py_ssize_t r = len - 8 * j;
                __mmask8 k8 = r >= 8 ? (__mmask8)0xFF
                              : r > 0 ? (__mmask8)((1u << r) - 1) : (__mmask8)0;
                q[j] = _mm512_maskz_loadu_pd(k8, e + 8 * j);
            }
            d0 = _mm512_add_pd(d0, _mm512_add_pd(_mm512_add_pd(q[0], q[2]),
                                                 _mm512_add_pd(q[4], q[6])));
            d1 = _mm512_add_pd(d1, _mm512_add_pd(_mm512_add_pd(q[1], q[3]),
                                                 _mm512_add_pd(q[5], q[7])));
        }
        return fa_sm_fold16(d0, d1);
    }
    /* A softmax row of 1 to 64 elements (no mask) in registers, with the operations
       and order of fa_sm_row_max, fa_sm_exp_store (the whole row is its tail) and
       fa_sm_scale (the sum as fa_sm_tail_sum's, 0 + a being a): same bits, without
       their calls and loop set-ups, which cost a row of 16 more than its arithmetic.
       Returns 1, writing nothing (o may be x), when the row is special (max not
       finite, or a NaN sum): the general path finishes it. */
    static inline int fa_sm_short_row_f32(float *o, const float *x, Py_ssize_t n,
                                          int negate) {
        __m512 v[4];
        __mmask16 k[4];
        const __m512i flip = _mm512_set1_epi32(negate ? (int)0x80000000u : 0);
        __m512i kh = _mm512_set1_epi32((int)0x80000000u);
        __m512i kl = _mm512_set1_epi32((int)0xFF800000u);           /* -inf's bits */
        for (int j = 0; j < 4; j++) {
            Py_ssize_t r = n - 16 * j;
            k[j] = r >= 16 ? (__mmask16)0xFFFF : r > 0 ? (__mmask16)((1u << r) - 1) : 0;
            v[j] = _mm512_maskz_loadu_ps(k[j], x + 16 * j);
            __m512i b = _mm512_xor_si512(_mm512_castps_si512(v[j]), flip);
            kh = _mm512_mask_max_epi32(kh, k[j], kh, b);
            kl = _mm512_mask_min_epi32(kl, k[j], kl, b);
        }
        int hi = _mm512_reduce_max_epi32(kh), lo = _mm512_reduce_min_epi32(kl);
        float m = fa_from_bits_f32((uint32_t)(hi >= 0 ? hi : lo));
        if (!(m - m == 0)) return 1;
        const __m512 vm = _mm512_set1_ps(m);
        __m512 e[4];
        for (int j = 0; j < 4; j++) {                  /* unused vectors: 0, exactly */
            __m512 t = negate ? _mm512_sub_ps(_mm512_setzero_ps(), v[j]) : v[j];
            e[j] = k[j] ? _mm512_maskz_mov_ps(k[j], fa_sm_expneg16(_mm512_sub_ps(t, vm)))
                        : _mm512_setzero_ps();
        }
        __m512 sm = _mm512_add_ps(_mm512_add_ps(e[0], e[1]), _mm512_add_ps(e[2], e[3]));
        double s = fa_sm_fold16(_mm512_cvtps_pd(_mm512_castps512_ps256(sm)),
                                _mm512_cvtps_pd(_mm512_extractf32x8_ps(sm, 1)));
        if (s != s) return 1;
        const __m512 f = _mm512_set1_ps((float)(1.0 / s));
        for (int j = 0; j < 4; j++)
            _mm512_mask_storeu_ps(o + 16 * j, k[j], _mm512_mul_ps(e[j], f));
        return 0;
    }
    static inline int fa_sm_short_row_f64(double *o, const double *x, Py_ssize_t n,
                                          int negate) {
        __m512d v[8];
        __mmask8 k[8];
        const __m512i flip = _mm512_set1_epi64(negate ? (long long)0x8000000000000000ull : 0);
        __m512i kh = _mm512_set1_epi64((long long)0x8000000000000000ull);
        __m512i kl = _mm512_set1_epi64((long long)0xFFF0000000000000ull);
        for (int j = 0; j < 8; j++) {
            Py_ssize_t r = n - 8 * j;
            k[j] = r >= 8 ? (__mmask8)0xFF : r > 0 ? (__mmask8)((1u << r) - 1) : 0;
            v[j] = _mm512_maskz_loadu_pd(k[j], x + 8 * j);
            __m512i b = _mm512_xor_si512(_mm512_castpd_si512(v[j]), flip);
            kh = _mm512_mask_max_epi64(kh, k[j], kh, b);
            kl = _mm512_mask_min_epi64(kl, k[j], kl, b);
        }
        long long hi = _mm512_reduce_max_epi64(kh), lo = _mm512_reduce_min_epi64(kl);
        double m = fa_from_bits_f64((uint64_t)(hi >= 0 ? hi : lo));
        if (!(m - m == 0)) return 1;
        const __m512d vm = _mm512_set1_pd(m);
        __m512d e[8];
        for (int j = 0; j < 8; j++) {
            __m512d t = negate ? _mm512_sub_pd(_mm512_setzero_pd(), v[j]) : v[j];
            e[j] = k[j] ? _mm512_maskz_mov_pd(k[j], fa_sm_expneg8(_mm512_sub_pd(t, vm)))
                        : _mm512_setzero_pd();
        }
        double s = fa_sm_fold16(
            _mm512_add_pd(_mm512_add_pd(e[0], e[2]), _mm512_add_pd(e[4], e[6])),
            _mm512_add_pd(_mm512_add_pd(e[1], e[3]), _mm512_add_pd(e[5], e[7])));
        if (s != s) return 1;
        const __m512d f = _mm512_set1_pd(1.0 / s);
        for (int j = 0; j < 8; j++)
            _mm512_mask_storeu_pd(o + 8 * j, k[j], _mm512_mul_pd(e[j], f));
        return 0;
    }
    /* the loops above with the prefetch level a constant (see FA_SM_PREFETCH_LONG) */
    static inline __attribute__((always_inline)) Py_ssize_t fa_sm_exp_sum64_f32(float *o, const float *x, Py_ssize_t len,
            float m, int negate, const float *pf, double *dacc, float *so, const float *se, float f,
            const float *xm, int *khi, int *klo) {
        return FA_SM_PREFETCH_LONG(pf, x)
            ? fa_sm_exp_sum64_body_f32(o, x, len, m, negate, pf, dacc, so, se, f, xm, khi, klo, 1)
            : fa_sm_exp_sum64_body_f32(o, x, len, m, negate, pf, dacc, so, se, f, xm, khi, klo, 0);
    }
    static inline __attribute__((always_inline)) Py_ssize_t fa_sm_exp_sum64_f64(double *o, const double *x, Py_ssize_t len,
            double m, int negate, const double *pf, double *dacc, double *so, const double *se, double f,
            const double *xm, long long *khi, long long *klo) {
        return FA_SM_PREFETCH_LONG(pf, x)
            ? fa_sm_exp_sum64_body_f64(o, x, len, m, negate, pf, dacc, so, se, f, xm, khi, klo, 1)
            : fa_sm_exp_sum64_body_f64(o, x, len, m, negate, pf, dacc, so, se, f, xm, khi, klo, 0);
    }
    #else
    #define FA_SM_HAVE_AVX512 0
    /* never called (FA_SM_HAVE_AVX512 is 0); declared so the generic code compiles */
    static inline void fa_sm_exp_tail_f32(float *o, const float *x, Py_ssize_t len,
                                          float m, int negate) {}
    static inline double fa_sm_tail_sum_f32(const double *dacc, const float *e,
                                            Py_ssize_t len) { return 0; }
    static inline int fa_sm_short_row_f32(float *o, const float *x, Py_ssize_t n,
                                          int negate) { return 1; }
    static inline int fa_sm_short_row_f64(double *o, const double *x, Py_ssize_t n,
                                          int negate) { return 1; }
    static inline double fa_sm_tail_sum_f64(const double *dacc, const double *e,
                                            Py_ssize_t len) { return 0; }
    static inline void fa_sm_exp_tail_f64(double *o, const double *x, Py_ssize_t len,
                                          double m, int negate) {}
    static inline Py_ssize_t fa_sm_exp_sum64_f32(float *o, const float *x, Py_ssize_t len,
                                                 float m, int negate, const float *pf,
                                                 double *dacc, float *so, const float *se,
                                                 float f, const float *xm, int *khi,
                                                 int *klo) { return 0; }
    static inline Py_ssize_t fa_sm_exp_sum64_f64(double *o, const double *x, Py_ssize_t len,
                                                 double m, int negate, const double *pf,
                                                 double *dacc, double *so, const double *se,
                                                 double f, const double *xm, long long *khi,
                                                 long long *klo) { return 0; }
    static inline Py_ssize_t fa_sm_exp_rest_sum64_f32(const float *x, Py_ssize_t len,
                                                      float m, const float *pf, double *dacc,
                                                      Py_ssize_t *ties, float *so,
                                                      const float *se, float a, float b) {
        return 0;
    }
    static inline Py_ssize_t fa_sm_exp_rest_sum64_f64(const double *x, Py_ssize_t len,
                                                      double m, const double *pf,
                                                      double *dacc, Py_ssize_t *ties,
                                                      double *so, const double *se,
                                                      double a, double b) {
        return 0;
    }
    #endif

    /* log_softmax's and logsumexp's exp(v - m) for v <= m, accurate for every
       logit (their 4-ULP bar has no |log p| term), returned SCALED by 2^64 (float)
       or 2^128 (double), so that every result is a normal number or 0: a sum of
       many results below the smallest normal can be a normal number, and the
       caller removes the scale from the sum exactly (FA_SM_UNSCALE).  float32
       carries v - m exactly (t + err, TwoSum) into the reduction; double rounds it
       once, as the reference.  t is clamped where 2^(n + scale) becomes exactly 0
       (results below 2^-190 / 2^-1150 are dropped); -inf gives 0 (float32: by a
       select, as TwoSum turns it into NaN), NaN gives NaN. */
    #define FA_SM_UNSCALE_f32 5.42101086242752217e-20   /* 2^-64 */
    #define FA_SM_UNSCALE_f64 2.9387358770557188e-39    /* 2^-128 */
    static inline float fa_sm_exp_f32(float v, float m) {
        float t = v - m;
        float bb = t - v;
        float err = (v - (t - bb)) + (-m - bb);
        float tc = t < -132.5f ? -132.5f : t;               /* n = -191: 2^(n+64) = 0 */
        float k = FA_SM_FMAF(tc, 1.44269504088896341f, 12582912.0f);
        float n = k - 12582912.0f;
        float r = FA_SM_FMAF(n, -0.693145751953125f, tc);
        r = FA_SM_FMAF(n, -1.42860676533e-06f, r) + err;
        float p = FA_SM_POLY_F32(r);
        float y = p * fa_from_bits_f32((fa_bits_f32(k) - 0x4B400000u + (127u + 64u)) << 23);
        return t < -132.5f ? 0.0f : y;                      /* v = -inf: err is NaN */
    }
    static inline double fa_sm_exp_f64(double v, double m) {
        double t = v - m;
        double tc = t < -797.5 ? -797.5 : t;                /* n = -1151: 2^(n+128) = 0 */
        double k = FA_SM_FMA(tc, 1.4426950408889634, 6755399441055744.0);
        double n = k - 6755399441055744.0;
        double r = FA_SM_FMA(n, -6.93147180369123816490e-01, tc);
        r = FA_SM_FMA(n, -1.90821492927058770002e-10, r);
        double p = FA_SM_POLY_F64(r);
        return p * fa_from_bits_f64((fa_bits_f64(k) - 0x4338000000000000ull + (1023u + 128u)) << 52);
    }

    /* exp(y) over the whole range for the log_softmax backward (any y). */
    static inline float fa_sm_expany_f32(float y) { return fa_exp_f32(y); }
    static inline double fa_sm_expany_f64(double y) { return fa_exp_f64(y); }

    /* The kernels for one float type T (suffix S; I: the signed integer of its width,
       BITS / FROM: bit casts), generated by this macro. */
    #define FA_SM_DEFINE(T, S, I, BITS, FROM)                                                       \
    /* sum of a[0:len]: per 64 elements a pairwise T sum of 4 per lane ((a0 + a1) + \
       (a2 + a3): every term rounded at most twice, error < 2^-23 sum |a| in float), \
       added into 16 double lanes, then the lanes pairwise; the order depends on len \
       only, not on the threads.  The last < 64 (a[0:len] here) count as one more 64 \
       padded with zeros (fa_sm_tail_sum: the same with AVX-512).                   */\
    static double fa_sm_sum_finish_##S(double *dacc, const T *a, Py_ssize_t len) {      \
        if (len > 0) {                                                                  \
            T q[4 * FA_SM_LANES] = {0};                                                 \
            memcpy(q, a, (size_t)len * sizeof(T));                                      \
            for (int j = 0; j < FA_SM_LANES; j++)                                       \
                dacc[j] += (double)((q[j] + q[j + FA_SM_LANES])                         \
                                    + (q[j + 2 * FA_SM_LANES] + q[j + 3 * FA_SM_LANES])); \
        }                                                                               \
        for (int w = FA_SM_LANES / 2; w > 0; w /= 2)                                    \
            for (int j = 0; j < w; j++) dacc[j] += dacc[j + w];                         \
        return dacc[0];                                                                 \
    }                                                                                   \
    static double fa_sm_sum_pos_##S(const T *a, Py_ssize_t len) {                       \
        double dacc[FA_SM_LANES] = {0};                                                 \
        Py_ssize_t i = 0;                                                               \
        for (; i + 4 * FA_SM_LANES <= len; i += 4 * FA_SM_LANES) {                      \
            const T *q = a + i;                                                         \
            for (int j = 0; j < FA_SM_LANES; j++)                                       \
                dacc[j] += (double)((q[j] + q[j + FA_SM_LANES])                         \
                                    + (q[j + 2 * FA_SM_LANES] + q[j + 3 * FA_SM_LANES])); \
        }                                                                               \
        return fa_sm_sum_finish_##S(dacc, a + i, len - i);                              \
    }                                                                                   \
    /* sum of a[i] * b[i] (signed): per 64 elements a pairwise T sum of 4 products   \
       per lane (error < 3 u |a b| each), added into 16 double lanes, then the lanes  \
       pairwise: within the backward bar of 16 eps sum |a b|; order: len only        */\
    static double fa_sm_dot_##S(const T *a, const T *b, Py_ssize_t len) {               \
        double dacc[FA_SM_LANES] = {0};                                                 \
        Py_ssize_t i = 0;                                                               \
        for (; i + 4 * FA_SM_LANES <= len; i += 4 * FA_SM_LANES) {                      \
            const T *p = a + i, *q = b + i;                                             \
            for (int j = 0; j < FA_SM_LANES; j++) {                                     \
                const int L = FA_SM_LANES;                                              \
                dacc[j] += (double)((p[j] * q[j] + p[j + L] * q[j + L])                  \
                                    + (p[j + 2 * L] * q[j + 2 * L] + p[j + 3 * L] * q[j + 3 * L])); \
            }                                                                           \
        }                                                                               \
        for (int j = 0; i < len; i++, j = (j + 1) & (FA_SM_LANES - 1))                  \
            dacc[j] += (double)a[i] * (double)b[i];                                     \
        for (int w = FA_SM_LANES / 2; w > 0; w /= 2)                                    \
            for (int j = 0; j < w; j++) dacc[j] += dacc[j + w];                         \
        return dacc[0];                                                                 \
    }                                                                                   \
    /* max of v = (negate ? -x : x) over [0, len), masked entries -inf, from two     \
       integer reductions of the bits b (vectorize without fast-math): among v >= +0 \
       the largest b is the largest v, among v <= -0 the smallest b is; so the max  \
       is max(b) if that is >= 0, else min(b).  A positive NaN beats +inf (the row  \
       is then special); a negative NaN never wins and is caught by the NaN sum.   */\
    static void fa_sm_keys_##S(const T *x, Py_ssize_t len, int negate, I *khi, I *klo) { \
        const I flip = negate ? (I)((I)1 << (8 * sizeof(T) - 1)) : 0;                    \
        I hi = *khi, lo = *klo;                                                         \
        for (Py_ssize_t i = 0; i < len; i++) {                                          \
            I b = (I)BITS(x[i]) ^ flip;                                                 \
            hi = b > hi ? b : hi;                                                       \
            lo = b < lo ? b : lo;                                                       \
        }                                                                               \
        *khi = hi; *klo = lo;                                                           \
    }                                                                                   \
    static T fa_sm_key_max_##S(I hi, I lo) { return FROM(hi >= 0 ? hi : lo); }          \
    static T fa_sm_max_##S(const T *x, const unsigned char *mk, Py_ssize_t len,         \
                           int negate) {                                                \
        const I sign = (I)((I)1 << (8 * sizeof(T) - 1));                                \
        const I flip = negate ? sign : 0;                                               \
        const I neginf = (I)BITS(-(T)INFINITY);                                         \
        I hi = sign, lo = neginf;                                                       \
        if (mk == NULL) {                                                               \
            fa_sm_keys_##S(x, len, negate, &hi, &lo);                                   \
        } else {                                                                        \
            for (Py_ssize_t i = 0; i < len; i++) {                                      \
                I b = (I)BITS(x[i]) ^ flip;                                             \
                I bh = mk[i] ? b : sign, bl = mk[i] ? b : neginf;                       \
                hi = bh > hi ? bh : hi;                                                 \
                lo = bl < lo ? bl : lo;                                                 \
            }                                                                           \
        }                                                                               \
        return fa_sm_key_max_##S(hi, lo);                                               \
    }                                                                                   \
    /* The wave (softmax and log_softmax rows of over FA_SM_WAVE_ROW_MIN, large): a    \
       row's final pass, o = e * (T)inv (softmax: its exps e wait in scratch until    \
       their sum is known) or o = (x - (T)m) - (T)lse (log_softmax: e = x), is        \
       streamed out a piece at a time from inside the NEXT row's exp pass, so the      \
       stores to memory overlap that pass's arithmetic (each core alternating exp      \
       and store phases left the memory idle half the time).  Same operations, same    \
       bits, as the final pass done at once.  The row is streamed from element h to n, \
       then from 0 to h (j: next element; [j, stop), then [0, wrap)).                */\
    typedef struct {                                                                    \
        T *o; const T *e; Py_ssize_t j, stop, wrap; int log; double a, b;               \
    } fa_sm_wave_##S;                                                                   \
    static void fa_sm_stream_scale_##S(T *o, const T *a, Py_ssize_t len, double inv);   \
    static void fa_sm_stream_log_##S(T *o, const T *x, Py_ssize_t len, double m,        \
                                     double lse);                                       \
    static inline int fa_sm_wave_more_##S(fa_sm_wave_##S *w) {                          \
        if (w->j >= w->stop && w->wrap > 0) { w->j = 0; w->stop = w->wrap; w->wrap = 0; } \
        return w->j < w->stop;                                                          \
    }                                                                                   \
    /* stream the next k elements of w's row (fewer: to a line boundary of o) */       \
    static inline void fa_sm_wave_step_##S(fa_sm_wave_##S *w, Py_ssize_t k) {          \
        if (w == NULL || !fa_sm_wave_more_##S(w)) return;                               \
        Py_ssize_t end = w->j + k;                                                      \
    FA_SM_IF_STREAM(                                                                    \
        if (end <= w->stop && k == 64 && !((uintptr_t)(w->o + w->j) & 63)) {            \
            typedef T V __attribute__((vector_size(FA_SM_VBYTES)));                     \
            const Py_ssize_t W = FA_SM_VBYTES / (Py_ssize_t)sizeof(T);                  \
            V va, vb;                                                                   \
            for (int q = 0; q < W; q++) { va[q] = (T)w->a; vb[q] = (T)w->b; }           \
            for (Py_ssize_t i = w->j; i < end; i += W) {                                \
                V v;                                                                    \
                memcpy(&v, w->e + i, sizeof v);                                         \
                FA_SM_STREAM_##S(w->o + i, w->log ? (v - va) - vb : v * va);            \
            }                                                                           \
            w->j = end;                                                                 \
            return;                                                                     \
        }                                                                               \
    )                                                                                   \
        if (end >= w->stop) {                                                           \
            end = w->stop;                                                              \
        } else {                                                                        \
            Py_ssize_t back = (Py_ssize_t)(((uintptr_t)(w->o + end) & 63) / sizeof(T)); \
            if (end - back > w->j) end -= back;                                         \
        }                                                                               \
        if (w->log)                                                                     \
            fa_sm_stream_log_##S(w->o + w->j, w->e + w->j, end - w->j, w->a, w->b);     \
        else                                                                            \
            fa_sm_stream_scale_##S(w->o + w->j, w->e + w->j, end - w->j, w->a);         \
        w->j = end;                                                                     \
    }                                                                                   \
    static void fa_sm_wave_flush_##S(fa_sm_wave_##S *w) {                               \
        while (fa_sm_wave_more_##S(w)) fa_sm_wave_step_##S(w, w->stop - w->j);          \
    }                                                                                   \
    /* row o (n elements from e; log: o = (e - a) - b, else o = e * a) waits, to be    \
       streamed in the exp pass of xn.  h: the stream's stores stay ~half a page off   \
       that pass's loads (same offset in a 4 KiB page: the CPU takes a load for one of \
       the stores before it and waits; 1.6x slower where out and x share their page    \
       offsets, as rows of 4096 floats do) */                                          \
    static void fa_sm_wave_start_##S(fa_sm_wave_##S *w, T *o, const T *e, Py_ssize_t n, \
                                     int log, double a, double b, const T *xn) {        \
        Py_ssize_t h = (Py_ssize_t)((2048 - ((uintptr_t)o - (uintptr_t)xn)) & 4095);     \
        h -= (Py_ssize_t)(((uintptr_t)o + (uintptr_t)h) & 63);                          \
        h = h < 0 ? 0 : h / (Py_ssize_t)sizeof(T);                                      \
        if (h >= n) h = 0;                                                              \
        w->o = o; w->e = e; w->j = h; w->stop = n; w->wrap = h;                         \
        w->log = log; w->a = a; w->b = b;                                               \
    }                                                                                   \
    /* for an exp pass of len: w's row aligned to a line of o, then the span (whole    \
       64s, <= len) to stream inside the pass from *so (NULL: none) */                 \
    static inline Py_ssize_t fa_sm_wave_span_##S(fa_sm_wave_##S *w, Py_ssize_t len,     \
                                                 T **so) {                              \
        *so = NULL;                                                                     \
        if (w == NULL || !fa_sm_wave_more_##S(w)) return 0;                             \
        Py_ssize_t a = (Py_ssize_t)((64 - ((uintptr_t)(w->o + w->j) & 63)) & 63)         \
                       / (Py_ssize_t)sizeof(T);                                         \
        if (a > 0) fa_sm_wave_step_##S(w, a);                                           \
        if (!fa_sm_wave_more_##S(w) || ((uintptr_t)(w->o + w->j) & 63)) return 0;        \
        Py_ssize_t span = (w->stop - w->j) < len ? (w->stop - w->j) : len;              \
        *so = w->o + w->j;                                                              \
        return span - (span & 63);                                                      \
    }                                                                                   \
    /* o = exp(v - m) (0 where masked) on [0, len), prefetching pf (or NULL),           \
       stepping wave w (or NULL; unmasked only) and taking the max keys of xm[0:len)    \
       into *khi / *klo (xm NULL: none; see fa_sm_max); returns the double sum */       \
    static double fa_sm_exp_store_##S(T *o, const T *x, const unsigned char *mk,        \
                                      Py_ssize_t len, T m, int negate, const T *pf,     \
                                      fa_sm_wave_##S *w, const T *xm, I *khi, I *klo) { \
        if (FA_SM_HAVE_AVX512 && mk == NULL) {                                          \
            double dacc[FA_SM_LANES] = {0};                                             \
            Py_ssize_t i = 0;                                                           \
            T *so;                                                                      \
            Py_ssize_t span = fa_sm_wave_span_##S(w, len, &so);                         \
            if (so != NULL) {                                                           \
                const T *se = w->e + w->j;                                              \
                const T f = (T)w->a;                                                    \
                i = negate ? fa_sm_exp_sum64_##S(o, x, span, m, 1, pf, dacc, so, se, f, \
                                                 xm, khi, klo)                          \
                           : fa_sm_exp_sum64_##S(o, x, span, m, 0, pf, dacc, so, se, f, \
                                                 xm, khi, klo);                         \
                w->j += span;                                                           \
            }                                                                           \
            const T *pi = pf ? pf + i : NULL, *mi = xm ? xm + i : NULL;                 \
            i += negate ? fa_sm_exp_sum64_##S(o + i, x + i, len - i, m, 1, pi, dacc,    \
                                              NULL, NULL, 0, mi, khi, klo)              \
                        : fa_sm_exp_sum64_##S(o + i, x + i, len - i, m, 0, pi, dacc,    \
                                              NULL, NULL, 0, mi, khi, klo);             \
            fa_sm_exp_tail_##S(o + i, x + i, len - i, m, negate);                       \
            if (xm != NULL) fa_sm_keys_##S(xm + i, len - i, negate, khi, klo);          \
            return fa_sm_tail_sum_##S(dacc, o + i, len - i);                            \
        }                                                                               \
        if (xm != NULL) fa_sm_keys_##S(xm, len, negate, khi, klo);                      \
        if (mk == NULL && !negate) {                                                    \
            FA_SM_PREFETCHED_LOOP(T, S, i, len, x, pf, w, o[i] = fa_sm_expneg_##S(x[i] - m)); \
        } else if (mk == NULL) {                                                        \
            FA_SM_PREFETCHED_LOOP(T, S, i, len, x, pf, w, o[i] = fa_sm_expneg_##S(-x[i] - m)); \
        } else {                                                                        \
            const T sg = negate ? (T)-1 : (T)1;                                         \
            for (Py_ssize_t i = 0; i < len; i++) {                                      \
                T e = fa_sm_expneg_##S(sg * x[i] - m);                                  \
                o[i] = mk[i] ? e : (T)0;                                                \
            }                                                                           \
        }                                                                               \
        return fa_sm_sum_pos_##S(o, len);                                               \
    }                                                                                   \
    /* buf = exp(x - m) for x != m, 0 else (and where masked); *ties = #(x == m)    \
       (log_softmax and logsumexp: never negated) */                                    \
    static double fa_sm_exp_rest_##S(T *buf, const T *x, const unsigned char *mk,       \
                                     Py_ssize_t len, T m, Py_ssize_t *ties) {           \
        Py_ssize_t t = 0;                                                               \
        if (mk == NULL) {                                                               \
            for (Py_ssize_t i = 0; i < len; i++) {                                      \
                T v = x[i];                                                             \
                T e = fa_sm_exp_##S(v, m);                                              \
                buf[i] = v == m ? (T)0 : e;                                             \
                t += v == m;                                                            \
            }                                                                           \
        } else {                                                                        \
            for (Py_ssize_t i = 0; i < len; i++) {                                      \
                T v = x[i];                                                             \
                T e = fa_sm_exp_##S(v, m);                                              \
                int keep = mk[i] != 0;                                                  \
                buf[i] = (keep & (v != m)) ? e : (T)0;                                  \
                t += keep & (v == m);                                                   \
            }                                                                           \
        }                                                                               \
        *ties = t;                                                                      \
        return fa_sm_sum_pos_##S(buf, len);                                             \
    }                                                                                   \
    /* o *= 1/S, 1/S rounded to T (with e's ~1 ULP: < 2.5 ULP in all) */               \
    static void fa_sm_scale_##S(T *o, Py_ssize_t len, double inv) {                     \
        const T f = (T)inv;                                                             \
        for (Py_ssize_t i = 0; i < len; i++) o[i] *= f;                                 \
    }                                                                                   \
    /* o = (x - m) - lse in T, -inf where masked: x - m <= 0 and lse >= 0 have one  \
       sign, so |x - m| and lse are at most |o|: the three roundings cost <= 1.5 ULP  */\
    static void fa_sm_log_##S(T *o, const T *x, const unsigned char *mk,                \
                              Py_ssize_t len, double m, double lse) {                   \
        const T mt = (T)m, lt = (T)lse;                                                 \
        if (mk == NULL) {                                                               \
            for (Py_ssize_t i = 0; i < len; i++) o[i] = (x[i] - mt) - lt;               \
        } else {                                                                        \
            for (Py_ssize_t i = 0; i < len; i++) {                                      \
                T v = (x[i] - mt) - lt;                                                 \
                o[i] = mk[i] ? v : -(T)INFINITY;                                        \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
    /* The final passes with streaming stores (see FA_SM_HAVE_STREAM), same bits        \
       as fa_sm_scale / fa_sm_log (unmasked): o = a * f, o = (x - mt) - lt; plain       \
       stores up to the first aligned element of o and for the tail */                  \
    static void fa_sm_stream_scale_##S(T *o, const T *a, Py_ssize_t len, double inv) {  \
        const T f = (T)inv;                                                             \
        Py_ssize_t i = 0;                                                               \
    FA_SM_IF_STREAM(                                                                    \
        typedef T V __attribute__((vector_size(FA_SM_VBYTES)));                         \
        const Py_ssize_t W = FA_SM_VBYTES / (Py_ssize_t)sizeof(T);                      \
        V vf;                                                                           \
        for (int j = 0; j < W; j++) vf[j] = f;                                          \
        for (; i < len && ((uintptr_t)(o + i) & (FA_SM_VBYTES - 1)); i++) o[i] = a[i] * f; \
        for (; i + W <= len; i += W) {                                                  \
            V v;                                                                        \
            memcpy(&v, a + i, sizeof v);                                                \
            FA_SM_STREAM_##S(o + i, v * vf);                                            \
        }                                                                               \
    )                                                                                   \
        for (; i < len; i++) o[i] = a[i] * f;                                           \
    }                                                                                   \
    /* softmax_backward's pass o = y (g - s_T) with streaming stores (same bits as     \
       fa_sm_bwd), prefetching the lines of yn and gn (the next row, or NULL) at the    \
       same offsets, one line of each per line of work */                              \
    static void fa_sm_stream_bwd_##S(T *o, const T *y, const T *g, Py_ssize_t len,      \
                                     double s, const T *yn, const T *gn) {              \
        const T st = (T)s;                                                              \
        Py_ssize_t i = 0;                                                               \
    FA_SM_IF_STREAM(                                                                    \
        typedef T V __attribute__((vector_size(FA_SM_VBYTES)));                         \
        const Py_ssize_t W = FA_SM_VBYTES / (Py_ssize_t)sizeof(T);                      \
        V vs;                                                                           \
        for (int j = 0; j < W; j++) vs[j] = st;                                         \
        for (; i < len && ((uintptr_t)(o + i) & (FA_SM_VBYTES - 1)); i++)               \
            o[i] = y[i] * (g[i] - st);                                                  \
        for (; i + W <= len; i += W) {                                                  \
            if (yn != NULL && ((i * (Py_ssize_t)sizeof(T)) & 63) < FA_SM_VBYTES) {      \
                FA_SM_PREFETCH(yn + i);                                                 \
                FA_SM_PREFETCH(gn + i);                                                 \
            }                                                                           \
            V vy, vg;                                                                   \
            memcpy(&vy, y + i, sizeof vy);                                              \
            memcpy(&vg, g + i, sizeof vg);                                              \
            FA_SM_STREAM_##S(o + i, vy * (vg - vs));                                    \
        }                                                                               \
    )                                                                                   \
        for (; i < len; i++) o[i] = y[i] * (g[i] - st);                                 \
    }                                                                                   \
    static void fa_sm_stream_log_##S(T *o, const T *x, Py_ssize_t len, double m,        \
                                     double lse) {                                      \
        const T mt = (T)m, lt = (T)lse;                                                 \
        Py_ssize_t i = 0;                                                               \
    FA_SM_IF_STREAM(                                                                    \
        typedef T V __attribute__((vector_size(FA_SM_VBYTES)));                         \
        const Py_ssize_t W = FA_SM_VBYTES / (Py_ssize_t)sizeof(T);                      \
        V vm, vl;                                                                       \
        for (int j = 0; j < W; j++) { vm[j] = mt; vl[j] = lt; }                         \
        for (; i < len && ((uintptr_t)(o + i) & (FA_SM_VBYTES - 1)); i++)               \
            o[i] = (x[i] - mt) - lt;                                                    \
        for (; i + W <= len; i += W) {                                                  \
            V v;                                                                        \
            memcpy(&v, x + i, sizeof v);                                                \
            FA_SM_STREAM_##S(o + i, (v - vm) - vl);                                     \
        }                                                                               \
    )                                                                                   \
        for (; i < len; i++) o[i] = (x[i] - mt) - lt;                                   \
    }                                                                                   \
    /* finish a row whose max m is not finite or whose sum is NaN */                    \
    static void fa_sm_special_##S(int kind, T *o, const T *x, const unsigned char *mk,  \
                                  Py_ssize_t n, T m, int nan_known) {                   \
        int nan = nan_known || m != m;                                                  \
        for (Py_ssize_t i = 0; i < n && !nan; i++)                                      \
            nan = x[i] != x[i] && (mk == NULL || mk[i]);                                \
        if (kind == FA_SM_LOGSUMEXP) { o[0] = nan ? (T)NAN : m; return; }               \
        T fill = (nan || m == (T)INFINITY) ? (T)NAN                                     \
                 : (kind == FA_SM_SOFTMAX ? (T)0 : -(T)INFINITY);                       \
        T off = kind == FA_SM_SOFTMAX ? (T)0 : -(T)INFINITY;                            \
        for (Py_ssize_t i = 0; i < n; i++) o[i] = (mk == NULL || mk[i]) ? fill : off;   \
    }                                                                                   \
    /* backward: the row sum (softmax: sum g*y, log_softmax: sum g) of a block */       \
    static double fa_sm_bsum_##S(int softmax, const T *y, const T *g, Py_ssize_t len) { \
        return softmax ? fa_sm_dot_##S(g, y, len) : fa_sm_sum_pos_##S(g, len);          \
    }                                                                                   \
    /* the elementwise pass in T: softmax y (g - s), log_softmax g - e^y s (explicit    \
       fma, so vector body and remainder agree); error a few u of |y| (|g| + |s|) or   \
       |g| + e^y |s|, inside the backward bar.  log_softmax: a block with every y in   \
       [FA_SM_EXPNEG_LO, 0] (decided per block: same bits on every path) takes the     \
       cheap exp                                                                     */ \
    static void fa_sm_bwd_##S(int softmax, T *o, const T *y, const T *g,                \
                              Py_ssize_t len, double s) {                               \
        const T st = (T)s;                                                              \
        if (softmax) {                                                                  \
            for (Py_ssize_t i = 0; i < len; i++) o[i] = y[i] * (g[i] - st);             \
            return;                                                                     \
        }                                                                               \
        /* the cheap pass checks y as it goes (one read of y); when o overlaps y or g,  \
           a pass that could be undone must not overwrite them: check first         */ \
        int fast = 1;                                                                   \
        if (!((o + len <= y || y + len <= o) && (o + len <= g || g + len <= o)))        \
            for (Py_ssize_t i = 0; i < len; i++)                                        \
                fast &= (y[i] >= FA_SM_EXPNEG_LO_##S) & (y[i] <= (T)0);                 \
        if (fast)                                                                       \
            for (Py_ssize_t i = 0; i < len; i++) {                                      \
                fast &= (y[i] >= FA_SM_EXPNEG_LO_##S) & (y[i] <= (T)0);                 \
                o[i] = FA_SM_FMA_##S(-fa_sm_expneg_##S(y[i]), st, g[i]);                \
            }                                                                           \
        if (!fast)                                                                      \
            for (Py_ssize_t i = 0; i < len; i++)                                        \
                o[i] = FA_SM_FMA_##S(-fa_sm_expany_##S(y[i]), st, g[i]);               \
    }                                                                                   \
    /* Pipelined rows (softmax, no mask; fa_sm_forward_rows says where): the max of   \
       row r + 1 is taken, block by block, in the exp pass of row r, so its loads    \
       overlap that pass's arithmetic (the max is exact in any order: same bits).    \
       The fused loops below return the max of xn[0:nn] (nn = n, or 0 at the end).   */\
    static T fa_sm_exp_store_next_##S(T *o, const T *x, Py_ssize_t n, T m, int negate, \
                                      const T *xn, Py_ssize_t nn) {                     \
        const I sign = (I)((I)1 << (8 * sizeof(T) - 1)), flip = negate ? sign : 0;      \
        I hi = sign, lo = (I)BITS(-(T)INFINITY);                                        \
        Py_ssize_t c = n < nn ? n : nn, i;                                              \
        if (negate) {                                                                   \
            for (i = 0; i < c; i++) {                                                   \
                o[i] = fa_sm_expneg_##S(-x[i] - m);                                     \
                I b = (I)BITS(xn[i]) ^ flip;                                            \
                hi = b > hi ? b : hi;                                                   \
                lo = b < lo ? b : lo;                                                   \
            }                                                                           \
        } else {                                                                        \
            for (i = 0; i < c; i++) {                                                   \
                o[i] = fa_sm_expneg_##S(x[i] - m);                                      \
                I b = (I)BITS(xn[i]);                                                   \
                hi = b > hi ? b : hi;                                                   \
                lo = b < lo ? b : lo;                                                   \
            }                                                                           \
        }                                                                               \
        for (i = c; i < n; i++) o[i] = fa_sm_expneg_##S((negate ? -x[i] : x[i]) - m);  \
        return fa_sm_key_max_##S(hi, lo);                                               \
    }                                                                                   \
    /* log_softmax's unmasked block: sum of exp(x - m) over x != m, *ties = #(x == m), \
       in one pass (no scratch): the terms of each 64 are added exactly as             \
       fa_sm_sum_pos adds them, so the bits are those of exp_rest + sum_pos           */\
    static double fa_sm_exp_rest_sum_##S(const T *x, Py_ssize_t len, T m,               \
                                         Py_ssize_t *ties, const T *pf,                 \
                                         fa_sm_wave_##S *w) {                           \
        double dacc[FA_SM_LANES] = {0};                                                 \
        Py_ssize_t i = 0, t = 0;                                                        \
        if (FA_SM_HAVE_AVX512) {                                                        \
            T *so;                                                                      \
            Py_ssize_t span = fa_sm_wave_span_##S(w, len, &so);                         \
            if (so != NULL) {                                                           \
                i = fa_sm_exp_rest_sum64_##S(x, span, m, pf, dacc, &t, so, w->e + w->j, \
                                             (T)w->a, (T)w->b);                         \
                w->j += span;                                                           \
            }                                                                           \
            i += fa_sm_exp_rest_sum64_##S(x + i, len - i, m, pf ? pf + i : NULL, dacc,  \
                                          &t, NULL, NULL, 0, 0);                        \
        }                                                                               \
        for (; i + 4 * FA_SM_LANES <= len; i += 4 * FA_SM_LANES) {                      \
            const T *q = x + i;                                                         \
            if (pf != NULL)                                                             \
                for (int b = 0; b < (int)(4 * FA_SM_LANES * sizeof(T)); b += 64)        \
                    FA_SM_PREFETCH((const char *)(pf + i) + b);                         \
            fa_sm_wave_step_##S(w, 4 * FA_SM_LANES);                                    \
            for (int j = 0; j < FA_SM_LANES; j++) {                                     \
                const int L = FA_SM_LANES;                                              \
                T v0 = q[j], v1 = q[j + L], v2 = q[j + 2 * L], v3 = q[j + 3 * L];       \
                T e0 = fa_sm_exp_##S(v0, m), e1 = fa_sm_exp_##S(v1, m);                 \
                T e2 = fa_sm_exp_##S(v2, m), e3 = fa_sm_exp_##S(v3, m);                 \
                e0 = v0 == m ? (T)0 : e0;                                               \
                e1 = v1 == m ? (T)0 : e1;                                               \
                e2 = v2 == m ? (T)0 : e2;                                               \
                e3 = v3 == m ? (T)0 : e3;                                               \
                t += (v0 == m) + (v1 == m) + (v2 == m) + (v3 == m);                     \
                dacc[j] += (double)((e0 + e1) + (e2 + e3));                             \
            }                                                                           \
        }                                                                               \
        T tail[4 * FA_SM_LANES];                /* the last < 64: exps vectorized */    \
        Py_ssize_t rest = len - i;                                                      \
        for (Py_ssize_t k = 0; k < rest; k++) {                                         \
            T v = x[i + k];                                                             \
            T e = fa_sm_exp_##S(v, m);                                                  \
            tail[k] = v == m ? (T)0 : e;                                                \
            t += v == m;                                                                \
        }                                                                               \
        *ties = t;                                                                      \
        return fa_sm_sum_finish_##S(dacc, tail, rest);                                  \
    }                                                                                   \
    /* max of a row of n, as the combination of its block maxima in block order */     \
    static T fa_sm_row_max_##S(const T *x, const unsigned char *mk, Py_ssize_t n,       \
                               int negate) {                                            \
        T m = -(T)INFINITY;                                                             \
        for (Py_ssize_t lo = 0; lo < n; lo += FA_SM_BLOCK) {                            \
            T mb = fa_sm_max_##S(x + lo, mk ? mk + lo : NULL,                           \
                                 n - lo < FA_SM_BLOCK ? n - lo : FA_SM_BLOCK, negate);  \
            m = mb > m ? mb : m;                                                        \
        }                                                                               \
        return m;                                                                       \
    }                                                                                   \
    /* A forward row given its max m (o: the row, or the 1 result of logsumexp), block  \
       by block.  Pipelined (xn != NULL, no mask): the exp passes also take the max of  \
       the next row (xn, nn; nn = 0: none), which is returned.  Else pf (or NULL): the  \
       row to prefetch in the exp pass.  stream: the final pass uses streaming stores   \
       (softmax: for a row of one block, whose exps wait in buf). */                    \
    static T fa_sm_row_rest_##S(int kind, int negate, T *o, const T *x,                 \
                                const unsigned char *mk, Py_ssize_t n, T m,             \
                                const T *xn, Py_ssize_t nn, T *buf, const T *pf,        \
                                int stream, fa_sm_wave_##S *w) {                        \
        T mn = -(T)INFINITY;                                                            \
        /* the softmax wave (AVX-512) also takes the max of the next row pf, a block    \
           behind its prefetch (exact in any order: the m of fa_sm_row_max, or NaN     \
           where that row has a NaN, which makes it a NaN row either way) */           \
        const T *xf = (FA_SM_HAVE_AVX512 && w != NULL && kind == FA_SM_SOFTMAX) ? pf : NULL; \
        const I sign = (I)((I)1 << (8 * sizeof(T) - 1));                                \
        I khi = sign, klo = (I)BITS(-(T)INFINITY);                                      \
        if (!(m - m == 0)) {                                                            \
            fa_sm_special_##S(kind, o, x, mk, n, m, 0);                                 \
            return xf ? fa_sm_row_max_##S(xf, NULL, n, negate)                          \
                      : fa_sm_row_max_##S(xn, NULL, nn, negate);                        \
        }                                                                               \
        T *e = (w != NULL || (kind == FA_SM_SOFTMAX && stream && n <= FA_SM_BLOCK))     \
               ? buf : o;                                                               \
        double s = 0.0;                                                                 \
        Py_ssize_t ties = 0;                                                            \
        for (Py_ssize_t lo = 0; lo < n; lo += FA_SM_BLOCK) {                            \
            Py_ssize_t len = n - lo < FA_SM_BLOCK ? n - lo : FA_SM_BLOCK, tb = 0;       \
            Py_ssize_t ln = nn - lo < len ? (nn > lo ? nn - lo : 0) : len;              \
            T mb = -(T)INFINITY;                                                        \
            if (kind == FA_SM_SOFTMAX) {                                                \
                if (xn != NULL) {                                                       \
                    mb = fa_sm_exp_store_next_##S(e + lo, x + lo, len, m, negate, xn + lo, ln); \
                    s += fa_sm_sum_pos_##S(e + lo, len);                                \
                } else {                                                                \
                    const T *xm = (xf && lo > 0) ? xf + lo - FA_SM_BLOCK : NULL;         \
                    s += fa_sm_exp_store_##S(e + lo, x + lo, mk ? mk + lo : NULL, len, m, \
                                             negate, pf ? pf + lo : NULL, w, xm, &khi,  \
                                             &klo);                                     \
                    if (xm != NULL && len < FA_SM_BLOCK)  /* the rest of that block */  \
                        fa_sm_keys_##S(xm + len, FA_SM_BLOCK - len, negate, &khi, &klo); \
                    if (xf != NULL && lo + len == n)      /* and the last block */      \
                        fa_sm_keys_##S(xf + lo, len, negate, &khi, &klo);               \
                }                                                                       \
            } else if (mk == NULL) {                                                    \
                s += fa_sm_exp_rest_sum_##S(x + lo, len, m, &tb, pf ? pf + lo : NULL, w); \
            } else {                                                                    \
                s += fa_sm_exp_rest_##S(buf, x + lo, mk + lo, len, m, &tb);             \
            }                                                                           \
            ties += tb;                                                                 \
            mn = mb > mn ? mb : mn;                                                     \
        }                                                                               \
        if (xf != NULL) mn = fa_sm_key_max_##S(khi, klo);                               \
        if (s != s) { fa_sm_special_##S(kind, o, x, mk, n, m, 1); return mn; }          \
        if (kind == FA_SM_SOFTMAX) {                                                    \
            double inv = 1.0 / s;                                                       \
            if (w != NULL) {                /* this row waits; the last one is done */  \
                fa_sm_wave_flush_##S(w);                                                \
                fa_sm_wave_start_##S(w, o, e, n, 0, (double)(T)inv, 0.0, x + n);        \
                return mn;                                                              \
            }                                                                           \
            if (e != o) {                                                               \
                fa_sm_stream_scale_##S(o, e, n, inv);                                   \
                return mn;                                                              \
            }                                                                           \
            for (Py_ssize_t lo = 0; lo < n; lo += FA_SM_BLOCK)                          \
                fa_sm_scale_##S(o + lo, n - lo < FA_SM_BLOCK ? n - lo : FA_SM_BLOCK, inv); \
            return mn;                                                                  \
        }                                                                               \
        double lse = log1p(s * FA_SM_UNSCALE_##S + (double)(ties - 1));                 \
        if (kind == FA_SM_LOGSUMEXP) { o[0] = (T)((double)m + lse); return mn; }        \
        if (w != NULL) {                    /* this row waits; the last one is done */  \
            fa_sm_wave_flush_##S(w);                                                    \
            fa_sm_wave_start_##S(w, o, x, n, 1, (double)m, lse, x + n);                 \
            return mn;                                                                  \
        }                                                                               \
        for (Py_ssize_t lo = 0; lo < n; lo += FA_SM_BLOCK) {                            \
            Py_ssize_t len = n - lo < FA_SM_BLOCK ? n - lo : FA_SM_BLOCK;               \
            if (stream && mk == NULL)                                                   \
                fa_sm_stream_log_##S(o + lo, x + lo, len, (double)m, lse);              \
            else                                                                        \
                fa_sm_log_##S(o + lo, x + lo, mk ? mk + lo : NULL, len, (double)m, lse); \
        }                                                                               \
        return mn;                                                                      \
    }                                                                                   \
    /* log_softmax / logsumexp, a row of 1 to 64 (no mask, AVX-512 builds): the row     \
       padded to 64 with its max m (ties: exp 0, their count taken off again) goes     \
       through one pass of exp_rest_sum64, then the lanes fold: the sum, ties and bits \
       of the general path, whose scalar exps of the < 64 left cost a row of 16 ~10x   \
       PyTorch's time.  Returns 1, writing nothing, for the general path's special     \
       rows (max not finite, NaN sum). */                                               \
    static int fa_sm_short_log_row_##S(int kind, T *o, const T *x, Py_ssize_t n) {       \
        T m = fa_sm_row_max_##S(x, NULL, n, 0);                                         \
        if (!(m - m == 0)) return 1;                                                    \
        T pad[4 * FA_SM_LANES] __attribute__((aligned(64)));                            \
        for (Py_ssize_t i = 0; i < 4 * FA_SM_LANES; i++) pad[i] = i < n ? x[i] : m;     \
        double dacc[FA_SM_LANES] = {0};                                                 \
        Py_ssize_t ties = 0;                                                            \
        fa_sm_exp_rest_sum64_##S(pad, 4 * FA_SM_LANES, m, NULL, dacc, &ties, NULL, NULL, 0, 0); \
        ties -= 4 * FA_SM_LANES - n;                                                    \
        double s = fa_sm_sum_finish_##S(dacc, pad, 0);                                  \
        if (s != s) return 1;                                                           \
        double lse = log1p(s * FA_SM_UNSCALE_##S + (double)(ties - 1));                 \
        if (kind == FA_SM_LOGSUMEXP) { o[0] = (T)((double)m + lse); return 0; }         \
        const T mt = (T)m, lt = (T)lse;                                                 \
        for (Py_ssize_t i = 0; i < n; i++) o[i] = (x[i] - mt) - lt;                     \
        return 0;                                                                       \
    }                                                                                   \
    /* one whole row of a forward op */                                                 \
    static void fa_sm_forward_row_##S(int kind, int negate, T *o, const T *x,           \
                                      const unsigned char *mk, Py_ssize_t n, T *buf) {  \
        fa_sm_row_rest_##S(kind, negate, o, x, mk, n, fa_sm_row_max_##S(x, mk, n, negate), \
                           NULL, 0, buf, NULL, 0, NULL);                                \
    }                                                                                   \
    /* rows [r0, r1) of a forward op (scratch on the stack); large: arrays past the     \
       caches, so the exp passes prefetch the next row and the final passes use         \
       streaming stores (see row_rest): rows of over FA_SM_WAVE_ROW_MIN, up to          \
       FA_SM_WAVE_ROW_MAX bytes, by the wave; longer softmax rows are scaled in place  \
       (streaming them from a row of scratch, without the wave, measured 0.91-1.04x) */ \
    static void fa_sm_forward_rows_##S(int kind, int negate, T *o, const T *x,          \
                                       const unsigned char *mk, Py_ssize_t r0,          \
                                       Py_ssize_t r1, Py_ssize_t n, int large) {        \
        T buf[FA_SM_BLOCK] __attribute__((aligned(64)));   /* see fa_sm_aligned_alloc */ \
        Py_ssize_t ostride = kind == FA_SM_LOGSUMEXP ? 1 : n;                           \
        int stream = large && kind != FA_SM_LOGSUMEXP;                                  \
        /* pipelining measured (interleaved A/B, 1 and 2 threads): softmax float64      \
           5-12% faster, softmax float32 rows longer than a block ~5-10% faster; float32 \
           rows of one block up to 26% slower from memory, log_softmax even or slower;  \
           large arrays prefetch instead: as fast or up to 14% faster */                \
        if (FA_SM_HAVE_AVX512 && mk == NULL && n <= 64) {   /* see fa_sm_short_row */   \
            for (Py_ssize_t r = r0; r < r1; r++)                                        \
                if (kind == FA_SM_SOFTMAX                                               \
                    ? fa_sm_short_row_##S(o + r * n, x + r * n, n, negate)              \
                    : fa_sm_short_log_row_##S(kind, o + r * ostride, x + r * n, n))     \
                    fa_sm_forward_row_##S(kind, negate, o + r * ostride, x + r * n, NULL, \
                                          n, buf);                                      \
            return;                                                                     \
        }                                                                               \
        if (mk == NULL && r0 < r1 && kind == FA_SM_SOFTMAX                              \
                && (sizeof(T) == 8 || n > FA_SM_BLOCK) && !large) {                     \
            T m = fa_sm_row_max_##S(x + r0 * n, NULL, n, negate);                       \
            for (Py_ssize_t r = r0; r < r1; r++)                                        \
                m = fa_sm_row_rest_##S(kind, negate, o + r * ostride, x + r * n, NULL, n, m, \
                                       x + (r + 1) * n, r + 1 < r1 ? n : 0, buf, NULL,  \
                                       0, NULL);                                        \
        } else {                                                                        \
            /* rows of over WAVE_ROW_MIN: the wave (see fa_sm_wave); softmax's two rows of \
               scratch (none: scaled in place, same bits) on whole lines, their page    \
               offsets half and a quarter page from x's (see fa_sm_page_offset)      */ \
            int wave = FA_SM_HAVE_STREAM && stream && mk == NULL && n > FA_SM_WAVE_ROW_MIN \
                       && n * (Py_ssize_t)sizeof(T) <= FA_SM_WAVE_ROW_MAX && r0 < r1;   \
            Py_ssize_t nl = (n + 15) & ~(Py_ssize_t)15;                                 \
            T *sc = (wave && kind == FA_SM_SOFTMAX)                                     \
                    ? (T *)fa_sm_aligned_alloc(2 * nl * sizeof(T) + 8192) : NULL;       \
            T *rows2[2] = {NULL, NULL};                                                 \
            if (sc) {                                                                   \
                rows2[0] = (T *)fa_sm_page_offset(sc, x + r0 * n, 2048);                \
                rows2[1] = (T *)fa_sm_page_offset(rows2[0] + nl, x + r0 * n, 1024);     \
            }                                                                           \
            wave = wave && (sc != NULL || kind == FA_SM_LOG_SOFTMAX);                   \
            fa_sm_wave_##S w = {NULL, NULL, 0, 0, 0, 0, 0.0, 0.0};                      \
            int cur = 0;                                                                \
            /* the softmax wave returns the next row's max (see row_rest) */            \
            const int fused = FA_SM_HAVE_AVX512 && sc != NULL && large;                 \
            T m = r0 < r1 ? fa_sm_row_max_##S(x + r0 * n, mk ? mk + r0 * n : NULL, n, negate) \
                          : (T)0;                                                       \
            for (Py_ssize_t r = r0; r < r1; r++) {                                      \
                const unsigned char *mr = mk ? mk + r * n : NULL;                       \
                const T *pf = (large && r + 1 < r1)                                     \
                              ? x + (r + 1) * n : NULL;                                 \
                T *rb = sc ? rows2[cur] : buf;                                          \
                T mn = fa_sm_row_rest_##S(kind, negate, o + r * ostride, x + r * n, mr, \
                                          n, m, NULL, 0, rb, pf, stream,                \
                                          wave ? &w : NULL);                            \
                if (sc && w.e == rb) cur ^= 1;  /* rb waits: the next row, the other */ \
                if (r + 1 < r1)                                                         \
                    m = fused ? mn : fa_sm_row_max_##S(x + (r + 1) * n, mk ? mk + (r + 1) * n \
                                                       : NULL, n, negate);              \
            }                                                                           \
            if (wave) fa_sm_wave_flush_##S(&w);                                         \
            free(sc);                                                                   \
        }                                                                               \
        if (stream) FA_SM_SFENCE();                                                     \
    }                                                                                   \
    /* one block's sum for the (row, block) path: the softmax block also stores e */    \
    static double fa_sm_block_sum_##S(int kind, T *o, const T *x, const unsigned char *mk, \
                                      Py_ssize_t len, T m, int negate, Py_ssize_t *ties) { \
        T buf[FA_SM_BLOCK];                                                             \
        if (kind == FA_SM_SOFTMAX) {                                                    \
            *ties = 0;                                                                  \
            return fa_sm_exp_store_##S(o, x, mk, len, m, negate, NULL, NULL, NULL, NULL, \
                                       NULL);                                           \
        }                                                                               \
        if (mk == NULL) return fa_sm_exp_rest_sum_##S(x, len, m, ties, NULL, NULL);     \
        return fa_sm_exp_rest_##S(buf, x, mk, len, m, ties);                            \
    }                                                                                   \
    /* a backward row; stream (softmax_backward on large arrays): the elementwise     \
       pass writes out by streaming stores and prefetches yn and gn (the next row, or  \
       NULL) as it goes (0.79-1.03x the time of chunks through an L1 buffer) */        \
    static void fa_sm_backward_row_##S(int softmax, T *o, const T *y, const T *g,       \
                                       Py_ssize_t n, int stream, const T *yn,           \
                                       const T *gn) {                                   \
        double s = 0.0;                                                                 \
        for (Py_ssize_t lo = 0; lo < n; lo += FA_SM_BLOCK) {                            \
            Py_ssize_t len = n - lo < FA_SM_BLOCK ? n - lo : FA_SM_BLOCK;               \
            s += fa_sm_bsum_##S(softmax, y + lo, g + lo, len);                          \
        }                                                                               \
        for (Py_ssize_t lo = 0; lo < n; lo += FA_SM_BLOCK) {                            \
            Py_ssize_t len = n - lo < FA_SM_BLOCK ? n - lo : FA_SM_BLOCK;               \
            if (stream && softmax)                                                      \
                fa_sm_stream_bwd_##S(o + lo, y + lo, g + lo, len, s,                    \
                                     yn ? yn + lo : NULL, gn ? gn + lo : NULL);         \
            else                                                                        \
                fa_sm_bwd_##S(softmax, o + lo, y + lo, g + lo, len, s);                 \
        }                                                                               \
    }                                                                                   \
    /* rows [r0, r1) of a backward op; large: as fa_sm_forward_rows, for softmax only   \
       (log_softmax's pass, an exp per element, was 14-21% slower streamed); rows of   \
       one block prefetch the next (longer ones: 10-35% slower) */                     \
    static void fa_sm_backward_rows_##S(int softmax, T *o, const T *y, const T *g,      \
                                        Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,     \
                                        int large) {                                    \
        large = large && softmax;                                                       \
        for (Py_ssize_t r = r0; r < r1; r++) {                                          \
            int next = large && n <= FA_SM_BLOCK && r + 1 < r1;                         \
            fa_sm_backward_row_##S(softmax, o + r * n, y + r * n, g + r * n, n, large,  \
                                   next ? y + (r + 1) * n : NULL,                       \
                                   next ? g + (r + 1) * n : NULL);                      \
        }                                                                               \
        if (large) FA_SM_SFENCE();                                                      \
    }                                                                                   \
    /* A non-last axis: arrays (outer, n, inner), reduced over n.  Tile t (of         \
       outer * ceil(inner / FA_SM_TILE)) = FA_SM_TILE neighbouring columns of one     \
       outer index: gathered into rows of scratch (contiguous reads of the columns),  \
       run through the row routines above, scattered back.  Every column gets the     \
       bits the last-axis kernel gives its transposed row, whatever the threads.      \
       sc: scratch of (2 + has mask) * FA_SM_TILE * n elements plus FA_SM_BLOCK.     */ \
    static void fa_sm_gather_##S(T *d, Py_ssize_t ns, const T *x, Py_ssize_t n,        \
                                 Py_ssize_t inner, Py_ssize_t w) {                      \
        for (Py_ssize_t i = 0; i < n; i++)                                              \
            for (Py_ssize_t c = 0; c < w; c++) d[c * ns + i] = x[i * inner + c];        \
    }                                                                                   \
    static void fa_sm_tiles_##S(int kind, int negate, int backward, T *o, const T *x,   \
                                const T *g, const unsigned char *mk, Py_ssize_t n,      \
                                Py_ssize_t inner, Py_ssize_t t0, Py_ssize_t t1, T *sc) { \
        Py_ssize_t per = (inner + FA_SM_TILE - 1) / FA_SM_TILE;                          \
        Py_ssize_t ns = FA_SM_TILE_STRIDE(n);                                           \
        T *sx = sc, *so = sc + FA_SM_TILE * ns, *sg = so + FA_SM_TILE * ns;              \
        T *buf = sg + FA_SM_TILE * ns;                                                  \
        unsigned char *sm = (unsigned char *)(buf + FA_SM_BLOCK);                       \
        for (Py_ssize_t t = t0; t < t1; t++) {                                          \
            Py_ssize_t outer = t / per, c0 = (t - outer * per) * FA_SM_TILE;            \
            Py_ssize_t w = inner - c0 < FA_SM_TILE ? inner - c0 : FA_SM_TILE;           \
            Py_ssize_t base = outer * n * inner + c0;                                   \
            fa_sm_gather_##S(sx, ns, x + base, n, inner, w);                            \
            if (backward) fa_sm_gather_##S(sg, ns, g + base, n, inner, w);              \
            if (mk != NULL)                                                             \
                for (Py_ssize_t i = 0; i < n; i++)                                      \
                    for (Py_ssize_t c = 0; c < w; c++)                                  \
                        sm[c * ns + i] = mk[base + i * inner + c];                      \
            for (Py_ssize_t c = 0; c < w; c++) {                                        \
                if (backward)                                                           \
                    fa_sm_backward_row_##S(kind, so + c * ns, sx + c * ns, sg + c * ns, n, \
                                           0, NULL, NULL);                              \
                else if (kind == FA_SM_LOGSUMEXP)                                       \
                    fa_sm_forward_row_##S(kind, negate, o + outer * inner + c0 + c,      \
                                          sx + c * ns, mk ? sm + c * ns : NULL, n, buf); \
                else                                                                    \
                    fa_sm_forward_row_##S(kind, negate, so + c * ns, sx + c * ns,       \
                                          mk ? sm + c * ns : NULL, n, buf);             \
            }                                                                           \
            if (backward || kind != FA_SM_LOGSUMEXP)                                    \
                for (Py_ssize_t i = 0; i < n; i++)                                      \
                    for (Py_ssize_t c = 0; c < w; c++)                                  \
                        o[base + i * inner + c] = so[c * ns + i];                       \
        }                                                                               \
    }

    FA_SM_DEFINE(float, f32, int32_t, fa_bits_f32, fa_from_bits_f32)
    FA_SM_DEFINE(double, f64, int64_t, fa_bits_f64, fa_from_bits_f64)
    """
    enum: FA_SM_BLOCK
    enum: FA_SM_TILE
    Py_ssize_t FA_SM_TILE_STRIDE(Py_ssize_t n) nogil
    enum: FA_SM_SOFTMAX
    enum: FA_SM_LOG_SOFTMAX
    enum: FA_SM_LOGSUMEXP
    double FA_SM_UNSCALE_f32
    double FA_SM_UNSCALE_f64
    float fa_sm_max_f32(const float *x, const unsigned char *mk, Py_ssize_t n, int negate) nogil
    double fa_sm_max_f64(const double *x, const unsigned char *mk, Py_ssize_t n, int negate) nogil
    double fa_sm_exp_rest_f32(float *buf, const float *x, const unsigned char *mk, Py_ssize_t n,
                              float m, Py_ssize_t *ties) nogil
    double fa_sm_exp_rest_f64(double *buf, const double *x, const unsigned char *mk, Py_ssize_t n,
                              double m, Py_ssize_t *ties) nogil
    void fa_sm_scale_f32(float *o, Py_ssize_t n, double inv) nogil
    void fa_sm_scale_f64(double *o, Py_ssize_t n, double inv) nogil
    void fa_sm_log_f32(float *o, const float *x, const unsigned char *mk, Py_ssize_t n,
                       double m, double lse) nogil
    void fa_sm_log_f64(double *o, const double *x, const unsigned char *mk, Py_ssize_t n,
                       double m, double lse) nogil
    void fa_sm_special_f32(int kind, float *o, const float *x, const unsigned char *mk,
                           Py_ssize_t n, float m, int nan_known) nogil
    void fa_sm_special_f64(int kind, double *o, const double *x, const unsigned char *mk,
                           Py_ssize_t n, double m, int nan_known) nogil
    void fa_sm_forward_rows_f32(int kind, int negate, float *o, const float *x,
                                const unsigned char *mk, Py_ssize_t r0, Py_ssize_t r1,
                                Py_ssize_t n, int large) nogil
    void fa_sm_forward_rows_f64(int kind, int negate, double *o, const double *x,
                                const unsigned char *mk, Py_ssize_t r0, Py_ssize_t r1,
                                Py_ssize_t n, int large) nogil
    double fa_sm_block_sum_f32(int kind, float *o, const float *x, const unsigned char *mk,
                               Py_ssize_t n, float m, int negate, Py_ssize_t *ties) nogil
    double fa_sm_block_sum_f64(int kind, double *o, const double *x, const unsigned char *mk,
                               Py_ssize_t n, double m, int negate, Py_ssize_t *ties) nogil
    double fa_sm_bsum_f32(int softmax, const float *y, const float *g, Py_ssize_t n) nogil
    double fa_sm_bsum_f64(int softmax, const double *y, const double *g, Py_ssize_t n) nogil
    void fa_sm_bwd_f32(int softmax, float *o, const float *y, const float *g, Py_ssize_t n,
                       double s) nogil
    void fa_sm_bwd_f64(int softmax, double *o, const double *y, const double *g, Py_ssize_t n,
                       double s) nogil
    void fa_sm_tiles_f32(int kind, int negate, int backward, float *o, const float *x,
                         const float *g, const unsigned char *mk, Py_ssize_t n, Py_ssize_t inner,
                         Py_ssize_t t0, Py_ssize_t t1, float *sc) nogil
    void fa_sm_tiles_f64(int kind, int negate, int backward, double *o, const double *x,
                         const double *g, const unsigned char *mk, Py_ssize_t n, Py_ssize_t inner,
                         Py_ssize_t t0, Py_ssize_t t1, double *sc) nogil
    void fa_sm_backward_rows_f32(int softmax, float *o, const float *y, const float *g,
                                 Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n, int large) nogil
    void fa_sm_backward_rows_f64(int softmax, double *o, const double *y, const double *g,
                                 Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n, int large) nogil

from libc.math cimport log1p as _sm_log1p, isfinite as _sm_isfinite, NAN as _SM_NAN
from libc.stdlib cimport malloc as _sm_malloc, free as _sm_free

# op name -> (kind, negate, backward)
_SM_OPS = {
    "softmax": (FA_SM_SOFTMAX, 0, 0),
    "softmin": (FA_SM_SOFTMAX, 1, 0),
    "log_softmax": (FA_SM_LOG_SOFTMAX, 0, 0),
    "logsumexp": (FA_SM_LOGSUMEXP, 0, 0),
    "softmax_backward": (1, 0, 1),
    "log_softmax_backward": (0, 0, 1),
}
# At most this many elements: run on the calling thread (as the Numba backend).
cdef Py_ssize_t SM_SERIAL_MAX = 32768
# At least this many bytes of x ("large", past the caches of this 2-core VM):
# the exp passes prefetch the next row and the final passes use streaming stores.
# Measured (interleaved A/B, 2 threads): 20-40% faster from 8 MiB up (rows of one
# block; 8-15% for log_softmax's long rows); at 4 MiB neutral to 5% slower; in L2
# the prefetch alone cost ~8%.
cdef Py_ssize_t SM_LARGE_BYTES = 8 << 20


cdef inline Py_ssize_t _sm_chunk_lo(Py_ssize_t total, Py_ssize_t c, Py_ssize_t k) noexcept nogil:
    return total * c // k


# --------------------------------------------------------------- forward, by rows
cdef void _sm_fwd_rows(int kind, int negate, int dbl, char *o, const char *x,
                       const unsigned char *mk, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                       int large) noexcept nogil:
    """Rows [r0, r1) of a forward op on one thread (large: see SM_LARGE_BYTES)."""
    if dbl:
        fa_sm_forward_rows_f64(kind, negate, <double *>o, <const double *>x, mk, r0, r1, n, large)
    else:
        fa_sm_forward_rows_f32(kind, negate, <float *>o, <const float *>x, mk, r0, r1, n, large)


cdef void _sm_fwd_rows_parallel(int kind, int negate, int dbl, char *o, const char *x,
                                const unsigned char *mk, Py_ssize_t rows, Py_ssize_t n,
                                Py_ssize_t k, int large) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(k, schedule="static", num_threads=k):
        _sm_fwd_rows(kind, negate, dbl, o, x, mk, _sm_chunk_lo(rows, c, k),
                     _sm_chunk_lo(rows, c + 1, k), n, large)


# ------------------------------------------------ forward, few long rows: (row, block) tasks
cdef int _sm_fwd_blocks(int kind, int negate, int dbl, char *o, const char *x,
                        const unsigned char *mk, Py_ssize_t rows, Py_ssize_t n,
                        Py_ssize_t k) noexcept nogil:
    """Phases over (row, block) tasks: block maxima, block sums, final pass. -1: no memory."""
    cdef Py_ssize_t nb = (n + FA_SM_BLOCK - 1) // FA_SM_BLOCK
    cdef Py_ssize_t tasks = rows * nb
    cdef Py_ssize_t c, t, r, b, lo, ln, tb, i
    cdef double *bmax = <double *>_sm_malloc(tasks * sizeof(double))
    cdef double *bsum = <double *>_sm_malloc(tasks * sizeof(double))
    cdef Py_ssize_t *bties = <Py_ssize_t *>_sm_malloc(tasks * sizeof(Py_ssize_t))
    cdef double *rmax = <double *>_sm_malloc(rows * sizeof(double))
    cdef double *rfin = <double *>_sm_malloc(rows * sizeof(double))
    cdef const unsigned char *mb
    cdef double m, s, mv
    cdef Py_ssize_t ties
    cdef Py_ssize_t ostride = 1 if kind == FA_SM_LOGSUMEXP else n
    if bmax == NULL or bsum == NULL or bties == NULL or rmax == NULL or rfin == NULL:
        _sm_free(bmax); _sm_free(bsum); _sm_free(bties); _sm_free(rmax); _sm_free(rfin)
        return -1
    # phase 1: block maxima (exact whatever the order)
    for c in prange(k, schedule="static", num_threads=k):
        for t in range(_sm_chunk_lo(tasks, c, k), _sm_chunk_lo(tasks, c + 1, k)):
            r = t // nb
            b = t - r * nb
            lo = b * FA_SM_BLOCK
            ln = n - lo if n - lo < FA_SM_BLOCK else FA_SM_BLOCK
            mb = (mk + r * n + lo) if mk != NULL else NULL
            if dbl:
                bmax[t] = fa_sm_max_f64((<const double *>x) + r * n + lo, mb, ln, negate)
            else:
                bmax[t] = fa_sm_max_f32((<const float *>x) + r * n + lo, mb, ln, negate)
    for r in range(rows):
        m = -INF
        for b in range(nb):
            mv = bmax[r * nb + b]
            if mv > m:
                m = mv
        rmax[r] = m
    # phase 2: block sums, in tasks of rows whose max is finite
    for c in prange(k, schedule="static", num_threads=k):
        for t in range(_sm_chunk_lo(tasks, c, k), _sm_chunk_lo(tasks, c + 1, k)):
            r = t // nb
            b = t - r * nb
            bsum[t] = 0.0
            bties[t] = 0
            if not _sm_isfinite(rmax[r]):
                continue
            lo = b * FA_SM_BLOCK
            ln = n - lo if n - lo < FA_SM_BLOCK else FA_SM_BLOCK
            mb = (mk + r * n + lo) if mk != NULL else NULL
            if dbl:
                bsum[t] = fa_sm_block_sum_f64(kind, (<double *>o) + r * n + lo,
                                              (<const double *>x) + r * n + lo, mb, ln,
                                              rmax[r], negate, &bties[t])
            else:
                bsum[t] = fa_sm_block_sum_f32(kind, (<float *>o) + r * n + lo,
                                              (<const float *>x) + r * n + lo, mb, ln,
                                              <float>rmax[r], negate, &bties[t])
    # per row: combine in block order; special rows are finished here
    for r in range(rows):
        m = rmax[r]
        s = 0.0
        ties = 0
        for b in range(nb):
            s += bsum[r * nb + b]
            ties += bties[r * nb + b]
        mb = (mk + r * n) if mk != NULL else NULL
        if not _sm_isfinite(m) or s != s:
            if dbl:
                fa_sm_special_f64(kind, (<double *>o) + r * ostride, (<const double *>x) + r * n,
                                  mb, n, m, _sm_isfinite(m))
            else:
                fa_sm_special_f32(kind, (<float *>o) + r * ostride, (<const float *>x) + r * n,
                                  mb, n, <float>m, _sm_isfinite(m))
            rfin[r] = _SM_NAN
        elif kind == FA_SM_SOFTMAX:
            rfin[r] = 1.0 / s
        else:
            rfin[r] = _sm_log1p(s * (FA_SM_UNSCALE_f64 if dbl else FA_SM_UNSCALE_f32)
                                + <double>(ties - 1))
            if kind == FA_SM_LOGSUMEXP:
                if dbl:
                    (<double *>o)[r] = m + rfin[r]
                else:
                    (<float *>o)[r] = <float>(m + rfin[r])
    # phase 3: the final pass
    if kind != FA_SM_LOGSUMEXP:
        for c in prange(k, schedule="static", num_threads=k):
            for t in range(_sm_chunk_lo(tasks, c, k), _sm_chunk_lo(tasks, c + 1, k)):
                r = t // nb
                b = t - r * nb
                if rfin[r] != rfin[r]:
                    continue
                lo = b * FA_SM_BLOCK
                ln = n - lo if n - lo < FA_SM_BLOCK else FA_SM_BLOCK
                mb = (mk + r * n + lo) if mk != NULL else NULL
                if dbl:
                    if kind == FA_SM_SOFTMAX:
                        fa_sm_scale_f64((<double *>o) + r * n + lo, ln, rfin[r])
                    else:
                        fa_sm_log_f64((<double *>o) + r * n + lo, (<const double *>x) + r * n + lo,
                                      mb, ln, rmax[r], rfin[r])
                else:
                    if kind == FA_SM_SOFTMAX:
                        fa_sm_scale_f32((<float *>o) + r * n + lo, ln, rfin[r])
                    else:
                        fa_sm_log_f32((<float *>o) + r * n + lo, (<const float *>x) + r * n + lo,
                                      mb, ln, rmax[r], rfin[r])
    _sm_free(bmax); _sm_free(bsum); _sm_free(bties); _sm_free(rmax); _sm_free(rfin)
    return 0


# --------------------------------------------------------------------- backward
cdef void _sm_bwd_rows(int softmax, int dbl, char *o, const char *y, const char *g,
                       Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n, int large) noexcept nogil:
    if dbl:
        fa_sm_backward_rows_f64(softmax, <double *>o, <const double *>y, <const double *>g,
                                r0, r1, n, large)
    else:
        fa_sm_backward_rows_f32(softmax, <float *>o, <const float *>y, <const float *>g,
                                r0, r1, n, large)


cdef void _sm_bwd_rows_parallel(int softmax, int dbl, char *o, const char *y, const char *g,
                                Py_ssize_t rows, Py_ssize_t n, Py_ssize_t k,
                                int large) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(k, schedule="static", num_threads=k):
        _sm_bwd_rows(softmax, dbl, o, y, g, _sm_chunk_lo(rows, c, k), _sm_chunk_lo(rows, c + 1, k),
                     n, large)


cdef int _sm_bwd_blocks(int softmax, int dbl, char *o, const char *y, const char *g,
                        Py_ssize_t rows, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t nb = (n + FA_SM_BLOCK - 1) // FA_SM_BLOCK
    cdef Py_ssize_t tasks = rows * nb
    cdef Py_ssize_t c, t, r, b, lo, ln, off
    cdef double s
    cdef double *bsum = <double *>_sm_malloc(tasks * sizeof(double))
    cdef double *rsum = <double *>_sm_malloc(rows * sizeof(double))
    if bsum == NULL or rsum == NULL:
        _sm_free(bsum); _sm_free(rsum)
        return -1
    for c in prange(k, schedule="static", num_threads=k):
        for t in range(_sm_chunk_lo(tasks, c, k), _sm_chunk_lo(tasks, c + 1, k)):
            r = t // nb
            b = t - r * nb
            lo = b * FA_SM_BLOCK
            ln = n - lo if n - lo < FA_SM_BLOCK else FA_SM_BLOCK
            off = r * n + lo
            if dbl:
                bsum[t] = fa_sm_bsum_f64(softmax, (<const double *>y) + off, (<const double *>g) + off, ln)
            else:
                bsum[t] = fa_sm_bsum_f32(softmax, (<const float *>y) + off, (<const float *>g) + off, ln)
    for r in range(rows):
        s = 0.0
        for b in range(nb):
            s += bsum[r * nb + b]
        rsum[r] = s
    for c in prange(k, schedule="static", num_threads=k):
        for t in range(_sm_chunk_lo(tasks, c, k), _sm_chunk_lo(tasks, c + 1, k)):
            r = t // nb
            b = t - r * nb
            lo = b * FA_SM_BLOCK
            ln = n - lo if n - lo < FA_SM_BLOCK else FA_SM_BLOCK
            off = r * n + lo
            if dbl:
                fa_sm_bwd_f64(softmax, (<double *>o) + off, (<const double *>y) + off,
                              (<const double *>g) + off, ln, rsum[r])
            else:
                fa_sm_bwd_f32(softmax, (<float *>o) + off, (<const float *>y) + off,
                              (<const float *>g) + off, ln, rsum[r])
    _sm_free(bsum); _sm_free(rsum)
    return 0


# ------------------------------------------------------- a non-last axis: column tiles
cdef int _sm_tiles(int kind, int negate, int backward, int dbl, char *o, const char *x,
                   const char *g, const unsigned char *mk, Py_ssize_t outer, Py_ssize_t n,
                   Py_ssize_t inner, Py_ssize_t k) noexcept nogil:
    """(outer, n, inner) arrays reduced over n: tiles of FA_SM_TILE columns split over k
    threads (each with its own scratch).  -1: no memory."""
    cdef Py_ssize_t tasks = outer * ((inner + FA_SM_TILE - 1) // FA_SM_TILE)
    cdef Py_ssize_t item = 8 if dbl else 4
    cdef Py_ssize_t ns = FA_SM_TILE_STRIDE(n)
    cdef Py_ssize_t need = (3 * FA_SM_TILE * ns + FA_SM_BLOCK) * item + FA_SM_TILE * ns
    cdef Py_ssize_t c
    cdef int failed = 0
    cdef char *sc
    for c in prange(k, schedule="static", num_threads=k):
        sc = <char *>_sm_malloc(need)
        if sc == NULL:
            failed = 1
        else:
            if dbl:
                fa_sm_tiles_f64(kind, negate, backward, <double *>o, <const double *>x,
                                <const double *>g, mk, n, inner, _sm_chunk_lo(tasks, c, k),
                                _sm_chunk_lo(tasks, c + 1, k), <double *>sc)
            else:
                fa_sm_tiles_f32(kind, negate, backward, <float *>o, <const float *>x,
                                <const float *>g, mk, n, inner, _sm_chunk_lo(tasks, c, k),
                                _sm_chunk_lo(tasks, c + 1, k), <float *>sc)
            _sm_free(sc)
    return -1 if failed else 0


# --------------------------------------------------------------------- entry point
cdef class RowKernel:
    """kernel(out, x, grad, mask, n_threads): one softmax-family op on 2-D (rows, n) arrays.

    See the comment at the top of fastact/_softmax.pxi for the contract and the
    algorithm.  The GIL is released for arrays of NOGIL_MIN elements or more.
    """

    cdef readonly str op
    cdef int kind, negate, backward

    def __cinit__(self, str op):
        if op not in _SM_OPS:
            raise KeyError(f"the cython backend has no softmax-family op {op!r}")
        self.op = op
        self.kind, self.negate, self.backward = _SM_OPS[op]

    def __repr__(self):
        return f"<fastact cython row kernel {self.op}>"

    def __call__(self, cnp.ndarray out not None, cnp.ndarray x not None, grad, mask,
                 Py_ssize_t n_threads):
        cdef int typ = cnp.PyArray_TYPE(x)
        cdef int dbl, nd = cnp.PyArray_NDIM(x)
        cdef Py_ssize_t rows, n, k, nb, inner = 1, tasks
        cdef char *op
        cdef const char *xp
        cdef const char *gp = NULL
        cdef const unsigned char *mp = NULL
        cdef int how, rc = 0, large
        if typ == cnp.NPY_FLOAT64:
            dbl = 1
        elif typ == cnp.NPY_FLOAT32:
            dbl = 0
        else:
            raise TypeError(f"fastact cython row kernel: dtype {x.dtype} is not float32/float64")
        if (nd not in (2, 3) or not cnp.PyArray_IS_C_CONTIGUOUS(x)
                or not cnp.PyArray_IS_C_CONTIGUOUS(out) or cnp.PyArray_TYPE(out) != typ):
            raise ValueError("fastact cython row kernel: x must be 2-D or 3-D and x, out "
                             "C-contiguous of one dtype")
        rows = x.shape[0]
        n = x.shape[1]
        if nd == 3:
            inner = x.shape[2]
        if cnp.PyArray_SIZE(out) != (rows * inner if self.kind == FA_SM_LOGSUMEXP
                                     and not self.backward else rows * n * inner):
            raise ValueError("fastact cython row kernel: out has the wrong size")
        if self.backward:
            if (not isinstance(grad, cnp.ndarray) or cnp.PyArray_TYPE(<cnp.ndarray>grad) != typ
                    or cnp.PyArray_SIZE(<cnp.ndarray>grad) != rows * n * inner
                    or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>grad)):
                raise ValueError("fastact cython row kernel: grad must match y")
            gp = cnp.PyArray_BYTES(<cnp.ndarray>grad)
        elif mask is not None:
            if (not isinstance(mask, cnp.ndarray) or cnp.PyArray_TYPE(<cnp.ndarray>mask) != cnp.NPY_BOOL
                    or cnp.PyArray_SIZE(<cnp.ndarray>mask) != rows * n * inner
                    or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>mask)):
                raise ValueError("fastact cython row kernel: mask must be a C-contiguous bool "
                                 "array shaped like x")
            mp = <const unsigned char *>cnp.PyArray_BYTES(<cnp.ndarray>mask)
        if rows == 0 or n == 0 or inner == 0:
            return
        if nd == 3 and inner > 1:
            # a non-last axis: column tiles (see fa_sm_tiles)
            tasks = rows * ((inner + FA_SM_TILE - 1) // FA_SM_TILE)
            k = 1 if (_forked_child or not FASTACT_OPENMP
                      or rows * n * inner <= SM_SERIAL_MAX) else min(n_threads, tasks)
            op = cnp.PyArray_BYTES(out)
            xp = cnp.PyArray_BYTES(x)
            with nogil:
                rc = _sm_tiles(self.kind, self.negate, self.backward, dbl, op, xp, gp, mp,
                               rows, n, inner, k)
            if rc != 0:
                raise MemoryError("fastact cython row kernel: out of memory for scratch")
            return
        op = cnp.PyArray_BYTES(out)
        xp = cnp.PyArray_BYTES(x)
        # plan: 0 serial, 1 rows in parallel, 2 (row, block) tasks in parallel
        k = n_threads
        if _forked_child or not FASTACT_OPENMP or rows * n <= SM_SERIAL_MAX:
            k = 1
        nb = (n + FA_SM_BLOCK - 1) // FA_SM_BLOCK
        if k <= 1:
            how = 0
        elif rows < 2 * k and n > FA_SM_BLOCK:
            how = 2
            k = min(k, rows * nb)
        else:
            how = 1
            k = min(k, rows)
        large = rows * n * (8 if dbl else 4) >= SM_LARGE_BYTES
        if rows * n < NOGIL_MIN:
            rc = self._run(how, dbl, op, xp, gp, mp, rows, n, k, large)
        else:
            with nogil:
                rc = self._run(how, dbl, op, xp, gp, mp, rows, n, k, large)
        if rc != 0:
            raise MemoryError("fastact cython row kernel: out of memory for scratch")

    cdef int _run(self, int how, int dbl, char *op, const char *xp, const char *gp,
                  const unsigned char *mp, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t k,
                  int large) noexcept nogil:
        if self.backward:
            if how == 0:
                _sm_bwd_rows(self.kind, dbl, op, xp, gp, 0, rows, n, large)
            elif how == 1:
                _sm_bwd_rows_parallel(self.kind, dbl, op, xp, gp, rows, n, k, large)
            else:
                return _sm_bwd_blocks(self.kind, dbl, op, xp, gp, rows, n, k)
            return 0
        if how == 0:
            _sm_fwd_rows(self.kind, self.negate, dbl, op, xp, mp, 0, rows, n, large)
        elif how == 1:
            _sm_fwd_rows_parallel(self.kind, self.negate, dbl, op, xp, mp, rows, n, k, large)
        else:
            return _sm_fwd_blocks(self.kind, self.negate, dbl, op, xp, mp, rows, n, k)
        return 0


def rowwise_kernel(str op):
    """``kernel(out, x, grad, mask, n_threads)`` for the softmax-family op ``op``."""
    return RowKernel(op)
