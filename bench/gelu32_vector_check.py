"""The AVX-512 float32 gelu loops against the scalar formulas, on every float32 input.

    python bench/gelu32_vector_check.py [ulp_step=1]

Builds _cython/gelu_avx512.h's forward and derivative loops and the scalar fa_gelu_f32 /
fa_gelu_derivative_f32 of this tree with setup.py's flags for x86-64-v4 (R(y) from the
interval table in both), runs both on all 2^32 inputs (in 2^20 blocks, the vector loops
with a masked tail) and prints how many give other bits; then the max ULP of the vector
results against x ndtr(x) in double (erfc) on every `ulp_step`-th input with
1e-3 <= |x| <= 15 (gelu' on |x| >= 1.5), by range.  docs/tuning.md.
"""
import pathlib
import subprocess
import sys
import tempfile

from gelu32_ops_ab import ROOT, ULPS_C, constants_header

CHECK = r"""
#include <stddef.h>
typedef ptrdiff_t Py_ssize_t;
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "gelu_avx512.h"
static void sfwd(const float *x, float *o, long n) { for (long i = 0; i < n; i++) o[i] = fa_gelu_f32(x[i]); }
static void sder(const float *x, float *o, long n) {
    for (long i = 0; i < n; i++) { float v = x[i], f = fa_gelu_derivative_f32(v); o[i] = v != v ? v : f; }
}
ULPS_HERE
int main(int argc, char **argv) {
    long B = 1 << 20, step = atol(argv[1]);
    float *xs = malloc(B * 4), *a = malloc(B * 4), *b = malloc(B * 4);
    long diff[2] = {0}; double worst[2][4] = {{0}}; float wx[2][4] = {{0}};
    for (uint64_t s = 0; s < (1ull << 32); s += B) {
        for (long i = 0; i < B; i++) { uint32_t u = (uint32_t)(s + i); memcpy(&xs[i], &u, 4); }
        for (int d = 0; d < 2; d++) {
            void (*vec)(float *, const float *, const float *, Py_ssize_t, float, float) =
                d ? fa_gelu_derivative_loop_f32 : fa_gelu_forward_loop_f32;
            vec(a, xs, NULL, B - 5, 0, 0);
            vec(a + B - 5, xs + B - 5, NULL, 5, 0, 0);
            (d ? sder : sfwd)(xs, b, B);
            for (long i = 0; i < B; i++) {
                diff[d] += memcmp(&a[i], &b[i], 4) != 0;
                float x = xs[i], ax = fabsf(x);
                if (i % step || !(ax <= 15) || ax < 1e-3f || (d && ax < 1.5f)) continue;
                int c = ax < 0.5f ? 0 : ax < 2 ? 1 : x < 0 ? 2 : 3;
                double u = ulps(a[i], x, d);
                if (u > worst[d][c]) { worst[d][c] = u; wx[d][c] = x; }
            }
        }
    }
    for (int d = 0; d < 2; d++)
        printf("%s: %ld of 2^32 inputs give other bits than the scalar formula; max ULP "
               "|x| < 0.5: %.2f (x = %g), 0.5-2: %.2f (%g), x <= -2: %.2f (%g), x >= 2: %.2f (%g)\n",
               d ? "gelu'" : "gelu ", diff[d], worst[d][0], wx[d][0], worst[d][1], wx[d][1],
               worst[d][2], wx[d][2], worst[d][3], wx[d][3]);
    return diff[0] || diff[1];
}
""".replace("ULPS_HERE\n", ULPS_C)


def main():
    step = sys.argv[1] if len(sys.argv) > 1 else "1"
    flags = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math",
             "-march=x86-64-v4"]
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        (d / "fa_constants.h").write_text(constants_header(ROOT / "setup.py", ROOT / "fastact"))
        (d / "check.c").write_text(CHECK)
        subprocess.run(["gcc", *flags, f"-I{d}", f"-I{ROOT / 'fastact' / '_cython'}",
                        str(d / "check.c"), "-o", str(d / "check"), "-lm"], check=True)
        sys.exit(subprocess.run([str(d / "check"), step]).returncode)


if __name__ == "__main__":
    main()
