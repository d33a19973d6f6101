"""Takes: a narration is synthesized, scored (quality.py), and when a check fails synthesized again with
a derived seed, at most ``max_takes`` times; the best take is kept and every take's scores go into the
cache entry. Pacing is free and always on unless turned off; voice similarity runs when asked
(``verify``), since it costs a speaker-encoder pass per take.

The cache key does not name these options: an entry is one valid take of its inputs, and a render that
finds a verified take uses it (so `precache --verify`, then `manim render` hits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from manim_qwen_mlx.companions import asr
from manim_qwen_mlx.core.defaults import ESTIMATED_CHARS_PER_SECOND, LOGGER_NAME, SAMPLE_RATE, TAKE_SEED_STEP
from manim_qwen_mlx.core.errors import SettingsError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.text import shorten, spoken_units
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.synthesis import engine, quality
from manim_qwen_mlx.synthesis.quality import ChecksRecord, Scores, Take, Thresholds, pace

log = logging.getLogger(LOGGER_NAME)



@dataclass(frozen=True)
class Checking:
    thresholds: Thresholds
    max_takes: int
    pace: bool  # score pacing (free)
    verify: bool  # also voice similarity and intelligibility
    asr: ModelRef | None = None  # the speech recognizer of verify

    @classmethod
    def from_options(
        cls,
        checks: bool,
        verify: bool,
        max_takes: int,
        pace_tolerance: float,
        min_voice_similarity: float,
        max_wer: float,
        asr: str | None,
    ) -> Checking | None:
        """The service's options as one value; None when nothing is checked."""
        if not (checks or verify):
            return None
        if max_takes < 1 or pace_tolerance <= 1 or not 0 <= min_voice_similarity <= 1 or max_wer < 0:
            raise SettingsError(
                f"max_takes must be >= 1 (got {max_takes}), pace_tolerance > 1 (got {pace_tolerance}), "
                f"min_voice_similarity between 0 and 1 (got {min_voice_similarity}) and max_wer >= 0 "
                f"(got {max_wer})."
            )
        thresholds = Thresholds(pace_tolerance, min_voice_similarity, max_wer)
        return cls(thresholds, max_takes, checks, verify, ModelRef.resolve(asr) if asr else None)


def best(
    spoken: str,
    voice: Voice,
    settings: SynthesisSettings,
    model: ModelRef,
    allow_download: bool,
    voice_store: Path | None,
    checking: Checking,
    first: engine.Speech | None = None,
) -> tuple[engine.Speech, ChecksRecord]:
    """The best take and the record of every take: seeds, scores, failures, which one was kept. ``first``
    is the first take when it was made already (a batch makes it with the same seed)."""
    expected = usual_rate(voice) * settings.speed
    takes: list[tuple[engine.Speech, Scores, list[str], int]] = []
    for take in range(checking.max_takes):
        seed = settings.seed + take * TAKE_SEED_STEP
        seeded = settings.with_overrides(seed=seed)
        if take == 0 and first is not None:
            speech = first
        else:
            speech = engine.synthesize(spoken, voice, seeded, model, allow_download, voice_store)
        # A max_tokens ceiling cuts sentences on purpose: their pace says nothing then.
        deliberate_cut = settings.max_tokens is not None
        seconds = speech.samples.size / SAMPLE_RATE
        paced = pace(spoken, seconds, expected) if checking.pace and not deliberate_cut else None
        scores = Scores(paced)
        if checking.verify:
            scores = _verify(spoken, voice, speech, model, allow_download, checking, paced)
        failures = checking.thresholds.failures(scores)
        takes.append((speech, scores, failures, seed))
        if not failures:
            break
        log.warning("Take %d of %r failed a check (%s)", take + 1, shorten(spoken), "; ".join(failures))
    chosen = min(range(len(takes)), key=lambda i: (len(takes[i][2]), _badness(takes[i][1], checking.thresholds)))
    record = ChecksRecord(
        tuple(Take(seed, scores, tuple(failures)) for _, scores, failures, seed in takes), chosen, checking.verify
    )
    if not record.passed:
        log.warning("Kept the best of %d takes for %r, which still fails: %s. Listen to it, or rephrase.",
                    len(takes), shorten(spoken), "; ".join(record.kept.failures))
    return takes[chosen][0], record


def _verify(
    spoken: str,
    voice: Voice,
    speech: engine.Speech,
    model: ModelRef,
    allow_download: bool,
    checking: Checking,
    paced: float | None,
) -> Scores:
    similarity = voice_similarity(voice, speech.samples, model, allow_download)
    recognizer = asr.load_or_warn(checking.asr, allow_download) if checking.asr is not None else None
    if recognizer is None:
        return Scores(paced, similarity)
    heard = asr.transcribe(recognizer, speech.samples, SAMPLE_RATE, spoken)
    return Scores(paced, similarity, quality.wer(spoken, heard), heard)


def _badness(scores: Scores, thresholds: Thresholds) -> float:
    """How far a take is from ideal, for choosing among takes that fail the same number of checks."""
    import math

    distance = 0.0 if scores.pace is None else abs(math.log(max(scores.pace, 1e-6)))
    if scores.similarity is not None:
        distance += max(0.0, thresholds.min_similarity - scores.similarity)
    if scores.wer is not None:
        distance += max(0.0, scores.wer - thresholds.max_wer)
    return distance


def usual_rate(voice: Voice) -> float:
    """Spoken units a second this voice usually speaks: a clone's own clip, else typical speech."""
    if voice.kind != "clone" or voice.ref_audio is None:
        return ESTIMATED_CHARS_PER_SECOND
    seconds = engine.reference(voice).size / SAMPLE_RATE
    return spoken_units(voice.ref_text or "") / seconds or ESTIMATED_CHARS_PER_SECOND


def voice_similarity(voice: Voice, samples: np.ndarray, ref: ModelRef, allow_download: bool = True) -> float | None:
    """Cosine similarity of the narration's and the reference clip's speaker embeddings, from the Base
    model's own speaker encoder (the one that conditioned the voice: a drift alarm, not a verifier)."""
    if voice.kind != "clone":
        return None
    model = loader.load(loader.resolve_path(ref, allow_download))
    if not model.can_embed_speakers:
        return None
    import mlx.core as mx

    reference = model.speaker_embedding(mx.array(engine.reference(voice)))  # remembered per voice
    return quality.cosine(np.array(reference), np.array(model.narration_embedding(mx.array(samples))))
