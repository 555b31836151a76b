"""cross_entropy and binary_cross_entropy_with_logits: against mpmath (loss within a few
ULP of the exact value, gradient within the backward bar), against PyTorch where it is
installed, every backend, the edges (ignored rows, special logits, smoothing 0 and 1,
probability targets, weights, reductions, axes, dtypes, empty) and the errors."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import fastact
from tests._oracle import FORWARD_ULP, forward_bad, ulp_error

MP = mpmath.mp
DTYPES = (np.float32, np.float64)
REDUCTIONS = ("none", "mean", "sum")


def _rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ exact values
def _mp_cross_entropy(x, t, w, eps):
    """Per-row loss and gradient of the sum (reduction "sum"), at 50 digits."""
    rows, n = x.shape
    loss, grad = np.zeros(rows), np.zeros((rows, n))
    with MP.workdps(50):
        for r in range(rows):
            if t[r] < 0:
                continue
            xs = [MP.mpf(float(v)) for v in x[r]]
            ws = [MP.mpf(float(v)) for v in w]
            lse = MP.log(MP.fsum(MP.exp(v) for v in xs))
            q = [(1 - MP.mpf(eps)) * (c == t[r]) + MP.mpf(eps) / n for c in range(n)]
            loss[r] = float(MP.fsum(ws[c] * q[c] * (lse - xs[c]) for c in range(n)))
            total = MP.fsum(ws[c] * q[c] for c in range(n))
            for c in range(n):
                grad[r, c] = float(MP.exp(xs[c] - lse) * total - ws[c] * q[c])
    return loss, grad


def _grad_bad(got, want, scale_terms, n, dtype):
    """Outside 16 eps (log2 n + 4) * the magnitude of the closed form's terms."""
    eps = float(np.finfo(dtype).eps)
    tol = 16 * eps * (math.log2(max(n, 1)) + 4) * scale_terms + np.finfo(dtype).smallest_normal
    return np.abs(np.asarray(got, float) - want) > tol


def _batch(rng, shape, dtype, ignored):
    """Normal logits of ``shape`` and class indices, row ``ignored`` ignored."""
    x = rng.standard_normal(shape).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    t[ignored] = -100
    return x, t


def _logits(rng, rows, n, dtype, spread=4.0):
    x = rng.standard_normal((rows, n)) * spread
    x[0, :] += 60  # a row far from 0: lse - x_t must not cancel
    x[1, 1] = x[1].max() + 40  # a dominant logit: a loss near 0
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_against_mpmath(backend, dtype, eps, weighted):
    rng = _rng(1)
    rows, n = 6, 37
    x = _logits(rng, rows, n, dtype)
    t = rng.integers(0, n, rows)
    t[1] = 1
    t[3] = -100
    w = rng.random(n).astype(dtype) + 0.5 if weighted else np.ones(n, dtype)
    kw = dict(weight=w if weighted else None, label_smoothing=eps, backend=backend)
    want_loss, want_grad = _mp_cross_entropy(x, np.where(t == -100, -1, t), w, eps)
    got = fastact.cross_entropy(x, t, reduction="none", **kw)
    assert got.dtype == dtype and got.shape == (rows,)
    # a few ULP, plus the conditioning of exp(x - m) when x - m is rounded (float64)
    spread = np.max(x, axis=1) - np.min(x, axis=1)
    allowed = FORWARD_ULP + (0.5 * spread.astype(float) if dtype == np.float64 else 0)
    assert (ulp_error(got, want_loss, dtype) <= allowed).all(), (got, want_loss)
    loss, grad = fastact.cross_entropy(x, t, reduction="sum", return_grad=True, **kw)
    assert grad.dtype == dtype and grad.shape == x.shape
    # the loss from the stored exps: a few ULP, or 2**-52 absolute when tiny
    tol = FORWARD_ULP * np.spacing(dtype(abs(want_loss.sum()))) + 2.0 ** -52 * rows
    assert abs(float(loss) - want_loss.sum()) <= tol
    p = np.exp(x.astype(float) - np.log(np.sum(np.exp(x.astype(float)), 1, keepdims=True)))
    terms = p * np.sum(w) + w + np.abs(want_grad)
    assert not _grad_bad(grad, want_grad, terms, n, dtype).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_reductions_scale_the_gradient(backend, dtype):
    rng = _rng(2)
    x, t = _batch(rng, (9, 5), dtype, ignored=2)
    w = (rng.random(5) + 0.1).astype(dtype)
    none, g_none = fastact.cross_entropy(x, t, weight=w, reduction="none", return_grad=True,
                                         backend=backend)
    total, g_sum = fastact.cross_entropy(x, t, weight=w, reduction="sum", return_grad=True,
                                         backend=backend)
    mean, g_mean = fastact.cross_entropy(x, t, weight=w, reduction="mean", return_grad=True,
                                         backend=backend)
    denominator = float(np.sum(w[t[t >= 0]], dtype=np.float64))
    rtol = 4 * np.finfo(dtype).eps
    assert none[2] == 0 and np.all(g_none[2] == 0)
    np.testing.assert_allclose(total, np.sum(none, dtype=np.float64), rtol=rtol)
    np.testing.assert_allclose(mean, np.sum(none, dtype=np.float64) / denominator, rtol=rtol)
    np.testing.assert_array_equal(g_none, g_sum)
    np.testing.assert_allclose(g_mean, g_sum / dtype(denominator), rtol=rtol, atol=1e-30)


