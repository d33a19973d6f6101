"""The speech-to-text companions mlx-audio loads: the Qwen3 forced aligner and a speech recognizer.
Loaded at the chosen backend's precision; what the rest of the package sees is a typed wrapper."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manim_qwen_mlx import backends
from manim_qwen_mlx.backends import precision
from manim_qwen_mlx.backends.blas import prepare_blas
from manim_qwen_mlx.core.defaults import LOGGER_NAME
from manim_qwen_mlx.core.errors import ModelLoadError
from manim_qwen_mlx.model.loader import quiet_load

log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class AlignedWord:
    text: str
    start: float  # seconds into the clip


@dataclass(frozen=True)
class ForcedAligner:
    module: Any  # mlx-audio's Qwen3-ForcedAligner

    def align(self, samples: np.ndarray, text: str, language: str) -> list[AlignedWord]:
        """Word start times of ``text`` in ``samples`` (16 kHz)."""
        return [AlignedWord(str(item.text), float(item.start_time))
                for item in self.module.generate(audio=samples, text=text, language=language)]


@dataclass(frozen=True)
class Recognizer:
    module: Any  # an mlx-audio STT model

    def transcribe(self, samples: np.ndarray, max_tokens: int) -> str:
        """What it hears in ``samples`` (16 kHz), at most ``max_tokens`` tokens."""
        import mlx.core as mx

        result = self.module.generate(mx.array(samples), max_tokens=max_tokens)
        return str(getattr(result, "text", "")).strip()


def load_aligner(path: Path) -> ForcedAligner:
    return ForcedAligner(_load(path, "the aligner"))


def load_recognizer(path: Path) -> Recognizer:
    module = _load(path, "the speech recognizer")
    if not hasattr(module, "generate"):
        raise ModelLoadError(f"{path} is not a speech-to-text model mlx-audio can run.")
    return Recognizer(module)


def _load(path: Path, what: str) -> Any:
    prepare_blas()
    from mlx_audio.stt.utils import load_model

    module, _ = quiet_load(load_model, path, what)
    if backends.choose().float32:
        precision.to_float32(module)
    return module
