"""``QwenMLXService``: manim-voiceover's SpeechService for Qwen3-TTS on MLX. Glue only."""

from __future__ import annotations

import inspect
import logging
import os
import sys
from pathlib import Path
from types import FrameType
from typing import Any, Literal, cast

from manim_voiceover.services.base import SpeechService

from manim_qwen_mlx.cache import Entry, NarrationCache
from manim_qwen_mlx.cache.key import cache_key
from manim_qwen_mlx.cache.owners import Owner
from manim_qwen_mlx.companions import transcripts
from manim_qwen_mlx.core import options, timing
from manim_qwen_mlx.core import spoken as spoken_forms
from manim_qwen_mlx.core.defaults import DRAFT_ENV, LOGGER_NAME, SAMPLE_RATE
from manim_qwen_mlx.core.errors import (
    CacheError,
    InvalidTextError,
    MissingTranscriptError,
    QwenMLXError,
    SettingsError,
)
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SETTING_NAMES, SynthesisSettings
from manim_qwen_mlx.core.text import BOOKMARK_RE, normalize, remove_bookmarks
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.synthesis import takes
from manim_qwen_mlx.voiceover import collect, draft, narration

log = logging.getLogger(LOGGER_NAME)
VOICE_OPTIONS = ("ref_audio", "ref_text", "voice", "instruct")
PathLike = str | os.PathLike[str]


