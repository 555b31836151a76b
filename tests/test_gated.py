"""The GLU family (``_registry.GATED``): act(gate) * up and both gradients in one pass,
against the unfused expression of the same backend (bitwise), the closed form, and
PyTorch (F.glu, F.silu(g) * u, F.gelu(g) * u, F.relu(g) * u, autograd)."""
import numpy as np
import pytest

import fastact
from fastact._registry import GATED

# (name, params): every unit, geglu with each GELU variant
UNITS = [pytest.param(g.name, kw, id=f"{g.name}{kw or ''}") for g in GATED
         for kw in ([{}] if g.name != "geglu" else [{}, {"approximate": "tanh"}])]
SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e30, -1e30, 3.0, -3.0, 0.5]


def _spec(name):
    return next(g for g in GATED if g.name == name)


def _halves(name, x, axis=-1):
    """(gate, up) of the split form."""
    a, b = np.split(x, 2, axis=axis)
    return (b, a) if _spec(name).gate_half else (a, b)


def _unfused(name, kw, gate, up, backend):
    act = fastact.get(_spec(name).activation, **kw)
    with np.errstate(all="ignore"):
        return act(gate, backend=backend) * up


def _unfused_grads(name, kw, grad, gate, up, backend):
    act = fastact.get(_spec(name).activation, **kw)
    with np.errstate(all="ignore"):
        return act.backward(grad * up, gate, backend=backend), grad * act(gate, backend=backend)


def _data(dtype, shape, seed=0, specials=True):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    if specials:
        flat = x.reshape(-1)
        flat[: len(SPECIALS)] = np.array(SPECIALS, dtype)[: flat.size]
    return x


def _same(a, b):
    np.testing.assert_array_equal(a, b, strict=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 10), (40, 4300), (3, 5, 8)])
@pytest.mark.parametrize("name, kw", UNITS)
def test_split_forward_and_backward_equal_the_unfused_expression(name, kw, shape, dtype,
                                                                 backend):
    x = _data(dtype, shape)
    gate, up = _halves(name, x)
    fn, bwd = getattr(fastact, name), getattr(fastact, f"{name}_backward")
    _same(fn(x, **kw, backend=backend), _unfused(name, kw, gate, up, backend))
    grad = _data(dtype, gate.shape, seed=1, specials=False)
    dx = bwd(grad, x, **kw, backend=backend)
    d_gate, d_up = _halves(name, dx)
    want_gate, want_up = _unfused_grads(name, kw, grad, gate, up, backend)
    _same(d_gate, want_gate)
    _same(d_up, want_up)


@pytest.mark.parametrize("name, kw", UNITS)
def test_two_arrays_and_broadcasting(name, kw, backend):
    first, second = _data(np.float64, (30, 50)), _data(np.float64, (30, 50), seed=2)
    gate, up = (second, first) if _spec(name).gate_half else (first, second)
    fn, bwd = getattr(fastact, name), getattr(fastact, f"{name}_backward")
    _same(fn(first, second, **kw, backend=backend), _unfused(name, kw, gate, up, backend))
    grad = _data(np.float64, (30, 50), seed=3, specials=False)
    d_first, d_second = bwd(grad, first, second, **kw, backend=backend)
    want_gate, want_up = _unfused_grads(name, kw, grad, gate, up, backend)
    got_gate, got_up = (d_second, d_first) if _spec(name).gate_half else (d_first, d_second)
    _same(got_gate, want_gate)
    _same(got_up, want_up)
    row = second[:1]  # broadcast along the rows: its gradient is summed over them
    d_first, d_row = bwd(grad, first, row, **kw, backend=backend)
    assert d_row.shape == row.shape
    g2, u2 = (np.broadcast_to(row, first.shape), first) if _spec(name).gate_half else \
        (first, np.broadcast_to(row, first.shape))
    want = _unfused_grads(name, kw, grad, g2, u2, backend)[0 if _spec(name).gate_half else 1]
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(d_row, want.sum(axis=0, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -3])
def test_split_along_any_axis(axis, backend):
    x = _data(np.float64, (4, 6, 8), specials=False)
    gate, up = _halves("swiglu", x, axis)
    y = fastact.swiglu(x, axis=axis, backend=backend)
    _same(y, _unfused("swiglu", {}, gate, up, backend))
    grad = _data(np.float64, y.shape, seed=4, specials=False)
    dx = fastact.swiglu_backward(grad, x, axis=axis, backend=backend)
    assert dx.shape == x.shape
    d_gate, d_up = _halves("swiglu", dx, axis)
    want_gate, want_up = _unfused_grads("swiglu", {}, grad, gate, up, backend)
    _same(d_gate, want_gate)
    _same(d_up, want_up)


