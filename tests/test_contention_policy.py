"""The contention policy of the parallel loops, checked without timing: the Cython pool's
decision functions, the thread count its loops used, and the Numba chunk hand-out."""
import numba
import numpy as np
import pytest

import fastact
from fastact import _constants as C
from fastact._numba import _threading

MS = 1_000_000  # ns


@pytest.fixture
def pool():
    if "cython" not in fastact.backends():
        pytest.skip("no cython backend")
    from fastact import _cython

    if not _cython.config()["openmp"]:
        pytest.skip("the cython backend was built without threads")
    kernels = _cython._module
    old = kernels._set_pool_adaptive(True)  # also closes any window a stall opened
    yield kernels
    kernels._set_pool_adaptive(old)


# ------------------------------------------------------- the decision functions
@pytest.mark.parametrize("own_ns, own_parts, wait_ns, stalled", [
    (8 * MS, 8, 2 * MS, False),  # waited for about one part: a helper finishing its last
    (8 * MS, 8, 3 * MS, False),  # exactly STALL_PARTS parts
    (8 * MS, 8, 3 * MS + 1, True),
    (80_000, 8, C.CONTENTION_STALL_MIN_NS, False),  # short parts: the floor decides
    (80_000, 8, C.CONTENTION_STALL_MIN_NS + 1, True),
    (0, 0, C.CONTENTION_STALL_MIN_NS + 1, True),  # the helpers took every part
    (0, 0, 1000, False),
])
def test_a_stall_is_a_wait_far_longer_than_the_callers_parts(pool, own_ns, own_parts, wait_ns,
                                                             stalled):
    assert C.CONTENTION_STALL_PARTS == 3
    assert pool._pool_policy("stalled", own_ns, own_parts, wait_ns) is stalled


def test_the_window_doubles_per_stall_up_to_its_maximum_and_closes_on_a_clean_loop(pool):
    window, seen = 0, []
    for _ in range(8):
        window = pool._pool_policy("next_window", window, True)
        seen.append(window)
    assert seen[0] == C.CONTENTION_WINDOW_MIN_NS
    assert all(b == min(2 * a, C.CONTENTION_WINDOW_MAX_NS) for a, b in zip(seen, seen[1:]))
    assert seen[-1] == C.CONTENTION_WINDOW_MAX_NS
    assert pool._pool_policy("next_window", seen[-1], False) == 0


@pytest.mark.parametrize("threads, cap, now, until, used", [
    (2, 1, 5, 10, 1), (2, 1, 10, 10, 2), (2, 1, 11, 10, 2),  # the window ends at `until`
    (8, 7, 0, 1, 7), (8, 0, 0, 1, 1), (3, 5, 0, 1, 3),  # never above the threads asked for
])
def test_a_window_caps_the_threads_while_it_lasts(pool, threads, cap, now, until, used):
    assert pool._pool_policy("threads_for", threads, cap, now, until) == used


# ----------------------------------------------- the thread count a loop used
def test_loops_in_a_window_run_on_the_caller_alone_with_the_same_bits(pool):
    x = np.random.default_rng(3).standard_normal(300_001).astype(np.float32) * 4
    with fastact.threads(2):
        want = fastact.gelu(x, backend="cython")
        assert pool._pool_state()["last_threads"] == 2
        pool._pool_open_window(1, 60.0)
        state = pool._pool_state()
        assert state["cap"] == 1 and state["window_left_s"] > 1
        got = fastact.gelu(x, backend="cython")
        assert pool._pool_state()["last_threads"] == 1
        pool._set_pool_adaptive(True)  # closes the window
        assert pool._pool_state()["cap"] is None
        again = fastact.gelu(x, backend="cython")
        assert pool._pool_state()["last_threads"] == 2
    assert got.tobytes() == want.tobytes() == again.tobytes()


def test_with_the_policy_off_a_window_is_ignored(pool):
    x = np.ones(300_001, np.float32)
    pool._set_pool_adaptive(False)
    pool._pool_open_window(1, 60.0)
    with fastact.threads(2):
        fastact.sigmoid(x, backend="cython")
    assert pool._pool_state()["last_threads"] == 2


# -------------------------------------------------- Numba: chunks handed out
def test_run_parallel_hands_out_chunks_one_at_a_time_and_restores_the_settings():
    if _threading.max_threads() < 2:
        pytest.skip("one Numba thread")
    seen = []

    def kernel(tag, n_chunks):
        seen.append((tag, n_chunks, numba.get_num_threads(), numba.get_parallel_chunksize()))

    before = (numba.get_num_threads(), numba.get_parallel_chunksize())
    _threading.run_parallel(kernel, ("dynamic",), 16, 2)
    _threading.run_parallel(kernel, ("one each",), 2)
    _threading.run_parallel(kernel, ("one thread",), 16, 1)
    assert (numba.get_num_threads(), numba.get_parallel_chunksize()) == before
    two = 2 if _threading.max_threads() > 2 else before[0]  # the whole pool: left as it is
    assert seen == [("dynamic", 16, two, 1), ("one each", 2, two, before[1]),
                    ("one thread", 16, 1, 1)]


@pytest.mark.skipif("numba" not in fastact.backends(), reason="no numba backend")
def test_numba_elementwise_calls_split_into_chunks_per_thread(monkeypatch):
    calls = []
    original = _threading.run_parallel

    def recording(fn, args, n_chunks, threads=None):
        calls.append((n_chunks, threads))
        return original(fn, args, n_chunks, threads)

    monkeypatch.setattr(_threading, "run_parallel", recording)
    x = np.linspace(-6, 6, 200_003, dtype=np.float32)
    with fastact.threads(1):
        want = fastact.sigmoid(x, backend="numba")
    with fastact.threads(2):
        got = fastact.sigmoid(x, backend="numba")
    assert got.tobytes() == want.tobytes()
    assert calls[-1] == (2 * C.NUMBA_CHUNKS_PER_THREAD, 2)
