"""Hypothesis property tests, for every backend.

Mathematical identities that must hold on any input: ranges, symmetries,
compositions, and derivatives that agree with central finite differences
away from the kinks (every smooth registry entry, no hand list).
"""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

import fastact
from tests._arrays import CASES, kinks

F64 = np.float64


def floats_arrays(dtype=F64, min_value=None, max_value=None, allow_nan=False, allow_inf=False,
                  max_side=40):
    return hnp.arrays(
        dtype,
        hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=max_side),
        elements=st.floats(min_value=min_value, max_value=max_value, allow_nan=allow_nan,
                           allow_infinity=allow_inf, width=np.dtype(dtype).itemsize * 8),
    )


ANY = floats_arrays(allow_nan=True, allow_inf=True)
FINITE = floats_arrays()
ANY32 = floats_arrays(np.float32, allow_nan=True, allow_inf=True)


def ulp_close(a, b, ulps, dtype=F64):
    a, b = np.asarray(a, dtype), np.asarray(b, dtype)
    with np.errstate(all="ignore"):
        tol = ulps * np.spacing(np.maximum(np.abs(a), np.abs(b)))
        return ((a == b) | (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= tol)).all()


@given(ANY)
def test_sigmoid_in_unit_interval(backend, x):
    s = fastact.sigmoid(x, backend=backend)
    fin = ~np.isnan(x)
    assert ((s[fin] >= 0) & (s[fin] <= 1)).all()
    assert np.isnan(s[~fin]).all()


@given(floats_arrays(min_value=-700, max_value=700))
def test_sigmoid_symmetry(backend, x):
    s, t = fastact.sigmoid(x, backend=backend), fastact.sigmoid(-x, backend=backend)
    assert np.allclose(s + t, 1, rtol=0, atol=4e-16)


@given(ANY)
def test_relu_idempotent_and_nonnegative(backend, x):
    r = fastact.relu(x, backend=backend)
    assert np.array_equal(fastact.relu(r, backend=backend), r, equal_nan=True)
    assert (r[~np.isnan(x)] >= 0).all()


@given(ANY32)
def test_relu6_and_hardtanh_ranges(backend, x):
    r = fastact.relu6(x, backend=backend)
    h = fastact.hardtanh(x, -2.0, 0.5, backend=backend)
    fin = ~np.isnan(x)
    assert ((r[fin] >= 0) & (r[fin] <= 6)).all()
    assert ((h[fin] >= -2) & (h[fin] <= 0.5)).all()


@given(floats_arrays(min_value=-700, max_value=700), st.sampled_from(["float32", "float64"]))
def test_silu_is_x_times_sigmoid(backend, x, dt):
    x = x.astype(dt)
    got = fastact.silu(x, backend=backend)
    want = x.astype(F64) * fastact.sigmoid(x.astype(F64), backend="numpy")
    eps = np.finfo(dt).eps
    with np.errstate(under="ignore"):
        assert np.allclose(got, want, rtol=8 * eps, atol=np.finfo(dt).smallest_normal)


@given(ANY)
def test_odd_functions(backend, x):
    for name in ("tanh", "softsign", "tanhshrink", "hardshrink", "softshrink", "identity"):
        f = getattr(fastact, name)
        assert ulp_close(f(-x, backend=backend), -f(x, backend=backend), 1), name


@given(ANY)
def test_softplus_above_relu(backend, x):
    sp = fastact.softplus(x, backend=backend)
    fin = ~np.isnan(x)
    assert (sp[fin] >= fastact.relu(x, backend=backend)[fin]).all()
    assert np.isnan(sp[~fin]).all()


@given(floats_arrays(min_value=-30, max_value=30))
def test_logsigmoid_is_log_of_sigmoid(backend, x):
    ls = fastact.logsigmoid(x, backend=backend)
    assert (ls <= 0).all()
    assert np.allclose(np.exp(ls), fastact.sigmoid(x, backend=backend), rtol=1e-14, atol=0)


@given(ANY, st.floats(min_value=-3, max_value=3))
def test_leaky_relu_decomposes(backend, x, slope):
    got = fastact.leaky_relu(x, slope, backend=backend)
    slope = float(slope)
    with np.errstate(all="ignore"):
        want = np.where(x > 0, x, slope * x)
    assert np.array_equal(got, want, equal_nan=True)


