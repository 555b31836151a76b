"""The float64 Phi of the gelu kernels: R(y) = Phi(-y) e^(y^2/2) = t F(t) (needs mpmath).

The kernels compute Phi(-y) = e^(-y^2/2) t F(t) for y = |x| with t = c/(c + y), one division
over the whole line (t in [c/(c + NORMCDF_ARG_MAX), 1]), and Phi(x) = 1 - Phi(-x) for x > 0.
F is one polynomial in u = t - NORMCDF_MILLS_T_SHIFT (|u| <= 1/2), evaluated by second-order
Horner (two FMA chains in u^2: half the latency) with its last NORMCDF_MILLS_DD_STEPS steps in
double-double and a double-double constant term (hi in the table, lo apart), so its rounding
error stays below 1 ULP.

The fit: relative least squares at Chebyshev nodes (mpmath, 50 digits), the coefficients
rounded to double one at a time, highest first, the lower ones refitted after each rounding;
the constant term is kept as hi + lo.  The generated comment gives the maximal relative error
of the rounded polynomial on a fine grid in ULP (2^-53), evaluated exactly.

    python tools/fit/normcdf_f64.py   # prints the fit and its error in double evaluation
"""
import mpmath as mp
import numpy as np

T_SCALE = 5.0  # NORMCDF_MILLS_T_SCALE in fastact/_constants.py: t = c/(c + y)
T_SHIFT = 0.5  # NORMCDF_MILLS_T_SHIFT: F is a polynomial in u = t - T_SHIFT
ARG_MAX = 40.0  # NORMCDF_ARG_MAX: the kernels clamp y there
DEGREE = 22
DD_STEPS = 3  # NORMCDF_MILLS_DD_STEPS
N_NODES = 160


def mills(y):
    """R(y) = Phi(-y) e^(y^2/2)."""
    return mp.ncdf(-y) * mp.exp(y * y / 2)


def f_of_t(t):
    """F(t) = R(y)/t, y = c (1 - t)/t."""
    return mills(T_SCALE * (1 - t) / t) / t


def f_of_u(u):
    return f_of_t(u + T_SHIFT)


def _nodes():
    a, b = mp.mpf(T_SCALE) / (T_SCALE + ARG_MAX), mp.mpf(1)
    return [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / N_NODES) - T_SHIFT
            for k in range(N_NODES)]


def fit():
    """(coefficients highest first as doubles, lo of the constant term, max relative error
    of the rounded polynomial / 2^-53 on a fine grid)."""
    nodes = _nodes()
    values = [f_of_u(u) for u in nodes]
    fixed = []
    while True:
        free = DEGREE + 1 - len(fixed)
        A, rhs = mp.matrix(N_NODES, free), mp.matrix(N_NODES, 1)
        for i, (t, fv) in enumerate(zip(nodes, values)):
            rest = fv - sum(c * t ** (DEGREE - j) for j, c in enumerate(fixed))
            for j in range(free):
                A[i, j] = t ** (free - 1 - j) / fv
            rhs[i] = rest / fv
        c = mp.qr_solve(A, rhs)[0][0]
        if free == 1:
            hi = float(c)
            lo = float(c - hi)
            break
        fixed.append(mp.mpf(float(c)))
    coeffs = [float(c) for c in fixed] + [hi]
    exact = fixed + [mp.mpf(hi) + lo]
    grid = np.linspace(T_SCALE / (T_SCALE + ARG_MAX), 1.0, 2001) - T_SHIFT
    worst = max(abs(mp.polyval(exact, mp.mpf(u)) / f_of_u(mp.mpf(u)) - 1) for u in grid)
    return tuple(coeffs), lo, float(worst * 2**53)


def coefficients():
    """[(name, value, comment)] for fastact/_coefficients.py."""
    mp.mp.dps = 50
    coeffs, lo, err = fit()
    what = (f"R(y) = Phi(-y) e^(y^2/2) = t F(t), t = {T_SCALE}/({T_SCALE} + y), y <= {ARG_MAX}")
    return [("NORMCDF_MILLS", coeffs, f"{what}: F in u = t - {T_SHIFT}, highest first; relative "
             f"error {err:.2f} ULP with the constant term's lo"),
            ("NORMCDF_MILLS_LO", lo, "the low part of NORMCDF_MILLS's constant term")]


def _fma(a, b, c):
    return float(mp.mpf(a) * mp.mpf(b) + mp.mpf(c))


def evaluate(coeffs, lo, u):
    """F = hi + lo at u as the kernels compute it (second-order FMA Horner, the last steps in
    double-double)."""
    head, tail = coeffs[:len(coeffs) - DD_STEPS], coeffs[len(coeffs) - DD_STEPS:]
    s = u * u
    qa, qb, i = head[0], head[1], 2
    while i + 1 < len(head):
        qa, qb, i = _fma(qa, s, head[i]), _fma(qb, s, head[i + 1]), i + 2
    q = _fma(qa, u, qb)
    if i < len(head):
        q = _fma(q, u, head[i])
    ql = 0.0
    for c in tail:
        p = u * q
        pl = _fma(q, u, -p)
        s = p + c
        bb = s - p
        ql = (pl + ql * u) + ((p - (s - bb)) + (c - bb))
        q = s
    return q, ql + lo


if __name__ == "__main__":
    mp.mp.dps = 50
    coeffs, lo, err = fit()
    print("approximation error (ULP):", round(err, 3), "max |c|:", max(map(abs, coeffs)))
    worst = 0.0
    for t in np.linspace(T_SCALE / (T_SCALE + ARG_MAX), 1.0, 3001):
        u = float(t) - T_SHIFT
        hi, l = evaluate(coeffs, lo, u)
        worst = max(worst, abs((mp.mpf(hi) + l) / f_of_u(mp.mpf(u)) - 1))
    print("evaluated hi + lo, max relative error (ULP):", float(worst * 2**53))
