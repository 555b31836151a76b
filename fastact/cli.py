"""The ``fastact`` command: ``bench`` (the main job), ``accuracy``, ``info`` and ``warmup``.

    fastact bench                 # every function, float32+float64, sizes 1e3 1e5 1e7
    fastact bench --quick         # a taste in under a minute
    fastact bench --functions gelu,softmax --sizes 1e6 --json out.json --plot out.png
    fastact bench --compare old.json
    fastact bench --contention    # slowdowns beside 1 and 2 busy processes pinned to cores
    fastact accuracy --quick      # max ULP error of every backend and peer vs mpmath
    fastact accuracy --functions gelu,sigmoid --dtypes float32 --plot err.png --json err.json
    fastact info                  # versions, backends (and why one is missing), threads, ISA
    fastact config                # what fastact.show_config() prints
    fastact --version
    fastact warmup                # compile every backend's kernels now, not at first use

Also ``python -m fastact ...``.
"""
from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time

MATPLOTLIB_INSTALL = "pip install matplotlib  (or: pip install 'fastact[bench]')"


def _csv(text):
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _sizes(text):
    try:
        sizes = tuple(int(float(t)) for t in _csv(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be numbers like 1e3,1e5: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive: {text!r}")
    return sizes


def _dtypes(text):
    dtypes = _csv(text)
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        raise argparse.ArgumentTypeError(f"dtypes must be float32 and/or float64, got {text!r}")
    return dtypes


def _shapes(text):
    """'4096x2048,64x1000' -> ((4096, 2048), (64, 1000))."""
    try:
        shapes = tuple(tuple(int(v) for v in t.lower().split("x")) for t in _csv(text))
    except ValueError:
        shapes = ()
    if not shapes or any(len(s) != 2 or min(s) < 1 for s in shapes):
        raise argparse.ArgumentTypeError(f"shapes must look like 4096x2048,64x1000: {text!r}")
    if len(set(shapes)) != len(shapes):
        twice = sorted({f"{r}x{n}" for r, n in shapes if shapes.count((r, n)) > 1})
        raise argparse.ArgumentTypeError(f"shapes must differ; given twice: {', '.join(twice)}")
    return shapes


def _busy_counts(text):
    counts = tuple(_positive_int(t) for t in _csv(text))
    if not counts:
        raise argparse.ArgumentTypeError("give at least one number of busy processes")
    return counts


def _positive_int(text):
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The ``fastact`` command line: ``bench``, ``accuracy``, ``info``, ``config``, ``warmup``."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="fastact", description="Fast CPU activation kernels: benchmarks and diagnostics.")
    parser.add_argument("--version", action="version", version=f"fastact {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{bench,accuracy,info,config,warmup}")
    _add_bench_parser(sub)
    _add_accuracy_parser(sub)
    sub.add_parser("info", help="versions, backends (and why any is missing), threads, CPU ISA, "
                   "peers and optional packages")
    sub.add_parser("config", help="what fastact.show_config() prints")
    sub.add_parser("warmup", help="compile every backend's kernels ahead of use, and time it")
    return parser


def _add_bench_parser(sub) -> None:
    bench = sub.add_parser(
        "bench", help="time every backend against NumPy, peers and the memory roofline",
        description="Time every activation (forward, backward) and the softmax family with every "
        "fastact backend, the NumPy reference, PyTorch/numexpr/SciPy/ONNX Runtime/JAX where "
        "installed, and a "
        "multi-threaded copy of the same bytes (the roofline).")
    bench.add_argument("--functions", type=_csv, default=(),
                       help="comma-separated names: an activation (gelu: all its kernels and "
                       "passes), a case (gelu_tanh_backward) or a pattern ('*_backward_y')")
    bench.add_argument("--dtypes", type=_dtypes, default=None, help="float32,float64 (default both)")
    bench.add_argument("--sizes", type=_sizes, default=None,
                       help="element counts, e.g. 1e3,1e5,1e7 (the default)")
    bench.add_argument("--shapes", type=_shapes, default=None, metavar="ROWSxN,...",
                       help="softmax-family cases on these exact (rows, n) shapes, e.g. "
                       "4096x2048,256x50257,64x1000 (sizes become rows*n; shapes of one size "
                       "are rows of their own; elementwise cases run flat, once per size); "
                       "replaces --sizes")
    bench.add_argument("--backends", type=_csv, default=(),
                       help="fastact backends to time (default: all available)")
    bench.add_argument("--peers", type=_csv, default=None,
                       help="peer libraries: torch,numexpr,scipy,onnxruntime,jax,numpy-expr "
                       "(default: those installed) or 'none'")
    bench.add_argument("--threads", type=_positive_int, default=0,
                       help="threads for fastact, torch, numexpr and onnxruntime (default: "
                       "fastact's setting)")
    bench.add_argument("--quick", action="store_true",
                       help="float32, sizes 1e4 and 1e6, a short time budget: under a minute")
    bench.add_argument("--budget", type=float, default=None,
                       help="seconds of timing per implementation and case")
    bench.add_argument("--alloc", action="store_true",
                       help="also time the allocating call (no out=), as separate rows")
    bench.add_argument("--compare", metavar="OLD.json", help="show regressions against an old report")
    bench.add_argument("--threshold", type=float, default=0.15,
                       help="relative slow-down counted as a regression by --compare (0.15)")
    bench.add_argument("--warmup", action="store_true",
                       help="call every backend's warmup() first (compiles all its kernels, "
                       "timed and reported); default: each kernel's first call is timed apart")
    bench.add_argument("--reference-cap", type=float, default=1.0, metavar="SECONDS",
                       help="a NumPy reference call predicted (from the smaller size) to take "
                       "longer is timed on a slice and scaled up, marked ~ (default 1; 0: never)")
    bench.add_argument("--no-check", action="store_true",
                       help="skip comparing every result with the NumPy reference")
    bench.add_argument("--no-ulp", action="store_true",
                       help="no 'max ULP' column (it is measured once per version and cached)")
    bench.add_argument("--contention", action="store_true",
                       help="time a few float32 kernels (default: relu,sigmoid,gelu,softmax at 1e5 "
                       "and 1e7) on the quiet machine and beside busy processes pinned to cores; "
                       "report each backend's and PyTorch's slowdown")
    bench.add_argument("--busy", type=_busy_counts, default=None, metavar="N,...",
                       help="with --contention: the numbers of busy processes, one phase each "
                       "(default 1,2)")
    bench.add_argument("--rounds", type=_positive_int, default=None,
                       help="with --contention: rounds of alternating phases (default 2)")
    _add_output_args(bench, "plot throughput vs size (matplotlib)")


def _add_accuracy_parser(sub) -> None:
    acc = sub.add_parser(
        "accuracy", help="error in ULP of every backend and peer against a 50-digit oracle",
        description="Evaluate every activation, its derivative and the softmax family with every "
        "fastact backend and every installed peer on a fixed grid covering the whole float range "
        "and compare with mpmath at 50 digits (cached on disk; see README 'Accuracy').")
    acc.add_argument("--functions", type=_csv, default=(),
                     help="comma-separated names as for bench (gelu: f and f' of both kernels)")
    acc.add_argument("--dtypes", type=_dtypes, default=None, help="float32,float64 (default both)")
    acc.add_argument("--quick", action="store_true", help="a smaller grid: under two minutes")
    acc.add_argument("--backends", type=_csv, default=(),
                     help="fastact backends (default: all available)")
    acc.add_argument("--peers", type=_csv, default=None,
                     help="peer libraries (default: those installed) or 'none'")
    _add_output_args(acc, "plot the error in ULP against x (matplotlib)")


def _add_output_args(parser, plot_help) -> None:
    """--json, --markdown, --plot, --plot-dtype, --plain and --no-progress."""
    parser.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--markdown", metavar="FILE.md", help="write the table as markdown")
    parser.add_argument("--plot", metavar="FILE.png", help=plot_help)
    parser.add_argument("--plot-dtype", choices=("float32", "float64"), default=None,
                        help="dtype shown in the plot (default: the first measured)")
    parser.add_argument("--plain", action="store_true",
                        help="plain text, even if rich is installed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench(args)
    if args.command == "accuracy":
        return accuracy(args)
    if args.command == "info":
        return info()
    if args.command == "config":
        from . import show_config

        show_config()
        return 0
    if args.command == "warmup":
        return warmup()
    parser.print_help()
    return 0


# ---------------------------------------------------------------------- bench
def bench(args) -> int:
    """``fastact bench``: measure the selected cases, print the table, write the reports."""
    try:
        libraries = _peer_libraries(args.peers)
    except ValueError as exc:
        print(f"fastact bench: {exc}", file=sys.stderr)
        return 2
    from ._bench import peers

    peers.import_first(peers.available_libraries(libraries))  # before fastact's kernels load
    from ._bench.progress import make_progress
    from ._bench.run import run

    if args.contention:
        return _contention(args)
    try:
        _check_outputs(args)
        old = _check_bench_args(args)
        settings = _bench_settings(args, libraries)
    except (ValueError, OSError) as exc:
        print(f"fastact bench: {exc}", file=sys.stderr)
        return 2
    use_rich = not args.plain and _has("rich")
    progress = make_progress(use_rich=use_rich, enabled=not args.no_progress)
    _note_missing_peers(libraries)
    try:
        result = run(settings, progress)
    except KeyboardInterrupt:
        print("fastact bench: interrupted", file=sys.stderr)
        return 130
    _print_report(result, old, args, use_rich)
    _write_reports(result, old, args)
    return 0


def _contention(args) -> int:
    """``fastact bench --contention``: slowdowns beside busy processes (see _bench.contention)."""
    import json

    from ._bench import contention as cont

    try:
        settings = _contention_settings(args)
        _check_outputs(args)
        _check_bench_args(args)
    except (ValueError, OSError) as exc:
        print(f"fastact bench: {exc}", file=sys.stderr)
        return 2
    try:
        cells = cont.build_cells(settings)
        cont.measure(settings, cells, None if args.no_progress else
                     lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr))
    except KeyboardInterrupt:  # the busy processes are gone already (BusyProcesses)
        print("fastact bench: interrupted", file=sys.stderr)
        return 130
    records = cont.summarize(cells)
    summary = cont.verdicts(records)
    print("\n".join(cont.table_lines(records, summary)))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(cont.table_lines(records, summary, markdown=True)) + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": vars(settings), "records": records, "verdicts": summary}, f,
                      indent=1, default=list)
    return 0


def _contention_settings(args):
    """The :class:`ContentionSettings` of the command line; ValueError for options it ignores."""
    import fastact

    from ._bench import contention as cont

    ignored = [f"--{name.replace('_', '-')}" for name in ("dtypes", "shapes", "alloc", "compare",
                                                          "plot", "warmup")
               if getattr(args, name)]
    if ignored:
        raise ValueError("--contention times float32 forward kernels only; drop "
                         + ", ".join(ignored))
    if args.threads:
        fastact.set_num_threads(args.threads)
    from ._bench import peers as peers_mod

    defaults = cont.ContentionSettings()
    requested = defaults.peers if args.peers is None else args.peers
    peers = () if requested == ("none",) else tuple(peers_mod.available_libraries(requested))
    peers_mod.set_threads(fastact.get_num_threads(), peers)
    return cont.ContentionSettings(
        functions=args.functions or defaults.functions, sizes=args.sizes or defaults.sizes,
        busy=args.busy or defaults.busy, backends=args.backends,
        peers=peers, threads=fastact.get_num_threads(),
        budget=args.budget or (0.1 if args.quick else defaults.budget),
        rounds=args.rounds or (1 if args.quick else defaults.rounds))


def _check_outputs(args) -> None:
    """Raise ValueError, before anything runs, for an output that could not be written:
    ``--plot`` without matplotlib, or a report into a folder that does not exist."""
    if args.plot and not _has("matplotlib"):
        raise ValueError(f"--plot needs matplotlib, which is not installed: {MATPLOTLIB_INSTALL}")
    for option in ("json", "markdown", "plot"):
        path = getattr(args, option)
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if folder and not os.path.isdir(folder):
            raise ValueError(f"--{option} {path}: the folder {folder} does not exist")


def _check_bench_args(args):
    """Raise ValueError for a selection that matches nothing or a missing backend;
    returns the ``--compare`` report (or None)."""
    import fastact

    from ._bench import cases, report

    cases.select(args.functions)
    available = fastact.backends()
    missing = [b for b in args.backends if b not in available]
    if missing:
        raise ValueError(f"backend(s) {', '.join(missing)} not available here "
                         f"(available: {', '.join(available)}; see `fastact info`)")
    return report.read_json(args.compare) if args.compare else None


def _peer_libraries(requested) -> tuple:
    """The peer libraries ``--peers`` asks for (all known ones by default, none for 'none')."""
    from ._bench import peers

    if requested is None:
        return peers.LIBRARIES
    if requested == ("none",):
        return ()
    unknown = [p for p in requested if p not in peers.LIBRARIES]
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(peers.LIBRARIES)} or none")
    return requested


