"""fastact's public functions inside users' @numba.njit code.

Every activation of the registry (each parameter set of ``tests._arrays.CASES``),
scalar and array, float32 and float64, in every mode, must give the bits of the
Numba backend; parameters are keywords with the Python API's names and defaults;
``out=`` writes in place; the softmax family works on rows; the functions can be
called inside ``prange``; the loops vectorize; registration goes through the
``numba_extensions`` entry point and compiles nothing it does not need.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

numba = pytest.importorskip("numba")
from numba import njit, prange  # noqa: E402
from numba.core.errors import TypingError  # noqa: E402

import fastact  # noqa: E402
from fastact._registry import ROW_OPS  # noqa: E402
from tests._arrays import CASES, case_modes, grads_like, kinks, specials  # noqa: E402

FLOATS = (np.float32, np.float64)


def _host_has_avx2() -> bool:
    from llvmlite import binding

    return bool(binding.get_host_cpu_features().get("avx2", False))


def bits(a):
    """The array's bits (NaN payloads and the sign of zero included)."""
    a = np.asarray(a)
    return a.view(np.int32 if a.dtype == np.float32 else np.int64)


def assert_same_bits(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(bits(got), bits(want))


def values(case, dtype):
    rng = np.random.default_rng(3)
    return np.concatenate([specials(dtype), kinks(case, dtype),
                           (rng.standard_normal(300) * 8).astype(dtype),
                           np.linspace(-30, 30, 301, dtype=dtype)])


def _compile(source: str, name: str = "run", **jit):
    """A jitted function from source text, with fastact and numpy in its globals."""
    namespace = {"fastact": fastact, "np": np, "prange": prange}
    exec(textwrap.dedent(source), namespace)  # noqa: S102 - test source generated here
    return njit(**jit)(namespace[name])


def _user_functions(case):
    """A user's functions computing every mode of ``case``: the array forms, and the
    scalar forms in a loop."""
    kw = "".join(f", {k}={v!r}" for k, v in case.params)
    name = case.name
    by_y = "fastact.backward(%r, g, y=y%s)" % (name, kw) if case.accepts_y else "x"
    arrays = [
        "def run(x, g, y):",
        f"    return (fastact.{name}(x{kw}), fastact.derivative({name!r}, x{kw}),",
        f"            fastact.backward({name!r}, g, x{kw}), {by_y})",
    ]
    scalars = [
        "def run(x, g, y):",
        "    sf, sd, sb, sby = (np.empty_like(x), np.empty_like(x), np.empty_like(x),",
        "                       np.empty_like(x))",
        "    for i in range(x.size):",
        f"        sf[i] = fastact.{name}(x[i]{kw})",
        f"        sd[i] = fastact.derivative({name!r}, x[i]{kw})",
        f"        sb[i] = fastact.backward({name!r}, g[i], x=x[i]{kw})",
    ]
    if case.accepts_y:
        scalars.append(f"        sby[i] = fastact.backward({name!r}, g[i], y=y[i]{kw})")
    scalars.append("    return sf, sd, sb, sby")
    return _compile("\n".join(arrays) + "\n"), _compile("\n".join(scalars) + "\n")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_every_activation_and_mode_has_the_backend_bits(case):
    """Scalar forms in both dtypes; array forms (the same per-element formula in a
    dtype-generic loop, see test_shapes_layouts_and_input_types) in float64, which
    halves the compile time of this registry-wide test."""
    run_arrays, run_scalars = _user_functions(case)
    for dtype in FLOATS:
        x = values(case, dtype)
        g = grads_like(x, dtype)
        y = fastact.get(case.name, **case.kwargs)(x, backend="numba")
        want = (y, fastact.derivative(case.name, x, backend="numba", **case.kwargs),
                fastact.backward(case.name, g, x, backend="numba", **case.kwargs))
        if "backward_y" in case_modes(case):
            want += (fastact.backward(case.name, g, y=y, backend="numba", **case.kwargs),)
        forms = [run_scalars(x, g, y)] + ([run_arrays(x, g, y)] if dtype == np.float64 else [])
        for got in forms:
            for k, w in enumerate(want):
                assert_same_bits(got[k], w)


def test_parameters_are_keywords_with_the_python_defaults():
    x = np.linspace(-4, 4, 33)
    run = _compile("""
    def run(x, s):
        return (fastact.leaky_relu(x), fastact.leaky_relu(x, 0.2),
                fastact.leaky_relu(x, negative_slope=s), fastact.leaky_relu(x, negative_slope=2),
                fastact.softplus(x, threshold=1.5), fastact.hardtanh(x, max_val=0.5),
                fastact.gelu(x, approximate="tanh"), fastact.linear(x),
                fastact.derivative("hard_tanh", x, min_val=-0.5))
    """)
    got = run(x, 0.3)
    nb = {"backend": "numba"}
    want = (fastact.leaky_relu(x, **nb), fastact.leaky_relu(x, 0.2, **nb),
            fastact.leaky_relu(x, 0.3, **nb), fastact.leaky_relu(x, 2.0, **nb),
            fastact.softplus(x, threshold=1.5, **nb), fastact.hardtanh(x, max_val=0.5, **nb),
            fastact.gelu(x, approximate="tanh", **nb), x,
            fastact.derivative("hardtanh", x, min_val=-0.5, **nb))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("source, error", [
    ("fastact.celu(x, alpha=0.0)", ValueError),
    ("fastact.softplus(x, beta=0.0)", ValueError),
    ("fastact.hardshrink(x, lambd=-1.0)", ValueError),
    ("fastact.leaky_relu(x, negative_slope=np.inf)", ValueError),
    ("fastact.leaky_relu(x, negative_slope=np.nan)", ValueError),
    ("fastact.backward('leaky_relu', x, y=x, negative_slope=-0.5)", ValueError),
    ("fastact.gelu(x, approximate='erf')", TypingError),
    ("fastact.derivative('nope', x)", TypingError),
    ("fastact.derivative('relu', x, alpha=1.0)", TypingError),
    ("fastact.backward('gelu', x, y=x)", TypingError),
    ("fastact.backward('relu', x)", TypingError),
    ("fastact.backward('relu', x, x, y=x)", TypingError),
    ("fastact.threshold(x)", TypingError),
    ("fastact.relu(x, out=np.empty(3, np.float32))", TypingError),
    ("fastact.relu(x, out=np.empty(4))", ValueError),
    ("fastact.relu(1.0, out=x)", TypingError),
    ("fastact.backward('relu', x[:2], x)", ValueError),
])
def test_bad_calls_fail_as_in_python(source, error):
    run = _compile(f"def run(x):\n    return {source}\n")
    with pytest.raises(error):
        run(np.linspace(-1.0, 1.0, 5))


def test_a_string_option_must_be_a_literal():
    run = _compile("def run(x, a):\n    return fastact.gelu(x, approximate=a)\n")
    with pytest.raises(TypingError, match="literal"):
        run(np.ones(3), "tanh")


@pytest.mark.parametrize("dtype", FLOATS)
def test_shapes_layouts_and_input_types(dtype):
    run = _compile("def run(x):\n    return fastact.silu(x)\n")
    base = np.linspace(-9, 9, 60).astype(dtype)
    for x in (base.reshape(3, 4, 5), base.reshape(6, 10).T, base[::-3], base[:0],
              np.asarray(base[7])):
        assert_same_bits(run(x), fastact.silu(x.copy(order="C"), backend="numba"))
    ints = np.arange(-5, 5)
    np.testing.assert_array_equal(run(ints), fastact.silu(ints, backend="numba"))
    assert run(np.float32(1.5)) == fastact.silu(np.float32(1.5), backend="numba")
    assert run(3) == fastact.silu(3.0, backend="numba")


@pytest.mark.parametrize("dtype", FLOATS)
def test_out_in_place_strided_and_overlapping(dtype):
    run = _compile("def run(x, o):\n    return fastact.tanh(x, out=o)\n")
    x = np.linspace(-5, 5, 41).astype(dtype)
    want = fastact.tanh(x, backend="numba")
    inplace = x.copy()
    assert run(inplace, inplace) is not None
    assert_same_bits(inplace, want)
    wide = np.zeros(82, dtype)
    run(x, wide[::2])
    assert_same_bits(wide[::2], want)
    assert not wide[1::2].any()
    shifted = np.concatenate([x, [dtype(0)]])
    run(shifted[:-1], shifted[1:])  # out overlaps x, one element on
    assert_same_bits(shifted[1:], want)
    rows = np.zeros((3, 41), dtype)
    run(x, rows[1])
    assert_same_bits(rows[1], want)
    assert not rows[0].any() and not rows[2].any()


# ------------------------------------------------------------------ softmax family
def _rows(dtype):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((9, 37)) * 6).astype(dtype)
    x[1, 3] = np.inf
    x[2, 5] = np.nan
    x[3] = -np.inf
    x[4, ::2] = -np.inf
    x[5] = 0.0
    return x


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", [op.name for op in ROW_OPS])
def test_softmax_family_rows_have_the_backend_bits(op, dtype):
    fn = getattr(fastact, op)
    x = _rows(dtype)
    backward = op.endswith("_backward")
    if backward:
        y = (fastact.softmax if op == "softmax_backward" else fastact.log_softmax)(x)
        args, call = (grads_like(x, dtype), y), f"fastact.{op}(a, b)"
        call1 = f"fastact.{op}(a[0], b[0], axis=-1)"
    else:
        args, call, call1 = (x, x), f"fastact.{op}(a, axis=1)", f"fastact.{op}(a[0], axis=0)"
    run = _compile(f"def run(a, b):\n    return {call}, {call1}\n")
    two, one = run(*args)
    want = fn(*args, backend="numba") if backward else fn(x, axis=1, backend="numba")
    assert_same_bits(two, want)
    assert_same_bits(np.asarray(one, dtype), want[0])  # 1-D logsumexp: a scalar


