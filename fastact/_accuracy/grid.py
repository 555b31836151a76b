"""The fixed input grids of ``fastact accuracy`` (deterministic: no random points).

Elementwise functions are evaluated on :func:`points`, the union of

* a linear grid on [-LINEAR_HALF_WIDTH, LINEAR_HALF_WIDTH] (dense near 0, where the
  functions bend, and through GELU's and the sigmoid's lower tails);
* ``+-logspace`` from the smallest normal number up to 1 (tiny arguments) and from
  1 up to the largest finite number (logarithmic tails), plus ``+-max``;
* a linear grid on [-1.2 L, 1.2 L], L = log(max) of the dtype, where exp() and so
  most formulas under- and overflow;
* the kinks: 0, +-1, +-3, +-6, +-20, every numeric kernel parameter, its negation
  and the ratios of two parameters (threshold / beta), each with its two nearest
  floats on either side;
* subnormals (the smallest, small multiples of it, the largest), +-inf, NaN, +-0.0.

Sizes (points per part) are :data:`QUICK` and :data:`DEFAULT`.  The softmax family
is evaluated on :func:`rows`: fixed rows chosen to show the classic failures
(one dominant logit, where log_softmax at the maximum is about -1e-9; large
offsets; masked -inf entries).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

LINEAR_HALF_WIDTH = 10.0
TRUE_AT_MAX = 1e-9  # the dominant-logit row: log_softmax at its maximum is about -1e-9


@dataclass(frozen=True)
class GridSize:
    """How many points each part of the grid has."""

    linear: int  # on [-10, 10]
    log: int  # per logspace half (4 halves: tiny and huge, both signs)
    exp_range: int  # on [-1.2 log(max), 1.2 log(max)]
    row_length: int  # elements per softmax-family row


QUICK = GridSize(linear=401, log=60, exp_range=121, row_length=64)
DEFAULT = GridSize(linear=8001, log=1000, exp_range=2401, row_length=512)


def kinks(params, dtype) -> np.ndarray:
    """The generic kink candidates for kernel ``params`` and their two float neighbours each side."""
    dtype = np.dtype(dtype)
    ps = [float(np.asarray(p, dtype)) for p in params]
    cand = {0.0, 1.0, 3.0, 6.0, 20.0, *(abs(p) for p in ps)}
    cand.update(abs(a / b) for a, b in itertools.permutations(ps, 2) if b != 0)
    base = np.array(sorted(cand), dtype)
    found = [base, -base]
    for direction in (np.inf, -np.inf):
        step = np.concatenate([base, -base])
        for _ in range(2):
            step = np.nextafter(step, np.asarray(direction, dtype))
            found.append(step)
    return np.concatenate(found)


def subnormals(dtype) -> np.ndarray:
    """The smallest subnormal, small multiples of it, one in the middle and the largest."""
    fi = np.finfo(dtype)
    sub, tiny = float(fi.smallest_subnormal), float(fi.smallest_normal)
    vals = np.array([sub, 2 * sub, 3 * sub, 1000 * sub, tiny / 2, tiny - sub], dtype)
    return np.concatenate([vals, -vals])


def specials(dtype) -> np.ndarray:
    """+-inf, NaN, +-0.0 and +-max."""
    fi = np.finfo(dtype)
    return np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, fi.max, -fi.max], dtype)


def points(dtype, params=(), size: GridSize = DEFAULT) -> np.ndarray:
    """The elementwise grid in ``dtype`` for a kernel with numeric ``params`` (sorted, NaN last).

    -0.0 is kept beside +0.0 (``np.unique`` would merge them).
    """
    dtype = np.dtype(dtype)
    fi = np.finfo(dtype)
    log_max = math.log(float(fi.max))
    tiny_exp, huge_exp = math.log10(float(fi.smallest_normal)), math.log10(float(fi.max))
    with np.errstate(over="ignore"):
        tiny = np.logspace(tiny_exp, 0, size.log)
        huge = np.logspace(0, huge_exp, size.log)
        parts = [
            np.linspace(-LINEAR_HALF_WIDTH, LINEAR_HALF_WIDTH, size.linear),
            tiny, -tiny, huge, -huge,
            np.linspace(-1.2 * log_max, 1.2 * log_max, size.exp_range),
        ]
        finite = np.concatenate([np.asarray(p, dtype) for p in parts])
    finite = finite[np.isfinite(finite)]
    grid = np.unique(np.concatenate([finite, kinks(params, dtype), subnormals(dtype),
                                     specials(dtype)]))
    grid = grid[grid != 0]
    return np.insert(grid, np.searchsorted(grid, 0.0), np.array([-0.0, 0.0], dtype))


def rows(dtype, size: GridSize = DEFAULT) -> np.ndarray:
    """The softmax-family rows, ``(9, size.row_length)`` in ``dtype``.

    0: one dominant logit 0, the others where log_softmax(x)[0] = -log1p(sum) is
    about -1e-9; 1: the others at -10; 2-4: a fixed standard-normal pattern times
    1, 10 and 100; 5: that pattern plus 1e4 (a large offset); 6: plus 100 (exp
    overflows in float32 without the max shift); 7: half the entries -inf (a mask);
    8: all equal.
    """
    n = size.row_length
    pattern = _pattern(n)
    others = -math.log((n - 1) / TRUE_AT_MAX)
    dominant = np.full(n, others)
    dominant[0] = 0.0
    second = np.full(n, -10.0)
    second[0] = 0.0
    masked = pattern.copy()
    masked[1::2] = -np.inf
    table = [dominant, second, pattern, 10 * pattern, 100 * pattern, pattern + 1e4,
             pattern + 100, masked, np.full(n, 0.5)]
    return np.stack(table).astype(dtype)


def _pattern(n: int) -> np.ndarray:
    """A fixed pseudo-normal pattern (inverse-CDF of an equispaced grid, permuted)."""
    from statistics import NormalDist

    quantiles = [NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)]
    order = np.argsort(np.sin(np.arange(1, n + 1) * 12.9898))  # a fixed shuffle
    return np.asarray(quantiles)[order]


def describe(size: GridSize = DEFAULT) -> str:
    """One paragraph stating the grid (for the reports and the README)."""
    return (
        f"{size.linear} points linear on [-{LINEAR_HALF_WIDTH:g}, {LINEAR_HALF_WIDTH:g}]; "
        f"{size.log} points per logspace half: +-[smallest normal, 1] and +-[1, max]; "
        f"{size.exp_range} points linear on +-1.2 log(max) (where exp under/overflows); "
        "the kinks 0, +-1, +-3, +-6, +-20, the kernel parameters and their ratios, each with "
        "2 neighbouring floats per side; subnormals; +-max, +-inf, NaN, +-0.0. "
        f"Softmax family: 9 fixed rows of {size.row_length} (one dominant logit with "
        f"log_softmax at the max about -{TRUE_AT_MAX:g}, the others at -10, normal patterns "
        "x1/x10/x100, offsets +1e4 and +100, half -inf, all equal)."
    )