def _note_missing_peers(libraries) -> None:
    """Name the peers among ``libraries`` that are not installed, and how to install them."""
    from ._bench import peers

    not_installed = [p for p in libraries if peers.library_version(p) is None]
    if not_installed:
        print(f"note: peer(s) not installed, skipped: {', '.join(not_installed)} "
              f"(to measure them: {peers.install_command(not_installed)}, or pip install "
              f"'fastact[peers]' for all)", file=sys.stderr)


def _bench_settings(args, libraries):
    """The run's :class:`~fastact._bench.run.Settings` from the command line."""
    from ._bench.run import (DEFAULT_DTYPES, DEFAULT_SIZES, QUICK_DTYPES, QUICK_SIZES, Settings,
                             default_policy)
    from ._bench.timing import Policy

    policy = default_policy(args.quick)
    if args.budget:
        policy = Policy(**{**policy.__dict__, "budget": args.budget})
    if args.shapes and args.sizes:
        raise ValueError("give --shapes or --sizes, not both")
    shape_sizes = tuple(dict.fromkeys(r * n for r, n in args.shapes or ()))
    return Settings(
        functions=args.functions,
        dtypes=args.dtypes or (QUICK_DTYPES if args.quick else DEFAULT_DTYPES),
        sizes=shape_sizes or args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES),
        row_lengths=tuple((r * n, n) for r, n in args.shapes or ()),
        backends=args.backends, peers=libraries, threads=args.threads, alloc=args.alloc,
        policy=policy, check=not args.no_check, warmup=args.warmup,
        reference_cap=args.reference_cap, ulp=not args.no_ulp,
    )


