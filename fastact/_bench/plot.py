"""``--plot FILE.png``: throughput against size, one panel per function.

Every fastact backend and every peer is a coloured line (GB/s = bytes moved /
median time, log scale) with error bars spanning the samples' interquartile
range; the roofline (a multi-threaded copy of the same
bytes) is the dashed black line.  A panel's x axis is its table rows' sizes or
shapes (``1e5``, ``65536x16``: :func:`~fastact._bench.report.row_label`), evenly
spaced in order of size.  One dtype per figure.
"""
from __future__ import annotations

import math

from .report import row_label


def plot(report, path, dtype=None, functions=None):
    """Write the figure to ``path`` (only ``functions`` if given); returns the dtype plotted."""
    import matplotlib

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
    width, height = 3.0 * ncols + 0.8, 2.3 * nrows + 1.4
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    ylim = _ylim(records)
    for i, (ax, function) in enumerate(zip(axes.flat, functions)):
        mine = [r for r in records if r["function"] == function]
        _panel(ax, function, mine, colours, ylim)
        _label_panel(ax, first_column=i % ncols == 0, last_row=i + ncols >= len(functions))
    for ax in axes.flat[len(functions):]:
        ax.set_visible(False)
    _decorate(fig, meta, dtype, colours, (width, height))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return dtype


def _ylim(records) -> tuple:
    """The y limits shared by every panel, set by hand: shared axes make matplotlib
    O(panels**2)."""
    gbps = [r["gbps"] for r in records if r["time_s"]]
    gbps += [_roof_gbps(r) for r in records]
    return 10 ** math.floor(math.log10(min(gbps))), 10 ** math.ceil(math.log10(max(gbps)))


def _roof_gbps(record) -> float:
    """GB/s of the copy of the record's bytes timed in its round robin (else the best copy)."""
    return record["bytes"] / (record.get("roofline_s") or record["roofline_best_s"]) / 1e9


def _panel(ax, function, records, colours, ylim) -> None:
    """One function: the roofline (dashed black) and one line per implementation, over the
    function's rows in order of size (shapes of one size in measurement order)."""
    import matplotlib.ticker

    records = sorted(records, key=lambda r: r["size"])
    at = {label: i for i, label in enumerate(dict.fromkeys(map(row_label, records)))}
    roof = {}
    for r in records:  # one point per size or shape: the fastest of its in-row copies
        roof[at[row_label(r)]] = max(roof.get(at[row_label(r)], 0.0), _roof_gbps(r))
    ax.plot(*zip(*sorted(roof.items())), "k--", lw=1.2)
    for impl, colour in colours.items():
        mine = [r for r in records if r["impl"] == impl and r["time_s"]]
        if mine:
            ax.errorbar([at[row_label(r)] for r in mine], [r["gbps"] for r in mine],
                        yerr=_error_bars(mine), fmt="o-", ms=3, lw=1.2, color=colour,
                        elinewidth=0.9, capsize=2)
    ax.set_yscale("log")
    ax.set_xlim(-0.4, len(at) - 0.6)
    ax.set_ylim(*ylim)
    ax.set_xticks(range(len(at)), list(at))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_title(function, fontsize=9, pad=3)
    ax.grid(True, which="major", alpha=0.3)


def _error_bars(records):
    """[[below], [above]] the median's GB/s: the samples' interquartile range (none for a
    report without quartiles)."""
    below, above = [], []
    for r in records:
        q1, q3 = r.get("q1_s"), r.get("q3_s")
        low = r["bytes"] / q3 / 1e9 if q3 else r["gbps"]
        high = r["bytes"] / q1 / 1e9 if q1 else r["gbps"]
        below.append(max(0.0, r["gbps"] - low))
        above.append(max(0.0, high - r["gbps"]))
    return [below, above]


def _label_panel(ax, first_column, last_row) -> None:
    """GB/s on the first column, each panel's own sizes or shapes under it."""
    ax.tick_params(labelsize=7, labelleft=first_column)
    if first_column:
        ax.set_ylabel("GB/s", fontsize=8)
    if last_row:
        ax.set_xlabel("elements, or rows x n", fontsize=8)


def _decorate(fig, meta, dtype, colours, size) -> None:
    """Title, legend and margins (in inches, whatever the number of panels)."""
    import matplotlib.pyplot as plt

    width, height = size
    handles = [plt.Line2D([], [], color="k", ls="--", label="roofline (copy)"),
               plt.Line2D([], [], color="grey", marker="|", ls="", label="IQR of samples")]
    handles += [plt.Line2D([], [], color=c, marker="o", ms=3, label=i) for i, c in colours.items()]
    cpu = meta["config"].get("processor", "")
    fig.suptitle(f"fastact bench: throughput (GB/s, higher is better) vs size ({dtype}, "
                 f"{meta['threads']} threads, {cpu}, {meta['config'].get('cpu_isa', '')})",
                 fontsize=11, y=1 - 0.12 / height, va="top")
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=9,
               bbox_to_anchor=(0.5, 1 - 0.45 / height), frameon=False)
    fig.subplots_adjust(left=0.7 / width, right=1 - 0.15 / width, bottom=0.55 / height,
                        top=1 - 0.95 / height, wspace=0.12, hspace=0.32)
