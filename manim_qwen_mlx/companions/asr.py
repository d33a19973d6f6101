"""Transcripts from an mlx-audio speech-to-text model (Qwen3-ASR by default), loaded on first use and
then shared; never on a cache hit. For the intelligibility check of verified takes, and for a
reference clip that has no transcript."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from manim_qwen_mlx.audio import resample
from manim_qwen_mlx.core.defaults import ALIGNER_SAMPLE_RATE, LOGGER_NAME, SAMPLE_RATE
from manim_qwen_mlx.core.errors import ModelLoadError, ModelNotAvailableError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.text import spoken_units
from manim_qwen_mlx.model import loader, stt

log = logging.getLogger(LOGGER_NAME)
_models: dict[Path, stt.Recognizer] = {}
_unavailable: set[str] = set()  # warned once per process
_lock = threading.Lock()


def load(ref: ModelRef, allow_download: bool) -> stt.Recognizer:
    """The STT model, loaded once; raises ModelNotAvailableError / ModelLoadError."""
    path = loader.resolve_path(ref, allow_download, "asr")
    with _lock:
        if path not in _models:
            log.info("Loading speech recognizer from %s", path)
            _models[path] = stt.load_recognizer(path)
        return _models[path]


def load_or_warn(ref: ModelRef, allow_download: bool) -> stt.Recognizer | None:
    """The model, or None (saying once why) where it cannot be had: checks then go on without it."""
    try:
        return load(ref, allow_download)
    except (ModelNotAvailableError, ModelLoadError) as exc:
        if str(ref) not in _unavailable:
            _unavailable.add(str(ref))
            log.warning("No intelligibility check: %s Run `manim-qwen-mlx download %s` to add it.", exc, ref.name)
        return None


def transcribe(
    model: stt.Recognizer, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, expected_text: str = ""
) -> str:
    """What the model hears in ``samples``. Its output is bounded by the expected text's length (or
    the audio's), so a model that never stops cannot hang a check."""
    audio = resample(np.asarray(samples, dtype=np.float32), sample_rate, ALIGNER_SAMPLE_RATE)
    units = spoken_units(expected_text) if expected_text else 20 * audio.size / ALIGNER_SAMPLE_RATE
    return model.transcribe(audio, max_tokens=int(units) + 32)
