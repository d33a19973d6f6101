"""Takes: a narration is synthesized, scored (quality.py), and when a check fails synthesized again with
the next take's seed, at most ``max_takes`` times, through the same queue as every other row; the best take
is kept and every take's scores go into the cache entry. Pacing is free and always on unless turned off;
voice similarity runs when asked (``verify``), since it costs a speaker-encoder pass per take.

The cache key does not name these options: an entry is one valid take of its inputs, and a render that
finds a verified take uses it (so `precache --verify`, then `manim render` hits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from manim_qwen_mlx.companions import asr
from manim_qwen_mlx.core.defaults import ESTIMATED_CHARS_PER_SECOND, LOGGER_NAME, SAMPLE_RATE, TAKE_SEED_STEP
from manim_qwen_mlx.core.errors import SettingsError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.text import shorten, spoken_units
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.model import loader
from manim_qwen_mlx.synthesis import quality
from manim_qwen_mlx.synthesis.quality import ChecksRecord, Scores, Take, Thresholds, pace
from manim_qwen_mlx.synthesis.speech import Speech, reference

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


class Takes:
    """One narration's takes, judged as each is made: one that fails a check is made again with the next
    take's seed (``engine.synthesize_many`` puts its sentences back into the scheduler's queue, so the rows in
    flight never wait), at most ``max_takes`` times. The best take is kept, with the record of every take."""

    def __init__(self, spoken: str, voice: Voice, settings: SynthesisSettings, model: ModelRef, allow_download: bool,
                 checking: Checking) -> None:
        self.spoken, self.voice, self.settings, self.checking = spoken, voice, settings, checking
        self.model, self.allow_download = model, allow_download
        self.made: list[tuple[Speech, Scores, list[str], int]] = []

    @property
    def seed(self) -> int:
        """The seed of the take being made: take n uses seed + n * TAKE_SEED_STEP (docs/design.md)."""
        return self.settings.seed + len(self.made) * TAKE_SEED_STEP

    def judge(self, speech: Speech) -> bool:
        """Score this take; whether another is wanted."""
        checking = self.checking
        # A max_tokens ceiling cuts sentences on purpose: their pace says nothing then.
        deliberate_cut = self.settings.max_tokens is not None
        expected = usual_rate(self.voice) * self.settings.speed
        seconds = speech.samples.size / SAMPLE_RATE
        paced = pace(self.spoken, seconds, expected) if checking.pace and not deliberate_cut else None
        scores = Scores(paced)
        if checking.verify:
            scores = _verify(self.spoken, self.voice, speech, self.model, self.allow_download, checking, paced)
        failures = checking.thresholds.failures(scores)
        self.made.append((speech, scores, failures, self.seed))
        if not failures:
            return False
        log.warning("Take %d of %r failed a check (%s)", len(self.made), shorten(self.spoken), "; ".join(failures))
        return len(self.made) < checking.max_takes

    def best(self) -> Speech:
        """The kept take, carrying the record of every take: seeds, scores, failures, which one was kept."""
        made, thresholds = self.made, self.checking.thresholds
        chosen = min(range(len(made)), key=lambda i: (len(made[i][2]), _badness(made[i][1], thresholds)))
        record = ChecksRecord(
            tuple(Take(seed, scores, tuple(failures)) for _, scores, failures, seed in made), chosen,
            self.checking.verify,
        )
        if not record.passed:
            log.warning("Kept the best of %d takes for %r, which still fails: %s. Listen to it, or rephrase.",
                        len(made), shorten(self.spoken), "; ".join(record.kept.failures))
        return replace(made[chosen][0], checks=record)


def _verify(
    spoken: str,
    voice: Voice,
    speech: Speech,
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
    seconds = reference(voice).size / SAMPLE_RATE
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

    embedding = model.speaker_embedding(mx.array(reference(voice)))  # remembered per voice
    return quality.cosine(np.array(embedding), np.array(model.narration_embedding(mx.array(samples))))
