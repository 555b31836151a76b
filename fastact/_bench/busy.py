"""Busy-loop processes pinned to cores: the other work of a shared machine, on demand.

``with BusyProcesses(n):`` runs ``n`` processes that spin in a pure-Python loop,
process ``i`` pinned to the ``i``-th usable core counted from the last, and
kills them on leaving the block, whatever ends it (an exception, Ctrl-C).  A
busy process also exits by itself once its parent is gone (a parent killed by a
signal runs no cleanup), so none outlives the benchmark.
"""
from __future__ import annotations

import multiprocessing
import os
import time

START_TIMEOUT = 30.0  # seconds a busy process may take to start (spawn imports Python)
_PARENT_CHECK = 200_000  # loop iterations between two checks that the parent is alive


def core_ids() -> list:
    """The ids of the cores this process may run on, in order (all where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def cores_for(n: int, cores=None) -> list:
    """The core of each of ``n`` busy processes: the usable cores from the last, cycling."""
    cores = core_ids() if cores is None else list(cores)
    return [cores[-1 - (i % len(cores))] for i in range(n)]


def spin(core, parent: int, ready) -> None:
    """A busy process: pinned to ``core`` (None: unpinned), spins until ``parent`` exits."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    ready.set()
    while os.getppid() == parent:
        for _ in range(_PARENT_CHECK):
            pass


class BusyProcesses:
    """Context manager: ``n`` busy processes while inside (see the module docstring)."""

    def __init__(self, n: int, cores=None):
        self.cores = cores_for(n, cores) if n else []
        self.processes: list = []

    def __enter__(self):
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with thread pools
        try:
            for core in self.cores:
                ready = ctx.Event()
                proc = ctx.Process(target=spin, args=(core, os.getpid(), ready), daemon=True,
                                   name=f"fastact-busy-core{core}")
                proc.start()
                self.processes.append(proc)
                if not ready.wait(START_TIMEOUT):
                    raise RuntimeError(f"a busy process on core {core} did not start")
        except BaseException:
            self.stop()
            raise
        time.sleep(0.05)  # let the scheduler see them as running
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def pids(self) -> list:
        return [p.pid for p in self.processes if p.pid is not None]

    def stop(self) -> None:
        """Kill every busy process and wait for it (idempotent)."""
        for proc in self.processes:
            if proc.is_alive():
                proc.kill()
        for proc in self.processes:
            proc.join(timeout=10)
        self.processes = []
