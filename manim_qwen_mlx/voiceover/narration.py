"""One narration into the cache: the single code path the service and ``precache`` share."""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from manim_qwen_mlx import audio
from manim_qwen_mlx.cache import Entry, NarrationCache
from manim_qwen_mlx.cache.key import cache_key, input_data
from manim_qwen_mlx.companions import aligner
from manim_qwen_mlx.core import timing
from manim_qwen_mlx.core.defaults import LOGGER_NAME, SAMPLE_RATE
from manim_qwen_mlx.core.errors import ModelLoadError, ModelNotAvailableError, QwenMLXError, SynthesisError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.synthesis import engine, takes
from manim_qwen_mlx.synthesis.quality import ChecksRecord

log = logging.getLogger(LOGGER_NAME)
_warned_estimates: set[str] = set()  # missing aligners already warned about: a scene has many bookmarks


@dataclass(frozen=True)
class BookmarkOptions:
    """How word times are found when a narration needs them (it has bookmarks, or they were asked for)."""

    mode: Literal["align", "estimate"]
    aligner: ModelRef
    allow_download: bool = True


@dataclass(frozen=True)
class Narration:
    """One narration a scene asks for: what is said, how, by which model, and what else its entry needs."""

    text: str  # as the scene wrote it (bookmarks included)
    spoken: str  # normalised: what the model says and the key names
    voice: Voice
    settings: SynthesisSettings
    model: ModelRef
    allow_download: bool = True
    bookmarks: BookmarkOptions | None = None  # word times wanted (the text has bookmarks, or asked)
    checking: takes.Checking | None = None  # each take scored, the best of up to max_takes kept

    def input_data(self) -> dict[str, Any]:
        return input_data(self.spoken, self.voice, self.settings, self.model)


def ensure(cache: NarrationCache, said: Narration, audio_name: str | None = None) -> tuple[Entry, bool]:
    """The cache entry for ``said``, synthesized and stored if missing; and whether it was.

    With ``bookmarks`` the entry carries word boundaries (in the spoken text), computed once and stored;
    with ``checking`` each take is scored and the best of up to ``max_takes`` kept (takes.py).
    """
    data = said.input_data()
    entry = cache.lookup(data)
    if entry is not None and not needs_word_times(entry, said.bookmarks):
        return entry, False
    key = cache_key(data)
    with cache.key_lock(key):  # a parallel render of the same text waits here, then hits
        entry = cache.lookup(data)
        if entry is not None:
            if said.bookmarks is not None and needs_word_times(entry, said.bookmarks):
                entry = _with_word_times(cache, entry, said.spoken, said.settings, said.bookmarks, on_hit=True)
            return entry, False
        started = time.perf_counter()
        speech, record = _synthesize(said, cache.directory)
        entry = _store(cache, said.text, said.spoken, data, key, speech, said.settings, said.bookmarks, audio_name,
                       record)
    log.info("Synthesized %.2f s of audio in %.2f s: %r", entry["duration"], time.perf_counter() - started,
             said.spoken[:60])
    return entry, True


def _synthesize(said: Narration, voice_store: Path) -> tuple[engine.Speech, ChecksRecord | None]:
    inputs = (said.spoken, said.voice, said.settings, said.model, said.allow_download, voice_store)
    if said.checking is None:
        return engine.synthesize(*inputs), None
    return takes.best(*inputs, said.checking)


_PENDING = SynthesisError("not synthesized yet")  # a slot of ensure_batch still to fill


@dataclass(frozen=True)
class BatchItem:
    cache: NarrationCache
    text: str
    spoken: str
    bookmarks: BookmarkOptions | None = None


def ensure_batch(
    items: list[BatchItem],
    voice: Voice,
    settings: SynthesisSettings,
    model: ModelRef,
    allow_download: bool = True,
    batch_size: int = 4,
) -> list[tuple[Entry, bool] | QwenMLXError]:
    """Like ``ensure`` for several narrations in one voice, synthesizing the missing ones together
    with batch generation. Each item gets its entry and whether it was made, or the error that stopped
    it alone: one failed narration never costs the others theirs. Every key is locked while its audio
    is made."""
    keyed = [(item, input_data(item.spoken, voice, settings, model)) for item in items]
    with ExitStack() as locks:
        # One order for every process, so two batch runs never wait on each other's locks in a cycle.
        wanted = {(item.cache.directory, cache_key(data)): item.cache for item, data in keyed}
        for (_, key), owner in sorted(wanted.items(), key=lambda pair: pair[0]):
            locks.enter_context(owner.key_lock(key))
        found = [item.cache.lookup(data) for item, data in keyed]
        missing = [i for i, entry in enumerate(found) if entry is None]
        # Every missing slot is filled below, with its entry or its own error.
        results: list[tuple[Entry, bool] | QwenMLXError] = [(e, False) if e is not None else _PENDING for e in found]
        speeches = (
            engine.synthesize_many(
                [items[i].spoken for i in missing],
                voice,
                settings,
                model,
                allow_download,
                batch_size,
                items[0].cache.directory,
            )
            if missing
            else []
        )
        for i, speech in zip(missing, speeches, strict=True):
            item, data = keyed[i]
            if isinstance(speech, QwenMLXError):
                results[i] = speech
                continue
            stored = _store(item.cache, item.text, item.spoken, data, cache_key(data), speech, settings, None, None)
            results[i] = (stored, True)
        for i, (item, _) in enumerate(keyed):
            result = results[i]
            if not isinstance(result, QwenMLXError) and needs_word_times(result[0], item.bookmarks):
                assert item.bookmarks is not None
                timed = _with_word_times(item.cache, result[0], item.spoken, settings, item.bookmarks)
                results[i] = (timed, result[1])
    return results


