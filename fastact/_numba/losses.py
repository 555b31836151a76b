"""The losses of the Numba backend: softmax cross-entropy rows and BCE-with-logits.

Kernel contracts (the semantics are those of ``fastact._reference``; the public
functions and their formulas: ``fastact._losses``):

* ``cross_entropy_rows(x, tgt, weights, params, loss, g, n_threads)``: x (rows, n)
  C-contiguous float32/float64; tgt (rows,) int64, a class index or -1 (row
  ignored); weights None (every class weight 1) or (w, w_rows): w (n,) class
  weights in x's dtype, w_rows (rows,) float64 each row's w[tgt] (read in order:
  no gather in the row pass); ``params = (smooth, keep, scale, wsum)``; loss (rows,) float64 receives each row's loss; g (rows, n) like x, or
  None, receives the gradient.  A row is read by one thread, max pass then one exp
  pass (the exps stored into g when it is given; without g the pass also takes the
  next row's max), with the softmax family's building blocks: its bits do not
  depend on the thread count.  Returns the sum of
  loss (row r into lane r % LANES, in row order, the lanes folded pairwise).
* ``bce_with_logits(x, y, weights, outs, scale, n_threads)``: 1-D C arrays;
  ``weights`` None or (w, pos_weight) like x; ``outs = (loss or None, sums, g or
  None)`` with ``sums`` (blocks,) float64 the loss summed over fixed blocks of
  LOSS_SUM_BLOCK elements (bits independent of the threads).

Sums are float64 in LANES lanes (element i into lane i % LANES, in order) folded
pairwise, as the C kernels add them, with no re-association: the bits of a sum do not
depend on where or how often the loop is compiled (serial or parallel driver).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from numba import prange, types
from numba.core.errors import NumbaIRAssumptionWarning
from numba.extending import overload

from .. import _constants as C
from . import _threading
from ._cache import jit
from ._formulas import by_dtype
from ._vmath import F32_1, exp_f32n, log1p_unit_f32n, prefer_512_bit_vectors, vexp, vlog1p
from .softmax._bits import bit_limits, bits_view, max_of_bits
from .softmax._exp import BLOCK, LANES, cast_like, unscale
from .softmax._rows import (SOFTMAX, block_span, exp_store_block, finite, log_sum, log_term,
                            row_max)
from .softmax._sums import sum_pos

_JIT = dict(nogil=True, error_model="numpy")
_NAN = math.nan
SUM_BLOCK = C.LOSS_SUM_BLOCK
SERIAL_MAX_ELEMENTS = 1 << 15  # up to this many elements: the calling thread only
_MAX_THREADS = _threading.max_threads()


# ------------------------------------------------------------ cross-entropy rows
@jit(**_JIT)
def _fold_lanes(acc):
    """The LANES float64 lanes added pairwise (lanes j and j + w, w = LANES/2, ..., 1)."""
    w = LANES // 2
    while w > 0:
        for j in range(w):
            acc[j] += acc[j + w]
        w //= 2
    return acc[0]


def _class_weight(weights, c):
    """w[c] as float64; 1.0 without weights."""


@overload(_class_weight, inline="always")
def _class_weight_impl(weights, c):
    if isinstance(weights, types.NoneType):
        return lambda weights, c: 1.0
    return lambda weights, c: np.float64(weights[0][c])


def _row_weight(weights, r):
    """Row r's target weight w[tgt[r]] (float64); 1.0 without weights."""


@overload(_row_weight, inline="always")
def _row_weight_impl(weights, r):
    if isinstance(weights, types.NoneType):
        return lambda weights, r: 1.0
    return lambda weights, r: weights[1][r]


def _scale_minus_weights(gr, a, b, weights):
    """gr = gr * a - b * w (w = 1 without weights), in gr's dtype."""


@overload(_scale_minus_weights, inline="always")
def _scale_minus_weights_impl(gr, a, b, weights):
    if isinstance(weights, types.NoneType):
        def unweighted(gr, a, b, weights):
            for i in range(gr.shape[0]):
                gr[i] = gr[i] * a - b
        return unweighted

    def weighted(gr, a, b, weights):
        w = weights[0]
        for i in range(gr.shape[0]):
            gr[i] = gr[i] * a - b * w[i]
    return weighted


