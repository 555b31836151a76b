"""One hash of every output of the softmax family over awkward inputs: two builds give the
same hash when they give the same bits.

    python bench/softmax_bits.py [BACKEND]      (numba by default, or cython)
    PYTHONPATH=<another checkout> python bench/softmax_bits.py [BACKEND]

softmax, softmin, log_softmax and logsumexp; float32 and float64; rows of n = 1-1000 in
batches of 1-1025 rows, with NaN, +-inf, all -inf, tied and large rows; 1 and 2 threads;
in place; axis 1 of a 3-D array.  Each output is also checked against the NumPy reference
(loosely: a mismatch is printed).  Prints the number of outputs and their hash.
"""
import hashlib
import sys

import numpy as np

import fastact


def inputs(rng, dtype):
    for n in (1, 2, 7, 8, 15, 16, 17, 31, 64, 100, 128, 256, 1000):
        for rows in (1, 3, 15, 16, 17, 127, 128, 129, 300, 1025):
            if rows * n > 300000:
                continue
            x = (rng.standard_normal((rows, n)) * 5).astype(dtype)
            yield f"{rows}x{n}", x
            if rows >= 16 and n <= 64:
                y = x.copy()
                y[1, n // 2] = np.nan
                y[3, :] = -np.inf
                y[5, 0] = np.inf
                if rows > 7:
                    y[7, :] = 2.5
                if rows > 9:
                    y[9, 0] = -np.inf
                if rows > 140:
                    y[140, -1] = np.nan
                yield f"{rows}x{n} special", y
                yield f"{rows}x{n} ties", np.round(x).astype(dtype)
                yield f"{rows}x{n} large", (x * 30).astype(dtype)


def main(backend):
    digest = hashlib.sha256()
    count = 0
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        for name, x in inputs(rng, dtype):
            for op in ("softmax", "softmin", "log_softmax", "logsumexp"):
                f = getattr(fastact, op)
                for threads in (1, 2):
                    fastact.set_num_threads(threads)
                    got = f(x, backend=backend)
                    digest.update(np.ascontiguousarray(got).tobytes())
                    count += 1
                    if not np.allclose(got, f(x, backend="numpy"), rtol=1e-4, atol=1e-6,
                                       equal_nan=True):
                        print("differs from numpy:", op, np.dtype(dtype).name, name, threads)
                if x.shape[0] >= 16:
                    if op != "logsumexp":
                        y = x.copy()
                        f(y, out=y, backend=backend)
                        digest.update(y.tobytes())
                    columns = x.reshape(1, *x.shape).transpose(0, 2, 1).copy()
                    got = f(columns, axis=1, backend=backend)
                    digest.update(np.ascontiguousarray(got).tobytes())
                    count += 2
    print(count, digest.hexdigest())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "numba")
