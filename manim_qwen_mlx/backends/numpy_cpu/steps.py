"""One frame's single-token steps in numpy, on the CPU.

Each generated frame runs the talker once and the code predictor sixteen times, one token a row at a
time: products bound by how fast the weights stream from memory. mlx's CPU backend hands a row to BLAS
as a matrix-matrix product that packs the weights (slower than a matrix-vector one:
benchmarks/cpu_kernels.py). So on the CPU the steps, and the prompt's prefill (one BLAS product per
projection over all its tokens), run in numpy on zero-copy views of the model's own float32 weights: no
second copy, the same arithmetic in float32. The steps' products over the rows in flight run in our
kernel (``rows_kernel``). Sampling stays in mlx, so the random stream is the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manim_qwen_mlx.backends.base import VOICES_KEPT, Draws, MlxAudioTTS, Prompt
from manim_qwen_mlx.backends.numpy_cpu.stack import Stack, Store, kernel_threads, linear
from manim_qwen_mlx.backends.numpy_cpu.threads import CpuThreads
from manim_qwen_mlx.backends.tree import float32_view


@dataclass
class NumpyRow:
    """One generation in flight: its prompt's text for the frames to come, its store, its next input."""

    trailing: np.ndarray  # [N, D]
    pad: np.ndarray  # [D]
    store: Store
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
        self.talker = Stack(talker.model, model.config.talker_config)
        self.codec_head = linear(talker.codec_head)
        self.codec_embedding = float32_view(talker.model.codec_embedding.weight)
        predictor = talker.code_predictor
        projection = predictor.small_to_mtp_projection
        self.projection = None if projection is None else linear(projection)
        self.predictor = Stack(predictor.model, predictor.config)
        self.groups = model.config.talker_config.num_code_groups
        self.heads = [linear(head) for head in predictor.lm_head]
        self.embeddings = [float32_view(embedding.weight) for embedding in predictor.model.codec_embedding]
        self.threads = CpuThreads(kernel_threads)
        self._shared: dict[bytes, Store] = {}

    def start(self, prompts: list[Prompt], max_frames: list[int]) -> list[NumpyRow]:
        return [self._start(prompt, most) for prompt, most in zip(prompts, max_frames, strict=True)]

    def _start(self, prompt: Prompt, max_frames: int) -> NumpyRow:
        """One row's prefill: each row's is its own (its products split by shape alone, ``Stack.prefill``)."""
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

    def drop(self, row: NumpyRow) -> None:
        pass  # a row's store is its own: it goes with the row

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

    def frame(self, rows: list[NumpyRow], firsts: Any, draws: Draws) -> np.ndarray:
        import mlx.core as mx

        first = [int(code) for code in np.array(firsts)]

        self.threads.adjust()  # a decode beside the steps may have taken or left a core since ``talk``
        codes = [[code] for code in first]
        stores = [self.predictor.store(self.groups, len(rows))]  # each frame starts afresh
        self._predict(np.stack([row.hidden for row in rows]), stores)
        embed, keys = self.codec_embedding[first], draws.keys()
        for group, head in enumerate(self.heads):
            logits = head(self._predict(embed, stores))
            drawn, keys = draws(mx.array(logits), keys)
            for row_codes, code in zip(codes, np.array(drawn), strict=True):  # one sync a group
                row_codes.append(int(code))
            embed = self.embeddings[group][[row_codes[-1] for row_codes in codes]]
        draws.keep(keys)
        total = self.codec_embedding[first]
        for group in range(self.groups - 1):  # summed in mlx's order, then the text added
            total = total + self.embeddings[group][[row_codes[group + 1] for row_codes in codes]]
        for index, row in enumerate(rows):
            text = row.trailing[row.step] if row.step < len(row.trailing) else row.pad
            row.inputs, row.step = text + total[index], row.step + 1
        return np.array(codes, dtype=np.int32)

    def _voiced(self, embeds: np.ndarray) -> Store:
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

    def _predict(self, x: np.ndarray, stores: list[Store]) -> np.ndarray:
        return self.predictor.step(x if self.projection is None else self.projection(x), stores)