@jit(**_JIT)
def _lane_sum(v):
    """sum(v) in float64: element i into lane i % LANES, in order, the lanes folded."""
    acc = np.zeros(LANES, np.float64)
    n = v.shape[0]
    full = n - n % LANES
    for i in range(0, full, LANES):  # a constant lane loop: vector adds, same order
        for j in range(LANES):
            acc[j] += np.float64(v[i + j])
    for j in range(n - full):
        acc[j] += np.float64(v[full + j])
    return _fold_lanes(acc)


@jit(**_JIT)
def _weighted_gap(weights, xr, m):
    """sum_c w_c (m - x_c) in float64: element c into lane c % LANES, in order, the
    lanes folded pairwise (no re-association: the same bits wherever it is compiled)."""
    acc = np.zeros(LANES, np.float64)
    mm = np.float64(m)
    n = xr.shape[0]
    full = n - n % LANES
    for i in range(0, full, LANES):
        for j in range(LANES):
            acc[j] += _class_weight(weights, i + j) * (mm - np.float64(xr[i + j]))
    for j in range(n - full):
        acc[j] += _class_weight(weights, full + j) * (mm - np.float64(xr[full + j]))
    return _fold_lanes(acc)


@jit(**_JIT)
def _rest_block_next(x, r, rn, buf, span, m, keys):
    """exp_rest_block's (sum, ties) of row r on span (its terms and sum: its bits) and, in
    the same pass, the max keys (hi, lo) of row rn's signed bits on span added to keys."""
    prefer_512_bit_vectors()
    lo, hi = span
    xr = x[r, lo:hi]
    nb = bits_view(x)[rn, lo:hi]
    khi, klo = keys
    ties = np.int32(0)
    for i in range(xr.shape[0]):
        e, tie = log_term(xr[i], m)
        buf[i] = e
        ties = np.int32(ties + tie)
        b = nb[i]
        khi = b if b > khi else khi
        klo = b if b < klo else klo
    return sum_pos(buf, hi - lo), np.int64(ties), (khi, klo)


@jit(**_JIT)
def _row_log_sum(x, r, rn, buf, m, g):
    """(lse - m, the exp sum, row rn's max): with g softmax's scaled exps 2**s exp(x - m)
    stored in g[r], their sum S' and lse - m = log(S' 2**-s); without g by the scaled exps
    of logsumexp (accurate for every logit), row rn's max taken in the same pass (row_max's
    bits)."""
    n = x.shape[1]
    s = 0.0
    if g is None:
        ties = 0
        sign, _, neginf = bit_limits(bits_view(x))
        keys = (sign, neginf)
        for lo in range(0, n, BLOCK):
            sb, tb, keys = _rest_block_next(x, r, rn, buf, block_span(lo, n), m, keys)
            s += sb
            ties += tb
        return log_sum(x, s, ties), s, max_of_bits(keys[0], keys[1])
    for lo in range(0, n, BLOCK):
        s += exp_store_block((SOFTMAX, False, g, x), None, r, block_span(lo, n), m)[0]
    return math.log(s * unscale(x)), s, row_max(bits_view(x), None, rn, False)


@jit(**_JIT)
def _grad_row(g, weights, r, t, coefs, s, wt):
    """g[r] = scale ((keep w_t + smooth W) e / S - smooth w) - scale keep w_t onehot(t),
    from the exps e in g[r] and their sum S (both scaled by 2**s); the target entry from
    (e_t - S) / S in float64."""
    smooth, keep, scale, wsum = coefs
    gr = g[r]
    e_t = np.float64(gr[t])
    a = cast_like(g, scale * (keep * wt + smooth * wsum) / s)
    if smooth == 0.0:
        for i in range(gr.shape[0]):
            gr[i] = gr[i] * a
    else:
        _scale_minus_weights(gr, a, cast_like(g, scale * smooth), weights)
    gr[t] = scale * (keep * wt * ((e_t - s) / s) + smooth * (wsum * e_t / s - wt))


