# Fused kernels, included by fastact/_kernels.pyx (they use its loop tables, THRESHOLDS,
# the work pool and ElementwiseKernel): an activation of x + bias, and the gated units
# act(gate) * up.  The work is cut in items (a block of rows, or one row, times a tile of
# FUSED_TILE columns); consecutive items form the parts of a work-pool loop (_run_items).
# Bias: the piecewise-linear activations' loops of f(x + b) run on each tile; the others'
# tiles are staged FUSED_STAGE columns at a time in a stack buffer of the thread running
# it (L1-resident) and the activation's loop runs on it, writing the output: one pass over
# memory, the values of the unfused sequence (x + bias rounded to the dtype, then f).  The bias
# gradient: each block of rows sums its rows in order into its own float64 row of
# `partial`, and the rows of `partial` are added in block order; the blocks depend on
# the shape only, so db is bitwise independent of the thread count.  Gated units: the
# unit's generated one-pass loop (_gated_loops.pxi) on each item.
from libc.stdlib cimport free, malloc

cdef enum:
    FUSED_TILE = 2048        # columns per item (two float64 tiles fit a 32 KiB L1)
    FUSED_STAGE = 256        # x + bias staged and the loop run this many columns at a time


cdef extern from *:
    """
    /* sums[j] = 0.0 + src[j] + src[m + j] + ... (rows - 1 terms more, in row order: the bits
       of a row-by-row loop from zero) for j < w, 32 columns at a time held in registers. */
    #define FA_COLUMN_SUMS(NAME, T)                                                      \
    static inline void NAME(double *sums, const T *src, Py_ssize_t rows, Py_ssize_t m,   \
                            Py_ssize_t w) {                                              \
        Py_ssize_t j0 = 0, r;                                                            \
        for (; j0 + 32 <= w; j0 += 32) {                                                 \
            double a[32];                                                                \
            for (int j = 0; j < 32; j++) a[j] = 0.0;                                     \
            for (r = 0; r < rows; r++)                                                   \
                for (int j = 0; j < 32; j++) a[j] += (double)src[r * m + j0 + j];        \
            for (int j = 0; j < 32; j++) sums[j0 + j] = a[j];                            \
        }                                                                                \
        for (Py_ssize_t j = j0; j < w; j++) {                                            \
            double a = 0.0;                                                              \
            for (r = 0; r < rows; r++) a += (double)src[r * m + j];                      \
            sums[j] = a;                                                                 \
        }                                                                                \
    }
    FA_COLUMN_SUMS(fa_column_sums_f32, float)
    FA_COLUMN_SUMS(fa_column_sums_f64, double)
    """
    void fa_column_sums_f32(double *acc, const float *src, Py_ssize_t rows, Py_ssize_t m,
                            Py_ssize_t w) noexcept nogil
    void fa_column_sums_f64(double *acc, const double *src, Py_ssize_t rows, Py_ssize_t m,
                            Py_ssize_t w) noexcept nogil


cdef struct BiasCall:
    loop_f32 f32              # the activation's loop, on x + bias staged
    loop_f64 f64
    bias_loop_f32 bias_f32    # or f on x + bias in one loop (NULL: stage)
    bias_loop_f64 bias_f64
    char *out
    const char *x
    const char *g             # NULL: no grad
    const char *bias
    double *partial           # NULL: no bias gradient; else (n_blocks, m), each item sets its part
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
    cdef Py_ssize_t j0, part
    for r in range(blk * c.per_block, r_end):
        s = r * c.m + c0
        j0 = 0
        if real is float:
            if c.bias_f32 != NULL:  # f(x + bias) in one loop
                c.bias_f32(out + s, x + s, b, (g + s) if g != NULL else NULL, w,
                           <float>c.p0, <float>c.p1)
                j0 = w
        else:
            if c.bias_f64 != NULL:
                c.bias_f64(out + s, x + s, b, (g + s) if g != NULL else NULL, w, c.p0, c.p1)
                j0 = w
        while j0 < w:  # else x + bias staged for the activation's own loop
            part = FUSED_STAGE if w - j0 > FUSED_STAGE else w - j0
            for j in range(part):
                tmp[j] = x[s + j0 + j] + b[j0 + j]
            if real is float:
                c.f32(out + s + j0, tmp, (g + s + j0) if g != NULL else NULL, part,
                      <float>c.p0, <float>c.p1)
            else:
                c.f64(out + s + j0, tmp, (g + s + j0) if g != NULL else NULL, part, c.p0, c.p1)
            j0 += part
    if acc != NULL:  # the block's rows are written: its row of partial, their column sums
        s = blk * c.per_block * c.m + c0
        if real is float:
            fa_column_sums_f32(acc, out + s, r_end - blk * c.per_block, c.m, w)
        else:
            fa_column_sums_f64(acc, out + s, r_end - blk * c.per_block, c.m, w)


