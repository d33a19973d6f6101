"""The narration cache: entries and their audio in manim-voiceover's format (``store``), the key that
names every input (``key``), and listing and pruning for people (``inventory``)."""

from manim_qwen_mlx.cache.store import Entry, NarrationCache

__all__ = ["Entry", "NarrationCache"]
