"""Plain-NumPy implementations: the ``"numpy"`` backend and the test oracle's twin.

Every kernel id of the registry has an entry in :data:`KERNELS` with
``forward(x, *params)``, ``derivative(x, *params)`` and, where the registry
allows it, ``derivative_y(y, *params)``.  They take a float32/float64 array and
return an array of the same dtype.  They are written for accuracy over the
whole float range (stable tails, exact limits at +-inf, NaN propagating), not
for speed; :func:`elementwise` adds NaN propagation and the +-inf limits in one
place so the formulas stay readable.

The only non-NumPy routine needed is the complementary error function (and
its scaled form) for GELU, taken from ``scipy.special`` on first use.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ._constants import LOSS_SUM_BLOCK as _LOSS_SUM_BLOCK
from ._constants import SOFTMAX_LANES as _SOFTMAX_LANES
from ._registry import GELU_TANH_C, GELU_TANH_K, QUICK_GELU_BETA, SELU_ALPHA, SELU_SCALE


@dataclass(frozen=True)
class RefKernel:
    forward: Callable
    derivative: Callable
    derivative_y: Optional[Callable] = None
    # f(-inf), f(+inf) and f'(-inf), f'(+inf) where the formula would give NaN;
    # a callable receives the numeric parameters.
    forward_limits: Optional[Callable] = None
    derivative_limits: Optional[Callable] = None


def _scipy_special():
    import scipy.special  # deferred: only GELU needs it, and it is slow to import

    return scipy.special


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def _softplus0(u):
    """log(1 + exp(u)) without overflow."""
    return np.maximum(u, 0) + np.log1p(np.exp(-np.abs(u)))


_LD = np.longdouble
_LD_INV_SQRT_2PI = _LD("0.398942280401432677939946059934381868475858631164934657666")
_LD_INV_SQRT_2 = _LD("0.707106781186547524400844362104849039284835937688474036588")


def _mills_ratio(y):
    """Phi(-y) / phi(y) for y >= 3 in long double: Laplace's continued fraction
    1/(y + 1/(y + 2/(y + ...))), 100 terms (converged to long double precision)."""
    d = y.copy()
    for k in range(100, 0, -1):
        d = y + k / d
    return 1 / d


def _normal_cdf(x):
    """Phi(x) in long double, within ~1 float64 ULP.

    |x| <= 3: Phi = 1/2 + phi(x) * sum x^(2n+1) / (2n+1)!!  (long double absorbs the
    cancellation for x < 0); x < -3: phi(x) times the Mills ratio (a continued fraction),
    all in long double, so exp(-x^2/2) keeps its accuracy; x > 3: erfc.
    """
    sp = _scipy_special()
    x64 = x.astype(np.float64, copy=False)
    xl = x64.astype(_LD)
    phi = np.exp(-0.5 * xl * xl) * _LD_INV_SQRT_2PI
    xs = np.clip(xl, -3, 3)
    term = xs.copy()
    total = xs.copy()
    x2 = xs * xs
    for k in range(1, 70):
        term = term * x2 / (2 * k + 1)
        total += term
    series = 0.5 + phi * total
    with np.errstate(invalid="ignore"):
        tail = phi * _mills_ratio(np.fmax(-xl, 3))
    upper = 0.5 * sp.erfc(-x64 * float(_LD_INV_SQRT_2)).astype(_LD)
    return np.where(np.abs(x64) <= 3, series, np.where(x64 < 0, tail, upper))


def _tanh_d(x):
    """tanh'(x) = 1 - tanh(x)^2 = 4e / (1 + e)^2, e = exp(-2|x|), in long double (no
    cancellation, and normal down to float64's underflow)."""
    e = np.exp(-2 * np.abs(x.astype(_LD)))
    return (4 * e / (1 + e) ** 2).astype(x.dtype)


def _exp_neg_half_square(x):
    return np.exp(-0.5 * x.astype(_LD) ** 2)


def _gelu(x):
    return (x.astype(_LD) * _normal_cdf(x)).astype(x.dtype)


def _gelu_d(x):
    xl = x.astype(_LD)
    return (_normal_cdf(x) + xl * _exp_neg_half_square(x) * _LD_INV_SQRT_2PI).astype(x.dtype)


