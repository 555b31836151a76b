"""Rows of the softmax family: block operations and the row drivers built on them.

A row op is the tuple ``op = (kind, negate, out, x)``: ``kind`` SOFTMAX,
LOG_SOFTMAX or LOGSUMEXP, ``negate`` makes softmax softmin, ``x`` a
C-contiguous ``(rows, n)`` array (y for the backward ops), ``out`` like x or
``(rows, 1)`` for logsumexp.  ``mask`` (None or a bool array like x) and the
backward ops' ``g`` are separate arguments (a None argument prunes its branch
at compile time); ``span`` is a half-open range ``(lo, hi)`` of a row.  A row is
cut into blocks of ``BLOCK`` elements; its reductions are the block results
combined in block order, whoever computes them, so the bits do not depend on
the plan or the threads.  The algorithm, special rows and accuracy:
docs/softmax.md.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba.core import types
from numba.extending import intrinsic

from ..._constants import SOFTMAX_LANE_ROWS, SOFTMAX_SHORT_BATCH, SOFTMAX_SHORT_NARROW
from .._cache import linked
from ._alloc import empty, zeros
from ._bits import bit_limits, bits_view, constant_by_type, least_like, max_of_bits, max_step, smaller, xor_bits
from ._exp import (BLOCK, LANES, cast_like, exp_any, exp_shift, expneg, expneg_normal_min_bits,
                   expneg_scaled, unscale)
from ._kind import (LOG_SOFTMAX, LOGSUMEXP, SOFTMAX, by_kind, chosen, literal_kind,  # noqa: F401
                    literal_value)
from ._plan import PIPELINE_MAX_BYTES, SHORT_MAX
from ._squares import (column_sums_square, log_rows_square, transpose_max_square,
                       transpose_square)
from ._sums import add_reassoc, dot_lanes, sum_lanes, sum_pos
from .. import _vmath

_JIT = dict(nogil=True, error_model="numpy")
_NEG_INF = -math.inf
_INF = math.inf
_NAN = math.nan


# ------------------------------------------------------------ element terms
@linked(**_JIT)
def _softmax_term(x, negate, m):
    """softmax's scaled exp 2**s exp(v - m), v = -x if negate else x (:func:`expneg_scaled`)."""
    v = -x if negate else x
    return expneg_scaled(v - m)


@linked(**_JIT)
def log_term(v, m):
    """(2**s exp(v - m) or 0 where v == m, 1 where v == m else 0) (the log ops)."""
    tie = v == m
    return (0.0 if tie else exp_shift(v, m)), np.int32(tie)


# ------------------------------------------------------------ block pieces
# The exp passes over a block (``exp_*_block``) are functions of their own (noinline),
# without reference counts, their loops 512-bit vectors where the CPU has them.
@linked(_nrt=False, **_JIT)
def block_max_bits(xb, mask, r, lo, hi, negate):
    """(max, min) of the signed bits of v = -x if negate else x over row r, [lo, hi);
    masked entries give (sign bit, bits of -inf), which never win."""
    sign, zero, neginf = bit_limits(xb)
    flip = sign if negate else zero
    bhi = sign
    blo = neginf
    xr = xb[r, lo:hi]
    if mask is None:
        for i in range(xr.shape[0]):
            bhi, blo = max_step(xor_bits(xr[i], flip), bhi, blo)
    else:
        mr = mask[r, lo:hi]
        for i in range(xr.shape[0]):
            v = xor_bits(xr[i], flip)
            vh = v if mr[i] else sign
            vl = v if mr[i] else neginf
            bhi = vh if vh > bhi else bhi
            blo = vl if vl < blo else blo
    return bhi, blo


@linked(_nrt=False, **_JIT)
def exp_store_block(op, mask, r, span, m):
    """out[r, j] = 2**s exp(v_j - m) (0 where masked) on span by softmax's scaled exp of
    the rounded v - m; returns (their sum (float64, :func:`sum_pos`), 0 ties)."""
    _vmath.prefer_512_bit_vectors()
    _not_inlined()
    _, negate, out, x = op
    lo, hi = span
    o = out[r, lo:hi]
    xr = x[r, lo:hi]
    if mask is None:
        for i in range(xr.shape[0]):
            o[i] = _softmax_term(xr[i], negate, m)
    else:
        mr = mask[r, lo:hi]
        for i in range(xr.shape[0]):
            e = _softmax_term(xr[i], negate, m)
            o[i] = e if mr[i] else 0.0
    return sum_pos(o, hi - lo), np.int64(0)


@linked(_nrt=False, **_JIT)
def exp_rest_block(op, mask, buf, r, span, m):
    """(sum of 2**s exp(x - m) over the entries x != m (float64), number of entries
    == m) on span (the log ops: never negated); buf (x's dtype) is scratch."""
    _vmath.prefer_512_bit_vectors()
    _not_inlined()
    x = op[3]
    lo, hi = span
    xr = x[r, lo:hi]
    ties = np.int32(0)  # int32 lanes: the float32 loop keeps 16 lanes per vector
    if mask is None:
        for i in range(xr.shape[0]):
            e, tie = log_term(xr[i], m)
            buf[i] = e
            ties = np.int32(ties + tie)
    else:
        mr = mask[r, lo:hi]
        for i in range(xr.shape[0]):
            v = xr[i]
            e = exp_shift(v, m)
            keep = mr[i]
            tie = (v == m) & keep
            buf[i] = e if (keep & (v != m)) else 0.0
            ties = np.int32(ties + np.int32(tie))
    return sum_pos(buf, hi - lo), np.int64(ties)


