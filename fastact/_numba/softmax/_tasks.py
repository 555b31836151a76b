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
``_rows``): a forward op has ``g`` None, a backward op ``mask`` None (x then
holds y).  Which row, tile or block functions a job runs is chosen at compile
time from its types and from the literal op kind and task kind (``_kind``).
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import prange, types
from numba.extending import overload

from .._cache import jit, linked
from ._alloc import empty, zeros
from ._bits import bit_limits, bits_view, max_of_bits
from ._exp import BLOCK
from ._kind import LITERAL, literal_value
from ._large import backward_rows_large, forward_rows_large
from ._plan import BLOCKS, LARGE_ROWS, SHORT_ROWS, SHORT_TILES
from ._rows import (LOGSUMEXP, backward_block, backward_block_sum, backward_rows, block_max_bits,
                    exp_block, final_block, finite, forward_rows, row_factor, short_rows,
                    special_row)
from ._tiles import backward_tiles, forward_tiles, tile_count

_JIT = dict(nogil=True, error_model="numpy")
_NAN = math.nan


def _pick(job, forward_rows_impl, backward_rows_impl, forward_tiles_impl, backward_tiles_impl):
    """The implementation for the job's types: forward or backward, 2-D or 3-D."""
    backward = not isinstance(job[2], types.NoneType)
    if job[0][3].ndim == 3:
        return backward_tiles_impl if backward else forward_tiles_impl
    return backward_rows_impl if backward else forward_rows_impl


# ---------------------------------------------------------------- the job
def make_job(kind, negate, out, x, grad, mask):
    """The job tuple (see the module doc); a literal kind stays a literal."""


