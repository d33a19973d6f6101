"""``manim-qwen-mlx cache``: list, inspect, prune and clear the narration cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from manim_qwen_mlx.core.text import shorten

from .errors import friendly_errors
from .options import cache_dir_option, resolve_cache_dir


@click.group()
def cache() -> None:
    """Inspect and tidy the voiceover cache (entries of other services are left alone)."""


@cache.command("list")
@cache_dir_option
@friendly_errors
def list_entries(cache_dir: Path | None) -> None:
    """One line per narration: duration, model, voice, text."""
    from manim_qwen_mlx.cache.inventory import scan

    report = scan(resolve_cache_dir(cache_dir))
    for item in report.items:
        model = shorten(item.model[::-1], 28)[::-1]  # the end of a long path or repo id says most
        click.echo(f"{item.status:<8} {item.seconds:7.2f}s  {model:<28}  {item.voice:<20}  {shorten(item.text)}")
    click.echo(f"{len(report.items)} entries in {report.directory}")


@cache.command()
@cache_dir_option
@friendly_errors
def info(cache_dir: Path | None) -> None:
    """Where the cache is, how many entries it has and how much audio."""
    from manim_qwen_mlx.cache.inventory import scan

    report = scan(resolve_cache_dir(cache_dir))
    counts: dict[str, int] = {}
    for item in report.items:
        counts[item.status] = counts.get(item.status, 0) + 1
    click.echo(f"directory: {report.directory}")
    click.echo("entries:   " + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"))
    click.echo(f"audio:     {report.seconds:.1f} s in {report.audio_bytes / 1e6:.1f} MB")
    for problem in report.problems:
        click.echo(f"problem:   {problem}")


@cache.command()
@click.argument("scene_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@cache_dir_option
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option(
    "--all-unused",
    is_flag=True,
    help="Remove every entry of ours that none of SCENE_FILES uses, other scene files' narration included.",
)
@friendly_errors
def prune(scene_files: tuple[Path, ...], cache_dir: Path | None, dry_run: bool, all_unused: bool) -> None:
    """Remove the narration that SCENE_FILES asked for and no longer use (and its audio).

    Entries other scene files asked for stay, so pruning one file of a project that shares a cache
    loses nothing of the others.
    """
    from manim_qwen_mlx.cache.inventory import prune as prune_entries
    from manim_qwen_mlx.cache.owners import Owner
    from manim_qwen_mlx.voiceover.collect import run_scenes

    used: dict[str, set[Owner]] = {}
    for scene_file in scene_files:
        for request in run_scenes(scene_file).requests:
            used.setdefault(request.key, set()).update([request.narration.owner] if request.narration.owner else [])
    files = {str(scene_file.resolve()) for scene_file in scene_files}
    pruned = prune_entries(resolve_cache_dir(cache_dir), files, used, all_unused=all_unused, dry_run=dry_run)
    _report(pruned.removed, dry_run)
    if pruned.elsewhere:
        plural = "y" if pruned.elsewhere == 1 else "ies"
        click.echo(f"kept {pruned.elsewhere} entr{plural} that these files no longer use and other scene files do")
    if pruned.unrecorded:
        click.echo(
            f"kept {pruned.unrecorded} unused entr{'y' if pruned.unrecorded == 1 else 'ies'} made before entries "
            "recorded their scene file; --all-unused removes every entry none of these files uses"
        )


@cache.command()
@cache_dir_option
@click.option("--yes", is_flag=True, help="Really delete every narration of ours in the cache.")
@friendly_errors
def clear(cache_dir: Path | None, yes: bool) -> None:
    """Delete all our narration from the cache (needs --yes; asks nothing)."""
    from manim_qwen_mlx.cache.inventory import clear as clear_all

    if not yes:
        raise click.UsageError("clear deletes every narration of ours: pass --yes to do it.")
    _report(clear_all(resolve_cache_dir(cache_dir)))


def _report(removed: list[dict[str, Any]], dry_run: bool = False) -> None:
    for entry in removed:
        click.echo(f"{'would remove' if dry_run else 'removed'}  {shorten(str(entry.get('input_text', '')), 70)!r}")
    click.echo(f"{len(removed)} entr{'y' if len(removed) == 1 else 'ies'} {'would be ' if dry_run else ''}removed")
