"""gelu, then log_softmax over a chunked axis, from one zarr store to another, on a
local ``distributed`` cluster: arrays larger than memory, in bounded memory.

    python examples/dask_pipeline.py --gib 4          # the README run: a 4 GiB input
    python examples/dask_pipeline.py --gib 0.01 --row-length 4096 --check

Needs ``pip install "dask[array]" distributed zarr`` (``pip install ".[interop]"``).
The input store (float32 logits, ``rows x row-length``, each row split over several
chunks) is created in ``--workdir`` unless it exists.  The pipeline reads it, applies
``fastact.gelu`` (a ufunc: one task per chunk) and ``fastact.log_softmax`` along the
chunked rows (a dask reduction of the row statistics, then one pass per chunk) and
writes the result to a second store.  It prints the time, the throughput and each
worker's peak resident memory (on a cluster of its own, so the peak is the pipeline's).
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np
import zarr
from distributed import Client, LocalCluster, progress

import fastact


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gib", type=float, default=4.0, help="input size in GiB (default 4)")
    p.add_argument("--row-length", type=int, default=32768, help="logits per row")
    p.add_argument("--chunk-mib", type=float, default=32.0, help="chunk size in MiB")
    p.add_argument("--row-chunks", type=int, default=4, help="chunks along each row")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads-per-worker", type=int, default=1)
    p.add_argument("--memory-limit", default="4GiB", help="per worker (dask spills above it)")
    p.add_argument("--workdir", default=None, help="where the zarr stores go (default: a temp dir)")
    p.add_argument("--check", action="store_true", help="compare rows against NumPy fastact")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def input_shape(args):
    """(rows, row length) and chunks: ``row_chunks`` chunks per row, ~``chunk_mib`` each."""
    n = args.row_length
    rows = max(1, int(args.gib * 2**30 / 4 / n))
    col_chunk = -(-n // args.row_chunks)
    row_chunk = max(1, min(rows, int(args.chunk_mib * 2**20 / 4 / col_chunk)))
    return (rows, n), (row_chunk, col_chunk)


def make_input(path, shape, chunks, client, quiet):
    """Standard-normal logits scaled by 4, float32, written chunk by chunk."""
    x = da.random.default_rng(0).standard_normal(shape, dtype=np.float32, chunks=chunks) * 4
    _run(client, x.to_zarr(str(path), overwrite=True, compute=False), "input", quiet)


def pipeline(source, target):
    """The lazy pipeline: zarr -> gelu -> log_softmax along the rows -> zarr."""
    x = da.from_zarr(str(source))
    y = fastact.log_softmax(fastact.gelu(x), axis=-1)
    return y.to_zarr(str(target), overwrite=True, compute=False)


def _run(client, task, what, quiet):
    future = client.compute(task)
    if not quiet:
        print(f"{what}:", flush=True)
        progress(future)  # dask's own progress bar
        print(flush=True)
    future.result()


def _worker_usage():
    """(peak RSS in MiB, CPU seconds) of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # ru_maxrss: KiB on Linux


def check_rows(source, target, rows=4):
    """The first rows against fastact on NumPy arrays (the same kernels, unchunked)."""
    x = zarr.open_array(str(source), mode="r")[:rows]
    got = zarr.open_array(str(target), mode="r")[:rows]
    want = fastact.log_softmax(fastact.gelu(x), axis=-1)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


def paths(args):
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="fastact-dask-"))
    return workdir / "logits.zarr", workdir / "log_probs.zarr"


def run(client, args, source, target):
    """The pipeline on ``client``; returns (seconds, {worker: peak RSS in MiB})."""
    shape, chunks = input_shape(args)
    nbytes = 4 * shape[0] * shape[1]
    print(f"{shape[0]} x {shape[1]} float32 ({nbytes / 2**30:.2f} GiB), chunks {chunks}, "
          f"{len(client.scheduler_info()['workers'])} workers", flush=True)
    start = time.perf_counter()
    _run(client, pipeline(source, target), "gelu + log_softmax", args.quiet)
    seconds = time.perf_counter() - start
    usage = client.run(_worker_usage)
    peaks = {w: rss for w, (rss, _) in usage.items()}
    print(f"time {seconds:.1f} s, {nbytes / seconds / 1e9:.2f} GB/s (input bytes)")
    print("per worker: peak RSS " + ", ".join(f"{rss:.0f} MiB" for rss, _ in usage.values())
          + "; CPU time " + ", ".join(f"{cpu:.0f} s" for _, cpu in usage.values()))
    if args.check:
        check_rows(source, target)
        print("check: the first rows match fastact on NumPy arrays")
    return seconds, peaks


def main(argv=None):
    args = parse_args(argv)
    source, target = paths(args)
    cluster_args = dict(n_workers=args.workers, threads_per_worker=args.threads_per_worker,
                        processes=True, memory_limit=args.memory_limit, dashboard_address=None)
    if not any((source / meta).exists() for meta in ("zarr.json", ".zarray")):  # zarr 3, 2
        with LocalCluster(**cluster_args) as cluster, Client(cluster) as client:
            make_input(source, *input_shape(args), client, args.quiet)
    # A cluster of its own: the workers' peak memory is the pipeline's.
    with LocalCluster(**cluster_args) as cluster, Client(cluster) as client:
        run(client, args, source, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
