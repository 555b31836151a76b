"""``fastact bench --contention``: how the kernels slow down when other processes use the cores.

Every selected forward kernel (float32) of every backend, and PyTorch's where
installed, is timed in single calls on a quiet machine and beside 1 and 2
busy-loop processes pinned to cores (:mod:`fastact._bench.busy`); the phases
alternate over several rounds so a drift of the machine's own load hits all of
them alike.  Per implementation, function and size the report gives the quiet
and the loaded median, the slowdown (loaded / quiet median), the ratio of the
means (the time a run of calls takes: where the loaded calls split into a fast and
a slow mode, one scheduler turn apart, the median lands in either) and the 90th
percentile of the loaded single calls relative to the quiet median (and of the
quiet calls: how noisy the quiet phase itself was).

The bars a backend should meet (:data:`BARS`): with one busy process at most
2x slower and, at 1e5 elements, a p90 within 3x of the quiet median; with two
busy processes at most 3x slower.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import cases as cases_mod
from . import peers as peers_mod
from .busy import BusyProcesses
from .report import fmt_size, fmt_time

DEFAULT_FUNCTIONS = ("relu", "sigmoid", "gelu", "softmax")
DEFAULT_SIZES = (100_000, 10_000_000)
DEFAULT_BUSY = (1, 2)
DTYPE = "float32"
P90_SIZE = 100_000  # the size whose single-call p90 has a bar
BARS = {1: 2.0, 2: 3.0}  # busy processes -> the largest acceptable slowdown
P90_BAR = 3.0  # largest acceptable p90 of single calls / quiet median (one busy process)
MIN_SAMPLES = 5
MAX_SAMPLES = 20_000


@dataclass(frozen=True)
class ContentionSettings:
    functions: tuple = DEFAULT_FUNCTIONS
    sizes: tuple = DEFAULT_SIZES
    busy: tuple = DEFAULT_BUSY  # numbers of busy processes, one phase each
    backends: tuple = ()  # empty: the compiled backends available here
    peers: tuple = ("torch",)
    threads: int = 0  # 0: fastact's default
    budget: float = 0.4  # seconds of single calls per implementation, phase and round
    rounds: int = 2


@dataclass
class Cell:
    """One implementation of one kernel at one size, and its samples per busy count."""

    impl: str
    function: str
    size: int
    fn: object
    samples: dict


def default_backends() -> tuple:
    """The backends timed by default: the compiled ones (the NumPy reference is single-threaded
    and accuracy-first; ``--backends numpy`` adds it)."""
    import fastact

    return tuple(b for b in fastact.backends() if b != "numpy")


def _forward_cases(functions) -> list:
    return [c for c in cases_mod.select(functions) if c.mode == "forward"]


def build_cells(settings: ContentionSettings) -> list:
    """Every (implementation, kernel, size) cell, its callable warmed up."""
    backends = settings.backends or default_backends()
    pool = cases_mod.InputPool()
    cells = []
    for case in _forward_cases(settings.functions):
        for size in settings.sizes:
            bufs = case.make_buffers(DTYPE, size, pool)
            impls = [(b, case.fastact_call(b, bufs)) for b in backends]
            impls += _peer_calls(case, bufs, settings.peers)
            for label, fn in impls:
                fn()  # compile, load, first touch: never timed
                cells.append(Cell(label, case.name, size, fn, {}))
    return cells


def _peer_calls(case, bufs, libraries) -> list:
    """(library, callable) of the case's peers among ``libraries`` that can run it."""
    calls = []
    for peer in case.peers:
        if peer.library not in libraries:
            continue
        try:
            calls.append((peer.library, peer.make(bufs, False)[0]))
        except peers_mod.Unsupported:  # no kernel for this case: not a peer of it
            continue
    return calls


def time_calls(fn, budget: float) -> list:
    """Seconds of single calls of ``fn`` for about ``budget`` seconds (at least MIN_SAMPLES)."""
    clock = time.perf_counter
    out = []
    end = clock() + budget
    while len(out) < MAX_SAMPLES:
        start = clock()
        fn()
        stop = clock()
        out.append(stop - start)
        if stop > end and len(out) >= MIN_SAMPLES:
            break
    return out


