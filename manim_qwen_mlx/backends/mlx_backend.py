"""The mlx backend: every step in mlx, one lazy graph for all rows (the talker's keys and values in one
batch cache, ``mlx_slots``: one attention a layer), the next step started in the background; the rows that
join together prefilled as one batch after their voice's shared start, which is prefilled once. Chosen on
Metal (where mlx's kernels are the fast ones), and on the CPU when asked (``MANIM_QWEN_MLX_FAST_CPU=0``)
or when the stored precision is kept (numpy cannot view quantized or bfloat16 weights)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manim_qwen_mlx.backends.base import VOICES_KEPT, Draws, MlxAudioTTS, Prompt
from manim_qwen_mlx.backends.mlx_slots import Seat, SlotCache


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
    """One generation in flight: its prompt, its seat in the talker's batch cache, and where its next step's
    outputs are: row ``index`` of a batch's logits [B, V] and hidden states [B, 1, D] (mlx)."""

    prompt: Prompt
    seat: Seat
    logits: Any = None
    hidden: Any = None
    index: int = 0
    step: int = 0


def _split(prompt: Prompt) -> int:
    """Where a prompt's prefill splits: after its voice's shared start, when it has one and more follows (every
    row alike, so a row's values never depend on what was prefilled before it)."""
    return prompt.voiced if 0 < prompt.voiced < prompt.embeds.shape[1] else 0


def _start_key(prompt: Prompt) -> bytes:
    """The rows that share a voice's start, by its embeddings' bytes (none: the prompt's own)."""
    import mlx.core as mx

    shared = _split(prompt)
    if not shared:
        return id(prompt).to_bytes(8, "little")
    start = np.asarray(prompt.embeds[0, :shared].astype(mx.float32))  # numpy has no bfloat16; exact
    return hashlib.blake2b(start.tobytes(), digest_size=16).digest()


def _rows_of(rows: list[MlxRow], name: str) -> Any:
    """The rows' ``logits`` or ``hidden`` as one batch: the last frame's arrays as they are when the rows are
    that frame's, in its order (no slicing and joining back every frame)."""
    import mlx.core as mx

    first = getattr(rows[0], name)
    if first.shape[0] == len(rows) and all(getattr(r, name) is first and r.index == i for i, r in enumerate(rows)):
        return first
    return mx.concatenate([getattr(row, name)[row.index : row.index + 1] for row in rows], axis=0)


