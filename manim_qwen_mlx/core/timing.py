"""Word timings for bookmarks: sentence spans, words, the proportional estimate, and
manim-voiceover's ``word_boundaries`` (100 ns ticks, offsets into the bookmark-free text)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

TICKS_PER_SECOND = 10_000_000  # manim-voiceover's AUDIO_OFFSET_RESOLUTION


@dataclass(frozen=True)
class Span:
    """A sentence: its characters in the spoken text and its samples in the final audio."""

    char_start: int
    char_end: int
    sample_start: int
    sample_end: int


@dataclass(frozen=True)
class WordTime:
    char_start: int
    char_end: int
    start: float  # seconds into the narration


def kept(ch: str) -> bool:
    """Characters that are spoken: letters, digits, apostrophes (as the Qwen3 aligner counts them)."""
    return ch == "'" or unicodedata.category(ch)[0] in "LN"


def is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF" and kept(ch)


def locate(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    """Where each piece (in order) lies in ``text``, matching non-space characters."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in pieces:
        chars = [c for c in piece if not c.isspace()]
        start = end = cursor
        for index, ch in enumerate(chars):
            found = text.find(ch, cursor)
            if found < 0:
                break
            if index == 0:
                start = found
            end = cursor = found + 1
        spans.append((start, max(start, end)))
    return spans


def words(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Word spans in ``text[start:end]``: runs of spoken characters; each CJK character alone."""
    stop = len(text) if end is None else end
    found: list[tuple[int, int]] = []
    run_start: int | None = None
    for index in range(start, stop + 1):
        ch = text[index] if index < stop else " "
        if ch.isspace() or is_cjk(ch):
            if run_start is not None:
                found.append(_trim(text, run_start, index))
                run_start = None
            if index < stop and is_cjk(ch):
                found.append((index, index + 1))
        elif run_start is None:
            run_start = index
    return [(a, b) for a, b in found if b > a]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """A whitespace-separated token without its leading and trailing punctuation."""
    while start < end and not kept(text[start]):
        start += 1
    while end > start and not kept(text[end - 1]):
        end -= 1
    return start, end


def estimate(spoken: str, spans: list[Span], sample_rate: int) -> list[WordTime]:
    """Each word starts after a share of its sentence proportional to the spoken characters before it."""
    timed: list[WordTime] = []
    for span in spans:
        found = words(spoken, span.char_start, span.char_end)
        weights = [sum(kept(c) for c in spoken[a:b]) for a, b in found]
        total = sum(weights) or 1
        seconds = (span.sample_end - span.sample_start) / sample_rate
        before = 0
        for (a, b), weight in zip(found, weights, strict=True):
            timed.append(WordTime(a, b, span.sample_start / sample_rate + seconds * before / total))
            before += weight
    return timed


def boundaries(
    timed: list[WordTime], spoken: str, content: str, duration: float, origin: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """manim-voiceover word boundaries with offsets into ``content`` (this call's bookmark-free text).
    ``origin``: where each index of ``spoken`` came from in the written, normalised text, when they differ
    (pronunciations, ``core.spoken``); the words said for one written token all start at that token.

    Text offsets strictly increase and times never decrease, with a last boundary at the end of the
    text, so the tracker's interpolation is defined for every bookmark.
    """
    position = _positions(content)
    result: list[dict[str, Any]] = []
    last_time = 0.0
    for word in sorted(timed, key=lambda w: w.char_start):
        offset = position[word.char_start if origin is None else origin[word.char_start]]
        if result and offset <= result[-1]["text_offset"]:
            continue
        last_time = min(max(word.start, last_time), duration)
        text = spoken[word.char_start : word.char_end]
        result.append(
            {
                "audio_offset": round(last_time * TICKS_PER_SECOND),
                "text_offset": offset,
                "word_length": len(text),
                "text": text,
                "boundary_type": "Word",
            }
        )
    if result and result[0]["text_offset"] > 0:
        result.insert(0, {**result[0], "text_offset": 0, "word_length": 0, "text": ""})
    end = {
        "audio_offset": round(duration * TICKS_PER_SECOND),
        "text_offset": len(content),
        "word_length": 0,
        "text": "",
        "boundary_type": "Word",
    }
    if not result or result[-1]["text_offset"] < len(content):
        result.append(end)
    return result


def _positions(content: str) -> list[int]:
    """For each index of the normalised text (whitespace folded), its index in ``content``; plus the end."""
    positions: list[int] = []
    pending_space: int | None = None
    for index, ch in enumerate(content):
        if ch.isspace():
            if positions and pending_space is None:
                pending_space = index
            continue
        if pending_space is not None:
            positions.append(pending_space)
            pending_space = None
        positions.append(index)
    positions.append(len(content))
    return positions


def spans_to_json(spans: list[Span]) -> list[list[int]]:
    return [[s.char_start, s.char_end, s.sample_start, s.sample_end] for s in spans]


def spans_from_json(raw: Any) -> list[Span] | None:
    try:
        return [Span(*(int(v) for v in item)) for item in raw]
    except (TypeError, ValueError):
        return None


def clamp_monotonic(times: np.ndarray, low: float, high: float) -> np.ndarray:
    """Aligner times inside [low, high] and never going backwards."""
    return np.maximum.accumulate(np.clip(times, low, high)) if len(times) else times


def estimated_boundaries(spoken: str, seconds: float, sample_rate: int) -> list[dict[str, Any]]:
    """Stored word boundaries of ``spoken`` estimated over audio of ``seconds`` (nothing heard yet)."""
    whole = [Span(0, len(spoken), 0, round(seconds * sample_rate))]
    return stored_boundaries(estimate(spoken, whole, sample_rate), spoken)


def stored_boundaries(timed: list[WordTime], spoken: str) -> list[dict[str, Any]]:
    """Word boundaries in the spoken (normalised) text, as stored in the cache entry."""
    return [
        {
            "audio_offset": round(w.start * TICKS_PER_SECOND),
            "text_offset": w.char_start,
            "word_length": w.char_end - w.char_start,
            "text": spoken[w.char_start : w.char_end],
            "boundary_type": "Word",
        }
        for w in sorted(timed, key=lambda w: w.char_start)
    ]


def from_stored(raw: Any) -> list[WordTime]:
    try:
        return [
            WordTime(
                int(b["text_offset"]),
                int(b["text_offset"]) + int(b["word_length"]),
                int(b["audio_offset"]) / TICKS_PER_SECOND,
            )
            for b in raw
        ]
    except (TypeError, KeyError, ValueError):
        return []
