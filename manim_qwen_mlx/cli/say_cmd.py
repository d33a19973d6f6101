"""``manim-qwen-mlx say``: audition a voice and settings before narrating a video."""

from __future__ import annotations

from pathlib import Path

import click

from . import friendly_errors
from .options import model_option, voice_options


@click.command()
@click.argument("text")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("say.wav"))
@model_option
@voice_options
@friendly_errors
def say(
    text: str,
    output: Path,
    model: str,
    ref_audio: Path | None,
    ref_text: str | None,
    voice: str | None,
    instruct: str | None,
    **settings: object,
) -> None:
    """Speak TEXT with the given voice and settings into a WAV file."""
    from .. import audio, engine
    from ..errors import InvalidTextError
    from ..model_ref import ModelRef
    from ..settings import SynthesisSettings
    from ..text import normalize
    from ..voice import Voice

    spoken = normalize(text)
    if not spoken:
        raise InvalidTextError("Nothing to say: give some words to speak.")
    chosen = Voice.from_options(ref_audio, ref_text, voice, instruct)
    speech = engine.synthesize(spoken, chosen, SynthesisSettings(**settings), ModelRef.resolve(model))  # type: ignore[arg-type]
    output.parent.mkdir(parents=True, exist_ok=True)
    audio.write_wav(output, speech.samples)
    click.echo(f"{audio.duration(output):.2f} s -> {output}")
