"""fastact.ufuncs' gated units (glu, swiglu, geglu, geglu_tanh, reglu): two-input ufuncs,
equal bit for bit to the public two-array functions of the Cython backend."""
import numpy as np
import pytest

import fastact
from fastact._registry import GATED_BY_NAME, gated_ufunc_units

pytest.importorskip("fastact._kernels")
ufuncs = fastact.ufuncs
UNITS = gated_ufunc_units()
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 1e30, -1e30, 1.0]


def _api(name, first, second):
    kw = {"approximate": "tanh"} if name.endswith("_tanh") else {}
    return getattr(fastact, name.split("_")[0])(first, second, **kw, backend="cython")


def _bits_equal(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
        a.view(np.uint8), b.view(np.uint8))


def _operands(dtype, n=2000):
    """Every pair of special values, then random pairs (gate values over the tails)."""
    rng = np.random.default_rng(3)
    s = np.array(SPECIALS)
    first = np.concatenate([np.repeat(s, s.size), rng.standard_normal(n) * 8]).astype(dtype)
    second = np.concatenate([np.tile(s, s.size), rng.standard_normal(n) * 8]).astype(dtype)
    return first, second


@pytest.mark.parametrize("name, kernel_id, gate_half", UNITS, ids=[u[0] for u in UNITS])
def test_identity(name, kernel_id, gate_half):
    u = getattr(ufuncs, name)
    assert isinstance(u, np.ufunc) and u.__name__ == name
    assert (u.nin, u.nout) == (2, 1)
    assert u.types == ["ff->f", "dd->d"]
    assert GATED_BY_NAME[name.split("_")[0]].formula in u.__doc__


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", [u[0] for u in UNITS])
def test_values_equal_the_public_functions(name, dtype):
    first, second = _operands(dtype)
    u = getattr(ufuncs, name)
    want = _api(name, first, second)
    with np.errstate(all="raise"):  # the ufuncs never warn, like the public functions
        assert _bits_equal(u(first, second), want)  # contiguous span
        assert _bits_equal(u(first[::-1], second[::-1]), want[::-1])  # strided
        assert _bits_equal(u(first[::2], second[::2]), want[::2])


@pytest.mark.parametrize("name", ["swiglu", "glu"])
def test_broadcasting_out_where(name):
    rng = np.random.default_rng(4)
    first = rng.standard_normal((5, 1, 7)).astype(np.float32)
    second = rng.standard_normal((3, 7)).astype(np.float32)
    u = getattr(ufuncs, name)
    want = _api(name, first, second)
    assert want.shape == (5, 3, 7) and _bits_equal(u(first, second), want)
    assert _bits_equal(u(first, np.float32(2.0)), _api(name, first, np.float32(2.0)))
    out = np.full((5, 3, 7), 7.0, np.float32)
    mask = rng.standard_normal((3, 7)) > 0
    r = u(first, second, out=out, where=mask)
    assert r is out
    assert _bits_equal(out, np.where(mask, want, np.float32(7.0)))


@pytest.mark.parametrize("dtype, loop", [(np.float16, np.float32), (np.int64, np.float64)])
def test_casting_from_other_types(dtype, loop):
    a, b = np.arange(-3, 4).astype(dtype), np.arange(4, -3, -1).astype(dtype)
    got = ufuncs.swiglu(a, b)
    assert got.dtype == loop and _bits_equal(got, fastact.swiglu(a.astype(loop), b.astype(loop)))


def test_threaded_span_equals_serial():
    rng = np.random.default_rng(5)
    gate, up = (rng.standard_normal(200_000).astype(np.float32) for _ in range(2))
    with fastact.threads(1):
        serial = ufuncs.geglu(gate, up)
    with fastact.threads(2):
        assert _bits_equal(ufuncs.geglu(gate, up), serial)
    assert _bits_equal(serial, fastact.geglu(gate, up, backend="cython"))


def test_bfloat16_loop():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bf16 = ml_dtypes.bfloat16
    first, second = (a.astype(bf16) for a in _operands(np.float32, 300))
    got = ufuncs.glu(first, second)
    want = ufuncs.glu(first.astype(np.float32), second.astype(np.float32)).astype(bf16)
    assert got.dtype == bf16 and _bits_equal(got, want)
