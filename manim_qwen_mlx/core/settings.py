"""Sampling settings: everything besides text, voice and model that changes the audio."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from manim_qwen_mlx.core.defaults import LOUDNESS_RANGE
from manim_qwen_mlx.core.errors import SettingsError
from manim_qwen_mlx.core.options import default

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
class Sampling:
    """One sampler's options (the talker's, or the code predictor's)."""

    temperature: float
    top_k: int
    top_p: float
    repetition_penalty: float = 1.0


@dataclass(frozen=True)
class SynthesisSettings:
    """The "setting" rows of ``options.OPTIONS``, typed; defaults and help live in the table."""

    lang_code: str = default("lang_code")
    temperature: float = default("temperature")
    top_k: int = default("top_k")
    top_p: float = default("top_p")
    repetition_penalty: float = default("repetition_penalty")
    subtalker_temperature: float | None = default("subtalker_temperature")  # None: the talker's
    subtalker_top_k: int | None = default("subtalker_top_k")
    subtalker_top_p: float | None = default("subtalker_top_p")
    max_tokens: int | None = default("max_tokens")  # None: a ceiling from the text
    seed: int = default("seed")
    sentence_pause: float = default("sentence_pause")
    speed: float = default("speed")
    trim_silence: bool = default("trim_silence")
    loudness: float | None = default("loudness")  # LUFS; None: the model's level
    streaming_prompt: bool = default("streaming_prompt")

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
        low, high = LOUDNESS_RANGE
        _check(
            self.loudness is None or (isinstance(self.loudness, (int, float)) and low <= self.loudness <= high),
            f"loudness must be None (the model's level) or between {low:g} and {high:g} LUFS (-16 is spoken-word "
            f"podcasts' level, -23 broadcast's), got {self.loudness!r}",
        )
        for flag in ("trim_silence", "streaming_prompt"):
            _check(isinstance(getattr(self, flag), bool), f"{flag} must be True or False, got {getattr(self, flag)!r}")
        number = (int, float)
        sub_temperature, sub_top_k, sub_top_p = self.subtalker_temperature, self.subtalker_top_k, self.subtalker_top_p
        _check(
            sub_temperature is None or (isinstance(sub_temperature, number) and sub_temperature >= 0),
            f"subtalker_temperature must be None (the talker's) or a number >= 0, got {sub_temperature!r}",
        )
        _check(
            sub_top_k is None or (isinstance(sub_top_k, int) and sub_top_k >= 0),
            f"subtalker_top_k must be None (the talker's) or an integer >= 0, got {sub_top_k!r}",
        )
        _check(
            sub_top_p is None or (isinstance(sub_top_p, number) and 0 < sub_top_p <= 1),
            f"subtalker_top_p must be None (the talker's) or in (0, 1], got {sub_top_p!r}",
        )
        for name in ("temperature", "top_p", "repetition_penalty", "sentence_pause", "speed"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("subtalker_temperature", "subtalker_top_p", "loudness"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))

    def with_overrides(self, **overrides: Any) -> SynthesisSettings:
        return replace(self, **overrides) if overrides else self

    def talker_sampling(self) -> Sampling:
        return Sampling(self.temperature, self.top_k, self.top_p, self.repetition_penalty)

    def subtalker_sampling(self) -> Sampling:
        """The code predictor's options: its own where given, else the talker's (no penalty, as official)."""
        return Sampling(
            self.temperature if self.subtalker_temperature is None else self.subtalker_temperature,
            self.top_k if self.subtalker_top_k is None else self.subtalker_top_k,
            self.top_p if self.subtalker_top_p is None else self.subtalker_top_p,
        )

    def identity(self) -> dict[str, Any]:
        return asdict(self)


SETTING_NAMES = frozenset(f.name for f in fields(SynthesisSettings))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SettingsError(message)
