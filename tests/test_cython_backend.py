"""Checks specific to the "cython" backend (fastact/_kernels.pyx, fastact/_cython.py).

* the hot loops are vectorized (objdump of the loaded extension: packed
  arithmetic on the widest registers its ISA level has, for every kernel id);
* config()/show_config() report OpenMP, the vector ISA and the flags;
* n_threads is honoured (the OpenMP team size), results are bitwise identical
  for any thread count, 8 Python threads agree with a serial run, the GIL is
  released during a kernel;
* a child fork()ed after parallel kernels computes correctly and does not hang;
* without the compiled extension `import fastact` works and "cython" is
  omitted from backends() with the reason.

Everything iterates over the registry (all_kernel_ids / kernel_modes).
"""
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastact
from fastact import _backends
from fastact._registry import all_kernel_ids, gated_kernel_ids, kernel_modes, kernel_params_for

from tests._arrays import at_line_offset
from tests._oracle import derivative_bad, describe, exact_ulp_bad
from tests._subprocess import (assert_same_bits_on_isa_variants, results_on_isa_variants,
                              run_python)

if "cython" not in fastact.backends():
    pytest.skip(f"cython backend unavailable: {_backends.unavailable().get('cython')}",
                allow_module_level=True)

from fastact import _cython  # noqa: E402

K = _cython._module
N_BIG = 200_003  # above the parallel threshold, not a multiple of anything


def _inputs(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    x[::97] = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -3.0, 3.0, 6.0, 20.5],
                       dtype)[np.arange(x[::97].size) % 10]
    g = rng.standard_normal(n).astype(dtype)
    return x, g


def _run(kernel_id, mode, x, g, n_threads):
    out = np.empty_like(x)
    _cython.get_elementwise(kernel_id, mode)(out, x, g if "backward" in mode else None,
                                             kernel_params_for(kernel_id), n_threads)
    return out


# ------------------------------------------------------------------ config
def test_config_reports_openmp_isa_and_flags():
    cfg = _cython.config()
    assert isinstance(cfg["openmp"], bool)
    assert cfg["isa"] in ("avx512f", "avx2", "avx", "sse2", "neon", "generic")
    assert cfg["variant"] in ("baseline", "x86_64_v3", "x86_64_v4")
    assert "-O3" in cfg["cflags"] or "/O2" in cfg["cflags"]
    assert "-ffast-math" not in cfg["cflags"]
    assert cfg["kernels"] == len(all_kernel_ids())
    if os.environ.get("FASTACT_DISABLE_OPENMP", "") in ("", "0") and sys.platform == "linux":
        assert cfg["openmp"], "gcc on Linux has OpenMP: the build should have found it"
    import io

    buf = io.StringIO()
    fastact.show_config(file=buf)
    assert "openmp=" in buf.getvalue() and "isa=" in buf.getvalue()


def test_best_variant_for_this_cpu_is_loaded():
    if os.environ.get("FASTACT_CYTHON_ISA"):
        pytest.skip("variant forced by FASTACT_CYTHON_ISA")
    flags = _cython._cpu_flags()
    expected = "baseline"
    for level in ("x86_64_v3", "x86_64_v4"):
        if _cython._variant_path(level) and _cython._supports(level, flags):
            expected = level
    assert _cython.config()["variant"] == expected