def test_strided_views_give_the_contiguous_values(backend):
    x = _data(np.float32, (20, 64))
    for view in (x[:, ::-1], x[::2], x.T.copy().T, x[:, 8:40]):
        _same(fastact.geglu(view, backend=backend),
              fastact.geglu(np.ascontiguousarray(view), backend=backend))
        gate, up = view[:, ::2], view[:, 1::2]  # strided pair
        _same(fastact.reglu(gate, up, backend=backend),
              fastact.reglu(gate.copy(), up.copy(), backend=backend))


def test_edges_and_errors(backend):
    with pytest.raises(ValueError, match="even length"):
        fastact.glu(np.ones((3, 5)), backend=backend)
    with pytest.raises(ValueError, match="0-d"):
        fastact.swiglu(np.float64(1.0), backend=backend)
    with pytest.raises(TypeError, match="keyword-only"):
        fastact.glu(np.ones((3, 4)), 0, backend=backend)
    with pytest.raises(ValueError, match="broadcast"):
        fastact.swiglu(np.ones(3), np.ones(4), backend=backend)
    assert fastact.glu(np.ones((0, 4)), backend=backend).shape == (0, 2)
    assert fastact.glu(np.ones((3, 0)), backend=backend).shape == (3, 0)
    assert fastact.glu_backward(np.ones((0, 2)), np.ones((0, 4)), backend=backend).shape == (0, 4)
    s = fastact.swiglu(np.float64(2.0), np.float64(3.0), backend=backend)
    assert np.ndim(s) == 0 and s == pytest.approx(3 * 2 / (1 + np.exp(-2.0)), rel=1e-15)
    y = fastact.reglu(np.array([-0.0, 0.0, -1.0, np.nan]), np.array([1.0, -1.0, np.inf, 1.0]),
                      backend=backend)
    _same(y, np.array([0.0, -0.0, np.nan, np.nan]))  # relu(-0.0) = +0.0; 0 * inf = NaN


def test_dtype_rules_and_out(backend):
    x16 = np.linspace(-2, 2, 16, dtype=np.float16).reshape(2, 8)
    assert fastact.swiglu(x16, backend=backend).dtype == np.float16
    assert fastact.swiglu(np.arange(8).reshape(2, 4), backend=backend).dtype == np.float64
    assert fastact.swiglu(np.ones(3, np.float32), np.ones(3), backend=backend).dtype == np.float64
    x = _data(np.float32, (16, 4100))
    out = np.empty((16, 2050), np.float32)
    assert fastact.swiglu(x, out=out, backend=backend) is out
    _same(out, fastact.swiglu(x, backend=backend))
    gate, up = x[:, :2050].copy(), x[:, 2050:].copy()
    expected = fastact.swiglu(gate, up, backend=backend)
    assert fastact.swiglu(gate, up, out=gate, backend=backend) is gate  # in place
    _same(gate, expected)
    grad = np.ones((16, 2050), np.float32)
    outs = (np.empty_like(up), np.empty_like(up))
    res = fastact.swiglu_backward(grad, x[:, :2050], up, out=outs, backend=backend)
    assert res[0] is outs[0] and res[1] is outs[1]
    with pytest.raises(ValueError, match="shape"):
        fastact.swiglu(x, out=np.empty((16, 4100), np.float32), backend=backend)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_backward_into_out(dtype, backend):
    """The split form's gradients into out=: written straight there, in place over x, or
    through a buffer (out overlapping grad, a split along another axis): the same bits."""
    x = _data(dtype, (16, 4100))
    grad = _data(dtype, (16, 2050), seed=2, specials=False)
    expected = fastact.swiglu_backward(grad, x, backend=backend)
    out = np.empty_like(x)
    assert fastact.swiglu_backward(grad, x, out=out, backend=backend) is out
    _same(out, expected)
    xc = x.copy()
    assert fastact.swiglu_backward(grad, xc, out=xc, backend=backend) is xc
    _same(xc, expected)
    buf = np.zeros_like(x)
    g = buf.reshape(-1)[2049:2049 + grad.size].reshape(grad.shape)  # d_up[0, i] on g[0, i + 1]
    g[...] = grad
    assert fastact.swiglu_backward(g, x, out=buf, backend=backend) is buf
    _same(buf, expected)
    out_t = np.empty((4100, 16), dtype)
    assert fastact.swiglu_backward(grad.T, x.T, axis=0, out=out_t, backend=backend) is out_t
    _same(out_t, expected.T)