def _store(
    cache: NarrationCache,
    text: str,
    spoken: str,
    data: dict[str, Any],
    key: str,
    speech: engine.Speech,
    settings: SynthesisSettings,
    bookmarks: BookmarkOptions | None,
    audio_name: str | None,
    checks: ChecksRecord | None = None,
) -> Entry:
    """Write the audio and its entry (with word times when asked for, and the takes' scores) into the cache."""
    name = audio_name or cache.audio_name(spoken, key)
    target = cache.directory / name
    audio.write_wav(target, speech.samples)
    entry: Entry = {
        "input_text": text,
        "input_data": data,
        "original_audio": name,
        "final_audio": name,
        "key": key,
        "duration": audio.duration(target),
        "sentences": timing.spans_to_json(speech.spans),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": dict(_versions()),
    }
    if checks is not None:
        entry["checks"] = checks.to_json()
    if bookmarks is not None:
        return _with_word_times(cache, entry, spoken, settings, bookmarks, speech=speech)
    cache.store(entry)
    return entry


def needs_word_times(entry: Entry, bookmarks: BookmarkOptions | None) -> bool:
    """Whether ``entry`` lacks the word times these options ask for (none, or estimated where aligned ones
    are wanted)."""
    if bookmarks is None:
        return False
    method = entry.get("word_boundaries_method")
    return method is None or (method == "estimate" and bookmarks.mode == "align")


def _with_word_times(
    cache: NarrationCache,
    entry: Entry,
    spoken: str,
    settings: SynthesisSettings,
    bookmarks: BookmarkOptions,
    speech: engine.Speech | None = None,
    on_hit: bool = False,
) -> Entry:
    """Add word boundaries to ``entry`` and store it; exact with the aligner, else estimated."""
    if speech is None:
        spans = timing.spans_from_json(entry.get("sentences"))
        path = cache.audio_file(entry)
        if path is None or spans is None:
            return entry
        speech = engine.Speech(audio.read_wav(path), spans)
    timed, method = None, "estimate"
    if bookmarks.mode == "align":
        # On a cache hit only a local aligner is used: a render never waits on a download for timings.
        timed = _align(spoken, speech, settings, bookmarks, allow_download=bookmarks.allow_download and not on_hit)
        method = "align" if timed is not None else method
    if timed is None:
        if method == "estimate" and entry.get("word_boundaries_method") == "estimate":
            return entry
        timed = timing.estimate(spoken, speech.spans, SAMPLE_RATE)
    entry = {**entry, "word_boundaries": timing.stored_boundaries(timed, spoken), "word_boundaries_method": method}
    cache.store(entry)
    return entry


def _align(
    spoken: str, speech: engine.Speech, settings: SynthesisSettings, bookmarks: BookmarkOptions, allow_download: bool
) -> list[timing.WordTime] | None:
    try:
        model = aligner.load(bookmarks.aligner, allow_download)
    except (ModelNotAvailableError, ModelLoadError) as exc:
        first = str(bookmarks.aligner) not in _warned_estimates
        _warned_estimates.add(str(bookmarks.aligner))
        (log.warning if first else log.debug)(
            "Bookmark times are estimated, not aligned: %s For exact timings run "
            "`manim-qwen-mlx download %s`, or pass bookmarks='estimate' to silence this.",
            exc,
            bookmarks.aligner.name,
        )
        return None
    return aligner.align(model, speech.samples, SAMPLE_RATE, spoken, speech.spans, settings.lang_code)


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    found = {}
    for package in ("manim-qwen-mlx", "mlx-audio", "mlx"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


def placeholder(directory: Path, seconds: float) -> Path:
    """A silent WAV of ``seconds``, standing in for a narration not synthesized yet."""
    import numpy as np

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"silence-{round(seconds * 1000)}ms.wav"
    if not path.exists():
        audio.write_wav(path, np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32))
    return path
