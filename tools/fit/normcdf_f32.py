"""The float32 Phi of the gelu kernels: R(y) = Phi(-y) e^(y^2/2) in two pieces (needs mpmath).

The kernels compute Phi(-y) = e^(-y^2/2) R(y) for y = |x| (y^2 split exactly), and
Phi(x) = 1 - Phi(-x) for x > 0, with R a polynomial in float arithmetic:

* near, 0 <= y <= NORMCDF_NEAR_MAX_F32: R(y) = N(s), s = y - 1 (exact for y >= 1/2);
* far, y > NORMCDF_NEAR_MAX_F32: R(y) = v F(v^2), v = 1/y (R ~ 1/(y sqrt(2 pi)));
  the fit covers y up to NORMCDF_ARG_MAX_F32, where the kernels clamp y.

The AVX-512 builds instead take R from a table of TABLE_INTERVALS polynomials: on
|y - k/2| <= 1/4, R(y) = P_k(s), s = y - k/2 (exact), P_k of degree TABLE_DEGREE, its
coefficients picked for 16 lanes at once by a two-register permute (32 entries).

Each polynomial is a relative least-squares fit at Chebyshev nodes (mpmath, 40 digits),
rounded to float32 one coefficient at a time, highest first, the lower ones refitted
after each rounding; the generated comment gives the maximal relative error of the
rounded polynomial on a fine grid, in float32 ULP (2^-24).
"""
import mpmath as mp
import numpy as np

NEAR_MAX = 2.0  # NORMCDF_NEAR_MAX_F32 in fastact/_constants.py
ARG_MAX = 15.0  # NORMCDF_ARG_MAX_F32
NEAR_DEGREE = 10
FAR_DEGREE = 9
N_NODES = 120
TABLE_DEGREE = 6
TABLE_ENTRIES = 32  # two AVX-512 registers; intervals k = 0 .. 2 ARG_MAX are used
TABLE_STEP = 0.5    # NORMCDF_TABLE_STEP_F32


def mills(y):
    """R(y) = Phi(-y) e^(y^2/2)."""
    return mp.ncdf(-y) * mp.exp(y * y / 2)


def near(s):
    return mills(s + 1)


def far(z):
    v = mp.sqrt(z)
    return mills(1 / v) / v


def _ls_fit(f, a, b, degree, fixed):
    """Coefficients (highest first) minimizing the relative error at Chebyshev nodes, the
    leading ones held at ``fixed``."""
    nodes = [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / N_NODES)
             for k in range(N_NODES)]
    free = degree + 1 - len(fixed)
    A, rhs = mp.matrix(N_NODES, free), mp.matrix(N_NODES, 1)
    for i, s in enumerate(nodes):
        fv = f(s)
        rest = fv - sum(c * s ** (degree - j) for j, c in enumerate(fixed))
        for j in range(free):
            A[i, j] = s ** (free - 1 - j) / fv
        rhs[i] = rest / fv
    sol = mp.qr_solve(A, rhs)[0]
    return list(fixed) + [sol[j] for j in range(free)]


def fit_float32(f, a, b, degree):
    """(float32 coefficients highest first, max relative error / 2^-24 on a fine grid)."""
    fixed = []
    for _ in range(degree + 1):
        c = _ls_fit(f, a, b, degree, fixed)
        fixed.append(mp.mpf(float(np.float32(float(c[len(fixed)])))))
    worst = max(abs(mp.polyval(fixed, mp.mpf(s)) / f(mp.mpf(s)) - 1)
                for s in np.linspace(float(a), float(b), 1201))
    return tuple(np.float32(float(c)) for c in fixed), float(worst * 2**24)


def table():
    """(coefficients of every interval, coefficient-major: entry j * TABLE_ENTRIES + k is
    the coefficient of s^(TABLE_DEGREE - j) of P_k; the worst fit error in ULP)."""
    last = int(ARG_MAX / TABLE_STEP)
    columns, worst = [], 0.0
    for k in range(TABLE_ENTRIES):
        c = mp.mpf(min(k, last)) * TABLE_STEP
        lo, hi = max(-mp.mpf(TABLE_STEP) / 2, -c), min(mp.mpf(TABLE_STEP) / 2, ARG_MAX - c)
        coeffs, err = fit_float32(lambda s, c=c: mills(c + s), lo, hi, TABLE_DEGREE)
        columns.append(coeffs)
        worst = max(worst, err)
    flat = tuple(columns[k][j] for j in range(TABLE_DEGREE + 1) for k in range(TABLE_ENTRIES))
    return flat, worst


def coefficients():
    """[(name, value, comment)] for fastact/_coefficients.py."""
    mp.mp.dps = 40
    out = []
    pieces = (("NORMCDF_NEAR_F32", near, mp.mpf(-1), mp.mpf(NEAR_MAX) - 1, NEAR_DEGREE,
               f"R(y) = Phi(-y) e^(y^2/2) = N(y - 1) on 0 <= y <= {NEAR_MAX}"),
              ("NORMCDF_FAR_F32", far, 1 / mp.mpf(ARG_MAX) ** 2, 1 / mp.mpf(NEAR_MAX) ** 2,
               FAR_DEGREE, f"R(y) = v F(v^2), v = 1/y, on {NEAR_MAX} <= y <= {ARG_MAX}"))
    for name, f, a, b, degree, what in pieces:
        coeffs, err = fit_float32(f, a, b, degree)
        out.append((name, coeffs, f"{what}, highest first (float32); relative error "
                    f"{err:.2f} ULP"))
    flat, err = table()
    out.append(("NORMCDF_TABLE_F32", flat,
                f"R(y) = P_k(y - k/2) on |y - k/2| <= {TABLE_STEP / 2}, k = round(y/{TABLE_STEP}), "
                f"degree {TABLE_DEGREE}: entry j * {TABLE_ENTRIES} + k is P_k's coefficient of "
                f"s^({TABLE_DEGREE} - j) (float32); relative error {err:.2f} ULP"))
    return out
