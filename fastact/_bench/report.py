"""Turning a report dict into a table (rich or plain text), JSON and a comparison.

One table row per (function, dtype, size or shape, call style): a softmax-family or
cross-entropy case is keyed and shown by its (rows, n) shape, any other case by its size
(:func:`row_label`).  Columns: the time of
every fastact backend with its speed-up over the NumPy reference
(``numpy_time / time``), the throughput (GB/s = bytes moved / time) and the
roofline ratio (copy time of the same bytes / time) of the fastest fastact
backend, the best peer and fastact's ratio to it (``peer_time / fastact_time``,
above 1 means fastact is faster).
"""
from __future__ import annotations

import json
import math
import sys
from collections import defaultdict

from .load import warning as load_warning


ALLOC_MARK = "*"  # the timed call allocates its result (no out= variant, or --alloc)
MISMATCH_MARK = "!"  # the result disagreed with the NumPy reference
SPREAD_MARK = "±"  # the samples' interquartile range exceeds WIDE_SPREAD of the median
WIDE_SPREAD = 0.2
TABLE_WIDTH = 120  # columns of the table when the terminal's width is unknown


# ------------------------------------------------------------------ analysis
def point_label(kind, shape, size) -> str:
    """'65536x16' (rows x row length) for a case on (rows, n) rows, else the size ('1e6')."""
    if kind in ("rowwise", "loss") and len(shape or ()) == 2:
        return f"{shape[0]}x{shape[1]}"
    return fmt_size(size)


def row_label(r) -> str:
    """A record's place in its row's key and in every table, comparison and plot; a record
    without a "shape" is labelled by its size."""
    return point_label(r.get("kind"), r.get("shape"), r["size"])


def row_key(r) -> tuple:
    return (r["function"], r["dtype"], row_label(r), r["call"])


def row_size(impls) -> int:
    """The element count of a row (``{impl: record}``)."""
    return next(iter(impls.values()))["size"]


def rows(report) -> list:
    """[(key, {impl: record})] by function (first measured first), dtype, size (shapes of one
    size in measurement order) and call, with derived fields filled in."""
    grouped: dict = {}
    for r in report["results"]:
        grouped.setdefault(row_key(r), {})[r["impl"]] = r
    first_seen = {}
    for f, _, _, _ in grouped:
        first_seen.setdefault(f, len(first_seen))
    settings = report["meta"]["settings"]
    order = {"dtype": settings["dtypes"], "call": ["out", "alloc"]}
    grouped = dict(sorted(grouped.items(), key=lambda kv: (
        first_seen[kv[0][0]], order["dtype"].index(kv[0][1]), row_size(kv[1]),
        order["call"].index(kv[0][3]))))
    for impls in grouped.values():
        ref = impls.get("numpy")
        ref_t = ref["time_s"] if ref and ref["impl_kind"] == "backend" else None
        for r in impls.values():
            t = r["time_s"]
            r["speedup_vs_numpy"] = ref_t / t if ref_t and t else None
    return list(grouped.items())


def best(impls: dict, kind: str):
    """The fastest measured record of ``kind`` ("backend" prefers compiled over numpy; "peer")."""
    measured = [r for r in impls.values() if r["impl_kind"] == kind and r["time_s"]]
    if kind == "backend":
        compiled = [r for r in measured if r["impl"] != "numpy"]
        measured = compiled or measured
    return min(measured, key=lambda r: r["time_s"], default=None)


