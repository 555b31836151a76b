"""Shared fixtures: the ``backend`` parametrization and the session oracle.

Every test that takes a ``backend`` argument runs once per backend in
``fastact.backends()`` (the backends that load here), so a backend that lands
later is tested with no new test code.  ``FASTACT_TEST_BACKENDS=numba,cython``
restricts the run; ``FASTACT_REQUIRE_BACKENDS=numba,cython`` makes a missing
backend a failure (test_api) instead of a silent omission.
"""
from __future__ import annotations

import os

import pytest

import fastact
from fastact import _backends

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "fastact",
        deadline=None,  # the first call of a backend may compile (Numba JIT)
        max_examples=int(os.environ.get("FASTACT_HYPOTHESIS_EXAMPLES", "60")),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture],
        derandomize=True,
        print_blob=True,
    )
    settings.load_profile("fastact")
except ImportError:  # pragma: no cover
    pass


def _backend_names() -> list:
    names = fastact.backends()
    chosen = os.environ.get("FASTACT_TEST_BACKENDS")
    if chosen:
        wanted = [n.strip() for n in chosen.split(",") if n.strip()]
        names = [n for n in names if n in wanted]
    return names


BACKENDS = _backend_names()


def pytest_configure(config):
    # fastact promises silence on overflow/invalid (sigmoid(-1000) is 0.0, silently):
    # any RuntimeWarning raised during a test is a failure.
    config.addinivalue_line("filterwarnings", "error::RuntimeWarning")


def pytest_report_header(config):
    lines = [f"fastact backends under test: {', '.join(BACKENDS)}"]
    for name, why in _backends.unavailable().items():
        lines.append(f"fastact backend {name!r} unavailable: {why}")
    lines.append(f"fastact threads: {fastact.get_num_threads()}")
    return lines


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, scope="session")


@pytest.fixture(scope="session")
def oracle():
    from tests._oracle import Oracle

    return Oracle()


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Tests may change the default backend or the thread count: put them back."""
    backend = fastact.get_backend()
    threads = fastact.get_num_threads()
    yield
    fastact.set_num_threads(threads)
    if fastact.get_backend() != backend:
        fastact.set_backend(backend)


@pytest.fixture(params=[True, False], ids=["pool", "own drivers"])
def refusing_backend(request, backend, monkeypatch):
    """A compiled backend whose kernels refuse an ``out`` over an input they are not, with
    the extension's work-pool drivers (``pool``) or, for Numba, its own drivers; the
    reference computes such calls right (no refusal) and Cython has one driver."""
    if backend == "numpy":
        pytest.skip("the reference computes overlapping calls right (no refusal)")
    if backend == "numba":
        import sys

        monkeypatch.setattr(sys.modules["fastact._numba"], "WORK_POOL", request.param)
    elif not request.param:
        pytest.skip("one driver")
    return backend
