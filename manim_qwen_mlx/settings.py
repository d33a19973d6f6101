"""Sampling settings: everything besides text, voice and model that changes the audio."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .defaults import (
    DEFAULT_LANG_CODE,
    DEFAULT_REPETITION_PENALTY,
    DEFAULT_SEED,
    DEFAULT_SENTENCE_PAUSE,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
)
from .errors import SettingsError

# Qwen3-TTS names languages in full; accept the ISO codes people type too.
LANGUAGE_ALIASES = {
    "en": "english",
    "zh": "chinese",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "ja": "japanese",
    "ko": "korean",
    "pt": "portuguese",
    "ru": "russian",
}


@dataclass(frozen=True)
class SynthesisSettings:
    lang_code: str = DEFAULT_LANG_CODE
    temperature: float = DEFAULT_TEMPERATURE
    top_k: int = DEFAULT_TOP_K
    top_p: float = DEFAULT_TOP_P
    repetition_penalty: float = DEFAULT_REPETITION_PENALTY
    max_tokens: int | None = None  # hard ceiling in codec frames per sentence; None: from the text
    seed: int = DEFAULT_SEED
    sentence_pause: float = DEFAULT_SENTENCE_PAUSE
    speed: float = 1.0  # > 1 speaks faster, pitch kept
    trim_silence: bool = True  # cut leading and trailing silence of each sentence

    def __post_init__(self) -> None:
        lang = str(self.lang_code).strip().lower()
        object.__setattr__(self, "lang_code", LANGUAGE_ALIASES.get(lang, lang))
        _check(
            isinstance(self.temperature, (int, float)) and self.temperature >= 0,
            f"temperature must be a number >= 0 (0 is greedy), got {self.temperature!r}",
        )
        _check(
            isinstance(self.top_k, int) and self.top_k >= 0,
            f"top_k must be an integer >= 0 (0 turns it off), got {self.top_k!r}",
        )
        _check(
            isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1,
            f"top_p must be in (0, 1], got {self.top_p!r}",
        )
        _check(
            isinstance(self.repetition_penalty, (int, float)) and self.repetition_penalty > 0,
            f"repetition_penalty must be > 0, got {self.repetition_penalty!r}",
        )
        _check(
            self.max_tokens is None or (isinstance(self.max_tokens, int) and self.max_tokens > 0),
            f"max_tokens must be a positive integer (codec frames, 12.5 per second), got {self.max_tokens!r}",
        )
        _check(isinstance(self.seed, int), f"seed must be an integer, got {self.seed!r}")
        _check(
            isinstance(self.sentence_pause, (int, float)) and 0 <= self.sentence_pause <= 5,
            f"sentence_pause must be between 0 and 5 seconds, got {self.sentence_pause!r}",
        )
        _check(
            isinstance(self.speed, (int, float)) and 0.5 <= self.speed <= 2.0,
            f"speed must be between 0.5 and 2.0, got {self.speed!r}",
        )
        _check(isinstance(self.trim_silence, bool), f"trim_silence must be True or False, got {self.trim_silence!r}")
        for name in ("temperature", "top_p", "repetition_penalty", "sentence_pause", "speed"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def with_overrides(self, **overrides: Any) -> SynthesisSettings:
        return replace(self, **overrides) if overrides else self

    def sampling_kwargs(self) -> dict[str, Any]:
        """The options mlx-audio's generate and batch_generate take from these settings."""
        return {
            "lang_code": self.lang_code,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "repetition_penalty": self.repetition_penalty,
        }

    def identity(self) -> dict[str, Any]:
        return asdict(self)


SETTING_NAMES = frozenset(f.name for f in fields(SynthesisSettings))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SettingsError(message)
