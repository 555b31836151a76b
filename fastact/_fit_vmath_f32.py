"""Reproduces the float32 Phi polynomial constants in fastact/_vmath.h.

fa_normcdf_lower_split_f32 uses the Chebyshev fit published in Numerical
Recipes, erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2), relative error < 1.2e-7.
In float arithmetic the Horner sum of P in powers of t cancels (sum |c_k| = 6.8,
~4e-7 absolute rounding error, 7 ULP in gelu); re-expanded around t = 1/2,
P(t) = Q(t - 1/2) with sum |q_k| 2^-k = 1.46, the same sum rounds ~5x less.
Run ``python -m fastact._fit_vmath_f32`` to print Q (highest degree first).
"""
from fractions import Fraction

# P(t) = sum c_k t^k, k = 0..9 (Numerical Recipes, erfcc)
NR_COEFFS = ("-1.26551223", "1.00002368", "0.37409196", "0.09678418", "-0.18628806",
             "0.27886807", "-1.13520398", "1.48851587", "-0.82215223", "0.17087277")


def shifted(coeffs, s):
    """Coefficients q of Q(u) = P(u + s), exactly (rational arithmetic)."""
    from math import comb
    c = [Fraction(v) for v in coeffs]
    s = Fraction(s)
    n = len(c)
    return [sum(c[k] * comb(k, j) * s ** (k - j) for k in range(j, n)) for j in range(n)]


if __name__ == "__main__":
    for j, q in reversed(list(enumerate(shifted(NR_COEFFS, Fraction(1, 2))))):
        print(f"u^{j}: {float(q):.17g}")
