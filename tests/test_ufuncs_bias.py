"""fastact.ufuncs' bias forms: <id>_bias(x, b, *params) = f(x + b) and
<id>_bias_backward(grad, x, b, *params) = grad * f'(x + b), equal bit for bit to the
public functions' ``bias=`` (x + b rounded to the dtype, then f)."""
import numpy as np
import pytest

import fastact
from fastact._registry import all_kernel_ids
from tests._arrays import FLOATS, KERNEL_CASES

pytest.importorskip("fastact._kernels")
ufuncs = fastact.ufuncs

SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e30, -1e30, 5e-39, 3.0, -3.0]


def _bits_equal(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
        a.view(np.uint8), b.view(np.uint8))


def _data(dtype, shape=(7, 300), seed=0):
    """x with NaN/+-inf/-0.0/huge/subnormal entries, a per-feature bias, a gradient."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    x.reshape(-1)[:len(SPECIALS)] = np.array(SPECIALS, dtype)
    b = rng.standard_normal(shape[-1]).astype(dtype)
    return x, b, rng.standard_normal(shape).astype(dtype)


def _api(case, x, b, g=None):
    if g is None:
        return getattr(fastact, case.name)(x, **case.kwargs, bias=b, backend="cython")
    return fastact.backward(case.name, g, x, **case.kwargs, bias=b, backend="cython")


def test_every_kernel_id_has_its_bias_ufuncs():
    for kid in all_kernel_ids():
        fwd, bwd = getattr(ufuncs, kid + "_bias"), getattr(ufuncs, kid + "_bias_backward")
        assert isinstance(fwd, np.ufunc) and fwd.__name__ == kid + "_bias"
        assert bwd.nin == fwd.nin + 1 == ufuncs.ufunc_for(kid, "backward").nin + 1
        assert fwd.types[0].startswith("ff") and fwd.types[1].startswith("dd")
        assert "f(x + b)" in fwd.__doc__ and "grad * f'(x + b)" in bwd.__doc__


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", KERNEL_CASES, ids=str)
def test_values_equal_the_public_bias(case, dtype):
    x, b, g = _data(dtype)
    p = case.numeric
    fwd, bwd = ufuncs.ufunc_for(case.kernel_id, "bias forward"), \
        ufuncs.ufunc_for(case.kernel_id, "bias backward")
    want, want_b = _api(case, x, b), _api(case, x, b, g)
    assert _bits_equal(fwd(x, b, *p), want)  # contiguous rows, b broadcast per row
    assert _bits_equal(bwd(g, x, b, *p), want_b)
    assert _bits_equal(fwd(x[:, ::-1], b[::-1], *p), want[:, ::-1])  # strided
    assert _bits_equal(bwd(g.T, x.T, b[:, None], *p), want_b.T)
    per_element = [np.full(x.shape, v, dtype) for v in p]
    assert _bits_equal(fwd(x, b, *per_element), want)  # params read per element


def test_per_channel_parameter_and_bias():
    x, b, _ = _data(np.float32, (4, 6))
    slope = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], np.float32)
    want = np.stack([fastact.leaky_relu(x[:, c], float(slope[c]), bias=b[c])
                     for c in range(6)], axis=1)
    assert _bits_equal(ufuncs.leaky_relu_bias(x, b, slope), want)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_threaded_span_equals_serial(dtype):
    rng = np.random.default_rng(1)
    x, b = (rng.standard_normal(200_000).astype(dtype) for _ in range(2))
    with fastact.threads(1):
        serial = ufuncs.gelu_bias(x, b)
    with fastact.threads(2):
        assert _bits_equal(ufuncs.gelu_bias(x, b), serial)
    assert _bits_equal(serial, fastact.gelu(x, bias=b, backend="cython"))


def test_in_place_out_where_and_edge_shapes():
    x, b, _ = _data(np.float64, (5, 8))
    want = fastact.silu(x, bias=b)
    assert _bits_equal(ufuncs.silu_bias(x, b, out=x), want)  # out=x: in place
    out = np.full((5, 8), 7.0)
    ufuncs.relu_bias(want, b, out=out, where=want > 0)
    assert np.array_equal(out, np.where(want > 0, fastact.relu(want + b), 7.0))
    assert ufuncs.gelu_bias(np.float32(1.0), np.float32(0.5)) == fastact.gelu(np.float32(1.5))
    assert ufuncs.gelu_bias(np.empty((0, 3)), np.zeros(3)).shape == (0, 3)


def test_casting_and_bfloat16():
    x = np.arange(-3, 4).astype(np.int16)
    got = ufuncs.silu_bias(x, np.float16(0.5))
    assert got.dtype == np.float32 and _bits_equal(got, fastact.silu(x + np.float32(0.5)))
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bf16 = ml_dtypes.bfloat16
    x, b, g = (a.astype(bf16) for a in _data(np.float32, (3, 700)))
    want = ufuncs.gelu_bias(x.astype(np.float32), b.astype(np.float32)).astype(bf16)
    assert ufuncs.gelu_bias(x, b).dtype == bf16 and _bits_equal(ufuncs.gelu_bias(x, b), want)
    want = ufuncs.elu_bias_backward(*(a.astype(np.float32) for a in (g, x, b)), 1.0)
    assert _bits_equal(ufuncs.elu_bias_backward(g, x, b, 1.0), want.astype(bf16))


def test_no_floating_point_warnings():
    with np.errstate(all="raise"):
        ufuncs.gelu_bias(np.array([0.0, -np.inf, np.inf, np.nan, 1e300]), 1e300)
        ufuncs.logsigmoid_bias(np.array([-1e4, 0.0, 1e4], np.float32), np.float32(-1e4))
