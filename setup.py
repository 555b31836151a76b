"""Build fastact's Cython kernels, with OpenMP where the compiler has it.

1. ``fastact/_kernels.pyx`` is rendered from the Tempita template
   ``fastact/_kernels.pyx.tp`` with the kernel list of ``fastact/_registry.py``
   (the single source of truth), then cythonized.
2. The OpenMP flag is found by compiling and running a tiny test program
   (gcc/clang: -fopenmp; MSVC: /openmp; Apple clang: -Xpreprocessor -fopenmp
   -lomp).  With none, or with FASTACT_DISABLE_OPENMP=1, the extension is
   built serial, with a warning.
3. The C code is built portable (baseline ISA: x86-64 = SSE2); on x86-64 with
   gcc/clang the same C file is also built for x86-64-v3 (AVX2+FMA) and
   x86-64-v4 (AVX-512) as ``fastact/_isa/<level>/_kernels*.so``; at run time
   ``fastact._cython`` loads the best one this CPU supports.
   FASTACT_NO_ISA_VARIANTS=1 skips them.
Flags: -O3 -ffp-contract=off -fno-math-errno -fno-trapping-math, no -ffast-math
(NaN, inf and -0.0 must behave exactly; the transcendental functions are
branch-free polynomials in fastact/_vmath.h, so they vectorize without it).
FASTACT_EXTRA_CFLAGS adds compiler flags.
"""
import glob
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

import numpy as np
from Cython import Tempita
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join("fastact", "_kernels.pyx.tp")
PYX = os.path.join("fastact", "_kernels.pyx")

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


# ------------------------------------------------------------------ template
def _load_registry():
    """fastact/_registry.py loaded by path (no import of the package itself)."""
    spec = importlib.util.spec_from_file_location(
        "_fastact_registry_for_build", os.path.join(HERE, "fastact", "_registry.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def render_kernels_pyx():
    """Render _kernels.pyx from the template; rewrite it only when it changes."""
    reg = _load_registry()
    with_y = set(reg.y_kernel_ids())
    kernels = [(kid, kid in with_y) for kid in reg.all_kernel_ids()]
    with open(os.path.join(HERE, TEMPLATE)) as f:
        template = f.read()
    text = Tempita.sub(
        template,
        kernels=kernels,
        cheap=[kid for a in reg.ACTIVATIONS if not a.smooth for kid in a.kernel_ids()],
        gelu_tanh_c=repr(float(reg.GELU_TANH_C)),
        gelu_tanh_k=repr(float(reg.GELU_TANH_K)),
        selu_scale=repr(float(reg.SELU_SCALE)),
        selu_alpha=repr(float(reg.SELU_ALPHA)),
    )
    target = os.path.join(HERE, PYX)
    old = open(target).read() if os.path.exists(target) else None
    if old != text:
        with open(target, "w") as f:
            f.write(text)


# ------------------------------------------------------------------- OpenMP
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


def _accepts(flag):
    """True if the C compiler accepts ``flag`` (gcc/clang only)."""
    kind, cc = _compiler_kind()
    if kind == "msvc" or shutil.which(cc) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        try:
            subprocess.run([cc, flag, "-c", src, "-o", os.path.join(tmp, "t.o")], check=True,
                           capture_output=True, timeout=60)
            return True
        except (OSError, subprocess.SubprocessError):
            return False


# ---------------------------------------------------------------- extensions
ISA_LEVELS = (("x86_64_v3", "-march=x86-64-v3"), ("x86_64_v4", "-march=x86-64-v4"))


def _c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def extensions():
    render_kernels_pyx()
    omp_c, omp_l = openmp_flags()
    kind, _ = _compiler_kind()
    if kind == "msvc":
        opt = ["/O2", "/fp:precise"]
    else:
        # -O3 vectorizes; no -ffast-math: NaN, inf and -0.0 must behave exactly.
        # -ffp-contract=off: no implicit fma, so the vector body and the scalar
        # remainder of a loop round identically (results independent of threads).
        opt = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"]
    extra = os.environ.get("FASTACT_EXTRA_CFLAGS", "").split()

    def make(name, source, isa_flags):
        flags = opt + isa_flags + omp_c + extra
        macros = [
            ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
            ("FASTACT_OPENMP", "1" if omp_c else "0"),
            ("FASTACT_CFLAGS", _c_string(" ".join(flags))),
        ]
        return Extension(
            name,
            [source],
            include_dirs=[np.get_include(), os.path.join(HERE, "fastact", "_cython")],
            define_macros=macros,
            depends=sorted(glob.glob(os.path.join("fastact", "_cython", "*.h"))),
            extra_compile_args=flags,
            extra_link_args=omp_l,
        )

    exts = cythonize(
        [make("fastact._kernels", PYX, [])],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )
    # The same generated C file, built again for newer x86-64 levels (same module
    # init name: fastact._cython loads one of them under the name fastact._kernels).
    x86 = platform.machine().lower() in ("x86_64", "amd64") and kind != "msvc"
    if x86 and os.environ.get("FASTACT_NO_ISA_VARIANTS", "").strip() in ("", "0"):
        c_file = os.path.splitext(PYX)[0] + ".c"
        for level, flag in ISA_LEVELS:
            if not _accepts(flag):
                continue
            # a copy per level: each gets its own object file
            copy_dir = os.path.join("build", "fastact_isa_src", level)
            os.makedirs(copy_dir, exist_ok=True)
            copy = os.path.join(copy_dir, "_kernels.c")
            shutil.copyfile(c_file, copy)
            exts.append(make(f"fastact._isa.{level}._kernels", copy, [flag]))
            os.makedirs(os.path.join(HERE, "fastact", "_isa", level), exist_ok=True)  # --inplace
    return exts


class build_ext(_build_ext):
    """build_ext that replaces an in-place extension by unlinking it first: copying
    over it would truncate a library that running processes have mapped (SIGBUS)."""

    def copy_file(self, infile, outfile, *args, **kwargs):
        if str(outfile).endswith((".so", ".pyd")) and os.path.exists(outfile):
            os.unlink(outfile)
        return super().copy_file(infile, outfile, *args, **kwargs)


setup(ext_modules=extensions(), cmdclass={"build_ext": build_ext})
