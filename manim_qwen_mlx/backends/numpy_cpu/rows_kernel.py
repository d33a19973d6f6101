"""The steps' products of a few rows with a weight matrix, compiled by numba for the machine it runs on.

A step multiplies each weight matrix by one row per generation in flight. The weights do not fit in
cache, so the time is the stream of them from memory; BLAS packs them for a matrix product, slower for a
few rows than this kernel (figures: benchmarks/cpu_kernels.py, docs/performance.md).
This kernel reads each weight once for all the rows, four outputs against two rows at a time, with a
zero row padding an odd count. Every output of a row is summed in one order whatever rows share the
product, so a row's codes at batch B are bit for bit its codes at batch 1.
"""

from __future__ import annotations

import numba
import numpy as np

# Reassociation lets the sums run eight lanes wide; no other fast-math assumption (inf and nan stay exact).
_FAST = {"reassoc", "contract"}


@numba.njit(
    "void(float32[:, ::1], float32[:, ::1], float32[:, ::1])", parallel=True, fastmath=_FAST, cache=True, nogil=True
)
def _pairs(weight: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """out [M, N] = rows [M, K] @ weight [N, K]^T, M even."""
    n_out, depth = weight.shape
    for block in numba.prange((n_out + 3) // 4):
        n = block * 4
        if n + 4 <= n_out:
            for m in range(0, rows.shape[0], 2):
                a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = np.float32(0)
                for k in range(depth):
                    x0, x1 = rows[m, k], rows[m + 1, k]
                    w = weight[n, k]
                    a00 += w * x0
                    a01 += w * x1
                    w = weight[n + 1, k]
                    a10 += w * x0
                    a11 += w * x1
                    w = weight[n + 2, k]
                    a20 += w * x0
                    a21 += w * x1
                    w = weight[n + 3, k]
                    a30 += w * x0
                    a31 += w * x1
                out[m, n], out[m + 1, n], out[m, n + 1], out[m + 1, n + 1] = a00, a01, a10, a11
                out[m, n + 2], out[m + 1, n + 2], out[m, n + 3], out[m + 1, n + 3] = a20, a21, a30, a31
        else:  # the last outputs of a width that is not a multiple of four
            for j in range(n, n_out):
                for m in range(0, rows.shape[0], 2):
                    s0 = s1 = np.float32(0)
                    for k in range(depth):
                        w = weight[j, k]
                        s0 += w * rows[m, k]
                        s1 += w * rows[m + 1, k]
                    out[m, j], out[m + 1, j] = s0, s1


def rows_times(weight: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """rows [R, K] @ weight [N, K]^T -> [R, N] float32, each row's values independent of R. The rows are
    copied once, into the padded float32 block the kernel reads, whatever their layout."""
    count = len(rows)
    padded = np.zeros((count + count % 2, rows.shape[1]), np.float32)
    padded[:count] = rows
    out = np.empty((len(padded), weight.shape[0]), np.float32)
    _pairs(weight, padded, out)
    return out[:count]


def set_threads(count: int) -> None:
    """The threads the kernel splits its outputs over (process-wide, like BLAS's)."""
    numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