@linked(**_JIT)
def scale_block(out, r, span, inv):
    """out[r, span] *= f, f = inv = 1/S' rounded to out's type (S' the scaled sum: e' f
    is e / S rounded once, subnormals too; < 2.5 ULP with e's ~1 ULP)."""
    o = out[r, span[0]:span[1]]
    f = cast_like(out, inv)
    for i in range(o.shape[0]):
        o[i] *= f


@linked(**_JIT)
def log_block(op, mask, r, span, m, lse):
    """out[r, j] = (x - m) - lse in x's type, -inf where masked (<= 1.5 ULP: x - m <= 0
    and lse >= 0 have one sign, so both are at most |out|)."""
    _, _, out, x = op
    o = out[r, span[0]:span[1]]
    xr = x[r, span[0]:span[1]]
    mt = cast_like(x, m)
    lt = cast_like(x, lse)
    if mask is None:
        for i in range(xr.shape[0]):
            o[i] = (xr[i] - mt) - lt
    else:
        mr = mask[r, span[0]:span[1]]
        for i in range(xr.shape[0]):
            v = (xr[i] - mt) - lt
            o[i] = v if mr[i] else _NEG_INF


# ------------------------------------------------------------ one kind's code
# Each function below calls the op's kind's code only (``_kind.by_kind``); the runtime_
# functions serve a kind known at run time only.
@linked(**_JIT)
def _exp_block_runtime(op, mask, buf, r, span, m):
    if op[0] == SOFTMAX:
        return exp_store_block(op, mask, r, span, m)
    return exp_rest_block(op, mask, buf, r, span, m)


exp_block = by_kind(exp_store_block, exp_rest_block, _exp_block_runtime,
                    softmax_picks=(0, 1, 3, 4, 5))
exp_block.__doc__ = """``exp_block(op, mask, buf, r, span, m)``: (sum, ties) of one block's exp
    pass: softmax's :func:`exp_store_block` (ties 0) or the log ops' :func:`exp_rest_block`."""


@linked(**_JIT)
def _final_block_runtime(op, mask, r, span, m, f):
    if op[0] == SOFTMAX:
        scale_block(op[2], r, span, f)
    else:
        log_block(op, mask, r, span, m, f)


final_block = by_kind(scale_block, log_block, _final_block_runtime,
                      softmax_picks=((0, 2), 2, 3, 5))
final_block.__doc__ = """``final_block(op, mask, r, span, m, f)``: the final pass over one block
    given f = :func:`row_factor`: softmax :func:`scale_block`, log_softmax :func:`log_block`
    (not logsumexp)."""


# ------------------------------------------------------------ special rows
@linked(**_JIT)
def special_row(op, mask, r, m, nan_known):
    """Finish row r whose max m is not finite or whose sum is NaN, as the reference:
    NaN (or +inf) rows give NaN (logsumexp: +inf for +inf without NaN); all -inf or
    fully masked rows give 0 (softmax) / -inf; masked entries 0 / -inf."""
    kind, _, out, x = op
    nan = nan_known or m != m
    if not nan:  # a NaN among the row's unmasked entries
        xr = x[r]
        if mask is None:
            for i in range(xr.shape[0]):
                if xr[i] != xr[i]:
                    nan = True
                    break
        else:
            for i in range(xr.shape[0]):
                if xr[i] != xr[i] and mask[r, i]:
                    nan = True
                    break
    if kind == LOGSUMEXP:
        out[r, 0] = _NAN if nan else np.float64(m)  # +inf or -inf
        return
    if nan or m == _INF:
        fill = _NAN
    else:  # m == -inf: nothing in the row
        fill = 0.0 if kind == SOFTMAX else _NEG_INF
    off = 0.0 if kind == SOFTMAX else _NEG_INF
    o = out[r]
    if mask is None:
        o[:] = fill
    else:
        for i in range(o.shape[0]):
            o[i] = fill if mask[r, i] else off


@intrinsic
def finite(typingctx, v):
    """v - v == 0.0: v is neither NaN nor +-inf."""
    if not isinstance(v, types.Float):
        return None

    def codegen(context, builder, sig, args):
        d = builder.fsub(args[0], args[0])
        return builder.fcmp_ordered("==", d, context.get_constant(v, 0.0))

    return types.boolean(v), codegen


@linked(**_JIT)
def log_sum(x, s, ties):
    """log1p of the unscaled sum of the terms other than one argmax: log(sum e) >= 0."""
    return math.log1p(s * unscale(x) + (ties - 1))


@intrinsic
def _reciprocal(typingctx, op, s, ties):
    """1.0 / s (float64): softmax's row factor (s the scaled sum: 2**-s / S)."""
    def codegen(context, builder, sig, args):
        return builder.fdiv(context.get_constant(types.float64, 1.0), args[1])

    return types.float64(op, types.float64, ties), codegen


@linked(**_JIT)
def _row_factor_runtime(op, s, ties):
    return 1.0 / s if op[0] == SOFTMAX else log_sum(op[3], s, ties)


row_factor = by_kind(_reciprocal, log_sum, _row_factor_runtime, log_picks=((0, 3), 1, 2))
row_factor.__doc__ = """``row_factor(op, s, ties)``: what finishes a row from its exp sum: 1/S
    (softmax) or log1p(s) (:func:`log_sum`)."""


@linked(inline="always", **_JIT)
def block_span(lo, n):
    """The block of a row of n elements that starts at lo."""
    return lo, smaller(lo + BLOCK, n)


