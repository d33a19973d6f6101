"""Options shared by several commands, each with its environment variable and shown default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..defaults import (
    DEFAULT_LANG_CODE,
    DEFAULT_MODEL,
    DEFAULT_REPETITION_PENALTY,
    DEFAULT_SEED,
    DEFAULT_SENTENCE_PAUSE,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_K,
    DEFAULT_TOP_P,
    MAX_TOKENS_ENV,
    MODEL_ENV,
)

CACHE_DIR_ENV = "MANIM_QWEN_MLX_CACHE_DIR"


def model_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--model",
        envvar=MODEL_ENV,
        default=DEFAULT_MODEL,
        show_envvar=True,
        help="Hugging Face repo id or local Qwen3-TTS folder.",
    )(command)


def cache_dir_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--cache-dir",
        envvar=CACHE_DIR_ENV,
        show_envvar=True,
        type=click.Path(path_type=Path),
        help="Voiceover cache. Default: <media_dir>/voiceovers from manim's config, as manim render uses.",
    )(command)


def voice_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The service's voice and sampling options, spelled as on the command line."""
    options = [
        click.option("--ref-audio", type=click.Path(path_type=Path), help="Reference clip to clone."),
        click.option("--ref-text", help="Exact transcript of --ref-audio (default: its .txt sidecar)."),
        click.option("--voice", help="Preset speaker of a CustomVoice model."),
        click.option("--instruct", help="Voice description (VoiceDesign) or style (CustomVoice)."),
        click.option("--lang-code", default=DEFAULT_LANG_CODE),
        click.option("--temperature", type=float, default=DEFAULT_TEMPERATURE),
        click.option("--top-k", type=int, default=DEFAULT_TOP_K),
        click.option("--top-p", type=float, default=DEFAULT_TOP_P),
        click.option("--repetition-penalty", type=float, default=DEFAULT_REPETITION_PENALTY),
        click.option(
            "--max-tokens",
            type=int,
            envvar=MAX_TOKENS_ENV,
            show_envvar=True,
            help="Frame ceiling per sentence (default: from the text).",
        ),
        click.option("--seed", type=int, default=DEFAULT_SEED),
        click.option("--sentence-pause", type=float, default=DEFAULT_SENTENCE_PAUSE),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def resolve_cache_dir(cache_dir: Path | None) -> Path:
    """The folder ``manim render`` would use here: manim's media_dir (its config files) + voiceovers."""
    if cache_dir is not None:
        return cache_dir
    from manim import config
    from manim_voiceover.defaults import DEFAULT_VOICEOVER_CACHE_DIR

    return Path(config.media_dir) / DEFAULT_VOICEOVER_CACHE_DIR
