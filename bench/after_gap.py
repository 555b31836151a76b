"""fastact's cache-resident call after an idle gap, after its own calls and after PyTorch's.

    python bench/after_gap.py [rounds=60] [size=1e5]

Per round, for each predecessor (a batch of PyTorch's hardtanh backward, or of fastact's
Cython one) and each gap (0 to 100 ms of ``time.sleep``): the predecessor's batch, the gap,
then fastact's batch of 20 calls after one untimed call (2 threads, float32, out=
preallocated, the same arrays); printed: the median over rounds of fastact's time per call,
us.  docs/tuning.md, "The dispatch's own cost", on what it shows.
"""
import statistics
import sys
import time

import numpy as np
import torch  # first: its libgomp keeps PyTorch's own wait policy

import fastact

torch.set_num_threads(2)
fastact.set_num_threads(2)
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
n = int(float(sys.argv[2])) if len(sys.argv) > 2 else 10**5
x = (np.random.default_rng(0).standard_normal(n) * 3).astype(np.float32)
g, out = np.ones_like(x), np.empty_like(x)
tx, tg, to = torch.from_numpy(x), torch.from_numpy(g), torch.from_numpy(out)
PREDECESSORS = {
    "pytorch": lambda: torch.ops.aten.hardtanh_backward.grad_input(tg, tx, -1, 1, grad_input=to),
    "fastact": lambda: fastact.backward("hardtanh", g, x, out=out, backend="cython"),
}
GAPS_MS = (0, 0.5, 1, 2, 4, 8, 16, 32, 100)


def batch(fn, calls=20):
    """Seconds per call of ``calls`` calls after one untimed call."""
    fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


probe = PREDECESSORS["fastact"]
times = {}
for _ in range(rounds):
    for name, before in PREDECESSORS.items():
        for gap in GAPS_MS:
            batch(before)
            if gap:
                time.sleep(gap / 1e3)
            times.setdefault((name, gap), []).append(batch(probe))
for name in PREDECESSORS:
    cells = " ".join(f"{gap:g} ms {statistics.median(times[name, gap]) * 1e6:.2f}" for gap in GAPS_MS)
    print(f"after {name:8s} {cells}")
