# The bias ufuncs: <id>_bias(x, b, *params) = f(x + b) and <id>_bias_backward(grad, x, b,
# *params) = grad * f'(x + b).  One inner loop per dtype serves every kernel: the ufunc's
# data is the kernel's contiguous loop (_LOOPS_F32/_LOOPS_F64, the loop fastact.<name>(x,
# bias=b) runs), so no code is generated per activation.  Values are those of the unfused
# sequence (x + b rounded to the dtype, then the loop), as the public functions' bias=.
# Included by fastact/_kernels.pyx after ufuncs.pxi and fused.pxi.

cdef enum:
    BIAS_UFUNC_TILE = 512    # elements staged per call of the kernel's loop (strided spans)


cdef struct BiasUfunc:
    loop_f32 f32
    loop_f64 f64
    int ix                   # the index of x: 1 when grad comes first (backward)
    int nargs                # [grad,] x, b, params.., out


cdef inline bint _bias_params_constant(const BiasUfunc *u, cnp.npy_intp *steps) noexcept nogil:
    cdef int k
    for k in range(u.ix + 2, u.nargs - 1):
        if steps[k] != 0:
            return False
    return True


cdef inline double _bias_param(char **args, cnp.npy_intp *steps, int k, Py_ssize_t i,
                               Py_ssize_t itemsize) noexcept nogil:
    cdef const char *p = args[k] + i * steps[k]
    return (<const float *>p)[0] if itemsize == 4 else (<const double *>p)[0]


cdef Py_ssize_t _bias_param_run(const BiasUfunc *u, char **args, cnp.npy_intp *steps,
                                Py_ssize_t i, Py_ssize_t w, Py_ssize_t itemsize,
                                double *p) noexcept nogil:
    """The parameters at element i into p[0], p[1]; returns how many elements from i
    (at most w) share them: the kernel's loop takes them as constants."""
    cdef int k, n_params = u.nargs - 3 - u.ix
    cdef Py_ssize_t j
    p[0] = p[1] = 0.0
    for k in range(n_params):
        p[k] = _bias_param(args, steps, u.ix + 2 + k, i, itemsize)
    for j in range(1, w):
        for k in range(n_params):
            if _bias_param(args, steps, u.ix + 2 + k, i + j, itemsize) != p[k]:
                return j
    return w


cdef void _bias_strided(const BiasUfunc *u, char **args, Py_ssize_t n, cnp.npy_intp *steps,
                        real *tx, real *tg, real *to) noexcept nogil:
    """Any strides and per-element parameters: runs of at most BIAS_UFUNC_TILE elements
    with one parameter value, staged (x + b, grad) in tiles; out written directly when
    contiguous, else from the tile to."""
    cdef int ix = u.ix, iout = u.nargs - 1
    cdef Py_ssize_t i = 0, j, w
    cdef Py_ssize_t size = sizeof(real)
    cdef double p[2]
    cdef real *dst
    cdef const real *g
    while i < n:
        w = _bias_param_run(u, args, steps, i, min(<Py_ssize_t>BIAS_UFUNC_TILE, n - i), size, p)
        for j in range(w):
            tx[j] = ((<real *>(args[ix] + (i + j) * steps[ix]))[0]
                     + (<real *>(args[ix + 1] + (i + j) * steps[ix + 1]))[0])
        g = NULL
        if ix == 1:
            if steps[0] == size:
                g = <const real *>(args[0] + i * size)
            else:
                for j in range(w):
                    tg[j] = (<real *>(args[0] + (i + j) * steps[0]))[0]
                g = tg
        dst = <real *>(args[iout] + i * size) if steps[iout] == size else to
        if real is float:
            u.f32(dst, tx, g, w, <float>p[0], <float>p[1])
        else:
            u.f64(dst, tx, g, w, p[0], p[1])
        if dst == to:
            for j in range(w):
                (<real *>(args[iout] + (i + j) * steps[iout]))[0] = to[j]
        i += w