def _gelu_tanh_u2(x):
    """2u = 2 sqrt(2/pi) (x + k x^3), in extended precision (the tail is sensitive to u)."""
    xl = x.astype(np.longdouble)
    return 2 * np.longdouble(GELU_TANH_C) * (xl + np.longdouble(GELU_TANH_K) * xl**3)


def _gelu_tanh(x):
    # x/2 (1 + tanh u) = x * sigmoid(2u): no cancellation in the lower tail
    return (x.astype(np.longdouble) * _sigmoid(_gelu_tanh_u2(x))).astype(x.dtype)


def _gelu_tanh_d(x):
    xl = x.astype(np.longdouble)
    s = _sigmoid(_gelu_tanh_u2(x))
    sn = _sigmoid(-_gelu_tanh_u2(x))
    du = 2 * np.longdouble(GELU_TANH_C) * (1 + 3 * np.longdouble(GELU_TANH_K) * xl * xl)
    return (s + xl * s * sn * du).astype(x.dtype)


# x - tanh(x) = sum c_k x^(2k+1) for |x| < pi/2; seven terms suffice below 0.1
_TANHSHRINK_SERIES = (
    1 / 3, -2 / 15, 17 / 315, -62 / 2835, 1382 / 155925, -21844 / 6081075, 929569 / 638512875,
)


def _tanhshrink(x):
    x64 = x.astype(np.float64, copy=False)
    x2 = x64 * x64
    series = np.zeros_like(x64)
    for c in reversed(_TANHSHRINK_SERIES):
        series = series * x2 + c
    series *= x2 * x64
    xl = x.astype(np.longdouble)
    direct = (xl - np.tanh(xl)).astype(np.float64)
    return np.where(np.abs(x64) < 0.1, series, direct).astype(x.dtype, copy=False)


def _mish(x):
    e = np.exp(np.minimum(x, 20))
    n = e * (e + 2)
    return np.where(x > 20, x, x * (n / (n + 2)))


def _mish_d(x):
    e = np.exp(np.minimum(x, 20))
    n = e * (e + 2)
    t = np.where(x > 20, 1, n / (n + 2))
    return t + x * _sigmoid(x) * (1 - t) * (1 + t)


def _wide(f):
    """f evaluated in long double: x * sigmoid(x) near the underflow threshold would
    otherwise multiply by a subnormal (losing digits of a normal result), and
    beta * x would overflow to inf in swish'(x) (inf * 0 = NaN)."""
    return lambda x, *p: f(x.astype(_LD), *p).astype(x.dtype)


def _hardsigmoid(x):
    return np.clip(x + 3, 0, 6) / 6


def _between(x, lo, hi):
    return ((x > lo) & (x < hi)).astype(x.dtype)


def _ones(x, *_):
    return np.ones_like(x)


def _step(x, t=0.0):
    return (x > t).astype(x.dtype)


def _slope(x, lo, hi_where):
    return np.where(hi_where, 1, lo).astype(x.dtype)


