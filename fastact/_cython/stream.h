/* Streaming (non-temporal) stores for the outputs of the elementwise loops.
 *
 * fa_stream_lines copies whole 64-byte lines into a 64-byte aligned destination with
 * non-temporal stores: the destination's lines are written without being read first
 * (no read-for-ownership), so a loop over arrays past the last-level cache moves one
 * stream fewer.  The bytes are copied exactly.  fa_stream_fence orders those stores
 * before the stores and atomics that follow (the work pool's "part done").
 * x86 with GCC/Clang only (the ISA of the build picks 64-, 32- or 16-byte stores);
 * elsewhere FA_HAVE_STREAM is 0 and the copy is a memcpy.
 */
#ifndef FA_STREAM_H
#define FA_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) \
    && defined(__SSE2__)
#include <immintrin.h>
#define FA_HAVE_STREAM 1
#else
#define FA_HAVE_STREAM 0
#endif

#define FA_STREAM_LINE 64

/* dst[0:n) = src[0:n); n a multiple of FA_STREAM_LINE, dst aligned to it */
static inline void fa_stream_lines(char *dst, const char *src, ptrdiff_t n) {
#if FA_HAVE_STREAM
    for (ptrdiff_t i = 0; i < n; i += FA_STREAM_LINE) {
#if defined(__AVX512F__)
        _mm512_stream_si512((void *)(dst + i), _mm512_loadu_si512((const void *)(src + i)));
#elif defined(__AVX__)
        const __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
        const __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
        _mm256_stream_si256((__m256i *)(dst + i), a);
        _mm256_stream_si256((__m256i *)(dst + i + 32), b);
#else
        for (int k = 0; k < FA_STREAM_LINE; k += 16)
            _mm_stream_si128((__m128i *)(dst + i + k),
                             _mm_loadu_si128((const __m128i *)(src + i + k)));
#endif
    }
#else
    memcpy(dst, src, (size_t)n);
#endif
}

static inline void fa_stream_fence(void) {
#if FA_HAVE_STREAM
    _mm_sfence();
#endif
}

/* Prefetch for reading the lines of [p + ahead, p + ahead + nbytes), one request per line (a
 * hint: no values change; the addresses are formed as integers and never dereferenced, so
 * past an array's end they are harmless) */
static inline void fa_prefetch_read_ahead(const char *p, ptrdiff_t ahead, ptrdiff_t nbytes) {
#if defined(__GNUC__) || defined(__clang__)
    for (ptrdiff_t k = 0; k < nbytes; k += FA_STREAM_LINE)
        __builtin_prefetch((const void *)((uintptr_t)p + (uintptr_t)(ahead + k)), 0, 3);
#else
    (void)p; (void)ahead; (void)nbytes;
#endif
}

/* bytes from p to the next line boundary (0 when p is on one) */
static inline ptrdiff_t fa_stream_misalign(const char *p) {
    return (ptrdiff_t)((FA_STREAM_LINE - ((uintptr_t)p & (FA_STREAM_LINE - 1)))
                       & (FA_STREAM_LINE - 1));
}

/* 1 when the byte ranges [a, a + na) and [b, b + nb) do not overlap (b NULL: none) */
static inline int fa_apart(const char *a, ptrdiff_t na, const char *b, ptrdiff_t nb) {
    return b == NULL || (uintptr_t)a + (uintptr_t)na <= (uintptr_t)b
        || (uintptr_t)b + (uintptr_t)nb <= (uintptr_t)a;
}

/* 1 when the byte ranges [a, a + n) and [b, b + n) do not overlap */
static inline int fa_disjoint(const char *a, const char *b, ptrdiff_t n) {
    return fa_apart(a, n, b, n);
}
#endif
