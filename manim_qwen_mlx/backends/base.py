"""The backend seam: what a backend supplies once it is chosen at load.

A backend decides the precision the weights run at, makes its load-time swaps (text embedding,
decoder stages) and supplies the decoding loop's single-token steps. Nothing above this layer asks
which device runs: ``backends.choose`` asks once, and the loaded model carries the answer.
"""

from __future__ import annotations

from collections.abc import Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # mlx comes in with the model, not with the package
    import mlx.core as mx

MlxAudioTTS = Any  # mlx-audio's Qwen3-TTS ``Model`` (untyped upstream): only model/ and backends/ hold one
Row = TypeVar("Row")  # a backend's own row in flight (``MlxRow``, ``NumpyRow``)
VOICES_KEPT = 4  # voices whose shared prompt start (``Prompt.voiced``) stays prefilled, a few MB each


@dataclass(frozen=True)
class Prompt:
    """The talker's input for one row: what the steps prefill and feed back frame by frame."""

    embeds: mx.array  # [1, L, D] the prefill
    trailing: mx.array  # [1, N, D] text for the generated frames, one per frame
    pad: mx.array  # [1, 1, D] text-pad, once the trailing text is used up
    voiced: int = 0  # how many first embeds depend on the voice and language alone (shared by their sentences)


class Draws(Protocol):
    """The rows' draws of codebooks 2..16 (``synthesis.decode.RowDraws``): a pure function of the logits
    [R, V] and the rows' random keys [R, 2] that returns each row's code [R] and the keys after, so a
    backend may trace it into a compiled graph; ``signature`` is what else it depends on."""

    @property
    def signature(self) -> Hashable: ...

    def keys(self) -> mx.array: ...

    def keep(self, keys: mx.array) -> None: ...

    def __call__(self, logits: mx.array, keys: mx.array) -> tuple[mx.array, mx.array]: ...


class FrameSteps(Protocol[Row]):
    """The single-token steps of rows in flight, for one loaded model. Each row has its own prompt and
    position, so rows of different lengths join and leave without padding. Logits are mlx arrays [R, V]
    (sampling stays in mlx, one random stream per row); codes come back as numpy [R, 16], once a frame;
    whatever else a row holds is the backend's own: ``MlxSteps`` is ``FrameSteps[MlxRow]``, ``NumpySteps``
    ``FrameSteps[NumpyRow]``. Which one runs is chosen at load, so a loaded model's steps are
    ``FrameSteps[Any]`` and the scheduler holds each row as an opaque ``object`` it only hands back."""

    def start(self, prompts: list[Prompt], max_frames: list[int]) -> list[Row]:
        """New rows, one a prompt, prefilled (together where the backend can: a row's values are still its
        own), each generating at most its ``max_frames``; the next ``talk`` hands out the prefills' logits."""
        ...

    def talk(self, rows: list[Row]) -> mx.array:
        """Logits [R, V] of each row's next frame (mlx; they may still be computing)."""
        ...

    def frame(self, rows: list[Row], first: mx.array, draws: Draws) -> np.ndarray:
        """Every row's frame, given its first codebook's code (mlx [R], possibly not computed yet) and the rows'
        draws for the others: codes [R, 16] (numpy int32), the frame's one wait; each row's next input is
        kept for the next ``talk``."""
        ...

    def drop(self, row: Row) -> None:
        """The row left (ended, or cancelled): what it held is freed."""
        ...


@runtime_checkable
class NumpyStage(Protocol):
    """A decoder layer that runs in numpy: the same computation on one item [time, channels], touching no
    mlx, so a thread beside the steps may run it."""

    def numpy(self, item: np.ndarray) -> np.ndarray: ...


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

    def steps(self, model: MlxAudioTTS) -> FrameSteps[Any]:
        """Steps for rows of ``model``, its weights read once."""
        ...

    def beside_steps(self) -> AbstractContextManager[None] | None:
        """What a thread holds while it decodes (numpy stages) beside the steps, or None where no decoding
        runs beside them (mlx: one device, one stream of work)."""
        ...