KERNELS: dict = {
    "identity": RefKernel(lambda x: x.copy(), _ones, _ones),
    "relu": RefKernel(lambda x: np.maximum(x, 0), _step, _step),
    "leaky_relu": RefKernel(
        lambda x, a: np.where(x > 0, x, x * a),
        lambda x, a: _slope(x, a, x > 0),
        lambda y, a: _slope(y, a, y > 0),
    ),
    "sigmoid": RefKernel(
        _sigmoid,
        lambda x: _sigmoid(x) * _sigmoid(-x),
        lambda y: y * (1 - y),
    ),
    "tanh": RefKernel(np.tanh, _tanh_d, lambda y: (1 - y) * (1 + y)),
    "gelu": RefKernel(_gelu, _gelu_d, forward_limits=lambda: (-0.0, np.inf),
                      derivative_limits=lambda: (0.0, 1.0)),
    "gelu_tanh": RefKernel(_gelu_tanh, _gelu_tanh_d, forward_limits=lambda: (-0.0, np.inf),
                           derivative_limits=lambda: (0.0, 1.0)),
    "silu": RefKernel(
        _wide(lambda x: x * _sigmoid(x)),
        _wide(lambda x: _sigmoid(x) * (1 + x * _sigmoid(-x))),
        forward_limits=lambda: (-0.0, np.inf),
        derivative_limits=lambda: (0.0, 1.0),
    ),
    "swish": RefKernel(
        _wide(lambda x, b: x * _sigmoid(b * x)),
        _wide(lambda x, b: _sigmoid(b * x) * (1 + b * x * _sigmoid(-b * x))),
        forward_limits=lambda b: (-0.0, np.inf) if b > 0 else (
            (-np.inf, np.inf) if b == 0 else (-np.inf, 0.0)),
        derivative_limits=lambda b: (0.0, 1.0) if b > 0 else ((0.5, 0.5) if b == 0 else (1.0, 0.0)),
    ),
    "quick_gelu": RefKernel(
        _wide(lambda x: x * _sigmoid(QUICK_GELU_BETA * x)),
        _wide(lambda x: _sigmoid(QUICK_GELU_BETA * x)
              * (1 + QUICK_GELU_BETA * x * _sigmoid(-QUICK_GELU_BETA * x))),
        forward_limits=lambda: (-0.0, np.inf),
        derivative_limits=lambda: (0.0, 1.0),
    ),
    "elu": RefKernel(
        lambda x, a: np.where(x > 0, x, a * np.expm1(x)),
        lambda x, a: np.where(x > 0, 1, a * np.exp(x)),
        lambda y, a: np.where(y > 0, 1, y + a),
    ),
    "selu": RefKernel(
        lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
        lambda x: np.where(x > 0, SELU_SCALE, (SELU_SCALE * SELU_ALPHA) * np.exp(x)),
        lambda y: np.where(y > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA),
    ),
    "celu": RefKernel(
        lambda x, a: np.where(x > 0, x, a * np.expm1(x / a)),
        lambda x, a: np.where(x > 0, 1, np.exp(x / a)),
        lambda y, a: np.where(y > 0, 1, y / a + 1),
    ),
    "softplus": RefKernel(
        lambda x, b, t: np.where(x * b > t, x, _softplus0(x * b) / b),
        lambda x, b, t: np.where(x * b > t, 1, _sigmoid(x * b)),
    ),
    "mish": RefKernel(_wide(_mish), _mish_d, forward_limits=lambda: (-0.0, np.inf),
                      derivative_limits=lambda: (0.0, 1.0)),
    "hardsigmoid": RefKernel(
        _hardsigmoid,
        lambda x: _between(x, -3, 3) / 6,
        lambda y: _between(y, 0, 1) / 6,
    ),
    "hardswish": RefKernel(
        lambda x: x * _hardsigmoid(x),
        lambda x: np.where(x <= -3, 0, np.where(x <= 3, (2 * x + 3) / 6, 1)),
        forward_limits=lambda: (-0.0, np.inf),
    ),
    "hardtanh": RefKernel(
        lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
        lambda x, lo, hi: _between(x, lo, hi),
        lambda y, lo, hi: _between(y, lo, hi),
    ),
    "relu6": RefKernel(
        lambda x: np.minimum(np.maximum(x, 0), 6),
        lambda x: _between(x, 0, 6),
        lambda y: _between(y, 0, 6),
    ),
    "logsigmoid": RefKernel(
        lambda x: np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))),
        lambda x: _sigmoid(-x),
        lambda y: -np.expm1(y),
    ),
    "softsign": RefKernel(
        lambda x: x / (1 + np.abs(x)),
        lambda x: 1 / (1 + np.abs(x)) ** 2,
        lambda y: (1 - np.abs(y)) ** 2,
        forward_limits=lambda: (-1.0, 1.0),
    ),
    "tanhshrink": RefKernel(_tanhshrink, lambda x: np.tanh(x) ** 2),
    "threshold": RefKernel(
        lambda x, t, v: np.where(x > t, x, v),
        lambda x, t, v: _step(x, t),
    ),
    "hardshrink": RefKernel(
        lambda x, l: np.where(np.abs(x) > l, x, 0),
        lambda x, l: _step(np.abs(x), l),
        lambda y, l: (y != 0).astype(y.dtype),
    ),
    "softshrink": RefKernel(
        lambda x, l: np.where(x > l, x - l, np.where(x < -l, x + l, 0)),
        lambda x, l: _step(np.abs(x), l),
        lambda y, l: (y != 0).astype(y.dtype),
    ),
}


