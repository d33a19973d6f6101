"""``manim-qwen-mlx cache``: list, inspect, prune and clear the narration cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

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
        click.echo(f"{item.status:<8} {item.seconds:7.2f}s  {item.model[-28:]:<28}  {item.voice:<20}  {item.text[:60]}")
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
@friendly_errors
def prune(scene_files: tuple[Path, ...], cache_dir: Path | None, dry_run: bool) -> None:
    """Remove our entries (and audio) that none of SCENE_FILES uses any more."""
    from manim_qwen_mlx.cache.inventory import prune_unused
    from manim_qwen_mlx.voiceover.collect import run_scenes

    used: set[str] = set()
    for scene_file in scene_files:
        used.update(r.key for r in run_scenes(scene_file).requests)
    removed = prune_unused(resolve_cache_dir(cache_dir), used, dry_run=dry_run)
    _report(removed, "would remove" if dry_run else "removed")


@cache.command()
@cache_dir_option
@click.option("--yes", is_flag=True, help="Really delete every narration of ours in the cache.")
@friendly_errors
def clear(cache_dir: Path | None, yes: bool) -> None:
    """Delete all our narration from the cache (needs --yes; asks nothing)."""
    from manim_qwen_mlx.cache.inventory import clear as clear_all

    if not yes:
        raise click.UsageError("clear deletes every narration of ours: pass --yes to do it.")
    _report(clear_all(resolve_cache_dir(cache_dir)), "removed")


def _report(removed: list[dict[str, Any]], verb: str) -> None:
    for entry in removed:
        click.echo(f"{verb}  {str(entry.get('input_text', ''))[:70]!r}")
    click.echo(f"{len(removed)} entr{'y' if len(removed) == 1 else 'ies'} {verb}")