def test_cross_entropy_grad_loss_equals_loss(backend):
    rng = _rng(3)
    for dtype in DTYPES:
        x = rng.standard_normal((40, 3000)).astype(dtype)
        t = rng.integers(0, 3000, 40)
        a = fastact.cross_entropy(x, t, backend=backend)
        b, _ = fastact.cross_entropy(x, t, return_grad=True, backend=backend)
        assert abs(float(a) - float(b)) <= 4 * np.spacing(abs(a))


# ------------------------------------------------------------------ edges
def test_all_ignored_batch_is_nan_with_mean_and_zero_gradient(backend):
    x = np.ones((3, 4))
    t = np.full(3, -100)
    loss, g = fastact.cross_entropy(x, t, return_grad=True, backend=backend)
    assert np.isnan(loss) and np.all(g == 0)
    assert fastact.cross_entropy(x, t, reduction="sum", backend=backend) == 0
    assert np.all(fastact.cross_entropy(x, t, reduction="none", backend=backend) == 0)
    assert np.isnan(fastact.cross_entropy(x, t, label_smoothing=0.5, backend=backend))


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_batch(backend, dtype):
    x = np.zeros((0, 5), dtype)
    t = np.zeros(0, np.int64)
    loss, g = fastact.cross_entropy(x, t, return_grad=True, backend=backend)
    assert np.isnan(loss) and loss.dtype == dtype and g.shape == (0, 5)
    assert fastact.cross_entropy(x, t, reduction="sum", backend=backend) == 0
    assert fastact.cross_entropy(x, t, reduction="none", backend=backend).shape == (0,)
    b, gb = fastact.binary_cross_entropy_with_logits(x, x, return_grad=True, backend=backend)
    assert np.isnan(b) and gb.shape == x.shape
    assert fastact.binary_cross_entropy_with_logits(x, x, reduction="sum", backend=backend) == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_logits_stay_on_their_row(backend, dtype):
    inf, nan = np.inf, np.nan
    x = np.array([[0.0, 1.0, 2.0],
                  [-inf, 1.0, 2.0],   # -inf off target: finite
                  [-inf, 1.0, 2.0],   # -inf at the target: +inf loss, finite gradient
                  [inf, 1.0, 2.0],    # +inf: NaN
                  [nan, 1.0, 2.0],    # NaN: NaN
                  [-inf, -inf, -inf],  # nothing: NaN (PyTorch too)
                  [nan, 1.0, 2.0]], dtype)  # NaN on an ignored row: 0
    t = np.array([1, 2, 0, 1, 2, 0, -100])
    loss, g = fastact.cross_entropy(x, t, reduction="none", return_grad=True, backend=backend)
    assert np.isfinite(loss[:2]).all() and loss[2] == inf
    assert np.isnan(loss[3:6]).all() and np.isnan(g[3:6]).all() and loss[6] == 0
    assert np.all(g[6] == 0) and np.isfinite(g[:3]).all()
    np.testing.assert_allclose(g[2], [-1.0, 1 / (1 + math.e), math.e / (1 + math.e)],
                               rtol=1e-6)
    np.testing.assert_array_equal(fastact.cross_entropy(x, t, reduction="none", backend=backend),
                                  loss)


