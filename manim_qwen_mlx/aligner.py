"""Exact word times from mlx-audio's Qwen3 forced aligner, sentence by sentence, loaded once."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from . import cpu_fastpath, loader, precision
from .audio import resample
from .defaults import ALIGNER_SAMPLE_RATE, LOGGER_NAME
from .errors import ModelLoadError
from .model_ref import ModelRef
from .timing import Span, WordTime, clamp_monotonic, is_cjk, kept

log = logging.getLogger(LOGGER_NAME)
_aligners: dict[Path, Any] = {}
_lock = threading.Lock()


def load(ref: ModelRef, allow_download: bool) -> Any:
    """The aligner model, loaded on first use and then shared; raises when it is not available."""
    path = loader.resolve_path(ref, allow_download)
    with _lock:
        if path in _aligners:
            return _aligners[path]
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"Cannot read the aligner configuration in {path}: {exc}") from exc
        if (config.get("thinker_config") or {}).get("model_type") != "qwen3_forced_aligner":
            raise ModelLoadError(f"{path} is not a Qwen3-ForcedAligner model.")
        log.info("Loading forced aligner from %s", path)
        cpu_fastpath.prepare_blas()
        from mlx_audio.stt.utils import load_model

        model, _ = loader.quiet_load(load_model, path, "the aligner")
        precision.to_float32(model)
        _aligners[path] = model
        return model


def align(
    model: Any, samples: np.ndarray, sample_rate: int, spoken: str, spans: list[Span], lang_code: str
) -> list[WordTime]:
    """Word start times in the narration; each sentence is aligned inside its own exact span."""
    timed: list[WordTime] = []
    for span in spans:
        text = spoken[span.char_start : span.char_end]
        clip = samples[span.sample_start : span.sample_end]
        if not text.strip() or len(clip) < sample_rate // 10:
            continue
        language = "Chinese" if lang_code == "chinese" or any(is_cjk(c) for c in text) else "English"
        result = model.generate(audio=resample(clip, sample_rate, ALIGNER_SAMPLE_RATE), text=text, language=language)
        items = list(result)
        offset = span.sample_start / sample_rate
        starts = clamp_monotonic(np.array([float(i.start_time) for i in items]), 0.0, len(clip) / sample_rate)
        cursor = span.char_start
        for item, start in zip(items, starts, strict=True):
            found = _find(spoken, str(item.text), cursor, span.char_end)
            if found is None:
                continue
            timed.append(WordTime(found[0], found[1], offset + float(start)))
            cursor = found[1]
    return timed


def _find(text: str, token: str, start: int, end: int) -> tuple[int, int] | None:
    """The aligner's token (spoken characters only) in ``text[start:end]``, matched in order."""
    wanted = [c for c in token if kept(c)]
    first = last = -1
    cursor = start
    for ch in wanted:
        while cursor < end and text[cursor] != ch:
            cursor += 1
        if cursor >= end:
            return None
        first = cursor if first < 0 else first
        last = cursor
        cursor += 1
    return (first, last + 1) if first >= 0 else None
