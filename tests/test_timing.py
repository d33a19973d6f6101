"""Word boundaries: the estimate, the aligner, and what manim-voiceover's tracker makes of them."""

from pathlib import Path

import numpy as np
import pytest
from manim_voiceover.tracker import TimeInterpolator

from manim_qwen_mlx.companions import aligner
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.text import normalize, remove_bookmarks
from manim_qwen_mlx.core.timing import Span, WordTime, boundaries, estimate, locate, words

RATE = 24_000
TEXTS = [
    "This is a triangle, and this is a square.",
    "It's 3.5 times π: café au lait!",
    '"Quoted" words -- and dashes.',
    "你好世界。再见",
    "Mixed 中文 and English.",
]


def _spans(text: str, seconds_per_sentence: float = 2.0) -> list[Span]:
    cut = text.find(" ", len(text) // 2)
    cut = cut if cut > 0 else len(text) // 2  # CJK has no spaces: any character boundary is a word boundary
    pieces = [text[:cut], text[cut:]]
    located = locate(text, pieces)
    step = int(seconds_per_sentence * RATE)
    return [Span(a, b, i * step, (i + 1) * step - RATE // 10) for i, (a, b) in enumerate(located)]


def _check(timed: list[WordTime], text: str, spans: list[Span]) -> None:
    expected = words(text)
    assert [(w.char_start, w.char_end) for w in timed] == expected  # one per word, in order
    starts = [w.start for w in timed]
    assert starts == sorted(starts)
    assert all(0 <= s <= spans[-1].sample_end / RATE for s in starts)


def test_words_cover_punctuation_numbers_apostrophes_and_cjk() -> None:
    text = "It's 3.5 times π: café! 你好"
    assert [text[a:b] for a, b in words(text)] == ["It's", "3.5", "times", "π", "café", "你", "好"]


@pytest.mark.parametrize("text", TEXTS)
def test_estimate_guarantees(text: str) -> None:
    spans = _spans(text)
    timed = estimate(text, spans, RATE)
    _check(timed, text, spans)
    for word in timed:  # each word starts inside its own sentence
        span = next(s for s in spans if s.char_start <= word.char_start < s.char_end)
        assert span.sample_start / RATE <= word.start < span.sample_end / RATE


@pytest.mark.parametrize("text", TEXTS)
def test_aligner_guarantees(tiny_aligner: Path, text: str) -> None:
    model = aligner.load(ModelRef.resolve(tiny_aligner), allow_download=False)
    spans = _spans(text)
    samples = np.random.default_rng(0).normal(0, 0.1, spans[-1].sample_end + RATE).astype(np.float32)
    timed = aligner.align(model, samples, RATE, text, spans, "auto")
    _check(timed, text, spans)
    for word in timed:
        span = next(s for s in spans if s.char_start <= word.char_start < s.char_end)
        assert span.sample_start / RATE <= word.start <= span.sample_end / RATE


def test_bookmark_times_through_the_tracker_interpolation() -> None:
    raw = "This is a <bookmark mark='A'/>triangle  and  this is a <bookmark mark='B'/>square."
    spoken = normalize(raw)
    content = remove_bookmarks(" ".join(raw.split()))
    spans = [Span(0, len(spoken), 0, 4 * RATE)]
    timed = estimate(spoken, spans, RATE)
    result = boundaries(timed, spoken, content, 4.0)
    offsets = [b["text_offset"] for b in result]
    assert offsets == sorted(set(offsets)) and offsets[-1] == len(content)
    for b in result[:-1]:
        assert content[b["text_offset"] : b["text_offset"] + b["word_length"]] == b["text"]
    interpolate = TimeInterpolator(result).interpolate
    triangle = next(w for w in timed if spoken[w.char_start : w.char_end] == "triangle")
    assert interpolate(content.index("triangle")) == pytest.approx(triangle.start, abs=1e-6)
    assert interpolate(len(content)) == pytest.approx(4.0)


def test_aligner_that_is_not_one_is_refused(tiny_model: Path) -> None:
    from manim_qwen_mlx import ModelLoadError

    with pytest.raises(ModelLoadError, match="not a Qwen3-ForcedAligner"):
        aligner.load(ModelRef.resolve(tiny_model), allow_download=False)
