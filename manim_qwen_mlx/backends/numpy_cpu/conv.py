"""Layers for the CPU with the same weights and results as mlx-audio's, in far fewer passes:
convolutions as matmuls (the decoder's stages before its waveform blocks, which are ``decoder``'s).

Weights keep mlx's layout, [out, kernel, in], so the swapped layer reads the loaded parameters.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import mlx.nn as nn


class FastConv1d(nn.Module):  # type: ignore[misc,name-defined]
    """Stride-1, unpadded Conv1d (any dilation): plain (groups 1) or depthwise (groups = channels)."""

    def __init__(self, stock: Any) -> None:
        super().__init__()
        self.weight = stock.weight
        if "bias" in stock:
            self.bias = stock.bias
        self.dilation = int(stock.dilation)
        self.depthwise = stock.groups != 1

    def __call__(self, x: mx.array) -> mx.array:
        out_channels, kernel, _ = self.weight.shape
        length = x.shape[1] - self.dilation * (kernel - 1)
        taps = [x[:, i * self.dilation : i * self.dilation + length, :] for i in range(kernel)]
        if self.depthwise:
            y = taps[0] * self.weight[:, 0, 0]
            for i in range(1, kernel):
                y = y + taps[i] * self.weight[:, i, 0]
        else:
            # im2col: the K shifted views side by side, then one matmul against [K * in, out].
            cols = taps[0] if kernel == 1 else mx.concatenate(taps, axis=-1)
            y = cols @ self.weight.reshape(out_channels, -1).T
        out: mx.array = y + self.bias if "bias" in self else y
        return out


class FastConvTranspose1d(nn.Module):  # type: ignore[misc,name-defined]
    """Unpadded ConvTranspose1d whose kernel is a multiple of its stride: one matmul, then overlap-add
    of kernel/stride shifted copies."""

    def __init__(self, stock: Any) -> None:
        super().__init__()
        self.weight = stock.weight
        if "bias" in stock:
            self.bias = stock.bias
        self.stride = int(stock.stride)

    def __call__(self, x: mx.array) -> mx.array:
        out_channels, kernel, in_channels = self.weight.shape
        batch, length, _ = x.shape
        stride, copies = self.stride, kernel // self.stride
        # Every input step spreads over `kernel` output steps: [B, T, in] @ [in, kernel * out].
        spread = x @ self.weight.transpose(2, 1, 0).reshape(in_channels, kernel * out_channels)
        spread = spread.reshape(batch, length, copies, stride, out_channels)
        total = length + copies - 1
        y = mx.zeros((batch, total, stride, out_channels), dtype=spread.dtype)
        for copy in range(copies):
            y = y + mx.pad(spread[:, :, copy], [(0, 0), (copy, copies - 1 - copy), (0, 0), (0, 0)])
        y = y.reshape(batch, total * stride, out_channels)
        out: mx.array = y + self.bias if "bias" in self else y
        return out
