"""The float32 Phi polynomial re-expanded around t = 1/2 (exact rational arithmetic).

The float32 kernels' Phi uses the Chebyshev fit published in Numerical Recipes,
erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2), relative error < 1.2e-7
(``NORMCDF_NR`` in fastact/_constants.py).  In float arithmetic the Horner sum of
P in powers of t cancels (sum |c_k| = 6.8, ~4e-7 absolute rounding error); re-expanded
around t = 1/2, P(t) = Q(t - 1/2) with sum |q_k| 2^-k = 1.46, the same sum rounds
~5x less.  ``NORMCDF_NR_SHIFTED_F32`` holds Q rounded to float32, highest first.
"""
from fractions import Fraction
from math import comb

import numpy as np

# P(t) = sum c_k t^k, k = 0..9 (Numerical Recipes, erfcc), as published (decimal)
NR_COEFFS = ("-1.26551223", "1.00002368", "0.37409196", "0.09678418", "-0.18628806",
             "0.27886807", "-1.13520398", "1.48851587", "-0.82215223", "0.17087277")


def shifted(coeffs, s):
    """Coefficients q of Q(u) = P(u + s), exactly (rational arithmetic), lowest first."""
    c = [Fraction(v) for v in coeffs]
    s = Fraction(s)
    n = len(c)
    return [sum(c[k] * comb(k, j) * s ** (k - j) for k in range(j, n)) for j in range(n)]


def coefficients():
    """[(name, value, comment)] for fastact/_coefficients.py."""
    q = shifted(NR_COEFFS, Fraction(1, 2))
    return [("NORMCDF_NR_SHIFTED_F32", tuple(np.float32(float(v)) for v in reversed(q)),
             "Numerical Recipes' erfc polynomial in u = t - 1/2, highest first (float32)")]