def test_results_do_not_depend_on_the_thread_count(backend):
    x = _data(np.float32, (64, 4096), specials=False)
    grad = _data(np.float32, (64, 2048), seed=5, specials=False)
    runs = []
    for n in (1, 2):
        with fastact.threads(n):
            runs.append((fastact.geglu(x, backend=backend),
                         fastact.geglu_backward(grad, x, backend=backend)))
    _same(runs[0][0], runs[1][0])
    _same(runs[0][1], runs[1][1])


def _torch_unit(torch, name, kw, first, second):
    F = torch.nn.functional
    if name == "glu":
        return F.glu(torch.cat([first, second], dim=-1), dim=-1)
    act = {"swiglu": F.silu, "reglu": F.relu,
           "geglu": lambda t: F.gelu(t, approximate=kw.get("approximate", "none"))}[name]
    return act(first) * second


@pytest.mark.parametrize("name, kw", UNITS)
def test_against_pytorch(name, kw, backend):
    torch = pytest.importorskip("torch")
    x = _data(np.float64, (24, 40), specials=False)
    first, second = np.split(x, 2, axis=-1)
    tf, ts = (torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in (first, second))
    yt = _torch_unit(torch, name, kw, tf, ts)
    grad = _data(np.float64, yt.shape, seed=6, specials=False)
    yt.backward(torch.tensor(grad))
    y = getattr(fastact, name)(x, **kw, backend=backend)
    # PyTorch's float64 kernels are the looser side in the tails
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-13)
    dx = getattr(fastact, f"{name}_backward")(grad, x, **kw, backend=backend)
    np.testing.assert_allclose(dx, np.concatenate([tf.grad.numpy(), ts.grad.numpy()], -1),
                               rtol=1e-10, atol=1e-13)
    y32 = getattr(fastact, name)(x.astype(np.float32), **kw, backend=backend)
    y32t = _torch_unit(torch, name, kw, tf.float(), ts.float()).detach().numpy()
    np.testing.assert_allclose(y32, y32t, rtol=2e-6, atol=1e-5)  # PyTorch's float32 erf


def test_glu_matches_pytorch_on_other_axes(backend):
    torch = pytest.importorskip("torch")
    x = _data(np.float64, (6, 4, 10), specials=False)
    for axis in (0, 1, 2):
        ref = torch.nn.functional.glu(torch.tensor(x), dim=axis).numpy()
        np.testing.assert_allclose(fastact.glu(x, axis=axis, backend=backend), ref, rtol=1e-14)



