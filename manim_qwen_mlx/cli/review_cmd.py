"""``manim-qwen-mlx review``: a page to listen to a scene file's narrations, flagged ones first."""

from __future__ import annotations

from pathlib import Path

import click

from .errors import friendly_errors


@click.command()
@click.argument("scene_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("scene_names", nargs=-1)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: FILE-review.html.")
@friendly_errors
def review(scene_file: Path, scene_names: tuple[str, ...], output: Path | None) -> None:
    """Write one self-contained HTML page with every narration SCENE_FILE asks for: its text, a player,
    its duration, its waveform and the scores of its checks; narration that failed a check, or is not
    synthesized yet, comes first. Loads no model."""
    from manim_qwen_mlx.cache import NarrationCache
    from manim_qwen_mlx.cache.inventory import placeholders
    from manim_qwen_mlx.core.text import normalize
    from manim_qwen_mlx.voiceover.collect import run_scenes

    from .review_page import Row, render

    rows, seen = [], set()
    for request in run_scenes(scene_file, scene_names).requests:
        if request.key in seen:
            continue
        seen.add(request.key)
        cache = NarrationCache(request.cache_dir)
        entry = cache.lookup(request.narration.input_data())
        written = normalize(request.narration.text)
        drafted = entry is None and request.key in {key for _, _, key in placeholders(cache.directory)}
        rows.append(Row(written, entry, cache.audio_file(entry) if entry is not None else None, request.spoken,
                        drafted))
    target = output or scene_file.with_name(f"{scene_file.stem}-review.html")
    target.write_text(render(f"Narration of {scene_file.name}", rows), encoding="utf-8")
    flagged = sum(row.flagged for row in rows)
    click.echo(f"{len(rows)} narration(s), {flagged} flagged -> {target}")