@pytest.mark.parametrize("dtype", DTYPES)
def test_each_row_as_if_alone(backend, dtype):
    """A row's loss and gradient are those of the row alone, whatever the rows around it
    hold (each row's max is taken in the previous row's pass)."""
    rng = _rng(12)
    x = (rng.standard_normal((9, 200)) * 4).astype(dtype)
    x[1, 150] = np.nan
    x[2, 70] = -np.nan
    x[3] = -np.inf
    x[4, 199] = np.inf
    x[5] = 0.0
    x[5, ::2] = -0.0
    x[6] = -0.0
    t = rng.integers(0, 200, 9)
    t[7] = -100
    for grad in (False, True):
        got = fastact.cross_entropy(x, t, reduction="none", return_grad=grad, backend=backend)
        for r in range(9):
            want = fastact.cross_entropy(x[r:r + 1], t[r:r + 1], reduction="none",
                                         return_grad=grad, backend=backend)
            for a, b in zip(got if grad else (got,), want if grad else (want,)):
                np.testing.assert_array_equal(a[r:r + 1], b)


def test_float16_in_float16_out(backend):
    x = np.array([[1.0, 2.0, 3.0]], np.float16)
    loss, g = fastact.cross_entropy(x, np.array([2]), return_grad=True, backend=backend)
    assert loss.dtype == np.float16 and g.dtype == np.float16
    want = np.log(np.exp([1.0, 2.0, 3.0]).sum()) - 3
    assert abs(float(loss) - want) < 1e-3


def test_axis_and_strides(backend):
    rng = _rng(4)
    x = rng.standard_normal((4, 6, 3))
    t = rng.integers(0, 6, (4, 3))
    loss, g = fastact.cross_entropy(x, t, axis=1, reduction="none", return_grad=True,
                                    backend=backend)
    moved = np.moveaxis(x, 1, -1)
    loss2, g2 = fastact.cross_entropy(moved, t, reduction="none", return_grad=True,
                                      backend=backend)
    np.testing.assert_array_equal(loss, loss2)
    np.testing.assert_array_equal(g, np.moveaxis(g2, -1, 1))
    xt = np.asfortranarray(x[:, :, 0])
    np.testing.assert_array_equal(
        fastact.cross_entropy(xt, t[:, 0], backend=backend),
        fastact.cross_entropy(np.ascontiguousarray(xt), t[:, 0], backend=backend))
    one = fastact.cross_entropy(x[0, :, 0], t[0, 0], reduction="none", backend=backend)
    assert np.ndim(one) == 0 and one == loss[0, 0]


def test_out_receives_the_gradient(backend):
    rng = _rng(5)
    x = rng.standard_normal((7, 9)).astype(np.float32)
    t = rng.integers(0, 9, 7)
    out = np.empty_like(x)
    loss, g = fastact.cross_entropy(x, t, return_grad=True, out=out, backend=backend)
    assert g is out
    _, want = fastact.cross_entropy(x, t, return_grad=True, backend=backend)
    np.testing.assert_array_equal(out, want)
    out3 = np.empty((4, 6, 3))
    x3 = rng.standard_normal((4, 6, 3))
    _, g3 = fastact.cross_entropy(x3, rng.integers(0, 6, (4, 3)), axis=1, return_grad=True,
                                  out=out3, backend=backend)
    assert g3 is out3 and np.isfinite(out3).all()
    bo = np.empty_like(x)
    _, gb = fastact.binary_cross_entropy_with_logits(x, x > 0, return_grad=True, out=bo,
                                                     backend=backend)
    assert gb is bo


