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
drivers), ``_large`` (prefetch and streaming stores), ``_tiles`` (a non-last
axis), ``_plan`` (how a call runs, its thresholds), ``_tasks`` (the one
serial/parallel driver).  Compiled functions are cached on disk in the backend's
one cache directory (``fastact._numba._cache``), keyed by all of its sources.
"""
from __future__ import annotations

import numpy as np

from .. import _threading
from ._plan import ROWS, TILES, plan
from ._rows import LOG_SOFTMAX, LOGSUMEXP, SOFTMAX
from ._tasks import run, run_serial

_threading.setup()  # the layer must be chosen before the first parallel launch
_MAX_THREADS = _threading.max_threads()

# op -> (2 * kind + negate, forward, may stream without a mask)
_OPS = {
    "softmax": (2 * SOFTMAX, True, True),
    "softmin": (2 * SOFTMAX + 1, True, True),
    "log_softmax": (2 * LOG_SOFTMAX, True, True),
    "logsumexp": (2 * LOGSUMEXP, True, False),
    "softmax_backward": (2 * SOFTMAX, False, True),
    "log_softmax_backward": (2 * LOG_SOFTMAX, False, False),
}


def get_rowwise(op):
    """``kernel(out, x, grad, mask, n_threads)`` for the softmax-family op ``op``."""
    code, forward, streams = _OPS[op]

    def kernel(out, x, grad, mask, n_threads):
        if x.ndim == 3 and x.shape[2] == 1:  # the last axis after all
            x = x.reshape(x.shape[:2])
            grad = None if grad is None else grad.reshape(x.shape)
            mask = None if mask is None else mask.reshape(x.shape)
        k = n_threads if n_threads < _MAX_THREADS else _MAX_THREADS
        how, chunks = plan(x.shape, x.itemsize, k, forward, streams and mask is None)
        if chunks == 1:
            run_serial(how, code, out, x, grad, mask)
        else:
            _threading.run_parallel(run, (how, code, out, x, grad, mask), chunks)

    kernel.__name__ = f"numba_{op}"
    kernel.__doc__ = f"Numba row kernel for {op} (see fastact._numba.softmax)."
    return kernel


def warmup() -> None:
    """Compile (or load from the disk cache) every variant of the drivers, serial and
    parallel: float32 and float64, 2-D and 3-D, with and without a mask, forward
    (softmax-shaped and logsumexp-shaped out) and backward."""
    for dtype in (np.float32, np.float64):
        for shape, how in (((2, 3), ROWS), ((1, 3, 2), TILES)):
            x = np.zeros(shape, dtype)
            reduced = np.empty(shape[:1] + shape[2:], dtype)
            for mask in (None, np.ones(shape, np.bool_)):
                for run_with in (run_serial, _run_two_chunks):
                    run_with(how, 2 * SOFTMAX, np.empty_like(x), x, None, mask)
                    run_with(how, 2 * LOGSUMEXP, reduced, x, None, mask)
            for run_with in (run_serial, _run_two_chunks):
                run_with(how, 2 * SOFTMAX, np.empty_like(x), x, x, None)


def _run_two_chunks(how, code, out, x, grad, mask):
    run(how, code, out, x, grad, mask, 2)


__all__ = ["get_rowwise", "warmup"]
