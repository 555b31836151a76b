"""The drivers: a plan's tasks on the calling thread or split over threads.

``serial_entry(kind, how)`` is a compiled function running every task of the
task kind ``how`` of ``_plan`` for one op kind in the calling thread (a
separate function, so that a small call never compiles or loads a parallel
region); ``parallel_entry(kind, how)`` splits them into ``n_chunks > 1``
chunks, run as ``prange(n_chunks)``, each chunk a contiguous range of tasks, in
one or more phases (``BLOCKS``: the block maxima, the block sums, the final
pass, with the per-row combinations in block order between them).  One entry
per (op kind, task kind): a call compiles, or loads from the disk cache, the
code of its own op and plan only.  The caller sets Numba's thread count to
``n_chunks`` around the call (``fastact._numba._threading.run_parallel``): no
thread count is read or set in compiled code, so every function here is cached
on disk.

A job is the tuple ``(op, mask, g)`` with ``op = (kind, negate, out, x)`` (see
``_rows``; out has x's number of dimensions): a forward op has ``g`` None, a
backward op ``mask`` None (x then holds y).  Which row, tile or block functions a
job runs is chosen while typing, from its types and from the literal op kind and
task kind (``_kind.chosen``: a direct call, no compiled function of its own); the
number of tasks comes from Python (``_plan.task_count``).
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import prange, types

from .._cache import jit, linked
from ._alloc import empty, zeros
from ._bits import bit_limits, bits_view, max_of_bits, smaller
from ._exp import BLOCK
from ._kind import chosen, literal_value
from ._large import backward_rows_large, forward_rows_large
from ._plan import BLOCKS, LARGE_ROWS, SHORT_LANES, SHORT_ROWS, SHORT_TILES, TILES
from ._rows import (LOGSUMEXP, backward_block, backward_block_sum, backward_rows, block_max_bits,
                    exp_block, final_block, finite, forward_rows, lane_rows, row_factor,
                    short_rows, special_row)
from ._tiles import backward_tiles, forward_tiles

_JIT = dict(nogil=True, error_model="numpy")
_NAN = math.nan

# The row and tile functions of a one-phase task kind, called as f(how, job, first, end)
# with these of their arguments (paths into (how, job, first, end): see ``_kind.chosen``).
_OP, _MASK, _G = (1, 0), (1, 1), (1, 2)
_SPAN = (2, 3)


@linked(**_JIT)
def _forward_tile_tasks(op, mask, t0, t1):
    """Tiles [t0, t1) of a forward op (TILES: the long rows' code, a block of scratch)."""
    x = op[3]
    forward_tiles(op, mask, (t0, t1), empty(smaller(BLOCK, x.shape[1]), x.dtype))


@linked(**_JIT)
def _forward_short_tile_tasks(op, t0, t1):
    """Tiles [t0, t1) of a forward op of short unmasked columns (SHORT_TILES)."""
    forward_tiles(op, None, (t0, t1), None)


@linked(**_JIT)
def _backward_tile_tasks(op, g, t0, t1):
    backward_tiles(op, g, (t0, t1))


def _choose_tasks(how, job, first, end):
    plan = literal_value(how)  # a literal task kind compiles its own row functions only
    if not isinstance(job[2], types.NoneType):  # backward
        if plan in (TILES, SHORT_TILES):
            return _backward_tile_tasks, (_OP, _G) + _SPAN
        rows = backward_rows_large if plan == LARGE_ROWS else backward_rows
        return rows, (_OP, _G) + _SPAN
    if plan == TILES:
        return _forward_tile_tasks, (_OP, _MASK) + _SPAN
    if plan == SHORT_TILES:
        return _forward_short_tile_tasks, (_OP,) + _SPAN
    if plan == SHORT_ROWS:
        return short_rows, (_OP,) + _SPAN
    if plan == SHORT_LANES:
        return lane_rows, (_OP,) + _SPAN
    if plan == LARGE_ROWS:
        return forward_rows_large, (_OP,) + _SPAN
    return forward_rows, (_OP, _MASK) + _SPAN


run_tasks = chosen(_choose_tasks)
run_tasks.__doc__ = """``run_tasks(how, job, first, end)``: tasks [first, end) of a one-phase task
    kind (ROWS, LARGE_ROWS, SHORT_ROWS, SHORT_LANES, TILES, SHORT_TILES), by the literal
    ``how``."""


# ---------------------------------------------------------------- (row, block) tasks
@linked(**_JIT)
def _row_block(t, nb, n):
    """(row, first element, end) of (row, block) task t."""
    r, b = t // nb, t % nb
    return r, b * BLOCK, smaller(b * BLOCK + BLOCK, n)


@linked(**_JIT)
def _forward_scratch(job, n_chunks):
    """Per-call arrays of the forward BLOCKS phases."""
    x = job[0][3]
    rows, n = x.shape
    tasks = rows * ((n + BLOCK - 1) // BLOCK)
    xb = bits_view(x)
    # block max bits (2), row maxima, block sums, block ties, exp buffers, row finish
    return (empty(tasks, xb.dtype), empty(tasks, xb.dtype), empty(rows, x.dtype),
            empty(tasks, np.float64), zeros(tasks, np.int64),
            empty((n_chunks, BLOCK), x.dtype), empty(rows, np.float64))


@linked(**_JIT)
def _backward_scratch(job, n_chunks):
    """Per-call arrays of the backward BLOCKS phases."""
    rows, n = job[0][3].shape
    return empty(rows * ((n + BLOCK - 1) // BLOCK), np.float64), zeros(rows, np.float64)


def _forward_or_backward(forward, backward):
    """``f(job, ...)``: forward(job, ...) for a forward job (g None), else backward."""
    return chosen(lambda job, *args: (forward if isinstance(job[2], types.NoneType)
                                      else backward, None))


scratch = _forward_or_backward(_forward_scratch, _backward_scratch)
scratch.__doc__ = """``scratch(job, n_chunks)``: per-call arrays of the BLOCKS phases."""


@linked(**_JIT)
def _forward_block_tasks(job, work, phase, c, span):
    """Phase 0: block max bits; 1: block exp sums; 2: the final pass."""
    op, mask, _ = job
    _, negate, _, x = op
    his, los, ms, sums, ties, bufs, fin = work
    n = x.shape[1]
    nb = (n + BLOCK - 1) // BLOCK
    xb = bits_view(x)
    for t in range(span[0], span[1]):
        r, lo, hi = _row_block(t, nb, n)
        if phase == 0:
            his[t], los[t] = block_max_bits(xb, mask, r, lo, hi, negate)
        elif phase == 1:
            if not finite(ms[r]):
                continue
            sums[t], ties[t] = exp_block(op, mask, bufs[c], r, (lo, hi), ms[r])
        elif fin[r] == fin[r]:  # NaN: a special row, already finished
            final_block(op, mask, r, (lo, hi), ms[r], fin[r])


@linked(**_JIT)
def _row_maxima(xb, his, los, ms, nb):
    """ms[r] from the block max bits of row r, in block order."""
    sign, _, neginf = bit_limits(xb)
    for r in range(ms.shape[0]):
        bhi = sign
        blo = neginf
        for t in range(r * nb, r * nb + nb):
            bhi = his[t] if his[t] > bhi else bhi
            blo = los[t] if los[t] < blo else blo
        ms[r] = max_of_bits(bhi, blo)


@linked(**_JIT)
def _row_finish(op, mask, work, nb):
    """fin[r] = 1/S (softmax) or log1p(s) (log ops) from the block sums of row r, in
    block order (logsumexp: out[r, 0] as well); special rows finished, fin NaN."""
    kind, _, out, _ = op
    _, _, ms, sums, ties, _, fin = work
    for r in range(ms.shape[0]):
        m = ms[r]
        s = 0.0
        tie = 0
        for t in range(r * nb, r * nb + nb):
            s += sums[t]
            tie += ties[t]
        if not finite(m) or s != s:
            special_row(op, mask, r, m, finite(m))
            fin[r] = _NAN
        else:
            fin[r] = row_factor(op, s, tie)
            if kind == LOGSUMEXP:
                out[r, 0] = np.float64(m) + fin[r]


@linked(**_JIT)
def _forward_after_phase(job, work, phase):
    op, mask, _ = job
    x = op[3]
    nb = (x.shape[1] + BLOCK - 1) // BLOCK
    if phase == 0:
        _row_maxima(bits_view(x), work[0], work[1], work[2], nb)
    elif phase == 1:
        _row_finish(op, mask, work, nb)


@linked(**_JIT)
def _backward_block_tasks(job, work, phase, c, span):
    """Phase 0: block sums; 1: the final pass."""
    op, _, g = job
    sums, tot = work
    n = g.shape[1]
    nb = (n + BLOCK - 1) // BLOCK
    for t in range(span[0], span[1]):
        r, lo, hi = _row_block(t, nb, n)
        if phase == 0:
            sums[t] = backward_block_sum(op, g, r, (lo, hi))
        else:
            backward_block(op, g, r, (lo, hi), tot[r])


@linked(**_JIT)
def _backward_after_phase(job, work, phase):
    sums, tot = work
    nb = sums.shape[0] // max(tot.shape[0], 1)
    if phase == 0:
        for r in range(tot.shape[0]):
            s = 0.0
            for t in range(r * nb, r * nb + nb):
                s += sums[t]
            tot[r] = s


block_tasks = _forward_or_backward(_forward_block_tasks, _backward_block_tasks)
block_tasks.__doc__ = """``block_tasks(job, work, phase, c, span)``: tasks span of phase ``phase``
    of BLOCKS; c: the chunk (its scratch row)."""
after_phase = _forward_or_backward(_forward_after_phase, _backward_after_phase)
after_phase.__doc__ = """``after_phase(job, work, phase)``: the per-row combination after a phase
    of BLOCKS, in the calling thread."""


# ---------------------------------------------------------------- the drivers
@linked(parallel=True, **_JIT)
def _run_chunks(how, job, n_tasks, n_chunks):
    """The tasks of a one-phase task kind ``how`` as a prange over n_chunks chunks, each
    a contiguous range (the job is unpacked first: a parallel region takes flat tuples
    only; c is unsigned in the region's gufunc: made int64, one type for the callees)."""
    (kind, negate, out, x), mask, g = job
    for c in prange(n_chunks):
        i = np.int64(c)
        run_tasks(how, ((kind, negate, out, x), mask, g), n_tasks * i // n_chunks,
                  n_tasks * (i + 1) // n_chunks)


@linked(parallel=True, **_JIT)
def _run_phases(job, work, n_phases, n_tasks, n_chunks):
    """The phases of BLOCKS, each a prange over n_chunks chunks of the n_tasks (row, block)
    tasks, then the per-row combination in the calling thread."""
    (kind, negate, out, x), mask, g = job
    for phase in range(n_phases):
        for c in prange(n_chunks):
            i = np.int64(c)
            block_tasks(((kind, negate, out, x), mask, g), work, phase, i,
                        (n_tasks * i // n_chunks, n_tasks * (i + 1) // n_chunks))
        after_phase(job, work, phase)


@functools.lru_cache(maxsize=None)
def serial_entry(kind, how):
    """``run_serial(negate, out, x, grad, mask, n_tasks)``: op kind ``kind`` (negated:
    softmin) as task kind ``how`` (not BLOCKS) in the calling thread; no parallel region
    is compiled or loaded for it."""

    @jit(**_JIT)
    def run_serial(negate, out, x, grad, mask, n_tasks):
        run_tasks(how, ((kind, negate, out, x), mask, grad), np.int64(0), n_tasks)

    return run_serial


@functools.lru_cache(maxsize=None)
def parallel_entry(kind, how):
    """``run(negate, out, x, grad, mask, n_tasks, n_chunks)``: op kind ``kind`` as task
    kind ``how`` in n_chunks > 1 chunks.  Flat arguments: a tuple from Python is typed
    slowly."""
    if how == BLOCKS:
        phases = 2 if kind == LOGSUMEXP else 3  # forward (logsumexp: no final pass)

        @jit(**_JIT)
        def run_blocks(negate, out, x, grad, mask, n_tasks, n_chunks):
            job = ((kind, negate, out, x), mask, grad)
            _run_phases(job, scratch(job, n_chunks), phases if grad is None else 2, n_tasks,
                        n_chunks)

        return run_blocks

    @jit(**_JIT)
    def run(negate, out, x, grad, mask, n_tasks, n_chunks):
        _run_chunks(how, ((kind, negate, out, x), mask, grad), n_tasks, n_chunks)

    return run