def test_probability_targets(backend):
    rng = _rng(6)
    x = rng.standard_normal((5, 8))
    p = rng.random((5, 8))
    p /= p.sum(1, keepdims=True)
    w = rng.random(8) + 0.5
    loss, g = fastact.cross_entropy(x, p, weight=w, label_smoothing=0.1, reduction="sum",
                                    return_grad=True, backend=backend)
    want_loss, want_grad = _mp_cross_entropy_probs(x, p, w, 0.1)
    np.testing.assert_allclose(loss, want_loss.sum(), rtol=1e-14)
    np.testing.assert_allclose(g, want_grad, rtol=1e-12, atol=1e-15)
    # one-hot probabilities give the index loss
    onehot = np.eye(8)[rng.integers(0, 8, 5)]
    np.testing.assert_allclose(
        fastact.cross_entropy(x, onehot, backend=backend),
        fastact.cross_entropy(x, onehot.argmax(1), backend=backend), rtol=1e-14)
    mean = fastact.cross_entropy(x, p, weight=w, backend=backend)
    np.testing.assert_allclose(mean, fastact.cross_entropy(x, p, weight=w, reduction="sum",
                                                           backend=backend) / 5, rtol=1e-14)


def _mp_cross_entropy_probs(x, p, w, eps):
    rows, n = x.shape
    loss, grad = np.zeros(rows), np.zeros((rows, n))
    with MP.workdps(50):
        for r in range(rows):
            xs = [MP.mpf(float(v)) for v in x[r]]
            lse = MP.log(MP.fsum(MP.exp(v) for v in xs))
            q = [MP.mpf(float(p[r, c])) * (1 - MP.mpf(eps)) + MP.mpf(eps) / n for c in range(n)]
            wq = [MP.mpf(float(w[c])) * q[c] for c in range(n)]
            loss[r] = float(MP.fsum(wq[c] * (lse - xs[c]) for c in range(n)))
            for c in range(n):
                grad[r, c] = float(MP.exp(xs[c] - lse) * MP.fsum(wq) - wq[c])
    return loss, grad


@pytest.mark.parametrize("call, error, match", [
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([0, 3])), IndexError,
     "out of bounds"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([0, -1])), IndexError,
     "out of bounds"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([0, 1, 2])), ValueError,
     "shape"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.ones(2)), ValueError, "shape"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([True, False])), TypeError,
     "dtype bool"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array(["a", "b"])), TypeError,
     "class indices"),
    (lambda: fastact.cross_entropy(np.ones((2, 3), complex), np.array([0, 1])), TypeError,
     "complex"),
    (lambda: fastact.cross_entropy(np.float64(1.0), np.array(0)), ValueError, "class axis"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([0, 1]), axis=2),
     np.exceptions.AxisError, "axis"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([0, 1]), weight=np.ones(2)),
     ValueError, "weight"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([0, 1]), label_smoothing=1.5),
     ValueError, "label_smoothing"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([0, 1]), reduction="avg"),
     ValueError, "reduction"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([0, 1]), out=np.ones((2, 3))),
     TypeError, "return_grad"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([0, 1]), return_grad=True,
                                   out=np.ones((3, 2))), ValueError, "shape"),
    (lambda: fastact.cross_entropy(np.ones((2, 3)), np.array([0, 1]), return_grad=True,
                                   out=np.ones((2, 3), np.float32)), TypeError, "dtype"),
    (lambda: fastact.binary_cross_entropy_with_logits(np.ones(3), np.ones(2)), ValueError,
     "shape"),
    (lambda: fastact.binary_cross_entropy_with_logits(np.ones((2, 3)), np.ones((2, 3)),
                                                      pos_weight=np.ones(2)), ValueError,
     "broadcast"),
    (lambda: fastact.binary_cross_entropy_with_logits(np.ones(3), np.ones(3), reduction=""),
     ValueError, "reduction"),
])
def test_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------ BCE with logits
def _mp_bce(x, y, pw):
    loss, grad = np.zeros(x.size), np.zeros(x.size)
    with MP.workdps(50):
        for i, (a, b, c) in enumerate(zip(x.ravel(), y.ravel(), pw.ravel())):
            if not np.isfinite(a):
                continue
            a, b, c = MP.mpf(float(a)), MP.mpf(float(b)), MP.mpf(float(c))
            loss[i] = float((1 - b) * MP.log1p(MP.exp(a)) + c * b * MP.log1p(MP.exp(-a)))
            grad[i] = float((1 - b) / (1 + MP.exp(-a)) - c * b / (1 + MP.exp(a)))
    return loss, grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_against_mpmath(backend, dtype):
    rng = _rng(7)
    x = np.concatenate([rng.standard_normal(200) * 8, [0.0, -0.0, 30, -30, 90, -90, 700,
                                                       -700, 1e4, -1e4, 1e-30, -1e-30]])
    x = x.astype(dtype)
    for y in (np.zeros_like(x), np.ones_like(x), rng.random(x.size).astype(dtype)):
        pw = (rng.random(x.size) * 3).astype(dtype)
        want, want_grad = _mp_bce(x, y, pw)
        got, g = fastact.binary_cross_entropy_with_logits(
            x, y, pos_weight=pw, reduction="none", return_grad=True, backend=backend)
        assert got.dtype == dtype
        assert not forward_bad(got, want, dtype, exact=False).any()
        terms = np.abs(want_grad) + (1 - y) + pw * y
        assert not _grad_bad(g, want_grad, terms, 1, dtype).any()