def geomean(values) -> float:
    values = [v for v in values if v and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


# ---------------------------------------------------------------- formatting
def fmt_time(seconds) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            break
    else:
        unit, scale = "ns", 1e-9
    value = seconds / scale
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def fmt_size(n: int) -> str:
    exp = int(round(math.log10(n))) if n > 0 else 0
    return f"1e{exp}" if 10**exp == n else str(n)


def fmt_ratio(value) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"x{value:.3g}" if value < 100 else f"x{value:.0f}"


def _cell(r, show_speedup=True) -> str:
    if r is None:
        return ""
    if r["time_s"] is None:
        return "error" if r.get("error") else "-"
    text = ("~" if r.get("extrapolated_from") else "") + fmt_time(r["time_s"])
    if r["allocates"] and r["call"] == "out":
        text += ALLOC_MARK
    if r.get("iqr_rel", 0.0) > WIDE_SPREAD:
        text += SPREAD_MARK
    if r["mismatch"]:
        text += MISMATCH_MARK
    if show_speedup and r["impl"] != "numpy" and r.get("speedup_vs_numpy"):
        text += f" {fmt_ratio(r['speedup_vs_numpy'])}"
    return text


def _ulp_cell(top, peer) -> str:
    """'fastact / best peer' maximum errors in ULP ('-' where not measured)."""
    from .._accuracy.report import fmt_ulp

    values = [r.get("max_ulp") if r else None for r in (top, peer)]
    if all(v is None for v in values):
        return "-"
    return " / ".join(fmt_ulp(v) for v in values)


def table_data(report, old=None):
    """(header, rows of cells, section breaks) of the main table."""
    backends = report["meta"]["backends"]
    show_call = report["meta"]["settings"]["alloc"]
    old_times = _index(old) if old else None
    header = ["function", "dtype", "size"] + (["call"] if show_call else [])
    header += [b if b != "numpy" else "numpy (ref)" for b in backends]
    header += ["GB/s", "roofline", "best peer", "vs peer", "max ULP"] + (["vs old"] if old else [])
    body, breaks, previous = [], [], None
    for key, impls in rows(report):
        function, dtype, label, call = key
        if previous is not None and function != previous:
            breaks.append(len(body))
        previous = function
        top, peer = best(impls, "backend"), best(impls, "peer")
        cells = [function, dtype, label] + ([call] if show_call else [])
        cells += [_cell(impls.get(b)) for b in backends]
        if top is not None:
            cells += [f"{top['gbps']:.3g}", f"{top['roofline_ratio']:.2f}"]
        else:
            cells += ["-", "-"]
        cells.append(f"{peer['impl']} {_cell(peer, False)}" if peer else "-")
        cells.append(fmt_ratio(peer["time_s"] / top["time_s"]) if peer and top else "-")
        cells.append(_ulp_cell(top, peer))
        if old_times is not None:
            before = old_times.get((*key, top["impl"])) if top else None
            cells.append(f"{top['time_s'] / before - 1:+.0%}" if before else "-")
        body.append(cells)
    return header, body, breaks


def print_table(report, old=None, file=None, use_rich=True, width=None):
    """The main table, in ``width`` columns (default: the terminal's, else ``TABLE_WIDTH``).

    A table wider than that is printed as several tables, each repeating the
    function, dtype and size columns (and call, with ``--alloc``): numbers are
    never truncated and lines never wrap mid-row.
    """
    header, body, breaks = table_data(report, old)
    width = width or _terminal_width(file)
    keys = 4 if report["meta"]["settings"]["alloc"] else 3
    console = _rich_console(file, width) if use_rich else None
    for n, columns in enumerate(_column_groups(header, body, keys, width)):
        part = ([header[i] for i in columns], [[c[i] for i in columns] for c in body])
        if n:
            print(file=file or sys.stdout)
        if console is not None:
            _print_rich(console, *part, breaks)
        else:
            _print_plain(file or sys.stdout, *part, breaks)


def _terminal_width(file) -> int:
    import shutil

    stream = file or sys.stdout
    if hasattr(stream, "isatty") and stream.isatty():
        return shutil.get_terminal_size((TABLE_WIDTH, 24)).columns
    return TABLE_WIDTH


def _column_groups(header, body, keys, width) -> list:
    """Lists of column indices, each starting with the ``keys`` columns, whose plain
    rendering (two spaces between columns) fits ``width``; at least one value column each."""
    widths = [max([len(h)] + [len(c[i]) for c in body]) + 2 for i, h in enumerate(header)]
    base = list(range(keys))
    groups, current, used = [], list(base), sum(widths[:keys])
    for i in range(keys, len(header)):
        if len(current) > keys and used + widths[i] > width:
            groups.append(current)
            current, used = list(base), sum(widths[:keys])
        current.append(i)
        used += widths[i]
    groups.append(current)
    return groups


def _print_rich(console, header, body, breaks) -> None:
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i < 3 else "right", no_wrap=True)
    for i, cells in enumerate(body):
        table.add_row(*cells, end_section=(i + 1) in breaks)
    console.print(table)


