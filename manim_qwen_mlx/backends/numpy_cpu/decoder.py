"""The speech decoder's waveform stages in numpy, on the CPU.

After the transformer and its upsampling, the decoder's first convolution widens the frames, four blocks
upsample them 480x (Snake activation, transposed convolution, three residual units of Snake, dilated
convolution, Snake, pointwise convolution), then a last Snake and convolution. mlx's CPU ``sin`` is ~28x
slower than numpy's vectorised one (benchmarks/cpu_kernels.py) and an im2col convolution copies its input
seven times, so these stages took most of a decode.
Here each residual unit runs over the clip in chunks of a few megabytes, fused: Snake, convolution as
one matrix product of the chunk's taps, Snake, pointwise product, residual. Temporaries stay
chunk-sized whatever the clip's length, and the weights are zero-copy views of the loaded ones where
their layout serves the products (a transposed view is copied once, at load).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from manim_qwen_mlx.backends.tree import all_float32, float32_view

CHUNK_VALUES = 1 << 20  # floats in one chunk's taps (4 MiB): cache-sized, and few Python steps


@dataclass(frozen=True)
class Snake:
    """x + sin(a x)^2 / b, with a = exp(alpha) and 1 / (b + eps) computed once."""

    scale: np.ndarray
    inverse: np.ndarray

    @classmethod
    def of(cls, layer: Any) -> Snake:
        alpha, beta = float32_view(layer.alpha), float32_view(layer.beta)
        return cls(np.exp(alpha), (1.0 / (np.exp(beta) + np.float32(layer.eps))).astype(np.float32))

    def __call__(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Into ``out``, which must not overlap ``x``."""
        np.multiply(x, self.scale, out=out)
        np.sin(out, out=out)
        np.multiply(out, out, out=out)
        np.multiply(out, self.inverse, out=out)
        np.add(out, x, out=out)
        return out


