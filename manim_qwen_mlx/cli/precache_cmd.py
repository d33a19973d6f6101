"""``manim-qwen-mlx precache``: synthesize every narration of a scene file before ``manim render``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from manim_qwen_mlx.core.defaults import BATCH_SIZE_ENV, DEFAULT_BATCH_SIZE
from manim_qwen_mlx.core.options import BY_NAME
from manim_qwen_mlx.core.text import shorten

from .errors import friendly_errors


@click.command()
@click.argument("scene_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("scene_names", nargs=-1)
@click.option(
    "--check",
    is_flag=True,
    help="Synthesize nothing; list what is missing. Exit status: 0 nothing missing, 1 narration missing (or "
    "unspeakable), 3 a scene failed while its narrations were collected (2: bad usage).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar. Default: manim's progress_bar setting, and only on a terminal.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 64),
    default=DEFAULT_BATCH_SIZE,
    envvar=BATCH_SIZE_ENV,
    show_envvar=True,
    help="Sentences generated together (continuous batching over every narration of the file). Each keeps "
    "its own random stream, so any size gives a render's audio (but for rare float ties); larger is faster "
    "(docs/performance.md).",
)
@click.option("--verify", is_flag=True, help=BY_NAME["verify"].help + " (for every new take, whatever the scene says)")
@click.option(
    "--require-aligned",
    is_flag=True,
    help="With --check: count narration whose bookmark times are estimated (no aligner was here) as missing.",
)
@friendly_errors
def precache(
    scene_file: Path, scene_names: tuple[str, ...], check: bool, progress: bool | None, batch_size: int, verify: bool,
    require_aligned: bool,
) -> None:
    """Synthesize every narration SCENE_FILE will ask for (all its scenes unless SCENE_NAMES are given).

    The scenes run as in `manim render --dry_run`, so texts built at run time are found too. Missing
    narration is synthesized in this one process, one model load per model, and stored as each
    segment finishes: Ctrl-C loses at most the segment in flight, and running again continues.

    Exit status: 0 done, 1 some narration failed (or is missing, with --check), 2 bad usage, 3 a scene
    failed while its narrations were collected (the error shows its own line and cause).
    """
    from manim_qwen_mlx.core.defaults import DRAFT_ENV
    from manim_qwen_mlx.core.options import value
    from manim_qwen_mlx.voiceover import precache as library

    if value("draft"):
        raise click.UsageError(f"{DRAFT_ENV} is set: precache makes narration real, draft mode only renders "
                               f"placeholders. Unset it (`unset {DRAFT_ENV}`) and run precache again.")

    if check:
        started = time.perf_counter()
        found = library.missing(scene_file, scene_names)
        seconds = time.perf_counter() - started
        absent = [r for r in found.requests if not r.cached]
        estimated = [r for r in found.requests if r.estimated]
        for request in absent:
            click.echo(f"missing  {shorten(request.spoken, 70)!r}  ({request.model})")
        for request in estimated:
            click.echo(f"estimated word times  {shorten(request.spoken, 70)!r}")
        for problem in found.problems:
            click.echo(f"cannot be spoken  {shorten(problem.text, 70)!r}: {problem.message}")
        click.echo(
            f"{len(absent)} narration(s) missing"
            + (f", {len(estimated)} with estimated word times (no aligner here; precache aligns them once one is)"
               if estimated else "")
            + (f", {len(found.problems)} that cannot be spoken" if found.problems else "")
            + f" (collected in {seconds:.1f} s)"
        )
        failing = absent or found.problems or (require_aligned and estimated)
        sys.exit(1 if failing else 0)

    bar: Any = None
    frames = stored = 0
    audio_total = 0.0

    def show(refresh: bool = True) -> None:
        bar.set_postfix_str(f"{frames} frames, {stored} narration(s), {audio_total:.1f} s of audio", refresh=refresh)

    def on_plan(todo: list[Any]) -> None:
        nonlocal bar
        from tqdm import tqdm

        from manim_qwen_mlx.core.text import split_sentences

        if bar is not None:
            bar.close()
        sentences = sum(len(split_sentences(request.spoken)) for request in todo)
        bar = tqdm(total=sentences, unit="sentence", disable=not _show_progress(progress), file=sys.stderr)
        show()

    def on_sentence(made: int) -> None:
        nonlocal frames
        frames += made
        show(refresh=False)
        bar.update(1)

    def on_segment(request: Any, seconds: float) -> None:
        nonlocal audio_total, stored
        audio_total += seconds
        stored += seconds > 0
        show()

    try:
        summary = library.precache(
            scene_file, scene_names, on_plan=on_plan, on_segment=on_segment, batch_size=batch_size, verify=verify,
            on_sentence=on_sentence,
        )
    finally:
        if bar is not None:
            bar.close()
    notes = [f"{summary.superseded} superseded"] if summary.superseded else []
    if not (summary.synthesized or summary.failed):
        click.echo(
            f"{summary.total} narration(s), all already cached: nothing to synthesize"
            + (f"; {summary.timed} given word times" if summary.timed else "")
            + f" ({summary.wall_seconds:.1f} s)"
        )
        return
    click.echo(
        f"{summary.total} narration(s): {summary.cached} already cached, {summary.synthesized} synthesized"
        + (f" ({', '.join(notes)})" if notes else "")
        + (f", {summary.timed} given word times" if summary.timed else "")
        + f", {len(summary.failed)} failed; {summary.audio_seconds:.1f} s of audio in {summary.wall_seconds:.1f} s "
        f"({summary.real_time_factor:.2f}x real time)"
    )
    for text, failures in summary.flagged:
        click.echo(f"check failed in every take, best kept: {shorten(text, 70)!r} ({failures})", err=True)
    reasons: list[str] = []
    for text, error in summary.failed:
        click.echo(f"failed: {shorten(text, 70)!r}", err=True)
        if str(error) not in reasons:
            reasons.append(str(error))
    for reason in reasons:
        click.echo(f"Error: {reason}", err=True)
    if summary.failed:
        sys.exit(1)


def _show_progress(choice: bool | None) -> bool:
    if choice is not None:
        return choice
    if not sys.stderr.isatty():
        return False
    from manim import config

    return str(config.progress_bar) != "none"