def _print_plain(out, header, body, breaks) -> None:
    widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h)
              for i, h in enumerate(header)]

    def line(cells):
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    print(line(header), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for i, cells in enumerate(body):
        if i in breaks:
            print(file=out)
        print(line(cells), file=out)


def markdown_table(report, old=None, functions=None, dtypes=None, sizes=None) -> str:
    """The main table as GitHub markdown (optionally only some functions, dtypes, sizes)."""
    header, body, _ = table_data(report, old)
    keep = []
    for cells in body:
        function, dtype, size = cells[0], cells[1], cells[2]
        if functions and function not in functions:
            continue
        if dtypes and dtype not in dtypes:
            continue
        if sizes and size not in {fmt_size(int(s)) for s in sizes}:
            continue
        keep.append(cells)
    align = ["---" if i < 3 else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(row) + " |" for row in [header, align, *keep]]
    return "\n".join(lines).replace("*", "\\*") + "\n"


def _rich_console(file, width):
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=file, width=width)


def summary_lines(report, old=None, threshold=0.15) -> list:
    """The text under the table: legend, compile times, roofline, geometric means, problems."""
    meta = report["meta"]
    all_rows = rows(report)
    lines = _legend_lines(report)
    comp = ", ".join(f"{name} {info['seconds']:.2f} s ({info['method']})"
                     for name, info in meta["compile"].items())
    lines.append(f"compile / warm-up (excluded from the timings): {comp or 'none'}")
    if meta["roofline_gbps"]:
        largest = max(meta["roofline_gbps"], key=int)
        lines.append(f"roofline: copying {int(largest) / 1e6:.3g} MB (read + write) runs at "
                     f"{meta['roofline_gbps'][largest]:.1f} GB/s here at best (fastest of 1 "
                     f"and {meta['threads']} threads, repeated back to back)")
    for size in meta["settings"]["sizes"]:
        at_size = [impls for (_, _, _, call), impls in all_rows
                   if row_size(impls) == size and call == "out"]
        parts = _geomean_parts(meta["backends"], at_size)
        if parts:
            lines.append(f"geometric mean at size {fmt_size(size)}: " + "; ".join(parts))
    lines += _problem_lines(all_rows)
    lines += stream_floor_lines(all_rows)
    lines += compute_floor_lines(all_rows)
    lines += launch_lines(meta.get("numba_launch"))
    if meta.get("pool_stalls"):
        from .. import _constants as C

        lines.append(f"work pool: {meta['pool_stalls']} loop(s) waited on a descheduled helper "
                     f"during the run; each capped the next loops at one thread for "
                     f"{C.CONTENTION_WINDOW_MIN_NS / 1e6:g}-{C.CONTENTION_WINDOW_MAX_NS / 1e6:g} "
                     "ms (the contention policy), so some of fastact's samples ran on one thread")
    busy = load_warning(meta.get("load"))
    if busy:
        lines.append(busy)
    if old is not None:
        lines += compare_lines(report, old, threshold)
    lines.append(f"wall time {meta['wall_seconds']:.1f} s")
    return lines


