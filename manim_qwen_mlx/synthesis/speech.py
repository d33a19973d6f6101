"""What synthesis hands back (``Speech``), and the clone's clip it starts from (decoded once per process)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from manim_qwen_mlx import audio
from manim_qwen_mlx.core.defaults import LOGGER_NAME, SAMPLE_RATE, TRANSCRIPT_CHARS_PER_SECOND
from manim_qwen_mlx.core.text import spoken_units
from manim_qwen_mlx.core.timing import Span
from manim_qwen_mlx.core.voice import Voice, reference_sha256
from manim_qwen_mlx.synthesis.quality import ChecksRecord

log = logging.getLogger(LOGGER_NAME)
_references: dict[str, np.ndarray] = {}  # decoded clips by sha256, once per process


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray
    spans: list[Span]  # where each sentence lies, in the text and in ``samples``
    checks: ChecksRecord | None = None  # every take's scores, when the narration was checked


def reference(voice: Voice) -> np.ndarray:
    """The clone's clip at 24 kHz, decoded once per process (and its transcript checked then)."""
    assert voice.ref_audio is not None
    digest = reference_sha256(voice.ref_audio)
    if digest not in _references:
        _references[digest] = audio.load_reference(voice.ref_audio)
        _check_transcript(voice, _references[digest].size / SAMPLE_RATE)
    return _references[digest]


def _check_transcript(voice: Voice, seconds: float) -> None:
    """Warn when the transcript cannot be what the clip says: a mismatch makes the clone garble."""
    rate = spoken_units(voice.ref_text or "") / seconds
    low, high = TRANSCRIPT_CHARS_PER_SECOND
    if not low <= rate <= high:
        log.warning(
            "The transcript of %s has %.0f characters for %.1f s of audio; check that ref_text is "
            "exactly what the clip says.",
            voice.ref_audio,
            spoken_units(voice.ref_text or ""),
            seconds,
        )