def test_bce_infinite_logits_give_the_limits(backend):
    inf = np.inf
    x = np.array([inf, inf, -inf, -inf, np.nan])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    loss, g = fastact.binary_cross_entropy_with_logits(x, y, reduction="none",
                                                       return_grad=True, backend=backend)
    np.testing.assert_array_equal(loss, [0.0, inf, 0.0, inf, np.nan])
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0, -1.0, np.nan])


def test_bce_weights_broadcast_and_reductions(backend):
    rng = _rng(8)
    x = rng.standard_normal((6, 4))
    y = rng.random((6, 4))
    w = rng.random((6, 1))
    pw = rng.random(4) * 2
    none, g = fastact.binary_cross_entropy_with_logits(
        x, y, weight=w, pos_weight=pw, reduction="none", return_grad=True, backend=backend)
    want, want_grad = _mp_bce(x, y, np.broadcast_to(pw, x.shape))
    np.testing.assert_allclose(none, want.reshape(x.shape) * w, rtol=1e-14)
    np.testing.assert_allclose(g, want_grad.reshape(x.shape) * w, rtol=1e-13, atol=1e-16)
    mean, gm = fastact.binary_cross_entropy_with_logits(
        x, y, weight=w, pos_weight=pw, return_grad=True, backend=backend)
    np.testing.assert_allclose(mean, none.sum() / x.size, rtol=1e-14)
    np.testing.assert_allclose(gm, g / x.size, rtol=1e-15)
    total = fastact.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                                     reduction="sum", backend=backend)
    np.testing.assert_allclose(total, none.sum(), rtol=1e-14)