# ------------------------------------------------------------ short rows
# Unmasked forward rows of up to SHORT_MAX elements, whatever the size (the plan's
# SHORT_ROWS): one function per call, its helpers inlined while typing (no per-row
# calls).  Rows go in batches of SHORT_BATCH; per row r one loop finishes row
# r - SHORT_BATCH and makes row r's terms, a second one sums them and takes the max
# of row r + 1; after a batch, its rows' 1/S or log1p in one vectorized loop.  The
# finish reads a scratch ring, never x.  The sums are taken by a loop that only
# loads: a loop that stores gets run-time overlap checks and a scalar fallback, whose
# sum would differ with the distance between the rows.  A missing row (before the
# first, after the last, special) is a zero scratch row.
SHORT_BATCH = SOFTMAX_SHORT_BATCH
NARROW = SOFTMAX_SHORT_NARROW
LANE_MAX = SOFTMAX_SHORT_NARROW  # float32 rows of up to this many elements: vector lanes
LANE_ROWS = SOFTMAX_LANE_ROWS


# the element terms of one kind in _short_pass: the other kind's term compiles nothing
_no_term = constant_by_type("no_term", lambda t: 0.0)
_no_log_term = constant_by_type("no_log_term", lambda t: (0.0, np.int32(0)))
_softmax_term_of = chosen(lambda kind, x, negate, m: (
    (_softmax_term, (1, 2, 3)) if literal_value(kind) in (SOFTMAX, None) else (_no_term, (1,))))
_log_term_of = chosen(lambda kind, v, m: (
    (log_term, (1, 2)) if literal_value(kind) != SOFTMAX else (_no_log_term, (1,))))


@linked(inline="always", **_JIT)
def _short_pass(kind, prev, fin, cur, m, nxt, flip, terms):
    """Row r's two loops over the columns.  The first: prev = (out row, ring row) of row
    r - SHORT_BATCH finished by fin = (a, b): out = ring * a (softmax) or (ring - a) - b
    (log_softmax; logsumexp: nothing); cur = (x row, ring row) of row r: softmax stores
    exp(v - m) into the ring row, log_softmax x, the log ops their log_term into terms
    (scratch).  The second only loads (no stores: LLVM vectorizes it the same way
    wherever the rows lie): the terms' float64 sum (:func:`add_reassoc`: the loop's
    vectorized order, fixed by n), the ties, the bit reductions of v over nxt (x's
    bits of row r + 1).  Returns (sum, ties, max bits, min bits)."""
    po, pr = prev
    xr, cr = cur
    negate = flip != 0
    for i in range(xr.shape[0]):
        if kind == SOFTMAX:
            po[i] = pr[i] * fin[0]
            cr[i] = _softmax_term_of(kind, xr[i], negate, m)
        else:
            if kind == LOG_SOFTMAX:
                po[i] = (pr[i] - fin[0]) - fin[1]
                cr[i] = xr[i]
            terms[i] = _log_term_of(kind, xr[i], m)[0]
    tr = cr if kind == SOFTMAX else terms
    sign, _, neginf = bit_limits(nxt)
    bhi = sign
    blo = neginf
    s = 0.0
    ties = np.int32(0)
    for i in range(xr.shape[0]):
        s = add_reassoc(s, np.float64(tr[i]))
        if kind != SOFTMAX:
            ties = np.int32(ties + np.int32(xr[i] == m))
        bhi, blo = max_step(xor_bits(nxt[i], flip), bhi, blo)
    return s, ties, bhi, blo


@linked(inline="always", **_JIT)
def _short_max(xb, r, flip, sign, neginf):
    """max of v over row r of the bits xb (no mask), v = x with the bits xor flip;
    (sign, neginf): bit_limits(xb)."""
    bhi = sign
    blo = neginf
    for i in range(xb.shape[1]):
        bhi, blo = max_step(xor_bits(xb[r, i], flip), bhi, blo)
    return max_of_bits(bhi, blo)


@linked(inline="always", **_JIT)
def _short_factors(kind, x, ms, sums, ties, fa, fb):
    """A batch's finishing factors (float64) in one vectorized loop: fa = 1/S (softmax),
    or fa = m, fb = log1p(s 2**-scale + ties - 1) (the log ops: :func:`log_sum` by the
    vectorizable log1p)."""
    u = unscale(x)
    for j in range(sums.shape[0]):
        if kind == SOFTMAX:
            fa[j] = 1.0 / sums[j]
        else:
            fa[j] = ms[j]
            fb[j] = _vmath.log1p_f64(sums[j] * u + (ties[j] - 1.0))


@linked(**_JIT)
def short_rows(op, r0, r1):
    """Rows [r0, r1) of a forward op without a mask, n <= SHORT_MAX (the task kind
    SHORT_ROWS, on the calling thread or split over threads: the same bits), but not
    float32 rows of n <= LANE_MAX (:func:`lane_rows`; either: :func:`short_rows_any`):
    the scratch of :func:`_short_rows_in`, batches of min(SHORT_BATCH, rows)."""
    x = op[3]
    nb = smaller(SHORT_BATCH, r1 - r0)
    if nb <= 0:
        return
    # two batches' rows, the missing row, its out, the log ops' terms; per row of a
    # batch: m, S or s, ties, the finish's two factors, whether it waits for its finish
    ring = zeros((2 * nb + 3, x.shape[1]), x.dtype)
    work = zeros((6, nb), np.float64)
    _short_rows_in(op, r0, r1, ring, work)


