"""Where Cython users' builds find fastact's C headers."""
from __future__ import annotations

import os


def get_include() -> str:
    """The directory of the C headers that ``fastact/kernels.pxd`` includes.

    Pass it to ``Extension(..., include_dirs=[fastact.get_include()])`` in a
    ``setup.py`` whose ``.pyx`` does ``from fastact cimport kernels``; Cython
    finds ``kernels.pxd`` itself in the installed package (through ``sys.path``).
    """
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "_cython")
