"""``bias=``: f(x + bias), f'(x + bias), grad * f'(x + bias) in one pass, and the bias
gradient (``bias_grad=True``), for every registry entry and backend.

The fused result must equal the unfused sequence of the same backend bit for bit
(x + bias rounded to the dtype, then f): the accuracy of f itself is test_accuracy's.
"""
import numpy as np
import pytest

import fastact
from tests._arrays import CASES

CASE_PARAMS = [pytest.param(c, id=c.id) for c in CASES]
DTYPES = [np.float32, np.float64]
SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e30, -1e30, 5e-39, 3.0, -3.0]


def _data(dtype, shape, seed=0):
    """x with NaN/+-inf/-0.0/huge/subnormal entries, a per-feature bias, a gradient."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    flat = x.reshape(-1)
    flat[: min(len(SPECIALS), flat.size)] = np.array(SPECIALS, dtype)[: flat.size]
    b = rng.standard_normal(shape[-1]).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    return x, b, g


def _unfused(x, b):
    with np.errstate(all="ignore"):  # inf + -inf is NaN
        return x + b


def _same(a, b):
    np.testing.assert_array_equal(a, b, strict=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_forward_derivative_backward_equal_the_unfused_sequence(case, dtype, backend):
    x, b, g = _data(dtype, (37, 300))
    act = fastact.get(case.name, **case.kwargs)
    t = _unfused(x, b)
    _same(act(x, bias=b, backend=backend), act(t, backend=backend))
    _same(act.derivative(x, bias=b, backend=backend), act.derivative(t, backend=backend))
    _same(act.backward(g, x, bias=b, backend=backend), act.backward(g, t, backend=backend))
    fn = getattr(fastact, case.name)  # the generated public function takes bias= too
    _same(fn(x, **case.kwargs, bias=b, backend=backend), act(t, backend=backend))


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_bias_grad_is_the_column_sum_and_independent_of_threads(case, backend):
    x, b, g = _data(np.float32, (70, 2100), seed=1)  # parallel sizes, two tiles per row
    x[~np.isfinite(x) | (np.abs(x) > 1e20)] = 1.0  # keep db finite, to compare it
    act = fastact.get(case.name, **case.kwargs)
    results = []
    for n in (1, 2, 3):
        with fastact.threads(min(n, max(fastact.get_num_threads(), 2))):
            results.append(act.backward(g, x, bias=b, bias_grad=True, backend=backend))
    dz, db = results[0]
    assert db.dtype == np.float32 and db.shape == b.shape
    _same(dz, act.backward(g, _unfused(x, b), backend=backend))
    expected = dz.astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(db, expected, rtol=1e-5, atol=1e-5 * np.abs(dz).sum(0).max())
    for dz_n, db_n in results[1:]:
        _same(dz_n, dz)
        _same(db_n, db)  # bitwise: fixed blocks added in a fixed order


@pytest.mark.parametrize("x_shape, b_shape", [
    ((4, 5, 6), (6,)),  # fast path through a 3-D x
    ((4, 5, 6), (1, 1, 6)),
    ((4, 5, 6), (5, 6)),  # general paths
    ((4, 5, 6), (5, 1)),
    ((4, 5, 6), (4, 1, 1)),
    ((4, 5, 6), ()),
    ((6,), (3, 6)),  # bias broadcasts x up
    ((), ()),
    ((0, 6), (6,)),
    ((5, 0), (0,)),
])
def test_broadcasting_shapes(x_shape, b_shape, backend):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(x_shape)
    b = rng.standard_normal(b_shape)
    shape = np.broadcast_shapes(x_shape, b_shape)
    g = rng.standard_normal(shape)
    y = fastact.gelu(x, bias=b, backend=backend)
    assert np.shape(y) == shape
    np.testing.assert_array_equal(y, fastact.gelu(x + b, backend=backend))
    dz, db = fastact.backward("gelu", g, x, bias=b, bias_grad=True, backend=backend)
    ref = np.asarray(fastact.backward("gelu", g, x + b, backend=backend))
    np.testing.assert_array_equal(dz, ref)
    lead = ref.ndim - len(b_shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(b_shape)
                                      if n == 1 and ref.shape[lead + i] != 1)
    np.testing.assert_allclose(db, np.sum(ref, axis=axes).reshape(b_shape), rtol=1e-13,
                               atol=1e-13)
    assert np.shape(db) == b_shape


def test_shapes_that_do_not_broadcast_are_a_clear_error(backend):
    with pytest.raises(ValueError, match="bias of shape"):
        fastact.relu(np.ones((3, 4)), bias=np.ones(3), backend=backend)


@pytest.mark.parametrize("view", ["transposed", "reversed", "every_other"])
def test_strided_inputs(view, backend):
    x, b, g = _data(np.float64, (30, 40))
    xv = {"transposed": x.T, "reversed": x[:, ::-1], "every_other": x[::2]}[view]
    bv = b[: xv.shape[-1]]
    gv = g.reshape(-1)[: xv.size].reshape(xv.shape)
    _same(fastact.silu(xv, bias=bv, backend=backend),
          fastact.silu(np.ascontiguousarray(xv), bias=bv, backend=backend))
    dz, db = fastact.backward("silu", gv, xv, bias=bv, bias_grad=True, backend=backend)
    dz_c, db_c = fastact.backward("silu", np.ascontiguousarray(gv), np.ascontiguousarray(xv),
                                  bias=bv, bias_grad=True, backend=backend)
    _same(dz, dz_c)
    np.testing.assert_allclose(db, db_c, rtol=1e-14, atol=1e-14)


def test_dtype_rules(backend):
    x16 = np.linspace(-3, 3, 24, dtype=np.float16).reshape(4, 6)
    b16 = np.linspace(-1, 1, 6, dtype=np.float16)
    y = fastact.tanh(x16, bias=b16, backend=backend)
    assert y.dtype == np.float16
    expected = np.tanh(x16.astype(np.float32) + b16.astype(np.float32))
    np.testing.assert_allclose(y.astype(np.float32), expected, rtol=1e-3)
    assert fastact.relu(np.arange(6).reshape(2, 3), bias=np.ones(3, np.int32),
                        backend=backend).dtype == np.float64
    assert fastact.relu(np.ones((2, 3), np.float32), bias=np.ones(3),
                        backend=backend).dtype == np.float64
    with pytest.raises(TypeError, match="complex"):
        fastact.relu(np.ones(3), bias=np.ones(3, complex), backend=backend)


def test_out_and_in_place(backend):
    x, b, g = _data(np.float32, (50, 700))
    expected = fastact.gelu(x, bias=b, backend=backend)
    out = np.empty_like(x)
    assert fastact.gelu(x, bias=b, out=out, backend=backend) is out
    _same(out, expected)
    xc = x.copy()
    assert fastact.gelu(xc, bias=b, out=xc, backend=backend) is xc
    _same(xc, expected)
    buf = np.concatenate([x.reshape(-1), np.zeros(1, np.float32)])  # out overlaps x, shifted
    xs, os_ = buf[1:].reshape(x.shape), buf[:-1].reshape(x.shape)
    xs_copy = xs.copy()
    fastact.gelu(xs, bias=b, out=os_, backend=backend)
    _same(os_, fastact.gelu(xs_copy, bias=b, backend=backend))
    with pytest.raises(ValueError, match="shape"):
        fastact.gelu(x, bias=b, out=np.empty((2, 2), np.float32), backend=backend)


def test_backward_from_y_and_errors(backend):
    x, b, g = _data(np.float64, (8, 5))
    y = fastact.sigmoid(x, bias=b, backend=backend)
    dz, db = fastact.backward("sigmoid", g, y=y, bias=b, bias_grad=True, backend=backend)
    _same(dz, fastact.backward("sigmoid", g, y=y, backend=backend))
    np.testing.assert_allclose(db, dz.sum(axis=0), rtol=1e-13)
    with pytest.raises(TypeError, match="bias_grad=True needs"):
        fastact.backward("sigmoid", g, x, bias_grad=True, backend=backend)


def test_input_is_never_written(backend):
    x, b, g = _data(np.float64, (64, 600))
    copies = [a.copy() for a in (x, b, g)]
    fastact.backward("mish", g, x, bias=b, bias_grad=True, backend=backend)
    fastact.mish(x, bias=b, backend=backend)
    for a, c in zip((x, b, g), copies):
        _same(a, c)


@pytest.mark.parametrize("name, torch_fn", [
    ("gelu", "gelu"), ("silu", "silu"), ("sigmoid", "sigmoid"), ("tanh", "tanh"),
    ("relu", "relu"), ("mish", "mish"), ("softplus", "softplus"), ("elu", "elu")])
def test_against_pytorch_autograd(name, torch_fn, backend):
    torch = pytest.importorskip("torch")
    x, b, g = _data(np.float64, (33, 70))
    x[~np.isfinite(x) | (np.abs(x) > 1e20)] = 0.5
    xt = torch.tensor(x, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    yt = getattr(torch.nn.functional, torch_fn)(xt + bt)
    yt.backward(torch.tensor(g))
    y = fastact.get(name)(x, bias=b, backend=backend)
    # PyTorch's own float64 kernels are the looser side (tails within ~1e-15 absolute)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-14)
    dz, db = fastact.backward(name, g, x, bias=b, bias_grad=True, backend=backend)
    np.testing.assert_allclose(dz, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_bias_kernels_refuse_an_out_over_an_input_they_are_not(refusing_backend):
    """A compiled bias kernel returns False and writes nothing where out overlaps the
    bias, or x or grad without being that array; out being x or grad itself, or apart,
    runs.  Numba: through the extension's driver and its own."""
    from fastact import _backends

    kernel = _backends.resolve(refusing_backend).get_biased("relu", "backward")
    rows, m = 4, 25
    buf = np.linspace(-2.0, 2.0, rows * m + 1)
    grad, bias = np.full((rows, m), 3.0), np.full(m, 0.5)
    before = buf.copy()
    shifted, x = buf[1:].reshape(rows, m), buf[:-1].reshape(rows, m)
    assert kernel(shifted, x, grad, bias, (), 2) is False
    gbuf = np.full(rows * m + 1, 3.0)
    assert kernel(gbuf[1:].reshape(rows, m), x, gbuf[:-1].reshape(rows, m), bias, (),
                  2) is False
    wide = np.zeros(rows * m)
    assert kernel(wide.reshape(rows, m), x, grad, wide[:m], (), 2) is False
    assert np.array_equal(buf, before) and (gbuf == 3.0).all() and not wide.any()
    want = np.where(x + bias > 0, 3.0, 0.0)
    for which in ("apart", "x", "grad"):
        xs, g = x.copy(), grad.copy()
        target = {"apart": np.empty_like(xs), "x": xs, "grad": g}[which]
        assert kernel(target, xs, g, bias, (), 2) is not False
        assert np.array_equal(target, want), which


