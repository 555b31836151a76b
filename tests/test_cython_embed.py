"""Cython users' side of fastact: the cimportable ``fastact/kernels.pxd``.

The generated pxd ships in the package with the headers it needs
(``fastact.get_include()``), declares every kernel id of the registry in every
mode and type, and gives the bits of ``backend="cython"``: a module generated
from the registry is built against the installed package and compared, and the
example ``examples/cython_inference`` is built in a temporary directory and run.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest

import fastact
from fastact._registry import ROW_OPS, all_kernel_ids, kernel_spec, y_kernel_ids
from tests._arrays import CASES, case_modes, grads_like, kinks, specials

pytest.importorskip("Cython")
if "cython" not in fastact.backends():
    pytest.skip("the Cython backend is not built here", allow_module_level=True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PXD = os.path.join(os.path.dirname(fastact.__file__), "kernels.pxd")
TYPES = (("f32", "float", np.float32), ("f64", "double", np.float64))
# the span function of each mode and the arguments before (out, n)
SPANS = {"forward": ("span", "x"), "derivative": ("derivative_span", "x"),
         "backward": ("backward_span", "g, x"), "backward_y": ("backward_y_span", "g, x")}


def _compiler_works() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None


needs_compiler = pytest.mark.skipif(not _compiler_works(), reason="no C compiler")


def _pxd_functions() -> set:
    with open(PXD) as f:
        return set(re.findall(r"^cdef inline \w+ (\w+)\(", f.read(), re.M))


def test_the_pxd_and_its_headers_ship_in_the_package():
    assert os.path.isfile(PXD)
    include = fastact.get_include()
    with open(os.path.join(os.path.dirname(PXD), "_cython", "formulas.pxi")) as f:
        headers = set(re.findall(r'cdef extern from "([\w.]+)"', f.read()))
    headers |= {"softmax.h", "fa_constants.h", "vmath_real.h", "softmax_impl.h"}
    for header in headers:
        assert os.path.isfile(os.path.join(include, header)), header


def test_compile_args_are_the_loaded_builds_flags():
    from fastact import _cython

    args = fastact.get_compile_args()
    config = _cython.config()
    assert " ".join(args) == config["cflags"]
    assert "-ffp-contract=off" in args and "-ffast-math" not in args
    variant = config["variant"]
    if variant != "baseline":  # the ISA of the loaded build, e.g. -march=x86-64-v4
        assert "-march=" + variant.replace("_", "-") in args


@pytest.mark.parametrize("kernel_id", all_kernel_ids())
def test_the_pxd_declares_every_kernel_mode_and_type(kernel_id):
    names = _pxd_functions()
    has_y = kernel_id in y_kernel_ids()
    for t, _, _ in TYPES:
        for stem in ("", "_derivative", "_backward", "_span", "_derivative_span",
                     "_backward_span"):
            assert f"{kernel_id}{stem}_{t}" in names
        for stem in ("_backward_y", "_backward_y_span"):
            assert (f"{kernel_id}{stem}_{t}" in names) == has_y


def test_the_pxd_declares_every_row_function():
    names = _pxd_functions()
    for op in ROW_OPS:
        for t, _, _ in TYPES:
            assert f"{op.name}_row_{t}" in names


# ------------------------------------------------------------ built against the package
def _checker_source() -> str:
    """A module with, per (kernel id, mode, type), a span call and a scalar loop."""
    lines = ["# cython: language_level=3, boundscheck=False, wraparound=False",
             "from fastact cimport kernels", ""]
    for kid in all_kernel_ids():
        n_params = sum(p.choices is None for p in kernel_spec(kid).params)
        params = "".join(f", <{{ct}}>p[{i}]" for i in range(n_params))
        for mode in ("forward", "derivative", "backward") + (
                ("backward_y",) if kid in y_kernel_ids() else ()):
            span, before = SPANS[mode]
            scalar = "" if mode == "forward" else "_" + mode
            scalar_args = "x[i]" if mode in ("forward", "derivative") else "g[i], x[i]"
            for t, ct, _ in TYPES:
                lines += [
                    f"def {kid}__{mode}_{t}({ct}[::1] x, {ct}[::1] g, {ct}[::1] out, "
                    f"{ct}[::1] out_scalar, tuple p):",
                    "    cdef Py_ssize_t i, n = x.shape[0]",
                    f"    kernels.{kid}_{span}_{t}(" + ", ".join(
                        f"&{a.strip()}[0]" for a in before.split(",")) + f", &out[0], n"
                    + params.format(ct=ct) + ")",
                    "    for i in range(n):",
                    f"        out_scalar[i] = kernels.{kid}{scalar}_{t}({scalar_args}"
                    + params.format(ct=ct) + ")",
                    "",
                ]
    return "\n".join(lines)


class _Build:
    """``python setup.py build_ext --inplace`` in ``directory`` against the installed
    fastact, started in the background (the builds of this file run side by side)."""

    def __init__(self, directory):
        self.directory = directory
        self.proc = subprocess.Popen([sys.executable, "setup.py", "build_ext", "--inplace"],
                                     cwd=directory, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

    def wait(self, timeout=900):
        """The directory, once the build succeeded."""
        log, _ = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, log[-6000:]
        return self.directory


_CHECKER_SETUP = textwrap.dedent("""
    import os
    from Cython.Build import cythonize
    from setuptools import Extension, setup
    import fastact
    # the flags of the backend's loaded build (its ISA: its FMA builds round float32
    # gelu's steps once; IEEE arithmetic without contraction), at -O0: a quick build
    ext = Extension("checker", ["checker.pyx"], include_dirs=[fastact.get_include()],
                    extra_compile_args=fastact.get_compile_args() + ["-O0"])
    setup(ext_modules=cythonize(
        [ext], include_path=[os.path.dirname(os.path.dirname(fastact.__file__))]))
