"""Throughput of gelu and log_softmax on a large dask array on a local ``distributed``
cluster of 2 single-threaded workers (``LocalCluster(n_workers=2, threads_per_worker=1)``).

Groups ``dask|{op}|{GiB}GiB``, three implementations each:

* ``fastact-dask``: ``fastact.gelu(x)`` / ``fastact.log_softmax(x, axis=-1)`` on the dask array;
* ``numpy-dask``: the same computed with NumPy expressions under dask
  (``0.5 * x * (1 + erf(x / sqrt(2)))``; ``z = x - max``, ``z - log(sum(exp(z)))``);
* ``fastact-memory``: fastact on one in-memory NumPy array of the same size (its threads).

The input (float32, ``rows x 32768``, chunks of 1024 x 8192: 32 MiB, 4 chunks per row, so
log_softmax works over a chunked axis) lives in the workers' memory; a round computes the
result into the workers' memory (``persist``) and drops it.  GB/s = input bytes / time.
Opt-in (it needs 3 x the size in memory): runs only with ``FASTACT_BENCH_DASK_GIB`` set
(4 for the documented table); rounds: ``FASTACT_BENCH_DASK_ROUNDS`` (default 3).
Run with (``-s`` prints the GB/s table)

    FASTACT_BENCH_DASK_GIB=4 python -m pytest bench/bench_dask.py --benchmark-only -q -s
"""
from __future__ import annotations

import logging
import math
import os

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
special = pytest.importorskip("scipy.special")

import fastact  # noqa: E402

if not os.environ.get("FASTACT_BENCH_DASK_GIB"):
    pytest.skip("set FASTACT_BENCH_DASK_GIB (e.g. 4) to run the dask benchmark",
                allow_module_level=True)
GIB = float(os.environ["FASTACT_BENCH_DASK_GIB"])
ROUNDS = int(os.environ.get("FASTACT_BENCH_DASK_ROUNDS", "3"))
ROW_LENGTH, CHUNKS = 32768, (1024, 8192)
SHAPE = (max(1, int(GIB * 2**30 / 4 / ROW_LENGTH)), ROW_LENGTH)
NBYTES = 4 * SHAPE[0] * SHAPE[1]
_gbps: dict = {}


def _numpy_gelu(x):
    return 0.5 * x * (1 + special.erf(x * np.float32(1 / math.sqrt(2))))


def _numpy_log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


OPS = {
    "gelu": (fastact.gelu, _numpy_gelu),
    "log_softmax": (lambda x: fastact.log_softmax(x, axis=-1), _numpy_log_softmax),
}


@pytest.fixture(scope="module")
def cluster_input():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=0, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        x = da.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32, chunks=CHUNKS)
        x = (x * 4).persist()
        distributed.wait(x)
        yield client, x
    _print_table()


def _print_table():
    print(f"\n| op ({GIB:g} GiB float32) | fastact-dask | numpy-dask | fastact-memory |")
    print("|---|---|---|---|")
    for op in OPS:
        row = [_gbps.get((op, impl)) for impl in ("fastact-dask", "numpy-dask", "fastact-memory")]
        print(f"| {op} | " + " | ".join("-" if v is None else f"{v:.2f} GB/s" for v in row)
              + " |")


def _run_on_cluster(client, y):
    def once():
        result = y.persist()
        distributed.wait(result)
        del result
    return once


@pytest.mark.parametrize("impl", ["fastact-dask", "numpy-dask", "fastact-memory"])
@pytest.mark.parametrize("op", list(OPS))
def bench_dask(benchmark, cluster_input, op, impl):
    client, x = cluster_input
    benchmark.group = f"dask|{op}|{GIB:g}GiB"
    fastact_op, numpy_op = OPS[op]
    if impl == "fastact-memory":
        local = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32) * 4
        run = lambda: fastact_op(local)  # noqa: E731
    else:
        run = _run_on_cluster(client, (fastact_op if impl == "fastact-dask" else numpy_op)(x))
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=int(ROUNDS > 1))
    seconds = benchmark.stats.stats.median
    _gbps[(op, impl)] = benchmark.extra_info["GB/s"] = NBYTES / seconds / 1e9
