"""One frame's single-token steps in numpy, on the CPU.

Each generated frame runs the talker once and the code predictor sixteen times, one token a row at a
time: products bound by how fast the weights stream from memory. mlx's CPU backend hands a row to BLAS
as a matrix-matrix product that packs the weights (2.6x slower than a matrix-vector one here:
benchmarks/cpu_kernels.py). So on the CPU the steps, and the prompt's prefill (one BLAS product per
projection over all its tokens), run in numpy on zero-copy views of the model's own float32 weights: no
second copy, the same arithmetic in float32. The steps' products over the rows in flight run in our
kernel (``rows_kernel``). Sampling stays in mlx, so the random stream is the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manim_qwen_mlx.backends.base import Draw, MlxAudioTTS, Prompt
from manim_qwen_mlx.backends.numpy_cpu.threads import BlasThreads
from manim_qwen_mlx.backends.tree import float32_view

VOICES_KEPT = 4  # voices whose shared prompt start stays prefilled (a few MB each)
MATRIX_ROWS = 4  # without numba, fewer rows run as matrix-vector products (OpenBLAS's 2-row product is slower)


def _blas_rows(weight: np.ndarray, rows: np.ndarray) -> np.ndarray:
    if len(rows) < MATRIX_ROWS:
        return np.stack([weight @ row for row in rows])
    product: np.ndarray = (weight @ rows.T).T  # W @ X^T: faster than X @ W^T in OpenBLAS, the same values
    return product


def _products() -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], Callable[[int], None] | None]:
    """The steps' product and what sets its threads: numba's kernel where numba imports, else BLAS."""
    try:
        from manim_qwen_mlx.backends.numpy_cpu import rows_kernel
    except ImportError:  # numba is a Linux dependency: elsewhere BLAS runs the steps' products
        return _blas_rows, None
    return rows_kernel.rows_times, rows_kernel.set_threads


rows_times, kernel_threads = _products()


@dataclass(frozen=True)
class _Linear:
    weight: np.ndarray  # [out, in], a view of the mlx weight
    bias: np.ndarray | None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """A step's rows [R, in] -> [R, out]: the weights stream once for all rows, and each row's values
        are the same whatever R (``rows_kernel``)."""
        return self._biased(rows_times(self.weight, np.ascontiguousarray(x, np.float32)))

    def tokens(self, x: np.ndarray) -> np.ndarray:
        """A prompt's tokens [T, in] -> [T, out]: one BLAS product (its large-M speed)."""
        return self._biased((self.weight @ x.T).T)

    def _biased(self, y: np.ndarray) -> np.ndarray:
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


@dataclass
class _Store:
    """The key/value store of rows at one position, for one stack: [layers, rows, kv heads, capacity, head
    dim]. A talker row has its own (rows join at any length); a frame's code predictor has one for all
    its rows (every frame starts afresh, so all are at the same position)."""

    keys: np.ndarray
    values: np.ndarray
    length: int = 0