@overload(make_job, inline="always", **LITERAL)
def _make_job_impl(kind, negate, out, x, grad, mask):
    if x.ndim == 2 and out.ndim != 2:  # logsumexp's (rows,) out seen as (rows, 1): out[r, 0];
        # an (outer, n, 1) out of the last axis after all as (outer, n)
        return lambda kind, negate, out, x, grad, mask: (
            (kind, negate, out.reshape((x.shape[0], out.size // x.shape[0])), x), mask, grad)
    return lambda kind, negate, out, x, grad, mask: ((kind, negate, out, x), mask, grad)


def task_count(how, job):
    """Rows, (row, block) pairs (BLOCKS) or tiles."""


def _row_task_count(how, job):
    rows, n = job[0][3].shape
    return rows * ((n + BLOCK - 1) // BLOCK) if how == BLOCKS else rows


def _tile_task_count(how, job):
    return tile_count(job[0][3].shape)


@overload(task_count, inline="always", **LITERAL)
def _task_count_impl(how, job):
    return _pick(job, _row_task_count, _row_task_count, _tile_task_count, _tile_task_count)


# ---------------------------------------------------------------- row and tile tasks
def run_tasks(how, job, span):
    """Tasks span = (first, end) of a one-phase task kind (ROWS, LARGE_ROWS, SHORT_ROWS,
    TILES, SHORT_TILES)."""


def _forward_row_tasks(how, job, span):
    op, mask, _ = job
    if how == LARGE_ROWS:
        forward_rows_large(op, span[0], span[1])
    elif how == SHORT_ROWS:
        short_rows(op, span[0], span[1])
    else:
        forward_rows(op, mask, span[0], span[1])


def _backward_row_tasks(how, job, span):
    op, _, g = job
    if how == LARGE_ROWS:
        backward_rows_large(op, g, span[0], span[1])
    else:
        backward_rows(op, g, span[0], span[1])


def _forward_small_row_tasks(how, job, span):
    forward_rows(job[0], job[1], span[0], span[1])


def _backward_small_row_tasks(how, job, span):
    backward_rows(job[0], job[2], span[0], span[1])


def _forward_short_row_tasks(how, job, span):
    short_rows(job[0], span[0], span[1])


def _forward_large_row_tasks(how, job, span):
    forward_rows_large(job[0], span[0], span[1])


def _backward_large_row_tasks(how, job, span):
    backward_rows_large(job[0], job[2], span[0], span[1])


def _forward_tile_tasks(how, job, span):
    x = job[0][3]
    forward_tiles(job[0], job[1], span, empty(min(BLOCK, x.shape[1]), x.dtype))


def _forward_short_tile_tasks(how, job, span):
    forward_tiles(job[0], None, span, None)


def _forward_any_tile_tasks(how, job, span):
    x = job[0][3]
    if how == SHORT_TILES:
        forward_tiles(job[0], None, span, None)
    else:
        forward_tiles(job[0], job[1], span, empty(min(BLOCK, x.shape[1]), x.dtype))


def _backward_tile_tasks(how, job, span):
    backward_tiles(job[0], job[2], span)


@overload(run_tasks, **LITERAL)
def _run_tasks_impl(how, job, span):
    plan = literal_value(how)  # a literal task kind compiles its own row functions only
    forward_tiles_impl = _forward_short_tile_tasks if plan == SHORT_TILES else _forward_tile_tasks
    if plan is None:
        rows = (_forward_row_tasks, _backward_row_tasks)
        forward_tiles_impl = _forward_any_tile_tasks
    elif plan == LARGE_ROWS:
        rows = (_forward_large_row_tasks, _backward_large_row_tasks)
    elif plan == SHORT_ROWS:  # forward only
        rows = (_forward_short_row_tasks, _backward_small_row_tasks)
    else:
        rows = (_forward_small_row_tasks, _backward_small_row_tasks)
    return _pick(job, *rows, forward_tiles_impl, _backward_tile_tasks)


# ---------------------------------------------------------------- (row, block) tasks
@linked(**_JIT)
def _row_block(t, nb, n):
    """(row, first element, end) of (row, block) task t."""
    r, b = t // nb, t % nb
    return r, b * BLOCK, min(b * BLOCK + BLOCK, n)


def scratch(job, n_chunks):
    """Per-call arrays of the BLOCKS phases."""


def _forward_scratch(job, n_chunks):
    x = job[0][3]
    rows, n = x.shape
    tasks = rows * ((n + BLOCK - 1) // BLOCK)
    xb = bits_view(x)
    # block max bits (2), row maxima, block sums, block ties, exp buffers, row finish
    return (empty(tasks, xb.dtype), empty(tasks, xb.dtype), empty(rows, x.dtype),
            empty(tasks, np.float64), zeros(tasks, np.int64),
            empty((n_chunks, BLOCK), x.dtype), empty(rows, np.float64))


def _backward_scratch(job, n_chunks):
    rows, n = job[0][3].shape
    return empty(rows * ((n + BLOCK - 1) // BLOCK), np.float64), zeros(rows, np.float64)


def _no_scratch(job, n_chunks):
    return None


@overload(scratch, inline="always", **LITERAL)
def _scratch_impl(job, n_chunks):
    return _pick(job, _forward_scratch, _backward_scratch, _no_scratch, _no_scratch)


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


def _forward_after_phase(job, work, phase):
    op, mask, _ = job
    x = op[3]
    nb = (x.shape[1] + BLOCK - 1) // BLOCK
    if phase == 0:
        _row_maxima(bits_view(x), work[0], work[1], work[2], nb)
    elif phase == 1:
        _row_finish(op, mask, work, nb)


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


def _backward_after_phase(job, work, phase):
    sums, tot = work
    nb = sums.shape[0] // max(tot.shape[0], 1)
    if phase == 0:
        for r in range(tot.shape[0]):
            s = 0.0
            for t in range(r * nb, r * nb + nb):
                s += sums[t]
            tot[r] = s


def block_tasks(job, work, phase, c, span):
    """Tasks span of phase ``phase`` of BLOCKS; c: the chunk (its scratch row)."""


def _no_block_tasks(job, work, phase, c, span):
    pass


@overload(block_tasks, **LITERAL)
def _block_tasks_impl(job, work, phase, c, span):
    if isinstance(work, types.NoneType):
        return _no_block_tasks
    return _pick(job, _forward_block_tasks, _backward_block_tasks, _no_block_tasks,
                 _no_block_tasks)


def after_phase(job, work, phase):
    """The per-row combination after a phase of BLOCKS, in the calling thread."""


def _nothing_after(job, work, phase):
    pass


@overload(after_phase, **LITERAL)
def _after_phase_impl(job, work, phase):
    if isinstance(work, types.NoneType):
        return _nothing_after
    return _pick(job, _forward_after_phase, _backward_after_phase, _nothing_after,
                 _nothing_after)


@linked(**_JIT)
def phase_count(how, job):
    """BLOCKS: 3 phases (forward; logsumexp has no final pass: 2), 2 (backward); else 1."""
    if how != BLOCKS:
        return 1
    if job[2] is None:
        return 2 if job[0][0] == LOGSUMEXP else 3
    return 2


# ---------------------------------------------------------------- the driver
@linked(**_JIT)
def _chunk(how, job, work, phase, c, n_chunks):
    """Chunk c of n_chunks of the tasks of one phase (work: the BLOCKS scratch, or None
    for the one-phase task kinds)."""
    n_tasks = task_count(how, job)
    span = (n_tasks * c // n_chunks, n_tasks * (c + 1) // n_chunks)
    if work is None:
        run_tasks(how, job, span)
    else:
        block_tasks(job, work, phase, c, span)


@linked(parallel=True, **_JIT)
def _run_phases(how, job, work, n_chunks):
    """The phases of ``how``, each a prange over n_chunks chunks (the job is unpacked
    first: a parallel region takes flat tuples only)."""
    (kind, negate, out, x), mask, g = job
    for phase in range(phase_count(how, job)):
        for c in prange(n_chunks):  # c is unsigned in the region's gufunc: one _chunk type
            _chunk(how, ((kind, negate, out, x), mask, g), work, phase, np.int64(c), n_chunks)
        after_phase(job, work, phase)


@functools.lru_cache(maxsize=None)
def serial_entry(kind, how):
    """``run_serial(negate, out, x, grad, mask)``: op kind ``kind`` (negated: softmin)
    as task kind ``how`` (not BLOCKS) in the calling thread; no parallel region is
    compiled or loaded for it."""

    @jit(**_JIT)
    def run_serial(negate, out, x, grad, mask):
        job = make_job(kind, negate, out, x, grad, mask)
        run_tasks(how, job, (np.int64(0), task_count(how, job)))  # not a literal: one compilation

    return run_serial


@functools.lru_cache(maxsize=None)
def parallel_entry(kind, how):
    """``run(negate, out, x, grad, mask, n_chunks)``: op kind ``kind`` as task kind
    ``how`` in n_chunks > 1 chunks.  Flat arguments: a tuple from Python is typed
    slowly."""
    if how == BLOCKS:
        @jit(**_JIT)
        def run_blocks(negate, out, x, grad, mask, n_chunks):
            job = make_job(kind, negate, out, x, grad, mask)
            _run_phases(how, job, scratch(job, n_chunks), n_chunks)

        return run_blocks

    @jit(**_JIT)
    def run(negate, out, x, grad, mask, n_chunks):
        _run_phases(how, make_job(kind, negate, out, x, grad, mask), None, n_chunks)

    return run