@jit(**_JIT)
def _ce_row(x, tgt, weights, coefs, loss, g, r, m, rn, buf):
    """Row r of max m: loss[r] = keep w_t (lse - x_t) + smooth sum_c w_c (lse - x_c) and,
    with g, its gradient; ignored rows 0; rows with NaN, +inf or only -inf: NaN.  lse -
    x_t is taken as (m - x_t) + (lse - m), two terms >= 0: no cancellation.  Returns
    row rn's max (the next row's, taken in the exp pass)."""
    smooth, keep, _, wsum = coefs
    t = tgt[r]
    if t < 0:
        loss[r] = 0.0
        if g is not None:
            g[r, :] = 0.0
        return row_max(bits_view(x), None, rn, False)
    # x_t and the gap are read before the exp pass: g may be x itself (in place)
    gap_t = np.float64(m) - np.float64(x[r, t])
    gap = _weighted_gap(weights, x[r], m) if smooth != 0.0 else 0.0
    if finite(m):
        ls, s, mn = _row_log_sum(x, r, rn, buf, m, g)
    else:
        ls, s, mn = _NAN, _NAN, row_max(bits_view(x), None, rn, False)
    if ls != ls:
        loss[r] = _NAN
        if g is not None:
            g[r, :] = _NAN
        return mn
    wt = _row_weight(weights, r)
    loss[r] = keep * wt * (gap_t + ls) + smooth * (gap + wsum * ls)
    if g is not None:
        _grad_row(g, weights, r, t, coefs, s, wt)
    return mn


@jit(**_JIT)
def _ce_rows(x, tgt, weights, coefs, loss, g, r0, r1):
    """Rows [r0, r1), pipelined: each row's exp pass takes the next row's max."""
    if r0 >= r1:
        return
    buf = np.empty(min(BLOCK, x.shape[1]), x.dtype)
    m = row_max(bits_view(x), None, r0, False)
    for r in range(r0, r1):
        m = _ce_row(x, tgt, weights, coefs, loss, g, r, m, min(r + 1, r1 - 1), buf)