class _Stack:
    """A decoder stack run one token at a time for several rows, each with its store and position: the
    projections are one product over the rows, attention runs per store over its rows' own keys."""

    def __init__(self, stack: Any, config: Any) -> None:
        self.layers = [_layer(layer) for layer in stack.layers]
        self.norm = float32_view(stack.norm.weight)
        self.eps = float(config.rms_norm_eps)
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = config.head_dim
        # mlx-audio's own (private) frequencies: recomputed in numpy, pow could differ by an ulp from the prefill's.
        self.inv_freq = float32_view(stack.rotary_emb._inv_freq).astype(np.float32)

    def store(self, capacity: int, rows: int = 1) -> _Store:
        """An empty store; its pages are only touched as tokens arrive."""
        shape = (len(self.layers), rows, self.kv_heads, capacity, self.head_dim)
        return _Store(np.empty(shape, np.float32), np.empty(shape, np.float32))

    def prefill(self, x: np.ndarray, store: _Store) -> np.ndarray:
        """The final-norm hidden state [D] after tokens [T, D] that follow those already in ``store`` (a
        prompt, or what follows its voice's shared start), their keys and values written after them. Each
        projection is one product over all the tokens (OpenBLAS's large-M speed); each token attends to
        those before it."""
        start, tokens = store.length, len(x)
        end = start + tokens
        if end > store.keys.shape[3]:
            raise ValueError(f"prefill of {end} tokens exceeds the store of {store.keys.shape[3]}")
        freqs = np.arange(start, end, dtype=np.float32)[:, None] * self.inv_freq
        angles = np.concatenate([freqs, freqs], axis=-1)[:, None, :]  # [T, 1, d]
        cos, sin = np.cos(angles), np.sin(angles)
        later = np.triu(np.full((tokens, end), -np.inf, np.float32), start + 1)  # token i sees start + i and before
        group = self.heads // self.kv_heads
        for index, layer in enumerate(self.layers):
            h = _rms(x, layer.input_norm, self.eps)
            q = layer.q.tokens(h).reshape(tokens, self.heads, self.head_dim)
            k = layer.k.tokens(h).reshape(tokens, self.kv_heads, self.head_dim)
            q, k = _rope(_rms(q, layer.q_norm, self.eps), cos, sin), _rope(_rms(k, layer.k_norm, self.eps), cos, sin)
            v = layer.v.tokens(h).reshape(tokens, self.kv_heads, self.head_dim)
            store.keys[index, 0, :, start:end] = k.transpose(1, 0, 2)
            store.values[index, 0, :, start:end] = v.transpose(1, 0, 2)
            keys, values = store.keys[index, 0, :, :end], store.values[index, 0, :, :end]  # [kv, end, d]
            # A kv head's queries as one matrix [group * T, d]: plain batched products, no broadcasting.
            grouped = q.reshape(tokens, self.kv_heads, group, self.head_dim).transpose(1, 2, 0, 3)
            scores = (grouped.reshape(self.kv_heads, -1, self.head_dim) @ keys.transpose(0, 2, 1)).reshape(
                self.kv_heads, group, tokens, end)
            scores *= self.head_dim**-0.5
            scores += later
            scores -= scores.max(axis=-1, keepdims=True)
            weights = np.exp(scores, out=scores)
            weights /= weights.sum(axis=-1, keepdims=True)
            attended = (weights.reshape(self.kv_heads, -1, end) @ values).reshape(self.kv_heads, group, tokens, -1)
            x = x + layer.o.tokens(attended.transpose(2, 0, 1, 3).reshape(tokens, -1))  # [T, heads * d]
            h = _rms(x, layer.post_norm, self.eps)
            gate = layer.gate.tokens(h)
            x = x + layer.down.tokens(gate / (1.0 + np.exp(-gate)) * layer.up.tokens(h))
        store.length = end
        hidden: np.ndarray = _rms(x[-1], self.norm, self.eps)
        return hidden

    def step(self, x: np.ndarray, stores: list[_Store]) -> np.ndarray:
        """The final-norm hidden states [R, D] for one more token of each row [R, D], the rows in the order
        of the ``stores`` that hold them."""
        for store in stores:
            if store.length >= store.keys.shape[3]:
                raise ValueError(f"more than {store.keys.shape[3]} tokens for a store made for that many")
        lengths = np.concatenate([np.full(store.keys.shape[1], store.length, np.float32) for store in stores])
        freqs = lengths[:, None] * self.inv_freq
        angles = np.concatenate([freqs, freqs], axis=-1)[:, None, :]  # [R, 1, d]: every head alike
        cos, sin = np.cos(angles), np.sin(angles)
        for index, layer in enumerate(self.layers):
            x = x + self._attend(index, layer, _rms(x, layer.input_norm, self.eps), cos, sin, stores)
            h = _rms(x, layer.post_norm, self.eps)
            gate = layer.gate(h)
            x = x + layer.down(gate / (1.0 + np.exp(-gate)) * layer.up(h))
        for store in stores:
            store.length += 1
        return _rms(x, self.norm, self.eps)

    def _attend(
        self, index: int, layer: _Layer, h: np.ndarray, cos: np.ndarray, sin: np.ndarray, stores: list[_Store]
    ) -> np.ndarray:
        rows = h.shape[0]
        q = _rope(_rms(layer.q(h).reshape(rows, self.heads, self.head_dim), layer.q_norm, self.eps), cos, sin)
        k = _rope(_rms(layer.k(h).reshape(rows, self.kv_heads, self.head_dim), layer.k_norm, self.eps), cos, sin)
        v = layer.v(h).reshape(rows, self.kv_heads, self.head_dim)
        out = np.empty((rows, self.heads * self.head_dim), np.float32)
        first = 0
        for store in stores:
            count, at = store.keys.shape[1], store.length
            last = first + count
            store.keys[index, :, :, at], store.values[index, :, :, at] = k[first:last], v[first:last]
            keys, values = store.keys[index, :, :, : at + 1], store.values[index, :, :, : at + 1]  # [n, kv, T, d]
            grouped = q[first:last].reshape(count, self.kv_heads, self.heads // self.kv_heads, self.head_dim)
            scores = grouped @ keys.transpose(0, 1, 3, 2) * (self.head_dim**-0.5)  # [n, kv, group, T]
            weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
            weights /= weights.sum(axis=-1, keepdims=True)
            out[first:last] = (weights @ values).reshape(count, -1)
            first = last
        return layer.o(out)


@dataclass
class NumpyRow:
    """One generation in flight: its prompt's text for the frames to come, its store, its next input."""

    trailing: np.ndarray  # [N, D]
    pad: np.ndarray  # [D]
    store: _Store
    logits: Any = None  # the next frame's [1, V] (mlx), until talk hands it out
    hidden: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))  # [D]
    inputs: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))  # [D], after a frame
    step: int = 0