def _legend_lines(report) -> list:
    meta = report["meta"]
    return [
        f"Times are medians per call with preallocated out= ({ALLOC_MARK}: the call allocates its "
        f"result; {SPREAD_MARK}: wide spread, the samples' interquartile range exceeds "
        f"{WIDE_SPREAD:.0%} of the median (min/quartiles/max per cell in --json); "
        f"{MISMATCH_MARK}: result differs from the NumPy reference). xN after a backend "
        "time: speed-up over the NumPy reference.",
        *([f"~: a NumPy reference call predicted to exceed "
           f"{meta['settings'].get('reference_cap_s')} s was timed on a slice of the input and "
           "scaled up linearly (--reference-cap)."]
          if any(r.get("extrapolated_from") for r in report["results"]) else []),
        "GB/s and roofline: the fastest fastact backend (bytes read + written / time; roofline = "
        "time of a multi-threaded copy of the same bytes from the case's inputs into its output, "
        "timed in the same rounds as the implementations, / time). vs peer: best peer time / "
        "fastest fastact time (>1: fastact faster). max ULP: the maximum error in ULP of that "
        f"fastact backend / that peer against mpmath ({meta.get('max_ulp', 'not measured')}).",
        f"threads: {meta['threads']} (fastact{''.join(f', {k}' for k in meta['peer_threads'])}); "
        f"{meta['blas']}; {_threading_layers(meta)}",
    ]


def _geomean_parts(backends, at_size) -> list:
    """Each compiled backend's geometric-mean speed-up over NumPy, and the fastest fastact
    backend's over the best peer, over the rows of one size."""
    parts = []
    for b in backends:
        if b == "numpy":
            continue
        g = geomean(impls[b].get("speedup_vs_numpy") for impls in at_size if b in impls)
        if math.isfinite(g):
            parts.append(f"{b} x{g:.3g} vs numpy")
    vs = [best(i, "peer")["time_s"] / best(i, "backend")["time_s"] for i in at_size
          if best(i, "peer") and best(i, "backend")]
    if vs:
        wins = sum(v >= 1 for v in vs)
        parts.append(f"fastest fastact x{geomean(vs):.3g} vs best peer "
                     f"(faster in {wins}/{len(vs)})")
    return parts


def _problem_lines(all_rows) -> list:
    """Errors per implementation, and results that differ from the NumPy reference."""
    lines = []
    by_impl = defaultdict(list)
    for _, impls in all_rows:
        for r in impls.values():
            if r.get("error"):
                by_impl[r["impl"]].append(r)
    for impl, rs in by_impl.items():
        lines.append(f"errors: {impl} failed on {len(rs)} measurement(s), e.g. "
                     f"{rs[0]['function']} {rs[0]['dtype']}: {rs[0]['error']}")
    bad = sorted({(r["impl"], r["function"], r["dtype"]) for _, impls in all_rows
                  for r in impls.values() if r["mismatch"]})
    if bad:
        lines.append("MISMATCH with the NumPy reference: "
                     + ", ".join(f"{i} {f} {d}" for i, f, d in bad))
    return lines


def stream_floor_lines(all_rows) -> list:
    """Per case measured beside a read-two-write-one pass (``stream_floor_s``): that pass's
    time and each backend's time as a multiple of it."""
    lines = []
    for (function, dtype, label, call), impls in all_rows:
        floor = next((r.get("stream_floor_s") for r in impls.values()
                      if r.get("stream_floor_s")), None)
        if not floor or call != "out":
            continue
        parts = [f"{r['impl']} x{r['time_s'] / floor:.2f}" for r in impls.values()
                 if r["impl_kind"] == "backend" and r["time_s"]]
        lines.append(f"{function} {dtype} {label}: read-two-write-one pass "
                     f"(np.add, same bytes) {fmt_time(floor)}; " + ", ".join(parts))
    return lines


