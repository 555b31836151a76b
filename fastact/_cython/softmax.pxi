# The softmax family's Cython adapter, included at the end of fastact/_kernels.pyx:
# validate the arrays, plan the run, call the C kernels of softmax.h.  The
# algorithm, its accuracy and its determinism: docs/softmax.md.
#
#     rowwise_kernel(op) -> RowKernel, callable as kernel(out, x, grad, mask, n_threads)
#
# op is a name of fastact._registry.ROW_OPS.  x (y for the backward ops), grad and
# out are C-contiguous (rows, n) or (rows, n, inner) float32/float64 arrays of one
# dtype, reduced over n (out is (rows,) or (rows, inner) for logsumexp); mask None
# or a C-contiguous bool array shaped like x; out may be one of the inputs exactly
# (in place).  The semantics are those of fastact._reference._rowwise; the bits do
# not depend on n_threads.

include "softmax_decl.pxi"

# op name -> (kind, negate, backward); the backward ops' kind: 1 softmax, 0 log_softmax
_SM_OPS = {
    "softmax": (FA_SM_SOFTMAX, 0, 0),
    "softmin": (FA_SM_SOFTMAX, 1, 0),
    "log_softmax": (FA_SM_LOG_SOFTMAX, 0, 0),
    "logsumexp": (FA_SM_LOGSUMEXP, 0, 0),
    "softmax_backward": (1, 0, 1),
    "log_softmax_backward": (0, 0, 1),
}

# The plan's thresholds (what each buys, measured: docs/tuning.md).
cdef enum:
    SERIAL_MAX_ELEMENTS = 32768       # at most this many: the calling thread only
    LARGE_MIN_BYTES = 8 << 20         # x at least this large: prefetch, streaming stores
    WAVE_ROW_MIN_ELEMENTS = 1024      # large rows longer than this take the wave ...
    WAVE_ROW_MAX_BYTES = 1 << 20      # ... up to this long
    SHORT_ROW_MAX_ELEMENTS = 64       # rows held in registers (AVX-512 builds, no mask)
    SHORT_LOG_ROW_MAX_ELEMENTS = 256  # log rows batched for their logs (not large ones)


cdef int _sm_row_path(const fa_sm_job *job) noexcept nogil:
    """How a thread runs its forward rows (FA_SM_PLAIN / SHORT / PIPELINED / WAVE)."""
    cdef Py_ssize_t row_bytes = job.n * (8 if job.dbl else 4)
    if job.backward or job.strategy != FA_SM_ROWS or job.mk != NULL:
        return FA_SM_PLAIN
    if FA_SM_HAVE_AVX512 and (job.n <= SHORT_ROW_MAX_ELEMENTS or (
            job.kind != FA_SM_SOFTMAX and not job.large
            and job.n <= SHORT_LOG_ROW_MAX_ELEMENTS)):
        return FA_SM_SHORT
    if job.kind == FA_SM_SOFTMAX and not job.large and (job.dbl or job.n > FA_SM_BLOCK):
        return FA_SM_PIPELINED
    if (FA_SM_HAVE_STREAM and job.large and job.kind != FA_SM_LOGSUMEXP
            and job.n > WAVE_ROW_MIN_ELEMENTS and row_bytes <= WAVE_ROW_MAX_BYTES):
        return FA_SM_WAVE
    return FA_SM_PLAIN


