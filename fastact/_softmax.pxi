# fastact/_softmax.pxi -- the softmax-family Cython kernels, included at the end of
# fastact/_kernels.pyx.  PLACEHOLDER created by the elementwise-backend author so the
# extension builds; the softmax-family author owns this file and replaces it.
#
# Contract: define  rowwise_kernel(op) -> kernel(out, x, grad, mask, n_threads)
# (see fastact/_backends.py); everything defined in _kernels.pyx before the
# include is available: the fused type `real`, the fa_* math of _vmath.h,
# prange, cnp, PARALLEL_MIN, NOGIL_MIN and the fork flag _forked_child
# (when it is set, never enter a parallel region).

def rowwise_kernel(op):
    """Placeholder: the softmax family is not implemented in Cython yet."""
    raise NotImplementedError(f"the cython backend has no softmax-family kernels yet ({op!r})")
