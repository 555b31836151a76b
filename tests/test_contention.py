"""Under contention: the OpenMP wait policy, the busy processes of `fastact bench --contention`,
and results that do not depend on which thread ran which chunk."""
import json
import os

import numpy as np
import pytest

import fastact
from fastact import _openmp_policy as policy
from fastact._bench import busy as busy_mod
from fastact._bench import contention as cont
from fastact.cli import main

from ._subprocess import run_python


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie does not count: it no longer runs)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ----------------------------------------------------------------- wait policy
@pytest.mark.parametrize("user", [{"OMP_WAIT_POLICY": "active"}, {"GOMP_SPINCOUNT": "1000"},
                                  {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "5"}])
def test_a_users_wait_policy_is_kept(user):
    assert policy.user_choice(user) == user
    assert policy.fastact_choice({**user, "OTHER": "1"}) == {}


@pytest.mark.parametrize("environ", [{}, {"OMP_WAIT_POLICY": ""}, {"GOMP_SPINCOUNT": "  "}])
def test_without_a_user_policy_fastact_sets_the_spin_count(environ):
    assert policy.fastact_choice(environ) == {"GOMP_SPINCOUNT": str(policy.SPIN_COUNT)}


def test_wait_policy_restores_the_environment_also_on_error(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    with pytest.raises(RuntimeError):
        with policy.wait_policy():
            assert os.environ["GOMP_SPINCOUNT"] == str(policy.SPIN_COUNT)
            raise RuntimeError
    assert "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.setenv("GOMP_SPINCOUNT", "77")
    with policy.wait_policy():
        assert os.environ["GOMP_SPINCOUNT"] == "77"
    assert os.environ["GOMP_SPINCOUNT"] == "77"


_SHOW_POLICY = """
    import os, fastact
    from fastact import _cython
    _cython.check_available()
    print(_cython.config()["openmp_wait_policy"])
    print("env:", os.environ.get("GOMP_SPINCOUNT"), os.environ.get("OMP_WAIT_POLICY"))
"""


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in policy.USER_VARIABLES and k != "OMP_DISPLAY_ENV"}
    return {**env, "OMP_DISPLAY_ENV": "VERBOSE", **extra}


@pytest.mark.skipif("cython" not in fastact.backends(), reason="no cython backend")
def test_libgomp_starts_with_fastacts_spin_count_and_the_environment_is_restored():
    rc, out, err = run_python(_SHOW_POLICY, env=_env())
    assert rc == 0, err
    assert out.splitlines() == [f"fastact: GOMP_SPINCOUNT={policy.SPIN_COUNT}", "env: None None"]
    assert f"GOMP_SPINCOUNT = '{policy.SPIN_COUNT}'" in err  # libgomp's own report


@pytest.mark.skipif("cython" not in fastact.backends(), reason="no cython backend")
def test_libgomp_starts_with_the_users_policy():
    rc, out, err = run_python(_SHOW_POLICY, env=_env(OMP_WAIT_POLICY="active"))
    assert rc == 0, err
    assert out.splitlines() == ["user: OMP_WAIT_POLICY=active", "env: None active"]
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in err
    assert f"GOMP_SPINCOUNT = '{policy.SPIN_COUNT}'" not in err


# ------------------------------------------------------------ busy processes
def test_cores_for_cycles_from_the_last_core():
    assert busy_mod.cores_for(3, [0, 1]) == [1, 0, 1]
    assert busy_mod.cores_for(1, [4, 5, 6]) == [6]
    assert busy_mod.cores_for(0, [0]) == []


def test_busy_processes_run_pinned_and_are_killed_on_an_exception():
    with pytest.raises(ValueError):
        with busy_mod.BusyProcesses(2) as procs:
            pids = procs.pids()
            assert len(pids) == 2 and all(map(_alive, pids))
            if hasattr(os, "sched_getaffinity"):
                assert [sorted(os.sched_getaffinity(p)) for p in pids] == [
                    [c] for c in busy_mod.cores_for(2)]
            raise ValueError
    assert not any(map(_alive, pids))


def test_a_busy_process_exits_when_its_parent_is_killed():
    code = """
        import os, sys
        from fastact._bench.busy import BusyProcesses
        b = BusyProcesses(1).__enter__()
        print(b.pids()[0], flush=True)
        os.kill(os.getpid(), 9)
    """
    rc, out, _ = run_python(code, timeout=120)
    assert rc == -9
    pid = int(out.split()[0])
    for _ in range(200):  # it notices within a check of its loop (well under a second)
        if not _alive(pid):
            break
        import time

        time.sleep(0.05)
    assert not _alive(pid)


