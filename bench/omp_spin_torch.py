"""PyTorch's cache-resident calls under the GNU OpenMP wait policies one process can end up with.

    python bench/omp_spin_torch.py [--calls 300] [--busy 0,1] [--spins 0,1000,10000]

PyTorch's wheel ships libgomp.so.1, the soname fastact's extension links: one process
loads one of them, with the wait policy of whoever loaded it first.  Each variant runs in a
child process: "torch first" imports PyTorch before fastact (libgomp's default spin), the
others load fastact's extension first with GOMP_SPINCOUNT set to the given count (what
fastact chooses when the user set nothing: _openmp_policy.SPIN_COUNT).  In each, PyTorch's
relu, sigmoid and gelu (out=, 2 threads, float32) at 1e4 and 1e5 elements are timed back to
back (median of --calls single calls) and alternating with the Cython backend's call of the
same function, and fastact's own calls alike; with --busy 1, beside one busy process
pinned to a core (fastact._bench.busy).  Prints microseconds per call.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, os, sys, time
import numpy as np
first, calls, busy = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if first == "torch":
    import torch
import fastact
fastact.relu(np.ones(8, np.float32), backend="cython")  # loads the extension (and libgomp)
import torch
from fastact._bench.busy import BusyProcesses
torch.set_num_threads(2); fastact.set_num_threads(2)
res = {}
with BusyProcesses(busy):
    for n in (10**4, 10**5):
        x = (np.random.default_rng(0).standard_normal(n) * 3).astype(np.float32)
        out = np.empty_like(x); tx, to = torch.from_numpy(x), torch.from_numpy(out)
        for name, top in (("relu", lambda: torch.clamp_min(tx, 0, out=to)),
                          ("sigmoid", lambda: torch.sigmoid(tx, out=to)),
                          ("gelu", lambda: torch.ops.aten.gelu.out(tx, out=to))):
            fa = lambda name=name: getattr(fastact, name)(x, out=out, backend="cython")
            for f in (top, fa):
                for _ in range(20): f()
            def med(seq):
                ts = {k: [] for k in seq}
                for _ in range(calls):
                    for k, f in seq.items():
                        t = time.perf_counter(); f(); ts[k].append(time.perf_counter() - t)
                return {k: float(np.median(v)) * 1e6 for k, v in ts.items()}
            alone_t, alone_f = med({"t": top})["t"], med({"f": fa})["f"]
            both = med({"t": top, "f": fa})
            res[f"{name} {n:.0e}"] = [alone_t, both["t"], alone_f, both["f"]]
print(json.dumps({"policy": fastact.config()["backends"]["cython"].get("openmp_wait_policy"),
                  "rows": res}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--busy", default="0")
    ap.add_argument("--spins", default="0,1000,10000")
    a = ap.parse_args()
    env0 = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    variants = [("torch first", "torch", env0)] + [
        (f"fastact first, GOMP_SPINCOUNT={s}", "fastact", dict(env0, GOMP_SPINCOUNT=s))
        for s in a.spins.split(",")]
    for busy in a.busy.split(","):
        print(f"\n{busy} busy process(es); us per call: torch alone / torch alternating with "
              "fastact / fastact alone / fastact alternating")
        for label, first, env in variants:
            out = subprocess.run([sys.executable, "-c", CHILD, first, str(a.calls), busy],
                                 env=env, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            cells = "; ".join(f"{k} {' / '.join(f'{v:.1f}' for v in vals)}"
                              for k, vals in r["rows"].items())
            print(f"- {label} ({r['policy']}): {cells}")


if __name__ == "__main__":
    main()
