"""Test inputs, all derived from the registry: parameter sets, kinks, value grids
and a generator of awkward arrays (every dtype rule, odd shapes and strides).

Nothing here names an activation: cases come from ``fastact._registry``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from fastact._registry import ACTIVATIONS, MODES, REQUIRED, ROW_OPS

FLOATS = (np.float32, np.float64)
ALL_FLOATS = (np.float16, np.float32, np.float64)
INTS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)


# ------------------------------------------------------------------ registry cases
@dataclass(frozen=True)
class Case:
    """One activation with one parameter set (defaults, or an ``examples`` entry)."""

    entry: object
    params: tuple  # ((name, value), ...) in declaration order, hashable

    @property
    def name(self):
        return self.entry.name

    @property
    def kwargs(self) -> dict:
        return dict(self.params)

    @property
    def values(self) -> tuple:
        return tuple(v for _, v in self.params)

    @property
    def kernel_id(self) -> str:
        return self.entry.resolve(self.values)[0]

    @property
    def numeric(self) -> tuple:
        return self.entry.resolve(self.values)[1]

    @property
    def accepts_y(self) -> bool:
        return self.entry.accepts_y(self.values)

    @property
    def smooth(self) -> bool:
        return self.entry.smooth

    @property
    def id(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.name}({args})"

    def __str__(self):
        return self.id


def _case(entry, overrides: dict) -> Case:
    values = entry.bind((), overrides)
    return Case(entry, tuple(zip(entry.param_names, values)))


def activation_cases() -> list:
    """Every entry with its defaults (when it has them) and with each of its examples."""
    cases = []
    for entry in ACTIVATIONS:
        if all(p.default is not REQUIRED for p in entry.params):
            cases.append(_case(entry, {}))
        for ex in entry.examples:
            c = _case(entry, dict(ex))
            if c not in cases:
                cases.append(c)
    return cases


CASES = activation_cases()


def kernel_cases() -> list:
    """One case per kernel id (the first parameter set resolving to it)."""
    seen, out = set(), []
    for c in CASES:
        if c.kernel_id not in seen:
            seen.add(c.kernel_id)
            out.append(c)
    return out


KERNEL_CASES = kernel_cases()
ROW_OP_NAMES = tuple(op.name for op in ROW_OPS)
FORWARD_ROW_OPS = tuple(op for op in ROW_OPS if not op.backward)


def case_modes(case) -> tuple:
    """The modes of ``case`` ("backward_y" only where f' is a function of y for its parameters)."""
    return tuple(m for m in MODES if case.accepts_y or m != "backward_y")


# ------------------------------------------------------------------ kinks and grids
def kinks(case, dtype) -> np.ndarray:
    """Candidate kinks of ``case`` and their float neighbours in ``dtype``.

    The candidates are generic (0, +-1, +-3, +-6, +-20, every numeric parameter,
    its negation, and every ratio of two parameters such as threshold/beta), so
    every breakpoint of the registry's piecewise formulas is covered without a
    hand list.
    """
    ps = [float(np.asarray(p, dtype)) for p in case.numeric]
    cand = {0.0, 1.0, 3.0, 6.0, 20.0}
    cand.update(abs(p) for p in ps)
    cand.update(abs(a / b) for a, b in itertools.permutations(ps, 2) if b != 0)
    base = np.array(sorted(cand), dtype)
    base = np.concatenate([base, -base])
    with np.errstate(all="ignore"):
        up = np.nextafter(base, np.asarray(np.inf, dtype))
        down = np.nextafter(base, np.asarray(-np.inf, dtype))
        up2 = np.nextafter(up, np.asarray(np.inf, dtype))
        down2 = np.nextafter(down, np.asarray(-np.inf, dtype))
    return np.concatenate([base, up, down, up2, down2])


def specials(dtype) -> np.ndarray:
    """NaN, +-inf, +-0, +-max, +-smallest normal, subnormals, values near 1."""
    fi = np.finfo(dtype)
    sub = fi.smallest_subnormal
    vals = [np.nan, np.inf, -np.inf, 0.0, -0.0, fi.max, -fi.max, fi.smallest_normal,
            -fi.smallest_normal, sub, -sub, 3 * sub, -7 * sub, fi.smallest_normal - sub,
            -(fi.smallest_normal - sub), 1000 * sub, fi.eps, -fi.eps, 1 - fi.epsneg, 1 + fi.eps]
    with np.errstate(all="ignore"):
        return np.array(vals, dtype=dtype)


def value_grid(case, dtype, n_linear=401, n_log=160, n_random=300) -> np.ndarray:
    """The accuracy grid: the whole finite range, dense near 0, logarithmic tails,
    random values in the transition region, specials and kinks (sorted, unique, NaN last)."""
    fi = np.finfo(dtype)
    lo = np.log10(float(fi.smallest_normal))
    hi = np.log10(float(fi.max))
    with np.errstate(over="ignore"):
        small = np.logspace(lo, 0, n_log)
        large = np.logspace(0, hi, n_log)
    rng = np.random.default_rng(12345)
    parts = [
        np.linspace(-12, 12, n_linear),
        small, -small, large, -large,
        rng.uniform(-60, 60, n_random),
        rng.standard_normal(n_random // 3) * 3,
    ]
    # where exp() under/overflows (|x| ~ log(max)), scaled by each parameter (beta, alpha)
    log_max = float(np.log(fi.max))
    for scale in {1.0, *(abs(p) for p in case.numeric if p != 0)}:
        parts.append(rng.uniform(-1.15 * log_max / scale, 1.15 * log_max / scale, n_random // 2))
    with np.errstate(over="ignore"):
        g = np.concatenate([np.asarray(p, dtype=dtype) for p in parts])
    g = g[np.isfinite(g)]
    g = np.concatenate([g, specials(dtype), kinks(case, dtype)])
    return np.unique(g)  # sorts; NaN at the end, kept once


def grads_like(x, dtype) -> np.ndarray:
    """A deterministic upstream gradient (exact in float16 too, no zeros)."""
    pattern = np.array([1.0, -0.75, 2.5, -3.0, 0.3125, -1.0, 0.5], dtype=dtype)
    return np.resize(pattern, np.shape(x)).astype(dtype)


# ------------------------------------------------------------------ awkward arrays
def base_values(dtype=np.float64, case=None, n_random=64) -> np.ndarray:
    """Specials, kinks and ordinary values for one dtype (float64 for non-floats)."""
    rng = np.random.default_rng(7)
    dt = np.dtype(dtype)
    vals = [specials(dt), rng.standard_normal(n_random).astype(dt) * 4,
            np.array([-1000, -100, -30, -10, 10, 30, 100, 1000], dt)]
    if case is not None:
        vals.append(kinks(case, dt))
    return np.concatenate(vals)


def _int_values(dtype) -> np.ndarray:
    ii = np.iinfo(dtype)
    vals = [0, 1, 2, 3, 6, 20, 100, ii.max, ii.max - 1]
    if ii.min < 0:
        vals += [-1, -2, -3, -6, -20, -100, ii.min, ii.min + 1]
    return np.array(vals, dtype=dtype)


@dataclass
class Awkward:
    label: str
    array: np.ndarray


def unaligned_copy(v: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``v`` whose data pointer is not aligned to its itemsize."""
    buf = np.zeros(v.nbytes + 1, np.uint8)
    a = np.frombuffer(buf.data, dtype=v.dtype, count=v.size, offset=1).reshape(v.shape)
    a = a.copy() if a.flags.aligned else a  # (only if the platform aligned it anyway)
    a.flags.writeable = True
    a[...] = v
    return a


def _layouts(v: np.ndarray, label: str):
    """Views of the 1-D value array ``v`` in every awkward memory layout."""
    n = v.size
    yield Awkward(f"{label} 1-D", v.copy())
    yield Awkward(f"{label} 0-d", np.array(v[min(3, n - 1)]))
    yield Awkward(f"{label} empty (0,)", v[:0].copy())
    yield Awkward(f"{label} empty (3,0)", np.empty((3, 0), v.dtype))
    yield Awkward(f"{label} [::2]", v[::2])
    yield Awkward(f"{label} [::-1]", v[::-1])
    yield Awkward(f"{label} [::-3]", v[::-3])
    m = (n // 6) * 6
    if m:
        a = v[:m].reshape(6, -1)
        yield Awkward(f"{label} 2-D C", a.copy())
        yield Awkward(f"{label} transpose", a.T)
        yield Awkward(f"{label} Fortran", np.asfortranarray(a))
        yield Awkward(f"{label} 2-D [:, ::-2]", a[:, ::-2])
        yield Awkward(f"{label} 3-D strided", v[: (m // 2) * 2].reshape(2, 3, -1)[:, ::2, 1:])
    ro = v.copy()
    ro.flags.writeable = False
    yield Awkward(f"{label} read-only", ro)
    if v.dtype.itemsize > 1:
        yield Awkward(f"{label} unaligned", unaligned_copy(v))
    yield Awkward(f"{label} broadcast (0-stride)", np.broadcast_to(v[:7], (4, 7)))
    yield Awkward(f"{label} broadcast scalar", np.broadcast_to(v[2:3], (5,)))


def awkward_arrays(case=None, dtypes=None, big=True):
    """Yield :class:`Awkward` inputs: every dtype rule x every layout, plus big arrays.

    Float dtypes carry NaN, +-inf, -0.0, subnormals, huge values and the kinks of
    ``case``; byte-swapped float32/float64 are included; integer and bool arrays
    use their extreme values.  ``big`` adds arrays large enough to take the
    backends' parallel paths (and odd lengths for SIMD tails).
    """
    dtypes = ALL_FLOATS + ("byteswapped",) + INTS + (np.bool_,) if dtypes is None else dtypes
    for dt in dtypes:
        if dt == "byteswapped":
            for f in FLOATS:
                v = base_values(f, case)
                sw = v.astype(np.dtype(f).newbyteorder(">" if np.little_endian else "<"))
                yield Awkward(f"{np.dtype(f).name} byte-swapped", sw)
                yield Awkward(f"{np.dtype(f).name} byte-swapped [::-2]", sw[::-2])
            continue
        dt = np.dtype(dt)
        if dt.kind == "f":
            with np.errstate(all="ignore"):
                v = base_values(dt, case)
        elif dt.kind == "b":
            v = np.array([True, False, True, True, False, False, True], dtype=bool)
        else:
            v = _int_values(dt)
        yield from _layouts(v, dt.name)
    if big:
        for f in FLOATS:
            for n in (1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 1023, 4099):
                yield Awkward(f"{np.dtype(f).name} length {n}", _mixed(n, f, case, seed=n))
            a = _mixed(120_001, f, case, seed=1)
            yield Awkward(f"{np.dtype(f).name} large 120001", a)
            yield Awkward(f"{np.dtype(f).name} large strided", _mixed(240_000, f, case, 2)[::-2])


def _mixed(n, dtype, case=None, seed=0) -> np.ndarray:
    """n values: mostly N(0, 5), with specials and kinks sprinkled at random places."""
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(n) * 5).astype(dtype)
    extra = base_values(dtype, case, n_random=0)
    k = min(n, extra.size)
    idx = rng.choice(n, size=k, replace=False)
    a[idx] = rng.permutation(extra)[:k]
    return a


def large_array(n, dtype, seed=0, scale=5.0) -> np.ndarray:
    """A large finite array for the parallel paths."""
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(dtype)


def at_line_offset(a, shift) -> np.ndarray:
    """A copy of ``a`` starting ``shift`` elements past a 64-byte line boundary."""
    buf = np.empty(a.size + 64, a.dtype)
    start = (-buf.ctypes.data % 64) // a.itemsize + shift
    view = buf[start:start + a.size]
    view[...] = a
    return view


def cast(a, dtype) -> np.ndarray:
    """``a.astype(dtype)``; out-of-range values become +-inf silently."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(a).astype(dtype)
