"""Timing one callable: warm-up, calibrated batches, repeated samples, median.

The first call is timed separately (``first_s``: it holds JIT compilation and
first-touch costs) and is excluded, except for calls slower than
``slow_call`` seconds, where warm-up effects are negligible next to the call
itself and a second call would blow the time budget.  Fast calls are batched
(``number`` calls per sample, so a sample lasts at least ``min_sample``
seconds and the timer's resolution does not matter).  Samples are taken until
``budget`` seconds are spent and at least ``min_repeats`` samples exist, but
never past ``hard_limit`` budgets; the median per-call time is reported.
"""
from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    median_s: float
    first_s: float
    samples: tuple  # per-call seconds of every sample
    number: int  # calls per sample

    @property
    def repeats(self) -> int:
        return len(self.samples)


@dataclass(frozen=True)
class Policy:
    """How long to time one implementation of one case."""

    budget: float = 0.05  # seconds of timing per implementation and case
    min_repeats: int = 3
    max_repeats: int = 100
    min_sample: float = 1e-3  # seconds per sample (fast calls are batched)
    slow_call: float = 0.1  # a first call this slow counts as a sample
    hard_limit: float = 3.0  # never spend more than hard_limit * budget after the first call


def _run(fn, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def measure(fn, policy: Policy = Policy()) -> Timing:
    """Median seconds per call of ``fn()`` under ``policy`` (garbage collector paused)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        first = _run(fn, 1)
        samples = [first] if first >= policy.slow_call else []
        estimate = first if first >= policy.slow_call else _run(fn, 1)
        number = max(1, int(policy.min_sample / max(estimate, 1e-9)))
        spent = 0.0
        limit = policy.hard_limit * policy.budget
        while len(samples) < policy.max_repeats:
            enough = len(samples) >= policy.min_repeats and spent >= policy.budget
            too_long = samples and spent + estimate * number > limit
            if enough or too_long:
                break
            elapsed = _run(fn, number)
            spent += elapsed
            samples.append(elapsed / number)
            estimate = elapsed / number
        return Timing(statistics.median(samples), first, tuple(samples), number)
    finally:
        if gc_was_enabled:
            gc.enable()
