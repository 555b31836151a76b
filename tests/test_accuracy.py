"""Every registry entry x its parameter sets x float32/float64 x backend against mpmath.

Bars: piecewise-linear forward exact; smooth forward <= 4 ULP where
the true value is normal, else absolute error < smallest normal; derivative
and backward (from x, and from y where the entry allows it) within
|grad| * (16 eps |f'| + 4 eps).  See ``_oracle`` for the grid and the oracle.
"""
import numpy as np
import pytest

import fastact
from tests._arrays import CASES, FLOATS
from tests._oracle import derivative_bad, describe, exact_ulp_bad, forward_bad

DTYPES = [pytest.param(np.dtype(d), id=np.dtype(d).name) for d in FLOATS]
CASE_PARAMS = [pytest.param(c, id=c.id) for c in CASES]
Y_CASE_PARAMS = [pytest.param(c, id=c.id) for c in CASES if c.accepts_y]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_forward(case, dtype, backend, oracle):
    t = oracle.table(case, dtype)
    got = fastact.get(case.name, **case.kwargs).forward(t["x"], backend=backend)
    assert got.dtype == dtype
    bad = forward_bad(got, t["f"], dtype, exact=not case.smooth)
    assert not bad.any(), f"{case} {dtype} [{backend}] forward\n" + describe(t["x"], got, t["f"], bad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_derivative(case, dtype, backend, oracle):
    t = oracle.table(case, dtype)
    got = fastact.derivative(case.name, t["x"], backend=backend, **case.kwargs)
    assert got.dtype == dtype
    bad = derivative_bad(got, t["d"], dtype)
    assert not bad.any(), f"{case} {dtype} [{backend}] derivative\n" + describe(
        t["x"], got, t["d"], bad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_backward_from_x(case, dtype, backend, oracle):
    t = oracle.table(case, dtype)
    true = t["grad"].astype(np.float64) * t["d"]
    got = fastact.backward(case.name, t["grad"], t["x"], backend=backend, **case.kwargs)
    assert got.dtype == dtype
    bad = derivative_bad(got, true, dtype, grad=t["grad"])
    assert not bad.any(), f"{case} {dtype} [{backend}] backward(x)\n" + describe(
        t["x"], got, true, bad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", Y_CASE_PARAMS)
def test_backward_from_y(case, dtype, backend, oracle):
    """y is the correctly rounded f(x); grad * f'(y) must match grad * f'(x)."""
    t = oracle.table(case, dtype)
    y = t["f"].astype(dtype)
    true = t["grad"].astype(np.float64) * t["d"]
    got = fastact.backward(case.name, t["grad"], y=y, backend=backend, **case.kwargs)
    assert got.dtype == dtype
    bad = derivative_bad(got, true, dtype, grad=t["grad"])
    assert not bad.any(), f"{case} {dtype} [{backend}] backward(y)\n" + describe(
        t["x"], got, true, bad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_backward_is_grad_times_derivative(case, dtype, backend, oracle):
    """backward is a multiplication grad * f'(x): inf * 0 gives NaN, NaN propagates, and the
    values match grad * derivative up to the rounding of f' (a fused kernel may skip it).

    Where f'(x) is not 0 but underflows to 0 in the dtype, inf * f' may be inf (computed
    from the unrounded f') or NaN (from the rounded one): both are accepted there.
    """
    t = oracle.table(case, dtype)
    x = t["x"]
    d = fastact.derivative(case.name, x, backend=backend, **case.kwargs)
    eps, tiny = float(np.finfo(dtype).eps), float(np.finfo(dtype).smallest_normal)
    for grad in (t["grad"], np.full_like(x, np.inf), np.full_like(x, -np.inf),
                 np.full_like(x, np.nan), np.zeros_like(x)):
        got = fastact.backward(case.name, grad, x, backend=backend, **case.kwargs)
        with np.errstate(all="ignore"):
            want = (grad * d).astype(np.float64)
            g = got.astype(np.float64)
            ok = (g == want) | (np.isnan(g) & np.isnan(want)) | (
                np.isfinite(want) & (np.abs(g - want) <= 2 * eps * np.abs(want) + tiny))
            ok |= np.isinf(grad) & (d == 0) & (t["d"] != 0) & ~np.isfinite(g)
        assert ok.all(), f"{case} {dtype} [{backend}] grad={grad[0]}\n" + describe(
            x, got, want, ~ok)


def _accuracy_grid_part(lo, hi):
    """The points of ``fastact accuracy``'s linear grid (8001 on [-10, 10]) in [lo, hi]."""
    x = np.linspace(-10.0, 10.0, 8001)
    return x[(x >= lo) & (x <= hi)]


SWISH_BETA_F32 = float(np.float32(1.7))

# Tails where fastact once broke its accuracy, held to an error bar in ULP of the exact
# value where it is normal (else an absolute error < the smallest normal), for the
# derivative as well: (name, kwargs, dtype, mode, x, ulps)
TAIL_CASES = [
    # x Phi(x) and gelu' in the lower tail down to underflow: R(y) = Phi(-y) e^(y^2/2) and
    # x R in double-double, t = c/(c + y) corrected for its rounding
    ("gelu", {}, "float64", "forward", _accuracy_grid_part(-10.0, -3.0), 2),
    ("gelu", {}, "float64", "forward", np.linspace(-38.5, -10.0, 341), 2),
    ("gelu", {}, "float64", "derivative", _accuracy_grid_part(-10.0, -3.0), 2),
    ("gelu", {}, "float64", "derivative", np.linspace(-38.5, -30.0, 341), 2),
    # sigmoid-based derivatives down to underflow: no clamp of u may change a value, and
    # u e^u must not be rounded through a subnormal e^u (silu'(-714) is normal)
    *[(name, kw, "float64", "derivative", np.concatenate(
        [np.linspace(-745.0, -200.0, 110), np.linspace(-716.0, -707.0, 37)]), 4)
      for name, kw in [("softplus", {}), ("swish", {"beta": 1.0}), ("silu", {})]],
    *[(name, kw, "float32", "derivative", np.linspace(-104.0, -80.0, 97), 4)
      for name, kw in [("softplus", {}), ("swish", {"beta": 1.0}), ("silu", {})]],
    # the sigmoid family's one exponential, scaled so that x e^x is rounded once: silu and
    # swish forward where e^x is subnormal but x e^x is not, sigmoid' down to underflow
    *[(name, kw, "float32", "forward", np.linspace(-104.0, -80.0, 97), 4)
      for name, kw in [("silu", {}), ("swish", {"beta": 1.0}), ("sigmoid", {})]],
    *[(name, kw, "float64", "forward", np.linspace(-745.0, -700.0, 91), 4)
      for name, kw in [("silu", {}), ("swish", {"beta": 1.0}), ("sigmoid", {})]],
    ("sigmoid", {}, "float32", "derivative", np.linspace(-87.0, 87.0, 349), 4),
    # where e^-|x| is below 2^-32 (float32) it is taken as 0 in the sums it only adds to
    *[(name, {}, "float32", mode, np.concatenate([np.linspace(-104.0, -80.0, 97),
                                                  np.linspace(30.0, 95.0, 131)]), 4)
      for name in ("mish", "silu") for mode in ("forward", "derivative")],
    *[(name, {}, "float64", mode, np.concatenate([np.linspace(-745.0, -700.0, 91),
                                                  np.linspace(60.0, 760.0, 141)]), 4)
      for name, mode in (("mish", "forward"), ("silu", "forward"), ("silu", "derivative"))],
    # float32 gelu in float arithmetic: the lower tail down to underflow, both pieces of R
    ("gelu", {}, "float32", "forward", np.linspace(-14.0, -0.25, 551), 4),
    ("gelu", {}, "float32", "derivative", np.linspace(-14.0, -1.5, 501), 4),
    # float32 gelu_tanh: 2u as a float pair, x not clamped (selects beyond +-30), 2u clamped
    # from above by a difference; the lower tail down to underflow
    ("gelu", {"approximate": "tanh"}, "float32", "forward",
     np.concatenate([np.linspace(-11.5, -0.25, 461), np.linspace(0.25, 40.0, 160)]), 4),
    # swish with a beta inexact in float32: beta x carried with its rounding error
    *[("swish", {"beta": SWISH_BETA_F32}, "float32", mode,
       np.append(np.linspace(-60.0, -3.0, 229), -22.6), 4) for mode in ("forward", "derivative")],
]


@pytest.mark.parametrize("name, kwargs, dtype, mode, x, ulps", [
    pytest.param(*c, id=f"{c[0]}-{c[2]}-{c[3]}-{c[4][0]:g}..{c[4][-1]:g}") for c in TAIL_CASES])
def test_tails_within_ulp_bar(name, kwargs, dtype, mode, x, ulps, backend, oracle):
    x = x.astype(dtype)
    exact = oracle.points(name, kwargs, x, mode)
    if mode == "forward":
        results = {"forward": fastact.get(name, **kwargs).forward(x, backend=backend)}
    else:
        results = {"derivative": fastact.derivative(name, x, backend=backend, **kwargs),
                   "backward": fastact.backward(name, np.ones_like(x), x, backend=backend,
                                                **kwargs)}
    for what, got in results.items():
        bad = exact_ulp_bad(got, exact, dtype, ulps)
        assert not bad.any(), f"{name} {dtype} [{backend}] {what}, bar {ulps} ULP\n" + describe(
            x, got, exact[0], bad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.3, 1.7])
def test_celu_backward_from_y_where_one_over_alpha_rounds(alpha, dtype, backend):
    """celu' from y is y (1 / alpha) + 1: within the derivative bar where 1 / alpha is
    not exact (the registry's examples use powers of two), y = -alpha .. 1."""
    import mpmath

    x = np.linspace(-40.0 * alpha, 1.0, 401).astype(dtype)
    y = fastact.celu(x, alpha=alpha, backend="numpy")
    with mpmath.workdps(30):
        true = np.array([1.0 if v > 0 else float(mpmath.exp(mpmath.mpf(float(v)) / alpha))
                         for v in x])
    got = fastact.backward("celu", np.ones_like(y), y=y, alpha=alpha, backend=backend)
    bad = derivative_bad(got, true, dtype)
    assert not bad.any(), f"celu alpha={alpha} {dtype} [{backend}] backward(y)\n" + describe(
        x, got, true, bad)


# (name, x, f'(x)) at the kinks: the one-sided values PyTorch's autograd gives
KINK_DERIVATIVES = [
    ("hardswish", -3.0, 0.0),
    ("hardswish", 3.0, 1.5),
    ("hardsigmoid", -3.0, 0.0),
    ("hardsigmoid", 3.0, 0.0),
    ("relu", 0.0, 0.0),
    ("relu6", 6.0, 0.0),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, x, want", KINK_DERIVATIVES)
def test_derivative_at_kinks_is_pytorchs(name, x, want, dtype, backend):
    got = fastact.derivative(name, np.array([x, x], dtype), backend=backend)
    assert got.tolist() == [want, want], f"{name}'({x}) [{backend}] {dtype}: {got}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_keeps_the_sign_of_zeros_and_tiny_negatives(dtype, backend):
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([-0.0, 0.0, -tiny, tiny, -1e-30], dtype)
    got = fastact.gelu(x, backend=backend)
    assert np.signbit(got).tolist() == [True, False, True, False, True], f"{backend}: {got}"


def test_gelu_tanh_upper_tail_is_x_and_its_slope_one(backend):
    """Where 2u >= 60 (x >= 9) e^-2u is below half an ULP of 1 in both types: gelu_tanh(x)
    is x and its derivative 1 exactly (the kernels clamp 2u there, keeping e^-2u normal)."""
    for dt in (np.float32, np.float64):
        x = np.linspace(9.0, 40.0, 20001).astype(dt)
        np.testing.assert_array_equal(fastact.gelu(x, approximate="tanh", backend=backend), x)
        np.testing.assert_array_equal(
            fastact.derivative("gelu", x, approximate="tanh", backend=backend), np.ones_like(x))