@pytest.mark.parametrize("shape", [(6, 40), (2, 3, 40), (40,)])
def test_out_over_an_operand_through_the_public_call(shape, backend):
    """Every way out can meet the operands gives the values of a call into a fresh array:
    in place on x or grad (the very array, or another view of it, of any rank), shifted
    over x or grad, over the bias."""
    x, b, g = _data(np.float64, shape, seed=3)
    want = fastact.backward("silu", g, x, bias=b, backend=backend)
    want_fwd = fastact.silu(x, bias=b, backend=backend)
    xc = x.copy()
    assert fastact.silu(xc, bias=b, out=xc[...], backend=backend).base is xc
    _same(xc, want_fwd)
    gc = g.copy()
    dz, db = fastact.backward("silu", gc, x, bias=b, bias_grad=True, out=gc, backend=backend)
    assert dz is gc
    _same(gc, want)
    np.testing.assert_allclose(db, want.reshape(-1, shape[-1]).sum(axis=0), rtol=1e-12)
    n = x.size
    for over in ("x", "grad"):
        buf = np.concatenate([(x if over == "x" else g).reshape(-1), [0.0]])
        src, dst = buf[1:].reshape(shape), buf[:-1].reshape(shape)
        xs, gs = (src, g) if over == "x" else (x, src)
        expect = fastact.backward("silu", gs.copy(), xs.copy(), bias=b, backend=backend)
        fastact.backward("silu", gs, xs, bias=b, out=dst, backend=backend)
        _same(dst, expect)
    both = np.concatenate([b, np.zeros(n)])
    bias_view, out_view = both[:shape[-1]], both[:n].reshape(shape)
    expect = fastact.silu(x, bias=bias_view.copy(), backend=backend)
    fastact.silu(x, bias=bias_view, out=out_view, backend=backend)
    _same(out_view, expect)
