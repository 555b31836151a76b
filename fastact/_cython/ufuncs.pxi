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
    _run(c, _ufunc_threads, cheap)


cdef inline void _run_ufunc_gated(char *gate, char *up, char *out, Py_ssize_t n,
                                  Py_ssize_t itemsize, gated_f32 f32,
                                  gated_f64 f64) noexcept nogil:
    """A gated unit's forward loop on a contiguous span (one row of n), threaded when long."""
    cdef GatedCall c
    cdef int i
    for i in range(5):
        c.base[i] = NULL
        c.off[i] = 0
        c.rs[i] = 0
    c.base[0] = gate
    c.base[1] = up
    c.base[3] = out
    c.f32 = f32
    c.f64 = f64
    c.rows = 1
    c.m = n
    c.itemsize = itemsize
    c.p0 = c.p1 = 0.0
    _gated_run(&c, _ufunc_threads)


# ufunc type signatures: nargs float32 codes then nargs float64 codes, for 2..6 arguments
cdef char _UFUNC_TYPES[5][12]
for _nargs in range(2, 7):
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


def make_gated_ufunc(str name, str doc):
    """The numpy.ufunc ``name`` (a gated unit of ``GATED_UFUNCS``, e.g. "swiglu"): two inputs
    in the unit's operand order, one output, float32 and float64 loops."""
    if name not in GATED_UFUNCS:
        raise KeyError(f"the cython backend has no gated ufunc {name!r}")
    cdef Py_ssize_t k = GATED_UFUNCS.index(name)
    name_b, doc_b = name.encode(), doc.encode()
    _UFUNC_KEEP.append((name_b, doc_b))
    return cnp.PyUFunc_FromFuncAndData(&_GATED_UFUNC_LOOPS[2 * k], _UFUNC_DATA,
                                       _UFUNC_TYPES[1], 2, 2, 1, cnp.PyUFunc_None,
                                       name_b, doc_b, 0)


# ---------------------------------------------------------------- bfloat16
# bfloat16 (ml_dtypes, a user dtype) is computed by the float32 loop: in blocks, x (and
# grad) widened exactly to float32, the result rounded to nearest-even as ml_dtypes
# does; the parameters stay float32 inputs.
from libc.stdlib cimport malloc
from libc.string cimport memcpy

cdef enum:
    BF16_BLOCK = 512


ctypedef void (*inner_loop)(char **, cnp.npy_intp *, cnp.npy_intp *, void *) noexcept nogil

cdef struct Bf16Loop:
    inner_loop f32  # the ufunc's float32 inner loop
    void *f32_data  # and its data
    int nargs
    int lead  # the leading operands in bfloat16: [grad,] x [, bias]


cdef inline float _bf16_to_f32(const char *p) noexcept nogil:
    cdef unsigned int u = (<const unsigned short *>p)[0]
    cdef float f
    u <<= 16
    memcpy(&f, &u, 4)
    return f


cdef inline void _f32_to_bf16(float f, char *p) noexcept nogil:
    cdef unsigned int u
    memcpy(&u, &f, 4)
    if f != f:
        (<unsigned short *>p)[0] = <unsigned short>((u >> 16) | 0x40)
    else:
        (<unsigned short *>p)[0] = <unsigned short>((u + 0x7FFF + ((u >> 16) & 1)) >> 16)


cdef void _uf_bf16(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                   void *data) noexcept nogil:
    cdef const Bf16Loop *info = <const Bf16Loop *>data
    cdef float buf[4][BF16_BLOCK]  # the leading operands, out
    cdef char *block_args[6]
    cdef cnp.npy_intp block_steps[6]
    cdef cnp.npy_intp i, m, start = 0, n = dims[0]
    cdef int k, out = info.nargs - 1
    while start < n:
        m = n - start if n - start < BF16_BLOCK else BF16_BLOCK
        for k in range(info.nargs):
            block_steps[k] = steps[k] if info.lead <= k < out else 4
            block_args[k] = args[k] + start * steps[k]
            if k < info.lead:
                for i in range(m):
                    buf[k][i] = _bf16_to_f32(args[k] + (start + i) * steps[k])
                block_args[k] = <char *>buf[k]
        block_args[out] = <char *>buf[3]
        info.f32(block_args, &m, block_steps, info.f32_data)
        for i in range(m):
            _f32_to_bf16(buf[3][i], args[out] + (start + i) * steps[out])
        start += m


def register_bfloat16(cnp.ufunc ufunc, int typenum, int lead):
    """Add a loop for the user dtype ``typenum`` (bfloat16) to a ufunc from make_ufunc,
    make_gated_ufunc or make_bias_ufunc: its ``lead`` leading operands ([grad,] x [, bias];
    a gated ufunc's two) and the result in bfloat16, the parameters in float32."""
    cdef Bf16Loop *info = <Bf16Loop *>malloc(sizeof(Bf16Loop))  # lives as long as the ufunc
    cdef int arg_types[6]
    cdef int k
    if info == NULL:
        raise MemoryError()
    info.f32 = <inner_loop>ufunc.functions[0]
    info.f32_data = ufunc.data[0]
    info.nargs = ufunc.nargs
    info.lead = lead
    for k in range(info.nargs):
        arg_types[k] = typenum if k < info.lead or k == info.nargs - 1 else cnp.NPY_FLOAT32
    cnp.PyUFunc_RegisterLoopForType(ufunc, typenum, <cnp.PyUFuncGenericFunction>_uf_bf16,
                                    arg_types, info)