def _apply_limits(r, x, limits):
    if limits is not None:
        neg, pos = limits
        r = np.where(x == -np.inf, neg, np.where(x == np.inf, pos, r))
    return r


def evaluate(kernel_id: str, mode: str, x, params: tuple = ()):
    """f(x) (mode "forward"), f'(x) ("derivative") or f' from y ("derivative_y").

    Returns a new array of x's dtype; NaN in x gives NaN.
    """
    k = KERNELS[kernel_id]
    if x.dtype == np.float32:
        # Computed in float64 (no subnormal intermediates near float32's underflow
        # threshold) with the parameters rounded to float32, as the kernels see them.
        params = tuple(float(np.float32(p)) for p in params)
        r = evaluate(kernel_id, mode, x.astype(np.float64), params)
        with np.errstate(over="ignore"):  # selu(3e38) is inf in float32, silently
            return r.astype(np.float32)
    with np.errstate(all="ignore"):
        if mode == "forward":
            r = k.forward(x, *params)
            limits = k.forward_limits(*params) if k.forward_limits else None
        elif mode == "derivative":
            r = k.derivative(x, *params)
            limits = k.derivative_limits(*params) if k.derivative_limits else None
        elif mode == "derivative_y":
            r = k.derivative_y(x, *params)
            limits = None
        else:  # pragma: no cover - dispatch never asks for anything else
            raise ValueError(mode)
        r = _apply_limits(np.asarray(r), x, limits)
        r = np.where(np.isnan(x), x, r)
    return r.astype(x.dtype, copy=False)


# ------------------------------------------------------------- backend interface
NAME = "numpy"


def config() -> dict:
    return {"numpy": np.__version__, "threads": "1 (NumPy ufuncs are single-threaded)"}


def get_elementwise(kernel_id, mode):
    """The backend entry point for elementwise kernels (see ``_backends``)."""
    if kernel_id not in KERNELS:
        raise KeyError(kernel_id)
    return lambda out, x, grad, params, n_threads: _elementwise(
        kernel_id, mode, out, x, grad, params
    )


def _elementwise(kernel_id, mode, out, x, grad, params):
    if mode == "forward":
        np.copyto(out, evaluate(kernel_id, "forward", x, params))
    elif mode == "derivative":
        np.copyto(out, evaluate(kernel_id, "derivative", x, params))
    elif mode == "backward":
        d = evaluate(kernel_id, "derivative", x, params)
        with np.errstate(all="ignore"):  # inf * 0 is NaN, silently
            np.multiply(grad, d, out=out)
    else:  # "backward_y": x holds y
        d = evaluate(kernel_id, "derivative_y", x, params)
        with np.errstate(all="ignore"):  # inf * 0 is NaN, silently
            np.multiply(grad, d, out=out)


# --------------------------------------------------------------- softmax family
def _row_max_and_rest(x, mask, carry=False):
    """Row maximum m, z = x - m rounded, its rounding error dz (0 unless ``carry``),
    and s = sum over the row except one argmax of exp(z + dz).

    Masked entries count as -inf.  Rows whose entries are all -inf (or masked)
    get m = -inf and s = 0.  ``carry`` (the log ops) carries x - m exactly into the
    exps, as the kernels do: its rounding, |z| u, would be a relative error of each
    exp and of s, and log_softmax near the max is about -s.
    """
    if mask is not None:
        x = np.where(mask, x, -np.inf)
    with np.errstate(all="ignore"):
        m = np.max(x, axis=-1, keepdims=True)
        empty = m == -np.inf
        m_safe = np.where(empty, 0, m)
        z = x - m_safe
        e = np.exp(z)
        dz = np.zeros_like(z)
        if carry:  # TwoSum's exact error of x - m (NaN where x = -inf, whose e is 0)
            back = z - x
            dz = np.where(e != 0, (x - (z - back)) + (-m_safe - back), 0.0)
            e += e * dz
        arg = np.argmax(x, axis=-1)[..., None]
        np.put_along_axis(e, arg, 0, axis=-1)
        # contiguous rows: NumPy sums them pairwise (a strided axis is summed in order)
        s = np.sum(np.ascontiguousarray(e), axis=-1, keepdims=True)
    return x, z, dz, m, empty, s


