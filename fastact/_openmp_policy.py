"""The wait policy of GNU OpenMP in fastact's process: a short spin, then sleep.

The Cython extension links GNU OpenMP (libgomp), and Numba's ``omp`` threading
layer runs on the same library (the Cython kernels' own loops run on
``_cython/workpool.h``).  libgomp reads ``OMP_WAIT_POLICY`` and ``GOMP_SPINCOUNT`` once, when
it is loaded.  By default an idle team thread spins 300,000 times (milliseconds)
before it sleeps: on a core shared with another busy process that spinning
thread looks CPU-bound to the OS scheduler, is descheduled for whole time
slices, and every parallel region waits for it (a 1e5-element call then takes a
time slice instead of tens of microseconds).  A thread that sleeps soon is woken
with priority when work arrives, so fastact loads libgomp with a spin of
:data:`SPIN_COUNT` iterations, unless the user set either variable: then theirs
applies unchanged.  The process environment is restored after the load, so
other libraries (and child processes) see the user's environment.

A libgomp already loaded by another library (e.g. Numba's ``omp`` threading
layer, imported first) keeps the policy it started with: :func:`describe` says so.
PyTorch's wheel ships its own libgomp.so.1 under the same soname, so a process has one
runtime for both: imported after fastact's kernels, PyTorch runs with this policy (its
cache-resident calls then wait for a worker to wake), imported before them, fastact runs
with PyTorch's.  ``fastact bench`` imports PyTorch first (its users' policy).
"""
from __future__ import annotations

import contextlib
import os

USER_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
# iterations of libgomp's spin loop (one `pause` each) before an idle thread sleeps
SPIN_COUNT = 0
LIBRARY = "libgomp.so"  # the runtime both compiled backends link against (ldd)

_state = {"applied": None, "preloaded": None}


def user_choice(environ=None) -> dict:
    """The user's own wait-policy variables (empty: fastact chooses)."""
    environ = os.environ if environ is None else environ
    return {k: environ[k] for k in USER_VARIABLES if environ.get(k, "").strip()}


def fastact_choice(environ=None) -> dict:
    """The variables fastact sets while libgomp loads: none when the user chose a policy."""
    return {} if user_choice(environ) else {"GOMP_SPINCOUNT": str(SPIN_COUNT)}


def libgomp_loaded() -> bool:
    """Whether this process has GNU OpenMP's runtime mapped (Linux; False elsewhere)."""
    try:
        with open("/proc/self/maps") as maps:
            return any(f"/{LIBRARY}" in line for line in maps)
    except OSError:
        return False


@contextlib.contextmanager
def wait_policy():
    """Within: the environment libgomp should start with; restored on exit.

    Records whether the policy could apply (libgomp not loaded yet) on first use."""
    if _state["preloaded"] is None:
        _state["preloaded"] = libgomp_loaded()
    chosen = fastact_choice()
    saved = {k: os.environ.get(k) for k in chosen}
    os.environ.update(chosen)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if _state["applied"] is None:
        _state["applied"] = dict(chosen)


def describe() -> str:
    """One line for ``show_config()``: the policy in force and where it came from."""
    user = user_choice()
    if user:
        return "user: " + ", ".join(f"{k}={v}" for k, v in user.items())
    if _state["preloaded"]:
        return "libgomp's own (it was loaded before fastact's kernels)"
    if _state["applied"]:
        return "fastact: " + ", ".join(f"{k}={v}" for k, v in _state["applied"].items())
    return "not loaded yet"