# ------------------------------------------------------------------- the CLI
class _Recording(busy_mod.BusyProcesses):
    started: list = []

    def __enter__(self):
        super().__enter__()
        _Recording.started += self.pids()
        return self


_SMALL = ["bench", "--contention", "--functions", "relu,softmax", "--sizes", "1e4",
          "--budget", "0.005", "--rounds", "1", "--backends", "numpy", "--peers", "none",
          "--no-progress"]


def test_contention_bench_reports_each_busy_phase(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cont, "BusyProcesses", _Recording)
    _Recording.started = []
    path = tmp_path / "c.json"
    assert main(_SMALL + ["--busy", "1,2", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    records = report["records"]
    assert {(r["function"], r["busy"]) for r in records} == {
        (f, b) for f in ("relu", "softmax") for b in (1, 2)}
    for r in records:
        assert r["impl"] == "numpy" and r["size"] == 10_000
        assert r["slowdown"] == pytest.approx(r["loaded_median_s"] / r["quiet_median_s"])
        assert r["samples"]["quiet"] >= cont.MIN_SAMPLES
        assert r["p90_over_quiet"] > 0 and r["quiet_p90_over_quiet"] >= 1
    assert [(v["impl"], v["busy"], v["bar"]) for v in report["verdicts"]] == [
        ("numpy", 1, 2.0), ("numpy", 2, 3.0)]
    table = capsys.readouterr().out
    assert "slowdown" in table and "means" in table and "meets it" in table
    assert len(_Recording.started) == 3  # one process, then two
    assert not any(map(_alive, _Recording.started))


def test_summary_gives_the_median_slowdown_and_the_ratio_of_means():
    """Loaded calls in two modes (one scheduler turn apart): the median lands in the slow one,
    the means give the time the run of calls took."""
    quiet, loaded = [2.0] * 5, [2.0, 2.0, 6.0, 6.0, 6.0]
    cell = cont.Cell("x", "relu", 10**7, None, {0: quiet, 2: loaded})
    (record,) = cont.summarize([cell])
    assert record["busy"] == 2 and record["slowdown"] == pytest.approx(3.0)
    assert record["mean_ratio"] == pytest.approx(4.4 / 2.0)


def test_contention_bench_interrupted_leaves_no_busy_process(monkeypatch, capsys):
    monkeypatch.setattr(cont, "BusyProcesses", _Recording)
    _Recording.started = []
    calls = {"n": 0}
    original = cont.time_calls

    def interrupt_when_loaded(fn, budget):
        calls["n"] += 1
        if _Recording.started:
            raise KeyboardInterrupt
        return original(fn, budget)

    monkeypatch.setattr(cont, "time_calls", interrupt_when_loaded)
    assert main(_SMALL) == 130
    assert _Recording.started and not any(map(_alive, _Recording.started))


@pytest.mark.parametrize("extra", [["--plot", "x.png"], ["--dtypes", "float64"], ["--alloc"]])
def test_contention_bench_refuses_options_it_would_ignore(extra, capsys):
    assert main(_SMALL + extra) == 2
    assert "--contention" in capsys.readouterr().err


# ---------------------------------------------- results under a busy process
@pytest.mark.parametrize("compiled", [b for b in ("cython", "numba") if b in fastact.backends()])
def test_results_under_contention_match_one_thread(compiled):
    """With a core busy, chunks land on whichever thread runs: the bits stay those of one
    thread (elementwise at sizes around the chunk grid; the softmax strategies)."""
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(n).astype(np.float32) * 4 for n in (65_536, 100_003, 262_161)]
    rows = [rng.standard_normal(s) * 5 for s in ((64, 4099), (2, 70_000), (3000, 40))]
    fns = [lambda a: fastact.gelu(a, backend=compiled), lambda a: fastact.tanh(a, backend=compiled),
           lambda a: fastact.softmax(a, backend=compiled),
           lambda a: fastact.log_softmax(a, axis=0, backend=compiled)]
    cases = [(f, a) for f in fns[:2] for a in arrays] + [(f, r) for f in fns[2:] for r in rows]
    with fastact.threads(1):
        want = [f(a) for f, a in cases]
    with fastact.threads(2), busy_mod.BusyProcesses(1):
        for _ in range(3):
            for (f, a), w in zip(cases, want):
                assert f(a).tobytes() == w.tobytes()
