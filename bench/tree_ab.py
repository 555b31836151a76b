"""Two builds of fastact, A/B: each round runs one subprocess per checkout, alternating.

    python bench/tree_ab.py OLD_CHECKOUT NEW_CHECKOUT [functions=mish,mish_backward]
                            [sizes=1e5,1e7] [dtypes=float32,float64] [rounds=7]

Each checkout must be built in place (``python setup.py build_ext --inplace``), so that
``PYTHONPATH=<checkout>`` imports it.  In its subprocess every case (an activation's forward,
or ``<name>_backward``: grad * f'(x)) is timed with both compiled backends and PyTorch's op
on the same arrays (2 threads, out= preallocated, x ~ N(0, 3^2)), 15 calls each, interleaved;
the subprocess reports the median times.  Printed: per case and backend the medians over
the rounds, old and new, and new / old; PyTorch's for scale (it runs in both).
"""
import json
import os
import subprocess
import sys

import numpy as np

CHILD = r"""
import json, sys, time
import numpy as np, torch, fastact
torch.set_num_threads(2); fastact.set_num_threads(2)
cases, sizes, dtypes = sys.argv[1].split(","), sys.argv[2].split(","), sys.argv[3].split(",")
rng = np.random.default_rng(0)
res = {}
for dt in dtypes:
    for size in sizes:
        n = int(float(size))
        x = (rng.standard_normal(n) * 3).astype(dt)
        g = rng.standard_normal(n).astype(dt)
        out = np.empty_like(x)
        tx, tg, to = torch.from_numpy(x), torch.from_numpy(g), torch.from_numpy(out)
        for case in cases:
            name = case.removesuffix("_backward")
            aten = getattr(torch.ops.aten, name)
            if case.endswith("_backward"):
                back = getattr(torch.ops.aten, name + "_backward")
                peer = ((lambda: back(tg, tx)) if name == "mish"  # no out= overload
                        else (lambda: back.grad_input(tg, tx, grad_input=to)))
                fns = {b: (lambda b=b: fastact.backward(name, g, x, out=out, backend=b))
                       for b in ("numba", "cython")}
            else:
                peer = lambda: aten.out(tx, out=to)
                fns = {b: (lambda b=b: getattr(fastact, name)(x, out=out, backend=b))
                       for b in ("numba", "cython")}
            fns["torch"] = peer
            ts = {k: [] for k in fns}
            for f in fns.values():
                f()
            for r in range(15):
                for k, f in (fns.items() if r % 2 else reversed(list(fns.items()))):
                    t = time.perf_counter(); f(); ts[k].append(time.perf_counter() - t)
            med = {k: float(np.median(v)) for k, v in ts.items()}
            res[f"{case} {dt} {size}"] = {k: v * 1e3 for k, v in med.items()}
print(json.dumps(res))
"""


def run(checkout, cases, sizes, dtypes):
    env = dict(os.environ, PYTHONPATH=checkout)
    out = subprocess.run([sys.executable, "-c", CHILD, cases, sizes, dtypes], env=env,
                         capture_output=True, text=True, check=True, cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    old, new = sys.argv[1], sys.argv[2]
    cases = sys.argv[3] if len(sys.argv) > 3 else "mish,mish_backward"
    sizes = sys.argv[4] if len(sys.argv) > 4 else "1e5,1e7"
    dtypes = sys.argv[5] if len(sys.argv) > 5 else "float32,float64"
    rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 7
    got = {"old": [], "new": []}
    for r in range(rounds):
        for label, tree in (((("old", old), ("new", new))) if r % 2 == 0 else (("new", new), ("old", old))):
            got[label].append(run(tree, cases, sizes, dtypes))
    print("| case | numba old ms | new | new/old | cython old ms | new | new/old | torch ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in got["old"][0]:
        cells = []
        for b in ("numba", "cython"):
            o = np.median([g[key][b] for g in got["old"]])
            n = np.median([g[key][b] for g in got["new"]])
            cells += [f"{o:.3g}", f"{n:.3g}", f"{n / o:.2f}"]
        torch_ms = np.median([g[key]["torch"] for g in got["old"] + got["new"]])
        print(f"| {key} | " + " | ".join(cells) + f" | {torch_ms:.3g} |")


if __name__ == "__main__":
    main()
