"""The roofline: how fast this machine can move the bytes a kernel moves.

A kernel that reads ``r`` bytes and writes ``w`` bytes moves ``r + w`` bytes;
a copy of ``(r + w) / 2`` bytes moves the same amount (it reads and writes
each byte once).  Each case's floor is such a copy timed in the case's own round
robin beside its implementations (:meth:`Roofline.copy_call`): from the arrays the
kernels read into the array they write where the shapes allow (an activation's
forward: ``x`` into ``out``, the very bytes and cache lines of the kernels), else
between buffers of its own; split over the threads in contiguous chunks by a thread
pool where that was the faster copy back to back, else ``np.copyto``
(both release the GIL).  So floor and kernels
meet the same memory bandwidth, cache state and load: ``roofline_ratio = copy time
/ kernel time`` (1.0 = as fast as a copy of its bytes).  :meth:`Roofline.stream_call`
is the read-two-write-one pass (softmax_backward's floor) on the case's arrays.
:meth:`Roofline.seconds` is the machine's best copy (the faster of one and
``threads`` threads, the fastest sample of copies repeated back to back), reported
in the run's meta.
"""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .timing import Policy, measure

_ALIGN = 64  # chunk boundaries on cache lines


def _flat_bytes(a):
    """A contiguous array's bytes as a flat uint8 view (None otherwise)."""
    if a is None or np.ndim(a) == 0 or not a.flags.c_contiguous:
        return None
    return a.reshape(-1).view(np.uint8)


def _pieces_on_case_arrays(to_copy, sources, out):
    """[(dst, src)] copying ``to_copy`` bytes from ``sources`` into ``out`` in turn (each
    source at most once over ``out``), or None when the arrays do not allow it."""
    dst, srcs = _flat_bytes(out), [_flat_bytes(s) for s in sources]
    if dst is None or not srcs or any(s is None or s.size != dst.size for s in srcs):
        return None
    pieces = []
    for src in srcs:
        take = min(to_copy, dst.size)
        if take:
            pieces.append((dst[:take], src[:take]))
        to_copy -= take
    return pieces if to_copy == 0 else None


class Roofline:
    """Memoized copy times per byte count, for one thread count."""

    def __init__(self, threads: int, policy: Policy = Policy()):
        self.threads = max(1, int(threads))
        self.policy = Policy(**{**policy.__dict__, "budget": 4 * policy.budget, "min_repeats": 5})
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self._times: dict = {}
        self._floor_buffers: dict = {}
        self._split: dict = {}  # copied bytes -> the threads-way copy beat np.copyto

    def seconds(self, nbytes: int) -> float:
        """Seconds to move ``nbytes`` bytes (read + write) with the best copy."""
        half = max(1, int(nbytes) // 2)
        if half not in self._times:
            src = np.ones(half, dtype=np.uint8)
            dst = np.zeros(half, dtype=np.uint8)
            best = min(measure(lambda: np.copyto(dst, src), self.policy).samples)
            self._split[half] = False
            if self._pool is not None and half >= 64 * 1024:
                split = min(measure(self._threaded(dst, src), self.policy).samples)
                self._split[half] = split < best
                best = min(best, split)
            self._times[half] = best
        return self._times[half]

    def copy_call(self, nbytes: int, sources=(), out=None):
        """A callable moving ``nbytes`` bytes (read + write) by copies: from the case's own
        ``sources`` into its ``out`` (the arrays and cache lines its kernels touch) when they
        are contiguous and of one size, else between buffers of its own; split over the
        threads where that was the faster copy in :meth:`seconds` (from 64 KiB)."""
        half = max(1, int(nbytes) // 2)
        pieces = _pieces_on_case_arrays(half, sources, out)
        if pieces is None:
            pieces = [self._buffers(("copy", half), lambda: (np.zeros(half, np.uint8),
                                                             np.ones(half, np.uint8)))]
        split = self._pool is not None and self._split.get(half, half >= 64 * 1024)
        calls = [self._threaded(dst, src) if split and dst.size >= 64 * 1024
                 else functools.partial(np.copyto, dst, src) for dst, src in pieces]
        if len(calls) == 1:
            return calls[0]
        return lambda: [call() for call in calls]

    def stream_call(self, a, b, out):
        """A callable running ``np.add(a, b, out=out)`` on the case's arrays, split over the
        threads where a copy of its bytes was faster split: the floor of a kernel such as
        softmax_backward, which reads y and grad and writes one result."""
        a, b, out = (np.asarray(v).reshape(-1) for v in (a, b, out))
        if self._pool is not None and self._split.get(3 * out.nbytes // 2, a.size >= 64 * 1024):
            return self._threaded(out, a, b)
        return functools.partial(np.add, a, b, out=out)

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
        return {2 * half: 2 * half / t / 1e9 for half, t in sorted(self._times.items())}

    def close(self):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.release()
