"""One bench case's own callables (as `fastact bench` builds them, on its arrays) timed
round-robin beside the same public call on fresh standard-normal arrays: where the two differ,
the bench's inputs, not the call, decide the time.

    python bench/fused_case_capture.py gelu_tanh_bias_backward float32 1e5 [rounds=25]

Bias cases (their x, grad and bias drawn afresh). docs/tuning.md, "Bias calls".
"""
import random
import statistics
import sys
import time

import numpy as np

from fastact import cli
from fastact._bench import run as run_mod
from fastact._bench import timing

func, dtype, size = sys.argv[1:4]
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 25
captured = {}
real_measure = run_mod._measure_point


def spy(point, impls, policy):
    captured["point"], captured["impls"] = point, impls
    return real_measure(point, impls, policy)


run_mod._measure_point = spy
cli.main(["bench", "--functions", func, "--dtypes", dtype, "--sizes", size, "--no-ulp",
          "--no-check", "--no-progress", "--plain", "--budget", "0.005", "--peers", "torch"])
point, impls = captured["point"], captured["impls"]
case, bufs = point.case, point.bufs
fns = {i.label: i.fn for i in impls if i.fn is not None and i.label != "numpy"}
rng = np.random.default_rng(0)
fresh = {k: rng.standard_normal(getattr(bufs, k).shape).astype(dtype) for k in ("x", "grad", "other")}
fresh_bufs = type(bufs)(x=fresh["x"], grad=fresh["grad"], y=None, out=np.empty_like(bufs.out),
                        params=bufs.params, other=fresh["other"])
fns["cython, fresh arrays"] = case.fastact_call("cython", fresh_bufs)
res = {k: [] for k in fns}
keys = list(fns)
for _ in range(rounds):
    random.shuffle(keys)
    for k in keys:
        timing._back_to_back(fns[k], 0.003)
        start = time.perf_counter()
        for _ in range(20):
            fns[k]()
        res[k].append((time.perf_counter() - start) / 20)
for k, v in res.items():
    print(f"{k:22s} median {statistics.median(v) * 1e6:8.2f} us  min {min(v) * 1e6:8.2f}")
print(f"the bench's x: [{bufs.x.min():.1f}, {bufs.x.max():.1f}], bias: "
      f"[{bufs.other.min():.1f}, {bufs.other.max():.1f}]")
