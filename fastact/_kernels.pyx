# cython: language_level=3
"""fastact's Cython kernels (placeholder until the Cython backend lands)."""

cdef extern from *:
    """
    #ifndef FASTACT_OPENMP
    #define FASTACT_OPENMP 0
    #endif
    """
    int FASTACT_OPENMP


def build_info():
    """How this extension was built."""
    return {"openmp": bool(FASTACT_OPENMP)}
