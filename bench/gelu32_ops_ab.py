"""float32 gelu / gelu' of vmath.h: another revision's loops against this tree's, in C.

    python bench/gelu32_ops_ab.py [rev=integrate] [rounds=41] [march=x86-64-v4] [--bits] [--ulp LO HI]

Builds the kernel loop (out[i] = x[i] != x[i] ? x[i] : F(x[i]), as the generated loops) from
`git show REV:fastact/_cython/vmath.h` (and its fa_constants.h, rendered by setup.py's
functions from that revision's fastact/_constants.py) and from this tree, with setup.py's
flags for `march`.  Prints the zmm/ymm/xmm operations of each vector loop (objdump; loads,
stores and register moves not counted, mask operations counted, a division as 3), one-thread CPU time per element
(1e5 floats N(0, 3^2), min and median of `rounds`, interleaved); --bits: how many of all
2^32 inputs give other bits; --ulp LO HI: the max ULP of both against x ndtr(x) in double
(erfc) on every float with LO <= |x| <= HI (gelu' on |x| > 1.5 only).  docs/tuning.md.
"""
import collections
import importlib
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import types

ROOT = pathlib.Path(__file__).resolve().parents[1]

LOOP = r"""
#include "vmath.h"
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
__attribute__((noinline)) void CAT(fwd_, TAG)(const float *x, float *o, long n)
{ for (long i = 0; i < n; i++) { float v = x[i], f = fa_gelu_f32(v); o[i] = v != v ? v : f; } }
__attribute__((noinline)) void CAT(der_, TAG)(const float *x, float *o, long n)
{ for (long i = 0; i < n; i++) { float v = x[i], f = fa_gelu_derivative_f32(v); o[i] = v != v ? v : f; } }
"""

# the error of v = F(x) (F: gelu, or gelu' where d) in float32 ULP against double erfc
ULPS_C = r"""
static double ulps(float v, double xd, int d) {
    double ph = 0.5 * erfc(-xd / sqrt(2.0));
    double ref = d ? ph + xd * exp(-0.5 * xd * xd) * 0.3989422804014327 : xd * ph;
    int e; frexp(fabs(ref), &e);
    double u = ldexp(1.0, e - 24) < 0x1p-149 ? 0x1p-149 : ldexp(1.0, e - 24);
    return fabs(v - ref) / u;
}
"""

MAIN = r"""
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
typedef void (*loop)(const float *, float *, long);
void fwd_a(const float *, float *, long); void fwd_b(const float *, float *, long);
void der_a(const float *, float *, long); void der_b(const float *, float *, long);
static const loop f[4] = {fwd_a, fwd_b, der_a, der_b};
static const char *nm[4] = {"gelu  rev ", "gelu  tree", "gelu' rev ", "gelu' tree"};
static double now(void) {
    struct timespec s; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &s); return s.tv_sec + 1e-9 * s.tv_nsec;
}
static int cmpd(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return (x > y) - (x < y); }
ULPS_HERE
int main(int argc, char **argv) {
    long n = 100000, rounds = atol(argv[1]);
    float *x = malloc(n * 4), *o = malloc(n * 4);
    srand(1);
    for (long i = 0; i < n; i++) {
        double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = (rand() + 1.0) / (RAND_MAX + 2.0);
        x[i] = (float)(3.0 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
    double *t[4];
    for (int k = 0; k < 4; k++) t[k] = malloc(rounds * 8);
    for (long r = 0; r < rounds; r++)
        for (int k = 0; k < 4; k++) { double t0 = now(); f[k](x, o, n); t[k][r] = now() - t0; }
    for (int k = 0; k < 4; k++) {
        qsort(t[k], rounds, 8, cmpd);
        printf("%s: min %.3f median %.3f ns/element\n", nm[k], t[k][0] / n * 1e9, t[k][rounds / 2] / n * 1e9);
    }
    if (!strcmp(argv[2], "bits")) {
        long B = 1 << 20; float *xs = malloc(B * 4), *a = malloc(B * 4), *b = malloc(B * 4);
        for (int d = 0; d < 2; d++) {
            long diff = 0; double wa = 0, wb = 0;
            for (uint64_t s = 0; s < (1ull << 32); s += B) {
                for (long i = 0; i < B; i++) { uint32_t u = (uint32_t)(s + i); memcpy(&xs[i], &u, 4); }
                f[2 * d](xs, a, B); f[2 * d + 1](xs, b, B);
                for (long i = 0; i < B; i++)
                    if (memcmp(&a[i], &b[i], 4)) {
                        diff++;
                        double ea = ulps(a[i], xs[i], d), eb = ulps(b[i], xs[i], d);
                        if (ea > wa) wa = ea;
                        if (eb > wb) wb = eb;
                    }
            }
            printf("%s: %ld of 2^32 inputs give other bits (there: max %.2f ULP rev, %.2f tree)\n",
                   d ? "gelu'" : "gelu ", diff, wa, wb);
        }
    }
    if (!strcmp(argv[2], "ulp")) {
        float lo = atof(argv[3]), hi = atof(argv[4]); uint32_t b0, b1;
        memcpy(&b0, &lo, 4); memcpy(&b1, &hi, 4);
        long m = b1 - b0 + 1; float *xs = malloc(m * 4), *os = malloc(m * 4);
        for (int s = 0; s < 2; s++) {
            for (long i = 0; i < m; i++) { uint32_t u = (b0 + i) | (s ? 0x80000000u : 0u); memcpy(&xs[i], &u, 4); }
            for (int k = 0; k < 4; k++) {
                double w = 0; float at = 0; f[k](xs, os, m);
                for (long i = 0; i < m; i++) {
                    if (k >= 2 && fabs(xs[i]) <= 1.5) continue;
                    double e = ulps(os[i], xs[i], k >= 2);
                    if (e > w) { w = e; at = xs[i]; }
                }
                printf("%s %c[%g, %g]: max %.3f ULP at %.9g\n", nm[k], s ? '-' : '+', lo, hi, w, at);
            }
        }
    }
    return 0;
}
""".replace("ULPS_HERE\n", ULPS_C)