def compute_floor_lines(all_rows) -> list:
    """Per large smooth forward timed on cache-resident slices (``compute_floor_s``): each
    backend's arithmetic alone and its time, as multiples of the copy of the same bytes,
    beside the fastest peer's: where the arithmetic alone exceeds a bar over the copy, the
    bar is out of reach at the kernel's accuracy on this machine's cores."""
    lines = []
    for (function, dtype, label, call), impls in all_rows:
        floors = {r["impl"]: r for r in impls.values() if r.get("compute_floor_s")}
        copy = next((r.get("roofline_s") for r in impls.values() if r.get("roofline_s")), None)
        if not floors or not copy or call != "out":
            continue
        parts = [f"{name} {fmt_time(r['compute_floor_s'])} (x{r['compute_floor_s'] / copy:.2f}; "
                 f"the call x{r['time_s'] / copy:.2f})" for name, r in floors.items() if r["time_s"]]
        peers = [r for r in impls.values() if r["impl_kind"] == "peer" and r["time_s"]]
        best = min(peers, key=lambda r: r["time_s"]) if peers else None
        peer = f"; fastest peer {best['impl']} x{best['time_s'] / copy:.2f}" if best else ""
        lines.append(f"{function} {dtype} {label}: arithmetic alone (cache-resident "
                     f"slices), over the copy of the same bytes ({fmt_time(copy)}): "
                     + ", ".join(parts) + peer)
    return lines


def launch_lines(launch) -> list:
    """The Numba parallel launch measured in the run (``fastact._bench.launch``): the floor
    of a threaded Numba row, and whether its other threads took a share of the work."""
    if not launch:
        return []
    share = launch.get("caller_share")
    work = (f"; on {launch['work_elements']} float64 elements the calling thread ran "
            f"{share:.2f} of the serial loop's CPU time ({1 / launch['threads']:.2f}: an even "
            f"split), {fmt_time(launch['work_parallel_s'])} threaded against "
            f"{fmt_time(launch['work_serial_s'])} serially") if share is not None else ""
    return [f"numba launch: a minimal parallel region through the elementwise driver takes "
            f"{fmt_time(launch['parallel_s'])} per call on {launch['threads']} threads (a serial "
            f"call {fmt_time(launch['serial_s'])}){work}"]


def _threading_layers(meta) -> str:
    facts = []
    for name, info in meta["config"]["backends"].items():
        if info.get("available") and name in meta["backends"]:
            layer = {k: v for k, v in info.items() if "thread" in k or "openmp" in k.lower()}
            if layer:
                facts.append(f"{name}: " + ", ".join(f"{k}={v}" for k, v in layer.items()))
    return "; ".join(facts) or "threading layers: n/a"


# ----------------------------------------------------------------- JSON, compare
def write_json(report, path):
    with open(path, "w") as f:
        json.dump(report, f, indent=1, default=str)


def read_json(path) -> dict:
    with open(path) as f:
        report = json.load(f)
    if "results" not in report or "meta" not in report:
        raise ValueError(f"{path} is not a `fastact bench --json` report")
    return report


def _index(report) -> dict:
    return {(*row_key(r), r["impl"]): r["time_s"] for r in report["results"] if r["time_s"]}


def compare(report, old, threshold=0.15) -> tuple:
    """(regressions, improvements, matched): fastact backend timings slower/faster than before."""
    before = _index(old)
    regressions, improvements, matched = [], [], 0
    for r in report["results"]:
        if r["impl_kind"] != "backend" or not r["time_s"]:
            continue
        t_old = before.get((*row_key(r), r["impl"]))
        if not t_old:
            continue
        matched += 1
        change = r["time_s"] / t_old - 1
        if change > threshold:
            regressions.append((change, r, t_old))
        elif change < -threshold:
            improvements.append((change, r, t_old))
    regressions.sort(key=lambda x: -x[0])
    improvements.sort(key=lambda x: x[0])
    return regressions, improvements, matched


def compare_lines(report, old, threshold=0.15) -> list:
    regressions, improvements, matched = compare(report, old, threshold)
    lines = [f"compared with {old['meta'].get('date', 'the old report')}: {matched} backend "
             f"timings matched, {len(regressions)} slower and {len(improvements)} faster by more "
             f"than {threshold:.0%}"]
    for change, r, t_old in regressions:
        lines.append(f"  REGRESSION {r['impl']:<7} {r['function']} {r['dtype']} "
                     f"{row_label(r)} {r['call']}: {fmt_time(t_old)} -> "
                     f"{fmt_time(r['time_s'])} ({change:+.0%})")
    return lines
