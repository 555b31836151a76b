"""Chebyshev fit of tanhshrink's series (needs mpmath).

The function is interpolated at 80 Chebyshev nodes in 50-digit arithmetic and
the series is truncated where the next coefficients drop below the target
relative accuracy.

* ``TANHSHRINK_W``: g(w) = (x - tanh x) / x**3 with w = x**2 in [0, 1], the
  Chebyshev series of degree 16 (next |c| 3.4e-19) converted exactly to powers of
  w, highest first (Horner); ``TANHSHRINK_W_LP`` the same of degree 8 (next |c|
  1.3e-10) for float32 results.
"""
from __future__ import annotations

from math import comb

import mpmath as mp

TANHSHRINK_DEGREE = 16
TANHSHRINK_LP_DEGREE = 8


def chebyshev(f, n_nodes=80):
    """Chebyshev coefficients c_k of f on s in [-1, 1] (f(s) ~ sum c_k T_k(s))."""
    th = [mp.pi * (j + mp.mpf(1) / 2) / n_nodes for j in range(n_nodes)]
    fv = [f(mp.cos(a)) for a in th]
    c = [2 * mp.fsum(fv[j] * mp.cos(k * th[j]) for j in range(n_nodes)) / n_nodes
         for k in range(n_nodes)]
    c[0] /= 2
    return c


def powers_of_w(c, degree):
    """sum_k c_k T_k(2w - 1), k <= degree, as coefficients of w**j, exactly (mpmath)."""
    t_polys = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]  # T_k in powers of s
    for _ in range(2, degree + 1):
        t1, t0 = t_polys[-1], t_polys[-2]
        nxt = [mp.mpf(0)] + [2 * v for v in t1]
        for i, v in enumerate(t0):
            nxt[i] -= v
        t_polys.append(nxt)
    in_s = [mp.fsum(c[k] * t_polys[k][i] for k in range(i, degree + 1) if i < len(t_polys[k]))
            for i in range(degree + 1)]
    return [mp.fsum(in_s[i] * comb(i, j) * 2**j * (-1) ** (i - j) for i in range(j, degree + 1))
            for j in range(degree + 1)]


def _g(s):
    w = (s + 1) / 2
    if w == 0:
        return mp.mpf(1) / 3
    x = mp.sqrt(w)
    return (x - mp.tanh(x)) / x**3


def coefficients():
    """[(name, value, comment)] for fastact/_coefficients.py."""
    mp.mp.dps = 50
    g = chebyshev(_g)
    out = []
    for name, degree in (("TANHSHRINK_W", TANHSHRINK_DEGREE), ("TANHSHRINK_W_LP", TANHSHRINK_LP_DEGREE)):
        w = powers_of_w(g, degree)
        out.append((name, tuple(float(v) for v in reversed(w)),
                    f"powers of w, highest first (Chebyshev degree {degree}, next |c| = "
                    f"{mp.nstr(abs(g[degree + 1]), 2)})"))
    return out