def test_softmax_family_keywords_out_and_axis_rules():
    x = _rows(np.float64)
    run = _compile("""
    def run(x, o):
        fastact.log_softmax(x, out=o)
        return fastact.logsumexp(x, keepdims=True), fastact.logsumexp(x[0], axis=None)
    """)
    out = np.empty_like(x)
    keep, scalar = run(x, out)
    np.testing.assert_array_equal(out, fastact.log_softmax(x, backend="numba"))
    np.testing.assert_array_equal(keep, fastact.logsumexp(x, keepdims=True, backend="numba"))
    assert scalar == fastact.logsumexp(x[0], backend="numba")
    for source, error in (("fastact.softmax(x, axis=0)", ValueError),
                          ("fastact.softmax(x, where=x > 0)", TypingError),
                          ("fastact.softmax(x.reshape(1, 3, -1))", TypingError),
                          ("fastact.softmax(x, axis=None)", TypingError)):
        with pytest.raises(error):
            _compile(f"def run(x):\n    return {source}\n")(x)


# ------------------------------------------------------------------ parallel, vector code
def test_calls_inside_prange_match_the_backend():
    run = _compile("""
    def run(x):
        h = np.empty_like(x)
        p = np.empty_like(x)
        for i in prange(x.shape[0]):
            fastact.gelu(x[i], out=h[i])
            p[i] = fastact.softmax(fastact.silu(x[i]))
        return h, p
    """, parallel=True)
    x = np.random.default_rng(1).standard_normal((64, 200)).astype(np.float32)
    h, p = run(x)
    assert_same_bits(h, fastact.gelu(x, backend="numba"))
    assert_same_bits(p, fastact.softmax(fastact.silu(x, backend="numba"), backend="numba"))