class QwenMLXService(SpeechService):
    """Narrate with Qwen3-TTS through mlx-audio: a cloned voice, a preset speaker or a designed voice.

    Every voice and sampling option may also be passed per call: ``self.voiceover(text=..., seed=7)``.
    Keyword options (``options.OPTIONS``; an environment variable, where named, supplies the default):

    """

    def __init__(
        self,
        model: PathLike | None = None,
        ref_audio: PathLike | None = None,
        ref_text: str | None = None,
        voice: str | None = None,
        instruct: str | None = None,
        **kwargs: Any,
    ) -> None:
        _reject_manim_voiceover_options(kwargs)
        unknown = set(kwargs) - set(options.BY_NAME)
        if unknown:
            raise QwenMLXError(f"Unknown QwenMLXService option(s) {sorted(unknown)}: use {sorted(options.BY_NAME)}.")
        given = {"model": model, **kwargs}
        value = {o.name: options.value(o.name, given.get(o.name), explicit=o.name in kwargs)
                 for o in options.OPTIONS if o.group != "voice"}
        self.model_ref = ModelRef.resolve(value["model"], value["revision"])
        self.voice_options: dict[str, Any] = {
            "ref_audio": ref_audio,
            "ref_text": ref_text,
            "voice": voice,
            "instruct": instruct,
        }
        self.asr_ref = ModelRef.resolve(value["asr"])
        self.allow_download = bool(value["allow_download"])
        self.voice = self._voice(self.voice_options)
        self.settings = SynthesisSettings(**{name: value[name] for name in SETTING_NAMES})
        self.pronunciations = {**spoken_forms.read_pronunciations(_scene_folder() / spoken_forms.FILE_NAME),
                               **spoken_forms.checked(value["pronunciations"])}
        self.math_speech = bool(value["math_speech"])
        self.draft = bool(value["draft"])
        self.bookmarks = _bookmark_mode(value["bookmarks"])
        self.aligner_ref = ModelRef.resolve(value["aligner"])
        self.word_boundaries = bool(value["word_boundaries"])
        self.checking = takes.Checking.from_options(
            **{o.name: value[o.name] for o in options.OPTIONS if o.group == "quality"}
        )
        cache_dir = value["cache_dir"]
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
        written = normalize(text)
        problem = _unspeakable(text, written)
        if problem is not None:
            if collect.log_path() is None:
                raise problem
            return self._collect_problem(text, problem)  # precache reports it and goes on with the rest
        mode = _bookmark_mode(kwargs.pop("bookmarks", self.bookmarks))
        wants_times = bool(kwargs.pop("word_boundaries", self.word_boundaries)) or bool(BOOKMARK_RE.search(text))
        timing_options = narration.BookmarkOptions(mode, self.aligner_ref, self.allow_download) if wants_times else None
        words = {**self.pronunciations, **spoken_forms.checked(kwargs.pop("pronunciations", None))}
        said_form = spoken_forms.speak(written, words, bool(kwargs.pop("math_speech", self.math_speech)))
        spoken = said_form.text  # what the model says and the key names; subcaptions show the written text
        voice, settings = self.resolve(**kwargs)
        cache = NarrationCache(cache_dir or self.cache_dir)
        said = narration.Narration(
            text, spoken, voice, settings, self.model_ref, self.allow_download, timing_options, self.checking,
            _asking_scene(), _audio_name(cache, path) if path is not None else None,
        )
        if collect.log_path() is not None:
            if self.draft:
                raise SettingsError(
                    f"Draft mode is on ({DRAFT_ENV}=1 or draft=True) while precache collects: precache makes "
                    f"narration real. Unset {DRAFT_ENV} and remove draft=True from the scene, then run it again."
                )
            entry = self._collect(cache, said)
        elif self.draft:
            entry = draft.entry(cache, said)
        else:
            entry, _ = narration.ensure(cache, said)
        entry["input_text"] = text  # this call's bookmarks, which the tracker reads
        if "word_boundaries" in entry:
            # Stored against the spoken text; the tracker counts offsets in this call's bookmark-free text.
            entry["word_boundaries"] = timing.boundaries(
                timing.from_stored(entry["word_boundaries"]), spoken, remove_bookmarks(text), entry["duration"],
                said_form.origin,
            )
        return entry

    def _collect_problem(self, text: str, error: InvalidTextError) -> Entry:
        """A narration that cannot be spoken, while collecting: recorded, and a short silence in its place
        so that the scene runs on to its other narrations."""
        collect.record(collect.Problem(text, str(error)))
        log_path = collect.log_path()
        assert log_path is not None
        seconds = draft.SHORTEST_SECONDS
        stand_in = narration.placeholder(log_path.parent, seconds)
        return {"input_text": text, "input_data": {"input_text": text}, "original_audio": str(stand_in),
                "duration": seconds}

    def _collect(self, cache: NarrationCache, said: narration.Narration) -> Entry:
        """Record the narration for precache. A miss gets silence of about the right length, and word
        times are estimated where they are wanted but missing: the scene only has to run through."""
        data = said.input_data()
        entry = cache.lookup(data)
        # Estimated word times count as present: offline, a file settles; precache aligns them once it can.
        estimated = entry is not None and narration.estimated_word_times(entry, said.bookmarks)
        cached = entry is not None and (estimated or not narration.needs_word_times(entry, said.bookmarks))
        collect.record(collect.Request(said, cache.directory, cache_key(data), cached, estimated))
        text, spoken, bookmarks = said.text, said.spoken, said.bookmarks
        if entry is None:
            log_path = collect.log_path()
            assert log_path is not None
            seconds = draft.estimated_seconds(said)
            stand_in = narration.placeholder(log_path.parent, seconds)
            entry = {"input_text": text, "input_data": data, "original_audio": str(stand_in), "duration": seconds}
        if bookmarks is not None and "word_boundaries" not in entry:
            entry = {**entry, "word_boundaries": timing.estimated_boundaries(spoken, entry["duration"], SAMPLE_RATE)}
        return entry

    def resolve(self, **overrides: object) -> tuple[Voice, SynthesisSettings]:
        """The voice and settings for one call: the service's, with per-call overrides."""
        unknown = set(overrides) - options.PER_CALL_NAMES
        if unknown:
            known = sorted(options.PER_CALL_NAMES)
            raise QwenMLXError(f"Unknown voiceover option(s) {sorted(unknown)}: use {known}.")
        settings = self.settings.with_overrides(**{k: v for k, v in overrides.items() if k in SETTING_NAMES})
        voice_overrides = {k: v for k, v in overrides.items() if k in VOICE_OPTIONS}
        if not voice_overrides:
            return self.voice, settings
        chosen = dict(self.voice_options)
        if "ref_audio" in voice_overrides or "voice" in voice_overrides:
            # A new clip or speaker replaces the whole identity; the old transcript belongs to the old clip.
            chosen.update(ref_audio=None, ref_text=None, voice=None)
        chosen.update(voice_overrides)
        return self._voice(chosen), settings

    def _voice(self, chosen: dict[str, Any]) -> Voice:
        """The voice; a clip without any transcript first gets one from the speech recognizer."""
        try:
            return Voice.from_options(**chosen)
        except MissingTranscriptError:
            transcripts.write_for(Path(os.fspath(chosen["ref_audio"])).expanduser(), self.asr_ref, self.allow_download)
            return Voice.from_options(**chosen)

    def _wrap_generate_from_text(self, text: str, **kwargs: object) -> Any:
        # manim-voiceover's wrapper appends a duplicate cache entry on every call; ours stores once.
        text = " ".join(text.split())
        path = kwargs.pop("path", None)
        data = self.generate_from_text(text, cache_dir=None, path=cast(PathLike | None, path), **kwargs)
        data["final_audio"] = data["original_audio"]
        self.audio_callback(data["original_audio"], data, **kwargs)
        return data


