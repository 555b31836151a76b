# Fused kernels, included by fastact/_kernels.pyx (they use its loop tables, THRESHOLDS,
# _forked_child and ElementwiseKernel): an activation of x + bias, and the gated units
# act(gate) * up.  Every registry kernel id gets them through its generated loops: the
# work is cut in items (a block of rows times a tile of FUSED_TILE columns), each tile
# is staged in a stack buffer of the thread running it (cache-resident) and the
# activation's loop runs on it, writing the output: one pass over memory, the values of
# the unfused sequence (x + bias rounded to the dtype, then f).  The bias gradient:
# each block of rows sums its rows in order into its own float64 row of `partial`,
# and the rows of `partial` are added in block order; the blocks depend on the shape
# only, so db is bitwise independent of the thread count.
from libc.stdlib cimport calloc, free

cdef enum:
    FUSED_TILE = 2048        # columns per item (two float64 tiles fit a 32 KiB L1)
    FUSED_MAX_BLOCKS = 64    # row blocks of the bias gradient


cdef struct BiasCall:
    loop_f32 f32
    loop_f64 f64
    char *out
    const char *x
    const char *g             # NULL: no grad
    const char *bias
    double *partial           # NULL: no bias gradient; else (n_blocks, m), zeroed
    Py_ssize_t rows
    Py_ssize_t m
    Py_ssize_t per_block
    Py_ssize_t itemsize
    double p0
    double p1


cdef inline Py_ssize_t _tiles(Py_ssize_t m) noexcept nogil:
    return (m + FUSED_TILE - 1) // FUSED_TILE


cdef void _bias_item(const BiasCall *c, Py_ssize_t k, real *tmp) noexcept nogil:
    """Item k: rows of block k // tiles, one tile of columns."""
    cdef Py_ssize_t n_tiles = _tiles(c.m)
    cdef Py_ssize_t blk = k // n_tiles
    cdef Py_ssize_t c0 = (k - blk * n_tiles) * FUSED_TILE
    cdef Py_ssize_t w = FUSED_TILE if c.m - c0 > FUSED_TILE else c.m - c0
    cdef Py_ssize_t r_end = (blk + 1) * c.per_block
    cdef Py_ssize_t r, j, s
    cdef real *out = <real *>c.out
    cdef const real *x = <const real *>c.x
    cdef const real *g = <const real *>c.g
    cdef const real *b = (<const real *>c.bias) + c0
    cdef double *acc = (c.partial + blk * c.m + c0) if c.partial != NULL else NULL
    if r_end > c.rows:
        r_end = c.rows
    for r in range(blk * c.per_block, r_end):
        s = r * c.m + c0
        for j in range(w):
            tmp[j] = x[s + j] + b[j]
        if real is float:
            c.f32(out + s, tmp, (g + s) if g != NULL else NULL, w, <float>c.p0, <float>c.p1)
        else:
            c.f64(out + s, tmp, (g + s) if g != NULL else NULL, w, c.p0, c.p1)
        if acc != NULL:
            for j in range(w):
                acc[j] += out[s + j]


cdef void _bias_item_any(const BiasCall *c, Py_ssize_t k) noexcept nogil:
    cdef double buf[FUSED_TILE]
    if c.itemsize == 4:
        _bias_item(c, k, <float *>buf)
    else:
        _bias_item(c, k, <double *>buf)


