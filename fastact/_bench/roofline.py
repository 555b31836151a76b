"""The roofline: how fast this machine can move the bytes a kernel moves.

A kernel that reads ``r`` bytes and writes ``w`` bytes moves ``r + w`` bytes;
a copy of ``(r + w) / 2`` bytes moves the same amount (it reads and writes
each byte once).  The roofline time of a case is the faster of a
single-threaded ``np.copyto`` and a ``threads``-way copy (contiguous chunks
copied by a thread pool; ``np.copyto`` releases the GIL), measured in the same
run as the kernels; the fastest sample is kept (the roofline is what the
machine can do, so noise from other processes should not lower it).
``roofline_ratio = roofline time / kernel time`` (1.0 = as fast as a copy of
its bytes).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .timing import Policy, measure

_ALIGN = 64  # chunk boundaries on cache lines


class Roofline:
    """Memoized copy times per byte count, for one thread count."""

    def __init__(self, threads: int, policy: Policy = Policy()):
        self.threads = max(1, int(threads))
        self.policy = Policy(**{**policy.__dict__, "budget": 4 * policy.budget, "min_repeats": 5})
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self._times: dict = {}

    def seconds(self, nbytes: int) -> float:
        """Seconds to move ``nbytes`` bytes (read + write) with the best copy."""
        half = max(1, int(nbytes) // 2)
        if half not in self._times:
            src = np.ones(half, dtype=np.uint8)
            dst = np.zeros(half, dtype=np.uint8)
            best = min(measure(lambda: np.copyto(dst, src), self.policy).samples)
            if self._pool is not None and half >= 64 * 1024:
                best = min(best, min(measure(self._threaded(dst, src), self.policy).samples))
            self._times[half] = best
        return self._times[half]

    def stream_seconds(self, elements: int, dtype) -> float:
        """Seconds of the best read-two-write-one pass over ``elements`` of ``dtype``:
        ``np.add(a, b, out=c)`` on one thread or split like the copy (the floor of a
        kernel such as softmax_backward, which reads y and grad and writes one result)."""
        key = ("r2w1", int(elements), np.dtype(dtype).str)
        if key not in self._times:
            a, b = np.ones(elements, dtype), np.ones(elements, dtype)
            c = np.zeros(elements, dtype)
            best = min(measure(lambda: np.add(a, b, out=c), self.policy).samples)
            if self._pool is not None and elements >= 64 * 1024:
                best = min(best, min(measure(self._threaded(c, a, b), self.policy).samples))
            self._times[key] = best
        return self._times[key]

    def _threaded(self, dst, src, other=None):
        n = src.size
        step = -(-n // self.threads)
        step = -(-step // _ALIGN) * _ALIGN
        submit = self._pool.submit
        if other is None:
            pieces = [(np.copyto, dst[i:i + step], src[i:i + step]) for i in range(0, n, step)]
        else:
            pieces = [(np.add, src[i:i + step], other[i:i + step], dst[i:i + step])
                      for i in range(0, n, step)]

        def copy():
            for f in [submit(*piece) for piece in pieces]:
                f.result()

        return copy

    def table(self) -> dict:
        """{bytes moved: GB/s} of the copies measured so far."""
        return {2 * half: 2 * half / t / 1e9 for half, t in sorted(
            (k, t) for k, t in self._times.items() if isinstance(k, int))}

    def close(self):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
