"""The ``fastact accuracy`` report as a table (rich or plain), markdown, JSON and findings.

The table has one row per (function, dtype) and one column per implementation
(fastact backends first, then the peers); a cell is the maximum error in ULP,
followed by ``!`` when the implementation also returned a wrong special value
(NaN, inf, wrong sign, wrong 0) and ``#`` when a fastact backend broke its
documented accuracy; an empty cell: the implementation has no such function.
"""
from __future__ import annotations

import json
import math
import sys

SPECIAL_MARK = "!"
PROMISE_MARK = "#"


def fmt_ulp(value) -> str:
    """0.5, 12, 3.4e+06 (None: '-')."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2g}" if value else "0"
    return f"{value:.0f}" if value < 1e4 else f"{value:.1e}"


def _cell(record) -> str:
    if record is None:
        return ""
    if record.get("error"):
        return "error"
    text = fmt_ulp(record.get("max_ulp"))
    if record.get("specials"):
        text += SPECIAL_MARK
    if record.get("within_promise") is False:
        text += PROMISE_MARK
    return text


def implementations(report) -> list:
    """The implementation columns: fastact backends, then the peers that produced a record."""
    seen = {r["impl"] for r in report["results"]}
    peers = [p for p in report["meta"]["peers"] if p in seen]
    return list(report["meta"]["backends"]) + peers


def table_data(report) -> tuple:
    """(header, rows of cells) of the main table."""
    impls = implementations(report)
    grouped: dict = {}
    for r in report["results"]:
        grouped.setdefault((r["function"], r["dtype"]), {})[r["impl"]] = r
    order = report["meta"]["settings"]["dtypes"]
    keys = sorted(grouped, key=lambda k: (order.index(k[1]), list(grouped).index(k)))
    body = [[f, d, *(_cell(grouped[(f, d)].get(i)) for i in impls)] for f, d in keys]
    return ["function", "dtype", *impls], body


def print_table(report, file=None, use_rich=True) -> None:
    """The table on the terminal: rich when asked and installed, else plain columns."""
    header, body = table_data(report)
    if use_rich:
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            use_rich = False
    if use_rich:
        table = Table(show_edge=False, header_style="bold", pad_edge=False,
                      title="max error in ULP vs mpmath")
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i < 2 else "right", no_wrap=True)
        for cells in body:
            table.add_row(*cells)
        _print_wide(table, file)
        return
    widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h)
              for i, h in enumerate(header)]
    out = file or sys.stdout
    for cells in [header, ["-" * w for w in widths], *body]:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))).rstrip(), file=out)


def _print_wide(table, file) -> None:
    """Print a rich table without truncating numbers (wider than the terminal if need be)."""
    from rich.console import Console
    from rich.measure import Measurement

    console = Console(file=file)
    needed = Measurement.get(console, console.options.update_width(100_000), table).maximum
    (Console(file=file, width=needed) if needed > console.width else console).print(table)


def markdown_table(report) -> str:
    """The table as GitHub markdown."""
    header, body = table_data(report)
    align = ["---", "---"] + ["---:"] * (len(header) - 2)
    return "\n".join("| " + " | ".join(row) + " |" for row in [header, align, *body]) + "\n"


def _where(r) -> str:
    row = f"row {r['row_at_max']}, " if "row_at_max" in r else ""
    return f"{row}x={r['x_at_max']:.6g}"


def finding_lines(report, limit=40) -> list:
    """One line per result more than the bound off or with wrong special values, worst first."""
    bound = report["meta"]["bound_ulp"]
    bad = [r for r in report["results"] if not r.get("error")
           and ((r.get("max_ulp") or 0) > bound or r.get("specials"))]
    bad.sort(key=lambda r: -(r["max_ulp"] if r.get("max_ulp") is not None else math.inf))
    lines = []
    for r in bad[:limit]:
        text = f"{r['impl']:>11} {r['function']:<20} {r['dtype']}: "
        if r.get("max_ulp"):
            text += f"max {fmt_ulp(r['max_ulp'])} ULP at {_where(r)} "
            text += f"({fmt_ulp(r.get('max_ulp_normal'))} where the true value is normal), "
        text += f"{r['above_bound']:.1%} of points > {bound} ULP"
        for kind, info in r.get("specials", {}).items():
            text += f"; {kind} x{info['count']} (x={info['x']:.6g})"
        lines.append(text)
    if len(bad) > limit:
        lines.append(f"... and {len(bad) - limit} more (see --json)")
    return lines


def summary_lines(report) -> list:
    """The legend, the findings, fastact's promise, errors and the wall time."""
    meta = report["meta"]
    lines = [f"Cells: max |result - exact| / ULP(exact) over the finite points; "
             f"{SPECIAL_MARK}: wrong special values too ("
             + "; ".join(f"{k}: {v}" for k, v in meta["special_kinds"].items())
             + f"); {PROMISE_MARK}: beyond fastact's documented accuracy; empty: no such "
             "function. f' is the backward pass with grad = 1 (the kernels autograd uses; "
             "jax.vjp).",
             f"oracle: {meta['oracle']}. grid: {meta['grid']}", ""]
    findings = finding_lines(report)
    lines += (["More than the bound off, or wrong special values:"] + findings + [""]
              if findings else [])
    backends = [r for r in report["results"] if r["impl_kind"] == "backend"
                and r.get("within_promise") is not None]
    broken = [r for r in backends if not r["within_promise"]]
    lines.append(f"fastact within its documented accuracy in {len(backends) - len(broken)}"
                 f"/{len(backends)} (backend, function, dtype) results"
                 + ("" if not broken else ": NOT in " + ", ".join(
                     f"{r['impl']} {r['function']} {r['dtype']}" for r in broken)))
    errors = [r for r in report["results"] if r.get("error")]
    if errors:
        lines.append(f"{len(errors)} implementation(s) could not run a function, e.g. "
                     f"{errors[0]['impl']} {errors[0]['function']} {errors[0]['dtype']}: "
                     f"{errors[0]['error']}")
    lines.append(f"wall time {meta['wall_seconds']:.1f} s")
    return lines


def write_json(report, path) -> None:
    with open(path, "w") as f:
        json.dump(report, f, indent=1, default=str)
