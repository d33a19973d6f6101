"""One frame's single-token steps in numpy, on the CPU.

Each generated frame runs the talker once and the code predictor fifteen times, one token at a time:
matrix-vector products, bound by how fast the weights stream from memory. mlx's CPU backend hands
them to BLAS as matrix-matrix products; numpy calls the matrix-vector routine, near the memory bus's
speed (2.6x faster here: benchmarks/cpu_kernels.py). So on the CPU, after mlx's
prefill, the steps run in numpy on zero-copy views of the model's own float32 weights: no second
copy, the same arithmetic in float32. Sampling stays in mlx, so the random stream is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from manim_qwen_mlx.backends.base import Draw, MlxAudioTTS, Prompt
from manim_qwen_mlx.backends.tree import float32_view


@dataclass(frozen=True)
class _Linear:
    weight: np.ndarray  # [out, in], a view of the mlx weight
    bias: np.ndarray | None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y: np.ndarray = self.weight @ x
        return y if self.bias is None else y + self.bias


@dataclass(frozen=True)
class _Layer:
    input_norm: np.ndarray
    q: _Linear
    k: _Linear
    v: _Linear
    o: _Linear
    q_norm: np.ndarray
    k_norm: np.ndarray
    post_norm: np.ndarray
    gate: _Linear
    up: _Linear
    down: _Linear


class _Stack:
    """A decoder stack run one token at a time, with its own key/value store."""

    def __init__(self, stack: Any, config: Any, capacity: int) -> None:
        self.layers = [_layer(layer) for layer in stack.layers]
        self.norm = float32_view(stack.norm.weight)
        self.eps = float(config.rms_norm_eps)
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = config.head_dim
        # mlx-audio's own (private) frequencies: recomputed in numpy, pow could differ by an ulp from the prefill's.
        self.inv_freq = float32_view(stack.rotary_emb._inv_freq).astype(np.float32)
        shape = (len(self.layers), self.kv_heads, capacity, self.head_dim)
        self.keys, self.values = np.empty(shape, np.float32), np.empty(shape, np.float32)
        self.length = 0

    def load(self, cache: list[Any]) -> None:
        """Take over an mlx prefill's key/value caches."""
        self.length = int(cache[0].offset)
        if self.length > self.keys.shape[2]:
            raise ValueError(f"prefill of {self.length} tokens exceeds the store of {self.keys.shape[2]}")
        for index, layer_cache in enumerate(cache):
            self.keys[index, :, : self.length] = float32_view(layer_cache.keys[0, :, : self.length])
            self.values[index, :, : self.length] = float32_view(layer_cache.values[0, :, : self.length])

    def step(self, x: np.ndarray) -> np.ndarray:
        """The final-norm hidden state for one more token [D]."""
        position = self.length
        if position >= self.keys.shape[2]:
            raise ValueError(f"more than {self.keys.shape[2]} tokens for a store made for that many")
        freqs = position * self.inv_freq
        cos, sin = np.cos(np.concatenate([freqs, freqs])), np.sin(np.concatenate([freqs, freqs]))
        for index, layer in enumerate(self.layers):
            x = x + self._attend(index, layer, _rms(x, layer.input_norm, self.eps), cos, sin)
            h = _rms(x, layer.post_norm, self.eps)
            gate = layer.gate(h)
            x = x + layer.down(gate / (1.0 + np.exp(-gate)) * layer.up(h))
        self.length += 1
        return _rms(x, self.norm, self.eps)

    def _attend(self, index: int, layer: _Layer, h: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
        q = _rope(_rms(layer.q(h).reshape(self.heads, self.head_dim), layer.q_norm, self.eps), cos, sin)
        k = _rope(_rms(layer.k(h).reshape(self.kv_heads, self.head_dim), layer.k_norm, self.eps), cos, sin)
        end = self.length + 1
        self.keys[index, :, self.length] = k
        self.values[index, :, self.length] = layer.v(h).reshape(self.kv_heads, self.head_dim)
        keys, values = self.keys[index, :, :end], self.values[index, :, :end]  # [kv, T, d]
        grouped = q.reshape(self.kv_heads, self.heads // self.kv_heads, self.head_dim)
        scores = grouped @ keys.transpose(0, 2, 1) * (self.head_dim**-0.5)  # [kv, group, T]
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        return layer.o((weights @ values).reshape(-1))


class NumpyFrames:
    """A generation's steps (one row) with the single-token ones in numpy: ``FrameSteps`` for the
    numpy-cpu backend. The prompt's prefill (many tokens: a real matrix product) stays in mlx."""

    def __init__(self, model: MlxAudioTTS, prompt: Prompt, max_frames: int) -> None:
        talker = model.talker
        self.model, self.prompt = model, prompt
        # Sized for the longest generation; pages are only touched as tokens arrive.
        self.talker = _Stack(talker.model, model.config.talker_config, prompt.embeds.shape[1] + max_frames)
        self.codec_head = _linear(talker.codec_head)
        self.codec_embedding = float32_view(talker.model.codec_embedding.weight)
        predictor = talker.code_predictor
        projection = predictor.small_to_mtp_projection
        self.projection = None if projection is None else _linear(projection)
        self.predictor = _Stack(predictor.model, predictor.config, model.config.talker_config.num_code_groups)
        self.heads = [_linear(head) for head in predictor.lm_head]
        self.embeddings = [float32_view(embedding.weight) for embedding in predictor.model.codec_embedding]
        self.trailing = np.asarray(prompt.trailing[0])
        self.pad = np.asarray(prompt.pad).reshape(-1)

    def talk(self, inputs: np.ndarray | None) -> tuple[Any, np.ndarray]:
        """Logits [1, V] (mlx, for sampling) and hidden state [D] of the next frame; ``None`` prefills
        the prompt in mlx and takes over its key/value cache."""
        import mlx.core as mx

        if inputs is None:
            cache = self.model.talker.make_cache()
            logits, hidden = self.model.talker(self.prompt.embeds, cache=cache)
            self.talker.load(cache)
            return logits[:, -1, :], np.asarray(hidden[0, -1])
        hidden = self.talker.step(inputs)
        return mx.array(self.codec_head(hidden))[None], hidden

    def frame(self, first: Any, hidden: np.ndarray, step: int, draw: Draw) -> tuple[Any, np.ndarray]:
        """The frame's codes [1, 16] (mlx) and the talker's next input [D]."""
        import mlx.core as mx

        codes = [int(first.item())]
        self.predictor.length = 0
        self._predict(hidden)
        embed = self.codec_embedding[codes[0]]
        for group, head in enumerate(self.heads):
            logits = head(self._predict(embed))
            codes.append(int(draw(mx.array(logits)[None]).item()))
            embed = self.embeddings[group][codes[-1]]
        total = self.codec_embedding[codes[0]]
        for group, code in enumerate(codes[1:]):  # summed in mlx's order, then the text added
            total = total + self.embeddings[group][code]
        text = self.trailing[step] if step < len(self.trailing) else self.pad
        return mx.array([codes], dtype=mx.int32), text + total

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return self.predictor.step(x if self.projection is None else self.projection(x))


def _linear(layer: Any) -> _Linear:
    return _Linear(float32_view(layer.weight), float32_view(layer.bias) if "bias" in layer else None)


def _layer(layer: Any) -> _Layer:
    attention, mlp = layer.self_attn, layer.mlp
    return _Layer(
        input_norm=float32_view(layer.input_layernorm.weight),
        q=_linear(attention.q_proj),
        k=_linear(attention.k_proj),
        v=_linear(attention.v_proj),
        o=_linear(attention.o_proj),
        q_norm=float32_view(attention.q_norm.weight),
        k_norm=float32_view(attention.k_norm.weight),
        post_norm=float32_view(layer.post_attention_layernorm.weight),
        gate=_linear(mlp.gate_proj),
        up=_linear(mlp.up_proj),
        down=_linear(mlp.down_proj),
    )


def _rms(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    normed: np.ndarray = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight
    return normed


def _rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    turned: np.ndarray = x * cos + rotated * sin
    return turned
