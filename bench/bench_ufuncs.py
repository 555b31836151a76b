"""The cost of a ``fastact.ufuncs`` call against the dispatch API's, on the same buffers.

Groups are ``f"ufunc-vs-api|{function}|{dtype}|{size}"``: each holds the two calls
(``api``: ``fastact.<name>(x, out=o, backend="cython")``, ``ufunc``:
``fastact.ufuncs.<id>(x, *params, out=o)``), so the table shows their ratio.  Sizes:
``FASTACT_BENCH_UFUNC_SIZES`` (default 1e3,1e7, the bar's sizes).  Run with
    python -m pytest bench/bench_ufuncs.py --benchmark-only -q
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import DTYPES, _env_list

SIZES = tuple(int(float(s)) for s in _env_list("FASTACT_BENCH_UFUNC_SIZES", "1e3,1e7"))
# (public call, ufunc name, parameters): one smooth, one with a parameter, one piecewise
CALLS = (("gelu", "gelu", {}), ("leaky_relu", "leaky_relu", {"negative_slope": 0.2}),
         ("sigmoid", "sigmoid", {}))


def _call(how, name, ufunc_name, params, x, out):
    import fastact

    if how == "api":
        function = getattr(fastact, name)
        return lambda: function(x, out=out, backend="cython", **params)
    ufunc, args = getattr(fastact.ufuncs, ufunc_name), tuple(params.values())
    return lambda: ufunc(x, *args, out=out)


@pytest.mark.parametrize("how", ("api", "ufunc"))
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s:.0e}")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "ufunc_name", "params"), CALLS, ids=[c[0] for c in CALLS])
def bench_ufunc_vs_api(benchmark, name, ufunc_name, params, dtype, size, how):
    import fastact

    if "cython" not in fastact.backends():
        pytest.skip("the ufuncs come from the cython backend, which is not available")
    x = np.random.default_rng(0).standard_normal(size).astype(dtype)
    out = np.empty_like(x)
    fn = _call(how, name, ufunc_name, params, x, out)
    fn()
    benchmark.group = f"ufunc-vs-api|{name}|{dtype}|{size}"
    benchmark(fn)
