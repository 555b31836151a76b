"""Every registry entry x its parameter sets x float32/float64 x backend against mpmath.

Bars (issue 2): piecewise-linear forward exact; smooth forward <= 4 ULP where
the true value is normal, else absolute error < smallest normal; derivative
and backward (from x, and from y where the entry allows it) within
|grad| * (16 eps |f'| + 4 eps).  See ``_oracle`` for the grid and the oracle.
"""
import numpy as np
import pytest

import fastact
from _arrays import CASES, FLOATS
from _oracle import derivative_bad, describe, forward_bad

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
    """backward is exactly one multiplication: grad * f'(x), inf * 0 giving NaN."""
    t = oracle.table(case, dtype)
    x = t["x"]
    d = fastact.derivative(case.name, x, backend=backend, **case.kwargs)
    for grad in (t["grad"], np.full_like(x, np.inf), np.full_like(x, np.nan)):
        got = fastact.backward(case.name, grad, x, backend=backend, **case.kwargs)
        with np.errstate(all="ignore"):
            want = grad * d
        np.testing.assert_array_equal(got, want, err_msg=f"{case} {dtype} [{backend}]")
