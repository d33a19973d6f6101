"""The speech decoder's waveform stages in numpy, on the CPU.

After the transformer and its upsampling, the decoder's first convolution widens the frames, four blocks
upsample them 480x (Snake activation, transposed convolution, three residual units of Snake, dilated
convolution, Snake, pointwise convolution), then a last Snake and convolution. mlx's CPU ``sin`` is ~12x
slower than numpy's vectorised one (benchmarks/cpu_kernels.py) and an im2col convolution copies its input
seven times, so these stages took most of a decode.
Here every stage runs over the clip in chunks of a few megabytes that the cores share (``workers``), each
fused: a residual unit's Snake, dilated convolution by Winograd's F(4, 7) (``winograd``: 0.36 of the
products), Snake, pointwise product and residual. The chunks depend on the shapes alone, so the samples
do not depend on the thread count. Temporaries stay chunk-sized whatever the clip's length; the weights
are zero-copy views of the loaded ones, but for the transposed convolutions', rearranged once at load
into one causal convolution, and the dilated convolutions', turned once into Winograd's basis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from manim_qwen_mlx.backends.numpy_cpu.winograd import WinogradConv
from manim_qwen_mlx.backends.numpy_cpu.workers import WORKERS
from manim_qwen_mlx.backends.tree import all_float32, float32_view

CHUNK_VALUES = 1 << 20  # floats in one chunk's taps (4 MiB) at most: cache-sized, and few Python steps
CHUNKS_ALIGN = 4  # chunks come in multiples of this, for up to four threads
MIN_ROWS = 16  # a chunk's rows at least: smaller ones cost more Python than they balance


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

    def taps(self, x: np.ndarray, start: int, rows: int, fill: Callable[[np.ndarray, np.ndarray], Any]) -> np.ndarray:
        """The taps (im2col) of outputs ``start`` to ``start + rows``, from the input rows as ``fill(rows,
        into)`` transforms them, zeros before the first; in this thread's scratch buffers."""
        channels = x.shape[1]
        history = inputs_of(x, start, rows, self.reach, fill)
        taps = WORKERS.scratch("taps", (rows, self.kernel * channels))
        for k in range(self.kernel):
            taps[:, k * channels : (k + 1) * channels] = history[k * self.dilation : k * self.dilation + rows]
        return taps

    def apply(self, taps: np.ndarray, out: np.ndarray) -> np.ndarray:
        np.matmul(taps, self.weight.T, out=out)
        if self.bias is not None:
            out += self.bias
        return out


def inputs_of(
    x: np.ndarray, start: int, rows: int, reach: int, fill: Callable[[np.ndarray, np.ndarray], Any]
) -> np.ndarray:
    """The input rows that outputs ``start`` to ``start + rows`` of a causal convolution read, as ``fill(rows,
    into)`` transforms them, zeros before the first and after the last; in this thread's scratch buffer."""
    history = WORKERS.scratch("history", (rows + reach, x.shape[1]))
    first, last = max(0, start - reach), min(len(x), start + rows)
    padding = reach - (start - first)
    history[:padding] = 0
    fill(x[first:last], history[padding : padding + last - first])
    history[padding + last - first :] = 0
    return history


