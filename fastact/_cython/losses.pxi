# The losses' Cython adapter, included at the end of fastact/_kernels.pyx: check the
# arrays, choose the threads, call the C kernels of losses.h.
#
#     loss_kernel(name) -> the kernel of fastact._numba.losses's contract:
#         cross_entropy(x, tgt, weights, params, loss, g, n_threads) -> sum of loss
#         binary_cross_entropy_with_logits(x, y, weights, outs, scale, n_threads)

from libc.stdint cimport int64_t

cdef extern from "fa_constants.h":
    const Py_ssize_t FA_LOSS_SUM_BLOCK

cdef extern from "losses.h" nogil:
    ctypedef struct fa_ce_job:
        int dbl, threads
        Py_ssize_t rows, n
        const void *x
        const void *w
        const int64_t *tgt
        const double *wrow
        double smooth, keep, scale, wsum
        double *loss
        void *g
    ctypedef struct fa_bce_job:
        int dbl, threads
        Py_ssize_t n, blocks
        const void *x
        const void *y
        const void *w
        const void *pw
        double scale
        void *loss
        double *sums
        void *g
    void fa_ce_run(const fa_ce_job *job)
    double fa_ce_total(const double *loss, Py_ssize_t rows)
    void fa_bce_run(const fa_bce_job *job)

cdef enum:
    LOSS_SERIAL_MAX_ELEMENTS = 32768  # at most this many: the calling thread only


cdef Py_ssize_t _loss_threads(Py_ssize_t n_threads, Py_ssize_t size, Py_ssize_t parts):
    if _forked_child or not FASTACT_OPENMP or size <= LOSS_SERIAL_MAX_ELEMENTS:
        return 1
    return max(1, min(n_threads, parts))


cdef void *_data_of(object a, int typ, Py_ssize_t size, str what) except? NULL:
    """The data of a C-contiguous array of type typ and size elements, or NULL for None."""
    if a is None:
        return NULL
    _sm_check(a, typ, size, what)
    return cnp.PyArray_BYTES(<cnp.ndarray>a)


def _cross_entropy(cnp.ndarray x not None, cnp.ndarray tgt not None, weights, tuple params,
                   cnp.ndarray loss not None, g, Py_ssize_t n_threads):
    """Cross-entropy rows (contract: fastact._numba.losses.cross_entropy_rows); returns
    the row losses' sum."""
    cdef fa_ce_job job
    cdef int typ = cnp.PyArray_TYPE(x)
    if typ != cnp.NPY_FLOAT64 and typ != cnp.NPY_FLOAT32 or x.ndim != 2:
        raise TypeError("fastact cython cross_entropy: x must be 2-D float32/float64")
    job.dbl = typ == cnp.NPY_FLOAT64
    job.rows, job.n = x.shape[0], x.shape[1]
    job.x = _data_of(x, typ, job.rows * job.n, "x must be C-contiguous")
    job.w = NULL
    job.wrow = NULL
    if weights is not None:
        job.w = _data_of(weights[0], typ, job.n, "w must be (n,) in x's dtype")
        job.wrow = <const double *>_data_of(weights[1], cnp.NPY_FLOAT64, job.rows,
                                            "w_rows must be float64 (rows,)")
    job.tgt = <const int64_t *>_data_of(tgt, cnp.NPY_INT64, job.rows, "tgt must be int64 (rows,)")
    job.loss = <double *>_data_of(loss, cnp.NPY_FLOAT64, job.rows, "loss must be float64 (rows,)")
    job.g = _data_of(g, typ, job.rows * job.n, "g must be shaped like x")
    job.smooth, job.keep, job.scale, job.wsum = params
    job.threads = _loss_threads(n_threads, job.rows * job.n, job.rows)
    if job.rows * job.n < NOGIL_MIN:
        fa_ce_run(&job)
    else:
        with nogil:
            fa_ce_run(&job)
    return fa_ce_total(job.loss, job.rows)


def _bce_with_logits(cnp.ndarray x not None, cnp.ndarray y not None, weights, tuple outs,
                     double scale, Py_ssize_t n_threads):
    """BCE with logits (contract: fastact._numba.losses.bce_with_logits)."""
    cdef fa_bce_job job
    cdef int typ = cnp.PyArray_TYPE(x)
    if typ != cnp.NPY_FLOAT64 and typ != cnp.NPY_FLOAT32:
        raise TypeError("fastact cython bce: x must be float32/float64")
    job.dbl = typ == cnp.NPY_FLOAT64
    job.n = x.size
    job.x = _data_of(x, typ, job.n, "x must be C-contiguous")
    job.y = _data_of(y, typ, job.n, "y must be like x")
    job.w = job.pw = NULL
    if weights is not None:
        job.w = _data_of(weights[0], typ, job.n, "weight must be like x")
        job.pw = _data_of(weights[1], typ, job.n, "pos_weight must be like x")
    loss, sums, g = outs
    job.blocks = sums.size
    if job.blocks != (job.n + FA_LOSS_SUM_BLOCK - 1) // FA_LOSS_SUM_BLOCK:
        raise ValueError("fastact cython bce: sums must have one entry per block")
    job.sums = <double *>_data_of(sums, cnp.NPY_FLOAT64, job.blocks, "sums must be float64")
    job.loss = _data_of(loss, typ, job.n, "loss must be like x")
    job.g = _data_of(g, typ, job.n, "g must be like x")
    job.scale = scale
    job.threads = _loss_threads(n_threads, job.n, job.blocks)
    if job.n < NOGIL_MIN:
        fa_bce_run(&job)
    else:
        with nogil:
            fa_bce_run(&job)


_LOSS_KERNELS = {"cross_entropy": _cross_entropy,
                 "binary_cross_entropy_with_logits": _bce_with_logits}


def loss_kernel(str name):
    """The loss kernel ``name`` (contracts: fastact._numba.losses)."""
    return _LOSS_KERNELS[name]
