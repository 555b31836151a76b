"""Regenerate the Chebyshev coefficients used by ``_vmath`` (not imported at run time).

Run ``python -m fastact._numba._fit_coefficients`` (needs mpmath); it prints
the tuples pasted into ``_coefficients.py``.  Each function is interpolated at
Chebyshev nodes in 50-digit arithmetic and the series is truncated where the
next coefficients drop below the target relative accuracy.

* ``ERFCX_T``: h(t) = erfcx(z) / t with t = 2 / (2 + z), z >= 0, t in [0, 1]
  (so erfc(z) = t * h(t) * exp(-z**2)); argument s = 2t - 1.
* ``TANHSHRINK_W``: g(w) = (x - tanh x) / x**3 with w = x**2 in [0, 1];
  argument s = 2w - 1.
"""
from __future__ import annotations

import mpmath as mp


def chebyshev(f, n_nodes=80):
    """Chebyshev coefficients c_k of f on s in [-1, 1] (f(s) ~ sum c_k T_k(s))."""
    th = [mp.pi * (j + mp.mpf(1) / 2) / n_nodes for j in range(n_nodes)]
    fv = [f(mp.cos(a)) for a in th]
    c = [2 * mp.fsum(fv[j] * mp.cos(k * th[j]) for j in range(n_nodes)) / n_nodes
         for k in range(n_nodes)]
    c[0] /= 2
    return c


def _h(s):
    t = (s + 1) / 2
    if t == 0:
        return 1 / (2 * mp.sqrt(mp.pi))
    z = 2 / t - 2
    return mp.erfc(z) * mp.exp(z * z) / t


def _g(s):
    w = (s + 1) / 2
    if w == 0:
        return mp.mpf(1) / 3
    x = mp.sqrt(w)
    return (x - mp.tanh(x)) / x**3


def main():
    mp.mp.dps = 50
    for name, f, degrees in (("ERFCX_T", _h, (28, 15)), ("TANHSHRINK_W", _g, (17, 8))):
        c = chebyshev(f)
        for deg in degrees:
            print(f"{name}_{deg} = (")
            for v in c[: deg + 1]:
                print(f"    {float(v)!r},")
            print(f")  # next |c| = {mp.nstr(abs(c[deg + 1]), 3)}")


if __name__ == "__main__":
    main()
