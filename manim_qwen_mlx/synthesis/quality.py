"""Scores for one narration take, without any model: pacing against the text and the voice's own rate,
cosine similarity of two speaker embeddings, and the word error rate after one normalisation of both
texts (math narration says "3.14", "π", "x^2"; a speech recognizer writes them its own way)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from manim_qwen_mlx.core.text import spoken_units
from manim_qwen_mlx.core.timing import is_cjk

ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
            "nine": "ninth", "twelve": "twelfth"}
# In this order: "^2" before "^", superscripts before NFKC turns them into digits.
SYMBOLS = {"^2": " squared ", "^3": " cubed ", "²": " squared ", "³": " cubed ", "π": " pi ", "+": " plus ",
           "=": " equals ", "%": " percent ", "^": " to the ", "×": " times ", "√": " square root of ",
           "−": " minus ", "&": " and "}
_NUMBER = re.compile(r"(\d+)(?:\.(\d+))?(st|nd|rd|th)?")


@dataclass(frozen=True)
class Scores:
    """One take's checks; None where a check did not run."""

    pace: float | None  # speaking rate / the voice's usual rate (1.0: as fast as it usually speaks)
    similarity: float | None = None  # cosine of the narration's and the reference's speaker embeddings
    wer: float | None = None  # word error rate of what the speech recognizer heard
    heard: str | None = None  # what it heard

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


SCORE_NAMES = tuple(field.name for field in fields(Scores))


@dataclass(frozen=True)
class Thresholds:
    pace_tolerance: float  # a pace outside [1 / tolerance, tolerance] fails
    min_similarity: float
    max_wer: float = 1.0

    def failures(self, scores: Scores) -> list[str]:
        found = []
        if scores.pace is not None and not 1 / self.pace_tolerance <= scores.pace <= self.pace_tolerance:
            found.append(f"pace {scores.pace:.2f}x the voice's usual rate")
        if scores.similarity is not None and scores.similarity < self.min_similarity:
            found.append(f"voice similarity {scores.similarity:.2f} < {self.min_similarity}")
        if scores.wer is not None and scores.wer > self.max_wer:
            found.append(f"word error rate {scores.wer:.2f} > {self.max_wer}")
        return found


@dataclass(frozen=True)
class Take:
    seed: int
    scores: Scores
    failures: tuple[str, ...]


@dataclass(frozen=True)
class ChecksRecord:
    """Every take of a narration with its scores, and which one was kept: a cache entry's ``checks``."""

    takes: tuple[Take, ...]
    chosen: int
    verified: bool

    @property
    def kept(self) -> Take:
        return self.takes[self.chosen]

    @property
    def passed(self) -> bool:
        return not self.kept.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "takes": [{"seed": t.seed, **t.scores.to_json(), "failures": list(t.failures)} for t in self.takes],
            "chosen": self.chosen,
            "passed": self.passed,
            "verified": self.verified,
        }

    @classmethod
    def from_json(cls, raw: object) -> ChecksRecord | None:
        """The record stored in an entry; None where there is none or it cannot be read."""
        if not isinstance(raw, dict):
            return None
        try:
            takes = tuple(
                Take(int(take["seed"]), Scores(*(take.get(name) for name in SCORE_NAMES)), tuple(take["failures"]))
                for take in raw["takes"]
            )
            record = cls(takes, int(raw["chosen"]), bool(raw.get("verified", False)))
            record.kept  # noqa: B018 (an index out of range is a record we cannot read)
        except (KeyError, TypeError, ValueError, IndexError):
            return None
        return record


def pace(spoken: str, seconds: float, expected_units_per_second: float) -> float:
    """Speaking rate of the take relative to the expected one: about 1 for natural speech, far above
    for a truncated take, far below for one that rambles or loops."""
    return spoken_units(spoken) / max(seconds, 1e-6) / expected_units_per_second


def cosine(a: Any, b: Any) -> float:
    x, y = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
    norms = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y) / max(norms, 1e-12)


def normalize_words(text: str) -> list[str]:
    """Words for scoring: NFKC, symbols and numbers spelled out, lower case, no punctuation or
    apostrophes; each CJK character a word of its own."""
    for symbol, spoken in SYMBOLS.items():
        text = text.replace(symbol, spoken)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", unicodedata.normalize("NFKC", text))  # 1,000 is one number
    text = _NUMBER.sub(lambda m: " " + _number_words(m) + " ", text).lower().replace("'", "").replace("’", "")
    words: list[str] = []
    for token in re.split(r"[^\w]+", text):
        run = ""
        for ch in token:
            if is_cjk(ch):
                words += [run] if run else []
                words.append(ch)
                run = ""
            else:
                run += ch
        words += [run] if run else []
    return [w for w in words if w and w != "_"]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference``: edit distance over reference words."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1] / len(ref)


def _number_words(match: re.Match[str]) -> str:
    whole, fraction, suffix = match.group(1), match.group(2), match.group(3)
    words = _integer_words(int(whole)) if len(whole) <= 9 else " ".join(ONES[int(d)] for d in whole)
    if suffix:
        last = words.split()[-1]
        words = words[: -len(last)] + ORDINALS.get(last, (last[:-1] + "ieth") if last.endswith("y") else last + "th")
    if fraction:
        words += " point " + " ".join(ONES[int(d)] for d in fraction)
    return words


def _integer_words(n: int) -> str:
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    for size, name in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            rest = n % size
            return _integer_words(n // size) + " " + name + ("" if rest == 0 else " " + _integer_words(rest))
    raise AssertionError(n)
