"""Pre-cache every narration of a scene file: collect them, then synthesize the missing ones in
this process, one model load per model, each stored the moment it is done (so a kill loses at most
the one in flight and a second run continues)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import collect, narration
from .cache import NarrationCache
from .errors import ModelLoadError, ModelNotAvailableError, QwenMLXError
from .key import cache_key

Progress = Callable[["collect.Request", float], None]  # called after each segment with its seconds
MAX_PASSES = 3  # a scene whose texts depend on durations may ask for new ones once audio exists


@dataclass
class PrecacheSummary:
    total: int = 0
    cached: int = 0
    synthesized: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (text, error)
    superseded: int = 0  # made in an early pass for a text that depended on a placeholder duration
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    passes: int = 0

    @property
    def real_time_factor(self) -> float:
        """Seconds of audio made per second of wall time (> 1 is faster than real time)."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds else 0.0


def unique(requests: list[collect.Request]) -> list[collect.Request]:
    """One request per key, grouped by model then voice so each model loads once."""
    by_key = {r.key: r for r in requests}
    return sorted(by_key.values(), key=lambda r: (str(r.model), repr(r.voice.identity()), r.key))


def missing(scene_file: Path, scenes: tuple[str, ...] = (), cwd: Path | None = None) -> list[collect.Request]:
    return [r for r in unique(collect.run_scenes(scene_file, scenes, cwd)) if not r.cached]


def precache(
    scene_file: Path,
    scenes: tuple[str, ...] = (),
    cwd: Path | None = None,
    on_plan: Callable[[list[collect.Request]], None] | None = None,
    on_segment: Progress | None = None,
) -> PrecacheSummary:
    started = time.perf_counter()
    summary = PrecacheSummary()
    failed_keys: set[str] = set()
    broken_models: dict[str, str] = {}  # a model that cannot load fails its segments at once
    made: set[str] = set()
    for _ in range(MAX_PASSES):
        requests = unique(collect.run_scenes(scene_file, scenes, cwd))
        summary.passes += 1
        if summary.passes == 1:
            summary.total = len(requests)
            summary.cached = sum(r.cached for r in requests)
        todo = [r for r in requests if not r.cached and r.key not in failed_keys]
        if not todo:
            summary.superseded = _drop_superseded(made - {r.key for r in requests}, requests)
            break
        if on_plan is not None:
            on_plan(todo)
        for request in todo:
            seconds = _synthesize(request, summary, failed_keys, broken_models)
            if seconds is not None:
                made.add(request.key)
            if on_segment is not None:
                on_segment(request, seconds or 0.0)
        summary.total = max(summary.total, len(requests))
    summary.wall_seconds = time.perf_counter() - started
    return summary


def _drop_superseded(keys: set[str], requests: list[collect.Request]) -> int:
    """Remove what this run made that the scenes no longer ask for (their text changed with durations)."""
    if not keys:
        return 0
    directories = {r.cache_dir for r in requests}
    return sum(len(NarrationCache(d).remove(lambda e: cache_key(e["input_data"]) in keys)) for d in directories)


def _synthesize(
    request: collect.Request, summary: PrecacheSummary, failed_keys: set[str], broken_models: dict[str, str]
) -> float | None:
    """Seconds of audio this call synthesized; None when it made nothing (cached meanwhile, or failed)."""
    model_problem = broken_models.get(str(request.model))
    if model_problem is not None:
        failed_keys.add(request.key)
        summary.failed.append((request.spoken, model_problem))
        return None
    try:
        entry, made = narration.ensure(
            NarrationCache(request.cache_dir),
            request.text,
            request.spoken,
            request.voice,
            request.settings,
            request.model,
            request.allow_download,
        )
    except (ModelNotAvailableError, ModelLoadError) as exc:
        broken_models[str(request.model)] = str(exc)
        failed_keys.add(request.key)
        summary.failed.append((request.spoken, str(exc)))
        return None
    except QwenMLXError as exc:
        failed_keys.add(request.key)
        summary.failed.append((request.spoken, str(exc)))
        return None
    if not made:
        return None
    seconds = float(entry.get("duration", 0.0))
    summary.synthesized += 1
    summary.audio_seconds += seconds
    return seconds
