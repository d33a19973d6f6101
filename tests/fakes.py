"""A fake synthesizer for cache and concurrency tests that claim no synthesis: a tone per text."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np

from manim_qwen_mlx.core.timing import Span
from manim_qwen_mlx.synthesis.engine import Narrate
from manim_qwen_mlx.synthesis.speech import Speech


class FakeEngine:
    """Stands in for ``engine.synthesize_many`` (every narration's one path); counts its calls per text."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, narrations: list[Narrate], *args: object, **kwargs: object) -> Iterator[tuple[int, Speech]]:
        for index, item in enumerate(narrations):
            self.calls.append(item.text)
            hz = 100 + zlib.crc32(item.text.encode()) % 400
            t = np.arange(2400) / 24_000
            tone = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
            yield index, Speech(tone, [Span(0, len(item.text), 0, 2400)])
