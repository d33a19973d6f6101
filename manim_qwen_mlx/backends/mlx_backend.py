"""The mlx backend: every step in mlx, one lazy graph and one sync per frame. Chosen on Metal (where
mlx's kernels are the fast ones), and on the CPU when asked (``MANIM_QWEN_MLX_FAST_CPU=0``) or when the
stored precision is kept (numpy cannot view quantized or bfloat16 weights)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    def steps(self, model: MlxAudioTTS, prompt: Prompt, max_frames: int) -> MlxFrames:
        return MlxFrames(model, prompt)


class MlxFrames:
    """A generation's steps in mlx (one row)."""

    def __init__(self, model: MlxAudioTTS, prompt: Prompt) -> None:
        self.model, self.prompt = model, prompt
        self.cache = model.talker.make_cache()

    def talk(self, inputs: Any | None) -> tuple[Any, Any]:
        """Logits [1, V] and hidden state [1, 1, D] of the next frame; ``None`` prefills the prompt."""
        logits, hidden = self.model.talker(self.prompt.embeds if inputs is None else inputs, cache=self.cache)
        return logits[:, -1, :], hidden[:, -1:, :]

    def frame(self, first: Any, hidden: Any, step: int, draw: Draw) -> tuple[Any, Any]:
        """The frame's codes [1, 16] and the talker's next input, evaluated together. At end-of-speech
        the input is thrown away (one frame of work, as mlx-audio does)."""
        import mlx.core as mx

        codes = self._other_codebooks(first, hidden, draw)
        trailing = self.prompt.trailing
        text = trailing[:, step : step + 1] if step < trailing.shape[1] else self.prompt.pad
        inputs = text + self._codec_embed(codes)
        mx.eval(inputs, codes)
        return codes, inputs

    def _other_codebooks(self, first: Any, hidden: Any, draw: Draw) -> Any:
        """Codebooks 2..16 of one frame from the code predictor; [1, 16]."""
        import mlx.core as mx

        predictor = self.model.talker.code_predictor
        cache = predictor.make_cache()  # each frame starts afresh
        codes = [first.reshape(1, 1)]
        inputs = mx.concatenate([hidden, self.model.talker.get_input_embeddings()(codes[0])], axis=1)
        for group in range(self.model.config.talker_config.num_code_groups - 1):
            logits, cache, _ = predictor(inputs, cache=cache, generation_step=group)
            codes.append(draw(logits[:, -1, :]).reshape(1, 1))
            inputs = predictor.codec_embedding[group](codes[-1])
        return mx.concatenate(codes, axis=1)

    def _codec_embed(self, codes: Any) -> Any:
        """The talker's input for a generated frame: the sum of its 16 codebook embeddings, [1, 1, D]."""
        talker = self.model.talker
        embed = talker.get_input_embeddings()(codes[:, :1])
        for group in range(codes.shape[1] - 1):
            embed = embed + talker.code_predictor.codec_embedding[group](codes[:, group + 1 : group + 2])
        return embed
