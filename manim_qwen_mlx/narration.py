"""One narration into the cache: the single code path the service and ``precache`` share."""

from __future__ import annotations

import logging
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import audio, engine
from .cache import Entry, NarrationCache
from .defaults import LOGGER_NAME, SAMPLE_RATE
from .key import cache_key, input_data
from .model_ref import ModelRef
from .settings import SynthesisSettings
from .voice import Voice

log = logging.getLogger(LOGGER_NAME)


def ensure(
    cache: NarrationCache,
    text: str,
    spoken: str,
    voice: Voice,
    settings: SynthesisSettings,
    model: ModelRef,
    allow_download: bool = True,
    audio_name: str | None = None,
) -> tuple[Entry, bool]:
    """The cache entry for these inputs, synthesized and stored if missing; and whether it was."""
    data = input_data(spoken, voice, settings, model)
    entry = cache.lookup(data)
    if entry is not None:
        return entry, False
    key = cache_key(data)
    with cache.key_lock(key):  # a parallel render of the same text waits here, then hits
        entry = cache.lookup(data)
        if entry is not None:
            return entry, False
        started = time.perf_counter()
        samples = engine.synthesize(spoken, voice, settings, model, allow_download)
        name = audio_name or cache.audio_name(spoken, key)
        target = cache.directory / name
        audio.write_wav(target, samples)
        entry = {
            "input_text": text,
            "input_data": data,
            "original_audio": name,
            "final_audio": name,
            "key": key,
            "duration": audio.duration(target),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": _versions(),
        }
        cache.store(entry)
    log.info(
        "Synthesized %.2f s of audio in %.2f s: %r",
        entry["duration"],
        time.perf_counter() - started,
        spoken[:60],
    )
    return entry, True


def _versions() -> dict[str, str]:
    found = {}
    for package in ("manim-qwen-mlx", "mlx-audio", "mlx"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


def placeholder(directory: Path, seconds: float) -> Path:
    """A silent WAV of ``seconds``, standing in for a narration not synthesized yet."""
    import numpy as np

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"silence-{round(seconds * 1000)}ms.wav"
    if not path.exists():
        audio.write_wav(path, np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32))
    return path