@linked(_nrt=False, **_JIT)
def _short_rows_in(op, r0, r1, ring, work):
    """:func:`short_rows` given its scratch: per row one :func:`_short_pass`, per batch
    :func:`_short_factors`; special rows by :func:`special_row` (compiled without
    reference counts: the row views cost none; here: Numba's inlining while typing
    dropped a helper's logsumexp branch)."""
    _vmath.prefer_512_bit_vectors()
    kind, negate, out, x = op
    ms, sums, ties, fa, fb, live = work[0], work[1], work[2], work[3], work[4], work[5]
    n = x.shape[1]
    xb = bits_view(x)
    sign, zero, neginf = bit_limits(xb)
    flip = sign if negate else zero
    nb = work.shape[1]
    zero_row = ring[2 * nb]
    zero_out = ring[2 * nb + 1]
    terms = ring[2 * nb + 2]
    one = cast_like(x, 1.0)
    m = _short_max(xb, r0, flip, sign, neginf)
    for b0 in range(r0, r1 + nb, nb):  # a last batch finishes the rows of the one before
        half = nb * (((b0 - r0) // nb) % 2)
        for j in range(nb):
            r = b0 + j
            ok = r < r1 and finite(m)
            if r < r1 and not ok:
                special_row(op, None, r, m, np.bool_(False))
            prev = ((out[r - nb], ring[nb - half + j]) if live[j] != 0 and kind != LOGSUMEXP
                    else (zero_out, zero_row))
            cur = (x[r] if ok else zero_row, ring[half + j])
            fin = (cast_like(x, fa[j]), cast_like(x, fb[j]))
            mc = m if ok else one
            nxt = xb[r + 1] if r + 1 < r1 else bits_view(zero_row)
            s, t, bhi, blo = _short_pass(kind, prev, fin, cur, mc, nxt, flip, terms)
            if ok and s != s:
                special_row(op, None, r, m, np.bool_(True))
                ok = False
            live[j] = 1.0 if ok else 0.0
            ms[j] = m if ok else one
            sums[j] = s if ok else 1.0
            ties[j] = t if ok else 1
            if r + 1 < r1:
                m = max_of_bits(bhi, blo)
        _short_factors(kind, x, ms, sums, ties, fa, fb)
        if kind == LOGSUMEXP:
            for j in range(nb):
                if live[j] != 0:
                    out[b0 + j, 0] = ms[j] + fb[j]


# Float32 short rows of n <= LANE_MAX as vector lanes (the task kind SHORT_LANES):
# LANE_ROWS rows at a time, each a lane of the vectors (no horizontal step).  Float64
# rows (no faster so) and the other task kinds compile none of this code.
@linked(**_JIT)
def lane_rows(op, r0, r1):
    """Rows [r0, r1) of a forward op without a mask, float32, n <= LANE_MAX (the task
    kind SHORT_LANES, on the calling thread or split over threads: the same bits): the
    scratch of :func:`_lane_rows`."""
    x = op[3]
    # per lane: the batch transposed, its terms, m, ties or a factor, the max's two bit
    # reductions (x's type); m, S or s, ties, the finish's two factors (float64)
    _lane_rows(op, r0, r1, empty((2 * x.shape[1] + 4, LANE_ROWS), x.dtype),
               empty((5, LANE_ROWS), np.float64))


_lane_rows = chosen(lambda op, r0, r1, t, work: (_lane_rows_of_kind(literal_kind(op)), None))
_lane_rows.__doc__ = """``_lane_rows(op, r0, r1, t, work)``: :func:`_lane_rows_of_kind` for the
    kind of op (a literal, or None)."""


@linked(**_JIT)
def _short_or_lane_rows(op, r0, r1):
    """:func:`lane_rows` for n <= LANE_MAX, else :func:`short_rows` (float32)."""
    if op[3].shape[1] <= LANE_MAX:
        lane_rows(op, r0, r1)
    else:
        short_rows(op, r0, r1)


short_rows_any = chosen(lambda op, r0, r1: (
    _short_or_lane_rows if op[3].dtype == types.float32 else short_rows, None))
short_rows_any.__doc__ = """``short_rows_any(op, r0, r1)``: rows [r0, r1) of a forward op without a
    mask, n <= SHORT_MAX, as the plan's task kind computes them (SHORT_LANES or SHORT_ROWS;
    for callers without a plan: the column tiles, users' compiled code)."""


@linked(inline="always", **_JIT)
def _lane_load(xb, b0, k, tb, hi, lo, flip):
    """tb[j, l] = xb[b0 + l, j] for l < k, j < n (n <= LANE_MAX), and the bit reductions
    hi[l], lo[l] advanced over row b0 + l's bits xor flip (``max_step``): groups of
    LANE_MAX whole rows of LANE_MAX by :func:`transpose_max_square`, the other rows
    element by element, then their reductions by a loop over the columns."""
    n = xb.shape[1]
    w = smaller(n, LANE_MAX)
    done = k - k % LANE_MAX if n == LANE_MAX else 0
    for g in range(0, done, LANE_MAX):
        transpose_max_square(xb, (b0 + g) * LANE_MAX, tb, g, LANE_ROWS, hi, lo, g, flip)
    for l in range(done, k):
        xr = xb[b0 + l]
        for j in range(w):  # unsigned: no wraparound
            tb[np.uint64(j), np.uint64(l)] = xr[j]
    hr, lr = hi[done:k], lo[done:k]  # views from 0: no index wraparound, vector loops
    for j in range(w):
        tj = tb[j, done:k]
        for l in range(tj.shape[0]):
            v = xor_bits(tj[l], flip)
            hr[l] = v if v > hr[l] else hr[l]
            lr[l] = v if v < lr[l] else lr[l]


@linked(inline="always", **_JIT)
def _lane_sums(t, n, sums, w):
    """sums[l] += the terms t[n + j, l] as float64, j < w in order, for the batch's lanes
    l < len(sums): groups of LANE_MAX lanes of LANE_MAX terms by
    :func:`column_sums_square`, the others by a loop over the columns."""
    k = sums.shape[0]
    done = 0
    if w == LANE_MAX:
        done = k - k % LANE_MAX
        for g in range(0, done, LANE_MAX):
            column_sums_square(t, n * LANE_ROWS + g, LANE_ROWS, sums, g)
    rest = sums[done:]  # a view from 0: no index wraparound, a vector loop
    for j in range(w):
        ej = t[n + j, done:k]
        for l in range(ej.shape[0]):
            rest[l] = rest[l] + np.float64(ej[l])


@functools.lru_cache(maxsize=None)
def _lane_rows_of_kind(literal):
    """:func:`lane_rows` given its scratch, for ops of the kind ``literal`` (None: the op's
    kind, read at run time; else a constant: the other kinds' branches, in the helpers
    inlined too, are pruned before typing).  LANE_ROWS rows at a time as the lanes
    of vectors (no horizontal step; loops as long as the batch): the rows transposed into
    t with their max bits (:func:`_lane_load`), per lane the terms and the ties, the
    terms' float64 sum in column order (:func:`_lane_sums`: fixed by n); the batch's
    factors by :func:`_short_factors`; the results by :func:`_lane_out`.  t: rows [0, n)
    x transposed, [n, 2n) the terms, then m, the ties (then a factor), the max's two bit
    reductions; work: m, S or s, ties, the two factors (float64)."""

    @linked(_nrt=False, **_JIT)
    def lane_rows_in(op, r0, r1, t, work):
        _vmath.prefer_512_bit_vectors()
        _not_inlined()
        _, negate, out, x = op
        kind = op[0] if literal is None else literal
        n = x.shape[1]
        w = smaller(n, LANE_MAX)  # a bound LLVM knows: whole vectors, no remainder
        xb = bits_view(x)
        tb = bits_view(t)
        sign, zero, neginf = bit_limits(xb)
        flip = sign if negate else zero
        mt, tc, hi, lo = t[2 * n], t[2 * n + 1], tb[2 * n + 2], tb[2 * n + 3]
        one = cast_like(x, 1.0)
        zero_t = cast_like(x, 0.0)
        for b0 in range(r0, r1, LANE_ROWS):
            k = smaller(r1 - b0, LANE_ROWS)
            for l in range(k):
                hi[l] = sign
                lo[l] = neginf
                tc[l] = zero_t
            _lane_load(xb, b0, k, tb, hi, lo, flip)
            for l in range(k):
                m = max_of_bits(hi[l], lo[l])
                mt[l] = m if finite(m) else one
            for j in range(w):
                tj = t[j]
                ej = t[n + j]
                for l in range(k):
                    v = tj[l]
                    m = mt[l]
                    if kind == SOFTMAX:
                        ej[l] = _softmax_term_of(kind, v, negate, m)
                    else:
                        ej[l] = _log_term_of(kind, v, m)[0]
                        tc[l] += one if v == m else zero_t
            ms, sums, ties, fa, fb = work[0, :k], work[1, :k], work[2, :k], work[3, :k], work[4, :k]
            for l in range(k):
                sums[l] = 0.0
                ties[l] = tc[l]
                ms[l] = mt[l]
            _lane_sums(t, n, sums, w)
            _short_factors(kind, x, ms, sums, ties, fa, fb)
            _lane_out(kind, op, t, b0, (hi, lo, mt, tc), (sums, fa, fb), w)

    return lane_rows_in


@linked(inline="always", **_JIT)
def _lane_out(kind, op, t, b0, lane, factors, w):
    """The results of :func:`_lane_rows`' batch from row b0 on, given per lane (max bits
    hi, lo, m, scratch) and (sum, factor a, factor b): softmax its terms times a in t's
    lanes, LANE_MAX whole rows of LANE_MAX transposed back into out at once, the other
    rows copied out row by row; log_softmax (x - m) - b from x (whole rows by
    :func:`log_rows_square`); logsumexp a + b; special rows by :func:`special_row` (a
    batch holding one takes the row by row path); kind: op's kind."""
    _, _, out, x = op
    hi, lo, mt, f = lane
    sums, fa, fb = factors
    n = x.shape[1]
    k = sums.shape[0]
    special = np.int32(0)
    for l in range(k):
        special += np.int32(not (finite(max_of_bits(hi[l], lo[l])) & (sums[l] == sums[l])))
    if kind != LOGSUMEXP:
        for l in range(k):
            f[l] = cast_like(x, fa[l] if kind == SOFTMAX else fb[l])
    if kind == SOFTMAX:
        for j in range(w):
            ej = t[n + j]
            for l in range(k):
                ej[l] = ej[l] * f[l]
    for g in range(0, k, LANE_MAX):
        e = smaller(g + LANE_MAX, k)
        if kind != LOGSUMEXP and special == 0 and n == LANE_MAX and e - g == LANE_MAX:
            if kind == SOFTMAX:
                transpose_square(t, n * LANE_ROWS + g, LANE_ROWS, out, (b0 + g) * LANE_MAX,
                                 LANE_MAX)
            else:
                log_rows_square(x, (b0 + g) * LANE_MAX, out, mt, f, g)
            continue
        for l in range(g, e):
            m = max_of_bits(hi[l], lo[l])
            o = out[b0 + l]
            if not finite(m) or sums[l] != sums[l]:
                special_row(op, None, b0 + l, m, np.bool_(finite(m)))
            elif kind == LOGSUMEXP:
                o[0] = fa[l] + fb[l]
            elif kind == SOFTMAX:
                for j in range(w):
                    o[j] = t[n + j, l]
            else:
                xr = x[b0 + l]
                for j in range(w):
                    o[j] = (xr[j] - mt[l]) - f[l]


# ------------------------------------------------------------ whole rows
@linked(_nrt=False, **_JIT)
def row_max(xb, mask, r, negate):
    """max of v = -x if negate else x over row r (masked entries -inf); no reference
    counts (the streamed rows of ``_large`` take none)."""
    sign, _, neginf = bit_limits(xb)
    n = xb.shape[1]
    bhi = sign
    blo = neginf
    for lo in range(0, n, BLOCK):
        h, l = block_max_bits(xb, mask, r, lo, smaller(lo + BLOCK, n), negate)
        bhi = h if h > bhi else bhi
        blo = l if l < blo else blo
    return max_of_bits(bhi, blo)


@linked(**_JIT)
def finish_row(op, mask, r, m, sums):
    """Finish row r of a finite max m from its block sums = (s, ties): s (softmax: S;
    log ops: the scaled s), ties (log ops); a NaN s goes to :func:`special_row`."""
    kind, _, out, x = op
    s, ties = sums
    n = x.shape[1]
    if s != s:
        special_row(op, mask, r, m, np.bool_(True))
        return
    f = row_factor(op, s, ties)
    if kind == LOGSUMEXP:
        out[r, 0] = np.float64(m) + f
        return
    for lo in range(0, n, BLOCK):
        final_block(op, mask, r, block_span(lo, n), m, f)


@linked(**_JIT)
def forward_row(op, mask, r, buf):
    """One row of softmax (negated: softmin), log_softmax or logsumexp; buf: scratch of
    min(BLOCK, n) elements of x's dtype."""
    forward_row_of_max(op, mask, r, buf, row_max(bits_view(op[3]), mask, r, op[1]))


@linked(**_JIT)
def forward_row_of_max(op, mask, r, buf, m):
    """:func:`forward_row` given the row's max m."""
    n = op[3].shape[1]
    if not finite(m):
        special_row(op, mask, r, m, np.bool_(False))
        return
    s = 0.0
    ties = np.int64(0)
    for lo in range(0, n, BLOCK):
        sb, tb = exp_block(op, mask, buf, r, block_span(lo, n), m)
        s += sb
        ties += tb
    finish_row(op, mask, r, m, (s, ties))


# Pipelined rows (no mask): the max of row r + 1 is taken, block by block, inside
# the exp pass of row r (the same loop); the max is exact in any order and the
# exps and sums are forward_row's, so the bits are the same.
@linked(_nrt=False, **_JIT)
def exp_store_next_block(op, r, span, m):
    """:func:`exp_store_block` (no mask) on row r with the bit reductions of row
    r + 1 over the same span in the same loop: (sum, 0 ties, max bits, min bits)."""
    _vmath.prefer_512_bit_vectors()
    _not_inlined()
    _, negate, out, x = op
    xb = bits_view(x)
    sign, zero, neginf = bit_limits(xb)
    flip = sign if negate else zero
    bhi = sign
    blo = neginf
    lo, hi = span
    o = out[r, lo:hi]
    xr = x[r, lo:hi]
    xn = xb[r + 1, lo:hi]
    for i in range(xr.shape[0]):
        o[i] = _softmax_term(xr[i], negate, m)
        bhi, blo = max_step(xor_bits(xn[i], flip), bhi, blo)
    return sum_pos(o, hi - lo), np.int64(0), bhi, blo


@linked(_nrt=False, **_JIT)
def exp_rest_next_block(op, buf, r, span, m):
    """:func:`exp_rest_block` (no mask) on row r with the bit reductions of row r + 1
    over the same span in the same loop: (sum, ties, max bits, min bits)."""
    _vmath.prefer_512_bit_vectors()
    _not_inlined()
    x = op[3]
    xb = bits_view(x)
    sign, _, neginf = bit_limits(xb)
    bhi = sign
    blo = neginf
    lo, hi = span
    xr = x[r, lo:hi]
    xn = xb[r + 1, lo:hi]
    ties = np.int32(0)
    for i in range(xr.shape[0]):
        e, tie = log_term(xr[i], m)
        buf[i] = e
        ties = np.int32(ties + tie)
        bhi, blo = max_step(xn[i], bhi, blo)
    return sum_pos(buf, hi - lo), np.int64(ties), bhi, blo


@linked(**_JIT)
def _exp_next_block_runtime(op, buf, r, span, m):
    if op[0] == SOFTMAX:
        return exp_store_next_block(op, r, span, m)
    return exp_rest_next_block(op, buf, r, span, m)


exp_next_block = by_kind(exp_store_next_block, exp_rest_next_block, _exp_next_block_runtime,
                         softmax_picks=(0, 2, 3, 4))
exp_next_block.__doc__ = """``exp_next_block(op, buf, r, span, m)``: (sum, ties, max bits, min
    bits): :func:`exp_store_next_block` (ties 0) or :func:`exp_rest_next_block`."""


@linked(**_JIT)
def forward_row_piped(op, r, buf, m):
    """Row r (no mask) of max m as :func:`forward_row`; returns the max of row r + 1
    (computed inside the exp pass; by :func:`row_max` if row r is special)."""
    _, negate, _, x = op
    n = x.shape[1]
    xb = bits_view(x)
    if not finite(m):
        special_row(op, None, r, m, np.bool_(False))
        return row_max(xb, None, r + 1, negate)
    sign, _, neginf = bit_limits(xb)
    bhi = sign
    blo = neginf
    s = 0.0
    ties = np.int64(0)
    for lo in range(0, n, BLOCK):
        sb, tb, h, l = exp_next_block(op, buf, r, block_span(lo, n), m)
        ties += tb
        s += sb
        bhi = h if h > bhi else bhi
        blo = l if l < blo else blo
    finish_row(op, None, r, m, (s, ties))
    return max_of_bits(bhi, blo)


@linked(**_JIT)
def forward_rows(op, mask, r0, r1):
    """Rows [r0, r1) of a forward op (short unmasked rows: :func:`short_rows`);
    pipelined (:func:`forward_row_piped`) while the rows are unmasked and fit in
    PIPELINE_MAX_BYTES."""
    x = op[3]
    buf = empty(smaller(BLOCK, x.shape[1]), x.dtype)
    rows = r1 - r0
    if mask is None and rows >= 2 and rows * x.shape[1] * x.itemsize <= PIPELINE_MAX_BYTES:
        m = row_max(bits_view(x), None, r0, op[1])
        for r in range(r0, r1 - 1):
            m = forward_row_piped(op, r, buf, m)
        forward_row_of_max(op, None, r1 - 1, buf, m)  # it has no next
        return
    for r in range(r0, r1):
        forward_row(op, mask, r, buf)


@linked(**_JIT)
def forward_rows_any(op, mask, r0, r1):
    """Rows [r0, r1) of a forward op of any length, as every plan computes them:
    :func:`short_rows_any` for unmasked rows of n <= SHORT_MAX, else :func:`forward_rows`
    (for callers without a plan: users' compiled code)."""
    if mask is None and op[3].shape[1] <= SHORT_MAX:
        short_rows_any(op, r0, r1)
    else:
        forward_rows(op, mask, r0, r1)


# ------------------------------------------------------------ backward ops
@linked(_nrt=False, **_JIT)
def _dot_block_sum(op, g, r, span):
    return dot_lanes(g[r, span[0]:span[1]], op[3][r, span[0]:span[1]], span[1] - span[0])


@linked(**_JIT)
def _grad_block_sum(op, g, r, span):
    return sum_lanes(g[r, span[0]:span[1]], span[1] - span[0])


@linked(**_JIT)
def _backward_block_sum_runtime(op, g, r, span):
    if op[0] == SOFTMAX:
        return _dot_block_sum(op, g, r, span)
    return _grad_block_sum(op, g, r, span)


backward_block_sum = by_kind(_dot_block_sum, _grad_block_sum, _backward_block_sum_runtime)
backward_block_sum.__doc__ = """``backward_block_sum(op, g, r, span)``: sum(g * y) (softmax,
    :func:`dot_lanes`) or sum(g) (log_softmax, :func:`sum_lanes`) over row r, span, in
    float64 (y = op's x); softmax's row views are not kept (compiled without reference
    counts)."""


@linked(**_JIT)
def _apart(a, b):
    """The 1-D contiguous arrays a and b share no byte."""
    pa, pb = a.ctypes.data, b.ctypes.data
    return pa + a.size * a.itemsize <= pb or pb + b.size * b.itemsize <= pa


@linked(**_JIT)
def _max_log_bits(yb, least, top):
    """max(top, the bits of y as signed integers with +0 as the least integer)."""
    for i in range(yb.shape[0]):
        b = yb[i]
        top = max(top, least if b == 0 else b)
    return top


@linked(**_JIT)
def softmax_backward_block(op, g, r, span, s):
    """out = y * (g - s_T) on row r, span (see :func:`backward_block`), as 512-bit
    vectors where the CPU has them (kept out of its callers: the loop keeps that)."""
    _vmath.prefer_512_bit_vectors()
    _not_inlined()
    _, _, out, y = op
    lo, hi = span
    o, yr, gr = out[r, lo:hi], y[r, lo:hi], g[r, lo:hi]
    st = cast_like(y, s)
    for i in range(o.shape[0]):
        o[i] = yr[i] * (gr[i] - st)


@linked(**_JIT)
def log_softmax_backward_block(op, g, r, span, s):
    """out = fma(-exp(y), s_T, g) on row r, span (explicit fma: the vector body and the
    remainder agree), by softmax's cheaper exp on blocks whose y all lie in
    [EXPNEG_NORMAL_MIN, 0] (decided per block: bits independent of plan and threads)."""
    _, _, out, y = op
    lo, hi = span
    o, yr, gr = out[r, lo:hi], y[r, lo:hi], g[r, lo:hi]
    st = cast_like(y, s)
    # the test on the bits as signed integers vectorizes; NaN and -inf fail it.  The
    # cheap pass checks as it goes (one read of y), unless o overlaps y or g: a pass
    # that could be undone must not overwrite them, so check first.
    yb = bits_view(yr)
    least = least_like(yb)
    lo_bits = expneg_normal_min_bits(yb)
    top = least
    if not (_apart(o, yr) and _apart(o, gr)):
        top = _max_log_bits(yb, least, top)
    if top <= lo_bits:
        for i in range(o.shape[0]):
            b = yb[i]
            top = max(top, least if b == 0 else b)
            o[i] = _vmath.fma(-expneg(yr[i]), st, gr[i])
    if top > lo_bits:
        for i in range(o.shape[0]):
            o[i] = _vmath.fma(-exp_any(yr[i]), st, gr[i])


@linked(**_JIT)
def _backward_block_runtime(op, g, r, span, s):
    if op[0] == SOFTMAX:
        softmax_backward_block(op, g, r, span, s)
    else:
        log_softmax_backward_block(op, g, r, span, s)


backward_block = by_kind(softmax_backward_block, log_softmax_backward_block,
                         _backward_block_runtime)
backward_block.__doc__ = """``backward_block(op, g, r, span, s)``: on row r, span, in y's type T
    with s_T = s rounded to T: softmax y * (g - s_T) (:func:`softmax_backward_block`),
    log_softmax fma(-exp(y), s_T, g) (:func:`log_softmax_backward_block`)."""


def _inlining(attribute, doc):
    @intrinsic
    def mark(typingctx):
        def codegen(context, builder, sig, args):
            builder.function.attributes.add(attribute)
            return context.get_dummy_value()

        return types.none(), codegen

    mark.__doc__ = doc
    return mark


_not_inlined = _inlining("noinline", """Keep the function this is called in out of its
    callers (LLVM's noinline): its loops keep its own attributes
    (:func:`_vmath.prefer_512_bit_vectors`); no code.""")
_always_inlined = _inlining("alwaysinline", """Inline the function this is called in
    into its callers (LLVM's alwaysinline); no code.""")


@linked(_nrt=False, **_JIT)
def short_backward_rows(op, g, r0, r1):
    """:func:`backward_rows` for n <= SHORT_MAX (every plan's) by
    :func:`_short_backward_run`, for n <= NARROW with its loops bounded by
    min(n, NARROW): LLVM then runs them as whole vectors, not a scalar remainder (a
    copy of its own: its sum order is fixed by n as well).  Marked noinline: its loops
    keep its own attributes."""
    _vmath.prefer_512_bit_vectors()
    _not_inlined()
    n = g.shape[1]
    if n <= NARROW:
        _short_backward_run(op, g, r0, r1, smaller(n, NARROW))
    else:
        _short_backward_run(op, g, r0, r1, n)


@linked(_nrt=False, **_JIT)
def _short_backward_run(op, g, r0, r1, w):
    """Rows [r0, r1) of w = n elements: per row one loop that only loads (vectorized the
    same way wherever the rows lie) takes the float64 sum of g y (softmax) or g
    (log_softmax; and the bits test of :func:`log_softmax_backward_block` on y) by
    :func:`add_reassoc` (the order fixed by n), then :func:`short_backward_write` writes
    the row (no row views kept: compiled without reference counts)."""
    _always_inlined()
    kind, _, _, y = op
    yb = bits_view(y)
    least = least_like(yb)
    lo_bits = expneg_normal_min_bits(yb)
    for r in range(r0, r1):
        yr, gr, br = y[r], g[r], yb[r]
        s = 0.0
        top = least
        for i in range(w):
            if kind == SOFTMAX:
                s = add_reassoc(s, np.float64(gr[i]) * np.float64(yr[i]))
            else:
                s = add_reassoc(s, np.float64(gr[i]))
                b = br[i]
                top = max(top, least if b == 0 else b)
        short_backward_write(op, g, r, cast_like(y, s), top <= lo_bits, w)


@linked(_nrt=False, **_JIT)
def _short_softmax_write(op, g, r, st, w):
    """out = y * (g - st) on row r of w elements."""
    _always_inlined()
    _, _, out, y = op
    o, yr, gr = out[r], y[r], g[r]
    for i in range(w):
        o[i] = yr[i] * (gr[i] - st)


@linked(_nrt=False, **_JIT)
def _short_log_write(op, g, r, st, cheap, w):
    """out = fma(-exp(y), st, g) on row r of w elements, by softmax's exp where cheap."""
    _always_inlined()
    _, _, out, y = op
    o, yr, gr = out[r], y[r], g[r]
    if cheap:
        for i in range(w):
            o[i] = _vmath.fma(-expneg(yr[i]), st, gr[i])
    else:
        for i in range(w):
            o[i] = _vmath.fma(-exp_any(yr[i]), st, gr[i])


@linked(_nrt=False, **_JIT)
def _short_backward_write_runtime(op, g, r, st, cheap, w):
    _always_inlined()
    if op[0] == SOFTMAX:
        _short_softmax_write(op, g, r, st, w)
    else:
        _short_log_write(op, g, r, st, cheap, w)


short_backward_write = by_kind(_short_softmax_write, _short_log_write,
                               _short_backward_write_runtime, softmax_picks=(0, 1, 2, 3, 5))
short_backward_write.__doc__ = """``short_backward_write(op, g, r, st, cheap, w)``: row r (its first
    w elements) of a short backward op given st (the sum in y's type) and cheap (y in
    [EXPNEG_NORMAL_MIN, 0]): the kind's code only."""


@linked(**_JIT)
def backward_rows(op, g, r0, r1):
    """Rows [r0, r1) of softmax_backward (kind SOFTMAX) or log_softmax_backward: the
    row's block sums added in block order, then :func:`backward_block` per block
    (rows of n <= SHORT_MAX: :func:`short_backward_rows`)."""
    n = g.shape[1]
    if n <= SHORT_MAX:
        short_backward_rows(op, g, r0, r1)
        return
    for r in range(r0, r1):
        s = 0.0
        for lo in range(0, n, BLOCK):
            s += backward_block_sum(op, g, r, (lo, smaller(lo + BLOCK, n)))
        for lo in range(0, n, BLOCK):
            backward_block(op, g, r, (lo, smaller(lo + BLOCK, n)), s)
