"""Timing one callable: warm-up, calibrated batches, repeated samples, median.

The first call is timed separately (``first_s``: it holds JIT compilation and
first-touch costs) and is excluded, except for calls slower than
``slow_call`` seconds, where warm-up effects are negligible next to the call
itself and a second call would blow the time budget.  Fast calls are batched
(``number`` calls per sample, so a sample lasts at least ``min_sample``
seconds and the timer's resolution does not matter).  Samples are taken until
``budget`` seconds are spent and at least ``min_repeats`` samples exist, but
never past ``hard_limit`` budgets; the median per-call time is reported.

:func:`measure_many` times several implementations of one case round-robin
(one sample of each per round, each round in a random order), so
that a machine whose speed drifts (shared memory bandwidth, other jobs) slows
all of them alike and the ratios between them stay meaningful.
"""
from __future__ import annotations

import gc
import random
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

    def spread(self, scale: float = 1.0) -> dict:
        """min, quartiles and max of the per-call sample times (times ``scale``), and the
        interquartile range relative to the median ("iqr_rel")."""
        ordered = sorted(s * scale for s in self.samples)
        q1, q3 = (statistics.quantiles(ordered, n=4, method="inclusive")[::2]
                  if len(ordered) > 1 else (ordered[0], ordered[0]))
        median = self.median_s * scale
        return {"min_s": ordered[0], "q1_s": q1, "q3_s": q3, "max_s": ordered[-1],
                "iqr_rel": (q3 - q1) / median if median > 0 else 0.0}


@dataclass(frozen=True)
class Policy:
    """How long to time one implementation of one case."""

    budget: float = 0.05  # seconds of timing per implementation and case
    min_repeats: int = 3
    max_repeats: int = 100
    min_sample: float = 1e-3  # seconds per sample (fast calls are batched)
    slow_call: float = 0.1  # a first call this slow counts as a sample
    hard_limit: float = 3.0  # never spend more than hard_limit * budget after the first call
    # measure_many: seconds of untimed calls back to back before each sample (all but the
    # first counted in the budget), longer than a predecessor's OpenMP workers spin and
    # than this one's wake-up
    settle: float = 2.5e-3


def _run(fn, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def _back_to_back(fn, seconds: float) -> tuple:
    """(calls, seconds spent) of ``fn`` called back to back for about ``seconds`` (at
    least once, at most 10,000 calls)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds or calls >= 10_000:
            return calls, elapsed


def _per_call(fn, seconds: float, windows: int = 3) -> float:
    """Seconds per call of ``fn`` called back to back, the least of ``windows`` windows of
    about ``seconds`` each: the batch size of a sample.  One call alone is no estimate where
    a call after a pause wakes threads that back-to-back calls find running (PyTorch's
    OpenMP team, the pool), and one window is none where a hiccup of the machine lands in
    it (a sample of one call where a hundred fit)."""
    return min(elapsed / calls for calls, elapsed in
               (_back_to_back(fn, seconds) for _ in range(windows)))


def measure(fn, policy: Policy = Policy()) -> Timing:
    """Median seconds per call of ``fn()`` under ``policy`` (garbage collector paused)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        first = _run(fn, 1)
        samples = [first] if first >= policy.slow_call else []
        estimate = first if first >= policy.slow_call else _per_call(fn, policy.min_sample)
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


def measure_many(fns: dict, policy: Policy = Policy()) -> dict:
    """{key: Timing} for every ``fns[key]``, sampled round-robin.

    Calls slower than ``policy.slow_call`` are timed alone by :func:`measure`
    (a round would be as long as they are); the others get one calibrated
    sample each per round until every one has ``min_repeats`` samples and
    ``budget`` seconds per implementation are spent (at most ``hard_limit``
    budgets, at most ``max_repeats`` rounds).  The calls per sample come from calls
    back to back (:func:`_per_call`), and every sample follows ``policy.settle`` seconds of
    untimed calls of the same implementation (at least one; all but the first counted in
    the budget, so slow calls keep their samples): the previous one's thread pool
    (PyTorch's OpenMP workers spin for milliseconds after its calls) may still take the
    cores, and this one's may sleep, so each is timed in the steady state of its own calls
    back to back, as a loop of one library's calls runs.
    Each round runs them in a random order: the calls right after a much slower
    one ran slower on this machine, whoever made them, so a fixed order (or one
    rotated from round to round) put the same implementation right after the
    slowest in every round (docs/tuning.md, "The float32 1e7 rows after a slow peer").
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        timings, fast = {}, {}
        for key, fn in fns.items():
            first = _run(fn, 1)
            if first >= policy.slow_call:
                timings[key] = measure(fn, policy)
                continue
            estimate = _per_call(fn, policy.min_sample)
            fast[key] = (fn, first, max(1, int(policy.min_sample / max(estimate, 1e-9))), [])
        spent, rounds, entries = 0.0, 0, list(fast.values())
        shuffle = random.Random().shuffle
        budget, limit = policy.budget * len(fast), policy.hard_limit * policy.budget * len(fast)
        while fast and rounds < policy.max_repeats:
            if rounds >= policy.min_repeats and spent >= budget or rounds and spent >= limit:
                break
            shuffle(entries)  # rounds in random orders: each follows each other alike
            for fn, _, number, samples in entries:
                calls, settled = _back_to_back(fn, policy.settle)
                spent += settled * (calls - 1) / calls  # its calls but the first count
                elapsed = _run(fn, number)
                spent += elapsed
                samples.append(elapsed / number)
            rounds += 1
        for key, (_, first, number, samples) in fast.items():
            timings[key] = Timing(statistics.median(samples), first, tuple(samples), number)
        return timings
    finally:
        if gc_was_enabled:
            gc.enable()