# ------------------------------------------------------------------ threads, backends
@pytest.mark.parametrize("dtype", DTYPES)
def test_bits_do_not_depend_on_threads(backend, dtype):
    rng = _rng(9)
    x, t = _batch(rng, (64, 3001), dtype, ignored=5)
    xb = rng.standard_normal(300_001).astype(dtype)
    yb = rng.random(300_001).astype(dtype)
    results = []
    for n in (1, 2):
        with fastact.threads(n):
            results.append((
                fastact.cross_entropy(x, t, label_smoothing=0.1, return_grad=True,
                                      backend=backend),
                fastact.cross_entropy(x, t, reduction="none", backend=backend),
                fastact.binary_cross_entropy_with_logits(xb, yb, return_grad=True,
                                                         backend=backend)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple)
                            else (b,)):
                np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_plain_call_gives_the_general_paths_bits(backend, dtype, reduction):
    """The common call (int64 targets all in range, no options) has its own short route:
    the bits of the general one (targets as a list), on 1 and 2 threads; an ignored or
    out-of-range target still takes the general route."""
    rng = _rng(11)
    x = (rng.standard_normal((64, 3001)) * 5).astype(dtype)
    t = rng.integers(0, 3001, 64)
    want = fastact.cross_entropy(x, t.tolist(), reduction=reduction, backend=backend)
    for n in (1, 2):
        with fastact.threads(n):
            got = fastact.cross_entropy(x, t, reduction=reduction, backend=backend)
        assert got.dtype == dtype and got.tobytes() == want.tobytes()
    one = fastact.cross_entropy(x[3], np.array(t[3]), reduction=reduction, backend=backend)
    assert one == fastact.cross_entropy(x[3:4], t[3:4].tolist(), reduction=reduction,
                                        backend=backend)
    t[7] = -100
    np.testing.assert_allclose(fastact.cross_entropy(x, t, backend=backend),  # 63 rows
                               fastact.cross_entropy(np.delete(x, 7, 0), np.delete(t, 7),
                                                     backend=backend), rtol=1e-5)
    with pytest.raises(IndexError, match="out of bounds"):
        fastact.cross_entropy(x, np.full(64, 3001), backend=backend)
    with pytest.raises(TypeError, match="axis must be an integer"):
        fastact.cross_entropy(x, t, axis=-1.0, backend=backend)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backends_agree_with_the_reference(backend, dtype):
    rng = _rng(10)
    x = (rng.standard_normal((33, 2500)) * 5).astype(dtype)
    t = rng.integers(0, 2500, 33)
    w = rng.random(2500).astype(dtype)
    kw = dict(weight=w, label_smoothing=0.2, reduction="none", return_grad=True)
    a, ga = fastact.cross_entropy(x, t, backend=backend, **kw)
    b, gb = fastact.cross_entropy(x, t, backend="numpy", **kw)
    rtol = 64 * np.finfo(dtype).eps
    np.testing.assert_allclose(a, b, rtol=rtol)
    np.testing.assert_allclose(ga, gb, rtol=rtol, atol=float(np.abs(gb).max()) * rtol)


# ------------------------------------------------------------------ PyTorch


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_matches_pytorch(backend, dtype, reduction, eps, weighted):
    th = _torch()
    F = th.nn.functional
    rng = _rng(11)
    x = rng.standard_normal((12, 7)).astype(dtype)
    x[4, 2] = -np.inf
    t = rng.integers(0, 7, 12)
    t[[1, 7]] = -100
    w = (rng.random(7) + 0.2).astype(dtype) if weighted else None
    loss, g = fastact.cross_entropy(x, t, weight=w, label_smoothing=eps, reduction=reduction,
                                    return_grad=True, backend=backend)
    xt = th.tensor(x, requires_grad=True)
    want = F.cross_entropy(xt, th.tensor(t), weight=None if w is None else th.tensor(w),
                           label_smoothing=eps, reduction=reduction)
    want.sum().backward()
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(loss, want.detach().numpy(), **tol)
    np.testing.assert_allclose(g, xt.grad.numpy(), **tol)


@pytest.mark.parametrize("eps", [0.0, 0.4])
def test_cross_entropy_matches_pytorch_probabilities_and_axes(backend, eps):
    th = _torch()
    F = th.nn.functional
    rng = _rng(12)
    x = rng.standard_normal((3, 5, 4, 2))  # PyTorch's (N, C, d1, d2)
    p = rng.random(x.shape)
    p /= p.sum(1, keepdims=True)
    t = rng.integers(0, 5, (3, 4, 2))
    for target, tt in ((p, th.tensor(p)), (t, th.tensor(t))):
        loss, g = fastact.cross_entropy(x, target, axis=1, label_smoothing=eps,
                                        return_grad=True, backend=backend)
        xt = th.tensor(x, requires_grad=True)
        want = F.cross_entropy(xt, tt, label_smoothing=eps)
        want.backward()
        np.testing.assert_allclose(loss, want.item(), rtol=1e-13)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_pytorch(backend, dtype, reduction):
    th = _torch()
    F = th.nn.functional
    rng = _rng(13)
    x = (rng.standard_normal((50, 6)) * 10).astype(dtype)
    y = rng.random((50, 6)).astype(dtype)
    w = rng.random((50, 1)).astype(dtype)
    pw = (rng.random(6) * 3).astype(dtype)
    for kw in ({}, {"weight": w, "pos_weight": pw}):
        loss, g = fastact.binary_cross_entropy_with_logits(x, y, reduction=reduction,
                                                           return_grad=True, backend=backend,
                                                           **kw)
        xt = th.tensor(x, requires_grad=True)
        want = F.binary_cross_entropy_with_logits(xt, th.tensor(y), reduction=reduction,
                                                  **{k: th.tensor(v) for k, v in kw.items()})
        want.sum().backward()
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12,
                                                                          atol=1e-14)
        np.testing.assert_allclose(loss, want.detach().numpy(), **tol)
        np.testing.assert_allclose(g, xt.grad.numpy(), **tol)