# packed arithmetic on 256- or 512-bit registers: only a vectorized loop has them
# (a scalar formula, inlined or called, uses scalar instructions on xmm registers)
PACKED_OP = re.compile(r"\bv(?:add|sub|mul|div|max|min|fmadd\w*|fnmadd\w*|fmsub\w*)p[sd]\s.*%[yz]mm")


def _packed_ops(run) -> int:
    return len(PACKED_OP.findall(run.inspect_asm(run.signatures[0])))


@pytest.mark.skipif(not _host_has_avx2(), reason="no 256-bit vectors on this CPU")
@pytest.mark.parametrize("dtype", FLOATS)
def test_the_scalar_form_in_a_user_loop_vectorizes(dtype):
    # one loop, two formulas: it vectorizes only if both calls are inlined
    run = _compile("""
    def run(x, o):
        for i in range(x.size):
            o[i] = fastact.gelu(x[i]) + fastact.sigmoid(x[i])
    """)
    x = np.linspace(-5, 5, 64).astype(dtype)
    o = np.empty_like(x)
    run(x, o)
    assert_same_bits(o, fastact.gelu(x, backend="numba") + fastact.sigmoid(x, backend="numba"))
    assert _packed_ops(run) >= 8


@pytest.mark.skipif(not _host_has_avx2(), reason="no 256-bit vectors on this CPU")
def test_a_run_time_parameter_check_leaves_the_loop_vectorized():
    run = _compile("""
    def run(x, o, slope):
        for i in range(x.size):
            o[i] = fastact.leaky_relu(x[i], negative_slope=slope)
    """)
    x = np.linspace(-5, 5, 64).astype(np.float32)
    o = np.empty_like(x)
    run(x, o, 0.2)
    assert_same_bits(o, fastact.leaky_relu(x, negative_slope=0.2, backend="numba"))
    assert _packed_ops(run) >= 2
    with pytest.raises(ValueError, match="negative_slope must be finite"):
        run(x, o, np.inf)


def test_registered_through_the_entry_point_compiling_only_what_is_used(tmp_path):
    code = """
        import sys, numpy as np, numba, fastact
        from importlib.metadata import entry_points
        (ep,) = [e for e in entry_points().select(group="numba_extensions", name="init")
                 if e.value.startswith("fastact")]
        @numba.njit
        def layer(x):
            return fastact.relu(x)
        print("OK", layer(np.array([-1.0, 2.0])).tolist())
        print("GENERATED", sorted(m for m in sys.modules if "_generated_" in m))
        print("CYTHON", "fastact._kernels" in sys.modules)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300,
                          env=dict(os.environ, FASTACT_CACHE_DIR=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert "OK [0.0, 2.0]" in proc.stdout
    assert "GENERATED []" in proc.stdout  # no backend kernel compiled
    assert "CYTHON False" in proc.stdout


@pytest.mark.slow
def test_the_numba_mlp_example_matches_the_numpy_api(tmp_path):
    example = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "examples", "numba_mlp.py")
    proc = subprocess.run([sys.executable, example], capture_output=True, text=True,
                          timeout=900, env=dict(os.environ, FASTACT_CACHE_DIR=str(tmp_path)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: compiled step = NumPy API step" in proc.stdout
