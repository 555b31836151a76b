"""float32 gelu: today's Phi (vmath.h) against a one-polynomial Mills-ratio form, in C.

    python bench/gelu32_mills_ab.py [step=61] [rounds=100]

The candidate is the float32 analogue of the float64 Phi: R(y) = Phi(-y) e^(y^2/2) =
t F(u), t = C/(C + y) (one division), u = t - S exact, F of degree DEGREE fitted here
(relative, Lawson-reweighted least squares, float32 coefficients rounded highest first,
the lower ones refitted); "+corr" carries the roundings of C + y and of t back through
R'(y) = y R - 1/sqrt(2 pi) to first order (7 operations: y' - y = (C - t d) d / C +
(d - C) - y, exact with FMA), "nocorr" does not.  Both share today's
fa__mul_exp_neg_half_f32.  Needs gcc, SciPy and a built tree (fastact/_cython/
fa_constants.h); the loops are built with setup.py's flags for the x86-64-v4 variant.
Prints one-thread CPU time per element (1e5 floats uniform in [-6, 6], best of `rounds`,
interleaved) and the max ULP against x ndtr(x) in double on every `step`-th float with
|x| <= 15 (gelu' over |x| > 1.5: its zero is at -0.75).  Results: docs/tuning.md.
"""
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from scipy.special import erfcx

C, S, DEGREE, Y_MAX = 4.0, 0.375, 9, 15.0
ROOT = pathlib.Path(__file__).resolve().parents[1] / "fastact" / "_cython"


def fit_f32(n=800, sweeps=60):
    """F(u) = R(y)/t on t in [C/(C + Y_MAX), 1], float32 coefficients highest first."""
    t_min = C / (C + Y_MAX)
    t = (1 + t_min) / 2 + (1 - t_min) / 2 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    f = 0.5 * erfcx((C / t - C) / np.sqrt(2)) / t
    a = np.vander(t - S, DEGREE + 1) / f[:, None]
    fixed = []
    for _ in range(DEGREE + 1):
        k = len(fixed)
        rhs = 1 - a[:, :k] @ np.array(fixed) if k else np.ones(n)
        w = np.ones(n)
        for _ in range(sweeps):
            c = np.linalg.lstsq(a[:, k:] * np.sqrt(w)[:, None], rhs * np.sqrt(w), rcond=None)[0]
            w *= np.abs(a[:, k:] @ c - rhs) + 1e-30
            w /= w.sum()
        fixed.append(float(np.float32(c[0])))
    return fixed


HARNESS = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "vmath.h"
static const float mc[] = {%(coef)s};
FA_INLINE float mills(float y, int corr) {
    float d = %(c)sf + y, u = %(c)sf / d - %(s)sf, t = u + %(s)sf;
    float r = t * fa__horner_fma_f32(mc, (int)(sizeof mc / sizeof mc[0]), u);
    if (!corr) return r;
    float dy = __builtin_fmaf(__builtin_fmaf(-t, d, %(c)sf), d * (1.0f / %(c)sf), (d - %(c)sf) - y);
    return __builtin_fmaf(__builtin_fmaf(-y, r, (float)FA_INV_SQRT_2PI), dy, r);
}
FA_INLINE float cand(float x, int corr, int deriv) {
    float y = fa_abs_f32(x);
    y = y > FA_NORMCDF_ARG_MAX_F32 ? FA_NORMCDF_ARG_MAX_F32 : y;
    float r = mills(y, corr), lo, p = fa_two_prod_f32(y, y, &lo);
    if (deriv) {
        float a = fa__mul_exp_neg_half_f32(y * (float)FA_INV_SQRT_2PI - r, p, lo);
        return x == -__builtin_inff() ? 0.0f : (x < 0.0f ? -a : 1.0f + a);
    }
    float t = fa_copysign_f32(fa__mul_exp_neg_half_f32(x * r, p, lo), x);
    return x > 0.0f ? x - t : t;
}
static float today(float x, int deriv) {
    return deriv ? fa_gelu_derivative_f32(x) : fa_gelu_f32(x);
}
#define LOOP(name, expr) __attribute__((noinline)) \
    static void name(const float *x, float *o, long n) \
    { for (long i = 0; i < n; i++) { float v = x[i]; o[i] = expr; } }
LOOP(l0, fa_gelu_f32(v)) LOOP(l1, cand(v, 1, 0)) LOOP(l2, cand(v, 0, 0))
LOOP(l3, fa_gelu_derivative_f32(v)) LOOP(l4, cand(v, 1, 1)) LOOP(l5, cand(v, 0, 1))
static double now(void) {
    struct timespec s;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &s);
    return s.tv_sec + 1e-9 * s.tv_nsec;
}
static double ulps(float v, double ref) {
    int e; frexp(fabs(ref), &e);
    double u = ldexp(1.0, e - 24) < 0x1p-149 ? 0x1p-149 : ldexp(1.0, e - 24);
    return fabs(v - ref) / u;
}
int main(int argc, char **argv) {
    long n = 100000, step = atol(argv[1]), rounds = atol(argv[2]);
    float *x = malloc(n * 4), *o = malloc(n * 4);
    srand(1);
    for (long i = 0; i < n; i++) x[i] = 12.0f * rand() / RAND_MAX - 6.0f;
    void (*f[6])(const float *, float *, long) = {l0, l1, l2, l3, l4, l5};
    const char *nm[3] = {"today", "mills+corr", "mills nocorr"};
    double best[6] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9}, worst[6] = {0}; float at[6] = {0};
    for (long r = 0; r < rounds; r++)
        for (int k = 0; k < 6; k++) {
            double t0 = now();
            f[k](x, o, n);
            t0 = now() - t0;
            if (t0 < best[k]) best[k] = t0;
        }
    for (uint32_t b = 0; b < 0x41700000u; b += step)
        for (int s = 0; s < 2; s++) {
            float v = fa_from_bits_f32(b | (s ? 0x80000000u : 0u)); double xd = v;
            double ph = 0.5 * erfc(-xd / sqrt(2.0));
            double ref[2] = {xd * ph, ph + xd * exp(-0.5 * xd * xd) * FA_INV_SQRT_2PI};
            for (int k = 0; k < 6; k++) {
                int dv = k >= 3;
                if (dv && fabs(xd) <= 1.5) continue;
                double e = ulps(k %% 3 ? cand(v, k %% 3 == 1, dv) : today(v, dv), ref[dv]);
                if (e > worst[k]) { worst[k] = e; at[k] = v; }
            }
        }
    for (int k = 0; k < 6; k++)
        printf("%%-7s %%-13s %%6.3f ns/element  max %%.2f ULP at %%.6g\n",
               k < 3 ? "gelu" : "gelu'", nm[k %% 3], best[k] / n * 1e9, worst[k], at[k]);
    return 0;
}
"""


def main():
    step = sys.argv[1] if len(sys.argv) > 1 else "61"
    rounds = sys.argv[2] if len(sys.argv) > 2 else "100"
    coef = ", ".join(f"{c:.9g}f" for c in fit_f32())
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "h.c"), os.path.join(d, "h")
        pathlib.Path(src).write_text(HARNESS % {"coef": coef, "c": C, "s": S})
        subprocess.run(["gcc", "-O3", "-ffp-contract=off", "-fno-math-errno",
                        "-fno-trapping-math", "-march=x86-64-v4", f"-I{ROOT}", src, "-o", exe,
                        "-lm"], check=True)
        print(f"C = {C}, S = {S}, degree {DEGREE}; step {step}, {rounds} rounds", flush=True)
        subprocess.run([exe, step, rounds], check=True)


if __name__ == "__main__":
    main()
