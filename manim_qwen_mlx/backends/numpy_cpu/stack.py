"""A decoder stack (the talker's, the code predictor's) in numpy, on zero-copy views of its float32 weights:
a prompt's prefill, one BLAS product per projection over all its tokens, and single-token steps of several
rows, whose products run in the steps' kernel (``rows_kernel``; BLAS without numba) and whose attention
runs over each row's own keys (``attention_kernel`` for rows with a store each; numpy per store)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from manim_qwen_mlx.backends.numpy_cpu.workers import WORKERS
from manim_qwen_mlx.backends.tree import float32_view
from manim_qwen_mlx.core.defaults import LOGGER_NAME

if TYPE_CHECKING:
    from manim_qwen_mlx.backends.numpy_cpu.attention_kernel import RowStores

log = logging.getLogger(LOGGER_NAME)

BLOCK_ROWS = 8  # without numba, rows go through BLAS in blocks of this many, the last one padded


def _blas_rows(weight: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The steps' product without numba: blocks of ``BLOCK_ROWS`` rows, each in pieces of the outputs on
    the cores (``workers``). One shape for every block makes BLAS round a row the same whatever rows share
    its block; a product over however many rows there are (or a matrix-vector one for a single row) does
    not."""
    count = len(rows)
    padded = np.zeros((-(-count // BLOCK_ROWS) * BLOCK_ROWS, rows.shape[1]), np.float32)
    padded[:count] = rows
    out = np.empty((len(padded), weight.shape[0]), np.float32)
    for first in range(0, len(padded), BLOCK_ROWS):
        out[first : first + BLOCK_ROWS] = WORKERS.product(padded[first : first + BLOCK_ROWS], weight)
    return out[:count]


def _kernel(name: str, instead: str) -> ModuleType | None:
    """numba's kernel module ``name``, or None where numba is missing (a Linux dependency) or cannot compile
    here: then ``instead`` runs, slower, never broken."""
    try:
        module: ModuleType = getattr(__import__("manim_qwen_mlx.backends.numpy_cpu", None, None, [name]), name)
    except ImportError:
        return None
    except Exception as exc:
        log.warning("The CPU %s could not be compiled (%s); %s.", name.replace("_", " "), exc, instead)
        return None
    return module


def _products() -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], Callable[[int], None] | None]:
    """The steps' product and what sets its threads: numba's kernel where it runs, else BLAS."""
    module = _kernel("rows_kernel", "BLAS runs the steps' products")
    return (_blas_rows, None) if module is None else (module.rows_times, module.set_threads)


def _row_stores() -> type[RowStores] | None:
    """What gathers one-row stores for numba's attention kernel, or None (numpy's products run it)."""
    module = _kernel("attention_kernel", "numpy runs the attention")
    return None if module is None else module.RowStores


rows_times, kernel_threads = _products()
row_stores = _row_stores()


@dataclass(frozen=True)
class _Linear:
    weight: np.ndarray  # [out, in], a view of the mlx weight
    bias: np.ndarray | None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """A step's rows [R, in] -> [R, out]: the weights stream once for all rows, and each row's values
        are the same whatever R (``rows_kernel``)."""
        return self._biased(rows_times(self.weight, x))

    def tokens(self, x: np.ndarray) -> np.ndarray:
        """A prompt's tokens [T, in] -> [T, out]: column pieces over the cores, the same bits whatever their
        count (``workers``)."""
        return self._biased(WORKERS.product(x, self.weight))

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
class Store:
    """The key/value store of rows at one position, for one stack: [layers, rows, kv heads, capacity, head
    dim]. A talker row has its own (rows join at any length); a frame's code predictor has one for all
    its rows (every frame starts afresh, so all are at the same position)."""

    keys: np.ndarray
    values: np.ndarray
    length: int = 0


class Stack:
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

    def store(self, capacity: int, rows: int = 1) -> Store:
        """An empty store; its pages are only touched as tokens arrive."""
        shape = (len(self.layers), rows, self.kv_heads, capacity, self.head_dim)
        return Store(np.empty(shape, np.float32), np.empty(shape, np.float32))

    def prefill(self, x: np.ndarray, store: Store) -> np.ndarray:
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
            # A kv head's queries as one matrix [group * T, d]; a piece a head, on the cores.
            grouped = q.reshape(tokens, self.kv_heads, group, self.head_dim).transpose(1, 2, 0, 3)
            queries = grouped.reshape(self.kv_heads, -1, self.head_dim)
            attended = np.empty((self.kv_heads, group * tokens, self.head_dim), np.float32)
            WORKERS.run([partial(_causal_attention, queries[head], keys[head], values[head], later,
                                 self.head_dim**-0.5, attended[head]) for head in range(self.kv_heads)])
            attended = attended.reshape(self.kv_heads, group, tokens, -1)
            x = x + layer.o.tokens(attended.transpose(2, 0, 1, 3).reshape(tokens, -1))  # [T, heads * d]
            h = _rms(x, layer.post_norm, self.eps)
            gate = layer.gate.tokens(h)
            x = x + layer.down.tokens(gate / (1.0 + np.exp(-gate)) * layer.up.tokens(h))
        store.length = end
        hidden: np.ndarray = _rms(x[-1], self.norm, self.eps)
        return hidden

    def step(self, x: np.ndarray, stores: list[Store]) -> np.ndarray:
        """The final-norm hidden states [R, D] for one more token of each row [R, D], the rows in the order
        of the ``stores`` that hold them."""
        for store in stores:
            if store.length >= store.keys.shape[3]:
                raise ValueError(f"more than {store.keys.shape[3]} tokens for a store made for that many")
        lengths = np.concatenate([np.full(store.keys.shape[1], store.length, np.float32) for store in stores])
        freqs = lengths[:, None] * self.inv_freq
        angles = np.concatenate([freqs, freqs], axis=-1)[:, None, :]  # [R, 1, d]: every head alike
        cos, sin = np.cos(angles), np.sin(angles)
        gathered = None  # the talker's rows (a store each) attend in the kernel; a frame's predictor rows share one
        if row_stores is not None and all(store.keys.shape[1] == 1 for store in stores):
            lengths = np.array([store.length + 1 for store in stores], np.int64)
            gathered = row_stores([store.keys for store in stores], [store.values for store in stores], lengths)
        for index, layer in enumerate(self.layers):
            x = x + self._attend(index, layer, _rms(x, layer.input_norm, self.eps), cos, sin, stores, gathered)
            h = _rms(x, layer.post_norm, self.eps)
            gate = layer.gate(h)
            x = x + layer.down(gate / (1.0 + np.exp(-gate)) * layer.up(h))
        for store in stores:
            store.length += 1
        return _rms(x, self.norm, self.eps)

    def _attend(
        self, index: int, layer: _Layer, h: np.ndarray, cos: np.ndarray, sin: np.ndarray, stores: list[Store],
        gathered: RowStores | None,
    ) -> np.ndarray:
        rows = h.shape[0]
        q = _rope(_rms(layer.q(h).reshape(rows, self.heads, self.head_dim), layer.q_norm, self.eps), cos, sin)
        k = _rope(_rms(layer.k(h).reshape(rows, self.kv_heads, self.head_dim), layer.k_norm, self.eps), cos, sin)
        v = layer.v(h).reshape(rows, self.kv_heads, self.head_dim)
        first = 0
        for store in stores:
            last, at = first + store.keys.shape[1], store.length
            store.keys[index, :, :, at], store.values[index, :, :, at] = k[first:last], v[first:last]
            first = last
        if gathered is not None:
            return layer.o(gathered.attend(q, index, self.head_dim**-0.5))
        return layer.o(self._store_attention(index, q, stores))

    def _store_attention(self, index: int, q: np.ndarray, stores: list[Store]) -> np.ndarray:
        """[R, heads * d]: each store's rows over its keys (one batched product a store)."""
        out = np.empty((q.shape[0], self.heads * self.head_dim), np.float32)
        first = 0
        for store in stores:
            count, end = store.keys.shape[1], store.length + 1
            last = first + count
            keys, values = store.keys[index, :, :, :end], store.values[index, :, :, :end]  # [n, kv, T, d]
            grouped = q[first:last].reshape(count, self.kv_heads, self.heads // self.kv_heads, self.head_dim)
            scores = grouped @ keys.transpose(0, 1, 3, 2) * (self.head_dim**-0.5)  # [n, kv, group, T]
            weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
            weights /= weights.sum(axis=-1, keepdims=True)
            out[first:last] = (weights @ values).reshape(count, -1)
            first = last
        return out


def linear(layer: Any) -> _Linear:
    return _Linear(float32_view(layer.weight), float32_view(layer.bias) if "bias" in layer else None)


def _layer(layer: Any) -> _Layer:
    attention, mlp = layer.self_attn, layer.mlp
    return _Layer(
        input_norm=float32_view(layer.input_layernorm.weight),
        q=linear(attention.q_proj),
        k=linear(attention.k_proj),
        v=linear(attention.v_proj),
        o=linear(attention.o_proj),
        q_norm=float32_view(attention.q_norm.weight),
        k_norm=float32_view(attention.k_norm.weight),
        post_norm=float32_view(layer.post_attention_layernorm.weight),
        gate=linear(mlp.gate_proj),
        up=linear(mlp.up_proj),
        down=linear(mlp.down_proj),
    )


def _causal_attention(
    q: np.ndarray, keys: np.ndarray, values: np.ndarray, later: np.ndarray, scale: float, out: np.ndarray
) -> None:
    """One key/value head's queries [group * T, d] over its keys and values [end, d] into ``out``; ``later``
    [T, end] hides each token's future."""
    scores = (q @ keys.T).reshape(-1, *later.shape)
    scores *= scale
    scores += later
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores, out=scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    np.matmul(weights.reshape(len(q), -1), values, out=out)


def _rms(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    normed: np.ndarray = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight
    return normed


def _rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """x [R, heads, d] turned by each row's angles [R, 1, d]."""
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    turned: np.ndarray = x * cos + rotated * sin
    return turned