def get_rowwise(op):
    """The backend entry point for the softmax family: 2-D (rows, n) arrays reduced
    over their last axis, or 3-D (outer, n, inner) arrays reduced over axis 1."""

    def kernel(out, x, grad, mask, n_threads):
        if x.ndim == 3:  # the same along the last axis of (outer, inner, n) views
            x, grad, mask = (None if a is None else a.transpose(0, 2, 1) for a in (x, grad, mask))
            if op != "logsumexp":
                out = out.transpose(0, 2, 1)
        _rowwise(op, out, x, grad, mask)

    return kernel


def _rowwise(op, out, x, grad, mask):
    if x.dtype == np.float32:  # computed in float64 and rounded once, like the elementwise ops
        x = x.astype(np.float64)
        grad = None if grad is None else grad.astype(np.float64)
    with np.errstate(all="ignore"):
        if op == "softmax_backward":
            y = x
            dot = np.sum(grad * y, axis=-1, keepdims=True)
            np.multiply(y, grad - dot, out=out)
            return
        if op == "log_softmax_backward":
            y = x
            total = np.sum(grad, axis=-1, keepdims=True)
            np.subtract(grad, np.exp(y) * total, out=out)
            return
        if op == "softmin":
            x = -x
        carry = op in ("log_softmax", "logsumexp")
        x, z, dz, m, empty, s = _row_max_and_rest(x, mask, carry)
        has_inf = m == np.inf  # a +inf logit: softmax is undefined on that row
        if op in ("softmax", "softmin"):
            r = np.exp(z) / (1 + s)
            r = np.where(empty, 0, np.where(has_inf, np.nan, r))
        elif op == "log_softmax":
            r = (z - np.log1p(s)) + dz
            r = np.where(empty, -np.inf, np.where(has_inf, np.nan, r))
        elif op == "logsumexp":
            r = np.where(has_inf, np.inf, m + np.log1p(s))[..., 0]
        else:  # pragma: no cover
            raise ValueError(op)
        if mask is not None and op != "logsumexp":
            r = np.where(mask, r, 0 if op != "log_softmax" else -np.inf)
        np.copyto(out, r, casting="unsafe")


# ------------------------------------------------------------ fused operations
def _rows(s, rows, m):
    """The (rows, m) view of a ``fastact._fused.Strided`` operand."""
    size = s.flat.itemsize
    return np.lib.stride_tricks.as_strided(s.flat[s.offset:], (rows, m),
                                           (s.row_stride * size, size))


def get_biased(kernel_id, mode):
    """kernel(out, x, grad, bias, params, n_threads, db): the activation's ``mode`` on
    x + bias (x, out, grad: (rows, m); bias: (m,)); db (float64, or None) gets the
    column sums of out."""
    if kernel_id not in KERNELS:
        raise KeyError(kernel_id)

    def kernel(out, x, grad, bias, params, n_threads, db=None):
        with np.errstate(all="ignore"):
            _elementwise(kernel_id, mode, out, x + bias, grad, params)
        if db is not None:
            db[...] = out.sum(axis=0, dtype=np.float64)

    return kernel


def get_gated(kernel_id, mode):
    """The gated unit act(gate) * up of ``kernel_id``: "forward" ``kernel((out,), (gate,
    up), rows, m, params, n_threads)``; "backward" ``kernel((d_gate, d_up), (gate, up,
    grad), rows, m, params, n_threads)`` (operands: ``fastact._fused.Strided``)."""
    if kernel_id not in KERNELS:
        raise KeyError(kernel_id)

    def kernel(outs, ins, rows, m, params, n_threads):
        o = [_rows(s, rows, m) for s in outs]
        gate, up, *grad = (_rows(s, rows, m) for s in ins)
        f = evaluate(kernel_id, "forward", np.ascontiguousarray(gate), params)
        with np.errstate(all="ignore"):
            if mode == "forward":
                np.multiply(f, up, out=o[0])
                return
            gu = grad[0] * up
            np.multiply(gu, evaluate(kernel_id, "derivative", np.ascontiguousarray(gate),
                                     params), out=o[0])
            np.multiply(grad[0], f, out=o[1])

    return kernel


