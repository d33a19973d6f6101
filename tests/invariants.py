"""What must hold of a cache directory after anything: a readable list index whose every entry
names a readable audio file inside the directory, under the key its inputs hash to."""

from __future__ import annotations

import json
import wave
from pathlib import Path

from manim_qwen_mlx.cache import NarrationCache
from manim_qwen_mlx.cache.key import cache_key


def assert_cache_invariants(directory: Path) -> list[dict]:
    index = directory / "cache.json"
    raw = json.loads(index.read_text()) if index.exists() else []
    assert isinstance(raw, list)
    cache = NarrationCache(directory)
    for entry in raw:
        audio = cache.audio_file(entry)
        assert audio is not None and audio.is_file(), entry.get("original_audio")
        with wave.open(str(audio)) as handle:
            assert handle.getnframes() > 0
        assert entry["key"] == cache_key(entry["input_data"])
        assert entry["key"][:16] in entry["original_audio"]
    keys = [e["key"] for e in raw]
    assert len(keys) == len(set(keys)), "an input is indexed twice"
    return raw
