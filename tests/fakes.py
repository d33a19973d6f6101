"""A fake synthesizer for cache and concurrency tests that claim no synthesis: a tone per text."""

from __future__ import annotations

import zlib

import numpy as np

from manim_qwen_mlx.core.timing import Span
from manim_qwen_mlx.synthesis.engine import Speech


class FakeEngine:
    """Stands in for ``engine.synthesize``; counts its calls per text."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str, *args: object, **kwargs: object) -> Speech:
        self.calls.append(text)
        hz = 100 + zlib.crc32(text.encode()) % 400
        t = np.arange(2400) / 24_000
        return Speech((0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), [Span(0, len(text), 0, 2400)])
