"""How one softmax-family call runs: the plan and its thresholds.

:func:`plan` maps (shape, itemsize, threads) to one of the task kinds below
and a number of parallel chunks (1: on the calling thread).  Results are the
same bits under every plan; the thresholds only move time (measurements:
docs/tuning.md, "Numba softmax kernels").
"""
from __future__ import annotations


from ..._constants import (NUMBA_SOFTMAX_BACKWARD_SERIAL_MAX_BYTES,
                           SOFTMAX_BACKWARD_POOL_SERIAL_MAX_BYTES, SOFTMAX_SHORT_NARROW,
                           SOFTMAX_TILE)
from ._exp import BLOCK

# ---------------------------------------------------------------- thresholds
BACKWARD_SERIAL_MAX_BYTES = NUMBA_SOFTMAX_BACKWARD_SERIAL_MAX_BYTES  # backward ops: serial up to this
BACKWARD_POOL_SERIAL_MAX_BYTES = SOFTMAX_BACKWARD_POOL_SERIAL_MAX_BYTES  # ... on the work pool
FORWARD_SERIAL_MAX_BYTES = 1 << 17  # forward ops: up to this many bytes on the calling thread
FORWARD_BLOCKS_SERIAL_MAX_BYTES = 1 << 19  # ... when threads would split (row, block) tasks
PIPELINE_MAX_BYTES = 1 << 20  # a thread's rows pipelined while they fit in its L2 cache
LARGE_MIN_BYTES = 8 << 20  # from here on: prefetch the next row, stream the output
SHORT_MAX = 256  # unmasked forward rows of up to this many elements: SHORT_ROWS
TILE_COLUMNS = SOFTMAX_TILE  # columns per tile of a non-last axis

# Streaming stores and prefetch (``_large``) are used on x86-64 only.
from .._stream import AVAILABLE as STREAMING  # non-temporal stores and sfence exist (x86-64)

# ---------------------------------------------------------------- task kinds
ROWS = 0  # threads split the rows, one row per thread at a time
LARGE_ROWS = 1  # the same, with prefetch and streaming stores
BLOCKS = 2  # few long rows: threads split (row, block) tasks in phases
TILES = 3  # a non-last axis: threads split column tiles
SHORT_ROWS = 4  # unmasked forward rows of at most SHORT_MAX elements (``_rows.short_rows``)
SHORT_TILES = 5  # TILES whose columns are such rows (the other TILES hold no short-row code)
SHORT_LANES = 6  # SHORT_ROWS of float32, n <= SOFTMAX_SHORT_NARROW: rows as vector lanes


def plan(shape, itemsize, n_threads, forward, streams, unmasked=True, pooled=False):
    """(task kind, parallel chunks) for a call on ``shape`` = (rows, n) or
    (outer, n, inner) with inner > 1.  ``n_threads`` is already capped at
    Numba's pool; ``streams``: the op may use LARGE_ROWS (no mask, not
    log_softmax_backward); ``pooled``: split rows would run on the work pool.
    Short unmasked forward rows take SHORT_ROWS (float32 rows of n <=
    SOFTMAX_SHORT_NARROW: SHORT_LANES) whatever the size, and the column tiles of
    such rows SHORT_TILES (the one code for them: a call compiles the short or the
    long rows' code, not both)."""
    rows, n = shape[0], shape[1]
    size = rows * n if len(shape) == 2 else rows * n * shape[2]
    nbytes = size * itemsize
    if forward:
        serial = n_threads <= 1 or nbytes <= FORWARD_SERIAL_MAX_BYTES
    else:
        serial = n_threads <= 1 or nbytes <= (BACKWARD_POOL_SERIAL_MAX_BYTES if pooled
                                              else BACKWARD_SERIAL_MAX_BYTES)
    short = forward and unmasked and n <= SHORT_MAX
    if len(shape) == 3:
        how = SHORT_TILES if short else TILES
        return how, (1 if serial else min(n_threads, task_count(how, shape)))
    if short:
        how = SHORT_LANES if itemsize == 4 and n <= SOFTMAX_SHORT_NARROW else SHORT_ROWS
        return how, (1 if serial else min(n_threads, rows))
    kind = LARGE_ROWS if streams and STREAMING and nbytes >= LARGE_MIN_BYTES else ROWS
    if serial:
        return kind, 1
    if rows < 2 * n_threads and n > BLOCK:
        if nbytes <= (FORWARD_BLOCKS_SERIAL_MAX_BYTES if forward else BACKWARD_SERIAL_MAX_BYTES):
            return kind, 1  # BLOCKS run on Numba's threading layer, not on the work pool
        return BLOCKS, min(n_threads, task_count(BLOCKS, shape))
    return kind, (n_threads if n_threads < rows else rows)


def task_count(how, shape):
    """The number of tasks of task kind ``how`` on ``shape``: rows, (row, block) pairs
    (BLOCKS) or column tiles (TILES, SHORT_TILES)."""
    if how in (TILES, SHORT_TILES):
        return shape[0] * ((shape[2] + TILE_COLUMNS - 1) // TILE_COLUMNS)
    if how == BLOCKS:
        return shape[0] * ((shape[1] + BLOCK - 1) // BLOCK)
    return shape[0]
