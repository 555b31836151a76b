"""The Cython work pool's contention policy, checked without timing: its decision functions
and the thread count its loops used."""
import os
import sys
import threading

import numpy as np
import pytest

import fastact
from fastact import _constants as C

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
@pytest.mark.parametrize("own_ns, own_parts, parts, wait_ns, stalled", [
    (8 * MS, 8, 16, 1 * MS, False),  # a helper finishing its last part
    (8 * MS, 8, 16, 8 * MS, False),  # as long as the caller alone: no worse than one thread
    (8 * MS, 8, 16, 8 * MS + 1, True),
    (12 * MS, 12, 16, 4 * MS + 1, True),  # the helper ran fewer parts: less wait is a loss
    (80_000, 8, 16, C.CONTENTION_STALL_MIN_NS, False),  # short parts: the floor decides
    (80_000, 8, 16, C.CONTENTION_STALL_MIN_NS + 1, True),
    (0, 0, 16, C.CONTENTION_STALL_MIN_NS + 1, True),  # the helpers took every part
    (0, 0, 16, 1000, False),
])
def test_a_stall_is_a_wait_longer_than_the_caller_alone_would_have_taken(pool, own_ns, own_parts,
                                                                          parts, wait_ns, stalled):
    assert pool._pool_policy("stalled", own_ns, own_parts, parts, wait_ns) is stalled


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


@pytest.mark.parametrize("own_ns, own_parts, spin_parts, spin_ns", [
    (8 * MS, 8, 2, 2 * MS),  # two of the caller's mean part times
    (8 * MS, 8, 4, C.CONTENTION_JOIN_SPIN_MAX_NS),  # never longer than the maximum
    (80_000, 8, 2, C.CONTENTION_JOIN_SPIN_MIN_NS),  # never shorter than the minimum
    (0, 0, 2, C.CONTENTION_JOIN_SPIN_MIN_NS),  # the helpers took every part
])
def test_the_join_spins_a_few_part_times_within_its_bounds(pool, own_ns, own_parts, spin_parts,
                                                           spin_ns):
    assert C.CONTENTION_JOIN_SPIN_MIN_NS < 2 * MS <= C.CONTENTION_JOIN_SPIN_MAX_NS
    assert pool._pool_policy("join_spin", own_ns, own_parts, spin_parts) == spin_ns


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


@pytest.mark.parametrize("sleeping, spin_parts", [(True, 2), (False, 2), (False, 0)])
def test_either_join_gives_the_bits_of_one_thread(pool, sleeping, spin_parts):
    rng = np.random.default_rng(7)
    x, rows = rng.standard_normal(1_000_003) * 6, rng.standard_normal((1000, 1000)) * 6
    calls = [lambda: fastact.tanh(x, backend="cython"),
             lambda: fastact.softmax(rows, backend="cython")]
    with fastact.threads(1):
        want = [f().tobytes() for f in calls]
    pool._set_pool_adaptive(False)  # no window from a real stall: every loop has 2 threads
    old = pool._set_pool_sleeping_join(sleeping), pool._set_pool_join_spin_parts(spin_parts)
    try:
        with fastact.threads(2):
            for _ in range(3):
                assert [f().tobytes() for f in calls] == want
                assert pool._pool_state()["last_threads"] == 2
    finally:
        pool._set_pool_sleeping_join(old[0])
        assert pool._set_pool_join_spin_parts(old[1]) == spin_parts
    assert old[1] == C.CONTENTION_JOIN_SPIN_PARTS  # the default


# ------------------------------------------------ a helper on the caller's core
def _pool_helpers() -> list:
    """The thread ids of the pool's helpers (named by the pool)."""
    found = []
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/comm") as f:
            if f.read().strip() == "fastact-pool":
                found.append(int(tid))
    return found


def _cpu_of(tid: int) -> int:
    """The core a thread of this process last ran on (/proc: field 39 of stat)."""
    with open(f"/proc/self/task/{tid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[36])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread affinity: Linux only")
@pytest.mark.parametrize("apart", [True, False])
def test_a_helper_on_the_callers_core_moves_off_it_with_the_same_bits(pool, apart):
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        pytest.skip("one usable core")
    x = np.random.default_rng(5).standard_normal(300_001).astype(np.float32) * 4
    with fastact.threads(1):
        want = fastact.tanh(x, backend="cython").tobytes()
    old, _ = pool._set_pool_apart(apart)
    pool._set_pool_adaptive(False)
    try:
        with fastact.threads(2):
            fastact.tanh(x, backend="cython")  # the pool starts its helpers
            main = threading.get_native_id()
            for _ in range(50):  # the caller may migrate between the pinning and the call
                cpu = _cpu_of(main)
                for tid in _pool_helpers():  # whichever of them runs the loop's parts
                    os.sched_setaffinity(tid, {cpu})
                moves = pool._set_pool_apart(apart)[1]
                assert fastact.tanh(x, backend="cython").tobytes() == want
                if pool._set_pool_apart(apart)[1] > moves:
                    break
            masks = [os.sched_getaffinity(tid) for tid in _pool_helpers()]
            if apart:
                assert any(m and cpu not in m and m <= set(cores) for m in masks)
            else:
                assert all(m == {cpu} for m in masks)
    finally:
        for tid in _pool_helpers():
            os.sched_setaffinity(tid, cores)
        pool._set_pool_apart(old)