cdef void _bias_contiguous(const BiasUfunc *u, char **args, Py_ssize_t n, Py_ssize_t size,
                           cnp.npy_intp *steps) noexcept nogil:
    """Contiguous operands, constant parameters: the bias kernel's items (fused.pxi) over
    one row of n, threaded when long."""
    cdef double p[2]
    cdef BiasCall c
    _bias_param_run(u, args, steps, 0, 1, size, p)
    c.f32, c.f64, c.out, c.x, c.bias = u.f32, u.f64, args[u.nargs - 1], args[u.ix], args[u.ix + 1]
    c.g = args[0] if u.ix == 1 else NULL
    c.bias_f32, c.bias_f64 = NULL, NULL  # the staged path, with the ufunc's loop
    c.partial = NULL
    c.rows, c.m, c.per_block, c.itemsize, c.p0, c.p1 = 1, n, 1, size, p[0], p[1]
    _run_items(_bias_item_any, &c, _tiles(n), n, _ufunc_threads)


cdef void _uf_bias_any(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps, void *data,
                       Py_ssize_t size) noexcept nogil:
    cdef const BiasUfunc *u = <const BiasUfunc *>data
    cdef double tiles[3][BIAS_UFUNC_TILE]
    cdef fexcept_t fp_flags
    cdef int k
    cdef bint contiguous = _bias_params_constant(u, steps)
    for k in range(u.ix + 2):
        contiguous = contiguous and steps[k] == size
    contiguous = contiguous and steps[u.nargs - 1] == size
    fegetexceptflag(&fp_flags, FE_ALL_EXCEPT)
    if contiguous:
        _bias_contiguous(u, args, dims[0], size, steps)
    elif size == 4:
        _bias_strided(u, args, dims[0], steps, <float *>tiles[0], <float *>tiles[1],
                      <float *>tiles[2])
    else:
        _bias_strided(u, args, dims[0], steps, <double *>tiles[0], <double *>tiles[1],
                      <double *>tiles[2])
    fesetexceptflag(&fp_flags, FE_ALL_EXCEPT)


cdef void _uf_bias_f32(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                       void *data) noexcept nogil:
    _uf_bias_any(args, dims, steps, data, 4)


cdef void _uf_bias_f64(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                       void *data) noexcept nogil:
    _uf_bias_any(args, dims, steps, data, 8)


cdef cnp.PyUFuncGenericFunction _BIAS_UFUNC_LOOPS[2]
_BIAS_UFUNC_LOOPS[0] = <cnp.PyUFuncGenericFunction>_uf_bias_f32
_BIAS_UFUNC_LOOPS[1] = <cnp.PyUFuncGenericFunction>_uf_bias_f64
BIAS_UFUNC_MODES = ("forward", "backward")


def make_bias_ufunc(str kernel_id, str mode, str name, str doc):
    """The numpy.ufunc ``name``: ``kernel_id``'s forward f(x + b) (inputs ``x, b,
    *params``) or backward grad * f'(x + b) (inputs ``grad, x, b, *params``), float32
    and float64 loops."""
    if kernel_id not in KERNEL_IDS:
        raise KeyError(f"the cython backend has no kernel {kernel_id!r}")
    if mode not in BIAS_UFUNC_MODES:
        raise ValueError(f"bias ufuncs have modes {BIAS_UFUNC_MODES}, not {mode!r}")
    cdef Py_ssize_t slot = KERNEL_IDS.index(kernel_id) * 4 + MODES.index(mode)
    cdef int n_params = UFUNC_KERNELS[[kid for kid, _ in UFUNC_KERNELS].index(kernel_id)][1]
    cdef int ix = mode == "backward"
    # one allocation that lives as long as the ufunc (NumPy keeps the data pointers)
    cdef void **data = <void **>malloc(2 * sizeof(void *) + sizeof(BiasUfunc))
    if data == NULL:
        raise MemoryError()
    cdef BiasUfunc *u = <BiasUfunc *>(data + 2)
    u.f32, u.f64, u.ix, u.nargs = _LOOPS_F32[slot], _LOOPS_F64[slot], ix, 3 + ix + n_params
    data[0] = data[1] = u
    name_b, doc_b = name.encode(), doc.encode()
    _UFUNC_KEEP.append((name_b, doc_b))
    return cnp.PyUFunc_FromFuncAndData(_BIAS_UFUNC_LOOPS, data, _UFUNC_TYPES[u.nargs - 2], 2,
                                       u.nargs - 1, 1, cnp.PyUFunc_None, name_b, doc_b, 0)