def in_chunks(length: int, row_values: int, piece: Callable[[int, int], object], align: int = 1) -> None:
    """``piece(start, rows)`` for every chunk of ``length`` outputs, on the cores (``workers``). The chunks
    depend on the shapes alone (so the bits do not depend on the thread count): about CHUNK_VALUES values
    each, in a multiple of CHUNKS_ALIGN chunks, so that a few threads finish together; all but the last
    a multiple of ``align`` rows."""
    count = -(-length // max(MIN_ROWS, CHUNK_VALUES // row_values))
    rows = max(MIN_ROWS, -(-length // (-(-count // CHUNKS_ALIGN) * CHUNKS_ALIGN)))
    rows = -(-rows // align) * align
    WORKERS.run([partial(piece, start, min(rows, length - start)) for start in range(0, length, rows)])


class ResidualUnit:
    """x + conv2(snake2(conv1(snake1(x)))), fused chunk by chunk; conv1 (7 taps) by Winograd's F(4, 7)."""

    def __init__(self, unit: Any) -> None:
        self.act1, self.act2 = Snake.of(unit.act1), Snake.of(unit.act2)
        self.conv1, self.conv2 = CausalConv.of(unit.conv1.conv), CausalConv.of(unit.conv2.conv)
        conv = self.conv1
        self.fast = None if conv.kernel != 7 else WinogradConv.of(
            conv.weight.reshape(len(conv.weight), conv.kernel, -1), conv.bias, conv.dilation)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        span = 1 if self.fast is None else self.fast.span

        def chunk(start: int, rows: int) -> None:
            mid = self._conv1(x, start, rows)
            self.conv2.apply(self.act2(mid, WORKERS.scratch("active", mid.shape)), out[start : start + rows])
            out[start : start + rows] += x[start : start + rows]

        in_chunks(len(x), self.conv1.kernel * x.shape[1], chunk, span)
        return out

    def _conv1(self, x: np.ndarray, start: int, rows: int) -> np.ndarray:
        if self.fast is None:
            taps = self.conv1.taps(x, start, rows, self.act1)
            return self.conv1.apply(taps, WORKERS.scratch("mid", (rows, x.shape[1])))
        whole = -(-rows // self.fast.span) * self.fast.span  # the last chunk's tiles run past the clip: cut off
        history = inputs_of(x, start, whole, self.fast.reach, self.act1)
        return self.fast.apply(history, WORKERS.scratch("mid", (whole, x.shape[1])))[:rows]


class Upsample:
    """Snake, then a transposed convolution (kernel K, stride s), trimmed to s x the length. Output step
    t s + j is ``b + sum_c W[:, c s + j] x[t - c]``: a causal convolution of K / s taps with s x out outputs,
    which is how it runs (its weights rearranged once, at load)."""

    def __init__(self, snake: Any, upsample: Any) -> None:
        self.act = Snake.of(snake)
        conv = upsample.conv
        weight = float32_view(conv.weight)  # [out, K, in]
        self.out_channels, kernel, in_channels = weight.shape
        self.stride = int(conv.stride)
        copies = -(-kernel // self.stride)
        padded = np.zeros((self.out_channels, copies * self.stride, in_channels), np.float32)
        padded[:, :kernel] = weight
        # Tap k of the convolution reads x[t - (copies - 1 - k)]: the transposed weights' copy c = copies - 1 - k.
        taps = padded.reshape(self.out_channels, copies, self.stride, in_channels)[:, ::-1]
        flat = np.ascontiguousarray(taps.transpose(2, 0, 1, 3)).reshape(self.stride * self.out_channels, -1)
        bias = np.tile(float32_view(conv.bias), self.stride) if "bias" in conv else None
        self.conv = CausalConv(flat, bias, copies, 1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((len(x), self.stride * self.out_channels), np.float32)

        def chunk(start: int, rows: int) -> None:
            self.conv.apply(self.conv.taps(x, start, rows, self.act), out[start : start + rows])

        in_chunks(len(x), self.conv.kernel * x.shape[1], chunk)
        return out.reshape(len(x) * self.stride, self.out_channels)


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

    def numpy(self, item: np.ndarray) -> np.ndarray:
        return self.stages(item)


class WholeConv:
    """A causal convolution over the whole input (the decoder's first and last: zeros padded on the left)."""

    def __init__(self, layer: Any) -> None:
        self.conv = CausalConv.of(layer.conv)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((len(x), self.conv.weight.shape[0]), np.float32)

        def chunk(start: int, rows: int) -> None:
            taps = self.conv.taps(x, start, rows, lambda rows, into: np.copyto(into, rows))
            self.conv.apply(taps, out[start : start + rows])

        in_chunks(len(x), self.conv.kernel * x.shape[1], chunk)
        return out


class OutputSnake:
    def __init__(self, layer: Any) -> None:
        self.act = Snake.of(layer)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        in_chunks(len(x), x.shape[1], lambda start, rows: self.act(
            x[start : start + rows], out[start : start + rows]))
        return out


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
