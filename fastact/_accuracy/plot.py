"""``fastact accuracy --plot``: the error in ULP against x, one panel per function.

x is on a symmetric-log axis (linear within [-1, 1]) limited to +-1.3 log(max),
where exp() under- and overflows (the table covers the rest of the range);
errors on a log axis, with exact points drawn at :data:`FLOOR` and special-value
disagreements at the top of the axis.  The peers are drawn first (the first peer,
PyTorch, last of them), fastact's backends on top.
"""
from __future__ import annotations

import math

import numpy as np

FLOOR = 1e-2  # exact results are drawn here on the log axis
DEFAULT_FUNCTIONS = ("gelu", "sigmoid", "silu", "tanh", "mish")
# one colour per implementation in every panel: fastact's backends in cool colours
COLORS = {"torch": "C3", "onnxruntime": "C6", "jax": "C1", "scipy": "C5", "numexpr": "C4",
          "numpy-expr": "C8", "numpy": "C0", "numba": "C9", "cython": "C2"}
BACKENDS = ("numpy", "numba", "cython")
MAX_PANELS = 12


def panels(curves, functions, dtype) -> list:
    """The (label, curve) pairs to draw: f (not f') of ``functions`` (or the defaults) at ``dtype``."""
    wanted = functions or DEFAULT_FUNCTIONS
    found = [(label, c) for (label, d), c in curves.items()
             if d == dtype and not c["derivative"] and (label in wanted or c["activation"] in wanted)]
    return found[:MAX_PANELS]


def plot(result, path, functions=(), dtype=None) -> str:
    """Write the figure to ``path``; returns the dtype drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtype = dtype or result.report["meta"]["settings"]["dtypes"][0]
    chosen = panels(result.curves, functions, dtype) or panels(result.curves, (), dtype)
    cols = min(3, max(1, len(chosen)))
    rows = max(1, math.ceil(len(chosen) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    x_limit = 1.3 * math.log(float(np.finfo(dtype).max))
    for ax, (label, curve) in zip(axes.flat, chosen):
        _panel(ax, label, curve, x_limit)
    for ax in list(axes.flat)[len(chosen):]:
        ax.set_visible(False)
    impls = [k for k in COLORS if any(k in c["errors"] for _, c in chosen)]
    handles = [plt.Line2D([], [], ls="", marker="o", color=COLORS[k]) for k in impls]
    fig.legend(handles, impls, loc="lower center", ncol=len(impls), frameon=False)
    fig.suptitle(f"|error| in ULP against x, {dtype} (exact results at {FLOOR:g}, "
                 "NaN/inf where the true value is finite on top)")
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return dtype


def _panel(ax, label, curve, x_limit) -> None:
    x = curve["x"]
    keep = np.isfinite(x) & (np.abs(x) <= x_limit)
    errors = {k: v[keep] for k, v in curve["errors"].items()}
    finite = [v[np.isfinite(v)] for v in errors.values()]
    top = max([FLOOR * 10] + [float(v.max()) for v in finite if v.size]) * 10
    peers_last_first = [k for k in reversed(list(errors)) if k not in BACKENDS]
    for impl in peers_last_first + [k for k in errors if k in BACKENDS]:
        err = errors[impl]
        shown = np.where(np.isfinite(err), np.maximum(err, FLOOR), top)
        ax.scatter(x[keep], shown, s=5, label=impl, color=COLORS.get(impl, "k"), alpha=0.7,
                   linewidths=0)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_yscale("log")
    ax.set_xlim(-x_limit, x_limit)
    ax.set_ylim(FLOOR / 2, top * 2)
    ax.set_title(label)
    ax.set_xlabel("x")
    ax.set_ylabel("ULP")
    ax.grid(True, alpha=0.3)
