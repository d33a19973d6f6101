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
    """One generation in flight: its prompt, key/value caches, next input (mlx)."""

    prompt: Prompt
    cache: list[Any]
    logits: Any = None  # the next frame's [1, V], until talk hands it out
    hidden: Any = None  # [1, 1, D]
    inputs: Any = None  # [1, 1, D]
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

        for row in rows:
            if row.logits is None:
                row.logits, row.hidden = self._talk(row, row.inputs)
        out = mx.concatenate([row.logits for row in rows], axis=0)
        mx.eval(out, *(row.hidden for row in rows))
        for row in rows:
            row.logits = None
        return out

    def frame(self, rows: list[MlxRow], first: list[int], draws: list[Draw]) -> np.ndarray:
        """Each row's codes [R, 16]; the talker's next inputs, evaluated in the same graph. At
        end-of-speech the input is thrown away (one frame of work, as mlx-audio does)."""
        import mlx.core as mx

        codes = []
        for row, code, draw in zip(rows, first, draws, strict=True):
            frame = self._other_codebooks(mx.array([[code]], dtype=mx.int32), row.hidden, draw)
            trailing = row.prompt.trailing
            text = trailing[:, row.step : row.step + 1] if row.step < trailing.shape[1] else row.prompt.pad
            row.inputs, row.step = text + self._codec_embed(frame), row.step + 1
            codes.append(frame)
        stacked = mx.concatenate(codes, axis=0)
        mx.eval(stacked, *(row.inputs for row in rows))
        return np.array(stacked, dtype=np.int32)

    def _talk(self, row: MlxRow, inputs: Any) -> tuple[Any, Any]:
        logits, hidden = self.model.talker(inputs, cache=row.cache)
        return logits[:, -1, :], hidden[:, -1:, :]

    def _other_codebooks(self, first: Any, hidden: Any, draw: Draw) -> Any:
        """Codebooks 2..16 of one frame from the code predictor; [1, 16]."""
        import mlx.core as mx

        predictor = self.model.talker.code_predictor
        cache = predictor.make_cache()  # each frame starts afresh
        codes = [first]
        inputs = mx.concatenate([hidden, self.model.talker.get_input_embeddings()(first)], axis=1)
        for group in range(self.model.config.talker_config.num_code_groups - 1):
            logits, cache, _ = predictor(inputs, cache=cache, generation_step=group)
            codes.append(draw(logits[:, -1, :]).reshape(1, 1).astype(mx.int32))
            inputs = predictor.codec_embedding[group](codes[-1])
        return mx.concatenate(codes, axis=1)

    def _codec_embed(self, codes: Any) -> Any:
        """The talker's input for a generated frame: the sum of its 16 codebook embeddings, [1, 1, D]."""
        talker = self.model.talker
        embed = talker.get_input_embeddings()(codes[:, :1])
        for group in range(codes.shape[1] - 1):
            embed = embed + talker.code_predictor.codec_embedding[group](codes[:, group + 1 : group + 2])
        return embed