@jit(parallel=True, **_JIT)
def _ce_parallel(x, tgt, weights, coefs, loss, g, n_chunks):
    rows = x.shape[0]
    for c in prange(n_chunks):
        _ce_rows(x, tgt, weights, coefs, loss, g, rows * c // n_chunks,
                 rows * (c + 1) // n_chunks)


def cross_entropy_rows(x, tgt, weights, params, loss, g, n_threads):
    """The cross-entropy row kernel (see the module doc)."""
    rows = x.shape[0]
    k = min(n_threads, _MAX_THREADS, rows)
    if k <= 1 or x.size <= SERIAL_MAX_ELEMENTS:
        _ce_rows(x, tgt, weights, params, loss, g, 0, rows)
    else:
        _threading.run_parallel(_ce_parallel, (x, tgt, weights, params, loss, g), k)
    return _lane_sum(loss)


# ------------------------------------------------------------ BCE with logits
@jit(inline="always", **_JIT)
def _softplus_parts_f64(x, a, b):
    e = vexp(-abs(x), x)
    return vlog1p(e, x), 1.0 / (1.0 + e), e


@jit(inline="always", **_JIT)
def _softplus_parts_f32(x, a, b):
    e = exp_f32n(-abs(x))
    return log1p_unit_f32n(e), F32_1 / (F32_1 + e), e


_softplus_parts = by_dtype(
    _softplus_parts_f64, _softplus_parts_f32, "softplus_parts",
    "(log1p(e), 1 / (1 + e), e) for e = exp(-|x|), in x's type")


@jit(inline="always", **_JIT)
def _bce_term(x, y, pw, zero, one):
    """(loss, dloss/dx) = ((1 - y) softplus(x) + pw y softplus(-x),
    (1 - y) sigmoid(x) - pw y sigmoid(-x)), both from one e = exp(-|x|); a term whose
    factor is 0 is 0 (the limit at x = +-inf, where softplus is inf)."""
    lg, d, e = _softplus_parts(x, 0.0, 0.0)
    pos = x > zero
    sp_x = (x if pos else zero) + lg  # softplus(x)
    sp_nx = (zero if pos else -x) + lg  # softplus(-x)
    sig = d if pos else e * d  # sigmoid(x)
    sig_n = e * d if pos else d  # sigmoid(-x)
    p = one - y
    q = y * pw
    return ((p * sp_x if p != zero else zero) + (q * sp_nx if q != zero else zero),
            p * sig - q * sig_n)


def _put(a, i, v):
    """a[i] = v; nothing when a is None."""


@overload(_put, inline="always")
def _put_impl(a, i, v):
    if isinstance(a, types.NoneType):
        return lambda a, i, v: None

    def impl(a, i, v):
        a[i] = v

    return impl


def _span(a, lo, hi):
    """a[lo:hi] for an array, each array's [lo:hi] for a pair, None for None."""


@overload(_span, inline="always")
def _span_impl(a, lo, hi):
    if isinstance(a, types.NoneType):
        return lambda a, lo, hi: None
    if isinstance(a, types.BaseTuple):
        return lambda a, lo, hi: (a[0][lo:hi], a[1][lo:hi])
    return lambda a, lo, hi: a[lo:hi]


def _terms_view(loss, buf, lo, hi):
    """Where block [lo, hi)'s loss terms go: loss[lo:hi], or buf[:hi - lo] without loss."""


@overload(_terms_view, inline="always")
def _terms_view_impl(loss, buf, lo, hi):
    if isinstance(loss, types.NoneType):
        return lambda loss, buf, lo, hi: buf[:hi - lo]
    return lambda loss, buf, lo, hi: loss[lo:hi]


@jit(**_JIT)
def _bce_terms(x, y, weights, v, g, scale):
    """v[i] = element i's loss term and g[i] = scale * its gradient (g optional), for
    every i: independent elements, no reduction, indices from 0 (contiguous vector
    loads and stores, no gathers)."""
    prefer_512_bit_vectors()
    sc = cast_like(x, scale)
    one = cast_like(x, 1.0)
    zero = cast_like(x, 0.0)
    for i in range(x.shape[0]):
        if weights is None:
            a, d = _bce_term(x[i], y[i], one, zero, one)
        else:
            a, d = _bce_term(x[i], y[i], weights[1][i], zero, one)
            a = a * weights[0][i]
            d = d * weights[0][i]
        v[i] = a
        _put(g, i, d * sc)


@jit(**_JIT)
def _bce_blocks(x, y, weights, outs, scale, b0, b1):
    """Blocks [b0, b1) of SUM_BLOCK elements: the terms (into loss, or a scratch block),
    the gradient, and each block's sum (the terms' lane sum)."""
    loss, sums, g = outs
    n = x.shape[0]
    buf = np.empty(min(SUM_BLOCK, n), x.dtype)
    for b in range(b0, b1):
        lo = b * SUM_BLOCK
        hi = min(n, lo + SUM_BLOCK)
        v = _terms_view(loss, buf, lo, hi)
        _bce_terms(x[lo:hi], y[lo:hi], _span(weights, lo, hi), v, _span(g, lo, hi), scale)
        sums[b] = _lane_sum(v)


@jit(parallel=True, **_JIT)
def _bce_parallel(x, y, weights, outs, scale, n_chunks):
    loss, sums, g = outs  # a parallel region takes flat tuples only
    nb = sums.shape[0]
    for c in prange(n_chunks):
        _bce_blocks(x, y, weights, (loss, sums, g), scale, nb * c // n_chunks,
                    nb * (c + 1) // n_chunks)


def bce_with_logits(x, y, weights, outs, scale, n_threads):
    """The BCE-with-logits kernel (see the module doc)."""
    nb = outs[1].shape[0]
    k = min(n_threads, _MAX_THREADS, nb)
    with warnings.catch_warnings():
        # Numba's IR inliner emits a pedantic, harmless SSA warning for the
        # inline="always" formulas when it compiles; keep users' logs clean.
        warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
        if k <= 1 or x.size <= SERIAL_MAX_ELEMENTS:
            _bce_blocks(x, y, weights, outs, scale, 0, nb)
        else:
            _threading.run_parallel(_bce_parallel, (x, y, weights, outs, scale), k)


_LOSSES = {"cross_entropy": cross_entropy_rows, "binary_cross_entropy_with_logits": bce_with_logits}


def get_loss(name):
    """The loss kernel ``name`` (see the module doc)."""
    return _LOSSES[name]
