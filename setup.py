"""Build fastact/_kernels.pyx, with OpenMP where the compiler has it.

The OpenMP flag is found by compiling and running a tiny test program
(gcc/clang: -fopenmp; MSVC: /openmp; Apple clang: -Xpreprocessor -fopenmp
-lomp).  With none, or with FASTACT_DISABLE_OPENMP=1, the extension is built
serial, with a warning.  FASTACT_EXTRA_CFLAGS adds compiler flags.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

OPENMP_TEST = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d", n > 0);
        return 0;
    }
    """
)


def _compiler_kind():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    if sys.platform == "win32":
        return "msvc", cc
    if sys.platform == "darwin":
        return "apple", cc.split()[0]
    return "unix", cc.split()[0]


def openmp_flags():
    """(compile flags, link flags) for OpenMP, or ([], []) if there is none."""
    if os.environ.get("FASTACT_DISABLE_OPENMP", "").strip() not in ("", "0"):
        warnings.warn("FASTACT_DISABLE_OPENMP is set: building fastact's Cython kernels serial")
        return [], []
    kind, cc = _compiler_kind()
    if kind == "msvc":
        return ["/openmp"], []
    candidates = [(["-fopenmp"], ["-fopenmp"])]
    if kind == "apple":
        candidates.insert(0, (["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
    if shutil.which(cc) is None:
        warnings.warn(f"compiler {cc!r} not found for the OpenMP probe; building serial")
        return [], []
    for cflags, lflags in candidates:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "omp_test.c")
            exe = os.path.join(tmp, "omp_test")
            with open(src, "w") as f:
                f.write(OPENMP_TEST)
            try:
                subprocess.run([cc, *cflags, src, "-o", exe, *lflags], check=True,
                               capture_output=True, timeout=120)
                run = subprocess.run([exe], check=True, capture_output=True, timeout=60)
                if run.stdout.strip() == b"1":
                    return cflags, lflags
            except (OSError, subprocess.SubprocessError):
                continue
    warnings.warn(
        "fastact: the C compiler has no usable OpenMP; the Cython kernels are built serial"
    )
    return [], []


def extension():
    omp_c, omp_l = openmp_flags()
    kind, _ = _compiler_kind()
    if kind == "msvc":
        opt = ["/O2"]
    else:
        # -O3 vectorizes; no -ffast-math: NaN, inf and -0.0 must behave exactly.
        # -fno-math-errno lets the compiler inline sqrt and friends.
        opt = ["-O3", "-fno-math-errno", "-fno-trapping-math"]
    extra = os.environ.get("FASTACT_EXTRA_CFLAGS", "").split()
    macros = [
        ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
        ("FASTACT_OPENMP", "1" if omp_c else "0"),
    ]
    return Extension(
        "fastact._kernels",
        ["fastact/_kernels.pyx"],
        include_dirs=[np.get_include()],
        define_macros=macros,
        extra_compile_args=opt + omp_c + extra,
        extra_link_args=omp_l,
    )


setup(
    ext_modules=cythonize(
        [extension()],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
