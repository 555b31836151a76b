"""First-call cost of the Numba backend, each figure from a fresh process.

    python bench/first_call.py [--repeats 3] [--size 1000000]

For each case (gelu, softmax, log_softmax on float32 arrays of ``--size``
elements) it prints the time of ``import fastact`` and of the first call,
with a cold cache (a new empty ``FASTACT_CACHE_DIR``) and then warm (the
same directory again, in a new process), wall time and the process's CPU time.
"numba floor" is what Numba itself costs: importing it and loading (or
compiling) a trivial cached function; "numba floor parallel" the same with a
``parallel=True`` function (its first call also starts Numba's thread pool).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

_CHILD = r'''
import json, sys, time
import numpy as np
x = np.random.default_rng(0).standard_normal({size}).astype(np.float32)
{reshape}
t0 = time.perf_counter()
import fastact
t1, c1 = time.perf_counter(), time.process_time()
fastact.{call}
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first_call": t2 - t1,
                  "first_call_cpu": time.process_time() - c1}}))
'''

# Numba's own floor: a trivial cached @njit function, imported and called the same way
_FLOOR = r'''
import json, os, sys, time
import numpy as np
x = np.ones(8, np.float32)
t0 = time.perf_counter()
import fastact
t1, c1 = time.perf_counter(), time.process_time()
sys.path.insert(0, os.environ["FASTACT_CACHE_DIR"])
with open(os.path.join(sys.path[0], "floor_probe.py"), "w") as f:
    f.write("from numba import njit, prange\n"
            "@njit('void(float32[::1])', cache=True, parallel={parallel})\n"
            "def f(x):\n    for i in prange(x.size):\n        x[i] = 1\n")
import floor_probe
floor_probe.f(x)
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first_call": t2 - t1,
                  "first_call_cpu": time.process_time() - c1}}))
'''

CASES = {
    "gelu": ("gelu(x, backend='numba')", ""),
    "gelu 4000 (serial)": ("gelu(x[:4000], backend='numba')", ""),
    "softmax": ("softmax(x, backend='numba')", "x = x.reshape(-1, 1000)"),
    "softmax 4x1000 (serial)": ("softmax(x[:4], backend='numba')", "x = x.reshape(-1, 1000)"),
    "log_softmax 4x1000": ("log_softmax(x[:4], backend='numba')", "x = x.reshape(-1, 1000)"),
    "log_softmax axis 0": ("log_softmax(x, axis=0, backend='numba')", "x = x.reshape(-1, 1000)"),
    "softmax axis 0, columns of 16": ("softmax(x[:16], axis=0, backend='numba')",
                                      "x = x.reshape(-1, 1000)"),
    "softmax 4x16 (short rows)": ("softmax(x[:4, :16], backend='numba')",
                                  "x = x.reshape(-1, 1000)"),
    "numba floor": None,
    "numba floor parallel": None,
}


def _run(code: str, cache: str) -> dict:
    env = dict(os.environ, FASTACT_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(case: str, size: int, repeats: int) -> dict:
    """{"cold": {...}, "warm": {...}} medians over ``repeats`` fresh cache dirs."""
    if CASES[case] is None:
        code = _FLOOR.format(parallel=case.endswith("parallel"))
    else:
        call, reshape = CASES[case]
        code = _CHILD.format(size=size, call=call, reshape=reshape)
    runs: dict = {"cold": [], "warm": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="fastact-first-call-") as cache:
            runs["cold"].append(_run(code, cache))
            runs["warm"].append(_run(code, cache))
    return {state: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
            for state, rs in runs.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    args = parser.parse_args(argv)
    print(f"{'case':20s} {'cache':5s} {'import':>8s} {'first call':>11s} {'(CPU)':>8s}")
    for case in args.cases:
        result = measure(case, args.size, args.repeats)
        for state, r in result.items():
            print(f"{case:20s} {state:5s} {r['import']:7.3f}s {r['first_call']:10.3f}s "
                  f"{r['first_call_cpu']:7.3f}s")


if __name__ == "__main__":
    main()
