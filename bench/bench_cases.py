"""Every case of the shared case table, timed by pytest-benchmark.

Groups are ``f"{function}|{dtype}|{size}"``, so each group compares the fastact
backends and the peers on one function, dtype and size.  ``extra_info``
records the bytes moved and the throughput of the median.
"""
from __future__ import annotations

import pytest

from conftest import ALLOCATE, parameters


@pytest.mark.parametrize(("case", "dtype", "size", "impl"), parameters())
def bench_case(benchmark, input_pool, case, dtype, size, impl):
    bufs = case.make_buffers(dtype, size, input_pool)
    peer = next((p for p in case.peers if p.library == impl), None)
    if peer is not None:
        fn, allocates = peer.make(bufs, ALLOCATE)
    else:
        fn, allocates = case.fastact_call(impl, bufs, ALLOCATE), ALLOCATE
    try:
        fn()  # compiles a lazily compiled kernel outside the timing
    except Exception as exc:  # correctness is tests/' job; here: say why there is no number
        pytest.skip(f"{impl} cannot run {case.name} {dtype}: {type(exc).__name__}: {exc}")
    benchmark.group = f"{case.name}|{dtype}|{size}"
    benchmark.extra_info.update(bytes=case.nbytes(size, dtype), allocates=allocates,
                                note=peer.note if peer is not None else "")
    benchmark(fn)
    median = benchmark.stats.stats.median
    benchmark.extra_info["GB/s"] = case.nbytes(size, dtype) / median / 1e9