# ----------------------------------------------------------- vectorization
def _function_bodies(path):
    """{symbol: disassembly text} for the generated loop functions of the .so."""
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], capture_output=True,
                          text=True, check=True, timeout=300).stdout
    bodies = {}
    for block in text.split("\n\n"):
        m = re.match(r"[0-9a-f]+ <(.*)>:", block.strip())
        if m:
            bodies[m.group(1)] = block
    return bodies


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs binutils' objdump")
def test_hot_loops_are_vectorized():
    """Every generated loop (kernel id x mode x dtype, and each gated unit's forward and
    backward) contains packed arithmetic on the widest vector registers of the build's ISA
    level (xmm for SSE2) and calls no formula or libm function."""
    bodies = _function_bodies(K.__file__)
    reg = {"avx512f": "zmm|ymm", "avx2": "ymm", "avx": "ymm"}.get(K.build_info()["isa"], "xmm")
    packed = re.compile(r"\bv?(mul|add|sub|div|max|min|fmadd\d+|cmp\w*|blendv|and|or)p[sd]\b"
                        r"[^\n]*%(" + reg + r")")
    # a formula GCC left out of line (or a libm call) makes the loop scalar around the call
    scalar_call = re.compile(r"call\w*\s+\S+\s+<(?!__pyx_f_7fastact_8_kernels__(run|run_with|gated_run)\b)"
                             r"(__pyx_f_|(exp|log|erf|tanh|pow)\w*@plt)")
    missing = []
    for kid in all_kernel_ids():
        for mode in kernel_modes(kid):
            for ct in ("f32", "f64"):
                name = f"_{kid}_{mode}_{ct}"
                syms = [s for s in bodies if re.search(rf"__pyx_f_\w*{re.escape(name)}\b", s)
                        or s.endswith(name)]
                text = "".join(bodies[s] for s in syms)
                moved = kid == "identity" and re.search(r"v?mov\w*[^\n]*%(" + reg + ")|memmove|memcpy", text)
                if not syms or not (packed.search(text) or moved) or scalar_call.search(text):
                    missing.append(name)
    for kid in gated_kernel_ids():
        for mode in ("forward", "backward"):
            for ct in ("f32", "f64"):
                name = f"_{kid}_gated_{mode}_{ct}"
                text = "".join(b for s, b in bodies.items() if s.endswith("_kernels_" + name))
                if not packed.search(text) or scalar_call.search(text):
                    missing.append(name)
    assert not missing, f"loops without packed {reg} arithmetic, or with a scalar call: {missing}"


# float32 loops that compute in double on purpose: softsign' = 1/(1 + |x|)^2 with 1 + |x| exact
FLOAT64_DETOURS = {("softsign", "derivative"), ("softsign", "backward")}


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs binutils' objdump")
def test_float32_loops_stay_in_float():
    """The float32 loops (but FLOAT64_DETOURS) convert no lane to double: a bare Cython
    literal is a C double and silently moves float32 arithmetic to half-width double
    vectors, and the conversions cost more than a float pair (selu's scale) does."""
    bodies = _function_bodies(K.__file__)
    convert = re.compile(r"\bv?cvt(ps2pd|pd2ps|ss2sd|sd2ss)\b")
    widened = []
    for kid in all_kernel_ids():
        for mode in kernel_modes(kid):
            if (kid, mode) not in FLOAT64_DETOURS:
                name = f"_{kid}_{mode}_f32"
                text = "".join(b for s, b in bodies.items() if s.endswith("_kernels_" + name))
                if convert.search(text):
                    widened.append(name)
    assert not widened, f"float32 loops computing in double: {widened}"


