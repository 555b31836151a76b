"""Errors in units in the last place (ULP) against an exact reference.

The exact reference is carried as a float64 pair ``hi + lo`` (``hi`` the
correctly rounded float64 value, ``lo`` the rest), so float64 results are
measured to a fraction of an ULP.  The ULP is that of the *exact* reference in
the target dtype: the spacing of floats at the reference correctly rounded to
that dtype (at a power of two, the spacing above it); a reference in the
subnormal range, or rounding to 0, uses the subnormal spacing.  A reference
that is infinite or NaN in the target dtype is not a number of ULPs: such points
are special values, equal (error 0) or a disagreement (error inf).
"""
from __future__ import annotations

import numpy as np

SPECIAL_KINDS = {
    "nan": "NaN where the true value is a number or +-inf",
    "not_nan": "a number where the true value is NaN",
    "inf": "+-inf where the true value is finite, a number where it is +-inf, or the wrong infinity",
    "sign": "a non-zero result of the wrong sign",
    "zero": "0 where the true value is a normal (not subnormal) number",
}


def round_to(hi, lo, dtype) -> np.ndarray:
    """``hi + lo`` correctly rounded to ``dtype`` (``hi`` float64 rounded, ``|lo| <= ulp64(hi)/2``).

    Rounding ``hi`` alone is exact except when it lies exactly halfway between two
    ``dtype`` floats: then ``lo`` breaks the tie.
    """
    dtype = np.dtype(dtype)
    hi = np.asarray(hi, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        first = hi.astype(dtype)
        if dtype == np.float64:
            return first
        back = first.astype(np.float64)
        across = np.nextafter(first, np.where(back > hi, -np.inf, np.inf).astype(dtype))
        halfway = (back != hi) & (across.astype(np.float64) - hi == hi - back)
        lo_side = np.where((np.asarray(lo) > 0) == (back > hi), first, across)
    return np.where(halfway & (np.asarray(lo) != 0), lo_side, first)


def ulp_of(reference, dtype) -> np.ndarray:
    """The spacing of ``dtype`` floats at ``reference`` (already rounded to ``dtype``), as float64.

    ``2**(e - p)`` for ``2**e <= |r| < 2**(e+1)`` with ``p`` mantissa bits; the
    subnormal spacing for subnormal references and 0; NaN for inf/NaN.
    """
    fi = np.finfo(dtype)
    r = np.abs(np.asarray(reference, np.float64))
    with np.errstate(invalid="ignore"):
        _, exponent = np.frexp(np.where(np.isfinite(r) & (r > 0), r, 1.0))
    ulp = np.ldexp(1.0, exponent - 1 - fi.nmant)
    ulp = np.where(r > 0, np.maximum(ulp, float(fi.smallest_subnormal)), float(fi.smallest_subnormal))
    return np.where(np.isfinite(r), ulp, np.nan)


def ulp_errors(got, hi, lo, dtype) -> np.ndarray:
    """``|got - (hi + lo)| / ulp`` per point (float64); 0 or inf at special values.

    Equal special values (same infinity, NaN at NaN) give 0; a non-finite result
    where the reference is finite, or any other result at a non-finite reference,
    gives inf.
    """
    g = np.asarray(got, np.float64)
    ref = round_to(hi, lo, dtype).astype(np.float64)
    with np.errstate(all="ignore"):
        err = np.abs((g - np.asarray(hi)) - np.asarray(lo)) / ulp_of(ref, dtype)
    finite = np.isfinite(ref) & np.isfinite(g)
    same = (g == ref) | (np.isnan(g) & np.isnan(ref))
    return np.where(finite, err, np.where(same, 0.0, np.inf))


def special_disagreements(got, hi, lo, dtype) -> dict:
    """``{kind: boolean mask}`` for each kind of :data:`SPECIAL_KINDS`."""
    g = np.asarray(got, np.float64)
    ref = round_to(hi, lo, dtype).astype(np.float64)
    number = ~np.isnan(ref)
    tiny = float(np.finfo(dtype).smallest_normal)
    return {
        "nan": np.isnan(g) & number,
        "not_nan": ~np.isnan(g) & ~number,
        "inf": (np.isinf(g) | np.isinf(ref)) & ~np.isnan(g) & number & (g != ref),
        "sign": (g != 0) & (ref != 0) & number & ~np.isnan(g) & (np.sign(g) != np.sign(ref)),
        "zero": (g == 0) & (np.abs(ref) >= tiny),
    }
