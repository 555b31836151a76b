"""Memory-bound calls right after a pause: each backend, PyTorch and a plain copy, 8 calls in a row.

    python bench/after_pause.py [ROW=leaky_relu] [n=1e7] [dtype=float32] [rounds=15]

For each predecessor (a call of the row's numexpr peer, ``time.sleep(0.04)``, nothing) and
each probe (numba, cython, torch: the bench's own calls on the bench's inputs, 2 threads;
``np.copyto`` of x into out, one thread), a round runs the predecessor once, then the probe
8 times, each call timed alone.  Printed: the median over the rounds of each of the 8
times (ms).  In ``fastact bench`` an implementation sampled right after a much slower one
sits at the first of these places (docs/tuning.md, "The float32 1e7 rows after a slow peer").
"""
import os
import sys
import time

import numpy as np
import torch

import fastact
from fastact._bench import cases


def probes(case, bufs):
    calls = {b: case.fastact_call(b, bufs) for b in ("numba", "cython")}
    calls["torch"], _ = next(p for p in case.peers if p.library == "torch").make(bufs, False)
    calls["copy"] = lambda: np.copyto(bufs.out, bufs.x)
    return calls


def predecessors(case, bufs):
    calls = {"sleep 40 ms": lambda: time.sleep(0.04), "none": lambda: None}
    peer = next((p for p in case.peers if p.library == "numexpr"), None)
    if peer is not None:
        calls = {"numexpr": peer.make(bufs, False)[0], **calls}
    return calls


def main(row="leaky_relu", n="1e7", dtype="float32", rounds="15"):
    torch.set_num_threads(2)
    fastact.set_num_threads(2)
    case = cases.select([row])[0]
    bufs = case.make_buffers(dtype, int(float(n)), cases.InputPool())
    probe, before = probes(case, bufs), predecessors(case, bufs)
    for f in (*probe.values(), *before.values()):
        f()
    times = {(b, p): [] for b in before for p in probe}
    for _ in range(int(rounds)):
        for (b, p), samples in times.items():
            before[b]()
            row_times = []
            for _ in range(8):
                t = time.perf_counter()
                probe[p]()
                row_times.append(time.perf_counter() - t)
            samples.append(row_times)
    print(f"{case.name} {dtype} n={float(n):.0e}, load average {os.getloadavg()[0]:.1f}")
    for (b, p), samples in times.items():
        med = np.median(np.array(samples), axis=0) * 1e3
        print(f"  {p:6s} after {b:11s}: " + " ".join(f"{t:5.2f}" for t in med))


if __name__ == "__main__":
    main(*sys.argv[1:])