# ---------------------------------------------------------------- threads
def test_n_threads_is_honoured():
    if not _cython.config()["openmp"]:
        pytest.skip("built without OpenMP")
    for n in (1, 2, 3):
        assert K._probe_threads(n) == n


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_identical_for_any_thread_count(dtype):
    x, g = _inputs(N_BIG, dtype)
    for kid in all_kernel_ids():
        for mode in kernel_modes(kid):
            ref = _run(kid, mode, x, g, 1)
            for n in (2, 3, 5):
                got = _run(kid, mode, x, g, n)
                assert ref.tobytes() == got.tobytes(), f"{kid} {mode} {dtype.__name__} n={n}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bits_do_not_depend_on_where_x_sits_in_a_line(dtype):
    """The driver runs x's first partial line as a call of its own and starts every chunk on
    a line of x: the same bits at every offset, serially and in chunks, for every kernel."""
    x, g = _inputs(N_BIG, dtype, seed=7)
    per_line = 64 // x.itemsize
    for kid in all_kernel_ids():
        for mode in kernel_modes(kid):
            ref = _run(kid, mode, at_line_offset(x, 0), at_line_offset(g, 0), 1)
            for shift, n_threads in ((1, 1), (per_line - 1, 1), (3, 2), (per_line // 2, 3)):
                got = _run(kid, mode, at_line_offset(x, shift), at_line_offset(g, shift),
                           n_threads)
                assert got.tobytes() == ref.tobytes(), (kid, mode, shift, n_threads)


def test_serial_and_parallel_paths_agree_with_small_arrays():
    """Below the threshold (serial loop) and above it: same bits per element."""
    x, g = _inputs(N_BIG, np.float64, seed=3)
    for kid in all_kernel_ids():
        whole = _run(kid, "forward", x, g, 2)
        part = _run(kid, "forward", x[:1001].copy(), g[:1001].copy(), 2)
        assert whole[:1001].tobytes() == part.tobytes(), kid


def test_eight_python_threads_agree_with_serial():
    x, g = _inputs(N_BIG, np.float32, seed=5)
    kids = all_kernel_ids()
    expected = {k: _run(k, "backward", x, g, 1) for k in kids}
    errors = []

    def worker(i):
        try:
            for j in range(len(kids)):
                k = kids[(i + j) % len(kids)]
                out = _run(k, "backward", x, g, 2)
                if out.tobytes() != expected[k].tobytes():
                    errors.append((i, k))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append((i, repr(exc)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors[:5]


def test_gil_released_during_a_kernel():
    """While a long kernel runs in one thread, another Python thread keeps running:
    its longest pause stays far below the kernel's duration.  A kernel holding the
    GIL fails every attempt; a machine busy with other work may fail one, so the
    best of three attempts is judged."""
    x = np.linspace(-10, 10, 6_000_000)
    out = np.empty_like(x)
    kernel = _cython.get_elementwise("gelu", "backward")
    t0 = time.perf_counter()
    kernel(out, x, x, (), 1)
    duration = time.perf_counter() - t0

    def longest_pause():
        done = threading.Event()

        def run():
            for _ in range(3):
                kernel(out, x, x, (), 1)
            done.set()

        worker = threading.Thread(target=run)
        last = time.perf_counter()
        worst = 0.0
        worker.start()
        while not done.is_set():
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now
        worker.join()
        return worst

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        best = float("inf")
        for _ in range(3):
            best = min(best, longest_pause())
            if best < 0.5 * duration:
                break
    finally:
        sys.setswitchinterval(old)
    assert best < 0.5 * duration, f"main thread paused {best:.3f}s; kernel takes {duration:.3f}s"


# ------------------------------------------------------------------- fork
def _run_subprocess(code, timeout=240, env=None, cwd=None):
    return run_python(code, timeout=timeout, env=env, cwd=cwd)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_after_parallel_kernels_does_not_hang():
    code = """
    import os, sys, numpy as np, fastact
    from fastact import _cython
    fastact.set_num_threads(2)
    x = np.linspace(-8, 8, 2_000_003)
    want = {k: fastact.get(k.replace("gelu_tanh", "gelu"), **({"approximate": "tanh"} if k == "gelu_tanh" else {})).forward(x, backend="cython")
            for k in ("sigmoid", "gelu", "gelu_tanh", "silu")}
    assert _cython._module._probe_threads(2) == 2 or not _cython.config()["openmp"]
    for round in range(2):
        pid = os.fork()
        if pid == 0:
            try:
                ok = all(np.array_equal(fastact.get(k.replace("gelu_tanh", "gelu"), **({"approximate": "tanh"} if k == "gelu_tanh" else {})).forward(x, backend="cython"), v)
                         for k, v in want.items())
                ok = ok and _cython._module._probe_threads(2) == 1   # the child runs serially
                os._exit(0 if ok else 3)
            except BaseException:
                os._exit(4)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        fastact.sigmoid(x, backend="cython")   # the parent keeps its threads
    print("ok")
    """
    rc, out, err = _run_subprocess(code)
    assert rc == 0 and "ok" in out, err[-3000:]


@pytest.mark.skipif(sys.platform == "win32", reason="fork-based multiprocessing")
def test_multiprocessing_fork_pool_after_parallel_kernels():
    code = """
    import multiprocessing as mp, numpy as np, fastact
    fastact.set_num_threads(2)
    x = np.linspace(-8, 8, 1_000_003)
    want = fastact.gelu(x, backend="cython")
    def work(i):
        return float(np.abs(fastact.gelu(x, backend="cython") - want).max())
    with mp.get_context("fork").Pool(2) as pool:
        print(max(pool.map(work, range(4))))
    """
    rc, out, err = _run_subprocess(code)
    assert rc == 0 and out.strip() == "0.0", err[-3000:]


# ------------------------------------------------ missing compiled extension
def test_without_the_extension_fastact_still_imports(tmp_path):
    """A copy of the package without any compiled file: cython is omitted, with the reason."""
    src = os.path.dirname(fastact.__file__)
    dst = tmp_path / "fastact"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.so", "*.pyd", "_isa", "*.c",
                                                             "__pycache__"))
    code = """
    import sys
    # an editable install maps fastact's modules to the source tree: drop its finder
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()
                        and "editable" not in getattr(f, "__name__", "").lower()]
    import numpy as np, fastact
    from fastact import _backends
    assert fastact.__file__.startswith(%r), fastact.__file__
    assert "cython" not in fastact.backends(), fastact.backends()
    reason = _backends.unavailable()["cython"]
    assert "pip install -e ." in reason and "build_ext" not in reason, reason
    try:
        fastact.relu(np.ones(3), backend="cython")
    except RuntimeError as exc:
        assert "not available" in str(exc) and "pip install -e ." in str(exc), exc
    else:
        raise AssertionError("asking for cython should fail")
    assert fastact.relu(np.array([-1.0, 2.0])).tolist() == [0.0, 2.0]
    print("ok")
    """ % str(tmp_path)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tmp_path)
    rc, out, err = _run_subprocess(code, env=env, cwd=str(tmp_path))
    assert rc == 0 and "ok" in out, err[-3000:]


# ------------------------------------------------------------ bad calls
def test_kernel_rejects_bad_arrays_instead_of_crashing():
    k = _cython.get_elementwise("relu", "forward")
    x = np.ones(10)
    with pytest.raises(ValueError):
        k(np.empty(5), x, None, (), 1)
    with pytest.raises(ValueError):
        k(np.empty(10, np.float32), x, None, (), 1)
    with pytest.raises(TypeError):
        k(np.empty(10, np.int64), np.ones(10, np.int64), None, (), 1)
    with pytest.raises(TypeError):
        _cython.get_elementwise("relu", "backward")(np.empty(10), x, None, (), 1)
    with pytest.raises(KeyError):
        _cython.get_elementwise("no_such_kernel", "forward")
    with pytest.raises(KeyError):
        _cython.get_elementwise("gelu", "backward_y")


def test_gelu_on_every_isa_variant(tmp_path, oracle):
    """gelu (Phi) uses FMA where the build has it: the FMA builds (x86-64-v3 and v4) give the
    same float64 bits (float32: the AVX-512 build takes R(y) from its interval table, the
    others from the near and far polynomials), and every build (the SSE2 baseline included)
    keeps 4 ULP against mpmath on the lower tail down to underflow and on the upper side
    (forward, derivative, backward)."""
    x = np.concatenate([np.linspace(-14.0, -0.25, 551), np.linspace(0.25, 6.0, 116)])
    np.save(tmp_path / "x.npy", x)
    code = f"""
        import numpy as np, fastact
        out = {{}}
        for dt in ("float32", "float64"):
            x = np.load(r"{tmp_path}/x.npy").astype(dt)
            out["forward " + dt] = fastact.gelu(x, backend="cython")
            out["derivative " + dt] = fastact.derivative("gelu", x, backend="cython")
            out["backward " + dt] = fastact.backward("gelu", np.ones_like(x), x, backend="cython")
        np.savez(r"{tmp_path}/" + fastact.config()["backends"]["cython"]["variant"] + ".npz", **out)
    """
    results = results_on_isa_variants(code, tmp_path, baseline=True)
    assert "baseline" in results
    fma_builds = [v for v in ("x86_64_v3", "x86_64_v4") if v in results]
    for key in [k for k in results[fma_builds[0]].files if k.endswith("float64")] if fma_builds else ():
        for v in fma_builds[1:]:
            assert np.array_equal(results[fma_builds[0]][key], results[v][key]), key
    keep = np.abs(x) >= 1.5  # gelu' has a zero at -0.75: no ULP bar near it
    for dt in (np.float32, np.float64):
        xd = x.astype(dt)
        exact = {"forward": oracle.points("gelu", {}, xd, "forward"),
                 "derivative": oracle.points("gelu", {}, xd[keep], "derivative")}
        for v, arrays in results.items():
            for mode in ("forward", "derivative", "backward"):
                got = arrays[f"{mode} {np.dtype(dt).name}"]
                xs, want = (xd, exact["forward"]) if mode == "forward" else (xd[keep], exact["derivative"])
                got = got if mode == "forward" else got[keep]
                bad = exact_ulp_bad(got, want, dt, 4)
                assert not bad.any(), f"{v} {mode} {np.dtype(dt).name}\n" + describe(xs, got, want[0], bad)


# the activations whose C math rounds with FMA in the FMA builds (gelu: the test above)
FMA_MATH_CASES = (("sigmoid", {}), ("silu", {}), ("swish", {"beta": 1.75}), ("softplus", {}),
                  ("logsigmoid", {}), ("mish", {}), ("tanh", {}), ("tanhshrink", {}),
                  ("elu", {}), ("selu", {}), ("celu", {"alpha": 0.5}), ("gelu", {"approximate": "tanh"}))


def test_fma_math_within_bars_on_every_isa_variant(tmp_path, oracle):
    """The exp/expm1/log1p cores and polynomials round a*b + c once in the FMA builds and twice in
    the SSE2 baseline: the FMA builds give the same bits, and every build keeps 4 ULP against
    mpmath (forward, both tails) and the derivative bar, for each activation built on them."""
    x = np.concatenate([-np.geomspace(1e-3, 110.0, 90), np.geomspace(1e-3, 40.0, 70)])
    np.save(tmp_path / "x.npy", x)
    code = f"""
        import numpy as np, fastact
        cases = {FMA_MATH_CASES!r}
        out = {{}}
        for dt in ("float32", "float64"):
            x = np.load(r"{tmp_path}/x.npy").astype(dt)
            for name, kw in cases:
                out[f"forward {{name}} {{dt}}"] = fastact.get(name, **kw).forward(x, backend="cython")
                out[f"derivative {{name}} {{dt}}"] = fastact.derivative(name, x, backend="cython", **kw)
        np.savez(r"{tmp_path}/" + fastact.config()["backends"]["cython"]["variant"] + ".npz", **out)
    """
    results = results_on_isa_variants(code, tmp_path, baseline=True)
    fma_builds = [v for v in ("x86_64_v3", "x86_64_v4") if v in results]
    for key in results[fma_builds[0]].files if len(fma_builds) == 2 else ():
        assert np.array_equal(results["x86_64_v3"][key], results["x86_64_v4"][key]), key
    for dt in (np.float32, np.float64):
        xd = x.astype(dt)
        for name, kw in FMA_MATH_CASES:
            exact = oracle.points(name, kw, xd, "forward")
            true_d = oracle.points(name, kw, xd, "derivative")
            for v, arrays in results.items():
                got = arrays[f"forward {name} {np.dtype(dt).name}"]
                bad = exact_ulp_bad(got, exact, dt, 4)
                assert not bad.any(), f"{v} {name} {np.dtype(dt).name}\n" + describe(xd, got, exact[0], bad)
                got = arrays[f"derivative {name} {np.dtype(dt).name}"]
                bad = derivative_bad(got, true_d[0] + true_d[1], dt)
                assert not bad.any(), f"{v} {name}' {np.dtype(dt).name}\n" + describe(xd, got, true_d[0], bad)


def test_softmax_family_same_bits_on_every_isa_variant(tmp_path):
    """The softmax family's AVX-512 loops (fused exp and block sum, masked tails, the
    wave's fused next-row max, short rows in registers) and large-array paths give the bits of the other ISA
    builds: each variant computes the same inputs in its own interpreter
    (FASTACT_CYTHON_ISA), rows with tails, specials and 9 MiB arrays."""
    code = f"""
        import numpy as np, fastact
        rng = np.random.default_rng(5)
        out = {{}}
        for dt in (np.float32, np.float64):
            small = (rng.standard_normal((5, 2047)) * 30).astype(dt)
            small[1, 7] = -np.inf; small[2, :] = -1e30; small[3, 100] = np.nan
            wide = (rng.standard_normal(((9 << 20) // np.dtype(dt).itemsize // 1000, 1000)) * 5).astype(dt)
            waved = (rng.standard_normal(((9 << 20) // np.dtype(dt).itemsize // 3000, 3000)) * 5).astype(dt)
            waved[3, 2999] = 40; waved[4, :] = -np.inf; waved[5, 10] = np.nan; waved[6, 2050] = np.inf
            short = (rng.standard_normal((300, 37)) * 30).astype(dt)
            short[1, 7] = -np.inf; short[2, :] = -np.inf; short[3, 10] = np.nan
            short[4, 0] = -np.nan; short[5, 36] = np.inf
            for name, x in (("small", small), ("wide", wide), ("waved", waved),
                            ("short", short), ("short64", short[:, :32].repeat(2, 1)),
                            ("long", small.reshape(1, -1))):
                for op in ("softmax", "softmin", "log_softmax", "logsumexp"):
                    out[f"{{op}} {{name}} {{np.dtype(dt).name}}"] = getattr(fastact, op)(x, backend="cython")
        np.savez(r"{tmp_path}/" + fastact.config()["backends"]["cython"]["variant"] + ".npz", **out)
    """
    assert_same_bits_on_isa_variants(code, tmp_path)


def test_sigmoid_family_same_bits_on_every_isa_variant(tmp_path):
    """The sigmoid family's shared exponential (FMA in both FMA builds; swish's beta x split
    exactly by FMA) gives the same bits in the x86-64-v3 and v4 builds: forward, derivative
    and backward, specials, both underflow tails, huge x with small beta."""
    code = f"""
        import numpy as np, fastact
        rng = np.random.default_rng(6)
        out = {{}}
        for dt in (np.float32, np.float64):
            x = np.concatenate([rng.uniform(-800, 100, 4001), rng.standard_normal(4001) * 4,
                                [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e30, -1e30,
                                 3e38, -3e38, -87.5, -103.9, -745.1, -708.3]]).astype(dt)
            g = rng.standard_normal(x.size).astype(dt)
            for name, kw in (("sigmoid", {{}}), ("silu", {{}}), ("swish", {{"beta": -0.3}}),
                             ("softplus", {{}}), ("softplus", {{"beta": 2.0, "threshold": 5.0}}),
                             ("logsigmoid", {{}})):
                key = f"{{name}} {{kw}} {{np.dtype(dt).name}}"
                out["f " + key] = fastact.get(name, **kw).forward(x, backend="cython")
                out["b " + key] = fastact.backward(name, g, x, backend="cython", **kw)
        np.savez(r"{tmp_path}/" + fastact.config()["backends"]["cython"]["variant"] + ".npz", **out)
    """
    assert_same_bits_on_isa_variants(code, tmp_path)