""")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The checker module and the example, each built once, both started at once."""
    checker_dir = tmp_path_factory.mktemp("kernels_checker")
    (checker_dir / "checker.pyx").write_text(_checker_source())
    (checker_dir / "setup.py").write_text(_CHECKER_SETUP)
    example_dir = tmp_path_factory.mktemp("example") / "cython_inference"
    shutil.copytree(os.path.join(ROOT, "examples", "cython_inference"), example_dir,
                    ignore=shutil.ignore_patterns("build", "*.so", "*.c"))
    started = {"checker": _Build(checker_dir), "example": _Build(example_dir)}
    yield started
    for build in started.values():
        if build.proc.poll() is None:
            build.proc.kill()
            build.proc.communicate()


@pytest.fixture(scope="module")
def checker(builds):
    directory = str(builds["checker"].wait())
    sys.path.insert(0, directory)
    try:
        import checker as module
    finally:
        sys.path.remove(directory)
    return module


@pytest.fixture(scope="module")
def example(builds):
    """The directory of the built example."""
    return builds["example"].wait()


def _bits(a):
    return a.view(np.int32 if a.dtype == np.float32 else np.int64)


@needs_compiler
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=str)
def test_span_and_scalar_functions_have_the_backend_bits(checker, case):
    for t, _, dtype in TYPES:
        rng = np.random.default_rng(11)
        x = np.concatenate([specials(dtype), kinks(case, dtype),
                            (rng.standard_normal(200) * 8).astype(dtype)])
        g = grads_like(x, dtype)
        act = fastact.get(case.name, **case.kwargs)
        for mode in case_modes(case):
            arg = act(x, backend="cython") if mode == "backward_y" else x
            if mode == "forward":
                want = act(x, backend="cython")
            elif mode == "derivative":
                want = act.derivative(x, backend="cython")
            else:
                want = act.backward(g, **{"x" if mode == "backward" else "y": arg},
                                    backend="cython")
            out, out_scalar = np.empty_like(x), np.empty_like(x)
            getattr(checker, f"{case.kernel_id}__{mode}_{t}")(arg, g, out, out_scalar,
                                                             tuple(case.numeric))
            np.testing.assert_array_equal(_bits(out), _bits(want), err_msg=f"{mode} {t} span")
            np.testing.assert_array_equal(_bits(out_scalar), _bits(want),
                                          err_msg=f"{mode} {t} scalar")


@needs_compiler
@pytest.mark.slow
def test_the_cython_example_builds_against_the_package_and_matches(example):
    proc = subprocess.run([sys.executable, "run.py"], cwd=example, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK" in proc.stdout
