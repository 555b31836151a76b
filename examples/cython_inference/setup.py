"""Build the example against the installed fastact: python setup.py build_ext --inplace

``fastact.get_include()`` gives the C headers; Cython finds ``fastact/kernels.pxd``
in the installed package.  ``fastact.get_compile_args()`` gives the flags of fastact's
own Cython build on this machine: its instruction set and vector width (512-bit on
AVX-512, where -march=native may tune for 256-bit vectors), -ffp-contract=off and no
-ffast-math (the bits of backend="cython"), and -fopenmp when fastact has OpenMP
(the prange loops then run in parallel; without it they run serially).
"""
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

import fastact

FLAGS = fastact.get_compile_args()
OPENMP = [flag for flag in FLAGS if flag.startswith("-fopenmp")]

extension = Extension(
    "dense_layer",
    ["dense_layer.pyx"],
    include_dirs=[fastact.get_include(), np.get_include()],
    extra_compile_args=FLAGS,
    extra_link_args=OPENMP,
)

# An editable install of fastact is not on sys.path (an import hook finds it), so
# Cython is told where the package directory is; for a normal install it is harmless.
setup(ext_modules=cythonize([extension],
                            include_path=[os.path.dirname(os.path.dirname(fastact.__file__))]))
