"""``manim-qwen-mlx say``: audition a voice and settings before narrating a video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .errors import friendly_errors
from .options import options_of


@click.command()
@click.argument("text")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("say.wav"))
@click.option("--show-spoken", is_flag=True, help="Print what the model would say for TEXT (pronunciations.toml here "
              "and the math table applied) and synthesize nothing.")
@options_of("model", "voice", "setting", only=("math_speech",))
@friendly_errors
def say(text: str, output: Path, model: str, revision: str | None, show_spoken: bool, math_speech: bool,
        **options: Any) -> None:
    """Speak TEXT with the given voice and settings into a WAV file (the service's options)."""
    from manim_qwen_mlx import audio
    from manim_qwen_mlx.core import spoken as spoken_forms
    from manim_qwen_mlx.core.errors import InvalidTextError
    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.core.settings import SETTING_NAMES, SynthesisSettings
    from manim_qwen_mlx.core.text import normalize
    from manim_qwen_mlx.core.voice import Voice
    from manim_qwen_mlx.synthesis import engine

    words = spoken_forms.read_pronunciations(Path.cwd() / spoken_forms.FILE_NAME)
    spoken = spoken_forms.speak(normalize(text), words, math_speech).text
    if show_spoken:
        click.echo(spoken)
        return
    if not spoken:
        raise InvalidTextError("Nothing to say: give some words to speak.")
    settings = SynthesisSettings(**{k: v for k, v in options.items() if k in SETTING_NAMES})
    chosen = Voice.from_options(**{k: v for k, v in options.items() if k not in SETTING_NAMES})
    speech = engine.synthesize(spoken, chosen, settings, ModelRef.resolve(model, revision))
    output.parent.mkdir(parents=True, exist_ok=True)
    audio.write_wav(output, speech.samples)
    click.echo(f"{audio.duration(output):.2f} s -> {output}")
