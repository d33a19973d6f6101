"""The residual units' dilated 7-tap convolutions by Winograd's minimal filtering, F(4, 7).

Four outputs d apart (d the dilation) read the same ten inputs d apart; instead of 28 products of an
input by a weight matrix they take 10, on inputs and weights turned into another basis first (the
inputs by a 10 x 10 matrix, the weights once at load) and turned back after: 0.36 of the direct
convolution's arithmetic, which was most of a decode. The matrices come from evaluating and
interpolating polynomials at the points below and infinity (Toom-Cook); these points keep float32's
rounding near 4e-6 RMS of the output's scale (against 3e-7 directly), far below what a 16-bit WAV keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUTPUTS = 4  # a tile's outputs: F(2, 7) rounds finer but decodes slower (docs/performance.md)
POINTS = (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 0.75, -0.75)  # with infinity: OUTPUTS + taps - 1 of them


def transforms(outputs: int, taps: int, points: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A^T [outputs, n], G [n, taps], B^T [n, n]) in float64, n = outputs + taps - 1, such that the
    correlation y[i] = sum_k g[k] x[i + k] is A^T ((G g) * (B^T x)).

    The correlation is the transpose of the product of polynomials g and h (degree outputs - 1):
    that product's n coefficients are V^-1 ((Vg g) * (Vh h)), V evaluating at the points."""
    size = outputs + taps - 1
    if len(points) != size - 1:
        raise ValueError(f"F({outputs}, {taps}) needs {size - 1} finite points, got {len(points)}")

    def evaluate(degree: int) -> np.ndarray:
        values = np.zeros((size, degree))
        values[:-1] = np.asarray(points)[:, None] ** np.arange(degree)
        values[-1, -1] = 1.0  # at infinity: the leading coefficient
        return values

    return evaluate(outputs).T, evaluate(taps), np.linalg.inv(evaluate(size)).T


@dataclass(frozen=True)
class WinogradConv:
    """A causal stride-1 convolution of 7 taps and dilation d over [time, in], in tiles of OUTPUTS
    outputs d apart."""

    weight: np.ndarray  # [n, in, out]: the taps turned by G, once
    bias: np.ndarray | None
    inputs: np.ndarray  # B^T [n, n], float32
    outputs: np.ndarray  # A^T [OUTPUTS, n], float32
    taps: int
    dilation: int

    @classmethod
    def of(cls, weight: np.ndarray, bias: np.ndarray | None, dilation: int) -> WinogradConv:
        """From mlx's [out, taps, in] weights (read once; the turned copy is 10/7 their size)."""
        taps = weight.shape[1]
        turn_out, turn_weight, turn_in = transforms(OUTPUTS, taps, POINTS)
        turned = np.einsum("nk,oki->nio", turn_weight, weight.astype(np.float64)).astype(np.float32)
        return cls(turned, bias, turn_in.astype(np.float32), turn_out.astype(np.float32), taps, dilation)

    @property
    def reach(self) -> int:
        return (self.taps - 1) * self.dilation

    @property
    def span(self) -> int:
        """Outputs computed together: OUTPUTS tiles for each of the d interleaved phases."""
        return OUTPUTS * self.dilation

    def apply(self, history: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out`` [R, out] (R a multiple of ``span``) from ``history`` [R + reach, in]: output t reads
        history rows t, t + d, ..., t + 6d."""
        rows, d = len(out), self.dilation
        size, channels = self.inputs.shape[0], history.shape[1]
        tiles = rows // self.span
        phases = history[: (tiles * OUTPUTS + self.taps - 1) * d].reshape(-1, d, channels)
        step = phases.strides[0]
        # Tile b, phase r reads phases[b * OUTPUTS + j, r] for j < size: a strided view, no copy.
        windows = np.lib.stride_tricks.as_strided(
            phases, (size, tiles, d, channels), (step, OUTPUTS * step, *phases.strides[1:]), writeable=False
        )
        turned = np.tensordot(self.inputs, windows, axes=1).reshape(size, tiles * d, channels)
        products = np.matmul(turned, self.weight)  # [n, tiles * d, out]: the n products
        back = np.tensordot(self.outputs, products, axes=1)  # [OUTPUTS, tiles * d, out]
        out[:] = back.reshape(OUTPUTS, tiles, d, -1).transpose(1, 0, 2, 3).reshape(rows, -1)
        if self.bias is not None:
            out += self.bias
        return out