@given(ANY)
def test_backward_with_unit_grad_is_derivative(backend, x):
    ones = np.ones_like(x)
    for case in CASES[::3]:
        d = fastact.derivative(case.name, x, backend=backend, **case.kwargs)
        b = fastact.backward(case.name, ones, x, backend=backend, **case.kwargs)
        assert np.array_equal(b, d, equal_nan=True), case


@given(FINITE, st.floats(min_value=-4, max_value=4, allow_nan=False))
def test_backward_linear_in_grad(backend, x, c):
    g = np.full_like(x, 1.0)
    for case in CASES[1::4]:
        b1 = fastact.backward(case.name, g, x, backend=backend, **case.kwargs)
        bc = fastact.backward(case.name, g * c, x, backend=backend, **case.kwargs)
        with np.errstate(all="ignore"):
            assert ulp_close(bc, b1 * c, 1), case


SMOOTH = [pytest.param(c, id=c.id) for c in CASES if c.smooth]


@pytest.mark.parametrize("case", SMOOTH)
@given(data=st.data())
def test_derivative_matches_finite_differences(backend, case, data):
    """f'(x) vs (f(x+h) - f(x-h)) / 2h in float64, for x away from every kink."""
    x = np.array(data.draw(st.lists(st.floats(min_value=-12, max_value=12), min_size=1,
                                    max_size=20)), F64)
    k = kinks(case, F64)
    k = k[np.isfinite(k)]
    far = np.min(np.abs(x[:, None] - k[None, :]), axis=1) > 1e-3
    assume(far.any())
    x = x[far]
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    f = fastact.get(case.name, **case.kwargs)
    fd = (f(x + h, backend=backend) - f(x - h, backend=backend)) / (2 * h)
    d = fastact.derivative(case.name, x, backend=backend, **case.kwargs)
    assert np.allclose(d, fd, rtol=1e-5, atol=1e-6), (case, x, d, fd)


@given(floats_arrays(min_value=-1e4, max_value=1e4, max_side=30),
       st.sampled_from(["float32", "float64"]))
def test_softmax_rows_sum_to_one(backend, x, dt):
    x = x.astype(dt)
    p = fastact.softmax(x, backend=backend)
    assert ((p >= 0) & (p <= 1)).all()
    assert np.allclose(p.sum(axis=-1, dtype=F64), 1, rtol=0, atol=4 * x.shape[-1] * np.finfo(dt).eps)


@given(floats_arrays(min_value=-1e4, max_value=1e4, max_side=30))
def test_log_softmax_nonpositive_and_consistent(backend, x):
    ls = fastact.log_softmax(x, backend=backend)
    assert (ls <= 0).all()
    assert np.allclose(np.exp(ls), fastact.softmax(x, backend=backend), rtol=1e-12, atol=1e-300)


@given(floats_arrays(min_value=-1e4, max_value=1e4, max_side=30))
def test_logsumexp_bounds(backend, x):
    lse = fastact.logsumexp(x, backend=backend)
    m = x.max(axis=-1)
    assert (lse >= m).all()
    assert (lse <= m + np.log(x.shape[-1]) * (1 + 1e-12) + 1e-12).all()


@given(floats_arrays(min_value=-1e3, max_value=1e3, max_side=30), st.floats(-100, 100))
def test_logsumexp_shift(backend, x, c):
    a = fastact.logsumexp(x + c, backend=backend)
    b = fastact.logsumexp(x, backend=backend) + c
    assert np.allclose(a, b, rtol=1e-13, atol=1e-10)


@given(floats_arrays(min_value=-1e3, max_value=1e3, max_side=30))
def test_softmin_is_softmax_of_negation(backend, x):
    assert np.allclose(fastact.softmin(x, backend=backend), fastact.softmax(-x, backend=backend),
                       rtol=1e-14, atol=1e-300)


@given(floats_arrays(min_value=-50, max_value=50, max_side=20))
def test_softmax_backward_closed_form(backend, x):
    y = fastact.softmax(x, backend=backend)
    g = np.cos(np.arange(x.size)).reshape(x.shape)
    got = fastact.softmax_backward(g, y, backend=backend)
    want = y * (g - (g * y).sum(axis=-1, keepdims=True))
    assert np.allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.allclose(got.sum(axis=-1), 0, atol=1e-12)