def constants_header(setup_py, constants_dir):
    """fa_constants.h rendered by setup.py's own functions from constants_dir/_constants.py."""
    src = pathlib.Path(setup_py).read_text()
    ns = {"__file__": str(setup_py), "__name__": "gelu32_ops_ab"}
    exec(compile(src[:src.rfind("\nsetup(")], "setup.py", "exec"), ns)  # noqa: S102
    for name in [m for m in sys.modules if m.startswith("_fastact_build")]:
        del sys.modules[name]
    package = types.ModuleType("_fastact_build")
    package.__path__ = [str(constants_dir)]
    sys.modules["_fastact_build"] = package
    return ns["constants_header"](importlib.import_module("_fastact_build._constants"))


def vector_ops(obj, fn):
    """Counter of the operations of fn's innermost vector loop (the shortest backward jump
    spanning >= 20 packed-single instructions) and its FP-port estimate."""
    d = subprocess.run(["objdump", "-d", "--no-show-raw-insn", obj], capture_output=True,
                       text=True, check=True).stdout
    body = d.split(f"<{fn}>:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    ins = [(int(m[1], 16), m[2], m[3]) for m in
           (re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line) for line in body) if m]
    best = None
    for a, op, arg in ins:
        m = re.match(r"([0-9a-f]+) ", arg)
        if op.startswith("j") and op != "jmp" and m and int(m[1], 16) < a:
            b = [x for x in ins if int(m[1], 16) <= x[0] <= a]
            if sum(x[1].endswith("ps") for x in b) >= 20 and (best is None or len(b) < len(best)):
                best = b
    fp = 0
    for _, op, arg in best or []:
        if ("mm" not in arg and not op.startswith("k")) or ("(" in arg and "{" not in arg and op.startswith(("vmov", "vbroadcast", "vpbroadcast"))):
            continue
        if op.startswith(("vmovaps", "vmovdqa")) and "{" not in arg:
            continue
        fp += 3 if op.startswith("vdiv") else 1
    return fp, collections.Counter(op for _, op, _ in best or [])


def main():
    args = sys.argv[1:]
    extra = ["none"]
    if "--bits" in args:
        args.remove("--bits")
        extra = ["bits"]
    if "--ulp" in args:
        i = args.index("--ulp")
        extra = ["ulp", args[i + 1], args[i + 2]]
        del args[i:i + 3]
    rev = args[0] if args else "integrate"
    rounds = args[1] if len(args) > 1 else "41"
    march = args[2] if len(args) > 2 else "x86-64-v4"
    flags = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", f"-march={march}"]
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        for tag, tree in (("a", d / "rev"), ("b", d / "tree")):
            (tree / "fastact" / "_cython").mkdir(parents=True)
            for f in ("fastact/_cython/vmath.h", "fastact/_cython/vmath_real.h",
                      "fastact/_constants.py", "fastact/_coefficients.py", "setup.py"):
                text = (subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{f}"],
                                       capture_output=True, text=True, check=True).stdout
                        if tag == "a" else (ROOT / f).read_text())
                (tree / f).write_text(text)
            (tree / "fastact" / "_cython" / "fa_constants.h").write_text(
                constants_header(tree / "setup.py", tree / "fastact"))
            (d / "loop.c").write_text(LOOP)
            subprocess.run(["gcc", *flags, f"-I{tree / 'fastact' / '_cython'}", f"-DTAG={tag}",
                            "-c", str(d / "loop.c"), "-o", str(d / f"{tag}.o")], check=True)
            for fn in ("fwd", "der"):
                fp, ops = vector_ops(str(d / f"{tag}.o"), f"{fn}_{tag}")
                print(f"{'rev ' if tag == 'a' else 'tree'} {fn}: ~{fp} vector ops per loop iteration; "
                      + " ".join(f"{k}:{v}" for k, v in ops.most_common(8)))
        (d / "main.c").write_text(MAIN)
        subprocess.run(["gcc", "-O2", str(d / "main.c"), str(d / "a.o"), str(d / "b.o"), "-o",
                        str(d / "h"), "-lm"], check=True)
        print(f"rev {rev} against the tree, -march={march}, {rounds} rounds", flush=True)
        subprocess.run([str(d / "h"), rounds, *extra], check=True)


if __name__ == "__main__":
    main()