cdef void _bias_item_any(const void *ctx, Py_ssize_t k) noexcept nogil:
    cdef const BiasCall *c = <const BiasCall *>ctx
    cdef double buf[FUSED_STAGE]
    if c.itemsize == 4:
        _bias_item(c, k, <float *>buf)
    else:
        _bias_item(c, k, <double *>buf)


ctypedef void (*item_fn)(const void *ctx, Py_ssize_t k) noexcept nogil


cdef struct ItemParts:
    item_fn item
    const void *ctx
    Py_ssize_t n_items
    Py_ssize_t per_part       # consecutive items per part


cdef void _items_part(void *ctx, Py_ssize_t p) noexcept nogil:
    cdef const ItemParts *a = <const ItemParts *>ctx
    cdef Py_ssize_t k
    cdef Py_ssize_t hi = (p + 1) * a.per_part
    if hi > a.n_items:
        hi = a.n_items
    for k in range(p * a.per_part, hi):
        a.item(a.ctx, k)


cdef void _run_items(item_fn item, const void *ctx, Py_ssize_t n_items, Py_ssize_t n_elements,
                     Py_ssize_t n_threads) noexcept nogil:
    """item(ctx, k) for every k < n_items: serially below THRESHOLDS.parallel_min_elements,
    else as CHUNKS_PER_THREAD parts per thread on the work pool (items are independent)."""
    cdef ItemParts a
    cdef Py_ssize_t k, n_parts
    if (n_threads <= 1 or n_elements < THRESHOLDS.parallel_min_elements or _forked_child
            or not FASTACT_OPENMP or n_items <= 1):
        for k in range(n_items):
            item(ctx, k)
        return
    n_parts = n_threads * CHUNKS_PER_THREAD
    a.item = item
    a.ctx = ctx
    a.n_items = n_items
    a.per_part = (n_items + n_parts - 1) // n_parts
    fa_pool_run(_items_part, &a, (n_items + a.per_part - 1) // a.per_part, <int>n_threads)


def bias_call(ElementwiseKernel kernel not None, cnp.ndarray out not None,
              cnp.ndarray x not None, grad, cnp.ndarray bias not None, tuple params,
              Py_ssize_t n_threads, db=None):
    """``kernel``'s mode on x + bias: out, x (grad): C-contiguous (rows, m) of one float
    dtype, bias (m,) of it; db: None or a float64 (m,) array, set to the column sums of
    out (fixed blocks, fixed order: independent of n_threads).  False, writing nothing,
    when out overlaps bias, or x or grad without being that very array."""
    if grad is None and kernel.needs_grad:
        raise TypeError("fastact cython kernel: the backward modes need grad")
    return _bias_run(kernel.f32, kernel.f64, kernel.bias_f32, kernel.bias_f64, out, x, grad,
                     bias, params, n_threads, db)


def bias_call_at(size_t address, cnp.ndarray out not None, cnp.ndarray x not None, grad,
                 cnp.ndarray bias not None, tuple params, Py_ssize_t n_threads, db=None):
    """:func:`bias_call` with the activation's loop a C function compiled elsewhere, at
    ``address``, with this module's loop ABI for x's dtype (``run_loop_at``'s; g NULL when
    grad is None).  The caller vouches for the address and the arrays: the Numba
    backend passes its compiled chunk functions.  False as :func:`bias_call`."""
    if address == 0:
        raise ValueError("fastact cython kernel: a loop address of 0")
    return _bias_run(<loop_f32>address, <loop_f64>address, NULL, NULL, out, x, grad, bias,
                     params, n_threads, db)


cdef bint _overlapping(cnp.ndarray out, cnp.ndarray x, grad, cnp.ndarray bias):
    """out overlaps bias, or x or grad without being that very array (a tile of out is
    written after only its own tile of x and grad are read)."""
    cdef const char *o = cnp.PyArray_BYTES(out)
    cdef Py_ssize_t n = cnp.PyArray_NBYTES(out)
    if not fa_apart(o, n, cnp.PyArray_BYTES(bias), cnp.PyArray_NBYTES(bias)):
        return True
    if out is not x and not fa_apart(o, n, cnp.PyArray_BYTES(x), cnp.PyArray_NBYTES(x)):
        return True
    return (grad is not None and out is not grad
            and not fa_apart(o, n, cnp.PyArray_BYTES(<cnp.ndarray>grad),
                             cnp.PyArray_NBYTES(<cnp.ndarray>grad)))


cdef bint _bias_run(loop_f32 f32, loop_f64 f64, bias_loop_f32 bias_f32, bias_loop_f64 bias_f64,
                    cnp.ndarray out, cnp.ndarray x, grad, cnp.ndarray bias, tuple params,
                    Py_ssize_t n_threads, db) except -1:
    """The loop (f32 or f64, by x's dtype) on x + bias, item by item on the work pool;
    True, or False without running when out overlaps an input (:func:`_overlapping`)."""
    if _overlapping(out, x, grad, bias):
        return False
    cdef double *sums = NULL
    if db is not None:
        if (not isinstance(db, cnp.ndarray) or cnp.PyArray_TYPE(<cnp.ndarray>db) != cnp.NPY_FLOAT64
                or cnp.PyArray_SIZE(<cnp.ndarray>db) != x.shape[1]
                or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>db)):
            raise ValueError("fastact cython kernel: db must be a contiguous float64 (m,) array")
        sums = <double *>cnp.PyArray_DATA(<cnp.ndarray>db)
    cdef Py_ssize_t rows = x.shape[0], m = x.shape[1]
    cdef Py_ssize_t per_block = max(1, (rows + FA_BIAS_GRAD_MAX_BLOCKS - 1) // FA_BIAS_GRAD_MAX_BLOCKS)
    cdef Py_ssize_t n_blocks
    if db is not None:
        per_block = max(per_block, FA_BIAS_GRAD_MIN_BLOCK_ROWS)
    n_blocks = (rows + per_block - 1) // per_block
    cdef double p0 = params[0] if len(params) > 0 else 0.0
    cdef double p1 = params[1] if len(params) > 1 else 0.0
    cdef BiasCall c = BiasCall(
        f32=f32, f64=f64, bias_f32=bias_f32, bias_f64=bias_f64, out=cnp.PyArray_BYTES(out),
        x=cnp.PyArray_BYTES(x), g=NULL, bias=cnp.PyArray_BYTES(bias), partial=NULL, rows=rows, m=m,
        per_block=per_block, itemsize=x.itemsize, p0=p0, p1=p1)
    if grad is not None:
        c.g = cnp.PyArray_BYTES(<cnp.ndarray>grad)
    cdef double *scratch = NULL
    if db is not None:  # one block writes db itself
        scratch = <double *>malloc(n_blocks * m * sizeof(double)) if n_blocks > 1 else NULL
        if n_blocks > 1 and scratch == NULL:
            raise MemoryError()
        c.partial = scratch if n_blocks > 1 else sums
    try:
        with nogil:
            _run_items(_bias_item_any, &c, n_blocks * _tiles(m), rows * m, n_threads)
        if scratch != NULL:
            _sum_blocks(scratch, n_blocks, m, sums)
    finally:
        free(scratch)
    return True


cdef void _sum_blocks(const double *partial, Py_ssize_t n_blocks, Py_ssize_t m,
                     double *db) noexcept nogil:
    """db[j] = sum of partial[blk, j] for blk = 0, 1, ... in order."""
    cdef Py_ssize_t blk, j
    for j in range(m):
        db[j] = 0.0
    for blk in range(n_blocks):
        for j in range(m):
            db[j] += partial[blk * m + j]


cdef struct GatedCall:
    gated_f32 f32
    gated_f64 f64
    char *base[5]             # gate, up, grad, then out (d_gate), d_up
    Py_ssize_t off[5]         # offset and row stride of each, in elements
    Py_ssize_t rs[5]
    Py_ssize_t rows
    Py_ssize_t m
    Py_ssize_t itemsize
    double p0
    double p1


cdef inline char *_row(const GatedCall *c, int i, Py_ssize_t r, Py_ssize_t c0) noexcept nogil:
    """Operand i at row r, column c0."""
    return c.base[i] + (c.off[i] + r * c.rs[i] + c0) * c.itemsize


cdef void _gated_item(const void *ctx, Py_ssize_t k) noexcept nogil:
    """Item k: row k // tiles, one tile of columns, through the unit's loop."""
    cdef const GatedCall *c = <const GatedCall *>ctx
    cdef Py_ssize_t n_tiles = _tiles(c.m)
    cdef Py_ssize_t r = k // n_tiles
    cdef Py_ssize_t c0 = (k - r * n_tiles) * FUSED_TILE
    cdef Py_ssize_t w = FUSED_TILE if c.m - c0 > FUSED_TILE else c.m - c0
    if c.itemsize == 4:
        c.f32(<float *>_row(c, 3, r, c0), <float *>_row(c, 4, r, c0),
              <const float *>_row(c, 0, r, c0), <const float *>_row(c, 1, r, c0),
              <const float *>_row(c, 2, r, c0), w, <float>c.p0, <float>c.p1)
    else:
        c.f64(<double *>_row(c, 3, r, c0), <double *>_row(c, 4, r, c0),
              <const double *>_row(c, 0, r, c0), <const double *>_row(c, 1, r, c0),
              <const double *>_row(c, 2, r, c0), w, c.p0, c.p1)


cdef void _gated_run(GatedCall *c, Py_ssize_t n_threads) noexcept nogil:
    _run_items(_gated_item, c, c.rows * _tiles(c.m), c.rows * c.m, n_threads)


cdef inline void _gated_operand(GatedCall *c, int i, char *base, Py_ssize_t off,
                                Py_ssize_t rs) noexcept:
    c.base[i] = base
    c.off[i] = off
    c.rs[i] = rs


cdef inline void _gated_absent(GatedCall *c) noexcept:
    """An operand the mode does not use gets a used one's place (never NULL): grad that of
    gate, d_up that of out, as the Numba driver passes them."""
    if c.base[2] == NULL:
        _gated_operand(c, 2, c.base[0], c.off[0], c.rs[0])
    if c.base[4] == NULL:
        _gated_operand(c, 4, c.base[3], c.off[3], c.rs[3])


cdef inline void _gated_params(GatedCall *c, tuple params):
    c.p0 = params[0] if len(params) > 0 else 0.0
    c.p1 = params[1] if len(params) > 1 else 0.0


cdef Py_ssize_t _gated_slot(str kernel_id, str mode) except -1:
    if kernel_id not in GATED_KERNEL_IDS:
        raise KeyError(f"the cython backend has no gated loop for {kernel_id!r}")
    if mode not in ("forward", "backward"):
        raise ValueError(f"unknown gated mode {mode!r}")
    return 2 * GATED_KERNEL_IDS.index(kernel_id) + (mode == "backward")


def gated_slot(str kernel_id, str mode):
    """The slot of the unit's loops (``gated_direct``'s first argument)."""
    return _gated_slot(kernel_id, mode)


def gated_call(str kernel_id, str mode, tuple outs, tuple ins, Py_ssize_t rows, Py_ssize_t m,
               tuple params, Py_ssize_t n_threads):
    """act(gate) * up (mode "forward"; outs = (out,), ins = (gate, up)) or its gradients
    (mode "backward"; outs = (d_gate, d_up), ins = (gate, up, grad)); operands are
    ``fastact._fused.Strided`` (flat C-contiguous buffer, offset, row stride)."""
    cdef Py_ssize_t slot = _gated_slot(kernel_id, mode)
    _gated_strided(_GATED_F32[slot], _GATED_F64[slot], outs, ins, rows, m, params, n_threads)


def gated_call_at(size_t address, tuple outs, tuple ins, Py_ssize_t rows, Py_ssize_t m,
                  tuple params, Py_ssize_t n_threads):
    """:func:`gated_call` with the unit's loop a C function compiled elsewhere, at
    ``address``, with this module's gated loop ABI for the operands' dtype (``void
    loop(T *out, T *d_up, const T *gate, const T *up, const T *g, Py_ssize_t n, T p0, T
    p1)``; an absent grad or d_up passed as gate or out).  The caller vouches for the
    address and the operands: the Numba backend passes its compiled chunk functions."""
    if address == 0:
        raise ValueError("fastact cython kernel: a loop address of 0")
    _gated_strided(<gated_f32>address, <gated_f64>address, outs, ins, rows, m, params,
                   n_threads)


cdef _gated_strided(gated_f32 f32, gated_f64 f64, tuple outs, tuple ins, Py_ssize_t rows,
                    Py_ssize_t m, tuple params, Py_ssize_t n_threads):
    """The loop (f32 or f64, by the operands' itemsize) on Strided operands, item by item
    on the work pool, the GIL released."""
    cdef GatedCall c
    cdef Py_ssize_t i
    cdef cnp.ndarray flat
    c.f32 = f32
    c.f64 = f64
    c.itemsize = 8
    operands = list(ins) + [None] * (3 - len(ins)) + list(outs) + [None] * (2 - len(outs))
    for i in range(5):
        _gated_operand(&c, i, NULL, 0, 0)
        if operands[i] is not None:
            flat = operands[i].flat
            _gated_operand(&c, i, cnp.PyArray_BYTES(flat), operands[i].offset,
                           operands[i].row_stride)
            c.itemsize = flat.itemsize
    _gated_absent(&c)
    c.rows = rows
    c.m = m
    _gated_params(&c, params)
    with nogil:
        _gated_run(&c, n_threads)


def gated_direct(Py_ssize_t slot, out, cnp.ndarray x not None, other, grad, int gate_half,
                 tuple params, Py_ssize_t n_threads):
    """The unit's loops at ``slot`` (``gated_slot``) on whole arrays (``_gated_direct``)."""
    if slot < 0 or slot >= 2 * len(GATED_KERNEL_IDS):
        raise IndexError(f"fastact cython kernel: no gated slot {slot}")
    return _gated_direct(_GATED_F32[slot], _GATED_F64[slot], out, x, other, grad, gate_half,
                         params, n_threads)


def gated_direct_at(size_t address, out, cnp.ndarray x not None, other, grad, int gate_half,
                    tuple params, Py_ssize_t n_threads):
    """:func:`gated_direct` with the loop at ``address`` (``gated_call_at``'s ABI, for x's
    dtype); the caller vouches for the address."""
    if address == 0:
        raise ValueError("fastact cython kernel: a loop address of 0")
    return _gated_direct(<gated_f32>address, <gated_f64>address, out, x, other, grad,
                         gate_half, params, n_threads)


cdef bint _fits(object a, int typ, int nd, const cnp.npy_intp *dims, bint write):
    """``a`` is an ndarray (exactly) of type typ, native byte order, C-contiguous and
    aligned (and writeable with ``write``), of shape dims[:nd]."""
    cdef cnp.ndarray arr
    cdef int i
    if type(a) is not cnp.ndarray:
        return False
    arr = <cnp.ndarray>a
    if (cnp.PyArray_TYPE(arr) != typ or cnp.PyArray_NDIM(arr) != nd
            or not cnp.PyArray_ISCARRAY_RO(arr) or not cnp.PyArray_ISNOTSWAPPED(arr)
            or (write and not cnp.PyArray_ISWRITEABLE(arr))):
        return False
    for i in range(nd):
        if cnp.PyArray_DIM(arr, i) != dims[i]:
            return False
    return True


cdef object _gated_direct(gated_f32 f32, gated_f64 f64, out, cnp.ndarray x, other, grad,
                          int gate_half, tuple params, Py_ssize_t n_threads):
    """The unit on whole arrays of one native float dtype, C-contiguous and aligned: x split
    in halves along its last axis (other None; forward: grad None, the result (..., n/2);
    backward: grad (..., n/2), the result x's shape, d_gate and d_up in its halves), or
    gate and up = (x, other) in the order gate_half (forward only; other of x's shape);
    gate_half 1: gate = the second.  Returns out, or a new array when out is None; False,
    writing nothing, when the call is not one of these (an odd split, operands of other
    shapes or layouts), or out is not a ready array of the result's shape and dtype, or
    overlaps an input it is not (in place means out is that input)."""
    cdef int typ = cnp.PyArray_TYPE(x), nd = cnp.PyArray_NDIM(x)
    cdef cnp.npy_intp dims[64]
    cdef GatedCall c
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x), n2, h, nb, i
    if ((typ != cnp.NPY_FLOAT32 and typ != cnp.NPY_FLOAT64) or nd == 0 or nd > 64
            or not _fits(x, typ, nd, cnp.PyArray_DIMS(x), False) or gate_half not in (0, 1)):
        return False
    for i in range(nd):
        dims[i] = cnp.PyArray_DIM(x, i)
    c.itemsize = 4 if typ == cnp.NPY_FLOAT32 else 8
    nb = n * c.itemsize
    if other is None:
        n2 = dims[nd - 1]
        if n2 % 2:
            return False
        h = n2 // 2
        c.rows, c.m = (n // n2 if n2 else 0), h
        dims[nd - 1] = h  # grad's shape, or the forward result's
        if grad is not None and not _fits(grad, typ, nd, dims, False):
            return False
        if grad is not None:
            dims[nd - 1] = n2
    elif grad is not None:
        raise ValueError("fastact cython kernel: the two-array form is forward only")
    elif not _fits(other, typ, nd, dims, False):
        return False
    else:
        c.rows, c.m = (1 if n else 0), n
    if out is None:
        out = cnp.PyArray_EMPTY(nd, dims, typ, 0)
    elif not _fits(out, typ, nd, dims, True):
        return False
    c.f32 = f32
    c.f64 = f64
    if not _gated_layout(&c, <cnp.ndarray>out, x, other, grad, gate_half, nb):
        return False
    _gated_params(&c, params)
    if c.rows * c.m < NOGIL_MIN:
        _gated_run(&c, 1)
    else:
        with nogil:
            _gated_run(&c, n_threads)
    return out


cdef bint _gated_layout(GatedCall *c, cnp.ndarray out, cnp.ndarray x, other, grad,
                        int gate_half, Py_ssize_t nb):
    """The operands of _gated_direct's call in ``c`` (rows, m and itemsize set); False
    when out overlaps an input it is not."""
    cdef char *xp = cnp.PyArray_BYTES(x)
    cdef char *op = cnp.PyArray_BYTES(out)
    cdef char *second
    cdef Py_ssize_t h = c.m, n2 = 2 * c.m, gb = c.rows * c.m * c.itemsize
    if other is not None:
        second = cnp.PyArray_BYTES(<cnp.ndarray>other)
        _gated_operand(c, gate_half, xp, 0, h)
        _gated_operand(c, 1 - gate_half, second, 0, h)
        _gated_operand(c, 2, c.base[0], 0, h)
        _gated_operand(c, 3, op, 0, h)
        _gated_operand(c, 4, op, 0, h)
        return ((out is x or fa_apart(op, nb, xp, nb))
                and (out is other or fa_apart(op, nb, second, nb)))
    _gated_operand(c, 0, xp, gate_half * h, n2)
    _gated_operand(c, 1, xp, (1 - gate_half) * h, n2)
    if grad is None:
        _gated_operand(c, 2, xp, gate_half * h, n2)
        _gated_operand(c, 3, op, 0, h)
        _gated_operand(c, 4, op, 0, h)
        return fa_apart(op, gb, xp, nb)
    _gated_operand(c, 2, cnp.PyArray_BYTES(<cnp.ndarray>grad), 0, h)
    _gated_operand(c, 3, op, gate_half * h, n2)
    _gated_operand(c, 4, op, (1 - gate_half) * h, n2)
    return (out is x or fa_apart(op, nb, xp, nb)) and fa_apart(op, nb, c.base[2], gb)
