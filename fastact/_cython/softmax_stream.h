/* One type's streamed final passes and the wave (part of softmax_impl.h). */
#ifndef FA_SM_PASS_OPS
#define FA_SM_PASS_OPS
/* the final passes: o = a * s (softmax), o = (a - s) - t (log_softmax), o = b (a - s)
   (softmax_backward: a = g, b = y) */
enum { FA_SM_OP_SCALE = 0, FA_SM_OP_LOG = 1, FA_SM_OP_BWD = 2 };
#define FA_SM_PASS_ELEM(op, a, b, s, t) \
    ((op) == FA_SM_OP_SCALE ? (a) * (s) : (op) == FA_SM_OP_LOG ? ((a) - (s)) - (t) : (b) * ((a) - (s)))
#endif

/* a final pass: o[0:len) from a (and b: backward), with the scalars s, t; pa, pb (or
   NULL): the lines of the next row prefetched at the same offsets, one per line */
typedef struct {
    T *o;
    const T *a, *b;
    ptrdiff_t len;
    T s, t;
    const T *pa, *pb;
} FN(pass_args);

/* A final pass with streaming (non-temporal) stores, the bits of the plain one:
   plain stores up to the first aligned element of o and for the tail.  Inlined
   with a constant op. */
static inline __attribute__((always_inline)) void FN(stream_pass)(int op,
                                                                  const FN(pass_args) *p) {
    T *o = p->o;
    const T *a = p->a, *b = p->b, s = p->s, t = p->t;
    const ptrdiff_t len = p->len;
    ptrdiff_t i = 0;
#if FA_SM_HAVE_STREAM
    typedef T V __attribute__((vector_size(FA_SM_VBYTES)));
    const ptrdiff_t W = FA_SM_VBYTES / (ptrdiff_t)sizeof(T);
    V vs, vt;
    for (int j = 0; j < W; j++) { vs[j] = s; vt[j] = t; }
    for (; i < len && ((uintptr_t)(o + i) & (FA_SM_VBYTES - 1)); i++)
        o[i] = FA_SM_PASS_ELEM(op, a[i], b[i], s, t);
    for (; i + W <= len; i += W) {
        if (p->pa != NULL && ((i * (ptrdiff_t)sizeof(T)) & (FA_SM_LINE - 1)) < FA_SM_VBYTES) {
            FA_SM_PREFETCH(p->pa + i);
            FA_SM_PREFETCH(p->pb + i);
        }
        V va, vb;
        memcpy(&va, a + i, sizeof va);
        memcpy(&vb, (op == FA_SM_OP_BWD ? b : a) + i, sizeof vb);
        FA_SM_CAT(FA_SM_STREAM_, FA_S)(o + i, FA_SM_PASS_ELEM(op, va, vb, vs, vt));
    }
#endif
    for (; i < len; i++) o[i] = FA_SM_PASS_ELEM(op, a[i], b[i], s, t);
}
static void FN(stream_scale)(T *o, const T *e, ptrdiff_t len, T f) {
    FN(pass_args) p = {o, e, NULL, len, f, 0, NULL, NULL};
    FN(stream_pass)(FA_SM_OP_SCALE, &p);
}
static void FN(stream_log)(T *o, const T *x, ptrdiff_t len, T m, T lse) {
    FN(pass_args) p = {o, x, NULL, len, m, lse, NULL, NULL};
    FN(stream_pass)(FA_SM_OP_LOG, &p);
}
/* softmax_backward's pass o = y (g - s) (p->a = g, p->b = y) */
static void FN(stream_bwd)(const FN(pass_args) *p) { FN(stream_pass)(FA_SM_OP_BWD, p); }

/* The wave (large arrays, rows of over WAVE_ROW_MIN_ELEMENTS): a row's final pass,
   o = e * a (softmax: its exps e wait in scratch until their sum is known) or
   o = (x - a) - b (log_softmax: e = x), is streamed out a piece at a time from inside
   the NEXT row's exp pass, so the stores overlap that pass's arithmetic.  Same
   operations, same bits, as the final pass done at once.  The row is streamed from
   element h to n, then from 0 to h (j: next element; [j, stop), then [0, wrap)). */
typedef struct {
    T *o;
    const T *e;
    ptrdiff_t j, stop, wrap;
    int op;       /* FA_SM_OP_SCALE or FA_SM_OP_LOG */
    T a, b;
} FN(wave);

static inline int FN(wave_more)(FN(wave) *w) {
    if (w->j >= w->stop && w->wrap > 0) {
        w->j = 0;
        w->stop = w->wrap;
        w->wrap = 0;
    }
    return w->j < w->stop;
}
/* stream the next k elements of w's row (fewer: to a line boundary of o) */
static inline void FN(wave_step)(FN(wave) *w, ptrdiff_t k) {
    if (w == NULL || !FN(wave_more)(w)) return;
    ptrdiff_t end = w->j + k;
    if (end >= w->stop) {
        end = w->stop;
    } else {
        ptrdiff_t back = (ptrdiff_t)(((uintptr_t)(w->o + end) & (FA_SM_LINE - 1)) / sizeof(T));
        if (end - back > w->j) end -= back;
    }
    FN(pass_args) p = {w->o + w->j, w->e + w->j, NULL, end - w->j, w->a, w->b, NULL, NULL};
    if (w->op == FA_SM_OP_LOG)
        FN(stream_pass)(FA_SM_OP_LOG, &p);
    else
        FN(stream_pass)(FA_SM_OP_SCALE, &p);
    w->j = end;
}
static void FN(wave_flush)(FN(wave) *w) {
    while (FN(wave_more)(w)) FN(wave_step)(w, w->stop - w->j);
}
/* row (o, e, stop = n, op, a, b) waits, to be streamed in the exp pass of xn.  h:
   the stream's stores stay ~half a page off that pass's loads (at the same offset in
   a page the CPU takes a load for one of the stores before it and waits) */
static void FN(wave_start)(FN(wave) *w, FN(wave) row, const T *xn) {
    ptrdiff_t h = (ptrdiff_t)((FA_SM_PAGE / 2 - ((uintptr_t)row.o - (uintptr_t)xn))
                              & (FA_SM_PAGE - 1));
    h -= (ptrdiff_t)(((uintptr_t)row.o + (uintptr_t)h) & (FA_SM_LINE - 1));
    h = h < 0 ? 0 : h / (ptrdiff_t)sizeof(T);
    if (h >= row.stop) h = 0;
    row.j = h;
    row.wrap = h;
    *w = row;
}
/* for an exp pass of len: w's row aligned to a line of o, then the span (whole
   groups of 64, <= len) to stream inside the pass from *so (NULL: none) */
static inline ptrdiff_t FN(wave_span)(FN(wave) *w, ptrdiff_t len, T **so) {
    *so = NULL;
    if (w == NULL || !FN(wave_more)(w)) return 0;
    ptrdiff_t a = (ptrdiff_t)((FA_SM_LINE - ((uintptr_t)(w->o + w->j) & (FA_SM_LINE - 1)))
                              & (FA_SM_LINE - 1)) / (ptrdiff_t)sizeof(T);
    if (a > 0) FN(wave_step)(w, a);
    if (!FN(wave_more)(w) || ((uintptr_t)(w->o + w->j) & (FA_SM_LINE - 1))) return 0;
    ptrdiff_t span = (w->stop - w->j) < len ? (w->stop - w->j) : len;
    *so = w->o + w->j;
    return span - (span & (FA_SM_GROUP - 1));
}
