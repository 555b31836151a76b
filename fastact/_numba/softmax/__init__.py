"""The softmax family of the Numba backend.

:func:`get_rowwise(op) <get_rowwise>` returns ``kernel(out, x, grad, mask,
n_threads)`` for an op of the registry's row ops, working along axis 1 of
C-contiguous float32/float64 arrays ``(rows, n)`` or ``(outer, n, inner)``
(``out`` like x, or without axis 1 for logsumexp; ``mask`` None or a C bool
array like x; for the backward ops ``x`` holds y; ``out`` may be an input).
The semantics are those of ``fastact._reference``; the algorithm, its
accuracy and the special rows are described in docs/softmax.md.  The bits of
a result do not depend on the plan or the number of threads.

Modules: ``_exp`` (constants and the exponentials), ``_bits`` (row max from
float bits), ``_sums`` (fixed-order sums), ``_rows`` (block operations, row
drivers, the short rows), ``_large`` (prefetch and streaming stores), ``_tiles`` (a
non-last axis), ``_plan`` (how a call runs, its thresholds), ``_kind`` (one op kind's
code per compilation), ``_tasks`` (the serial/parallel entry points, one per op
kind and plan).  Compiled functions are cached on disk in the backend's one
cache directory (``fastact._numba._cache``), keyed by all of its sources.
"""
from __future__ import annotations

import numpy as np

from .. import _threading
from . import _pool
from ._plan import (BLOCKS, LARGE_ROWS, ROWS, SHORT_LANES, SHORT_ROWS, SHORT_TILES, TILES, plan,
                    task_count)
from ._rows import LOG_SOFTMAX, LOGSUMEXP, SOFTMAX
from ._tasks import parallel_entry, serial_entry

_threading.setup()  # the layer must be chosen before the first parallel launch
_MAX_THREADS = _threading.max_threads()
_POOLED_JOBS_MAX = 64  # shapes whose pooled plan a backward kernel keeps (then starts over)

# op -> (kind, negate, forward, may take LARGE_ROWS without a mask)
_OPS = {
    "softmax": (SOFTMAX, False, True, True),
    "softmin": (SOFTMAX, True, True, True),
    "log_softmax": (LOG_SOFTMAX, False, True, True),
    "logsumexp": (LOGSUMEXP, False, True, True),
    "softmax_backward": (SOFTMAX, False, False, True),
    "log_softmax_backward": (LOG_SOFTMAX, False, False, False),
}


def get_rowwise(op):
    """``kernel(out, x, grad, mask, n_threads)`` for the softmax-family op ``op``."""
    from ... import _numba as backend  # WORK_POOL, read at each call

    kind, negate, forward, streams = _OPS[op]
    # (shape, itemsize, n_threads) of a 2-D call planned onto the work pool -> (address,
    # values, parts, threads), its driver's arguments (the plan, kept)
    pooled_jobs = {}

    def kernel(out, x, grad, mask, n_threads):
        if mask is None and backend.WORK_POOL:
            key = (x.shape, x.itemsize, n_threads)
            job = pooled_jobs.get(key)
            if job is not None and (job[3] == 1 or _threading.caller_threads(job[3]) == job[3]):
                _pool.parts_driver()(job[0], (out, x, grad), job[1], job[2], job[3])
                return
        if x.ndim == 3 and x.shape[2] == 1:  # the last axis after all
            x = x.reshape(x.shape[:2])
            grad = None if grad is None else grad.reshape(x.shape)
            mask = None if mask is None else mask.reshape(x.shape)
        if x.ndim == 2 and out.ndim != 2:  # logsumexp's (rows,) as (rows, 1); (outer, n, 1): x's
            out = out.reshape(x.shape[:1] + (1,) if out.ndim == 1 else x.shape)
        k = n_threads if n_threads < _MAX_THREADS else _MAX_THREADS
        pooled = (backend.WORK_POOL and mask is None and x.ndim == 2
                  and _pool.parts_driver() is not None)
        how, chunks = plan(x.shape, x.itemsize, k, forward, streams and mask is None,
                           mask is None, pooled)
        tasks = task_count(how, x.shape)
        if pooled and how in _pool.POOLED:
            threads = _threading.caller_threads(chunks) if chunks > 1 else 1
            job = _pool.job(kind, how, negate, x, out.shape[1], not forward, tasks, threads)
            if threads == chunks and len(key[0]) == 2:
                if len(pooled_jobs) >= _POOLED_JOBS_MAX:
                    pooled_jobs.clear()
                pooled_jobs[key] = job + (threads,)
            _pool.parts_driver()(job[0], (out, x, grad), job[1], job[2], threads)
        elif chunks == 1:
            serial_entry(kind, how)(negate, out, x, grad, mask, tasks)
        else:
            _threading.run_parallel(parallel_entry(kind, how),
                                    (negate, out, x, grad, mask, tasks), chunks)

    kernel.__name__ = f"numba_{op}"
    kernel.__doc__ = f"Numba row kernel for {op} (see fastact._numba.softmax)."
    return kernel


def warmup() -> None:
    """Compile (or load from the disk cache) every entry point, serial and parallel, of
    every op and plan: float32 and float64, 2-D and 3-D, with and without a mask."""
    for op, (kind, negate, forward, streams) in _OPS.items():
        for dtype in (np.float32, np.float64):
            lanes = (SHORT_LANES,) if dtype == np.float32 else ()
            for shape, hows in (((2, 3), (ROWS, LARGE_ROWS, BLOCKS, SHORT_ROWS) + lanes),
                                ((1, 3, 2), (TILES, SHORT_TILES))):
                x = np.zeros(shape, dtype)
                out = np.empty(shape[:1] + shape[2:] if op == "logsumexp" else shape, dtype)
                grad = None if forward else x
                masks = (None, np.ones(shape, np.bool_)) if forward else (None,)
                for how in hows:
                    short = how in (SHORT_ROWS, SHORT_LANES, SHORT_TILES)
                    if how == LARGE_ROWS and not streams or short and not forward:
                        continue
                    args = (negate, out.reshape(x.shape[:1] + (1,)) if out.ndim == 1 else out,
                            x, grad)
                    tasks = task_count(how, shape)
                    for mask in masks if how != LARGE_ROWS and not short else (None,):
                        if how != BLOCKS:
                            serial_entry(kind, how)(*args, mask, tasks)
                        parallel_entry(kind, how)(*args, mask, tasks, 2)


__all__ = ["get_rowwise", "warmup"]
