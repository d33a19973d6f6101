"""Narration text: bookmark removal, whitespace folding, sentence splitting, frame ceilings."""

from __future__ import annotations

import math
import re
import unicodedata

from manim_qwen_mlx.core.defaults import (
    CAP_BASE_SECONDS,
    CAP_SECONDS_PER_CHAR,
    CAP_WIDE_CHAR_WEIGHT,
    FRAME_RATE,
    MAX_SENTENCE_CHARS,
)

# Same tag shape manim-voiceover's tracker recognises, so both see the same spoken text.
BOOKMARK_RE = re.compile(r"<bookmark\s*mark\s*=['\"]\w*[\"']\s*/>")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[.!?…][\"'”’)\]])\s+|(?<=[。！？])\s*")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|(?<=[，；：])\s*")
_SPACE = re.compile(r"\s+")
# A period after these is not a sentence end.
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|mr|mrs|ms|dr|prof|fig|eq|no|cf)\.|\b[A-Za-z]\.[A-Za-z]\.)$", re.I)


def remove_bookmarks(text: str) -> str:
    """One pass, as manim-voiceover's tracker removes them (the text it measures bookmarks in)."""
    return BOOKMARK_RE.sub("", text)


def normalize(text: str) -> str:
    """The spoken text: bookmarks removed until none is left (a removed tag can join the pieces of
    another), runs of whitespace folded to one space. Idempotent."""
    while True:
        folded = " ".join(remove_bookmarks(text).split())
        if folded == text:
            return folded
        text = folded


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
    """Split normalised text into sentences, none longer than ``max_chars`` where avoidable."""
    sentences: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        if sentences and _ABBREVIATION.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {sentence}"
        else:
            sentences.append(sentence)
    return [piece for sentence in sentences for piece in _split_long(sentence, max_chars)]


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    for splitter in (_CLAUSE_END, _SPACE):
        parts = [p for p in splitter.split(sentence) if p]
        if len(parts) > 1:
            return [c for chunk in _pack(parts, max_chars) for c in _split_long(chunk, max_chars)]
    # One unbroken run (CJK without punctuation, a URL): cut it.
    return [sentence[i : i + max_chars] for i in range(0, len(sentence), max_chars)]


def _pack(parts: list[str], max_chars: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for part in parts:
        # CJK text has no spaces between clauses; Latin text does.
        glue = "" if not current or unicodedata.east_asian_width(current[-1]) in "WF" else " "
        candidate = current + glue + part
        if current and len(candidate) > max_chars:
            chunks.append(current)
            current = part
        else:
            current = candidate
    chunks.append(current)
    return chunks


def spoken_units(text: str) -> float:
    """Length of the text in 'Latin letter' units; wide (CJK) characters weigh more."""
    return sum(
        CAP_WIDE_CHAR_WEIGHT if unicodedata.east_asian_width(ch) in "WF" else 1.0 for ch in text if not ch.isspace()
    )


def frame_cap(text: str) -> int:
    """Most codec frames a sentence may take before we call it a runaway generation."""
    seconds = CAP_BASE_SECONDS + CAP_SECONDS_PER_CHAR * spoken_units(text)
    return math.ceil(seconds * FRAME_RATE)


def shorten(text: str, width: int = 60) -> str:
    """``text`` on at most ``width`` characters, with "…" where it was cut, so a reader sees it was."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def slug(text: str, max_length: int = 40) -> str:
    """A file-name-safe ASCII slug: letters, digits and hyphens only."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return cleaned[:max_length].rstrip("-") or "narration"


# The writing systems of the languages Qwen3-TTS speaks (Chinese, English, Japanese, Korean, German,
# French, Russian, Portuguese, Spanish, Italian), by the first word of a letter's Unicode name.
SPOKEN_SCRIPTS = frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "CYRILLIC", "HALFWIDTH", "FULLWIDTH"})


def unspoken_script(text: str) -> str | None:
    """The writing system most of ``text``'s letters are in, when no Qwen3-TTS language uses it
    ("Arabic", "Hebrew", "Devanagari", ...); None when the text is in a spoken one or has no letters."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            script = unicodedata.name(ch, "UNKNOWN").split(" ")[0]
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return None
    script = max(counts, key=lambda name: counts[name])
    return None if script in SPOKEN_SCRIPTS or script == "UNKNOWN" else script.title()
