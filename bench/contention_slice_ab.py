"""A/B of a per-thread scheduler slice (sched_attr.sched_runtime: the EEVDF request length of
Linux 6.12 and later; 0 = the default) on single 2-thread calls beside 0 and 2 busy processes,
set on every thread of the process, or with SLICE_ONLY_POOL=1 on the work pool's helpers only.

    python bench/contention_slice_ab.py cython sigmoid 1e7 0.8 100,3000,20000
    SLICE_ONLY_POOL=1 python bench/contention_slice_ab.py cython sigmoid 1e7 0.8 20000,100000

x86-64 Linux only (syscalls 314/315). Prints per busy count and slice the 10/50/90th
percentiles of the calls and the median and mean over the quiet default's median.
"""
import ctypes
import os
import sys
import time

import numpy as np

import fastact
from fastact._bench.busy import BusyProcesses

libc = ctypes.CDLL(None, use_errno=True)


class Attr(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("policy", ctypes.c_uint32), ("flags", ctypes.c_uint64),
                ("nice", ctypes.c_int32), ("prio", ctypes.c_uint32), ("runtime", ctypes.c_uint64),
                ("deadline", ctypes.c_uint64), ("period", ctypes.c_uint64),
                ("umin", ctypes.c_uint32), ("umax", ctypes.c_uint32)]


ONLY_POOL = os.environ.get("SLICE_ONLY_POOL") == "1"


def set_slice(ns):
    for tid in os.listdir("/proc/self/task"):
        if ONLY_POOL and ns and open(f"/proc/self/task/{tid}/comm").read().strip() != "fastact-pool":
            continue
        a = Attr(size=ctypes.sizeof(Attr), policy=0, runtime=ns)
        if libc.syscall(314, int(tid), ctypes.byref(a), 0) != 0:
            print("sched_setattr failed", tid, os.strerror(ctypes.get_errno()))


def get_slice():
    a = Attr()
    libc.syscall(315, 0, ctypes.byref(a), ctypes.sizeof(Attr), 0)
    return a.runtime


def main():
    backend, fname, n, secs = sys.argv[1], sys.argv[2], int(float(sys.argv[3])), float(sys.argv[4])
    slices = [0] + [int(float(s) * 1000) for s in sys.argv[5].split(",")]
    fn = getattr(fastact, fname)
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    out = np.empty_like(x)
    res = {}
    with fastact.threads(2):
        fn(x, out=out, backend=backend)
        print("default slice", get_slice())
        for rnd in range(2):
            for busy in (0, 2):
                set_slice(0)
                with BusyProcesses(busy):
                    for s in slices:
                        set_slice(s)
                        got = res.setdefault((busy, s), [])
                        end = time.perf_counter() + secs
                        while time.perf_counter() < end:
                            t0 = time.perf_counter()
                            fn(x, out=out, backend=backend)
                            got.append(time.perf_counter() - t0)
        set_slice(0)
    q = np.median(res[(0, 0)])
    for (busy, s), got in sorted(res.items()):
        ms = np.array(got) * 1e3
        print(f"busy {busy} slice {s/1000:7.0f} us  n {len(ms):4d}  p10/50/90 "
              + " ".join(f"{np.percentile(ms, p):.2f}" for p in (10, 50, 90))
              + f" ms  median/quiet {np.median(ms)/1e3/q:.2f}  mean/quiet {ms.mean()/1e3/q:.2f}")


if __name__ == "__main__":
    main()