@dataclass(frozen=True)
class CausalConv:
    """A stride-1 convolution over [time, in] padded with zeros on the left (as mlx-audio's causal
    layers): ``y[t] = b + sum_k W[:, k] x[t - (K - 1 - k) d]``."""

    weight: np.ndarray  # [out, K * in]: mlx's [out, K, in] layout, viewed flat
    bias: np.ndarray | None
    kernel: int
    dilation: int

    @classmethod
    def of(cls, conv: Any) -> CausalConv:
        out_channels, kernel, _ = conv.weight.shape
        bias = float32_view(conv.bias) if "bias" in conv else None
        return cls(float32_view(conv.weight).reshape(out_channels, -1), bias, kernel, int(conv.dilation))

    @property
    def reach(self) -> int:
        return (self.kernel - 1) * self.dilation

    def chunks(self, x: np.ndarray, fill: Callable[[np.ndarray, np.ndarray], Any]) -> Iterator[tuple[int, np.ndarray]]:
        """Each chunk of outputs' first index and taps (im2col), from the input rows as ``fill(rows,
        into)`` transforms them; the zero padding comes before the first. Buffers are chunk-sized."""
        length, channels = x.shape
        reach = self.reach
        rows = max(reach + 1, 64, CHUNK_VALUES // (self.kernel * channels))
        history = np.zeros((rows + reach, channels), np.float32)
        taps = np.empty((rows, self.kernel * channels), np.float32)
        for start in range(0, length, rows):
            n = min(rows, length - start)
            lo = max(0, start - reach)
            fill(x[lo : start + n], history[reach - (start - lo) : reach + n])
            for k in range(self.kernel):
                first = k * self.dilation
                taps[:n, k * channels : (k + 1) * channels] = history[first : first + n]
            yield start, taps[:n]

    def apply(self, taps: np.ndarray, out: np.ndarray) -> np.ndarray:
        np.matmul(taps, self.weight.T, out=out)
        if self.bias is not None:
            out += self.bias
        return out


class ResidualUnit:
    """x + conv2(snake2(conv1(snake1(x)))), fused chunk by chunk."""

    def __init__(self, unit: Any) -> None:
        self.act1, self.act2 = Snake.of(unit.act1), Snake.of(unit.act2)
        self.conv1, self.conv2 = CausalConv.of(unit.conv1.conv), CausalConv.of(unit.conv2.conv)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        mid = active = np.empty(0, np.float32)
        for start, taps in self.conv1.chunks(x, self.act1):
            n = len(taps)
            if len(mid) < n:
                mid, active = np.empty((n, x.shape[1]), np.float32), np.empty((n, x.shape[1]), np.float32)
            self.conv1.apply(taps, mid[:n])
            self.conv2.apply(self.act2(mid[:n], active[:n]), out[start : start + n])
            out[start : start + n] += x[start : start + n]
        return out


class Upsample:
    """Snake, then a transposed convolution (kernel = 2 x stride) trimmed to ``stride`` x the length."""

    def __init__(self, snake: Any, upsample: Any) -> None:
        self.act = Snake.of(snake)
        conv = upsample.conv
        # [out, K, in]. A checkpoint's transposed weights load as a strided view ([in, out, K] in memory): in
        # that order each tap's product gathers its matrix anew, 3.4x slower for the first block, so copy once.
        self.weight = np.ascontiguousarray(float32_view(conv.weight))
        self.bias = float32_view(conv.bias) if "bias" in conv else None
        self.stride = int(conv.stride)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        length, in_channels = x.shape
        out_channels, kernel, _ = self.weight.shape
        out = np.zeros((length, self.stride, out_channels), np.float32)
        if self.bias is not None:
            out += self.bias
        rows = max(64, CHUNK_VALUES // in_channels)
        active = np.empty((rows, in_channels), np.float32)
        for start in range(0, length, rows):
            n = min(rows, length - start)
            self.act(x[start : start + n], out=active[:n])
            # Input step t spreads over output steps t * stride + k: tap k = c * stride + j lands c rows
            # on, in phase j; what lands past the end is the causal trim.
            for k in range(kernel):
                copy, phase = divmod(k, self.stride)
                end = min(start + n + copy, length)
                if end > start + copy:
                    out[start + copy : end, phase] += active[: end - start - copy] @ self.weight[:, k, :].T
        return out.reshape(length * self.stride, out_channels)


@dataclass(frozen=True)
class Stages:
    """numpy stages run one after another over one batch item [time, channels]."""

    stages: tuple[Callable[[np.ndarray], np.ndarray], ...]

    def __call__(self, item: np.ndarray) -> np.ndarray:
        for stage in self.stages:
            item = stage(item)
        return item


class NumpyBlock(nn.Module):  # type: ignore[misc,name-defined]
    """A decoder block (or the final Snake and convolution) as numpy stages; mlx arrays in and out.
    Its stages are a plain attribute (not an mlx container), so they are no children in the module tree."""

    def __init__(self, stages: Stages) -> None:
        super().__init__()
        self.stages = stages

    def __call__(self, x: mx.array) -> mx.array:
        return mx.array(np.stack([self.stages(item) for item in np.asarray(x)]))  # batch items one by one


class WholeConv:
    """A causal convolution over the whole input (the decoder's first and last: zeros padded on the left)."""

    def __init__(self, layer: Any) -> None:
        self.conv = CausalConv.of(layer.conv)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[0], self.conv.weight.shape[0]), np.float32)
        for start, taps in self.conv.chunks(x, lambda rows, into: np.copyto(into, rows)):
            self.conv.apply(taps, out[start : start + len(taps)])
        return out


class OutputSnake:
    def __init__(self, layer: Any) -> None:
        self.act = Snake.of(layer)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.act(x, out=np.empty_like(x))


def numpy_version(layer: Any) -> NumpyBlock | None:
    """The numpy stand-in for one of the decoder's waveform layers, or None (another kind of layer, or
    weights that are not float32, which numpy cannot view)."""
    from mlx_audio.tts.models.qwen3_tts.speech_tokenizer import (
        DecoderBlock,
        DecoderInitialConv,
        DecoderOutputConv,
        DecoderOutputSnake,
    )

    waveform = DecoderInitialConv | DecoderBlock | DecoderOutputSnake | DecoderOutputConv
    if not isinstance(layer, waveform) or not all_float32(layer):
        return None
    if isinstance(layer, DecoderBlock):
        snake, upsample, *units = layer.block
        return NumpyBlock(Stages((Upsample(snake, upsample), *(ResidualUnit(unit) for unit in units))))
    if isinstance(layer, DecoderOutputSnake):
        return NumpyBlock(Stages((OutputSnake(layer),)))
    return NumpyBlock(Stages((WholeConv(layer),)))  # the first convolution or the last
