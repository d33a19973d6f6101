"""Decode a clone's sentences from the speech decoder's state after its reference clip.

The official implementation decodes a clone's new codes with the reference's codes in front and cuts
the reference's share off: with a 6 s clip, three of every four frames decoded for a short sentence
were thrown away, sentence after sentence. The decoder is causal, so what it outputs after the
reference depends on the reference only through a bounded state (``DecoderContext``), computed once
per voice and kept with the voice prompt:

- the transformer's keys and values of the last ``sliding_window`` frames (72), at their positions;
- the last two dequantized frames (the reach of the convolution before the transformer);
- the transformer's last ``latent_reach`` output frames (10 in the released decoder): the receptive
  field, in frames, of the upsampling and waveform convolutions behind it.

The waveform stages run over those frames and the sentence's, each layer's input cut to what the
layers after it still need, so the extra work is a fraction of a frame at the costly rates. Decoding
keeps the official ``chunked_decode``'s chunks (300 frames, 25 of left context): a sentence that
crosses a chunk's end goes on from a fresh chunk, as there. Equal to the full decode within float
rounding (tests/test_decoder_context.py, docs/fidelity.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

CONTEXT_VERSION = 1  # in the voice store's file name: bump when the stored arrays change
CHUNK_FRAMES = 300  # the official chunked_decode's chunk (mlx-audio's too)
CHUNK_CONTEXT = 25  # and its left context, in frames
KERNEL = 7  # every convolution behind the transformer (ConvNeXt, first, residual, output)
DILATIONS = (1, 3, 9)  # each waveform block's residual units
PRE_CONV_REACH = 2  # the convolution before the transformer has kernel 3
FIELDS = ("position", "offset", "keys", "values", "history", "latents", "codes")


@dataclass(frozen=True)
class DecoderContext:
    """Where the decoder stands after some codes (a reference's): enough to decode what follows."""

    position: int  # the next frame's index in the whole sequence
    offset: int  # frames the current chunk's transformer has seen, its left context included
    keys: np.ndarray  # [layers, heads, n, head_dim]: the last n <= sliding_window frames'
    values: np.ndarray
    history: np.ndarray  # [2, codebook_dim]: the last dequantized frames (zeros before the chunk)
    latents: np.ndarray  # [m, latent_dim]: the transformer's last outputs, m <= latent reach
    codes: np.ndarray  # [c, 16]: the last codes, c <= CHUNK_CONTEXT (a next chunk's left context)

    def arrays(self) -> dict[str, np.ndarray]:
        """As arrays, for the voice store."""
        return {name: np.asarray(getattr(self, name)) for name in FIELDS}

    @classmethod
    def of_arrays(cls, arrays: dict[str, np.ndarray]) -> DecoderContext:
        return cls(int(arrays["position"]), int(arrays["offset"]), *(arrays[name] for name in FIELDS[2:]))


@dataclass(frozen=True)
class Layer:
    """One layer behind the transformer: the module, its upsampling, and the first input index each
    output index needs (its causal reach)."""

    module: Any
    stride: int
    first_input: Callable[[int], int]


class ContinuedDecoder:
    """The speech decoder of one loaded model, decoding from a ``DecoderContext``."""

    def __init__(self, tokenizer: Any) -> None:
        config = tokenizer.config.decoder_config
        parts = dict(tokenizer.decoder.items())  # mlx-audio may wrap it in mx.compile; items reach the module
        self.quantizer, self.pre_conv = parts["quantizer"], parts["pre_conv"]
        self.transformer = parts["pre_transformer"]
        self.window = int(config.sliding_window)
        self.shapes = (int(config.num_hidden_layers), int(config.num_key_value_heads), int(config.head_dim))
        self.widths = (int(config.codebook_dim), int(config.latent_dim), int(config.num_quantizers))
        self.layers = tuple(_layers(parts, config))
        self.upsample = int(np.prod([layer.stride for layer in self.layers]))
        far = 1000  # any frame far from the start: the reach is the same everywhere
        self.latent_reach = far - self._needs(far * self.upsample)[0]

    def start(self) -> DecoderContext:
        """Nothing decoded yet."""
        layers, heads, head_dim = self.shapes
        empty = np.zeros((layers, heads, 0, head_dim), np.float32)
        return DecoderContext(0, 0, empty, empty, np.zeros((PRE_CONV_REACH, self.widths[0]), np.float32),
                              np.zeros((0, self.widths[1]), np.float32), np.zeros((0, self.widths[2]), np.int32))

    def after(self, codes: np.ndarray) -> DecoderContext:
        """The context after ``codes`` [T, 16] from the start (a reference's codes)."""
        total = len(codes)
        chunk = total // CHUNK_FRAMES * CHUNK_FRAMES
        first = chunk - CHUNK_CONTEXT if chunk else 0  # the chunk's left context starts here
        return self._fresh(np.asarray(codes[first:total], np.int32), total)

    def decode(self, context: DecoderContext, codes: np.ndarray) -> np.ndarray:
        """Samples (float32) of ``codes`` [T, 16] decoded after ``context``."""
        return self.decode_later(context, codes).finish()

    def decode_later(self, context: DecoderContext, codes: np.ndarray) -> LaterSamples:
        """``decode`` in two parts: every mlx layer now, the numpy stages behind them when ``finish`` is
        called, from any thread."""
        import mlx.core as mx

        codes = np.asarray(codes, np.int32)
        if len(codes) == 0:
            return LaterSamples.ready(np.zeros(0, np.float32))
        room = CHUNK_FRAMES - context.position % CHUNK_FRAMES
        now, rest = codes[:room], codes[room:]
        latents, _, _ = self._front(context, now)  # a sentence's own state is not needed: nothing follows
        joined = mx.concatenate([mx.array(context.latents)[None], latents], axis=1)
        first = self._waveform(joined, len(context.latents))
        if len(rest) == 0:
            return first
        # The next chunk starts afresh from its own left context, as the official chunked_decode does.
        before = np.concatenate([context.codes, now])[-CHUNK_CONTEXT:]
        second = self.decode_later(self._fresh(before, context.position + room), rest)
        return LaterSamples(lambda: np.concatenate([first.finish(), second.finish()]),
                            first.numpy_left or second.numpy_left)

    def _fresh(self, codes: np.ndarray, position: int) -> DecoderContext:
        """The context after ``codes``, a chunk's first frames, its left context included."""
        start = self.start()
        if len(codes) == 0:
            return start
        latents, caches, joined = self._front(start, codes)
        keys = np.stack([np.array(cache.keys[0, :, -self.window :]) for cache in caches])
        values = np.stack([np.array(cache.values[0, :, -self.window :]) for cache in caches])
        return DecoderContext(position, len(codes), keys, values, np.array(joined[0, -PRE_CONV_REACH:]),
                              np.array(latents[0, -self.latent_reach :]), codes[-CHUNK_CONTEXT:])

    def _front(self, context: DecoderContext, codes: np.ndarray) -> tuple[Any, list[WindowCache], Any]:
        """The transformer's outputs [1, T, latent] for ``codes`` after ``context``, lazily, with what a
        state after them is read from: each layer's cache and the dequantized frames (mlx)."""
        import mlx.core as mx

        from manim_qwen_mlx.model.fixes import sliding_window_mask

        dequantized = self.quantizer.decode(mx.array(codes.T[None])).transpose(0, 2, 1)  # [1, T, C]
        joined = mx.concatenate([mx.array(context.history)[None], dequantized], axis=1)
        hidden = self.pre_conv(joined)[:, PRE_CONV_REACH:]
        kept = context.keys.shape[2]
        caches = [WindowCache(mx.array(k[None]), mx.array(v[None]), context.offset)
                  for k, v in zip(context.keys, context.values, strict=True)]
        mask = sliding_window_mask(context.offset, len(codes), self.window)[:, context.offset - kept :]
        return self.transformer(hidden, mask=mask.astype(hidden.dtype), cache=caches), caches, joined

    def _needs(self, first_output: int) -> list[int]:
        """Each layer's first needed input index (from the start of its input) for output from
        ``first_output`` on, walking back from the last layer."""
        needs, need = [], first_output
        for layer in reversed(self.layers):
            need = layer.first_input(need)
            needs.append(need)
        return needs[::-1]

    def _waveform(self, latents: Any, skip: int) -> LaterSamples:
        """Samples of ``latents`` [1, L, latent] from frame ``skip`` on: each layer's input cut to what
        the layers after it need, so the skipped frames cost little past the first layers. The mlx layers
        run now; the numpy stages after them (the numpy-cpu backend's) when ``finish`` is called."""
        import mlx.core as mx

        from manim_qwen_mlx.backends.base import NumpyStage

        plan = list(zip(self.layers, self._needs(skip * self.upsample), strict=True))
        split = len(plan)
        while split and isinstance(plan[split - 1][0].module, NumpyStage):
            split -= 1
        x, start = latents, 0
        for layer, need in plan[:split]:
            if need > start:
                x, start = x[:, need - start :], need
            x = layer.module(x)
            start *= layer.stride
        if split == len(plan):
            return LaterSamples.ready(np.array(mx.clip(x[0, skip * self.upsample - start :, 0], -1.0, 1.0), np.float32))
        held, at = np.array(x[0], np.float32), start  # evaluated here, on the thread that runs mlx

        def numpy_stages() -> np.ndarray:
            y, first = held, at
            for layer, need in plan[split:]:
                if need > first:
                    y, first = y[need - first :], need
                y = layer.module.numpy(y)
                first *= layer.stride
            return np.clip(y[skip * self.upsample - first :, 0], -1.0, 1.0)

        return LaterSamples(numpy_stages, True)


@dataclass(frozen=True)
class LaterSamples:
    """A decode's samples: ``finish()`` makes what is left of them, numpy only (no mlx), so any thread
    may call it; ``numpy_left`` says whether anything is (the numpy-cpu backend's waveform stages)."""

    finish: Callable[[], np.ndarray]
    numpy_left: bool

    @classmethod
    def ready(cls, samples: np.ndarray) -> LaterSamples:
        return cls(lambda: samples, False)


class WindowCache:
    """A layer's keys and values for the decoder transformer (mlx-lm's cache interface): the last frames
    kept, ``offset`` the position of the next, so positions stay those of the full decode."""

    def __init__(self, keys: Any, values: Any, offset: int) -> None:
        self.keys, self.values, self.offset = keys, values, offset

    def update_and_fetch(self, keys: Any, values: Any) -> tuple[Any, Any]:
        import mlx.core as mx

        self.keys = mx.concatenate([self.keys, keys], axis=2)
        self.values = mx.concatenate([self.values, values], axis=2)
        self.offset += keys.shape[2]
        return self.keys, self.values


def _layers(parts: dict[str, Any], config: Any) -> list[Layer]:
    """The layers behind the transformer in order, with their reaches (mlx-audio's decoder: upsampling
    by transposed convolutions of kernel = stride, ConvNeXt blocks, then the waveform blocks)."""
    layers = []
    for (transpose, convnext), ratio in zip(parts["upsample"], config.upsampling_ratios, strict=True):
        layers += [Layer(transpose, int(ratio), _spread(int(ratio), 1)), Layer(convnext, 1, _causal(KERNEL - 1))]
    first, *blocks, snake, output = parts["decoder"]
    layers.append(Layer(first, 1, _causal(KERNEL - 1)))
    for block, rate in zip(blocks, config.upsample_rates, strict=True):
        layers.append(Layer(block, int(rate), _block(int(rate))))
    return [*layers, Layer(snake, 1, _causal(0)), Layer(output, 1, _causal(KERNEL - 1))]


def _causal(reach: int) -> Callable[[int], int]:
    return lambda n: n - reach


def _spread(stride: int, overlap: int) -> Callable[[int], int]:
    """A transposed convolution of kernel ``overlap`` x stride: output n needs inputs n // stride back
    to ``overlap - 1`` before it."""
    return lambda n: n // stride - (overlap - 1)


def _block(rate: int) -> Callable[[int], int]:
    """A waveform block: a transposed convolution of kernel 2 x rate, then residual units."""
    units, upsample = _causal((KERNEL - 1) * sum(DILATIONS)), _spread(rate, 2)
    return lambda n: upsample(units(n))
