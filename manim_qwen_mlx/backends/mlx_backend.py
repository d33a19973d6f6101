"""The mlx backend: every step in mlx, one lazy graph for all rows (dense layers batched, attention per
row), the next step started in the background. Chosen on Metal (where mlx's kernels are the fast ones),
and on the CPU when asked (``MANIM_QWEN_MLX_FAST_CPU=0``) or when the stored precision is kept (numpy
cannot view quantized or bfloat16 weights)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manim_qwen_mlx.backends.base import Draw, MlxAudioTTS, Prompt

COMPILE_PREDICTOR = True  # benchmarks/compile_predictor.py turns it off for its other arm


@dataclass(frozen=True)
class MlxBackend:
    float32: bool
    reason: str
    name: str = "mlx"

    def before_eval(self, model: MlxAudioTTS, folder: Path) -> MlxAudioTTS:
        return model  # the stored text embedding stays in memory, as mlx-audio loads it

    def after_fixes(self, model: MlxAudioTTS) -> MlxAudioTTS:
        return model  # mlx-audio's own layers

    def steps(self, model: MlxAudioTTS) -> MlxSteps:
        return MlxSteps(model)

    def beside_steps(self) -> None:
        return None  # every decode in mlx, on the thread that steps


@dataclass
class MlxRow:
    """One generation in flight: its prompt, key/value caches, next step's outputs (mlx)."""

    prompt: Prompt
    cache: list[Any]
    logits: Any = None  # the next frame's [1, V], until talk hands it out
    hidden: Any = None  # [1, 1, D]
    step: int = 0


