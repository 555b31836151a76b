# The C interface of softmax.h (one home for the backend's adapter softmax.pxi and
# for users' Cython code through the generated fastact/kernels.pxd).

cdef extern from "softmax.h" nogil:
    enum:
        FA_SM_BLOCK
        FA_SM_TILE
        FA_SM_SOFTMAX
        FA_SM_LOG_SOFTMAX
        FA_SM_LOGSUMEXP
        FA_SM_ROWS
        FA_SM_ROW_BLOCKS
        FA_SM_TILES
        FA_SM_PLAIN
        FA_SM_SHORT
        FA_SM_PIPELINED
        FA_SM_WAVE
        FA_SM_HAVE_AVX512
        FA_SM_HAVE_STREAM
    ctypedef struct fa_sm_job:
        int kind, negate, backward, dbl, strategy, path, large, threads
        Py_ssize_t rows, n, inner
        void *o
        const void *x
        const void *g
        const unsigned char *mk
    int fa_sm_run(const fa_sm_job *job)