# --------------------------------------------------------------- losses
def _cross_entropy_rows(x, tgt, weights, params, loss, g, n_threads):
    """Cross-entropy rows (contract: ``fastact._numba.losses``), in float64; returns the
    row losses' sum, added in the kernels' lanes."""
    smooth, keep, scale, wsum = params
    x = x.astype(np.float64)
    w = np.ones(x.shape[1]) if weights is None else weights[0].astype(np.float64)
    active = tgt >= 0
    rows = np.arange(x.shape[0])
    t = np.where(active, tgt, 0)
    with np.errstate(all="ignore"):
        _, z, _, m, _, rest = _row_max_and_rest(x, None, carry=True)
        ls = np.log1p(rest)  # lse - m
        lse = m + ls
        special = ~np.isfinite(lse[:, 0])
        wt = w[t]
        value = keep * wt * ((m[:, 0] - x[rows, t]) + ls[:, 0])
        if smooth:
            value = value + smooth * np.sum(w * ((m - x) + ls), axis=1)
        loss[:] = np.where(active, np.where(special, np.nan, value), 0.0)
        if g is not None:
            _cross_entropy_grad(x, tgt, w, params, (z, rest, special), g)
    return _lane_sum(loss)


def _lane_sum(v):
    """sum(v): v[i] into lane i % LANES in order, the lanes folded pairwise (the kernels')."""
    with np.errstate(all="ignore"):  # axis 0: each lane added in order
        acc = np.add.reduce(np.pad(v, (0, -v.size % _SOFTMAX_LANES)).reshape(
            -1, _SOFTMAX_LANES), axis=0) if v.size else np.zeros(_SOFTMAX_LANES)
        w = _SOFTMAX_LANES // 2
        while w:
            acc[:w] += acc[w:2 * w]
            w //= 2
    return float(acc[0])


def _cross_entropy_grad(x, tgt, w, params, parts, g):
    """The gradient of the rows (float64 x, w) into g; parts: the rows' z = x - m, the
    exp sums less one, the special rows."""
    smooth, keep, scale, wsum = params
    z, rest, special = parts
    active = tgt >= 0
    rows = np.arange(x.shape[0])
    t = np.where(active, tgt, 0)
    wt = w[t]
    with np.errstate(all="ignore"):
        e = np.exp(z)
        s = 1.0 + rest
        p = e / s
        grad = scale * ((keep * wt + smooth * wsum)[:, None] * p - smooth * w)
        e_t = e[rows, t][:, None]
        grad[rows, t] = scale * (keep * wt * ((e_t - s) / s)[:, 0]
                                 + smooth * (wsum * (e_t / s)[:, 0] - wt))
        grad[special] = np.nan
        grad[~active] = 0.0
        np.copyto(g, grad, casting="unsafe")


def _bce_with_logits(x, y, weights, outs, scale, n_threads):
    """BCE with logits (contract: ``fastact._numba.losses``), in float64."""
    loss, sums, g = outs
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    w, pw = (1.0, 1.0) if weights is None else (a.astype(np.float64) for a in weights)
    with np.errstate(all="ignore"):
        p, q = 1.0 - y64, pw * y64
        # softplus(x) = logaddexp(0, x); a term with factor 0 is 0 (its limit at +-inf)
        v = np.where(p == 0, 0.0, p * np.logaddexp(0.0, x64)) + np.where(
            q == 0, 0.0, q * np.logaddexp(0.0, -x64))
        v = v * w
        if loss is not None:
            np.copyto(loss, v, casting="unsafe")
        v = v.astype(x.dtype).astype(np.float64)  # the kernels sum the rounded terms
        pad = (-v.size) % _LOSS_SUM_BLOCK
        sums[:] = np.sum(np.pad(v, (0, pad)).reshape(-1, _LOSS_SUM_BLOCK), axis=1)
        if g is not None:
            d = (p * _sigmoid(x64) - q * _sigmoid(-x64)) * w * scale
            np.copyto(g, d, casting="unsafe")


_LOSSES = {"cross_entropy": _cross_entropy_rows,
           "binary_cross_entropy_with_logits": _bce_with_logits}


def get_loss(name):
    """The backend entry point for the losses (contracts: ``fastact._numba.losses``)."""
    return _LOSSES[name]
