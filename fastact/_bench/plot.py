"""``--plot FILE.png``: throughput against size, one panel per function.

Every fastact backend and every peer is a coloured line (GB/s = bytes moved /
median time, log-log axes); the roofline (a multi-threaded copy of the same
bytes) is the dashed black line.  One dtype per figure.
"""
from __future__ import annotations

import math


def plot(report, path, dtype=None, functions=None):
    """Write the figure to ``path`` (only ``functions`` if given); returns the dtype plotted."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = report["meta"]
    dtype = dtype or meta["settings"]["dtypes"][0]
    records = [r for r in report["results"] if r["dtype"] == dtype and r["call"] == "out"]
    if not records:
        raise ValueError(f"no results for dtype {dtype} to plot")
    if functions:
        records = [r for r in records if r["function"] in functions]
    functions = list(dict.fromkeys(r["function"] for r in records))
    impls = list(dict.fromkeys(r["impl"] for r in records if r["impl_kind"] == "backend"))
    impls += list(dict.fromkeys(r["impl"] for r in records if r["impl_kind"] == "peer"))
    colours = {impl: plt.get_cmap("tab10")(i % 10) for i, impl in enumerate(impls)}
    ncols = min(6, len(functions), math.ceil(math.sqrt(1.5 * len(functions))))
    nrows = math.ceil(len(functions) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.5 * nrows + 1.2),
                             squeeze=False, sharex=True, sharey=True)
    for ax, function in zip(axes.flat, functions):
        mine = [r for r in records if r["function"] == function]
        roof = sorted({(r["size"], r["bytes"] / r["roofline_s"] / 1e9) for r in mine})
        ax.plot(*zip(*roof), "k--", lw=1.2, label="roofline (copy)")
        for impl in impls:
            pts = sorted((r["size"], r["gbps"]) for r in mine if r["impl"] == impl and r["time_s"])
            if pts:
                ax.plot(*zip(*pts), "o-", ms=3, lw=1.2, color=colours[impl], label=impl)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(function, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes.flat[len(functions):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("GB/s", fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel("elements", fontsize=8)
    handles = [plt.Line2D([], [], color="k", ls="--", label="roofline (copy)")]
    handles += [plt.Line2D([], [], color=colours[i], marker="o", ms=3, label=i) for i in impls]
    cpu = meta["config"].get("processor", "")
    height = fig.get_figheight()
    fig.suptitle(f"fastact bench: throughput (GB/s, higher is better) vs size ({dtype}, "
                 f"{meta['threads']} threads, {cpu}, {meta['config'].get('cpu_isa', '')})",
                 fontsize=11, y=1 - 0.12 / height, va="top")
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=9,
               bbox_to_anchor=(0.5, 1 - 0.45 / height), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.7 / height))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return dtype