class MlxSteps:
    """``FrameSteps`` in mlx: each step builds one lazy graph for all rows and evaluates it once."""

    def __init__(self, model: MlxAudioTTS) -> None:
        self.model = model
        self._predictor_steps: dict[int, Any] = {}

    def start(self, prompt: Prompt, max_frames: int) -> MlxRow:
        row = MlxRow(prompt, self.model.talker.make_cache())
        row.logits, row.hidden = self._talk(row, prompt.embeds)
        return row

    def talk(self, rows: list[MlxRow]) -> Any:
        import mlx.core as mx

        out = mx.concatenate([row.logits for row in rows], axis=0)  # started by start or the last frame
        mx.eval(out, *(row.hidden for row in rows))
        for row in rows:
            row.logits = None
        return out

    def frame(self, rows: list[MlxRow], first: list[int], draw: Draw) -> np.ndarray:
        """Each row's codes [R, 16]. The talker's next step is started at once, evaluated in the background
        while the caller reads the codes (mlx-lm's generate does the same); at end-of-speech or the frame
        ceiling that step is thrown away (one frame of work, as mlx-audio's loop spends)."""
        import mlx.core as mx

        hidden = mx.concatenate([row.hidden for row in rows], axis=0)
        stacked = self._other_codebooks(mx.array([[code] for code in first], dtype=mx.int32), hidden, draw)
        texts = []
        for row in rows:
            trailing = row.prompt.trailing
            texts.append(trailing[:, row.step : row.step + 1] if row.step < trailing.shape[1] else row.prompt.pad)
            row.step += 1
        logits, hidden = self._talk_rows(rows, mx.concatenate(texts, axis=0) + self._codec_embed(stacked))
        for index, row in enumerate(rows):
            row.logits, row.hidden = logits[index : index + 1], hidden[index : index + 1]
        mx.async_eval(stacked, *(row.logits for row in rows), *(row.hidden for row in rows))  # type: ignore[no-untyped-call]
        return np.array(stacked, dtype=np.int32)

    def _talk(self, row: MlxRow, inputs: Any) -> tuple[Any, Any]:
        logits, hidden = self.model.talker(inputs, cache=row.cache)
        return logits[:, -1, :], hidden[:, -1:, :]

    def _talk_rows(self, rows: list[MlxRow], inputs: Any) -> tuple[Any, Any]:
        """One talker step of every row, inputs [R, 1, D]: the dense layers as one batch, attention per
        row over its own keys and values at its own position; logits [R, V] and hidden [R, 1, D]."""
        import mlx.core as mx
        from mlx_audio.tts.models.qwen3_tts.talker import apply_multimodal_rotary_pos_emb

        model = self.model.talker.model
        count = len(rows)
        positions = mx.array([[row.cache[0].offset] for row in rows], dtype=mx.int32)
        cos, sin = model.rotary_emb(inputs, mx.broadcast_to(positions[None], (3, count, 1)))
        x = inputs
        for index, layer in enumerate(model.layers):
            attention, h = layer.self_attn, layer.input_layernorm(x)
            heads, kv_heads, size = attention.num_heads, attention.num_kv_heads, attention.head_dim
            q = attention.q_norm(attention.q_proj(h).reshape(count, 1, heads, size)).transpose(0, 2, 1, 3)
            k = attention.k_norm(attention.k_proj(h).reshape(count, 1, kv_heads, size)).transpose(0, 2, 1, 3)
            v = attention.v_proj(h).reshape(count, 1, kv_heads, size).transpose(0, 2, 1, 3)
            q, k = apply_multimodal_rotary_pos_emb(q, k, cos, sin)
            out = []
            for number, row in enumerate(rows):
                keys, values = row.cache[index].update_and_fetch(k[number : number + 1], v[number : number + 1])
                out.append(mx.fast.scaled_dot_product_attention(q[number : number + 1], keys, values,
                                                                scale=attention.scale))
            x = x + attention.o_proj(mx.concatenate(out, axis=0).transpose(0, 2, 1, 3).reshape(count, 1, -1))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        hidden = model.norm(x)
        return self.model.talker.codec_head(hidden)[:, -1, :], hidden

    def _other_codebooks(self, first: Any, hidden: Any, draw: Draw) -> Any:
        """Codebooks 2..16 of every row's frame from the code predictor, all rows in one batch (each
        frame starts afresh, so every row is at the same position); [R, 16]."""
        import mlx.core as mx

        predictor = self.model.talker.code_predictor
        state: list[Any] = []
        codes = [first]
        inputs = mx.concatenate([hidden, self.model.talker.get_input_embeddings()(first)], axis=1)
        for group in range(self.model.config.talker_config.num_code_groups - 1):
            last, *state = self._predictor_step(group)(inputs, *state)
            codes.append(draw(last).reshape(-1, 1).astype(mx.int32))
            inputs = predictor.codec_embedding[group](codes[-1])
        return mx.concatenate(codes, axis=1)

    def _predictor_step(self, group: int) -> Any:
        """The code predictor's step ``group``: logits [R, V] and its caches' arrays, from its input and those
        arrays. Every frame starts the predictor afresh, so a step's shapes repeat frame after frame and
        one compiled graph (per row count) serves them all (1.1-1.3x on the tiny checkpoint,
        benchmarks/compile_predictor.py)."""
        import mlx.core as mx

        if group not in self._predictor_steps:
            predictor = self.model.talker.code_predictor
            layers = len(predictor.model.layers)

            def step(inputs: Any, *state: Any) -> tuple[Any, ...]:
                caches = [_ArrayCache(*state[2 * i : 2 * i + 2]) for i in range(layers)]
                logits, _, _ = predictor(inputs, cache=caches, generation_step=group)
                return (logits[:, -1, :], *(array for cache in caches for array in (cache.keys, cache.values)))

            self._predictor_steps[group] = mx.compile(step) if COMPILE_PREDICTOR else step
        return self._predictor_steps[group]

    def _codec_embed(self, codes: Any) -> Any:
        """The talker's input for each row's generated frame: the sum of its 16 codebook embeddings, [R, 1, D]."""
        talker = self.model.talker
        embed = talker.get_input_embeddings()(codes[:, :1])
        for group in range(codes.shape[1] - 1):
            embed = embed + talker.code_predictor.codec_embedding[group](codes[:, group + 1 : group + 2])
        return embed


class _ArrayCache:
    """mlx-audio's KVCache contract (``offset``, ``update_and_fetch``) over arrays passed in and out, so a
    predictor step is a pure function that ``mx.compile`` can trace."""

    def __init__(self, keys: Any = None, values: Any = None) -> None:
        self.keys, self.values = keys, values
        self.offset = 0 if keys is None else keys.shape[2]

    def update_and_fetch(self, keys: Any, values: Any) -> tuple[Any, Any]:
        import mlx.core as mx

        self.keys = keys if self.keys is None else mx.concatenate([self.keys, keys], axis=2)
        self.values = values if self.values is None else mx.concatenate([self.values, values], axis=2)
        self.offset += keys.shape[2]
        return self.keys, self.values
