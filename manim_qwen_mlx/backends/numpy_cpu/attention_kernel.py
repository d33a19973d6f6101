"""One new token's attention for rows that each own a key/value store (the talker's rows, each at its own
position), compiled by numba for the machine it runs on.

numpy runs it as a few small products a row and layer, their cost mostly dispatch (figures:
benchmarks/cpu_kernels.py, docs/performance.md). Here one job takes a row and one of
its key/value heads, and the query heads of that group share one read of the head's keys and values. A
row's values depend on its own store alone, whatever rows share the call.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import typed

_FAST = {"reassoc", "contract"}  # as rows_kernel: the sums run eight lanes wide; inf and nan stay exact


@numba.njit(parallel=True, fastmath=_FAST, cache=True, nogil=True)
def _attend(q, keys, values, lengths, layer, scale, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """out [R, heads * d] for queries q [R, heads, d] over keys and values [layers, 1, kv, capacity, d] of
    each row's store (typed lists), the first ``lengths[r]`` positions of ``layer``."""
    rows, heads, size = q.shape
    kv_heads = keys[0].shape[2]
    group = heads // kv_heads
    for job in numba.prange(rows * kv_heads):
        r = job // kv_heads
        kv = job - r * kv_heads
        row_keys, row_values, count = keys[r], values[r], lengths[r]
        weights = np.empty((group, count), np.float32)
        for g in range(group):
            h = kv * group + g
            top = np.float32(-np.inf)
            for t in range(count):
                acc = np.float32(0)
                for d in range(size):
                    acc += q[r, h, d] * row_keys[layer, 0, kv, t, d]
                acc *= scale
                weights[g, t] = acc
                top = max(top, acc)
            total = np.float32(0)
            for t in range(count):
                e = np.exp(weights[g, t] - top)
                weights[g, t] = e
                total += e
            for t in range(count):
                weights[g, t] /= total
        attended = np.zeros((group, size), np.float32)
        for t in range(count):
            for g in range(group):
                w = weights[g, t]
                for d in range(size):
                    attended[g, d] += w * row_values[layer, 0, kv, t, d]
        for g in range(group):
            base = (kv * group + g) * size
            for d in range(size):
                out[r, base + d] = attended[g, d]


class RowStores:
    """The stores of a step's rows (one row each), gathered once for every layer of the step."""

    def __init__(self, keys: list[np.ndarray], values: list[np.ndarray], lengths: np.ndarray) -> None:
        self.keys, self.values, self.lengths = typed.List(keys), typed.List(values), lengths

    def attend(self, q: np.ndarray, layer: int, scale: float) -> np.ndarray:
        """[R, heads * d] for queries [R, heads, d] at ``layer``, each row over its own keys and values."""
        out = np.empty((q.shape[0], q.shape[1] * q.shape[2]), np.float32)
        _attend(np.ascontiguousarray(q, np.float32), self.keys, self.values, self.lengths, layer, np.float32(scale),
                out)
        return out
