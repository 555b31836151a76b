"""Where Cython users' builds find fastact's C headers, and the flags to build with."""
from __future__ import annotations

import os
import shlex


def get_include() -> str:
    """The directory of the C headers that ``fastact/kernels.pxd`` includes.

    Pass it to ``Extension(..., include_dirs=[fastact.get_include()])`` in a
    ``setup.py`` whose ``.pyx`` does ``from fastact cimport kernels``; Cython
    finds ``kernels.pxd`` itself in the installed package (through ``sys.path``).
    """
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "_cython")


def get_compile_args() -> list[str]:
    """The C compiler flags of the Cython backend's build loaded on this machine.

    ``Extension(..., extra_compile_args=fastact.get_compile_args())`` builds code
    that cimports ``fastact.kernels`` for the same instruction set and vector width
    as ``backend="cython"`` (e.g. ``-march=x86-64-v4``: 512-bit vectors, where
    ``-march=native`` may tune for 256-bit ones), with its floating-point rules
    (``-ffp-contract=off``, no ``-ffast-math``): the same bits, the same speed.
    The list includes ``-fopenmp`` when the backend was built with OpenMP (pass it
    to ``extra_link_args`` as well). ImportError, saying why, without the backend.
    """
    from . import _cython

    _cython.check_available()
    return shlex.split(_cython.config()["cflags"])
