"""The cache key: every input that changes the audio, as canonical JSON, hashed."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from manim_qwen_mlx.core.defaults import CACHE_SCHEMA_VERSION, SERVICE_NAME
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.settings import SynthesisSettings
from manim_qwen_mlx.core.voice import Voice


def input_data(text: str, voice: Voice, settings: SynthesisSettings, model: ModelRef) -> dict[str, Any]:
    """manim-voiceover's ``input_data`` for one narration; ``text`` is already normalised.

    Computable without the model, so a machine given only the cache still renders.
    """
    return {
        "input_text": text,
        "service": SERVICE_NAME,
        "config": {
            "schema": CACHE_SCHEMA_VERSION,
            "model": model.identity(),
            "voice": voice.identity(),
            "settings": settings.identity(),
        },
    }


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def cache_key(data: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()
