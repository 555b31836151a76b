"""Configuration of the pytest-benchmark suite (see ``pytest.ini`` here for the command).

The parameters come from the same case table as ``fastact bench``
(``fastact._bench.cases.build_cases()``): every activation forward, backward
(from x, and from y where allowed), the softmax family; every fastact backend
and every installed peer (PyTorch, numexpr, SciPy, plain NumPy expressions).
"""
from __future__ import annotations

import os

import pytest

from fastact._bench import cases, peers


def _env_list(name, default):
    return tuple(t.strip() for t in os.environ.get(name, default).split(",") if t.strip())


SIZES = tuple(int(float(s)) for s in _env_list("FASTACT_BENCH_SIZES", "1e3,1e5"))
DTYPES = _env_list("FASTACT_BENCH_DTYPES", "float32,float64")
ALLOCATE = os.environ.get("FASTACT_BENCH_ALLOC", "0") not in ("", "0")


def implementations() -> tuple:
    import fastact

    found = tuple(fastact.backends()) + tuple(peers.available_libraries())
    wanted = _env_list("FASTACT_BENCH_IMPLS", ",".join(found))
    return tuple(i for i in found if i in wanted)


def parameters():
    """(case, dtype, size, impl) for every measurement, with readable ids."""
    impls = implementations()
    params = []
    for case in cases.build_cases():
        libraries = {p.library for p in case.peers}
        for dtype in DTYPES:
            for size in SIZES:
                for impl in impls:
                    if impl in peers.LIBRARIES and impl not in libraries:
                        continue
                    params.append(pytest.param(case, dtype, size, impl,
                                               id=f"{case.name}-{dtype}-{size:.0e}-{impl}"))
    return params


@pytest.fixture(scope="session")
def input_pool():
    return cases.InputPool()


@pytest.fixture(scope="session", autouse=True)
def same_threads_everywhere():
    """fastact's thread count for torch and numexpr too; BLAS pinned to one thread."""
    import fastact

    peers.set_threads(fastact.get_num_threads(), peers.available_libraries())
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
