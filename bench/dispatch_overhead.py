"""The public call's own cost: fastact's calls on 16 elements (bias and the softmax family: one row of 16;
the kernel's work is a few nanoseconds) for each compiled backend, beside PyTorch's calls on the same arrays.

    python bench/dispatch_overhead.py [repeats=7]

Each statement is timed by ``timeit`` (50000 calls a repeat); printed: the minimum over the
repeats, in ns per call.  docs/tuning.md, "The dispatch's own cost".
"""
import sys
import timeit

import numpy as np
import torch  # first: its libgomp keeps PyTorch's own wait policy

import fastact  # noqa: F401 - the timed statements call it

repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
x = np.linspace(-3, 3, 16, dtype=np.float32)
g, out = np.ones_like(x), np.empty_like(x)
x2, g2, out2, b = x.reshape(1, 16), g.reshape(1, 16), out.reshape(1, 16), np.ones(16, np.float32)
tx, tg, to = torch.from_numpy(x), torch.from_numpy(g), torch.from_numpy(out)
tx2, to2 = tx.reshape(1, 16), to.reshape(1, 16)
CALLS = [
    "fastact.relu(x, out=out, backend=B)",
    "fastact.hardtanh(x, out=out, backend=B)",
    "fastact.leaky_relu(x, out=out, backend=B)",
    "fastact.backward('relu', g, x, out=out, backend=B)",
    "fastact.backward('hardtanh', g, x, out=out, backend=B)",
    "fastact.backward('hardtanh', g, y=x, out=out, backend=B)",
    "fastact.relu(x2, bias=b, out=out2, backend=B)",
    "fastact.backward('relu', g2, x2, bias=b, out=out2, backend=B)",
    "fastact.backward('relu', g2, x2, bias=b, bias_grad=True, out=out2, backend=B)",
    "fastact.softmax(x2, out=out2, backend=B)",
    "fastact.log_softmax(x2, out=out2, backend=B)",
    "fastact.softmax_backward(g2, x2, out=out2, backend=B)",
]
PEERS = [
    "torch.clamp_min(tx, 0, out=to)",
    "torch.ops.aten.hardtanh.out(tx, -1, 1, out=to)",
    "torch.ops.aten.threshold_backward.grad_input(tg, tx, 0, grad_input=to)",
    "torch.ops.aten.hardtanh_backward.grad_input(tg, tx, -1, 1, grad_input=to)",
    "torch.ops.aten._softmax.out(tx2, -1, False, out=to2)",
    "torch.ops.aten._log_softmax.out(tx2, -1, False, out=to2)",
]


def ns(statement, namespace):
    exec(statement, namespace)  # first call: compiles, loads
    return min(timeit.repeat(statement, number=50000, repeat=repeats, globals=namespace)) / 50000 * 1e9


for backend in ("cython", "numba"):
    for call in CALLS:
        print(f"{backend:7s} {call:58s} {ns(call, {**globals(), 'B': backend}):7.1f} ns")
for call in PEERS:
    print(f"{'torch':7s} {call:58s} {ns(call, globals()):7.1f} ns")