cdef void _sm_plan(fa_sm_job *job, Py_ssize_t n_threads) noexcept nogil:
    """The plan of a job whose op, shape and dtype are set: threads, strategy, path.

    Serial up to SERIAL_MAX_ELEMENTS (backward rows that would split: up to
    FA_SOFTMAX_BACKWARD_POOL_SERIAL_MAX_BYTES of y); a non-last axis: tiles; fewer than
    two rows per thread that span several blocks: (row, block) tasks; else rows split."""
    cdef Py_ssize_t total = job.rows * job.n * job.inner
    cdef Py_ssize_t k = n_threads
    cdef Py_ssize_t blocks = (job.n + FA_SM_BLOCK - 1) // FA_SM_BLOCK
    cdef bint split_rows = job.inner == 1 and not (job.rows < 2 * k and job.n > FA_SM_BLOCK)
    if _forked_child or not FASTACT_OPENMP or total <= SERIAL_MAX_ELEMENTS and not (
            job.backward and split_rows
            and total * (8 if job.dbl else 4) > FA_SOFTMAX_BACKWARD_POOL_SERIAL_MAX_BYTES):
        k = 1
    job.large = total * (8 if job.dbl else 4) >= LARGE_MIN_BYTES
    if job.inner > 1:
        job.strategy = FA_SM_TILES
        job.threads = min(k, job.rows * ((job.inner + FA_SM_TILE - 1) // FA_SM_TILE))
    elif k > 1 and job.rows < 2 * k and job.n > FA_SM_BLOCK:
        job.strategy = FA_SM_ROW_BLOCKS
        job.threads = min(k, job.rows * blocks)
    else:
        job.strategy = FA_SM_ROWS
        job.threads = min(k, job.rows)
    job.path = _sm_row_path(job)


cdef int _sm_check(object a, int typ, Py_ssize_t size, str what) except -1:
    """a must be a C-contiguous array of type typ and size elements."""
    if (not isinstance(a, cnp.ndarray) or cnp.PyArray_TYPE(<cnp.ndarray>a) != typ
            or cnp.PyArray_SIZE(<cnp.ndarray>a) != size
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a)):
        raise ValueError(f"fastact cython row kernel: {what}")
    return 0


cdef class RowKernel:
    """kernel(out, x, grad, mask, n_threads): one softmax-family op (see the top of
    this file for the contract).  The GIL is released from NOGIL_MIN elements."""

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
        cdef fa_sm_job job
        self._validate(&job, out, x, grad, mask)
        if job.rows == 0 or job.n == 0 or job.inner == 0:
            return
        _sm_plan(&job, n_threads)
        _sm_execute(&job)

    cdef int _validate(self, fa_sm_job *job, cnp.ndarray out, cnp.ndarray x, grad,
                       mask) except -1:
        """Check the arrays; set the op, shape, dtype and pointers of job."""
        cdef int typ = cnp.PyArray_TYPE(x), nd = cnp.PyArray_NDIM(x)
        if typ != cnp.NPY_FLOAT64 and typ != cnp.NPY_FLOAT32:
            raise TypeError(f"fastact cython row kernel: dtype {x.dtype} is not float32/float64")
        if (nd not in (2, 3) or not cnp.PyArray_IS_C_CONTIGUOUS(x)
                or not cnp.PyArray_IS_C_CONTIGUOUS(out) or cnp.PyArray_TYPE(out) != typ):
            raise ValueError("fastact cython row kernel: x must be 2-D or 3-D and x, out "
                             "C-contiguous of one dtype")
        job.kind, job.negate, job.backward = self.kind, self.negate, self.backward
        job.dbl = typ == cnp.NPY_FLOAT64
        job.rows, job.n = x.shape[0], x.shape[1]
        job.inner = x.shape[2] if nd == 3 else 1
        cdef Py_ssize_t size = job.rows * job.n * job.inner
        reduces = self.kind == FA_SM_LOGSUMEXP and not self.backward
        if cnp.PyArray_SIZE(out) != (job.rows * job.inner if reduces else size):
            raise ValueError("fastact cython row kernel: out has the wrong size")
        job.o, job.x, job.g, job.mk = cnp.PyArray_BYTES(out), cnp.PyArray_BYTES(x), NULL, NULL
        if self.backward:
            _sm_check(grad, typ, size, "grad must match y")
            job.g = cnp.PyArray_BYTES(<cnp.ndarray>grad)
        elif mask is not None:
            _sm_check(mask, cnp.NPY_BOOL, size, "mask must be a C-contiguous bool array "
                      "shaped like x")
            job.mk = <const unsigned char *>cnp.PyArray_BYTES(<cnp.ndarray>mask)
        return 0


cdef int _sm_execute(const fa_sm_job *job) except -1:
    """Run a planned job, without the GIL from NOGIL_MIN elements."""
    cdef int rc
    if job.rows * job.n * job.inner < NOGIL_MIN:
        rc = fa_sm_run(job)
    else:
        with nogil:
            rc = fa_sm_run(job)
    if rc != 0:
        raise MemoryError("fastact cython row kernel: out of memory for scratch")
    return 0


def rowwise_kernel(str op):
    """``kernel(out, x, grad, mask, n_threads)`` for the softmax-family op ``op``."""
    return RowKernel(op)
