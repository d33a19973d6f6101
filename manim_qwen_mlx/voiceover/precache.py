"""Pre-cache every narration of a scene file: collect them, then synthesize the missing ones in
this process, one model load per model, each stored the moment it is done (so a kill loses at most
the one in flight and a second run continues)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from manim_qwen_mlx.cache import Entry, NarrationCache
from manim_qwen_mlx.cache.key import cache_key
from manim_qwen_mlx.core import options
from manim_qwen_mlx.core.defaults import LOGGER_NAME
from manim_qwen_mlx.core.errors import ModelLoadError, ModelNotAvailableError, QwenMLXError
from manim_qwen_mlx.synthesis import takes
from manim_qwen_mlx.synthesis.quality import ChecksRecord
from manim_qwen_mlx.voiceover import collect, narration

log = logging.getLogger(LOGGER_NAME)

Progress = Callable[["collect.Request", float], None]  # called after each segment with its seconds
MAX_PASSES = 3  # a scene whose texts depend on durations may ask for new ones once audio exists


@dataclass
class PrecacheSummary:
    total: int = 0
    cached: int = 0
    synthesized: int = 0
    timed: int = 0  # cached narration that only lacked word times for its bookmarks
    flagged: list[tuple[str, str]] = field(default_factory=list)  # (text, failures) kept as the best take
    retried: int = 0  # failed in a batch, then made again on its own
    failed: list[tuple[str, QwenMLXError]] = field(default_factory=list)  # (text, the error that stopped it)
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
    return sorted(by_key.values(), key=lambda r: (str(r.model), repr(r.narration.voice.identity()), r.key))


def missing(scene_file: Path, scenes: tuple[str, ...] = (), cwd: Path | None = None) -> list[collect.Request]:
    return [r for r in unique(collect.run_scenes(scene_file, scenes, cwd)) if not r.cached]


def precache(
    scene_file: Path,
    scenes: tuple[str, ...] = (),
    cwd: Path | None = None,
    on_plan: Callable[[list[collect.Request]], None] | None = None,
    on_segment: Progress | None = None,
    batch_size: int = 1,
    verify: bool = False,
) -> PrecacheSummary:
    """Synthesize what the scenes need; ``batch_size`` > 1 uses batch generation for narrations that
    share a voice and settings (faster on a GPU; on the CPU measure first, see docs/performance.md);
    ``verify`` also scores voice similarity and intelligibility of every take it makes, whatever the
    scene's service says."""
    started = time.perf_counter()
    summary = PrecacheSummary()
    failed_keys: set[str] = set()
    broken_models: dict[str, QwenMLXError] = {}  # a model that cannot load fails its segments at once
    made: set[str] = set()
    for _ in range(MAX_PASSES):
        requests = [_verified(r) if verify else r for r in unique(collect.run_scenes(scene_file, scenes, cwd))]
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
        for group in _slices(todo, batch_size):
            for request, seconds in zip(
                group, _synthesize(group, summary, failed_keys, broken_models, batch_size), strict=True
            ):
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


def _slices(todo: list[collect.Request], batch_size: int) -> list[list[collect.Request]]:
    """Runs of up to ``batch_size`` requests that can share one batch (same model, voice, settings)."""
    slices: list[list[collect.Request]] = []
    for request in todo:
        last = slices[-1] if slices else None
        if last and len(last) < batch_size and _batchable(last[0], request):
            last.append(request)
        else:
            slices.append([request])
    return slices


def _batchable(a: collect.Request, b: collect.Request) -> bool:
    # Word-time options need not match: times are found per narration after its audio is made.
    x, y = a.narration, b.narration
    return (x.model, x.voice, x.settings, x.allow_download) == (y.model, y.voice, y.settings, y.allow_download)


def _synthesize(
    group: list[collect.Request],
    summary: PrecacheSummary,
    failed_keys: set[str],
    broken_models: dict[str, QwenMLXError],
    batch_size: int,
) -> list[float | None]:
    """Seconds of audio made for each request; None where nothing was made (cached meanwhile, or failed).

    A narration that fails inside a batch is made again alone, as a render would make it; only a
    model that cannot load fails every request of the group at once."""
    first = group[0]
    problem = broken_models.get(str(first.model))
    outcomes: list[tuple[Entry, bool] | QwenMLXError] = []
    if problem is None:
        try:
            outcomes = [_ensure_one(first)] if len(group) == 1 else _ensure_batch(group, batch_size, summary)
        except (ModelNotAvailableError, ModelLoadError) as exc:
            problem = broken_models[str(first.model)] = exc
        except QwenMLXError as exc:
            problem = exc
    if problem is not None:
        outcomes = [problem] * len(group)  # the error itself, typed, for every request of the group
    made: list[float | None] = []
    for request, outcome in zip(group, outcomes, strict=True):
        if isinstance(outcome, QwenMLXError):
            failed_keys.add(request.key)
            summary.failed.append((request.spoken, outcome))
            made.append(None)
            continue
        entry, fresh = outcome
        if not fresh:
            summary.timed += request.narration.bookmarks is not None and not request.cached
            made.append(None)
            continue
        seconds = float(entry.get("duration", 0.0))
        checks = ChecksRecord.from_json(entry.get("checks"))
        if checks is not None and not checks.passed:
            summary.flagged.append((request.spoken, "; ".join(checks.kept.failures)))
        summary.synthesized += 1
        summary.audio_seconds += seconds
        made.append(seconds)
    return made


def _verified(request: collect.Request) -> collect.Request:
    names = ("max_takes", "pace_tolerance", "min_voice_similarity", "max_wer", "asr")
    said = request.narration
    checking = said.checking or takes.Checking.from_options(True, True, **{n: options.value(n) for n in names})
    assert checking is not None
    return replace(request, narration=replace(said, checking=replace(checking, verify=True)))


def _ensure_batch(
    group: list[collect.Request], batch_size: int, summary: PrecacheSummary
) -> list[tuple[Entry, bool] | QwenMLXError]:
    first = group[0].narration
    items = [
        narration.BatchItem(NarrationCache(r.cache_dir), r.narration.text, r.spoken, r.narration.bookmarks)
        for r in group
    ]
    outcomes = narration.ensure_batch(items, first.voice, first.settings, first.model, first.allow_download, batch_size)
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, QwenMLXError):
            log.warning("Retrying alone after failing in a batch: %r (%s)", group[index].spoken[:60], outcome)
            summary.retried += 1
            outcomes[index] = _attempt(group[index])
    return outcomes


def _ensure_one(request: collect.Request) -> tuple[Entry, bool]:
    return narration.ensure(NarrationCache(request.cache_dir), request.narration)


def _attempt(request: collect.Request) -> tuple[Entry, bool] | QwenMLXError:
    """One narration on its own; its own failure is returned, a model that cannot load is raised."""
    try:
        return _ensure_one(request)
    except (ModelNotAvailableError, ModelLoadError):
        raise
    except QwenMLXError as exc:
        return exc
