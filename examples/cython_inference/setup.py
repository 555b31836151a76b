"""Build the example against the installed fastact: python setup.py build_ext --inplace

``fastact.get_include()`` gives the C headers; Cython finds ``fastact/kernels.pxd``
in the installed package.  -ffp-contract=off (no implicit FMA) and no -ffast-math
give the bits of fastact's own Cython backend (on any x86-64 level); -fopenmp runs the prange loops in
parallel (gcc/clang; without it they run serially).
"""
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

import fastact

# -march=native: the vector width of fastact's best build on this CPU (AVX-512 here);
# EXAMPLE_MARCH= (empty) builds for the compiler's default target instead.
MARCH = os.environ.get("EXAMPLE_MARCH", "-march=native").split()
FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"] + MARCH
OPENMP = [] if os.environ.get("EXAMPLE_NO_OPENMP") else ["-fopenmp"]

extension = Extension(
    "dense_layer",
    ["dense_layer.pyx"],
    include_dirs=[fastact.get_include(), np.get_include()],
    extra_compile_args=FLAGS + OPENMP + os.environ.get("EXAMPLE_CFLAGS", "").split(),
    extra_link_args=OPENMP,
)

# An editable install of fastact is not on sys.path (an import hook finds it), so
# Cython is told where the package directory is; for a normal install it is harmless.
setup(ext_modules=cythonize([extension],
                            include_path=[os.path.dirname(os.path.dirname(fastact.__file__))]))
