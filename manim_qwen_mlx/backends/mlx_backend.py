"""The mlx backend: every step in mlx, one lazy graph and one sync per step for all rows. Chosen on Metal (where
mlx's kernels are the fast ones), and on the CPU when asked (``MANIM_QWEN_MLX_FAST_CPU=0``) or when the
stored precision is kept (numpy cannot view quantized or bfloat16 weights)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manim_qwen_mlx.backends.base import Draw, MlxAudioTTS, Prompt


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

    def frame(self, rows: list[MlxRow], first: list[int], draws: list[Draw]) -> np.ndarray:
        """Each row's codes [R, 16]. The talker's next step is started at once, evaluated in the background
        while the caller reads the codes (mlx-lm's generate does the same); at end-of-speech or the frame
        ceiling that step is thrown away (one frame of work, as mlx-audio's loop spends)."""
        import mlx.core as mx

        hidden = mx.concatenate([row.hidden for row in rows], axis=0)
        stacked = self._other_codebooks(mx.array([[code] for code in first], dtype=mx.int32), hidden, draws)
        embeds = self._codec_embed(stacked)
        for index, row in enumerate(rows):
            trailing = row.prompt.trailing
            text = trailing[:, row.step : row.step + 1] if row.step < trailing.shape[1] else row.prompt.pad
            row.step += 1
            row.logits, row.hidden = self._talk(row, text + embeds[index : index + 1])
        mx.async_eval(stacked, *(row.logits for row in rows), *(row.hidden for row in rows))  # type: ignore[no-untyped-call]
        return np.array(stacked, dtype=np.int32)

    def _talk(self, row: MlxRow, inputs: Any) -> tuple[Any, Any]:
        logits, hidden = self.model.talker(inputs, cache=row.cache)
        return logits[:, -1, :], hidden[:, -1:, :]

    def _other_codebooks(self, first: Any, hidden: Any, draws: list[Draw]) -> Any:
        """Codebooks 2..16 of every row's frame from the code predictor, all rows in one batch (each
        frame starts afresh, so every row is at the same position); [R, 16]."""
        import mlx.core as mx

        predictor = self.model.talker.code_predictor
        cache = predictor.make_cache()
        codes = [first]
        inputs = mx.concatenate([hidden, self.model.talker.get_input_embeddings()(first)], axis=1)
        for group in range(self.model.config.talker_config.num_code_groups - 1):
            logits, cache, _ = predictor(inputs, cache=cache, generation_step=group)
            last = logits[:, -1, :]
            picked = [draw(last[index : index + 1]).reshape(1, 1) for index, draw in enumerate(draws)]
            codes.append(mx.concatenate(picked, axis=0).astype(mx.int32))
            inputs = predictor.codec_embedding[group](codes[-1])
        return mx.concatenate(codes, axis=1)

    def _codec_embed(self, codes: Any) -> Any:
        """The talker's input for each row's generated frame: the sum of its 16 codebook embeddings, [R, 1, D]."""
        talker = self.model.talker
        embed = talker.get_input_embeddings()(codes[:, :1])
        for group in range(codes.shape[1] - 1):
            embed = embed + talker.code_predictor.codec_embedding[group](codes[:, group + 1 : group + 2])
        return embed
