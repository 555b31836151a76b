"""The gated units' public calls on (1, 32) float32 (the dispatch's own cost), two built
checkouts A/B, one subprocess per checkout and round, alternating.

    python bench/gated_dispatch.py OLD_CHECKOUT NEW_CHECKOUT [rounds=3]

Each checkout must be built in place (``python setup.py build_ext --inplace``) so that
``PYTHONPATH=<checkout>`` imports it (``.`` for the installed one).  In each subprocess every
call is timed with ``timeit`` (7 repeats of 20000 calls, after 2000 warm-up calls) for both
compiled backends; printed: per call the minimum over the rounds, ns, old and new.
"""
import json
import os
import subprocess
import sys

CHILD = r"""
import json, timeit
import numpy as np
import fastact
x = np.random.default_rng(0).standard_normal((1, 32)).astype(np.float32)
g = np.random.default_rng(1).standard_normal((1, 16)).astype(np.float32)
out, dx = np.empty((1, 16), np.float32), np.empty_like(x)
a, b = x[:, :16].copy(), x[:, 16:].copy()
res = {}
for be in ("cython", "numba"):
    calls = {
        "glu(x, out=)": lambda: fastact.glu(x, out=out, backend=be),
        "swiglu(x, out=)": lambda: fastact.swiglu(x, out=out, backend=be),
        "geglu(x, out=)": lambda: fastact.geglu(x, out=out, backend=be),
        "swiglu(a, b, out=)": lambda: fastact.swiglu(a, b, out=out, backend=be),
        "swiglu(x)": lambda: fastact.swiglu(x, backend=be),
        "swiglu_backward(g, x, out=)": lambda: fastact.swiglu_backward(g, x, out=dx, backend=be),
        "relu(x, out=) (for scale)": lambda: fastact.relu(x, out=dx, backend=be),
    }
    for name, f in calls.items():
        for _ in range(2000):
            f()
        res[f"{be} {name}"] = min(timeit.repeat(f, number=20000, repeat=7)) / 20000 * 1e9
print(json.dumps(res))
"""


def run(checkout):
    env = dict(os.environ)
    if checkout != ".":
        env["PYTHONPATH"] = os.path.abspath(checkout)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                         text=True, check=True, cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    old, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    runs = {old: [], new: []}
    for _ in range(rounds):
        for checkout in (old, new):
            runs[checkout].append(run(checkout))
    print(f"{'call (1, 32) float32':45s} {'old ns':>8s} {'new ns':>8s}")
    for key in runs[new][0]:
        best = [min(r[key] for r in runs[c]) for c in (old, new)]
        print(f"{key:45s} {best[0]:8.0f} {best[1]:8.0f}")


if __name__ == "__main__":
    main()
