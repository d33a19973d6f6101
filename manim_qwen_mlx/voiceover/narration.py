"""One narration into the cache: the single code path the service and ``precache`` share."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from manim_qwen_mlx import audio
from manim_qwen_mlx.cache import Entry, NarrationCache
from manim_qwen_mlx.cache.inventory import DRAFTS
from manim_qwen_mlx.cache.key import cache_key, input_data
from manim_qwen_mlx.cache.owners import Owner, claim, owns, recorded, with_owners
from manim_qwen_mlx.companions import aligner
from manim_qwen_mlx.core import timing
from manim_qwen_mlx.core.defaults import LOGGER_NAME, SAMPLE_RATE
from manim_qwen_mlx.core.errors import ModelLoadError, ModelNotAvailableError, QwenMLXError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.text import shorten
from manim_qwen_mlx.core.voice import Voice
from manim_qwen_mlx.synthesis import engine, takes
from manim_qwen_mlx.synthesis.speech import Speech

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
    owner: Owner | None = None  # the scene that asks (not in the key: what `cache prune FILE` owns)
    audio_name: str | None = None  # the audio file's name when the scene chose it (not in the key)

    def input_data(self) -> dict[str, Any]:
        return input_data(self.spoken, self.voice, self.settings, self.model)


def ensure(cache: NarrationCache, said: Narration) -> tuple[Entry, bool]:
    """The cache entry for ``said``, synthesized and stored if missing; and whether it was: the batch of one
    (``ensure_batch``), as a render asks for it (a cached entry's word times from a local aligner only)."""
    ((_, outcome),) = ensure_batch([(cache, said)], rendering=True)
    if isinstance(outcome, QwenMLXError):
        raise outcome
    return outcome


def ensure_batch(
    items: list[tuple[NarrationCache, Narration]],
    batch_size: int = 1,
    on_sentence: Callable[[int], None] | None = None,
    rendering: bool = False,
) -> Iterator[tuple[int, tuple[Entry, bool] | QwenMLXError]]:
    """The cache entries of narrations of one model: each item's index with its entry and whether it was
    made, or with the error that stopped it alone, as soon as it is stored. The missing ones are synthesized
    together (``engine.synthesize_many``: their sentences batched by the scheduler, voices and settings may
    differ; with ``checking`` each take scored and the best of up to ``max_takes`` kept, takes.py), and a
    narration's audio is what it would be alone. Every missing key is locked until its own entry is stored
    (a parallel render of the same text waits, then hits). With ``bookmarks`` an entry carries word
    boundaries (in the spoken text), computed once and stored; ``rendering``: a cached entry's come from a
    local aligner only (a render never waits on a download for timings)."""
    keyed = [(cache, said, said.input_data()) for cache, said in items]
    locks = {index: ExitStack() for index in range(len(keyed))}
    try:
        for index, (cache, said, data) in enumerate(keyed):  # hits first, without a lock
            entry = cache.lookup(data)
            if entry is not None and not needs_word_times(entry, said.bookmarks):
                locks.pop(index)
                yield index, (_owned(cache, entry, said.owner), False)
        # One order for every process, so two batch runs never wait on each other's locks in a cycle.
        for index in sorted(locks, key=lambda i: (keyed[i][0].directory, cache_key(keyed[i][2]))):
            cache, _, data = keyed[index]
            locks[index].enter_context(cache.key_lock(cache_key(data)))
        missing = []
        for index in sorted(locks):
            cache, said, data = keyed[index]
            entry = cache.lookup(data)
            if entry is None:
                missing.append(index)
                continue
            if said.bookmarks is not None and needs_word_times(entry, said.bookmarks):
                entry = _with_word_times(cache, entry, said.spoken, said.settings, said.bookmarks, on_hit=rendering)
            locks.pop(index).close()
            yield index, (_owned(cache, entry, said.owner), False)
        if not missing:
            return
        store, first = keyed[missing[0]][0].directory, keyed[missing[0]][1]
        wanted = [engine.Narrate(keyed[i][1].spoken, keyed[i][1].voice, keyed[i][1].settings, keyed[i][1].checking)
                  for i in missing]
        started = time.perf_counter()
        made = engine.synthesize_many(wanted, first.model, first.allow_download, batch_size, store, on_sentence)
        for number, speech in made:
            index = missing[number]
            cache, said, data = keyed[index]
            if isinstance(speech, QwenMLXError):
                locks.pop(index).close()
                yield index, speech
                continue
            entry = _store(cache, said, data, cache_key(data), speech)
            locks.pop(index).close()
            log.info("Synthesized %.2f s of audio (%.2f s since the batch began): %r", entry["duration"],
                     time.perf_counter() - started, shorten(said.spoken))
            yield index, (entry, True)
    finally:
        for stack in locks.values():
            stack.close()


def _owned(cache: NarrationCache, entry: Entry, owner: Owner | None) -> Entry:
    """``entry``, recording ``owner`` among the scenes that use it (one write the first time only)."""
    if owner is None or owns(entry, owner, cache.directory):
        return entry
    if not claim(cache, {cache_key(entry["input_data"]): [owner]}):
        return entry  # a read-only cache still renders; prune then keeps the entry
    return with_owners(entry, (recorded(entry, cache.directory) or set()) | {owner}, cache.directory)


def _store(
    cache: NarrationCache,
    said: Narration,
    data: dict[str, Any],
    key: str,
    speech: Speech,
) -> Entry:
    """Write the audio and its entry (with word times when asked for, the takes' scores and the scene that
    asked) into the cache."""
    spoken = said.spoken
    name = said.audio_name or cache.audio_name(spoken, key)
    target = cache.directory / name
    audio.write_wav(target, speech.samples)
    entry: Entry = {
        "input_text": said.text,
        "input_data": data,
        "original_audio": name,
        "final_audio": name,
        "key": key,
        "duration": audio.duration(target),
        "sentences": timing.spans_to_json(speech.spans),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": dict(_versions()),
    }
    if speech.checks is not None:
        entry["checks"] = speech.checks.to_json()
    if said.owner is not None:
        entry = with_owners(entry, [said.owner], cache.directory)
    if said.bookmarks is not None:
        entry = _with_word_times(cache, entry, spoken, said.settings, said.bookmarks, speech=speech)
    else:
        cache.store(entry)
    for placeholder in (cache.directory / DRAFTS).glob(f"*-{key[:16]}.*"):  # draft mode's stand-in: real now
        placeholder.unlink(missing_ok=True)
    return entry


def needs_word_times(entry: Entry, bookmarks: BookmarkOptions | None) -> bool:
    """Whether ``entry`` lacks the word times these options ask for (none, or estimated where aligned ones
    are wanted)."""
    if bookmarks is None:
        return False
    return entry.get("word_boundaries_method") is None or estimated_word_times(entry, bookmarks)


def estimated_word_times(entry: Entry, bookmarks: BookmarkOptions | None) -> bool:
    """Whether ``entry``'s word times are estimated where aligned ones are wanted."""
    return bookmarks is not None and bookmarks.mode == "align" and entry.get("word_boundaries_method") == "estimate"


def _with_word_times(
    cache: NarrationCache,
    entry: Entry,
    spoken: str,
    settings: SynthesisSettings,
    bookmarks: BookmarkOptions,
    speech: Speech | None = None,
    on_hit: bool = False,
) -> Entry:
    """Add word boundaries to ``entry`` and store it; exact with the aligner, else estimated."""
    if speech is None:
        spans = timing.spans_from_json(entry.get("sentences"))
        path = cache.audio_file(entry)
        if path is None or spans is None:
            return entry
        speech = Speech(audio.read_wav(path), spans)
    timed, method = None, "estimate"
    if bookmarks.mode == "align":
        # On a cache hit only a local aligner is used: a render never waits on a download for timings.
        timed = _align(spoken, speech, settings, bookmarks, allow_download=bookmarks.allow_download and not on_hit,
                       on_hit=on_hit)
        method = "align" if timed is not None else method
    if timed is None:
        if method == "estimate" and entry.get("word_boundaries_method") == "estimate":
            return entry
        timed = timing.estimate(spoken, speech.spans, SAMPLE_RATE)
    entry = {**entry, "word_boundaries": timing.stored_boundaries(timed, spoken), "word_boundaries_method": method}
    cache.store(entry)
    return entry


def _align(
    spoken: str, speech: Speech, settings: SynthesisSettings, bookmarks: BookmarkOptions, allow_download: bool,
    on_hit: bool = False,
) -> list[timing.WordTime] | None:
    try:
        model = aligner.load(bookmarks.aligner, allow_download)
    except (ModelNotAvailableError, ModelLoadError) as exc:
        first = str(bookmarks.aligner) not in _warned_estimates
        _warned_estimates.add(str(bookmarks.aligner))
        if on_hit and isinstance(exc, ModelNotAvailableError):
            # A render that only reads the cache: the advice was given where it can be acted on (precache,
            # doctor); one short line says why the times stay estimated.
            (log.info if first else log.debug)(
                "Bookmark times stay estimated: the forced aligner %s is not downloaded (manim-qwen-mlx doctor).",
                bookmarks.aligner.name,
            )
            return None
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