def _print_report(result, old, args, use_rich) -> None:
    from ._bench import report

    report.print_table(result, old, use_rich=use_rich)
    print()
    for line in report.summary_lines(result, old, args.threshold):
        print(textwrap.fill(line, report.TABLE_WIDTH, subsequent_indent="  "))
    if not use_rich and not args.plain:
        print("(install rich for a formatted table: pip install 'fastact[bench]')")


def _write_reports(result, old, args) -> None:
    """The ``--json``, ``--markdown`` and ``--plot`` files asked for."""
    from ._bench import report

    if args.json:
        report.write_json(result, args.json)
        print(f"JSON report written to {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report.markdown_table(result, old))
        print(f"markdown table written to {args.markdown}")
    if args.plot:  # matplotlib was checked before the run
        from ._bench.plot import plot

        dtype = plot(result, args.plot, args.plot_dtype)
        print(f"plot ({dtype}) written to {args.plot}")


def _has(module) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# ------------------------------------------------------------------- accuracy
def accuracy(args) -> int:
    """``fastact accuracy``: measure, print the table and the findings, write the reports."""
    from ._accuracy.run import Settings, run
    from ._bench.progress import make_progress

    try:
        _check_outputs(args)
        _check_accuracy_args(args)
        libraries = _peer_libraries(args.peers)
    except ValueError as exc:
        print(f"fastact accuracy: {exc}", file=sys.stderr)
        return 2
    use_rich = not args.plain and _has("rich")
    _note_missing_peers(libraries)
    settings = Settings(functions=args.functions, dtypes=args.dtypes or ("float32", "float64"),
                        quick=args.quick, backends=args.backends, peers=libraries)
    try:
        result = run(settings, make_progress(use_rich=use_rich, enabled=not args.no_progress))
    except KeyboardInterrupt:
        print("fastact accuracy: interrupted", file=sys.stderr)
        return 130
    _accuracy_outputs(result, args, use_rich)
    return 0


def _check_accuracy_args(args) -> None:
    """Raise ValueError for a selection that matches nothing, a missing backend or no mpmath."""
    if not _has("mpmath"):
        raise ValueError("needs mpmath (pip install mpmath, or 'fastact[test]')")
    args.compare = None
    _check_bench_args(args)


def _accuracy_outputs(result, args, use_rich) -> None:
    """The table and findings on stdout; the ``--json``, ``--markdown`` and ``--plot`` files."""
    from ._accuracy import report

    report.print_table(result.report, use_rich=use_rich)
    print()
    for line in report.summary_lines(result.report):
        print(line)
    if args.json:
        report.write_json(result.report, args.json)
        print(f"JSON report written to {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report.markdown_table(result.report))
        print(f"markdown table written to {args.markdown}")
    if args.plot:  # matplotlib was checked before the run
        from ._accuracy.plot import plot

        dtype = plot(result, args.plot, args.functions, args.plot_dtype)
        print(f"plot ({dtype}) written to {args.plot}")


# ----------------------------------------------------------------------- info
def info() -> int:
    """Versions, backends and why any is missing, threads, threading layers, OpenMP, CPU ISA."""
    from . import show_config
    from ._bench import peers

    show_config()
    print("       peers:", ", ".join(f"{lib} {peers.library_version(lib) or '(not installed)'}"
                                     for lib in peers.LIBRARIES if lib != "numpy-expr"))
    for module in ("numba", "scipy", "threadpoolctl", "rich", "matplotlib"):
        version = _version(module)
        print(f"{module:>12}: {version or 'not installed'}")
    print("      openmp:", _openmp_runtimes())
    return 0


def _version(module):
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def _openmp_runtimes() -> str:
    """OpenMP runtimes loaded in this process after loading the backends (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    libs = [i for i in threadpool_info() if i.get("user_api") == "openmp"]
    if not libs:
        return "none loaded"
    return "; ".join(" ".join(filter(None, (i.get("internal_api"), i.get("version"))))
                     + f" ({i.get('filepath')}, {i.get('num_threads')} threads)" for i in libs)


# --------------------------------------------------------------------- warmup
def warmup() -> int:
    """Call ``warmup()`` of every available backend that has one; print how long each took."""
    from . import _backends

    total = 0.0
    for name in _backends.available():
        module = _backends.load(name)
        warm = getattr(module, "warmup", None)
        if warm is None:
            print(f"{name:>8}: nothing to compile")
            continue
        start = time.perf_counter()
        try:
            warm()
        except Exception as exc:
            print(f"{name:>8}: warmup failed: {type(exc).__name__}: {exc}")
            return 1
        took = time.perf_counter() - start
        total += took
        print(f"{name:>8}: compiled in {took:.2f} s")
    print(f"   total: {total:.2f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
