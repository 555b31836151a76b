# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A dense layer with fastact's kernels inlined: h = gelu(x @ W + b), and a softmax head.

The matrix product is NumPy's (BLAS); bias + GELU and the softmax run row by row
in a ``prange`` loop, each row one call of fastact's span / row functions
(``from fastact cimport kernels``), without the GIL and without a Python call
per row.  ``schedule="guided"``: rows go to whichever thread is free, so a thread
the OS deschedules (a busy machine) delays only the rows it holds.
"""
from cython.parallel cimport prange

import numpy as np

import fastact
from fastact cimport kernels


def _threads(int n_threads):
    """n_threads, or fastact's thread count when it is 0 or less."""
    return n_threads if n_threads > 0 else fastact.get_num_threads()


def gelu_rows(const float[:, ::1] x, float[:, ::1] out, int n_threads=0):
    """out[i] = gelu(x[i]) for every row i, rows spread over OpenMP threads."""
    cdef Py_ssize_t i, n = x.shape[1]
    cdef int k = _threads(n_threads)
    if n == 0:
        return
    for i in prange(x.shape[0], nogil=True, schedule="guided", num_threads=k):
        kernels.gelu_span_f32(&x[i, 0], &out[i, 0], n)


def dense_gelu(x, W, b, int n_threads=0):
    """gelu(x @ W + b) for float32 x (rows, k), W (k, n), b (n,)."""
    h = np.matmul(x, W)
    cdef float[:, ::1] hv = h
    cdef const float[::1] bv = b
    cdef Py_ssize_t i, j, n = hv.shape[1]
    cdef int k = _threads(n_threads)
    if n == 0:
        return h
    for i in prange(hv.shape[0], nogil=True, schedule="guided", num_threads=k):
        for j in range(n):
            hv[i, j] = hv[i, j] + bv[j]
        kernels.gelu_span_f32(&hv[i, 0], &hv[i, 0], n)  # in place
    return h


def softmax_head(const float[:, ::1] logits, int n_threads=0):
    """softmax along the last axis, one row per iteration of a prange loop."""
    out = np.empty((logits.shape[0], logits.shape[1]), np.float32)
    cdef float[:, ::1] ov = out
    cdef Py_ssize_t i, n = logits.shape[1]
    cdef int failed = 0, k = _threads(n_threads)
    if n == 0:
        return out
    for i in prange(logits.shape[0], nogil=True, schedule="guided", num_threads=k):
        if kernels.softmax_row_f32(&logits[i, 0], &ov[i, 0], n) != 0:
            failed = 1
    if failed:
        raise MemoryError("softmax_row_f32: no scratch memory")
    return out


def scalar_gelu(float x):
    """One value through the scalar function (what a custom loop would call)."""
    return kernels.gelu_f32(x)
