"""The roofline: how fast this machine can move the bytes a kernel moves.

A kernel that reads ``r`` bytes and writes ``w`` bytes moves ``r + w`` bytes;
a copy of ``(r + w) / 2`` bytes moves the same amount (it reads and writes
each byte once).  Each case's floor is such a copy (a ``threads``-way copy in
contiguous chunks by a thread pool from 64 KiB, else ``np.copyto``; both release
the GIL) timed in the case's own round robin beside its implementations
(:meth:`Roofline.copy_call`; :meth:`Roofline.stream_call` for a read-two-write-one
pass), so floor and kernels meet the same memory bandwidth, cache state and load:
``roofline_ratio = copy time / kernel time`` (1.0 = as fast as a copy of its
bytes).  :meth:`Roofline.seconds` is the machine's best copy (the faster of one
and ``threads`` threads, the fastest sample of copies repeated back to back),
reported in the run's meta.
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
        self._floor_buffers: dict = {}

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

    def copy_call(self, nbytes: int):
        """A callable moving ``nbytes`` bytes (read + write) as :meth:`seconds` does: the
        ``threads``-way copy from 64 KiB of source, else ``np.copyto``; its own buffers."""
        half = max(1, int(nbytes) // 2)
        src, dst = self._buffers(("copy", half), lambda: (np.ones(half, np.uint8),
                                                            np.zeros(half, np.uint8)))
        if self._pool is not None and half >= 64 * 1024:
            return self._threaded(dst, src)
        return lambda: np.copyto(dst, src)

    def stream_call(self, elements: int, dtype):
        """A callable running ``np.add(a, b, out=c)`` over ``elements`` of ``dtype`` on its own
        buffers, split like the copy from 64 Ki elements: the floor of a kernel such as
        softmax_backward, which reads y and grad and writes one result."""
        a, b, c = self._buffers(("r2w1", int(elements), np.dtype(dtype).str), lambda: (
            np.ones(elements, dtype), np.ones(elements, dtype), np.zeros(elements, dtype)))
        if self._pool is not None and elements >= 64 * 1024:
            return self._threaded(c, a, b)
        return lambda: np.add(a, b, out=c)

    def _buffers(self, key, make):
        if key not in self._floor_buffers:
            self._floor_buffers[key] = make()
        return self._floor_buffers[key]

    def release(self):
        """Drop the in-row floors' buffers (the run moves on to another size)."""
        self._floor_buffers.clear()

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
        self.release()
