# NumPy ufuncs over the elementwise kernels: the inner loops are generated from
# the registry (_ufunc_loops.pxi, from _cython/ufunc_loops.pxi.tp); this part
# holds what they share and make_ufunc, which fastact/ufuncs.py calls.
cimport numpy as cnp

cnp.import_ufunc()

cdef extern from "<fenv.h>" nogil:
    ctypedef struct fexcept_t:
        pass
    int FE_ALL_EXCEPT
    int fegetexceptflag(fexcept_t *flagp, int excepts)
    int fesetexceptflag(const fexcept_t *flagp, int excepts)

# Threads a ufunc's contiguous span may use; fastact.ufuncs keeps it equal to
# fastact.get_num_threads().
cdef Py_ssize_t _ufunc_threads = 1


def _set_ufunc_threads(Py_ssize_t n):
    """Set the threads the ufuncs' contiguous spans may use (fastact.set_num_threads calls it)."""
    global _ufunc_threads
    _ufunc_threads = n if n > 1 else 1


cdef inline bint _ufunc_constant_params(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                                        int nargs, int ix, Py_ssize_t itemsize,
                                        LoopCall *c) noexcept nogil:
    """True (and c filled but for its loop) when grad, x and out are contiguous and
    every parameter is one value for the whole span (stride 0)."""
    cdef int k
    if steps[ix] != itemsize or steps[nargs - 1] != itemsize or (ix == 1 and steps[0] != itemsize):
        return False
    for k in range(ix + 1, nargs - 1):
        if steps[k] != 0:
            return False
    c.n = dims[0]
    c.out = args[nargs - 1]
    c.x = args[ix]
    c.g = args[0] if ix == 1 else NULL
    c.itemsize = itemsize
    c.p0 = c.p1 = 0.0
    if nargs - 2 - ix > 0:
        c.p0 = (<float *>args[ix + 1])[0] if itemsize == 4 else (<double *>args[ix + 1])[0]
    if nargs - 2 - ix > 1:
        c.p1 = (<float *>args[ix + 2])[0] if itemsize == 4 else (<double *>args[ix + 2])[0]
    return True


cdef inline void _run_ufunc_span(LoopCall *c, bint cheap) noexcept nogil:
    """The contiguous loop on the span: threaded when long (NumPy passes the whole array
    when it needs no buffering), serial on short (buffered) chunks; same bits either way."""
    _run(c, _ufunc_threads, THRESHOLDS.parallel_min_elements_cheap if cheap
         else THRESHOLDS.parallel_min_elements)


# ufunc type signatures: nargs float32 codes then nargs float64 codes, for 2..5 arguments
cdef char _UFUNC_TYPES[4][10]
for _nargs in range(2, 6):
    for _k in range(_nargs):
        _UFUNC_TYPES[_nargs - 2][_k] = cnp.NPY_FLOAT32
        _UFUNC_TYPES[_nargs - 2][_nargs + _k] = cnp.NPY_FLOAT64
cdef void *_UFUNC_DATA[2]  # the loops take no data (NumPy reads one pointer per loop)
_UFUNC_DATA[0] = _UFUNC_DATA[1] = NULL
_UFUNC_KEEP = []  # NumPy keeps the name and doc pointers: their bytes live here


def make_ufunc(str kernel_id, str mode, str name, str doc):
    """The numpy.ufunc ``name`` computing ``kernel_id`` in ``mode`` ("forward",
    "derivative" or "backward"): inputs ``[grad,] x, *params``, float32 and float64 loops."""
    ids = [kid for kid, _ in UFUNC_KERNELS]
    if kernel_id not in ids:
        raise KeyError(f"the cython backend has no kernel {kernel_id!r}")
    cdef Py_ssize_t k = ids.index(kernel_id)
    cdef int m = UFUNC_MODES.index(mode)
    cdef int nin = 1 + UFUNC_KERNELS[k][1] + (mode == "backward")
    name_b, doc_b = name.encode(), doc.encode()
    _UFUNC_KEEP.append((name_b, doc_b))
    return cnp.PyUFunc_FromFuncAndData(&_UFUNC_LOOPS[2 * (3 * k + m)], _UFUNC_DATA,
                                       _UFUNC_TYPES[nin - 1], 2, nin, 1, cnp.PyUFunc_None,
                                       name_b, doc_b, 0)