class NumpySteps:
    """``FrameSteps`` of the numpy-cpu backend: the prefill (one product per projection over the prompt's
    tokens) and every row's single-token steps in numpy, on zero-copy views of the model's float32 weights."""

    def __init__(self, model: MlxAudioTTS) -> None:
        talker = model.talker
        self.model = model
        self.talker = _Stack(talker.model, model.config.talker_config)
        self.codec_head = _linear(talker.codec_head)
        self.codec_embedding = float32_view(talker.model.codec_embedding.weight)
        predictor = talker.code_predictor
        projection = predictor.small_to_mtp_projection
        self.projection = None if projection is None else _linear(projection)
        self.predictor = _Stack(predictor.model, predictor.config)
        self.groups = model.config.talker_config.num_code_groups
        self.heads = [_linear(head) for head in predictor.lm_head]
        self.embeddings = [float32_view(embedding.weight) for embedding in predictor.model.codec_embedding]
        self.threads = BlasThreads(kernel_threads)
        self._shared: dict[bytes, _Store] = {}

    def start(self, prompt: Prompt, max_frames: int) -> NumpyRow:
        import mlx.core as mx

        self.threads.adjust()
        embeds = np.asarray(prompt.embeds[0], dtype=np.float32)
        # Sized for the longest generation; pages are only touched as tokens arrive.
        store = self.talker.store(len(embeds) + max_frames)
        voiced = prompt.voiced if 0 < prompt.voiced < len(embeds) else 0
        if voiced:  # always split there, shared or not, so a row's values never depend on what ran before
            shared = self._voiced(embeds[:voiced])
            store.keys[:, :, :, :voiced], store.values[:, :, :, :voiced] = shared.keys, shared.values
            store.length = voiced
        row = NumpyRow(np.asarray(prompt.trailing[0]), np.asarray(prompt.pad).reshape(-1), store)
        row.hidden = self.talker.prefill(embeds[voiced:], store)
        row.logits = mx.array(self.codec_head(row.hidden[None]))
        return row

    def talk(self, rows: list[NumpyRow]) -> Any:
        import mlx.core as mx

        self.threads.adjust()
        stepping = [row for row in rows if row.logits is None]
        if stepping:
            hidden = self.talker.step(np.stack([row.inputs for row in stepping]), [row.store for row in stepping])
            logits = self.codec_head(hidden)
            for index, row in enumerate(stepping):
                row.hidden, row.logits = hidden[index], mx.array(logits[index])[None]
        out = mx.concatenate([row.logits for row in rows], axis=0)
        for row in rows:
            row.logits = None
        return out

    def frame(self, rows: list[NumpyRow], first: list[int], draws: list[Draw]) -> np.ndarray:
        import mlx.core as mx

        codes = [[code] for code in first]
        stores = [self.predictor.store(self.groups, len(rows))]  # each frame starts afresh
        self._predict(np.stack([row.hidden for row in rows]), stores)
        embed = self.codec_embedding[first]
        for group, head in enumerate(self.heads):
            logits = head(self._predict(embed, stores))
            drawn = [draw(mx.array(logits[index])[None]).reshape(1) for index, draw in enumerate(draws)]
            for row_codes, code in zip(codes, np.array(mx.concatenate(drawn)), strict=True):  # one sync a group
                row_codes.append(int(code))
            embed = self.embeddings[group][[row_codes[-1] for row_codes in codes]]
        total = self.codec_embedding[first]
        for group in range(self.groups - 1):  # summed in mlx's order, then the text added
            total = total + self.embeddings[group][[row_codes[group + 1] for row_codes in codes]]
        for index, row in enumerate(rows):
            text = row.trailing[row.step] if row.step < len(row.trailing) else row.pad
            row.inputs, row.step = text + total[index], row.step + 1
        return np.array(codes, dtype=np.int32)

    def _voiced(self, embeds: np.ndarray) -> _Store:
        """The talker's store after a voice's shared start (role, codec prefix, reference transcript),
        prefilled once for every sentence in that voice: the few most recent are kept, by their inputs."""
        key = hashlib.blake2b(embeds.tobytes(), digest_size=16).digest()
        shared = self._shared.pop(key, None)
        if shared is None:
            shared = self.talker.store(len(embeds))
            self.talker.prefill(embeds, shared)
        self._shared[key] = shared  # the most recently used last
        while len(self._shared) > VOICES_KEPT:
            del self._shared[next(iter(self._shared))]
        return shared

    def _predict(self, x: np.ndarray, stores: list[_Store]) -> np.ndarray:
        return self.predictor.step(x if self.projection is None else self.projection(x), stores)


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
    """x [R, heads, d] turned by each row's angles [R, 1, d]."""
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    turned: np.ndarray = x * cos + rotated * sin
    return turned