class MlxSteps:
    """``FrameSteps`` in mlx: each step builds one lazy graph for all rows and evaluates it once."""

    def __init__(self, model: MlxAudioTTS) -> None:
        self.model = model
        self.slots = SlotCache(model)
        self._predictors: dict[tuple[Any, ...], Any] = {}
        self._shared: dict[bytes, tuple[list[Any], list[Any]]] = {}

    def start(self, prompts: list[Prompt], max_frames: list[int]) -> list[MlxRow]:
        """New rows, prefilled together by the voice they start with: a voice's shared start (``Prompt.voiced``)
        is prefilled once and kept, and the rest of each prompt after it, as one batch per voice."""
        groups: dict[bytes, list[int]] = {}
        for index, prompt in enumerate(prompts):
            groups.setdefault(_start_key(prompt), []).append(index)
        rows: dict[int, MlxRow] = {}
        for key, members in groups.items():
            rows.update(zip(members, self._start_voice(key, [prompts[index] for index in members]), strict=True))
        return [rows[index] for index in range(len(prompts))]

    def _start_voice(self, key: bytes, prompts: list[Prompt]) -> list[MlxRow]:
        """Rows whose prompts share their first ``voiced`` embeddings: what follows in each, padded to the
        longest and its padding masked out of every row's attention, after the voice's keys and values, so a
        row's logits and keys are what its prefill alone gives."""
        import mlx.core as mx

        shared = _split(prompts[0])
        rests = [prompt.embeds[:, shared:] for prompt in prompts]
        lengths = [rest.shape[1] for rest in rests]
        longest = max(lengths)
        embeds = mx.concatenate([mx.pad(rest, [(0, 0), (0, longest - length), (0, 0)])
                                 for rest, length in zip(rests, lengths, strict=True)])
        positions, lowest = mx.arange(longest), mx.finfo(embeds.dtype).min
        causal = (positions[:, None] < positions[None]).astype(embeds.dtype) * lowest  # mlx-audio's, as mlx makes it
        padded = positions[None, :] >= mx.array(lengths)[:, None]
        own = mx.where(padded[:, None, :], lowest, causal[None])
        mask = mx.concatenate([mx.zeros((len(prompts), longest, shared), embeds.dtype), own], axis=-1)[:, None]
        if shared:
            keys, values = self._voice(key, prompts[0].embeds[:, :shared])
            rows = len(prompts)
            caches = [_ArrayCache(mx.broadcast_to(k, (rows, *k.shape[1:])), mx.broadcast_to(v, (rows, *v.shape[1:])))
                      for k, v in zip(keys, values, strict=True)]
        else:
            caches = [_ArrayCache() for _ in self.model.talker.model.layers]
        # The codec head over each row's last position only: the rest of its logits are never read.
        talker = self.model.talker
        hidden = talker.model(embeds, mask=mask, cache=caches)[mx.arange(len(prompts)), mx.array(lengths) - 1]
        logits, hidden = talker.codec_head(hidden), hidden[:, None]
        seats = self.slots.join([cache.keys for cache in caches], [cache.values for cache in caches],
                                [shared + length for length in lengths])
        return [MlxRow(prompt, seat, logits, hidden, index) for index, (prompt, seat) in enumerate(zip(prompts, seats,
                                                                                                    strict=True))]

    def _voice(self, key: bytes, embeds: Any) -> tuple[list[Any], list[Any]]:
        """The talker's keys and values [1, kv heads, P, head size] per layer after a voice's shared start,
        prefilled once for every sentence in that voice: the few most recent are kept, by their inputs."""
        found = self._shared.pop(key, None)
        if found is None:
            caches = [_ArrayCache() for _ in self.model.talker.model.layers]
            self.model.talker.model(embeds, cache=caches)  # keys and values only
            found = ([cache.keys for cache in caches], [cache.values for cache in caches])
        self._shared[key] = found  # the most recently used last
        while len(self._shared) > VOICES_KEPT:
            del self._shared[next(iter(self._shared))]
        return found

    def drop(self, row: MlxRow) -> None:
        self.slots.leave(row.seat)

    def talk(self, rows: list[MlxRow]) -> Any:
        return _rows_of(rows, "logits")  # started by start or the last frame

    def frame(self, rows: list[MlxRow], first: Any, draws: Draws) -> np.ndarray:
        """Each row's codes [R, 16]. The talker's next step is started at once, evaluated in the background
        while the caller reads the codes (mlx-lm's generate does the same); at end-of-speech or the frame
        ceiling that step is thrown away (one frame of work, as mlx-audio's loop spends)."""
        import mlx.core as mx

        hidden = _rows_of(rows, "hidden")
        stacked, keys, embedded = self._predictor(len(rows), draws)(hidden, first.reshape(-1, 1).astype(mx.int32),
                                                                     draws.keys())
        draws.keep(keys)
        texts = []
        for row in rows:
            trailing = row.prompt.trailing
            texts.append(trailing[:, row.step : row.step + 1] if row.step < trailing.shape[1] else row.prompt.pad)
            row.step += 1
        inputs = mx.concatenate(texts, axis=0) + embedded
        logits, hidden = self.slots.step([row.seat for row in rows], inputs)
        for index, row in enumerate(rows):
            row.logits, row.hidden, row.index = logits, hidden, index
        mx.async_eval(stacked, logits, hidden)  # type: ignore[no-untyped-call]
        return np.array(stacked, dtype=np.int32)

    def _predictor(self, count: int, draws: Draws) -> Any:
        """The code predictor's whole frame for ``count`` rows as one compiled function: (hidden [R, 1, D], the
        first codebook's codes [R, 1], the rows' keys [R, 2]) -> (codes [R, 16], keys, the talker's next input
        from the codes: the sum of their 16 codebook embeddings [R, 1, D]). Its 15 steps and their draws are one
        graph; every frame starts the predictor afresh, so the shapes repeat and it is traced once per row count
        and samplers."""
        import mlx.core as mx

        key = (count, draws.signature)
        if key not in self._predictors:
            talker = self.model.talker
            predictor = talker.code_predictor
            layers, groups = len(predictor.model.layers), self.model.config.talker_config.num_code_groups

            def frame(hidden: Any, first: Any, keys: Any) -> tuple[Any, Any, Any]:
                caches = [_ArrayCache() for _ in range(layers)]
                codes, embedded = [first], talker.get_input_embeddings()(first)
                inputs = mx.concatenate([hidden, embedded], axis=1)
                for group in range(groups - 1):
                    logits, _, _ = predictor(inputs, cache=caches, generation_step=group)
                    drawn, keys = draws(logits[:, -1, :], keys)
                    codes.append(drawn.reshape(-1, 1).astype(mx.int32))
                    inputs = predictor.codec_embedding[group](codes[-1])
                    embedded = embedded + inputs
                return mx.concatenate(codes, axis=1), keys, embedded

            # Traced once: every draws of this signature groups its rows the same way, keys passed in.
            self._predictors[key] = mx.compile(frame)
        return self._predictors[key]


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