cdef void _bias_run(const BiasCall *c, Py_ssize_t n_threads) noexcept nogil:
    cdef Py_ssize_t k
    cdef Py_ssize_t n_items = ((c.rows + c.per_block - 1) // c.per_block) * _tiles(c.m)
    if (n_threads <= 1 or c.rows * c.m < THRESHOLDS.parallel_min_elements or _forked_child
            or not FASTACT_OPENMP):
        for k in range(n_items):
            _bias_item_any(c, k)
        return
    for k in prange(n_items, schedule="static", num_threads=n_threads):
        _bias_item_any(c, k)


def bias_call(ElementwiseKernel kernel not None, cnp.ndarray out not None,
              cnp.ndarray x not None, grad, cnp.ndarray bias not None, tuple params,
              Py_ssize_t n_threads, db=None):
    """``kernel``'s mode on x + bias: out, x (grad): C-contiguous (rows, m) of one float
    dtype, bias (m,) of it; db: None or a float64 (m,) array, set to the column sums of
    out (fixed blocks, fixed order: independent of n_threads)."""
    cdef Py_ssize_t rows = x.shape[0], m = x.shape[1]
    cdef Py_ssize_t per_block = max(1, (rows + FUSED_MAX_BLOCKS - 1) // FUSED_MAX_BLOCKS)
    cdef Py_ssize_t n_blocks = (rows + per_block - 1) // per_block
    cdef double p0 = params[0] if len(params) > 0 else 0.0
    cdef double p1 = params[1] if len(params) > 1 else 0.0
    cdef BiasCall c = BiasCall(
        f32=kernel.f32, f64=kernel.f64, out=cnp.PyArray_BYTES(out), x=cnp.PyArray_BYTES(x),
        g=NULL, bias=cnp.PyArray_BYTES(bias), partial=NULL, rows=rows, m=m,
        per_block=per_block, itemsize=x.itemsize, p0=p0, p1=p1)
    if grad is not None:
        c.g = cnp.PyArray_BYTES(<cnp.ndarray>grad)
    elif kernel.needs_grad:
        raise TypeError("fastact cython kernel: the backward modes need grad")
    if db is not None:
        c.partial = <double *>calloc(n_blocks * m, sizeof(double))
        if c.partial == NULL:
            raise MemoryError()
    try:
        with nogil:
            _bias_run(&c, n_threads)
        if db is not None:
            _sum_blocks(c.partial, n_blocks, m, db)
    finally:
        free(c.partial)


cdef _sum_blocks(const double *partial, Py_ssize_t n_blocks, Py_ssize_t m, double[::1] db):
    """db[j] = sum of partial[blk, j] for blk = 0, 1, ... in order."""
    cdef Py_ssize_t blk, j
    for j in range(m):
        db[j] = 0.0
    for blk in range(n_blocks):
        for j in range(m):
            db[j] += partial[blk * m + j]


cdef struct GatedCall:
    loop_f32 fwd32
    loop_f64 fwd64
    loop_f32 bwd32            # NULL: the forward unit
    loop_f64 bwd64
    char *base[5]             # gate, up, grad, then out (d_gate), d_up
    Py_ssize_t off[5]         # offset and row stride of each, in elements
    Py_ssize_t rs[5]
    Py_ssize_t rows
    Py_ssize_t m
    Py_ssize_t itemsize
    double p0
    double p1


cdef inline char *_row(const GatedCall *c, int i, Py_ssize_t r, Py_ssize_t c0) noexcept nogil:
    """Operand i at row r, column c0 (NULL when absent)."""
    if c.base[i] == NULL:
        return NULL
    return c.base[i] + (c.off[i] + r * c.rs[i] + c0) * c.itemsize


cdef void _gated_item(const GatedCall *c, Py_ssize_t k, real *t0, real *t1) noexcept nogil:
    """Item k: row k // tiles, one tile: out = f(gate) up, or d_gate = (grad up) f'(gate),
    d_up = grad f(gate).  (Operands in plain locals, not an array: without strict aliasing
    a store through an array element could alias the array itself.)"""
    cdef Py_ssize_t n_tiles = _tiles(c.m)
    cdef Py_ssize_t r = k // n_tiles
    cdef Py_ssize_t c0 = (k - r * n_tiles) * FUSED_TILE
    cdef Py_ssize_t w = FUSED_TILE if c.m - c0 > FUSED_TILE else c.m - c0
    cdef Py_ssize_t j
    cdef real *gate = <real *>_row(c, 0, r, c0)
    cdef real *up = <real *>_row(c, 1, r, c0)
    cdef real *grad = <real *>_row(c, 2, r, c0)
    cdef real *out = <real *>_row(c, 3, r, c0)
    cdef real *d_up = <real *>_row(c, 4, r, c0)
    if c.bwd32 == NULL:
        if real is float:
            c.fwd32(t0, gate, NULL, w, <float>c.p0, <float>c.p1)
        else:
            c.fwd64(t0, gate, NULL, w, c.p0, c.p1)
        for j in range(w):
            out[j] = t0[j] * up[j]
        return
    for j in range(w):
        t0[j] = grad[j] * up[j]
    if real is float:
        c.bwd32(out, gate, t0, w, <float>c.p0, <float>c.p1)
        c.fwd32(t1, gate, NULL, w, <float>c.p0, <float>c.p1)
    else:
        c.bwd64(out, gate, t0, w, c.p0, c.p1)
        c.fwd64(t1, gate, NULL, w, c.p0, c.p1)
    for j in range(w):
        d_up[j] = grad[j] * t1[j]


cdef void _gated_item_any(const GatedCall *c, Py_ssize_t k) noexcept nogil:
    cdef double buf[2 * FUSED_TILE]
    if c.itemsize == 4:
        _gated_item(c, k, <float *>buf, (<float *>buf) + FUSED_TILE)
    else:
        _gated_item(c, k, <double *>buf, (<double *>buf) + FUSED_TILE)


cdef void _gated_run(const GatedCall *c, Py_ssize_t n_threads) noexcept nogil:
    cdef Py_ssize_t k
    cdef Py_ssize_t n_items = c.rows * _tiles(c.m)
    if (n_threads <= 1 or c.rows * c.m < THRESHOLDS.parallel_min_elements or _forked_child
            or not FASTACT_OPENMP):
        for k in range(n_items):
            _gated_item_any(c, k)
        return
    for k in prange(n_items, schedule="static", num_threads=n_threads):
        _gated_item_any(c, k)


def gated_call(ElementwiseKernel forward not None, backward, tuple outs, tuple ins,
               Py_ssize_t rows, Py_ssize_t m, tuple params, Py_ssize_t n_threads):
    """act(gate) * up (``backward`` None; outs = (out,), ins = (gate, up)) or its gradients
    (outs = (d_gate, d_up), ins = (gate, up, grad)); operands are
    ``fastact._fused.Strided`` (flat C-contiguous buffer, offset, row stride)."""
    cdef GatedCall c
    cdef Py_ssize_t i
    cdef cnp.ndarray flat
    c.fwd32 = forward.f32
    c.fwd64 = forward.f64
    c.bwd32 = NULL
    c.bwd64 = NULL
    c.itemsize = 8
    if backward is not None:
        c.bwd32 = (<ElementwiseKernel>backward).f32
        c.bwd64 = (<ElementwiseKernel>backward).f64
    operands = list(ins) + [None] * (3 - len(ins)) + list(outs) + [None] * (2 - len(outs))
    for i in range(5):
        c.base[i] = NULL
        c.off[i] = 0
        c.rs[i] = 0
        if operands[i] is not None:
            flat = operands[i].flat
            c.base[i] = cnp.PyArray_BYTES(flat)
            c.off[i] = operands[i].offset
            c.rs[i] = operands[i].row_stride
            c.itemsize = flat.itemsize
    c.rows = rows
    c.m = m
    c.p0 = params[0] if len(params) > 0 else 0.0
    c.p1 = params[1] if len(params) > 1 else 0.0
    with nogil:
        _gated_run(&c, n_threads)