def _scene_folder() -> Path:
    """The folder of the scene file being rendered (where manim finds its manim.cfg), else this one."""
    from manim import config

    return Path(config.input_file).resolve().parent if config.input_file else Path.cwd()


def _asking_scene() -> Owner | None:
    """The scene whose ``voiceover`` call this is (the nearest manim Scene up the stack) and the file
    being rendered; None outside a scene."""
    from manim import Scene, config

    frame: FrameType | None = sys._getframe(1)
    while frame is not None and not isinstance(frame.f_locals.get("self"), Scene):
        frame = frame.f_back
    if frame is None:
        return None
    scene = type(frame.f_locals["self"])
    file = str(config.input_file or "") or inspect.getsourcefile(scene)
    return Owner(str(Path(file).resolve()), scene.__name__) if file else None


def _audio_name(cache: NarrationCache, path: PathLike) -> str:
    name = Path(os.fspath(path)).name
    if not name or cache.audio_file({"original_audio": name}) is None:
        raise CacheError(f"Audio path {path!r} must be a file name inside the cache directory.")
    return name if name.endswith(".wav") else f"{name}.wav"


def _bookmark_mode(value: object) -> Literal["align", "estimate"]:
    if value not in ("align", "estimate"):
        raise QwenMLXError(f"bookmarks must be 'align' or 'estimate', got {value!r}.")
    return value


def _reject_manim_voiceover_options(kwargs: dict[str, Any]) -> None:
    """manim-voiceover's own SpeechService options that mean nothing here get a reason, not 'unknown'."""
    if kwargs.pop("global_speed", 1.0) != 1.0:
        raise QwenMLXError("global_speed needs SoX in manim-voiceover and is not supported here: use speed=.")
    if kwargs.pop("transcription_model", None) is not None:
        raise QwenMLXError(
            "transcription_model (Whisper) is not needed: QwenMLXService knows the "
            "text it speaks. Remove the argument."
        )


QwenMLXService.__doc__ = (QwenMLXService.__doc__ or "") + "\n".join(
    f"    {o.name} (default {options.shown_default(o)}{', $' + o.env if o.env else ''}): {o.help}"
    for o in options.OPTIONS
)


def _unspeakable(text: str, spoken: str) -> InvalidTextError | None:
    """Why ``text`` cannot be narrated, or None."""
    if not spoken:
        return InvalidTextError(
            f"Nothing to say in {text!r}: the narration text is empty (or only bookmarks). "
            "Give the voiceover some words."
        )
    if BOOKMARK_RE.search(remove_bookmarks(text)):
        return InvalidTextError(
            f"A bookmark tag in {text!r} is split by another one, so the tracker cannot place it: "
            "write each <bookmark mark='name'/> whole, outside the others."
        )
    return None
