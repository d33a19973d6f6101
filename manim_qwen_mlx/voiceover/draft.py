"""Draft mode: work on the visuals without waiting for speech (``draft=True`` or ``MANIM_QWEN_MLX_DRAFT=1``).

A narration already cached plays its real audio. A missing one gets a placeholder, silence of the length
it will about have (its spoken units at the voice's usual pace: a clone's own clip and transcript, else
typical speech; the speed and the pauses between its sentences), with word times estimated for its
bookmarks. Nothing loads a model or imports MLX. Placeholders live apart, in ``<cache>/drafts/`` with a
small JSON each, never in the index, so they are never served once draft mode is off, and ``precache
--check`` counts their narration as missing. The render ends with one line counting them.
"""

from __future__ import annotations

import atexit
import json
import logging

import numpy as np

from manim_qwen_mlx.audio import clips
from manim_qwen_mlx.cache import Entry, NarrationCache
from manim_qwen_mlx.cache.inventory import DRAFTS
from manim_qwen_mlx.cache.key import cache_key
from manim_qwen_mlx.core import timing
from manim_qwen_mlx.core.defaults import LOGGER_NAME, SAMPLE_RATE
from manim_qwen_mlx.core.fsutil import atomic_write
from manim_qwen_mlx.core.text import slug, split_sentences, spoken_units
from manim_qwen_mlx.synthesis import takes
from manim_qwen_mlx.voiceover.narration import Narration, needs_word_times

log = logging.getLogger(LOGGER_NAME)
_placeholders: set[str] = set()  # this process's, by key, for the line at the end
SHORTEST_SECONDS = 0.5  # no stand-in is shorter (a narration that cannot be spoken gets this)


def entry(cache: NarrationCache, said: Narration) -> Entry:
    """The cached narration when there is one, else a placeholder of its estimated length."""
    data = said.input_data()
    found = cache.lookup(data)
    if found is not None:
        return found if not needs_word_times(found, said.bookmarks) else _estimated_times(found, said)
    key = cache_key(data)
    seconds = estimated_seconds(said)
    folder = cache.directory / DRAFTS
    folder.mkdir(parents=True, exist_ok=True)
    wav = folder / f"{slug(said.spoken)}-{key[:16]}.wav"
    if not wav.exists():  # its note first: a placeholder listed is never one without its text
        note = json.dumps({"text": said.spoken, "duration": seconds, "key": key}).encode()
        atomic_write(wav.with_suffix(".json"), lambda handle: handle.write(note), durable=False)
        clips.write_wav(wav, np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32))
    if not _placeholders:
        atexit.register(_report)
    _placeholders.add(key)
    made: Entry = {"input_text": said.text, "input_data": data, "original_audio": str(wav), "duration": seconds}
    return _estimated_times(made, said) if said.bookmarks is not None else made


def estimated_seconds(said: Narration) -> float:
    """How long ``said`` will about last: its words at the voice's usual pace, its pauses, its speed (the one
    estimate: draft placeholders, and precache's stand-ins while it collects)."""
    sentences = split_sentences(said.spoken)
    words = sum(spoken_units(sentence) for sentence in sentences) / takes.usual_rate(said.voice)
    pauses = (len(sentences) - 1) * said.settings.sentence_pause
    return max(SHORTEST_SECONDS, (words + pauses) / said.settings.speed)


def _estimated_times(found: Entry, said: Narration) -> Entry:
    times = timing.estimated_boundaries(said.spoken, float(found["duration"]), SAMPLE_RATE)
    return {**found, "word_boundaries": times}


def _report() -> None:
    log.warning("%d narration(s) in this render are draft placeholders (silence of about their length): "
                "`manim-qwen-mlx precache FILE` makes them real.", len(_placeholders))
