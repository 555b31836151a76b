"""The machine's load while ``fastact bench`` runs: other processes on the cores make timings
slow and noisy, so a run on a busy machine says so."""
from __future__ import annotations

import os

from .._backends import usable_cores

BUSY_FRACTION = 0.5  # other work worth this share of the usable cores counts as a busy machine


def _loadavg():
    """The 1-minute load average, or None where the OS has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def _runnable_now():
    """Tasks running or runnable right now besides the reading one (Linux: /proc/loadavg),
    or None where the OS does not say."""
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - 1)


def _runnable_before(samples: int = 5, pause: float = 0.02):
    """The median of a few :func:`_runnable_now` readings, or None."""
    import statistics
    import time

    values = []
    for i in range(samples):
        if i:
            time.sleep(pause)
        value = _runnable_now()
        if value is None:
            return None
        values.append(value)
    return statistics.median(values)


class LoadMonitor:
    """Samples the 1-minute load average before and during a run of ``threads`` threads."""

    def __init__(self, threads: int):
        self.threads = threads
        self.cores = usable_cores()
        self.before = _loadavg()
        # the 1-minute average still holds work that ended up to a minute ago: what runs now
        # decides the start (the average where the OS gives no count)
        self.runnable_before = _runnable_before()
        self.during: list = []

    def sample(self) -> None:
        value = _loadavg()
        if value is not None:
            self.during.append(value)

    def record(self) -> dict:
        """The ``meta["load"]`` of the report: the load before and the highest during the run,
        and ``busy``: the other tasks runnable at the start, or the load average beyond the
        benchmark's own threads during the run, exceeded ``BUSY_FRACTION`` of the usable
        cores (the load average counts the benchmark's threads too)."""
        peak = max(self.during, default=None)
        start = self.before if self.runnable_before is None else self.runnable_before
        others = [v for v in (start, None if peak is None else peak - self.threads)
                  if v is not None]
        return {"cores": self.cores, "threads": self.threads, "loadavg_before": self.before,
                "runnable_before": self.runnable_before, "loadavg_peak": peak,
                "busy": bool(others) and max(others) > BUSY_FRACTION * self.cores}


def warning(load) -> str:
    """A warning line for a run on a busy machine ('' when it was quiet or not measured)."""
    if not load or not load.get("busy"):
        return ""
    peak = load.get("loadavg_peak")
    return (f"WARNING: the machine was busy while this ran (1-minute load average "
            f"{load.get('loadavg_before') or 0:.1f} before, up to {peak or 0:.1f} during, on "
            f"{load['cores']} usable cores, of which the benchmark itself used {load['threads']}): "
            "timings are slower and noisier than on a quiet machine; rerun when it is idle.")