def test_out_over_an_input_gives_the_values_of_apart_arrays(backend):
    """A C-contiguous out overlapping an input it is not (the fast path's kernels refuse
    it; the general path copies) gives the values of the same call on copies, and the
    reference's."""
    rng = np.random.default_rng(7)
    buf = rng.standard_normal(3 * 64).astype(np.float32)
    x = buf[:128].reshape(1, 128)  # split form: out on x's second half
    want = fastact.swiglu(x.copy(), backend=backend)
    ref = fastact.swiglu(x.copy(), backend="numpy")
    out = buf[64:128].reshape(1, 64)
    assert fastact.swiglu(x, out=out, backend=backend) is out
    _same(out, want)
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    buf = rng.standard_normal(200)
    a, b = buf[:100], buf[100:]  # two-array form: out across both
    want = fastact.glu(a.copy(), b.copy(), backend=backend)
    ref = fastact.glu(a.copy(), b.copy(), backend="numpy")
    out = buf[50:150]
    assert fastact.glu(a, b, out=out, backend=backend) is out
    _same(out, want)
    np.testing.assert_allclose(out, ref, rtol=1e-14)
    buf = rng.standard_normal(3 * 64)
    x, grad = buf[:128].reshape(1, 128), rng.standard_normal((1, 64))
    want = fastact.geglu_backward(grad, x.copy(), backend=backend)
    ref = fastact.geglu_backward(grad, x.copy(), backend="numpy")
    out = buf[64:].reshape(1, 128)  # backward: out over x's second half and beyond
    assert fastact.geglu_backward(grad, x, out=out, backend=backend) is out
    _same(out, want)
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("mode", ["forward", "backward"])
def test_direct_kernels_refuse_an_out_over_an_input_they_are_not(mode, backend):
    """The whole-array gated kernels (``_gated._direct_kernel``: the backend's, or one
    built on its Strided kernel) return False and write nothing where out overlaps an
    input it is not, or is not a ready array of the result's shape and dtype, or the
    call is not theirs (an odd split); out being that input (in place), apart or None
    runs."""
    from fastact import _backends, _gated

    kernel = _gated._direct_kernel(_backends.resolve(backend), "silu", mode)
    rng = np.random.default_rng(3)
    buf = rng.standard_normal(300)
    before = buf.copy()
    x = buf[:128].reshape(2, 64)
    if mode == "forward":
        assert kernel(buf[100:164].reshape(2, 32), x, None, None, 0, (), 2) is False
        for first, second in ((buf[:128], buf[150:278]), (buf[150:278], buf[:128])):
            out = buf[100:228].reshape(2, 64)  # over the second operand, then the first
            assert kernel(out, first.reshape(2, 64), second.reshape(2, 64), None, 1, (),
                          2) is False
        assert np.array_equal(buf, before)
        a, b = rng.standard_normal((2, 2, 64))
        want = fastact.swiglu(b, a, backend=backend)  # gate_half 1: the gate is b
        for target in ("a", "b", "apart"):
            a2, b2 = a.copy(), b.copy()
            out = a2 if target == "a" else b2 if target == "b" else np.empty_like(a)
            assert kernel(out, a2, b2, None, 1, (), 2) is out
            _same(out, want)
        _same(kernel(None, a, b, None, 1, (), 2), want)
        for out in (np.empty((2, 65)), np.empty((2, 64), np.float32), np.empty((64, 2)).T,
                    np.empty(128)):
            assert kernel(out, a, b, None, 1, (), 2) is False
        assert kernel(None, np.ones((2, 63)), None, None, 0, (), 2) is False
        assert kernel(None, a, b[:, :32], None, 1, (), 2) is False
    else:
        grad = buf[200:264].reshape(2, 32)
        assert kernel(buf[64:192].reshape(2, 64), x, None, grad, 0, (), 2) is False
        assert kernel(buf[150:278].reshape(2, 64), x, None, grad, 0, (), 2) is False
        assert np.array_equal(buf, before)
        x, grad = rng.standard_normal((2, 64)), rng.standard_normal((2, 32))
        want = fastact.swiglu_backward(grad, x, backend=backend)
        for in_place in (True, False):
            x2 = x.copy()
            out = x2 if in_place else np.empty_like(x)
            assert kernel(out, x2, None, grad, 0, (), 2) is out
            _same(out, want)
        _same(kernel(None, x, None, grad, 0, (), 2), want)
        assert kernel(np.empty((2, 32)), x, None, grad, 0, (), 2) is False
        assert kernel(None, x, None, grad.astype(np.float32), 0, (), 2) is False
