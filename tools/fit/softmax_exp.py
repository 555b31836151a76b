"""The exp polynomials of the softmax-family kernels (needs mpmath).

After the reduction t = n ln2 + r, |r| <= ln2/2, the kernels evaluate
exp(r) = 1 + r + r^2 Q(r) by Horner, with Q a Chebyshev fit (mpmath.chebyfit)
of (e^r - 1 - r) / r^2: degree 4 for float32, 9 for float64.  The coefficients
rounded to the working type leave a relative error of about 0.08 eps in both
(measured in exact arithmetic on a fine grid, in the generated comment), well
under the rounding of the Horner steps themselves.  The tuples end with the two
unit coefficients of 1 + r, so the whole exp(r) is one Horner sum.
"""
import mpmath as mp
import numpy as np

DEGREES = {np.float32: 4, np.float64: 9}


def q_of(r):
    """(e^r - 1 - r) / r^2, continuous at 0."""
    r = mp.mpf(r)
    if abs(r) < mp.mpf("1e-12"):
        return mp.mpf(1) / 2 + r / 6 + r * r / 24
    return (mp.expm1(r) - r) / (r * r)


def fit(dtype):
    """(coefficients of Q rounded to dtype, highest degree first; max relative error)."""
    mp.mp.dps = 50
    half = mp.log(2) / 2
    coeffs = [dtype(float(c)) for c in mp.chebyfit(q_of, [-half, half], DEGREES[dtype] + 1)]
    worst = mp.mpf(0)
    for r in np.linspace(-float(half), float(half), 2001).astype(dtype):
        r = mp.mpf(float(r))
        q = mp.mpf(0)
        for c in coeffs:
            q = q * r + mp.mpf(float(c))
        worst = max(worst, abs((1 + r + r * r * q) / mp.exp(r) - 1))
    return coeffs, float(worst)


def coefficients():
    """[(name, value, comment)] for fastact/_coefficients.py."""
    out = []
    for dtype, suffix in ((np.float32, "F32"), (np.float64, "F64")):
        coeffs, err = fit(dtype)
        eps = float(np.finfo(dtype).eps)
        out.append((f"SOFTMAX_EXP_POLY_{suffix}", tuple(coeffs) + (dtype(1.0), dtype(1.0)),
                    f"exp(r) on |r| <= ln2/2, highest first; relative error {err / eps:.3f} eps"))
    return out
