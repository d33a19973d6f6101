"""``QwenMLXService``: manim-voiceover's SpeechService for Qwen3-TTS on MLX. Glue only."""

from __future__ import annotations

import logging
import os
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast

from manim_voiceover.services.base import SpeechService

from . import audio, engine
from .cache import Entry, NarrationCache
from .defaults import (
    DEFAULT_LANG_CODE,
    DEFAULT_REPETITION_PENALTY,
    DEFAULT_SEED,
    DEFAULT_SENTENCE_PAUSE,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
    LOGGER_NAME,
)
from .errors import CacheError, InvalidTextError, QwenMLXError
from .key import cache_key, input_data
from .model_ref import ModelRef
from .settings import SETTING_NAMES, SynthesisSettings
from .text import normalize
from .voice import Voice

log = logging.getLogger(LOGGER_NAME)
VOICE_OPTIONS = ("ref_audio", "ref_text", "voice", "instruct")
PathLike = str | os.PathLike[str]


class QwenMLXService(SpeechService):
    """Narrate with Qwen3-TTS through mlx-audio: a cloned voice, a preset speaker or a designed voice.

    Every voice and sampling option may also be passed per call: ``self.voiceover(text=..., seed=7)``.
    """

    def __init__(
        self,
        model: PathLike | None = None,
        ref_audio: PathLike | None = None,
        ref_text: str | None = None,
        voice: str | None = None,
        instruct: str | None = None,
        *,
        revision: str | None = None,
        lang_code: str = DEFAULT_LANG_CODE,
        temperature: float = DEFAULT_TEMPERATURE,
        top_k: int = DEFAULT_TOP_K,
        top_p: float = DEFAULT_TOP_P,
        repetition_penalty: float = DEFAULT_REPETITION_PENALTY,
        max_tokens: int | None = None,
        seed: int = DEFAULT_SEED,
        sentence_pause: float = DEFAULT_SENTENCE_PAUSE,
        allow_download: bool = True,
        cache_dir: PathLike | None = None,
        global_speed: float = 1.0,
        transcription_model: str | None = None,
    ) -> None:
        if global_speed != 1.0:
            raise QwenMLXError("global_speed needs SoX in manim-voiceover and is not supported here.")
        if transcription_model is not None:
            raise QwenMLXError(
                "transcription_model (Whisper) is not needed: QwenMLXService knows the "
                "text it speaks. Remove the argument."
            )
        self.model_ref = ModelRef.resolve(model, revision)
        self.voice_options: dict[str, Any] = {
            "ref_audio": ref_audio,
            "ref_text": ref_text,
            "voice": voice,
            "instruct": instruct,
        }
        self.voice = Voice.from_options(**self.voice_options)
        self.settings = SynthesisSettings(
            lang_code=lang_code,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            repetition_penalty=repetition_penalty,
            max_tokens=max_tokens,
            seed=seed,
            sentence_pause=sentence_pause,
        )
        self.allow_download = allow_download
        try:
            SpeechService.__init__(self, cache_dir=cache_dir)
        except OSError as exc:
            raise CacheError(
                f"Cannot create the voiceover cache {cache_dir}: {exc}. Pass cache_dir= a writable folder."
            ) from exc

    def generate_from_text(
        self, text: str, cache_dir: PathLike | None = None, path: PathLike | None = None, **kwargs: object
    ) -> Any:
        """The manim-voiceover data dict for ``text``: from the cache, else synthesized and stored."""
        spoken = normalize(text)
        if not spoken:
            raise InvalidTextError(
                f"Nothing to say in {text!r}: the narration text is empty "
                "(or only bookmarks). Give the voiceover some words."
            )
        voice, settings = self.resolve(**kwargs)
        data = input_data(spoken, voice, settings, self.model_ref)
        cache = NarrationCache(cache_dir or self.cache_dir)
        entry = cache.lookup(data)
        if entry is None:
            key = cache_key(data)
            with cache.key_lock(key):  # a parallel render of the same text waits here, then hits
                entry = cache.lookup(data) or self._synthesize(
                    cache, text, spoken, voice, settings, data, key, path
                )
        entry["input_text"] = text  # this call's bookmarks, which the tracker reads
        return entry

    def resolve(self, **overrides: object) -> tuple[Voice, SynthesisSettings]:
        """The voice and settings for one call: the service's, with per-call overrides."""
        unknown = set(overrides) - set(VOICE_OPTIONS) - SETTING_NAMES
        if unknown:
            raise QwenMLXError(
                f"Unknown voiceover option(s) {sorted(unknown)}: use "
                f"{sorted(set(VOICE_OPTIONS) | SETTING_NAMES)}."
            )
        settings = self.settings.with_overrides(**{k: v for k, v in overrides.items() if k in SETTING_NAMES})
        voice_overrides = {k: v for k, v in overrides.items() if k in VOICE_OPTIONS}
        if not voice_overrides:
            return self.voice, settings
        options = dict(self.voice_options)
        if "ref_audio" in voice_overrides or "voice" in voice_overrides:
            # A new clip or speaker replaces the whole identity; the old transcript belongs to the old clip.
            options.update(ref_audio=None, ref_text=None, voice=None)
        options.update(voice_overrides)
        return Voice.from_options(**options), settings

    def _wrap_generate_from_text(self, text: str, **kwargs: object) -> Any:
        # manim-voiceover's wrapper appends a duplicate cache entry on every call; ours stores once.
        text = " ".join(text.split())
        path = kwargs.pop("path", None)
        data = self.generate_from_text(text, cache_dir=None, path=cast(PathLike | None, path), **kwargs)
        data["final_audio"] = data["original_audio"]
        self.audio_callback(data["original_audio"], data, **kwargs)
        return data

    def _synthesize(
        self,
        cache: NarrationCache,
        text: str,
        spoken: str,
        voice: Voice,
        settings: SynthesisSettings,
        data: dict[str, Any],
        key: str,
        path: PathLike | None,
    ) -> Entry:
        started = time.perf_counter()
        samples = engine.synthesize(spoken, voice, settings, self.model_ref, self.allow_download)
        name = _audio_name(cache, path) if path is not None else cache.audio_name(spoken, key)
        target = cache.directory / name
        audio.write_wav(target, samples)
        entry: Entry = {
            "input_text": text,
            "input_data": data,
            "original_audio": name,
            "final_audio": name,
            "key": key,
            "duration": audio.duration(target),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": _versions(),
        }
        cache.store(entry)
        log.info(
            "Synthesized %.2f s of audio in %.2f s: %r",
            entry["duration"],
            time.perf_counter() - started,
            spoken[:60],
        )
        return entry


def _audio_name(cache: NarrationCache, path: PathLike) -> str:
    name = Path(os.fspath(path)).name
    if not name or cache.audio_file({"original_audio": name}) is None:
        raise CacheError(f"Audio path {path!r} must be a file name inside the cache directory.")
    return name if name.endswith(".wav") else f"{name}.wav"


def _versions() -> dict[str, str]:
    found = {}
    for package in ("manim-qwen-mlx", "mlx-audio", "mlx"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found