def measure(settings: ContentionSettings, cells: list, progress=None) -> None:
    """Fill every cell's samples: rounds of a quiet phase and one phase per busy count."""
    phases = (0,) + tuple(settings.busy)
    for round_no in range(settings.rounds):
        for busy in phases:
            if progress is not None:
                progress(f"round {round_no + 1}/{settings.rounds}: {busy} busy process(es)")
            with BusyProcesses(busy):
                for cell in cells:
                    cell.samples.setdefault(busy, []).extend(time_calls(cell.fn, settings.budget))


def summarize(cells: list) -> list:
    """One record per cell and busy count: medians, slowdown, p90 relative to quiet."""
    records = []
    for cell in cells:
        quiet = float(np.median(cell.samples[0]))
        quiet_mean = float(np.mean(cell.samples[0]))
        quiet_p90 = float(np.percentile(cell.samples[0], 90))
        for busy, samples in sorted(cell.samples.items()):
            if busy == 0:
                continue
            loaded = float(np.median(samples))
            records.append({
                "impl": cell.impl, "function": cell.function, "size": cell.size, "busy": busy,
                "quiet_median_s": quiet, "loaded_median_s": loaded,
                "slowdown": loaded / quiet if quiet > 0 else float("nan"),
                "mean_ratio": float(np.mean(samples)) / quiet_mean if quiet_mean > 0 else
                float("nan"),
                "p90_over_quiet": float(np.percentile(samples, 90)) / quiet if quiet else
                float("nan"),
                "quiet_p90_over_quiet": quiet_p90 / quiet if quiet else float("nan"),
                "samples": {"quiet": len(cell.samples[0]), "loaded": len(samples)},
            })
    return records


def verdicts(records: list) -> list:
    """Per implementation and busy count: the worst slowdown (and p90) against the bars."""
    out = []
    for impl in dict.fromkeys(r["impl"] for r in records):
        for busy in sorted({r["busy"] for r in records if r["impl"] == impl}):
            rows = [r for r in records if r["impl"] == impl and r["busy"] == busy]
            worst = max(rows, key=lambda r: r["slowdown"])
            p90 = [r["p90_over_quiet"] for r in rows if r["size"] == P90_SIZE]
            bar = BARS.get(busy)
            ok = bar is None or worst["slowdown"] <= bar
            if busy == 1 and p90:
                ok = ok and max(p90) <= P90_BAR
            out.append({"impl": impl, "busy": busy, "worst_slowdown": worst["slowdown"],
                        "worst_at": f"{worst['function']} {fmt_size(worst['size'])}",
                        "worst_p90_over_quiet": max(p90) if p90 else None,
                        "bar": bar, "meets_bar": ok})
    return out


# ---------------------------------------------------------------------- report
def table_lines(records: list, summary: list, markdown: bool = False) -> list:
    """The per-cell table and the per-implementation verdicts, as text (or markdown) lines."""
    head = ("busy", "impl", "function", "size", "quiet median", "loaded median", "slowdown",
            "means", "p90 / quiet", "quiet p90 / quiet")
    rows = [(str(r["busy"]), r["impl"], r["function"], fmt_size(r["size"]),
             fmt_time(r["quiet_median_s"]), fmt_time(r["loaded_median_s"]), f"{r['slowdown']:.2f}x",
             f"{r['mean_ratio']:.2f}x", f"{r['p90_over_quiet']:.2f}x",
             f"{r['quiet_p90_over_quiet']:.2f}x") for r in records]
    lines = _grid(head, rows, markdown)
    lines.append("")
    verdict_head = ("busy", "impl", "worst slowdown", "at", "worst p90 / quiet (1e5)", "bar",
                    "meets it")
    verdict_rows = [(str(v["busy"]), v["impl"], f"{v['worst_slowdown']:.2f}x", v["worst_at"],
                     "-" if v["worst_p90_over_quiet"] is None
                     else f"{v['worst_p90_over_quiet']:.2f}x",
                     "-" if v["bar"] is None else f"<= {v['bar']:g}x"
                     + (f", p90 <= {P90_BAR:g}x" if v["busy"] == 1 else ""),
                     "yes" if v["meets_bar"] else "NO") for v in summary]
    return lines + _grid(verdict_head, verdict_rows, markdown)


def _grid(head, rows, markdown: bool) -> list:
    if markdown:
        return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
            "| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    return ["  ".join(x.ljust(w) for x, w in zip(line, widths)).rstrip()
            for line in (head, *rows)]
