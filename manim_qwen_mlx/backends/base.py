"""The backend seam: what a backend supplies once it is chosen at load.

A backend decides the precision the weights run at, makes its load-time swaps (text embedding,
decoder stages) and supplies the decoding loop's single-token steps. Nothing above this layer asks
which device runs: ``backends.choose`` asks once, and the loaded model carries the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

Draw = Callable[[Any], Any]  # logits [R, V] (mlx) -> one sampled code per row [R] (mlx)
MlxAudioTTS = Any  # mlx-audio's Qwen3-TTS ``Model`` (untyped upstream): only model/ and backends/ hold one


@dataclass(frozen=True)
class Prompt:
    """The talker's input for one row: what the steps prefill and feed back frame by frame."""

    embeds: Any  # [1, L, D] the prefill (mlx)
    trailing: Any  # [1, N, D] text for the generated frames, one per frame
    pad: Any  # [1, 1, D] text-pad, once the trailing text is used up
    ref_codes: Any = None  # [1, 16, T] for a clone, decoded together with the new codes


class FrameSteps(Protocol):
    """One generation's steps. Logits and codes are mlx arrays with a leading row axis (one row today;
    the scheduler of continuous batching gives several). Hidden states and inputs are the backend's own
    and only travel back into it, so the loop never converts them."""

    def talk(self, inputs: Any | None) -> tuple[Any, Any]:
        """Logits [R, V] and hidden state of the next frame; ``None`` prefills the prompt."""
        ...

    def frame(self, first: Any, hidden: Any, step: int, draw: Draw) -> tuple[Any, Any]:
        """The frame's codes [R, 16], given its first codebook [R], and the talker's next input."""
        ...


class Backend(Protocol):
    @property
    def name(self) -> str:
        """"mlx" or "numpy-cpu"."""
        ...

    @property
    def float32(self) -> bool:
        """Whether loaded weights are made float32 (dequantized, widened) at load."""
        ...

    @property
    def reason(self) -> str:
        """Why this backend and precision, for the log and ``doctor``."""
        ...

    def before_eval(self, model: MlxAudioTTS, folder: Path) -> MlxAudioTTS:
        """Swaps made while the model is still lazy (nothing read yet); returns the model."""
        ...

    def after_fixes(self, model: MlxAudioTTS) -> MlxAudioTTS:
        """Swaps made once the weights are loaded, fixed and at their precision; returns the model."""
        ...

    def steps(self, model: MlxAudioTTS, prompt: Prompt, max_frames: int) -> FrameSteps:
        """The single-token steps of one generation of at most ``max_frames`` frames."""
        ...
