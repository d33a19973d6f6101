"""``manim-qwen-mlx download``: fetch a model now, so later renders can run offline."""

from __future__ import annotations

import click

from .errors import friendly_errors
from .options import model_option, options_of


@click.command()
@click.argument("model_name", required=False)
@model_option
@options_of(only=("revision",))
@friendly_errors
def download(model_name: str | None, model: str, revision: str | None) -> None:
    """Download MODEL_NAME (default: --model) into the Hugging Face cache and check it."""
    from manim_qwen_mlx.core.model_ref import ModelRef
    from manim_qwen_mlx.model import loader

    ref = ModelRef.resolve(model_name or model, revision)
    path = loader.resolve_path(ref, allow_download=True)
    info = loader.read_info(path)
    click.echo(f"{ref}: {info.tts_model_type} model ready at {path}")