def test_all_ignored_matches_pytorch():
    th = _torch()
    want = th.nn.functional.cross_entropy(th.ones(3, 4), th.full((3,), -100))
    assert math.isnan(want.item())
    assert np.isnan(fastact.cross_entropy(np.ones((3, 4)), np.full(3, -100)))


def test_gradient_in_place_and_overlapping_out(backend):
    rng = _rng(14)
    for shape, ax in (((6, 300), -1), ((3, 40, 2), 1)):
        x = rng.standard_normal(shape)
        t = rng.integers(0, shape[ax], tuple(s for i, s in enumerate(shape) if i != ax % len(shape)))
        want_loss, want = fastact.cross_entropy(x, t, axis=ax, label_smoothing=0.1,
                                                return_grad=True, backend=backend)
        inplace = x.copy()
        loss, g = fastact.cross_entropy(inplace, t, axis=ax, label_smoothing=0.1,
                                        return_grad=True, out=inplace, backend=backend)
        assert g is inplace and loss == want_loss
        np.testing.assert_array_equal(inplace, want)
    x = rng.standard_normal(1000)
    buf = np.concatenate([x, [0.0]])
    want_loss, want = fastact.binary_cross_entropy_with_logits(x, x > 0, return_grad=True,
                                                               backend=backend)
    loss, g = fastact.binary_cross_entropy_with_logits(buf[:-1], x > 0, return_grad=True,
                                                       out=buf[1:], backend=backend)
    assert loss == want_loss
    np.testing.assert_array_equal(g, want)


def test_cython_losses_same_bits_on_every_isa_variant(tmp_path):
    """The loss kernels give the same bits on every ISA build of the Cython backend
    (each variant in its own interpreter, FASTACT_CYTHON_ISA)."""
    from tests._subprocess import assert_same_bits_on_isa_variants

    if "cython" not in fastact.backends():
        pytest.skip("the cython backend is not available here")
    code = f"""
        import numpy as np, fastact
        rng = np.random.default_rng(5)
        out = {{}}
        for dt in (np.float32, np.float64):
            x = (rng.standard_normal((70, 5003)) * 6).astype(dt)
            x[1, 7] = -np.inf; x[2, 9] = np.nan; x[3, :] = -1e30
            t = rng.integers(0, 5003, 70); t[4] = -100
            w = rng.random(5003).astype(dt)
            for eps in (0.0, 0.3):
                loss, g = fastact.cross_entropy(x, t, weight=w, label_smoothing=eps,
                                                reduction="none", return_grad=True,
                                                backend="cython")
                out[f"ce {{eps}} {{np.dtype(dt).name}}"] = loss
                out[f"ce grad {{eps}} {{np.dtype(dt).name}}"] = g
                out[f"ce fwd {{eps}} {{np.dtype(dt).name}}"] = fastact.cross_entropy(
                    x, t, weight=w, label_smoothing=eps, reduction="none", backend="cython")
            xb = (rng.standard_normal(100_003) * 20).astype(dt)
            yb = rng.random(100_003).astype(dt)
            loss, g = fastact.binary_cross_entropy_with_logits(
                xb, yb, pos_weight=yb + 1, reduction="sum", return_grad=True, backend="cython")
            out[f"bce {{np.dtype(dt).name}}"] = np.array([loss])
            out[f"bce grad {{np.dtype(dt).name}}"] = g
        np.savez(r"{tmp_path}/" + fastact.config()["backends"]["cython"]["variant"] + ".npz",
                 **out)
    """
    assert_same_bits_on_isa_variants(code, tmp_path)
