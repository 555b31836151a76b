"""fastact.ufuncs: genuine numpy.ufunc objects, equal bit for bit to the public functions."""
import numpy as np
import pytest

import fastact
from fastact._registry import ACTIVATIONS, all_kernel_ids, gated_ufunc_units
from tests._arrays import CASES, FLOATS, kinks

pytest.importorskip("fastact._kernels")
ufuncs = fastact.ufuncs

UFUNC_MODES = ("forward", "derivative", "backward")


def _ufunc(case, mode):
    suffix = "" if mode == "forward" else "_" + mode
    return getattr(ufuncs, case.kernel_id + suffix)


def _api(case, mode, x, grad):
    if mode == "forward":
        return getattr(fastact, case.name)(x, **case.kwargs, backend="cython")
    if mode == "derivative":
        return fastact.derivative(case.name, x, **case.kwargs, backend="cython")
    return fastact.backward(case.name, grad, x, **case.kwargs, backend="cython")


def _call(case, mode, x, grad, params=None, **kw):
    params = case.numeric if params is None else params
    operands = ([grad] if mode == "backward" else []) + [x]
    return _ufunc(case, mode)(*operands, *params, **kw)


def _bits_equal(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
        a.view(np.uint8), b.view(np.uint8))


def _inputs(case, dtype, n=3000):
    rng = np.random.default_rng(0)
    x = np.concatenate([kinks(case, dtype), rng.standard_normal(n).astype(dtype) * 8,
                        np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype)])
    return x, rng.standard_normal(x.size).astype(dtype)


# ------------------------------------------------------------------- identity
def test_every_kernel_id_has_three_ufuncs():
    for kid in all_kernel_ids():
        for name in (kid, kid + "_derivative", kid + "_backward"):
            u = getattr(ufuncs, name)
            assert isinstance(u, np.ufunc) and u.__name__ == name and u.nout == 1
    assert len(ufuncs.__all__) == 5 * len(all_kernel_ids()) + len(gated_ufunc_units())  # + _bias[_backward]


@pytest.mark.parametrize("entry", ACTIVATIONS, ids=lambda e: e.name)
def test_nin_and_types(entry):
    n_params = sum(p.choices is None for p in entry.params)
    for kid in entry.kernel_ids():
        for suffix, extra in (("", 0), ("_derivative", 0), ("_backward", 1)):
            u = getattr(ufuncs, kid + suffix)
            nargs = 1 + n_params + extra
            assert u.nin == nargs
            assert u.types == ["f" * nargs + "->f", "d" * nargs + "->d"]
            assert entry.formula in u.__doc__


def test_choice_becomes_its_own_ufunc():
    x = np.linspace(-3, 3, 101)
    assert _bits_equal(ufuncs.gelu_tanh(x), fastact.gelu(x, approximate="tanh"))
    assert "approximate='tanh'" in ufuncs.gelu_tanh.__doc__


def test_lazy_import():
    from tests.test_api import _python

    r = _python("import sys, fastact; a = 'fastact.ufuncs' in sys.modules; "
                "u = fastact.ufuncs.relu; print(a, 'fastact.ufuncs' in sys.modules)")
    assert r.stdout.split() == ["False", "True"], r.stderr


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_values_equal_the_public_functions(case, dtype):
    x, g = _inputs(case, dtype)
    for mode in UFUNC_MODES:
        want = _api(case, mode, x, g)
        assert _bits_equal(_call(case, mode, x, g), want), mode  # contiguous span
        assert _bits_equal(_call(case, mode, x[::-1], g[::-1]), want[::-1]), mode  # strided
        per_element = [np.full(x.shape, p, dtype) for p in case.numeric]
        assert _bits_equal(_call(case, mode, x, g, per_element), want), mode  # params read per element


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_threaded_span_equals_serial(dtype):
    x = np.random.default_rng(1).standard_normal(200_000).astype(dtype)
    with fastact.threads(1):
        serial = ufuncs.gelu(x)
    with fastact.threads(2):
        assert _bits_equal(ufuncs.gelu(x), serial)
    assert _bits_equal(serial, fastact.gelu(x, backend="cython"))


# ------------------------------------------------------------------ ufunc machinery
def test_parameter_broadcasts_per_channel():
    x = np.random.default_rng(2).standard_normal((4, 3, 5)).astype(np.float32)
    slope = np.array([0.1, 0.2, 0.3], np.float32)[:, None]
    got = ufuncs.leaky_relu(x, slope)
    want = np.stack([fastact.leaky_relu(x[:, c], float(slope[c, 0])) for c in range(3)], axis=1)
    assert got.dtype == np.float32 and _bits_equal(got, want)
    grad = np.ones_like(x)
    assert _bits_equal(ufuncs.leaky_relu_backward(grad, x, slope),
                       np.where(x > 0, 1, slope).astype(np.float32))


def test_where_out_outer():
    x = np.linspace(-2, 2, 9)
    out = np.full_like(x, 7.0)
    ufuncs.relu(x, out=out, where=x > 0.5)
    assert np.array_equal(out, np.where(x > 0.5, x, 7.0))
    outer = ufuncs.leaky_relu.outer(x, [0.1, 0.5])
    assert outer.shape == (9, 2) and outer[0, 1] == -1.0


@pytest.mark.parametrize("dtype, loop", [(np.float16, np.float32), (np.int16, np.float32),
                                         (np.int64, np.float64), (np.bool_, np.float32)])
def test_casting_from_other_types(dtype, loop):
    x = np.arange(-3, 4).astype(dtype)
    got = ufuncs.silu(x)
    assert got.dtype == loop
    assert _bits_equal(got, fastact.silu(x.astype(loop)))
    big = np.arange(-20000, 20000).astype(dtype)  # buffered chunks: serial, same bits
    assert _bits_equal(ufuncs.silu(big), fastact.silu(big.astype(loop)))


def test_no_floating_point_warnings():
    with np.errstate(all="raise"):
        ufuncs.gelu(np.array([0.0, -np.inf, np.inf, np.nan, 1e300]))
        ufuncs.logsigmoid(np.array([-1e4, 0.0, 1e4], np.float32))
