"""Exact word times from mlx-audio's Qwen3 forced aligner, sentence by sentence, loaded once."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np

from manim_qwen_mlx.audio import resample
from manim_qwen_mlx.core.defaults import ALIGNER_SAMPLE_RATE, LOGGER_NAME
from manim_qwen_mlx.core.errors import ModelLoadError, ModelNotAvailableError
from manim_qwen_mlx.core.model_ref import ModelRef
from manim_qwen_mlx.core.timing import Span, WordTime, clamp_monotonic, is_cjk, kept
from manim_qwen_mlx.model import loader, stt

log = logging.getLogger(LOGGER_NAME)
_aligners: dict[Path, stt.ForcedAligner] = {}
_missing: dict[tuple[str, bool], ModelNotAvailableError | ModelLoadError] = {}  # looked up once per process
_lock = threading.Lock()


def load(ref: ModelRef, allow_download: bool) -> stt.ForcedAligner:
    """The aligner model, loaded on first use and then shared; raises when it is not available. An aligner
    that cannot be had is looked up once per process (a file of narrations must not try a download per
    narration): later calls raise the same error at once."""
    known = _missing.get((str(ref), allow_download))
    if known is not None:
        raise type(known)(str(known))
    try:
        return _load(ref, allow_download)
    except (ModelNotAvailableError, ModelLoadError) as exc:
        _missing[str(ref), allow_download] = exc
        raise


def here(ref: ModelRef) -> bool:
    """Whether the aligner is on this machine (a folder, or downloaded before); nothing is loaded."""
    try:
        loader.resolve_path(ref, allow_download=False, option="aligner")
    except ModelNotAvailableError:
        return False
    return True


def _load(ref: ModelRef, allow_download: bool) -> stt.ForcedAligner:
    path = loader.resolve_path(ref, allow_download, "aligner")
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
        _aligners[path] = stt.load_aligner(path)
        return _aligners[path]


def align(
    model: stt.ForcedAligner, samples: np.ndarray, sample_rate: int, spoken: str, spans: list[Span], lang_code: str
) -> list[WordTime]:
    """Word start times in the narration; each sentence is aligned inside its own exact span."""
    timed: list[WordTime] = []
    for span in spans:
        text = spoken[span.char_start : span.char_end]
        clip = samples[span.sample_start : span.sample_end]
        if not text.strip() or len(clip) < sample_rate // 10:
            continue
        language = "Chinese" if lang_code == "chinese" or any(is_cjk(c) for c in text) else "English"
        items = model.align(resample(clip, sample_rate, ALIGNER_SAMPLE_RATE), text, language)
        offset = span.sample_start / sample_rate
        starts = clamp_monotonic(np.array([item.start for item in items]), 0.0, len(clip) / sample_rate)
        cursor = span.char_start
        for item, start in zip(items, starts, strict=True):
            found = _find(spoken, item.text, cursor, span.char_end)
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
