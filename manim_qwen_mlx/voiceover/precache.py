"""Pre-cache every narration of a scene file: collect them, then synthesize the missing ones in
this process, one model load per model, each stored the moment it is done (so a kill loses at most
the one in flight and a second run continues)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from manim_qwen_mlx.cache import Entry, NarrationCache, owners
from manim_qwen_mlx.cache.key import cache_key
from manim_qwen_mlx.cache.owners import Owner
from manim_qwen_mlx.companions import aligner
from manim_qwen_mlx.core import options
from manim_qwen_mlx.core.defaults import DEFAULT_BATCH_SIZE, LOGGER_NAME
from manim_qwen_mlx.core.errors import InvalidTextError, ModelLoadError, ModelNotAvailableError, QwenMLXError
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


def missing(scene_file: Path, scenes: tuple[str, ...] = (), cwd: Path | None = None) -> collect.Collected:
    """What the scenes ask for that is not cached or has only estimated word times (``Request.estimated``
    tells those), and what they ask for that cannot be spoken."""
    found = collect.run_scenes(scene_file, scenes, cwd)
    first: dict[str, collect.Request] = {}  # each key once, in the order the scenes first ask for it
    for request in found.requests:
        first.setdefault(request.key, request)
    wanted = [r for r in first.values() if not r.cached or r.estimated]
    return collect.Collected(wanted, found.problems)


def aligner_here(requests: list[collect.Request]) -> bool:
    """Whether the aligner of any of ``requests`` is on this machine now (no download tried)."""
    return any(aligner.here(r.narration.bookmarks.aligner) for r in requests if r.narration.bookmarks is not None)


def precache(
    scene_file: Path,
    scenes: tuple[str, ...] = (),
    cwd: Path | None = None,
    on_plan: Callable[[list[collect.Request]], None] | None = None,
    on_segment: Progress | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    verify: bool = False,
    on_sentence: Callable[[int], None] | None = None,
) -> PrecacheSummary:
    """Synthesize what the scenes need: every missing narration of a model goes into one queue, whose
    sentences run ``batch_size`` rows at a time (continuous batching; the audio is the same at any batch
    size); each narration is stored the moment its last sentence is done. ``verify`` also scores voice
    similarity and intelligibility of every take it makes, whatever the scene's service says.
    ``on_sentence`` hears the frames of each sentence made, ``on_segment`` each narration stored."""
    started = time.perf_counter()
    summary = PrecacheSummary()
    failed_keys: set[str] = set()
    broken_models: dict[str, QwenMLXError] = {}  # a model that cannot load fails its segments at once
    made: set[str] = set()
    asked: dict[str, set[str]] = {}  # each scene's keys, as the latest pass that ran it asked for them
    directories: set[Path] = set()
    rerun, missed, unspeakable = scenes, set[str](), 0
    for _ in range(MAX_PASSES):
        found = collect.run_scenes(scene_file, rerun, cwd)
        requests = [_verified(r) if verify else r for r in unique(found.requests)]
        summary.passes += 1
        for scene in missed:
            asked.pop(scene, None)
        for request in requests:
            asked.setdefault(_scene(request), set()).add(request.key)
            directories.add(request.cache_dir)
        _claim(found.requests)  # every asking scene, also where two ask for one key
        if summary.passes == 1:
            summary.cached = sum(r.cached for r in requests)
            unspeakable = len(found.problems)
            # Unspeakable narrations fail alone; the scene ran on past them (a short silence each).
            summary.failed += [(problem.text, InvalidTextError(problem.message)) for problem in found.problems]
        estimated = [r for r in requests if r.estimated]
        realign = summary.passes == 1 and bool(estimated) and aligner_here(estimated)  # else they settle
        todo = [r for r in requests if (not r.cached or (realign and r.estimated)) and r.key not in failed_keys]
        if not todo:
            break
        if on_plan is not None:
            on_plan(todo)
        for group in _by_model(todo):
            for request, seconds in _synthesize(group, summary, failed_keys, broken_models, batch_size, on_sentence):
                if seconds is not None:
                    made.add(request.key)
                if on_segment is not None:
                    on_segment(request, seconds or 0.0)
        # Only a scene that was handed placeholder durations can ask for other texts now: run it alone.
        missed = {_scene(r) for r in todo if not r.cached}
        if not missed:
            break
        if "" in missed:  # a narration outside any scene we can name: run them all again
            rerun, missed = scenes, set(asked)
        else:
            rerun = tuple(sorted(missed))
    still_asked = set().union(*asked.values())
    summary.total = len(still_asked) + unspeakable
    summary.superseded = _drop_superseded(made - still_asked, directories)
    summary.wall_seconds = time.perf_counter() - started
    return summary


def _scene(request: collect.Request) -> str:
    """The scene that asked ("" where that is not known)."""
    return request.narration.owner.scene if request.narration.owner is not None else ""


def _claim(requests: list[collect.Request]) -> None:
    """Record the asking scene in cached entries made for other scenes or before owners were kept."""
    by_cache: dict[Path, dict[str, list[Owner]]] = {}
    for request in requests:
        if request.cached and request.narration.owner is not None:
            by_cache.setdefault(request.cache_dir, {}).setdefault(request.key, []).append(request.narration.owner)
    for directory, wanted in by_cache.items():
        if not owners.claim(NarrationCache(directory), wanted):  # a read-only cache still pre-caches
            log.warning("Could not record which scenes use the cache in %s (not writable).", directory)


def _drop_superseded(keys: set[str], directories: set[Path]) -> int:
    """Remove what this run made that the scenes no longer ask for (their text changed with durations)."""
    if not keys:
        return 0
    return sum(len(NarrationCache(d).remove(lambda e: cache_key(e["input_data"]) in keys)) for d in directories)


def _by_model(todo: list[collect.Request]) -> list[list[collect.Request]]:
    """The requests that share one loaded model (and download permission): one queue each."""
    groups: dict[tuple[str, bool], list[collect.Request]] = {}
    for request in todo:
        groups.setdefault((str(request.model), request.narration.allow_download), []).append(request)
    return list(groups.values())


def _synthesize(
    group: list[collect.Request],
    summary: PrecacheSummary,
    failed_keys: set[str],
    broken_models: dict[str, QwenMLXError],
    batch_size: int,
    on_sentence: Callable[[int], None] | None = None,
) -> Iterator[tuple[collect.Request, float | None]]:
    """Each request with the seconds of audio made for it as soon as it is stored; None where nothing was
    made (cached meanwhile, or failed). A narration fails alone; a model that cannot load fails the rest
    of its group at once."""
    problem = broken_models.get(str(group[0].model))
    reported: set[int] = set()
    if problem is None:
        items = [(NarrationCache(r.cache_dir), r.narration) for r in group]
        try:
            for index, outcome in narration.ensure_batch(items, batch_size, on_sentence):
                reported.add(index)
                yield group[index], _account(group[index], outcome, summary, failed_keys)
        except (ModelNotAvailableError, ModelLoadError) as exc:
            problem = broken_models[str(group[0].model)] = exc
        except QwenMLXError as exc:
            problem = exc
    if problem is not None:  # the error itself, typed, for every request not reported yet
        for index, request in enumerate(group):
            if index not in reported:
                yield request, _account(request, problem, summary, failed_keys)


def _account(
    request: collect.Request, outcome: tuple[Entry, bool] | QwenMLXError, summary: PrecacheSummary,
    failed_keys: set[str],
) -> float | None:
    if isinstance(outcome, QwenMLXError):
        failed_keys.add(request.key)
        summary.failed.append((request.spoken, outcome))
        return None
    entry, fresh = outcome
    if not fresh:
        summary.timed += request.narration.bookmarks is not None and (not request.cached or request.estimated)
        return None
    seconds = float(entry.get("duration", 0.0))
    checks = ChecksRecord.from_json(entry.get("checks"))
    if checks is not None and not checks.passed:
        summary.flagged.append((request.spoken, "; ".join(checks.kept.failures)))
    summary.synthesized += 1
    summary.audio_seconds += seconds
    return seconds


def _verified(request: collect.Request) -> collect.Request:
    names = ("max_takes", "pace_tolerance", "min_voice_similarity", "max_wer", "asr")
    said = request.narration
    checking = said.checking or takes.Checking.from_options(True, True, **{n: options.value(n) for n in names})
    assert checking is not None
    return replace(request, narration=replace(said, checking=replace(checking, verify=True)))
